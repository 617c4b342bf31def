package admin_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// The permission matrix: every route of admin.Routes() × every kind of
// caller. The expected status is derived from the route's permission rule
// and the built-in role matrix (store.BuiltInRoles, closed over the
// hierarchy here, independently of the domain), and a hard-coded list of
// spot checks guards against a mistake in either table.

func TestPermissionMatrixMemory(t *testing.T) {
	runMatrix(t, newMemoryEnv(t))
}

func TestPermissionMatrixPostgres(t *testing.T) {
	runMatrix(t, newPostgresEnv(t))
}

type callerKind int

const (
	noToken callerKind = iota
	revokedToken
	noScope
	userCaller
	serviceCaller
)

type caller struct {
	name   string
	kind   callerKind
	token  string
	roles  []string
	perms  map[string]bool
	user   *testUser
	client *testClient
}

// fixture makes one request of a route for a caller, creating what the
// request addresses.
type fixture struct {
	variant string
	// needs replaces the route's permissions for this request (e.g. a hard
	// delete); nil keeps them.
	needs []string
	build func(t *testing.T, m *matrix, c *caller) apiRequest
}

type matrix struct {
	*env
	callers []*caller
}

func (m *matrix) caller(name string) *caller {
	for _, c := range m.callers {
		if c.name == name {
			return c
		}
	}
	panic("no caller " + name)
}

// effectivePermissions closes roles over the built-in hierarchy.
func effectivePermissions(roles []string) map[string]bool {
	byName := map[string]store.Role{}
	for _, r := range store.BuiltInRoles() {
		byName[r.Name] = r
	}
	perms := map[string]bool{}
	for _, name := range roles {
		for seen := map[string]bool{}; name != "" && !seen[name]; name = byName[name].Parent {
			seen[name] = true
			for _, p := range byName[name].Permissions {
				perms[p] = true
			}
		}
	}
	return perms
}

func setUpCallers(t *testing.T, e *env) *matrix {
	t.Helper()
	m := &matrix{env: e}
	add := func(c *caller) {
		c.perms = effectivePermissions(c.roles)
		m.callers = append(m.callers, c)
	}
	add(&caller{name: "no-token", kind: noToken})

	revoked := e.createUser(t, "admin")
	tok := e.signIn(t, revoked)
	e.revokeToken(t, tok)
	add(&caller{name: "revoked-token", kind: revokedToken, token: tok})

	narrow := e.createUser(t, "admin")
	add(&caller{name: "no-api-scope", kind: noScope, token: e.signIn(t, narrow, "openid"), user: narrow})

	for _, role := range []string{"viewer", "user", "manager", "admin"} {
		u := e.createUser(t, role)
		add(&caller{name: role, kind: userCaller, token: e.signIn(t, u), roles: []string{role}, user: u})
	}
	sa := e.createServiceAccount(t, "admin")
	add(&caller{name: "service-admin", kind: serviceCaller, token: e.clientCredentials(t, sa), roles: []string{"admin"}, client: &sa})
	bare := e.createServiceAccount(t)
	add(&caller{name: "service-no-roles", kind: serviceCaller, token: e.clientCredentials(t, bare), client: &bare})
	return m
}

// expectedStatus derives a caller's status on a route from the tables.
func expectedStatus(rt admin.Route, fx fixture, c *caller) int {
	if rt.Public {
		return rt.Status
	}
	switch c.kind {
	case noToken, revokedToken:
		return http.StatusUnauthorized
	case noScope:
		return http.StatusForbidden
	}
	if rt.UserOnly && c.user == nil {
		return http.StatusForbidden
	}
	perms := rt.Permissions
	if fx.needs != nil {
		perms = fx.needs
	}
	if len(perms) == 0 {
		return rt.Status
	}
	for _, p := range perms {
		if c.perms[p] {
			return rt.Status
		}
	}
	return http.StatusForbidden
}

