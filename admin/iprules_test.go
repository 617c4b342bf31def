package admin_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
)

// TestIPRulesThroughAPI: PUT validates every entry (named by index),
// normalizes single addresses, reads back as stored, is audited with before
// and after, and a deny rule refuses the user's API token from its address
// (the harness's client calls from 127.0.0.1) like any invalid token.
func TestIPRulesThroughAPI(t *testing.T) {
	e := newMemoryEnv(t)
	boss := e.createUser(t, "admin")
	tok := e.signIn(t, boss)
	alice := e.createUser(t, "user")
	path := "/users/" + alice.ID + "/ip-rules"

	r := e.do(t, http.MethodGet, path, tok, nil)
	want(t, r, http.StatusOK, "GET ip-rules")
	if string(r.Raw) != `{"allow":[],"deny":[]}`+"\n" && string(r.Raw) != `{"allow":[],"deny":[]}` {
		t.Errorf("no rules read as %s", r.Raw)
	}

	r = e.do(t, http.MethodPut, path, tok, map[string]any{"allow": []string{"10.0.0.0/8", "192.0.2.1", "not-an-address"}, "deny": []string{"10.1.2.3/8"}})
	want(t, r, http.StatusUnprocessableEntity, "PUT invalid ip-rules")
	if f := r.problem(t).fields(); !slices.Equal(f, []string{"allow[2]", "deny[0]"}) {
		t.Errorf("fields %v, want [allow[2] deny[0]]", f)
	}
	r = e.do(t, http.MethodPut, path, tok, map[string]any{"allow": []string{"10.0.0.0/8"}, "nets": []string{}})
	want(t, r, http.StatusBadRequest, "PUT ip-rules with an unknown member")

	before := e.lastAuditID(t)
	r = e.do(t, http.MethodPut, path, tok, map[string]any{"allow": []string{"127.0.0.0/8", "2001:DB8::/32"}, "deny": []string{"127.0.0.2"}})
	want(t, r, http.StatusOK, "PUT ip-rules")
	var got domain.IPRules
	r.decode(t, &got)
	if !slices.Equal(got.Allow, []string{"127.0.0.0/8", "2001:db8::/32"}) || !slices.Equal(got.Deny, []string{"127.0.0.2/32"}) {
		t.Fatalf("stored rules %s", r.Raw)
	}
	r = e.do(t, http.MethodGet, path, tok, nil)
	want(t, r, http.StatusOK, "GET ip-rules after PUT")
	var again domain.IPRules
	r.decode(t, &again)
	if !slices.Equal(again.Allow, got.Allow) || !slices.Equal(again.Deny, got.Deny) {
		t.Fatalf("read back %s, want %+v", r.Raw, got)
	}
	entries := e.auditSince(t, before)
	if len(entries) != 1 || entries[0].Action != "user.ip_rules" || entries[0].TargetID != alice.ID || entries[0].ActorID != boss.ID {
		t.Fatalf("audit %+v, want one user.ip_rules by the admin on alice", entries)
	}
	var c map[string]struct {
		Before []string `json:"before"`
		After  []string `json:"after"`
	}
	if err := json.Unmarshal(entries[0].Changes, &c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c["ip_allow"].After, got.Allow) || !slices.Equal(c["ip_deny"].After, got.Deny) || len(c["ip_deny"].Before) != 0 {
		t.Errorf("changes %s", entries[0].Changes)
	}

	// Alice's API token works from 127.0.0.1, until it is denied.
	at := e.signIn(t, alice)
	r = e.do(t, http.MethodPost, "/tokens", at, map[string]any{"name": "script", "expires_in": 3600})
	want(t, r, http.StatusCreated, "POST /tokens")
	secret := r.str("token")
	e.logs.Secret(secret)
	want(t, e.do(t, http.MethodGet, "/users/me", secret, nil), http.StatusOK, "the token from an allowed address")
	want(t, e.do(t, http.MethodPut, path, tok, map[string]any{"deny": []string{"127.0.0.1"}}), http.StatusOK, "deny 127.0.0.1")
	before = e.lastAuditID(t)
	r = e.do(t, http.MethodGet, "/users/me", secret, nil)
	want(t, r, http.StatusUnauthorized, "the API token from a denied address")
	unknown := e.do(t, http.MethodGet, "/users/me", "gh_pat_not-a-token", nil)
	if r.Header.Get("WWW-Authenticate") != unknown.Header.Get("WWW-Authenticate") || r.problem(t).Detail != unknown.problem(t).Detail {
		t.Errorf("refused: %q %s; unknown token: %q %s: want the same answer",
			r.Header.Get("WWW-Authenticate"), r.Raw, unknown.Header.Get("WWW-Authenticate"), unknown.Raw)
	}
	want(t, e.do(t, http.MethodGet, "/users/me", at, nil), http.StatusUnauthorized, "the OAuth access token from a denied address")
	entries = e.auditSince(t, before)
	// The unknown token's request names no user: only the two refusals.
	if len(entries) != 2 || entries[0].Action != "signin.refused_address" || entries[0].IPAddress != "127.0.0.1" || entries[0].TargetID != alice.ID {
		t.Fatalf("audit %+v, want signin.refused_address for alice from 127.0.0.1, twice", entries)
	}

	// An administrator cannot deny itself the address it calls from.
	r = e.do(t, http.MethodPut, "/users/"+boss.ID+"/ip-rules", tok, map[string]any{"deny": []string{"127.0.0.0/8"}})
	want(t, r, http.StatusForbidden, "rules that lock the caller out")
	want(t, e.do(t, http.MethodGet, "/users/me", tok, nil), http.StatusOK, "the caller after the refused rules")
}

