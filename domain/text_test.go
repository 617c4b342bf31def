package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestTextProblem(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		multiline bool
		ok        bool
	}{
		{"plain", "Trading desk, Zürich", false, true},
		{"empty", "", false, true},
		{"NUL", "a\x00b", true, false},
		{"invalid UTF-8", "a\xffb", true, false},
		{"truncated rune", "\xc3", true, false},
		{"newline, one line", "a\nb", false, false},
		{"newline, several lines", "a\r\nb\tc", true, true},
		{"other control, several lines", "a\x01b", true, false},
		{"DEL", "a\x7fb", true, false},
		{"C1 control", "a\u0085b", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.TextProblem(tc.in, tc.multiline)
			if (got == "") != tc.ok {
				t.Errorf("TextProblem(%q, %v) = %q, want ok=%v", tc.in, tc.multiline, got, tc.ok)
			}
		})
	}
	if domain.ValidKey(strings.Repeat("k", domain.MaxKeyBytes+1)) {
		t.Errorf("ValidKey accepts a key over MaxKeyBytes")
	}
	if !domain.ValidKey(strings.Repeat("k", domain.MaxKeyBytes)) {
		t.Errorf("ValidKey refuses a key of MaxKeyBytes")
	}
}

// TestStoredTextIsText: free text the domain stores (preferences,
// descriptions, a purpose, a comment) with bytes PostgreSQL refuses is a
// ValidationError naming the field, not a store error: NUL in text, and in
// JSON the escape \u0000, an unpaired surrogate or invalid UTF-8.
func TestStoredTextIsText(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	wantField := func(t *testing.T, err error, field string) {
		t.Helper()
		v, ok := domain.AsValidation(err)
		if !ok || v.Field(field) == "" {
			t.Fatalf("err = %v, want a validation error on %s", err, field)
		}
	}
	for name, prefs := range map[string]string{
		"NUL in a value":             `{"a":"x\u0000y"}`,
		"NUL in a key":               `{"\u0000":1}`,
		"NUL in a nested value":      `{"a":{"b":["\u0000"]}}`,
		"unpaired high surrogate":    `{"a":"\ud800"}`,
		"high surrogate, then other": `{"a":"\ud800\u0041"}`,
		"unpaired low surrogate":     `{"a":"\udc00x"}`,
		"invalid UTF-8":              "{\"a\":\"\xff\"}",
	} {
		t.Run("preferences: "+name, func(t *testing.T) {
			raw := json.RawMessage(prefs)
			_, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{Preferences: &raw})
			wantField(t, err, "preferences")
		})
	}
	t.Run("preferences that are fine", func(t *testing.T) {
		raw := json.RawMessage(`{"a":"\\u0000 is not NUL","b":"\ud83d\ude00","c":"\u0001\n"}`)
		got, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{Preferences: &raw})
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		var m map[string]string
		if err := json.Unmarshal(got.Preferences, &m); err != nil || m["b"] != "😀" {
			t.Fatalf("preferences = %s (%v)", got.Preferences, err)
		}
	})
	t.Run("role description", func(t *testing.T) {
		_, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "trader", Description: "a\x00b"})
		wantField(t, err, "description")
	})
	t.Run("group description", func(t *testing.T) {
		_, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "desk", Description: "a\x00b"})
		wantField(t, err, "description")
	})
	t.Run("multi-line descriptions stay allowed", func(t *testing.T) {
		if _, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "desk", Description: "one\r\ntwo\tthree"}); err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
	})
	t.Run("purpose", func(t *testing.T) {
		pending := e.user("pending")
		_, err := e.svc.SubmitAccessRequest(e.ctx, admin, pending.ID, "user", "please\x00")
		wantField(t, err, "purpose")
	})
}

// TestLookupsOfNonText: a key or filter no record can have is not found
// (or an invalid filter) at once, as the store is never asked.
func TestLookupsOfNonText(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"a\x00b", "\xff", strings.Repeat("r", domain.MaxKeyBytes+1)} {
		if _, err := e.svc.GetRole(e.ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetRole(%.10q): %v, want not found", key, err)
		}
		if _, err := e.svc.GetClient(e.ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetClient(%.10q): %v, want not found", key, err)
		}
		if _, err := e.svc.GetSession(e.ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSession(%.10q): %v, want not found", key, err)
		}
	}
	if _, err := e.svc.ListUsers(e.ctx, store.UserFilter{Role: "a\x00"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("ListUsers with a NUL role: %v, want invalid", err)
	}
	if _, err := e.svc.ListAudit(e.ctx, store.AuditFilter{ActorID: "\xff"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Errorf("ListAudit with an invalid actor: %v, want invalid", err)
	}
}