func runMatrix(t *testing.T, e *env) {
	m := setUpCallers(t, e)
	fixtures := matrixFixtures()

	routes := admin.Routes()
	// Changing one's own password goes late: it is a request that could
	// end the caller's sessions. Signing oneself out everywhere goes
	// last: it does revoke the caller's token, which is signed in again
	// for the spot checks.
	slices.SortStableFunc(routes, func(a, b admin.Route) int {
		last := func(r admin.Route) int {
			switch r.Path {
			case "/users/me/password":
				return 1
			case "/users/me/sessions/revoke-all":
				return 2
			}
			return 0
		}
		return last(a) - last(b)
	})

	covered := map[string]bool{}
	requests, byStatus := 0, map[int]int{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		fxs, ok := fixtures[key]
		if !ok {
			t.Errorf("route %s has no fixture in the matrix", key)
			continue
		}
		covered[key] = true
		for _, fx := range fxs {
			for _, c := range m.callers {
				name := fmt.Sprintf("%s%s/%s", key, variantSuffix(fx.variant), c.name)
				wantStatus := expectedStatus(rt, fx, c)
				req := fx.build(t, m, c)
				req.Method, req.Token = rt.Method, c.token
				got := m.call(ctxT(t), req)
				if got.Err != nil {
					t.Fatalf("%s: %v", name, got.Err)
				}
				checkMatrixResponse(t, name, rt, c, got, wantStatus)
				requests++
				byStatus[got.Status]++
			}
		}
	}
	t.Logf("permission matrix: %d requests over %d routes and %d callers; statuses %v", requests, len(routes), len(m.callers), byStatus)
	for key := range fixtures {
		if !covered[key] {
			t.Errorf("fixture %s names no route of admin.Routes()", key)
		}
	}

	for _, c := range m.callers {
		if c.kind == userCaller {
			c.token = m.signIn(t, c.user)
		}
	}
	runSpotChecks(t, m, fixtures)
}

func variantSuffix(v string) string {
	if v == "" {
		return ""
	}
	return " [" + v + "]"
}

func checkMatrixResponse(t *testing.T, name string, rt admin.Route, c *caller, got apiResponse, wantStatus int) {
	t.Helper()
	if got.Status != wantStatus {
		t.Errorf("%s: status %d, want %d; body %.300s", name, got.Status, wantStatus, got.Raw)
		return
	}
	switch {
	case got.Status == http.StatusUnauthorized:
		if h := got.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate %q, want Bearer error=\"invalid_token\"", name, h)
		}
		got.problem(t)
	case got.Status == http.StatusForbidden && c.kind == noScope:
		if h := got.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, "gatehouse:api") {
			t.Errorf("%s: WWW-Authenticate %q, want insufficient_scope for gatehouse:api", name, h)
		}
		got.problem(t)
	case got.Status >= 400:
		if h := got.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("%s: a permission 403 carries WWW-Authenticate %q", name, h)
		}
		got.problem(t)
	case got.Status == http.StatusCreated:
		if got.Header.Get("Location") == "" {
			t.Errorf("%s: 201 without Location", name)
		}
	}
	if cc := got.Header.Get("Cache-Control"); !rt.Public && cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
	}
}

