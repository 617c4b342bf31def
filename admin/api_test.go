package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// TestListUsersPagesAndFilters pages through users with a small limit and
// checks every filter.
func TestListUsersPagesAndFilters(t *testing.T) {
	e := newMemoryEnv(t)
	admin := e.createUser(t, "admin")
	tok := e.signIn(t, admin)
	var made []*testUser
	for range 7 {
		made = append(made, e.createUser(t, "viewer"))
	}
	locked := e.createUserWith(t, store.StatusLocked, "user")
	grp := e.do(t, http.MethodPost, "/groups", tok, map[string]any{"name": "readers", "roles": []string{"user"}})
	want(t, grp, http.StatusCreated, "POST /groups")
	for _, u := range made[:3] {
		want(t, e.do(t, http.MethodPut, "/groups/"+grp.str("id")+"/members/"+u.ID, tok, nil), http.StatusNoContent, "add member")
	}

	type userList struct {
		Items []struct {
			ID       string   `json:"id"`
			Username string   `json:"username"`
			Status   string   `json:"status"`
			Roles    []string `json:"roles"`
			Groups   []string `json:"groups"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	list := func(query string) userList {
		t.Helper()
		r := e.do(t, http.MethodGet, "/users?"+query, tok, nil)
		want(t, r, http.StatusOK, "GET /users?"+query)
		var l userList
		r.decode(t, &l)
		if strings.Contains(string(r.Raw), "password") {
			t.Fatalf("a user list shows a password field: %s", r.Raw)
		}
		return l
	}

	// Every user exactly once, in username order, 3 at a time.
	var seen []string
	cursor, pages := "", 0
	for {
		l := list("limit=3&cursor=" + cursor)
		pages++
		if len(l.Items) > 3 {
			t.Fatalf("page of %d items with limit 3", len(l.Items))
		}
		for _, it := range l.Items {
			seen = append(seen, it.Username)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 9 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 9 {
		t.Errorf("paged usernames %v: want all 9 users once, sorted", seen)
	}
	if pages != 3 {
		t.Errorf("%d pages of 3 for 9 users, want 3", pages)
	}

	if l := list("status=locked"); len(l.Items) != 1 || l.Items[0].ID != locked.ID {
		t.Errorf("status=locked: %+v", l.Items)
	}
	if l := list("role=viewer"); len(l.Items) != 7 {
		t.Errorf("role=viewer: %d users, want 7", len(l.Items))
	}
	for _, g := range []string{grp.str("id"), "readers"} {
		l := list("group=" + g)
		if len(l.Items) != 3 {
			t.Errorf("group=%s: %d users, want 3", g, len(l.Items))
		}
		for _, it := range l.Items {
			if !slices.Equal(it.Groups, []string{"readers"}) {
				t.Errorf("group member %s shows groups %v", it.Username, it.Groups)
			}
		}
	}
	if l := list("group=nobody"); len(l.Items) != 0 {
		t.Errorf("an unknown group matched %d users", len(l.Items))
	}
	if l := list("q=" + strings.ToUpper(made[4].Username[2:])); len(l.Items) != 1 || l.Items[0].ID != made[4].ID {
		t.Errorf("q= matched %+v", l.Items)
	}
	// A search pattern longer than anyone types is refused before it
	// reaches the directory scan.
	long := e.do(t, http.MethodGet, "/users?q="+strings.Repeat("a", 101), tok, nil)
	want(t, long, http.StatusUnprocessableEntity, "GET /users with a 101-character q")
	if f := long.problem(t).fields(); !slices.Equal(f, []string{"q"}) {
		t.Errorf("long q: problem names %v, want [q]", f)
	}
	want(t, e.do(t, http.MethodGet, "/users?q="+strings.Repeat("a", 100), tok, nil), http.StatusOK, "GET /users with a 100-character q")

	// A single user shows its effective roles: own and the group's, with ancestors.
	r := e.do(t, http.MethodGet, "/users/"+made[0].ID, tok, nil)
	want(t, r, http.StatusOK, "GET /users/{id}")
	var one struct {
		EffectiveRoles []string `json:"effective_roles"`
	}
	r.decode(t, &one)
	if !slices.Equal(one.EffectiveRoles, []string{"user", "viewer"}) {
		t.Errorf("effective_roles %v, want [user viewer]", one.EffectiveRoles)
	}
}

// TestUserLifecycleThroughAPI creates a user (201 + Location), patches it
// with merge-patch semantics, and reads it back.
func TestUserLifecycleThroughAPI(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))

	r := e.do(t, http.MethodPost, "/users", tok, map[string]any{
		"username": "grace", "email": "Grace@Example.com", "password": "Compilers-Are-Fun-1952",
		"full_name": "Grace Hopper", "goals": []string{"ship"}, "preferences": map[string]any{"theme": "dark", "lang": "en"},
		"expires_at": "2099-01-01T00:00:00Z", "roles": []string{"user"},
	})
	want(t, r, http.StatusCreated, "POST /users")
	loc := r.Header.Get("Location")
	if loc != "/api/v1/users/"+r.str("id") {
		t.Errorf("Location %q, want /api/v1/users/%s", loc, r.str("id"))
	}
	if r.str("status") != "active" || r.str("email") != "grace@example.com" {
		t.Errorf("created user: %s", r.Raw)
	}
	if strings.Contains(string(r.Raw), "Compilers") || strings.Contains(string(r.Raw), "password") {
		t.Errorf("the response shows the password: %s", r.Raw)
	}
	id := r.str("id")

	r = e.do(t, http.MethodPatch, "/users/"+id, tok, map[string]any{
		"preferences": map[string]any{"theme": nil, "density": "compact"},
		"expires_at":  nil,
		"department":  "Navy",
	})
	want(t, r, http.StatusOK, "PATCH /users/{id}")
	var got struct {
		Department  string         `json:"department"`
		Goals       []string       `json:"goals"`
		Preferences map[string]any `json:"preferences"`
		ExpiresAt   *string        `json:"expires_at"`
	}
	r.decode(t, &got)
	if got.Department != "Navy" || !slices.Equal(got.Goals, []string{"ship"}) || got.ExpiresAt != nil {
		t.Errorf("after patch: %s", r.Raw)
	}
	if len(got.Preferences) != 2 || got.Preferences["lang"] != "en" || got.Preferences["density"] != "compact" {
		t.Errorf("preferences %v, want the merge {lang: en, density: compact}", got.Preferences)
	}

	// The user signs in and edits its own profile, not its account.
	grace := &testUser{User: store.User{Username: "grace"}, Password: "Compilers-Are-Fun-1952"}
	e.logs.Secret(grace.Password)
	gt := e.signIn(t, grace)
	r = e.do(t, http.MethodPatch, "/users/me", gt, map[string]any{"goals": nil, "full_name": "Rear Admiral Hopper"})
	want(t, r, http.StatusOK, "PATCH /users/me")
	if !strings.Contains(string(r.Raw), `"goals":[]`) || r.str("full_name") != "Rear Admiral Hopper" {
		t.Errorf("after own patch: %s", r.Raw)
	}
	r = e.do(t, http.MethodPatch, "/users/me", gt, map[string]any{"email": "g@example.com"})
	want(t, r, http.StatusUnprocessableEntity, "PATCH /users/me email")
	if f := r.problem(t).fields(); !slices.Equal(f, []string{"email"}) {
		t.Errorf("fields %v, want [email]", f)
	}
}

// TestAPITokens issues a personal token, uses it, and revokes it: the
// secret is shown once, its scopes narrow what it may do, and revocation
// counts at the next request.
func TestAPITokens(t *testing.T) {
	e := newMemoryEnv(t)
	mgr := e.createUser(t, "manager")
	tok := e.signIn(t, mgr)

	r := e.do(t, http.MethodPost, "/tokens", tok, map[string]any{"name": "reader", "scopes": []string{"users:read", "profile:read"}, "expires_in": 3600})
	want(t, r, http.StatusCreated, "POST /tokens")
	secret, id := r.str("token"), r.str("id")
	e.logs.Secret(secret)
	if !strings.HasPrefix(secret, "gh_pat_") || r.str("kind") != "personal" {
		t.Fatalf("token response %s", r.Raw)
	}

	want(t, e.do(t, http.MethodGet, "/users", secret, nil), http.StatusOK, "the token reads users")
	want(t, e.do(t, http.MethodGet, "/audit", secret, nil), http.StatusForbidden, "the token lacks audit:read, which its owner has")

	r = e.do(t, http.MethodGet, "/tokens", tok, nil)
	want(t, r, http.StatusOK, "GET /tokens")
	if strings.Contains(string(r.Raw), secret) || strings.Contains(string(r.Raw), `"token":`) {
		t.Errorf("the list shows a secret: %s", r.Raw)
	}
	if !strings.Contains(string(r.Raw), id) {
		t.Errorf("the list lacks the token: %s", r.Raw)
	}

	// Wider than the owner: refused.
	r = e.do(t, http.MethodPost, "/tokens", tok, map[string]any{"name": "greedy", "scopes": []string{"clients:write"}})
	want(t, r, http.StatusForbidden, "a token wider than its owner")

	want(t, e.do(t, http.MethodDelete, "/tokens/"+id, tok, nil), http.StatusNoContent, "DELETE /tokens/{id}")
	r = e.do(t, http.MethodGet, "/users", secret, nil)
	want(t, r, http.StatusUnauthorized, "the revoked token")
	if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate %q", h)
	}
	want(t, e.do(t, http.MethodGet, "/users", "gh_pat_not-a-token", nil), http.StatusUnauthorized, "an unknown API token")

	// A system token for a service account acts as the service account.
	sa := e.createServiceAccount(t, "manager")
	admin := e.signIn(t, e.createUser(t, "admin"))
	r = e.do(t, http.MethodPost, "/tokens", admin, map[string]any{"name": "batch", "kind": "system", "client_id": sa.ID})
	want(t, r, http.StatusCreated, "system token")
	e.logs.Secret(r.str("token"))
	want(t, e.do(t, http.MethodGet, "/users", r.str("token"), nil), http.StatusOK, "the system token reads users")
	want(t, e.do(t, http.MethodGet, "/users/me", r.str("token"), nil), http.StatusForbidden, "a system token has no profile")
}

// TestClientsThroughAPI registers a client: the secret is in the creating
// response only, and the client works at the token endpoint.
func TestClientsThroughAPI(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))
	r := e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "nightly", "client_name": "Nightly job", "token_endpoint_auth_method": "client_secret_basic",
		"grant_types": []string{"client_credentials"}, "scope": "gatehouse:api", "roles": []string{"manager"},
		"lifetimes": map[string]any{"access_token": "15m"},
	})
	want(t, r, http.StatusCreated, "POST /clients")
	secret := r.str("client_secret")
	e.logs.Secret(secret)
	if secret == "" || r.Header.Get("Location") != "/api/v1/clients/nightly" {
		t.Fatalf("create client: Location %q body %s", r.Header.Get("Location"), r.Raw)
	}
	r = e.do(t, http.MethodGet, "/clients/nightly", tok, nil)
	want(t, r, http.StatusOK, "GET /clients/{id}")
	if strings.Contains(string(r.Raw), secret) || strings.Contains(string(r.Raw), `"client_secret":`) {
		t.Errorf("GET shows the secret: %s", r.Raw)
	}
	sa := testClient{Client: store.Client{ID: "nightly"}, Secret: secret}
	saTok := e.clientCredentials(t, sa)
	want(t, e.do(t, http.MethodGet, "/users", saTok, nil), http.StatusOK, "the new service account reads users")

	r = e.do(t, http.MethodPatch, "/clients/nightly", tok, map[string]any{"lifetimes": map[string]any{"refresh_token": "24h"}, "roles": nil})
	want(t, r, http.StatusOK, "PATCH /clients/{id}")
	var c struct {
		Lifetimes map[string]string `json:"lifetimes"`
		Roles     []string          `json:"roles"`
	}
	r.decode(t, &c)
	if c.Lifetimes["access_token"] != "15m0s" || c.Lifetimes["refresh_token"] != "24h0m0s" || len(c.Roles) != 0 {
		t.Errorf("after patch: %s", r.Raw)
	}
	r = e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "nightly", "token_endpoint_auth_method": "client_secret_basic", "grant_types": []string{"client_credentials"}})
	want(t, r, http.StatusConflict, "a taken client_id")
}

// TestRouteErrors: unknown paths and methods under /api/v1 answer in
// problem+json, without asking for a token first.
func TestRouteErrors(t *testing.T) {
	e := newMemoryEnv(t)
	r := e.do(t, http.MethodGet, "/nothing-here", "", nil)
	want(t, r, http.StatusNotFound, "unknown path")
	r.problem(t)
	r = e.do(t, http.MethodPut, "/users", "", nil)
	want(t, r, http.StatusMethodNotAllowed, "PUT /users")
	r.problem(t)
	if allow := r.Header.Get("Allow"); allow != "GET, POST" {
		t.Errorf("Allow %q, want GET, POST", allow)
	}
	r = e.do(t, http.MethodGet, "/users", "", nil)
	want(t, r, http.StatusUnauthorized, "no token")
	// RFC 9728 §5.1: the challenge names the API's metadata.
	if h := r.Header.Get("WWW-Authenticate"); h != `Bearer error="invalid_token", resource_metadata="`+e.URL+`/.well-known/oauth-protected-resource"` {
		t.Errorf("WWW-Authenticate %q", h)
	}
	r = e.call(ctxT(t), apiRequest{Method: http.MethodGet, Path: "/users", Token: "garbage"})
	want(t, r, http.StatusUnauthorized, "a garbage token")
}

// TestNoTokenForSomeoneMorePowerful is the manager-to-admin escalation:
// a manager may not mint a user token for an admin (403 problem+json),
// and a token it may mint (for a peer) is audited with both identities.
func TestNoTokenForSomeoneMorePowerful(t *testing.T) {
	e := newMemoryEnv(t)
	mgr := e.createUser(t, "manager")
	boss := e.createUser(t, "admin")
	peer := e.createUser(t, "manager")
	tok := e.signIn(t, mgr)

	r := e.do(t, http.MethodPost, "/tokens", tok, map[string]any{"name": "as boss", "kind": "user", "user_id": boss.ID})
	want(t, r, http.StatusForbidden, "a user token for an admin, made by a manager")
	if p := r.problem(t); !strings.Contains(p.Detail, "users:roles") {
		t.Errorf("the refusal does not name what the manager lacks: %+v", p)
	}

	r = e.do(t, http.MethodPost, "/tokens", tok, map[string]any{"name": "as peer", "kind": "user", "user_id": peer.ID})
	want(t, r, http.StatusCreated, "a user token for a peer")
	secret := r.str("token")
	e.logs.Secret(secret)
	mark := e.lastAuditID(t)
	want(t, e.do(t, http.MethodPatch, "/users/me", secret, map[string]any{"full_name": "Edited Through A Token"}), http.StatusOK, "PATCH /users/me with the peer's token")
	entries := e.auditSince(t, mark)
	if len(entries) != 1 || entries[0].ActorID != peer.ID || entries[0].Act != "user:"+mgr.ID {
		t.Fatalf("audit %+v, want the peer's update with act user:%s", entries, mgr.ID)
	}
	r = e.do(t, http.MethodGet, "/audit?target="+peer.ID, e.signIn(t, boss), nil)
	want(t, r, http.StatusOK, "GET /audit")
	if !strings.Contains(string(r.Raw), `"act":"user:`+mgr.ID+`"`) {
		t.Errorf("the audit view does not show who acted: %s", r.Raw)
	}
}

// TestManagerCannotTouchAnAdmin: a manager locking an admin is a 403
// problem+json naming the reason, and the admin's tokens live on; the last
// active admin cannot be locked or deleted by anyone (409).
func TestManagerCannotTouchAnAdmin(t *testing.T) {
	e := newMemoryEnv(t)
	boss := e.createUser(t, "admin")
	bossTok := e.signIn(t, boss)
	mgrTok := e.signIn(t, e.createUser(t, "manager"))

	r := e.do(t, http.MethodPut, "/users/"+boss.ID+"/status", mgrTok, map[string]any{"status": "locked"})
	want(t, r, http.StatusForbidden, "a manager locking an admin")
	if p := r.problem(t); !strings.Contains(p.Detail, "more power") {
		t.Errorf("problem %+v, want the reason", p)
	}
	want(t, e.do(t, http.MethodGet, "/users/me", bossTok, nil), http.StatusOK, "the admin's token after the refusal")

	r = e.do(t, http.MethodDelete, "/users/"+boss.ID+"?hard=true", e.signIn(t, e.createUser(t, "admin")), nil)
	want(t, r, http.StatusNoContent, "an admin deleting another admin")
	other := e.createUser(t, "admin")
	otherTok := e.signIn(t, other)
	want(t, e.do(t, http.MethodGet, "/users/me", otherTok, nil), http.StatusOK, "the remaining admins")
	// Two admins are left (other and the one who deleted boss): delete
	// one, and the last cannot go.
	r = e.do(t, http.MethodGet, "/users?role=admin&status=active", otherTok, nil)
	want(t, r, http.StatusOK, "GET /users?role=admin")
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	r.decode(t, &list)
	for _, u := range list.Items {
		if u.ID != other.ID {
			want(t, e.do(t, http.MethodDelete, "/users/"+u.ID+"?hard=true", otherTok, nil), http.StatusNoContent, "deleting an admin while another remains")
		}
	}
	r = e.do(t, http.MethodPut, "/users/"+other.ID+"/roles", otherTok, map[string]any{"roles": []string{"manager"}})
	want(t, r, http.StatusConflict, "demoting the last admin")
	if p := r.problem(t); !strings.Contains(p.Detail, "last active admin") {
		t.Errorf("problem %+v, want the reason", p)
	}
}
