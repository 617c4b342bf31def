package consent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func TestCurrentSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change runs after sign-in and returns the cookie value to present.
		change func(e *env, u store.User, value string) string
		want   bool
	}{
		{"valid", func(e *env, u store.User, v string) string { return v }, true},
		{"valid near expiry", func(e *env, u store.User, v string) string {
			e.clock.Advance(testLifetime - time.Second)
			return v
		}, true},
		{"expired", func(e *env, u store.User, v string) string {
			e.clock.Advance(testLifetime + time.Second)
			return v
		}, false},
		{"deleted", func(e *env, u store.User, v string) string {
			if err := e.store.DeleteLoginSession(context.Background(), storeID(v)); err != nil {
				e.t.Fatal(err)
			}
			return v
		}, false},
		{"pending user (may request access)", func(e *env, u store.User, v string) string {
			setStatus(e, u, store.StatusPending)
			return v
		}, true},
		{"locked user", func(e *env, u store.User, v string) string {
			setStatus(e, u, store.StatusLocked)
			return v
		}, false},
		{"disabled user", func(e *env, u store.User, v string) string {
			setStatus(e, u, store.StatusDisabled)
			return v
		}, false},
		{"expired user", func(e *env, u store.User, v string) string {
			u, _ = e.store.GetUser(context.Background(), u.ID)
			past := e.clock.Now().Add(-time.Minute)
			u.ExpiresAt = &past
			if err := e.store.UpdateUser(context.Background(), u); err != nil {
				e.t.Fatal(err)
			}
			return v
		}, false},
		{"no cookie", func(e *env, u store.User, v string) string { return "" }, false},
		{"unknown value", func(e *env, u store.User, v string) string { return strings.Repeat("B", 43) }, false},
		{"malformed value", func(e *env, u store.User, v string) string { return "not a cookie value" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			u := e.createUser("alice", "alice@example.com", store.StatusActive)
			c, sid := e.signIn(u)
			authTime := e.clock.Now()
			value := tc.change(e, u, e.sessionCookie(c).Value)

			s := e.currentSession(value)
			// The authorization endpoint's read, with a client's consent,
			// follows the same rules.
			sf := e.currentSessionFor(value, "rp")
			if (sf != nil) != tc.want {
				t.Fatalf("CurrentSessionFor = %+v, want a session %v", sf, tc.want)
			}
			if !tc.want {
				if s != nil {
					t.Fatalf("session = %+v, want none", s)
				}
				return
			}
			if s == nil {
				t.Fatal("no session")
			}
			if s.ID != sid || s.User.ID != u.ID || s.User.Username != "alice" || !s.AuthTime.Equal(authTime) {
				t.Errorf("session = {ID:%s User:%s AuthTime:%v}, want {%s alice %v}", s.ID, s.User.Username, s.AuthTime, sid, authTime)
			}
			if sf.ID != s.ID || sf.User.ID != s.User.ID || sf.User.Status != s.User.Status || !sf.AuthTime.Equal(s.AuthTime) || sf.ACR != s.ACR {
				t.Errorf("CurrentSessionFor = %+v, want CurrentSession's %+v", sf, s)
			}
			if s.Consent != nil || sf.Consent == nil {
				t.Errorf("consent read: CurrentSession %v, CurrentSessionFor %v; want none, one", s.Consent, sf.Consent)
			}
		})
	}
}

func setStatus(e *env, u store.User, st store.UserStatus) {
	e.t.Helper()
	u, err := e.store.GetUser(context.Background(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	u.Status = st
	if err := e.store.UpdateUser(context.Background(), u); err != nil {
		e.t.Fatal(err)
	}
}

func TestEndSessionWithoutSession(t *testing.T) {
	e := newEnv(t, false)
	rec := httptest.NewRecorder()
	if err := e.pages.EndSession(rec, httptest.NewRequest(http.MethodPost, "/logout", nil)); err != nil {
		t.Fatalf("EndSession with no session: %v", err)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("cookies set without a session: %v", rec.Result().Cookies())
	}
}

func TestEndSessionRevokesAndClears(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	e.createClient("web")
	c, sid := e.signIn(u)
	e.createGrant("web", u, sid, "tok-a")
	other, otherSID := e.signIn(u)
	e.createGrant("web", u, otherSID, "tok-b")

	req := httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.AddCookie(e.sessionCookie(c))
	rec := httptest.NewRecorder()
	if err := e.pages.EndSession(rec, req); err != nil {
		t.Fatal(err)
	}
	if e.sessionExists(sid) {
		t.Error("session still exists")
	}
	if e.tokenActive("tok-a") {
		t.Error("token of the session still active")
	}
	if !e.tokenActive("tok-b") || e.currentSession(e.sessionCookie(other).Value) == nil {
		t.Error("another browser's session was affected")
	}
	cleared := cookieNamed(rec.Result().Cookies(), "gatehouse_session")
	if cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("cookie not cleared: %+v", cleared)
	}
}