// runSpotChecks hard-codes a few cells of the matrix, so that an error in
// the route table or the role closure above cannot hide.
func runSpotChecks(t *testing.T, m *matrix, fixtures map[string][]fixture) {
	for _, sc := range []struct {
		caller, route, variant string
		want                   int
	}{
		{"no-token", "GET /openapi.json", "", 200},
		{"viewer", "GET /users/me", "", 200},
		{"viewer", "PATCH /users/me", "", 403},
		{"viewer", "GET /users", "", 403},
		{"viewer", "GET /roles", "", 200},
		{"viewer", "POST /tokens", "", 403},
		{"user", "POST /tokens", "", 201},
		{"user", "GET /audit", "", 403},
		{"user", "GET /users/{id}", "", 403},
		{"manager", "GET /users", "", 200},
		{"manager", "GET /users/export", "", 200},
		{"viewer", "GET /users/export", "", 403},
		{"manager", "PUT /users/{id}/status", "", 200},
		{"manager", "PUT /users/{id}/roles", "", 403},
		{"manager", "GET /users/{id}/ip-rules", "", 200},
		{"manager", "PUT /users/{id}/ip-rules", "", 403},
		{"admin", "PUT /users/{id}/ip-rules", "", 200},
		{"manager", "POST /users", "", 403},
		{"manager", "DELETE /users/{id}", "hard", 403},
		{"manager", "POST /access-requests/{id}/approve", "", 200},
		{"manager", "GET /audit", "", 200},
		{"manager", "GET /clients", "", 403},
		{"manager", "POST /roles", "", 403},
		{"admin", "DELETE /users/{id}", "hard", 204},
		{"admin", "POST /clients", "", 201},
		{"manager", "POST /identity-providers", "", 403},
		{"manager", "GET /identity-providers", "", 403},
		{"admin", "POST /identity-providers", "", 201},
		{"admin", "DELETE /identity-providers/{id}", "", 204},
		{"manager", "GET /webhooks", "", 403},
		{"manager", "POST /webhooks", "", 403},
		{"admin", "POST /webhooks", "", 201},
		{"admin", "GET /webhooks/{id}/deliveries", "", 200},
		{"admin", "DELETE /sessions/{id}", "", 204},
		{"service-admin", "GET /users", "", 200},
		{"service-admin", "GET /users/me", "", 403},
		{"service-admin", "POST /tokens", "", 201},
		{"service-no-roles", "GET /users", "", 403},
		{"service-no-roles", "GET /roles", "", 403},
		{"no-api-scope", "GET /users/me", "", 403},
		{"revoked-token", "GET /users/me", "", 401},
		{"no-token", "GET /users", "", 401},
		{"viewer", "GET /users/me/consents", "", 200},
		{"viewer", "DELETE /users/me/consents/{client_id}", "", 204},
		{"service-admin", "GET /users/me/consents", "", 403},
		{"viewer", "GET /stats", "", 403},
		{"user", "GET /stats", "", 403},
		{"manager", "GET /stats", "", 200},
		{"service-admin", "GET /stats", "", 200},
		{"manager", "POST /users/{id}/sessions/revoke-all", "", 403},
		{"admin", "POST /users/{id}/sessions/revoke-all", "", 200},
		// Areas.
		{"viewer", "GET /areas", "", 200},
		{"manager", "POST /areas", "", 403},
		{"admin", "POST /areas", "", 201},
		{"admin", "PATCH /areas/{code}", "", 200},
		{"manager", "PUT /users/{id}/area-roles/{area}/{role}", "", 403},
		{"admin", "PUT /users/{id}/area-roles/{area}/{role}", "", 204},
	} {
		method, path, _ := strings.Cut(sc.route, " ")
		var fx *fixture
		for i := range fixtures[sc.route] {
			if fixtures[sc.route][i].variant == sc.variant {
				fx = &fixtures[sc.route][i]
			}
		}
		if fx == nil {
			t.Fatalf("spot check %s [%s]: no such fixture", sc.route, sc.variant)
		}
		c := m.caller(sc.caller)
		req := fx.build(t, m, c)
		req.Method, req.Token = method, c.token
		got := m.call(ctxT(t), req)
		if got.Err != nil {
			t.Fatalf("spot %s %s: %v", sc.caller, sc.route, got.Err)
		}
		if got.Status != sc.want {
			t.Errorf("spot check %s%s as %s (%s): status %d, want %d; body %.300s", sc.route, variantSuffix(sc.variant), sc.caller, path, got.Status, sc.want, got.Raw)
		}
	}

	// The owner exceptions: a user reads its own sessions and ends its own
	// session, and reads its own access request, without the permission.
	viewer := m.caller("viewer")
	r := m.do(t, http.MethodGet, "/users/"+viewer.user.ID+"/sessions", viewer.token, nil)
	want(t, r, http.StatusOK, "viewer lists its own sessions")
	sess := m.session(t, viewer.user.ID)
	r = m.do(t, http.MethodDelete, "/sessions/"+sess, viewer.token, nil)
	want(t, r, http.StatusNoContent, "viewer ends its own session")
	other := m.session(t, m.user(t, store.StatusActive).ID)
	r = m.do(t, http.MethodDelete, "/sessions/"+other, viewer.token, nil)
	want(t, r, http.StatusForbidden, "viewer ends another user's session")
	r = m.do(t, http.MethodPost, "/access-requests", viewer.token, map[string]any{"role": "user", "purpose": "I edit my profile"})
	want(t, r, http.StatusCreated, "viewer requests a further role for itself")
	r = m.do(t, http.MethodGet, "/access-requests/"+r.str("id"), viewer.token, nil)
	want(t, r, http.StatusOK, "viewer reads its own request")
}

// ---------------------------------------------------------------------------
// Fixtures: one valid request per route (and variant).

func (m *matrix) user(t *testing.T, status store.UserStatus, roles ...string) *testUser {
	t.Helper()
	return m.createUserWith(t, status, roles...)
}