// TestSessionLimitThroughAPI: session_limit is in the user representation,
// set and cleared by PATCH (null: the server default), validated, audited,
// and not the user's own to change.
func TestSessionLimitThroughAPI(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))
	alice := e.createUser(t, "user")
	path := "/users/" + alice.ID

	r := e.do(t, http.MethodGet, path, tok, nil)
	want(t, r, http.StatusOK, "GET user")
	if v, ok := r.JSON["session_limit"]; !ok || v != nil {
		t.Fatalf("session_limit = %v (present %v), want null", v, ok)
	}
	before := e.lastAuditID(t)
	r = e.do(t, http.MethodPatch, path, tok, map[string]any{"session_limit": 2})
	want(t, r, http.StatusOK, "PATCH session_limit")
	if r.JSON["session_limit"] != float64(2) {
		t.Fatalf("after PATCH: %s", r.Raw)
	}
	entries := e.auditSince(t, before)
	if len(entries) != 1 || entries[0].Action != "user.update" || string(entries[0].Changes) != `{"session_limit":{"after":2}}` {
		t.Fatalf("audit %+v", entries)
	}
	r = e.do(t, http.MethodPatch, path, tok, map[string]any{"session_limit": -1})
	want(t, r, http.StatusUnprocessableEntity, "PATCH negative session_limit")
	if f := r.problem(t).fields(); !slices.Equal(f, []string{"session_limit"}) {
		t.Errorf("fields %v", f)
	}
	r = e.do(t, http.MethodPatch, path, tok, map[string]any{"session_limit": "two"})
	want(t, r, http.StatusBadRequest, "PATCH session_limit of the wrong type")
	r = e.do(t, http.MethodPatch, path, tok, map[string]any{"session_limit": nil})
	want(t, r, http.StatusOK, "PATCH session_limit null")
	if v, ok := r.JSON["session_limit"]; !ok || v != nil {
		t.Fatalf("after PATCH null: %s", r.Raw)
	}
	at := e.signIn(t, alice)
	r = e.do(t, http.MethodPatch, "/users/me", at, map[string]any{"session_limit": 50})
	want(t, r, http.StatusUnprocessableEntity, "PATCH /users/me session_limit")
}
