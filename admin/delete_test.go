package admin_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func TestSoftDeleteMemory(t *testing.T)   { runSoftDelete(t, newMemoryEnv(t)) }
func TestSoftDeletePostgres(t *testing.T) { runSoftDelete(t, newPostgresEnv(t)) }

// runSoftDelete: a disabled user can neither sign in again nor keep using
// the tokens it had; its record stays.
func runSoftDelete(t *testing.T, e *env) {
	admin := e.signIn(t, e.createUser(t, "admin"))
	u := e.createUser(t, "user")
	userTok := e.signIn(t, u)
	want(t, e.do(t, http.MethodGet, "/users/me", userTok, nil), http.StatusOK, "before: GET /users/me")
	pat := e.do(t, http.MethodPost, "/tokens", userTok, map[string]any{"name": "script"})
	want(t, pat, http.StatusCreated, "before: POST /tokens")
	e.logs.Secret(pat.str("token"))
	want(t, e.do(t, http.MethodGet, "/users/me", pat.str("token"), nil), http.StatusOK, "before: API token works")

	want(t, e.do(t, http.MethodDelete, "/users/"+u.ID, admin, nil), http.StatusNoContent, "DELETE /users/{id}")

	got, err := e.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatalf("a soft-deleted user must stay in the store: %v", err)
	}
	if got.Status != store.StatusDisabled {
		t.Errorf("status %s, want disabled", got.Status)
	}
	if _, err := e.trySignIn(t, u); !errors.Is(err, errSignInRefused) {
		t.Fatalf("a disabled user signing in: %v, want the sign-in refused", err)
	}
	for name, tok := range map[string]string{"access token": userTok, "API token": pat.str("token")} {
		r := e.do(t, http.MethodGet, "/users/me", tok, nil)
		want(t, r, http.StatusUnauthorized, "after: "+name)
	}
	r := e.do(t, http.MethodGet, "/users/"+u.ID, admin, nil)
	want(t, r, http.StatusOK, "an admin still reads the disabled user")
	if r.str("status") != "disabled" {
		t.Errorf("status %q, want disabled", r.str("status"))
	}
}

func TestHardDeleteMemory(t *testing.T)   { runHardDelete(t, newMemoryEnv(t)) }
func TestHardDeletePostgres(t *testing.T) { runHardDelete(t, newPostgresEnv(t)) }

// runHardDelete: a user with a session, a grant, a consent, an API token, a
// group membership and an access request is deleted permanently; nothing
// of it is left but the audit entry.
func runHardDelete(t *testing.T, e *env) {
	adminUser := e.createUser(t, "admin")
	admin := e.signIn(t, adminUser)
	u := e.createUser(t, "user")
	userTok := e.signIn(t, u) // a login session, a consent, a grant

	pat := e.do(t, http.MethodPost, "/tokens", userTok, map[string]any{"name": "script"})
	want(t, pat, http.StatusCreated, "POST /tokens")
	e.logs.Secret(pat.str("token"))
	g := e.do(t, http.MethodPost, "/groups", admin, map[string]any{"name": "doomed-" + randomHex(t, 3)})
	want(t, g, http.StatusCreated, "POST /groups")
	want(t, e.do(t, http.MethodPut, "/groups/"+g.str("id")+"/members/"+u.ID, admin, nil), http.StatusNoContent, "add member")
	want(t, e.do(t, http.MethodPost, "/access-requests", userTok, map[string]any{"role": "manager", "purpose": "I lead a team"}),
		http.StatusCreated, "the user asks for a further role")

	ctx := ctxT(t)
	if s, err := e.Store.ListLoginSessions(ctx, u.ID, time.Now()); err != nil || len(s) == 0 {
		t.Fatalf("setup: the user has no login session (%v)", err)
	}
	if _, err := e.Store.GetConsent(ctx, u.ID, e.Console.ID, time.Now()); err != nil {
		t.Fatalf("setup: the user has no consent: %v", err)
	}

	before := e.lastAuditID(t)
	want(t, e.do(t, http.MethodDelete, "/users/"+u.ID+"?hard=true", admin, nil), http.StatusNoContent, "DELETE ?hard=true")

	notFound := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after hard delete: %v, want store.ErrNotFound", what, err)
		}
	}
	_, err := e.Store.GetUser(ctx, u.ID)
	notFound("GetUser", err)
	_, err = e.Store.GetUserByUsername(ctx, u.Username)
	notFound("GetUserByUsername", err)
	_, err = e.Store.GetUserByEmail(ctx, u.Email)
	notFound("GetUserByEmail", err)
	_, err = e.Store.GetConsent(ctx, u.ID, e.Console.ID, time.Now())
	notFound("GetConsent", err)
	if s, err := e.Store.ListLoginSessions(ctx, u.ID, time.Now()); err != nil || len(s) != 0 {
		t.Errorf("login sessions after hard delete: %d (%v)", len(s), err)
	}
	iam := e.iam(t)
	if toks, err := iam.ListAPITokens(ctx, u.ID, ""); err != nil || len(toks) != 0 {
		t.Errorf("API tokens after hard delete: %d (%v)", len(toks), err)
	}
	if members, err := iam.ListGroupMembers(ctx, g.str("id")); err != nil || slices.Contains(members, u.ID) {
		t.Errorf("group members after hard delete: %v (%v)", members, err)
	}
	if reqs, err := iam.ListAccessRequests(ctx, store.AccessRequestFilter{UserID: u.ID}); err != nil || len(reqs) != 0 {
		t.Errorf("access requests after hard delete: %d (%v)", len(reqs), err)
	}
	if groups, err := iam.ListUserGroups(ctx, u.ID); err != nil || len(groups) != 0 {
		t.Errorf("user groups after hard delete: %d (%v)", len(groups), err)
	}
	for name, tok := range map[string]string{"access token": userTok, "API token": pat.str("token")} {
		want(t, e.do(t, http.MethodGet, "/users/me", tok, nil), http.StatusUnauthorized, name+" after hard delete")
	}
	want(t, e.do(t, http.MethodGet, "/users/"+u.ID, admin, nil), http.StatusNotFound, "GET the deleted user")
	if _, err := e.trySignIn(t, u); !errors.Is(err, errSignInRefused) {
		t.Errorf("a deleted user signing in: %v, want the sign-in refused", err)
	}

	// The audit entry is the one trace left.
	var deleted []store.AuditEntry
	for _, a := range e.auditSince(t, before) {
		if a.Action == "user.delete" {
			deleted = append(deleted, a)
		}
	}
	if len(deleted) != 1 || deleted[0].TargetID != u.ID || deleted[0].ActorID != adminUser.ID {
		t.Errorf("user.delete entries %+v, want one by the admin about the user", deleted)
	}
	// Deleting again is a 404, not a second entry.
	want(t, e.do(t, http.MethodDelete, "/users/"+u.ID+"?hard=true", admin, nil), http.StatusNotFound, "DELETE again")
}