func (m *matrix) role(t *testing.T) string {
	t.Helper()
	r, err := m.Svc.CreateRole(ctxT(t), domain.CLIActor(), store.Role{Name: "r-" + randomHex(t, 5), Parent: "viewer"})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	return r.Name
}

// permission defines a custom permission for a request to act on.
func (m *matrix) permission(t *testing.T) string {
	t.Helper()
	p, err := m.Svc.CreatePermission(ctxT(t), domain.CLIActor(), store.Permission{Name: "m" + randomHex(t, 5) + ":use"})
	if err != nil {
		t.Fatalf("create permission: %v", err)
	}
	return p.Name
}

func (m *matrix) group(t *testing.T) string {
	t.Helper()
	g, err := m.Svc.CreateGroup(ctxT(t), domain.CLIActor(), domain.NewGroup{Name: "g-" + randomHex(t, 5), Roles: []string{"viewer"}})
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return g.ID
}

func (m *matrix) pendingRequest(t *testing.T) string {
	t.Helper()
	u := m.user(t, store.StatusPending)
	r, err := m.Svc.SubmitAccessRequest(ctxT(t), domain.CLIActor(), u.ID, "viewer", "I read the dashboards")
	if err != nil {
		t.Fatalf("submit access request: %v", err)
	}
	return r.ID
}

func (m *matrix) session(t *testing.T, userID string) string {
	t.Helper()
	now := time.Now().UTC()
	id := randomHex(t, 32)
	err := m.Store.CreateLoginSession(ctxT(t), store.LoginSession{
		ID: id, UserID: userID, AuthTime: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now,
		UserAgent: "matrix", IPAddress: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	return id
}

// identityProvider stores an upstream provider (without a secret) and
// returns its id (idp).
func (m *matrix) identityProvider(t *testing.T) string {
	t.Helper()
	p, err := m.Svc.CreateIdentityProvider(ctxT(t), domain.CLIActor(), domain.IdentityProviderInput{
		ID: "p-" + randomHex(t, 5), DisplayName: "Upstream", Issuer: "https://idp.example", ClientID: "gatehouse"})
	if err != nil {
		t.Fatalf("create identity provider: %v", err)
	}
	return p.ID
}

func (m *matrix) serviceClient(t *testing.T) string {
	t.Helper()
	return m.createServiceAccount(t).ID
}

// callerToken issues an API token the caller may revoke: a personal token
// for a user with tokens:self, a system token for a service account with
// tokens:system, and otherwise any token (the request is refused anyway).
func (m *matrix) callerToken(t *testing.T, c *caller) string {
	t.Helper()
	ctx := ctxT(t)
	var p domain.Principal
	var err error
	kind := store.TokenPersonal
	switch {
	case c.user != nil && c.perms[store.PermTokensSelf]:
		u, gerr := m.Svc.GetUser(ctx, c.user.ID)
		if gerr != nil {
			t.Fatalf("get user: %v", gerr)
		}
		p, err = m.Svc.UserPrincipal(ctx, u)
	case c.client != nil && c.perms[store.PermTokensSystem]:
		p, err = m.Svc.ClientPrincipal(ctx, c.client.Client)
		kind = store.TokenSystem
	default:
		admin := m.caller("admin")
		u, gerr := m.Svc.GetUser(ctx, admin.user.ID)
		if gerr != nil {
			t.Fatalf("get user: %v", gerr)
		}
		p, err = m.Svc.UserPrincipal(ctx, u)
	}
	if err != nil {
		t.Fatalf("principal: %v", err)
	}
	in := domain.NewAPIToken{Name: "matrix", Kind: kind}
	if kind == store.TokenSystem {
		in.ClientID = c.client.ID
	}
	tok, secret, err := m.Svc.IssueAPIToken(ctx, p, in)
	if err != nil {
		t.Fatalf("issue API token: %v", err)
	}
	m.logs.Secret(secret)
	return tok.ID
}

func matrixFixtures() map[string][]fixture {
	one := func(build func(t *testing.T, m *matrix, c *caller) apiRequest) []fixture {
		return []fixture{{build: build}}
	}
	path := func(p string) func(*testing.T, *matrix, *caller) apiRequest {
		return func(*testing.T, *matrix, *caller) apiRequest { return apiRequest{Path: p} }
	}
	freshUser := func(suffix string, body any) func(*testing.T, *matrix, *caller) apiRequest {
		return func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/users/" + m.user(t, store.StatusActive, "viewer").ID + suffix, Body: body}
		}
	}
	review := []string{store.PermAccessRequestsReview}
	return map[string][]fixture{
		"GET /openapi.json": one(path("/openapi.json")),

		"GET /users": one(path("/users?limit=5")),
		// Bulk export (bulk.go).
		"GET /users/export": one(path("/users/export")),
		"POST /users": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			name := "n-" + randomHex(t, 5)
			return apiRequest{Path: "/users", Body: map[string]any{"username": name, "email": name + "@example.com", "full_name": "New Person"}}
		}),
		"GET /users/me": one(path("/users/me")),
		"PATCH /users/me": one(func(*testing.T, *matrix, *caller) apiRequest {
			return apiRequest{Path: "/users/me", Body: map[string]any{"department": "Research"}}
		}),
		"PUT /users/me/password": one(func(t *testing.T, _ *matrix, c *caller) apiRequest {
			current := "not-a-user"
			if c.user != nil {
				current = c.user.Password
			}
			next := "Fresh-" + randomHex(t, 8)
			if c.user != nil && c.kind == userCaller && c.perms[store.PermProfileWrite] {
				c.user.Password = next
			}
			return apiRequest{Path: "/users/me/password", Body: map[string]any{"current_password": current, "password": next}}
		}),
		"GET /users/goals/suggestions": one(path("/users/goals/suggestions?role=viewer")),
		"GET /users/{id}":              one(freshUser("", nil)),
		"PATCH /users/{id}":            one(freshUser("", map[string]any{"department": "Sales", "goals": []string{"close deals"}})),
		"DELETE /users/{id}": {
			{variant: "", needs: []string{store.PermUsersWrite}, build: freshUser("", nil)},
			{variant: "hard", needs: []string{store.PermUsersDelete}, build: freshUser("?hard=true", nil)},
		},
		"PUT /users/{id}/roles":    one(freshUser("/roles", map[string]any{"roles": []string{"user"}})),
		"PUT /users/{id}/status":   one(freshUser("/status", map[string]any{"status": "locked"})),
		"PUT /users/{id}/password": one(freshUser("/password", map[string]any{"password": "Another-Long-Passphrase-7"})),
		"GET /users/{id}/ip-rules": one(freshUser("/ip-rules", nil)),
		"PUT /users/{id}/ip-rules": one(freshUser("/ip-rules", map[string]any{"deny": []string{"203.0.113.0/24"}})),
		"DELETE /users/{id}/mfa":   one(freshUser("/mfa", nil)),

		"POST /users/{id}/password-reset": one(freshUser("/password-reset", nil)),
		// The caller's own address, unverified and sent no link yet, so that
		// the resend is neither refused (409) nor limited (429).
		"POST /users/me/email-verification": one(func(t *testing.T, m *matrix, c *caller) apiRequest {
			if c.user != nil {
				u, err := m.Store.GetUser(ctxT(t), c.user.ID)
				if err != nil {
					t.Fatal(err)
				}
				u.EmailVerified = false
				if err := m.Store.UpdateUser(ctxT(t), u); err != nil {
					t.Fatal(err)
				}
			}
			return apiRequest{Path: "/users/me/email-verification"}
		}),
		"GET /users/{id}/sessions": one(freshUser("/sessions", nil)),
		"POST /users/{id}/sessions/revoke-all": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			u := m.user(t, store.StatusActive, "viewer")
			m.session(t, u.ID)
			return apiRequest{Path: "/users/" + u.ID + "/sessions/revoke-all"}
		}),
		"POST /users/me/sessions/revoke-all": one(path("/users/me/sessions/revoke-all")),
		"GET /users/me/consents":             one(path("/users/me/consents")),
		// A consent of the caller for a client of its own, so that the
		// caller's own token (of the console client) lives on.
		"DELETE /users/me/consents/{client_id}": one(func(t *testing.T, m *matrix, c *caller) apiRequest {
			id := m.serviceClient(t)
			if c.user != nil {
				if err := m.Svc.GrantConsent(ctxT(t), c.user.ID, id, []string{"openid"}); err != nil {
					t.Fatalf("grant consent: %v", err)
				}
			}
			return apiRequest{Path: "/users/me/consents/" + id}
		}),
		"DELETE /sessions/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/sessions/" + m.session(t, m.user(t, store.StatusActive, "viewer").ID)}
		}),

		"GET /roles": one(path("/roles")),
		"POST /roles": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/roles", Body: map[string]any{"name": "p-" + randomHex(t, 5), "parent": "viewer",
				"permissions": []string{"dashboards:read"}, "suggested_goals": []string{"read reports"}}}
		}),
		"GET /roles/{name}": one(path("/roles/viewer")),
		"PATCH /roles/{name}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/roles/" + m.role(t), Body: map[string]any{"description": "changed"}}
		}),
		"DELETE /roles/{name}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/roles/" + m.role(t)}
		}),

		// Custom permissions, denied permissions, the effective view.
		"GET /permissions":        one(path("/permissions")),
		"GET /permissions/{name}": one(path("/permissions/users:read")),
		"POST /permissions": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/permissions", Body: map[string]any{"name": "m" + randomHex(t, 5) + ":use", "description": "d"}}
		}),
		"PATCH /permissions/{name}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/permissions/" + m.permission(t), Body: map[string]any{"description": "changed"}}
		}),
		"DELETE /permissions/{name}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/permissions/" + m.permission(t)}
		}),
		"PUT /users/{id}/denied-permissions": one(freshUser("/denied-permissions", map[string]any{"permissions": []string{"dashboards:read"}})),
		"GET /users/{id}/permissions":        one(freshUser("/permissions", nil)),

		"GET /groups": one(path("/groups")),
		"POST /groups": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/groups", Body: map[string]any{"name": "grp-" + randomHex(t, 5), "roles": []string{"viewer"}}}
		}),
		"GET /groups/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest { return apiRequest{Path: "/groups/" + m.group(t)} }),
		"PATCH /groups/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/groups/" + m.group(t), Body: map[string]any{"description": "changed"}}
		}),
		"DELETE /groups/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest { return apiRequest{Path: "/groups/" + m.group(t)} }),
		"PUT /groups/{id}/members/{user_id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/groups/" + m.group(t) + "/members/" + m.user(t, store.StatusActive).ID}
		}),
		"DELETE /groups/{id}/members/{user_id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			g, u := m.group(t), m.user(t, store.StatusActive).ID
			if err := m.Svc.AddGroupMember(ctxT(t), domain.CLIActor(), g, u); err != nil {
				t.Fatalf("add member: %v", err)
			}
			return apiRequest{Path: "/groups/" + g + "/members/" + u}
		}),

		"GET /access-requests": one(path("/access-requests?status=pending")),
		// On behalf of another (pending) user: a reviewer's request.
		"POST /access-requests": {{needs: review, build: func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/access-requests", Body: map[string]any{
				"user_id": m.user(t, store.StatusPending).ID, "role": "viewer", "purpose": "Reads the dashboards"}}
		}}},
		"GET /access-requests/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/access-requests/" + m.pendingRequest(t)}
		}),
		"POST /access-requests/{id}/approve": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/access-requests/" + m.pendingRequest(t) + "/approve", Body: map[string]any{"comment": "welcome"}}
		}),
		"POST /access-requests/{id}/deny": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/access-requests/" + m.pendingRequest(t) + "/deny", Body: map[string]any{"comment": "not this quarter"}}
		}),

		"GET /tokens": one(path("/tokens")),
		"POST /tokens": one(func(t *testing.T, _ *matrix, c *caller) apiRequest {
			body := map[string]any{"name": "script", "expires_in": 3600}
			if c.client != nil {
				body["kind"] = "system"
			}
			return apiRequest{Path: "/tokens", Body: body}
		}),
		"DELETE /tokens/{id}": one(func(t *testing.T, m *matrix, c *caller) apiRequest {
			return apiRequest{Path: "/tokens/" + m.callerToken(t, c)}
		}),

		"GET /clients": one(path("/clients")),
		"POST /clients": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/clients", Body: map[string]any{
				"client_id": "c-" + randomHex(t, 5), "client_name": "Batch job",
				"token_endpoint_auth_method": "client_secret_basic",
				"grant_types":                []string{"client_credentials"}, "scope": "gatehouse:api"}}
		}),
		"GET /clients/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/clients/" + m.serviceClient(t)}
		}),
		"PATCH /clients/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/clients/" + m.serviceClient(t), Body: map[string]any{"client_name": "Renamed"}}
		}),
		"DELETE /clients/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/clients/" + m.serviceClient(t)}
		}),

		// idp
		"GET /identity-providers": one(path("/identity-providers")),
		"POST /identity-providers": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/identity-providers", Body: map[string]any{
				"id": "p-" + randomHex(t, 5), "display_name": "Upstream", "issuer": "https://idp.example",
				"client_id": "gatehouse"}}
		}),
		"GET /identity-providers/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/identity-providers/" + m.identityProvider(t)}
		}),
		"PATCH /identity-providers/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/identity-providers/" + m.identityProvider(t), Body: map[string]any{"display_name": "Renamed"}}
		}),
		"DELETE /identity-providers/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/identity-providers/" + m.identityProvider(t)}
		}),

		"GET /audit": one(path("/audit?limit=10")),
		"GET /stats": one(path("/stats")),

		// Areas (areas.go).
		"GET /areas": one(path("/areas")),
		"POST /areas": one(func(t *testing.T, _ *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/areas", Body: map[string]any{"code": "a-" + randomHex(t, 5), "name": "New area"}}
		}),
		"GET /areas/{code}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest { return apiRequest{Path: "/areas/" + m.area(t)} }),
		"PATCH /areas/{code}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/areas/" + m.area(t), Body: map[string]any{"name": "Renamed"}}
		}),
		"DELETE /areas/{code}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest { return apiRequest{Path: "/areas/" + m.area(t)} }),
		"PUT /areas/{code}/members/{user_id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/areas/" + m.area(t) + "/members/" + m.user(t, store.StatusActive).ID}
		}),
		"DELETE /areas/{code}/members/{user_id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			a, u := m.area(t), m.user(t, store.StatusActive).ID
			if err := m.Svc.AddAreaMember(ctxT(t), domain.CLIActor(), a, u); err != nil {
				t.Fatalf("add area member: %v", err)
			}
			return apiRequest{Path: "/areas/" + a + "/members/" + u}
		}),
		"GET /users/{id}/area-roles": one(freshUser("/area-roles", nil)),
		"PUT /users/{id}/area-roles/{area}/{role}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/users/" + m.user(t, store.StatusActive, "viewer").ID + "/area-roles/" + m.area(t) + "/viewer"}
		}),
		"DELETE /users/{id}/area-roles/{area}/{role}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			a, u := m.area(t), m.user(t, store.StatusActive, "viewer").ID
			if err := m.Svc.GrantAreaRole(ctxT(t), domain.Operator(domain.CLIActor()), u, a, "viewer"); err != nil {
				t.Fatalf("grant area role: %v", err)
			}
			return apiRequest{Path: "/users/" + u + "/area-roles/" + a + "/viewer"}
		}),
		// Events and webhooks.
		"GET /webhooks": one(path("/webhooks")),
		"POST /webhooks": one(func(*testing.T, *matrix, *caller) apiRequest {
			return apiRequest{Path: "/webhooks", Body: map[string]any{"url": "https://hooks.example/in", "event_types": []string{"user.*"}}}
		}),
		"GET /webhooks/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/webhooks/" + m.webhook(t)}
		}),
		"PATCH /webhooks/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/webhooks/" + m.webhook(t), Body: map[string]any{"enabled": false}}
		}),
		"DELETE /webhooks/{id}": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/webhooks/" + m.webhook(t)}
		}),
		"POST /webhooks/{id}/rotate-secret": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/webhooks/" + m.webhook(t) + "/rotate-secret"}
		}),
		"GET /webhooks/{id}/deliveries": one(func(t *testing.T, m *matrix, _ *caller) apiRequest {
			return apiRequest{Path: "/webhooks/" + m.webhook(t) + "/deliveries"}
		}),
	}
}

// area creates a root area and returns its code (areas).
func (m *matrix) area(t *testing.T) string {
	t.Helper()
	a, err := m.Svc.CreateArea(ctxT(t), domain.CLIActor(), domain.NewArea{Code: "a-" + randomHex(t, 5), Name: "Area"})
	if err != nil {
		t.Fatalf("create area: %v", err)
	}
	return a.Code
}

// webhook makes a subscription (events and webhooks).
func (m *matrix) webhook(t *testing.T) string {
	t.Helper()
	w, _, err := m.Svc.CreateWebhook(ctxT(t), domain.CLIActor(), domain.WebhookInput{
		URL: "https://hooks.example/in", EventTypes: []string{"*"}})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w.ID
}
