package admin_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// What the console and the account pages need beyond the directory
// routes: optimistic concurrency for user edits, allowed apps, signing out
// everywhere, the dashboard's figures, and an active user asking for a
// further role. Each runs on both backends.

func TestConsoleAPIMemory(t *testing.T)   { runConsoleAPI(t, newMemoryEnv(t)) }
func TestConsoleAPIPostgres(t *testing.T) { runConsoleAPI(t, newPostgresEnv(t)) }

func runConsoleAPI(t *testing.T, e *env) {
	t.Run("ETag and If-Match", func(t *testing.T) { testUserETag(t, e) })
	t.Run("two editors: the later one gets 412", func(t *testing.T) { testTwoEditors(t, e) })
	t.Run("concurrent edits of different fields all stand", func(t *testing.T) { testNoLostUpdate(t, e) })
	t.Run("allowed apps", func(t *testing.T) { testAllowedApps(t, e) })
	t.Run("sign out everywhere", func(t *testing.T) { testSignOutEverywhere(t, e) })
	t.Run("an active user asks for a further role", func(t *testing.T) { testActiveUserRequest(t, e) })
	// Last: it counts what the others left in the directory.
	t.Run("stats", func(t *testing.T) { testStats(t, e) })
}

func ifMatchHeader(tags ...string) http.Header {
	h := http.Header{}
	for _, tag := range tags {
		h.Add("If-Match", tag)
	}
	return h
}

func (e *env) patch(t *testing.T, path, token string, body any, h http.Header) apiResponse {
	t.Helper()
	r := e.call(ctxT(t), apiRequest{Method: http.MethodPatch, Path: path, Token: token, Body: body, Header: h})
	if r.Err != nil {
		t.Fatalf("PATCH %s: %v", path, r.Err)
	}
	return r
}

// etagOf is the response's ETag, which must be a strong entity tag.
func etagOf(t *testing.T, r apiResponse) string {
	t.Helper()
	tag := r.Header.Get("ETag")
	if len(tag) < 3 || !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) {
		t.Fatalf("ETag %q is not a strong entity tag (status %d)", tag, r.Status)
	}
	return tag
}

func (e *env) department(t *testing.T, id string) string {
	t.Helper()
	u, err := e.Store.GetUser(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.Department
}

func wantIfMatchProblem(t *testing.T, r apiResponse, status int, what string) {
	t.Helper()
	want(t, r, status, what)
	p := r.problem(t)
	if !slices.Equal(p.fields(), []string{"If-Match"}) {
		t.Errorf("%s: problem names %v, want If-Match: %+v", what, p.fields(), p)
	}
}

func testUserETag(t *testing.T, e *env) {
	boss := e.createUser(t, "admin")
	tok := e.signIn(t, boss)
	u := e.createUser(t, "viewer")
	path := "/users/" + u.ID

	r := e.do(t, http.MethodGet, path, tok, nil)
	want(t, r, http.StatusOK, "GET user")
	read := etagOf(t, r)
	if again := etagOf(t, e.do(t, http.MethodGet, path, tok, nil)); again != read {
		t.Fatalf("ETag changed between two reads: %s, %s", read, again)
	}

	r = e.patch(t, path, tok, map[string]any{"department": "Trading"}, ifMatchHeader(read))
	want(t, r, http.StatusOK, "PATCH with the current ETag")
	next := etagOf(t, r)
	if next == read || r.str("department") != "Trading" {
		t.Fatalf("PATCH answered ETag %s (was %s), department %q", next, read, r.str("department"))
	}
	if got := etagOf(t, e.do(t, http.MethodGet, path, tok, nil)); got != next {
		t.Fatalf("GET after PATCH has ETag %s, the PATCH answered %s", got, next)
	}

	// A stale tag: 412, nothing written, nothing audited.
	before := e.lastAuditID(t)
	r = e.patch(t, path, tok, map[string]any{"department": "Sales"}, ifMatchHeader(read))
	wantIfMatchProblem(t, r, http.StatusPreconditionFailed, "PATCH with a stale ETag")
	if p := r.problem(t); !strings.Contains(p.Detail, "changed since you read it") {
		t.Errorf("detail %q", p.Detail)
	}
	if d := e.department(t, u.ID); d != "Trading" {
		t.Fatalf("department after the refused PATCH = %q", d)
	}
	if got := e.auditSince(t, before); len(got) != 0 {
		t.Fatalf("a refused PATCH was audited: %+v", got)
	}

	// If-Match compares strongly: the weak form of the current tag fails.
	r = e.patch(t, path, tok, map[string]any{"department": "Sales"}, ifMatchHeader("W/"+next))
	wantIfMatchProblem(t, r, http.StatusPreconditionFailed, "PATCH with a weak ETag")
	// A list matches if any member does, across header lines too.
	r = e.patch(t, path, tok, map[string]any{"department": "Risk"}, ifMatchHeader(read+`, "other"`, next))
	want(t, r, http.StatusOK, "PATCH with a list holding the current ETag")
	next = etagOf(t, r)
	// * asks only that the user exist; no header is unconditional.
	r = e.patch(t, path, tok, map[string]any{"department": "Ops"}, ifMatchHeader("*"))
	want(t, r, http.StatusOK, "PATCH with If-Match: *")
	r = e.patch(t, path, tok, map[string]any{"department": "Audit"}, nil)
	want(t, r, http.StatusOK, "PATCH without If-Match")
	if d := e.department(t, u.ID); d != "Audit" {
		t.Fatalf("department = %q", d)
	}
	for _, bad := range []string{"abc", `"unterminated`, `"a" "b"`, `W/`, ","} {
		r = e.patch(t, path, tok, map[string]any{"department": "X"}, ifMatchHeader(bad))
		wantIfMatchProblem(t, r, http.StatusBadRequest, "If-Match: "+bad)
	}
	r = e.patch(t, "/users/"+newUUID(t), tok, map[string]any{"department": "X"}, ifMatchHeader(read))
	want(t, r, http.StatusNotFound, "PATCH of an unknown user with a stale ETag")

	// The other answers that show one user carry its ETag: PUT roles,
	// PUT status, POST /users, and /users/me (the same as /users/{id}).
	r = e.do(t, http.MethodPut, path+"/roles", tok, map[string]any{"roles": []string{"user"}})
	want(t, r, http.StatusOK, "PUT roles")
	if got, now := etagOf(t, r), etagOf(t, e.do(t, http.MethodGet, path, tok, nil)); got != now {
		t.Errorf("PUT roles answered ETag %s, GET %s", got, now)
	}
	r = e.do(t, http.MethodPut, path+"/status", tok, map[string]any{"status": "locked"})
	want(t, r, http.StatusOK, "PUT status")
	etagOf(t, r)
	name := "e-" + randomHex(t, 4)
	r = e.do(t, http.MethodPost, "/users", tok, map[string]any{"username": name, "email": name + "@example.com"})
	want(t, r, http.StatusCreated, "POST /users")
	if got, now := etagOf(t, r), etagOf(t, e.do(t, http.MethodGet, "/users/"+r.str("id"), tok, nil)); got != now {
		t.Errorf("POST answered ETag %s, GET %s", got, now)
	}

	self := e.createUser(t, "user")
	selfTok := e.signIn(t, self)
	me := e.do(t, http.MethodGet, "/users/me", selfTok, nil)
	want(t, me, http.StatusOK, "GET /users/me")
	meTag := etagOf(t, me)
	if byID := etagOf(t, e.do(t, http.MethodGet, "/users/"+self.ID, tok, nil)); byID != meTag {
		t.Errorf("/users/me has ETag %s, /users/{id} %s", meTag, byID)
	}
	r = e.patch(t, "/users/me", selfTok, map[string]any{"full_name": "Self Edited"}, ifMatchHeader(meTag))
	want(t, r, http.StatusOK, "PATCH /users/me with its ETag")
	r = e.patch(t, "/users/me", selfTok, map[string]any{"full_name": "Stale"}, ifMatchHeader(meTag))
	wantIfMatchProblem(t, r, http.StatusPreconditionFailed, "PATCH /users/me with a stale ETag")
	if got, _ := e.Store.GetUser(ctxT(t), self.ID); got.FullName != "Self Edited" {
		t.Errorf("full name = %q", got.FullName)
	}
}

// testTwoEditors: two administrators open the same user; both save. The
// later save is refused and the first one's change stands, whether they
// save one after the other or at the same moment.
func testTwoEditors(t *testing.T, e *env) {
	first, second := e.createUser(t, "admin"), e.createUser(t, "admin")
	tok1, tok2 := e.signIn(t, first), e.signIn(t, second)
	u := e.createUser(t, "viewer")
	path := "/users/" + u.ID

	tag1 := etagOf(t, e.do(t, http.MethodGet, path, tok1, nil))
	tag2 := etagOf(t, e.do(t, http.MethodGet, path, tok2, nil))
	r := e.patch(t, path, tok1, map[string]any{"department": "First"}, ifMatchHeader(tag1))
	want(t, r, http.StatusOK, "the first save")
	r = e.patch(t, path, tok2, map[string]any{"department": "Second"}, ifMatchHeader(tag2))
	wantIfMatchProblem(t, r, http.StatusPreconditionFailed, "the later save")
	if d := e.department(t, u.ID); d != "First" {
		t.Fatalf("department = %q, want the first save's", d)
	}

	// At the same moment: exactly one wins, whichever; the other changes
	// nothing and its edit is not audited.
	for round := range 5 {
		tag := etagOf(t, e.do(t, http.MethodGet, path, tok1, nil))
		before := e.lastAuditID(t)
		values := []string{"A" + string(rune('0'+round)), "B" + string(rune('0'+round))}
		tokens := []string{tok1, tok2}
		statuses := parallel(t, 2, func(i int) apiRequest {
			return apiRequest{Method: http.MethodPatch, Path: path, Token: tokens[i],
				Body: map[string]any{"department": values[i]}, Header: ifMatchHeader(tag)}
		}, e)
		if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 1 {
			t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, statuses)
		}
		entries := e.auditSince(t, before)
		if len(entries) != 1 || entries[0].Action != "user.update" || entries[0].TargetID != u.ID {
			t.Fatalf("round %d: audit %+v, want the one winning update", round, entries)
		}
		var c map[string]store.Change
		if err := json.Unmarshal(entries[0].Changes, &c); err != nil {
			t.Fatal(err)
		}
		winner, _ := c["department"].After.(string)
		if d := e.department(t, u.ID); d != winner || !slices.Contains(values, d) {
			t.Fatalf("round %d: department %q, the audited winner %q", round, d, winner)
		}
	}
}

// testNoLostUpdate: edits of different fields at once, none conditional,
// all stand. Every user edit writes the whole record back, so each must
// read the user held until it commits.
func testNoLostUpdate(t *testing.T, e *env) {
	boss := e.createUser(t, "admin")
	tok := e.signIn(t, boss)
	for round := range 5 {
		u := e.createUser(t, "viewer")
		req, err := e.Svc.SubmitAccessRequest(ctxT(t), domain.CLIActor(), u.ID, "user", "I edit my profile")
		if err != nil {
			t.Fatal(err)
		}
		dept := "Dept " + randomHex(t, 3)
		reqs := []apiRequest{
			{Method: http.MethodPatch, Path: "/users/" + u.ID, Token: tok, Body: map[string]any{"department": dept}},
			{Method: http.MethodPut, Path: "/users/" + u.ID + "/roles", Token: tok, Body: map[string]any{"roles": []string{"viewer", "manager"}}},
			{Method: http.MethodPost, Path: "/access-requests/" + req.ID + "/approve", Token: tok, Body: map[string]any{"comment": "ok"}},
			{Method: http.MethodPut, Path: "/users/" + u.ID + "/password", Token: tok, Body: map[string]any{"password": "Another-Long-Passphrase-" + randomHex(t, 2)}},
		}
		statuses := parallel(t, len(reqs), func(i int) apiRequest { return reqs[i] }, e)
		if statuses[http.StatusOK] != 3 || statuses[http.StatusNoContent] != 1 {
			t.Fatalf("round %d: statuses %v", round, statuses)
		}
		got, err := e.Store.GetUser(ctxT(t), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Department != dept {
			t.Errorf("round %d: department %q, want %q: an edit was lost", round, got.Department, dept)
		}
		// PUT roles sets viewer and manager; the approval adds user, before
		// or after it. Either way manager must be there, and user unless
		// PUT roles came last.
		if !slices.Contains(got.Roles, "manager") {
			t.Errorf("round %d: roles %v lost PUT roles", round, got.Roles)
		}
		if got.PasswordHash == u.PasswordHash {
			t.Errorf("round %d: the password change was lost", round)
		}
	}
}

func (e *env) rp(t *testing.T) testClient {
	t.Helper()
	return e.createClient(t, "rp-"+randomHex(t, 4), func(c *store.Client) {
		c.Name = "Wiki " + c.ID
		c.RedirectURIs = []string{"https://rp.example/cb"}
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
		c.ResponseTypes = []string{"code"}
		c.Scopes = []string{"openid", "profile"}
	})
}

// grantOf stores a refresh token of a new grant of u with the client.
func (e *env) grantOf(t *testing.T, u *testUser, clientID string) store.Token {
	t.Helper()
	now := time.Now().UTC()
	tok := store.Token{Kind: store.KindRefreshToken, Signature: "sig-" + randomHex(t, 8), RequestID: "req-" + randomHex(t, 8),
		ClientID: clientID, Subject: u.ID, UserID: u.ID, GrantedScopes: []string{"openid"},
		RequestedAt: now, ExpiresAt: now.Add(time.Hour), Active: true, Request: json.RawMessage(`{}`)}
	if err := e.Store.CreateToken(ctxT(t), tok); err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) tokenActive(t *testing.T, tok store.Token) bool {
	t.Helper()
	got, err := e.Store.GetToken(ctxT(t), tok.Kind, tok.Signature)
	if err != nil {
		t.Fatal(err)
	}
	return got.Active
}

func testAllowedApps(t *testing.T, e *env) {
	u := e.createUser(t, "viewer")
	// Signing in through the console client asks for consent, which the
	// browser gives: that is the first allowed app.
	tok := e.signIn(t, u)
	wiki, other := e.rp(t), e.rp(t)
	if err := e.Svc.GrantConsent(ctxT(t), u.ID, wiki.ID, []string{"openid", "profile"}); err != nil {
		t.Fatal(err)
	}
	wikiGrant := e.grantOf(t, u, wiki.ID)
	otherGrant := e.grantOf(t, u, other.ID) // a grant, but no consent
	someoneElse := e.createUser(t, "viewer")
	if err := e.Svc.GrantConsent(ctxT(t), someoneElse.ID, wiki.ID, []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	theirs := e.grantOf(t, someoneElse, wiki.ID)

	r := e.do(t, http.MethodGet, "/users/me/consents", tok, nil)
	want(t, r, http.StatusOK, "GET /users/me/consents")
	var list admin.List[admin.AllowedAppView]
	r.decode(t, &list)
	wantIDs := []string{e.Console.ID, wiki.ID}
	slices.Sort(wantIDs)
	var ids []string
	for _, app := range list.Items {
		ids = append(ids, app.ClientID)
	}
	if !slices.Equal(ids, wantIDs) || list.NextCursor != "" {
		t.Fatalf("allowed apps %v (cursor %q), want %v", ids, list.NextCursor, wantIDs)
	}
	for _, app := range list.Items {
		switch app.ClientID {
		case e.Console.ID:
			if app.ClientName != e.Console.Name || !slices.Contains(app.Scopes, "openid") || !slices.Contains(app.Scopes, "gatehouse:api") {
				t.Errorf("console app %+v", app)
			}
		case wiki.ID:
			if app.ClientName != wiki.Name || !slices.Equal(app.Scopes, []string{"openid", "profile"}) || app.ExpiresAt != nil ||
				time.Since(app.GrantedAt) > time.Minute {
				t.Errorf("wiki app %+v", app)
			}
		}
	}
	if !strings.Contains(string(r.Raw), `"expires_at":null`) {
		t.Errorf("a consent without expiry should show expires_at null: %s", r.Raw)
	}
	r = e.do(t, http.MethodGet, "/users/me/consents?limit=1", tok, nil)
	r.decode(t, &list)
	if len(list.Items) != 1 || list.NextCursor == "" {
		t.Errorf("first page of one: %+v", list)
	}

	before := e.lastAuditID(t)
	r = e.do(t, http.MethodDelete, "/users/me/consents/"+wiki.ID, tok, nil)
	want(t, r, http.StatusNoContent, "revoke the wiki")
	if _, err := e.Store.GetConsent(ctxT(t), u.ID, wiki.ID, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the wiki's consent is still stored: %v", err)
	}
	if e.tokenActive(t, wikiGrant) {
		t.Error("the wiki's refresh token still works")
	}
	if !e.tokenActive(t, otherGrant) || !e.tokenActive(t, theirs) {
		t.Error("a grant of another app, or another user's grant of the wiki, was revoked")
	}
	if _, err := e.Store.GetConsent(ctxT(t), someoneElse.ID, wiki.ID, time.Now()); err != nil {
		t.Errorf("another user's consent went too: %v", err)
	}
	entries := e.auditSince(t, before)
	if len(entries) != 1 || entries[0].Action != "consent.revoke" || entries[0].ActorID != u.ID ||
		entries[0].TargetType != "client" || entries[0].TargetID != wiki.ID {
		t.Fatalf("audit %+v", entries)
	}
	r = e.do(t, http.MethodDelete, "/users/me/consents/"+wiki.ID, tok, nil)
	want(t, r, http.StatusNotFound, "revoke the wiki again")
	r.problem(t)
	r = e.do(t, http.MethodDelete, "/users/me/consents/no-such-client", tok, nil)
	want(t, r, http.StatusNotFound, "revoke an unknown client")

	// A grant without a consent is revoked too.
	r = e.do(t, http.MethodDelete, "/users/me/consents/"+other.ID, tok, nil)
	want(t, r, http.StatusNoContent, "revoke the app with a grant only")
	if e.tokenActive(t, otherGrant) {
		t.Error("the grant-only app's token still works")
	}

	// Revoking the console itself ends the very token that asked.
	r = e.do(t, http.MethodDelete, "/users/me/consents/"+e.Console.ID, tok, nil)
	want(t, r, http.StatusNoContent, "revoke the console")
	want(t, e.do(t, http.MethodGet, "/users/me", tok, nil), http.StatusUnauthorized, "the console's token after its revocation")

	sa := e.createServiceAccount(t, "admin")
	want(t, e.do(t, http.MethodGet, "/users/me/consents", e.clientCredentials(t, sa), nil), http.StatusForbidden, "a service account's consents")
}

func testSignOutEverywhere(t *testing.T, e *env) {
	u := e.createUser(t, "viewer")
	tok1, tok2 := e.signIn(t, u), e.signIn(t, u)
	loose := e.grantOf(t, u, e.Console.ID) // a grant of no session
	var sessions admin.List[admin.SessionView]
	e.do(t, http.MethodGet, "/users/"+u.ID+"/sessions", tok1, nil).decode(t, &sessions)
	if len(sessions.Items) != 2 {
		t.Fatalf("%d sessions before, want 2", len(sessions.Items))
	}

	before := e.lastAuditID(t)
	r := e.do(t, http.MethodPost, "/users/me/sessions/revoke-all", tok1, nil)
	want(t, r, http.StatusOK, "sign out everywhere")
	var out admin.SignedOutView
	r.decode(t, &out)
	if out != (admin.SignedOutView{SessionsEnded: 2, GrantsRevoked: 3}) {
		t.Errorf("answer %+v, want 2 sessions and 3 grants", out)
	}
	for i, tok := range []string{tok1, tok2} {
		want(t, e.do(t, http.MethodGet, "/users/me", tok, nil), http.StatusUnauthorized, "a token after signing out everywhere "+string(rune('1'+i)))
	}
	if left, err := e.Store.ListLoginSessions(ctxT(t), u.ID, time.Now()); err != nil || len(left) != 0 {
		t.Errorf("sessions left %+v, %v", left, err)
	}
	if e.tokenActive(t, loose) {
		t.Error("a grant outside any session still works")
	}
	entries := e.auditSince(t, before)
	if len(entries) != 1 || entries[0].Action != "session.revoke_all" || entries[0].ActorID != u.ID || entries[0].TargetID != u.ID {
		t.Fatalf("audit %+v", entries)
	}

	// An administrator signs someone out; the administrator's own token
	// is untouched.
	boss := e.createUser(t, "admin")
	bossTok := e.signIn(t, boss)
	mgr := e.createUser(t, "manager")
	mgrTok := e.signIn(t, mgr)
	r = e.do(t, http.MethodPost, "/users/"+mgr.ID+"/sessions/revoke-all", bossTok, nil)
	want(t, r, http.StatusOK, "admin signs the manager out")
	r.decode(t, &out)
	if out.SessionsEnded != 1 || out.GrantsRevoked != 1 {
		t.Errorf("answer %+v", out)
	}
	want(t, e.do(t, http.MethodGet, "/users/me", mgrTok, nil), http.StatusUnauthorized, "the manager's token")
	want(t, e.do(t, http.MethodGet, "/users/me", bossTok, nil), http.StatusOK, "the admin's token")

	// Without sessions:revoke, only oneself.
	mgrTok = e.signIn(t, mgr)
	r = e.do(t, http.MethodPost, "/users/"+boss.ID+"/sessions/revoke-all", mgrTok, nil)
	want(t, r, http.StatusForbidden, "a manager signs the admin out")
	r.problem(t)
	want(t, e.do(t, http.MethodGet, "/users/me", bossTok, nil), http.StatusOK, "the admin's token after the refusal")
	r = e.do(t, http.MethodPost, "/users/"+mgr.ID+"/sessions/revoke-all", mgrTok, nil)
	want(t, r, http.StatusOK, "the manager signs itself out by id")

	// With sessions:revoke, still nobody acts on someone with more power.
	// Made through the API, so that the server's role cache knows it.
	door := "doorkeeper-" + randomHex(t, 3)
	r = e.do(t, http.MethodPost, "/roles", bossTok, map[string]any{"name": door, "parent": "viewer",
		"permissions": []string{store.PermSessionsRevoke}})
	want(t, r, http.StatusCreated, "create the doorkeeper role")
	keeper := e.createUser(t, door)
	keeperTok := e.signIn(t, keeper)
	r = e.do(t, http.MethodPost, "/users/"+boss.ID+"/sessions/revoke-all", keeperTok, nil)
	want(t, r, http.StatusForbidden, "a doorkeeper signs the admin out")
	if p := r.problem(t); !strings.Contains(p.Detail, "more power") {
		t.Errorf("detail %q", p.Detail)
	}
	want(t, e.do(t, http.MethodGet, "/users/me", bossTok, nil), http.StatusOK, "the admin's token after the refusal")
	viewer := e.createUser(t, "viewer")
	viewerTok := e.signIn(t, viewer)
	want(t, e.do(t, http.MethodPost, "/users/"+viewer.ID+"/sessions/revoke-all", keeperTok, nil), http.StatusOK, "a doorkeeper signs a viewer out")
	want(t, e.do(t, http.MethodGet, "/users/me", viewerTok, nil), http.StatusUnauthorized, "the viewer's token")

	want(t, e.do(t, http.MethodPost, "/users/"+newUUID(t)+"/sessions/revoke-all", bossTok, nil), http.StatusNotFound, "an unknown user")
	sa := e.createServiceAccount(t, "admin")
	want(t, e.do(t, http.MethodPost, "/users/me/sessions/revoke-all", e.clientCredentials(t, sa), nil), http.StatusForbidden, "a service account signs itself out")
}

// testActiveUserRequest: the request-access flow is for active users too,
// asking for a role they do not hold; approval adds it to theirs.
func testActiveUserRequest(t *testing.T, e *env) {
	u := e.createUser(t, "user")
	tok := e.signIn(t, u)
	r := e.do(t, http.MethodPost, "/access-requests", tok, map[string]any{"role": "viewer", "purpose": "dashboards"})
	want(t, r, http.StatusUnprocessableEntity, "asking for a role held through the hierarchy")
	if p := r.problem(t); !slices.Equal(p.fields(), []string{"role"}) {
		t.Errorf("problem names %v", p.fields())
	}
	r = e.do(t, http.MethodPost, "/access-requests", tok, map[string]any{"role": "manager", "purpose": "I lead the desk now"})
	want(t, r, http.StatusCreated, "an active user asks for manager")
	id := r.str("id")
	if r.str("status") != "pending" || r.str("requested_role") != "manager" || r.str("user_id") != u.ID {
		t.Fatalf("request %s", r.Raw)
	}
	stored, err := e.Store.GetAccessRequest(ctxT(t), id)
	if err != nil || stored.Status != store.RequestPending || stored.UserID != u.ID {
		t.Fatalf("stored request %+v, %v", stored, err)
	}
	// Still active, with the same roles, while the request waits.
	want(t, e.do(t, http.MethodGet, "/users/me", tok, nil), http.StatusOK, "GET /users/me while the request waits")
	r = e.do(t, http.MethodPost, "/access-requests", tok, map[string]any{"role": "manager", "purpose": "again"})
	want(t, r, http.StatusConflict, "a second pending request")

	boss := e.createUser(t, "admin")
	r = e.do(t, http.MethodPost, "/access-requests/"+id+"/approve", e.signIn(t, boss), map[string]any{"comment": "congratulations"})
	want(t, r, http.StatusOK, "approve")
	got, err := e.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusActive || !slices.Equal(got.Roles, []string{"manager", "user"}) {
		t.Fatalf("user after approval: status %s roles %v", got.Status, got.Roles)
	}
	r = e.do(t, http.MethodGet, "/users/me", tok, nil)
	var v admin.UserView
	r.decode(t, &v)
	if !slices.Contains(v.EffectiveRoles, "manager") {
		t.Errorf("effective roles %v", v.EffectiveRoles)
	}
	// The new role counts at once: the same token now reads the directory.
	want(t, e.do(t, http.MethodGet, "/users?limit=1", tok, nil), http.StatusOK, "GET /users as the new manager")
}

func testStats(t *testing.T, e *env) {
	ctx := ctxT(t)
	mgr := e.createUser(t, "manager")
	tok := e.signIn(t, mgr)
	// A few more of each status, and a pending request.
	e.createUserWith(t, store.StatusLocked, "viewer")
	e.createUserWith(t, store.StatusDisabled)
	waiting := e.createUserWith(t, store.StatusPending)
	if _, err := e.Svc.SubmitAccessRequest(ctx, domain.CLIActor(), waiting.ID, "viewer", "please"); err != nil {
		t.Fatal(err)
	}
	lapsed := e.createUser(t, "viewer")
	lapsed.ExpiresAt = ptrTime(time.Now().Add(-time.Minute))
	if err := e.Store.UpdateUser(ctx, lapsed.User); err != nil {
		t.Fatal(err)
	}
	// Sign-ins: an old one inside the window, one just outside it.
	now := time.Now().UTC()
	for _, at := range []time.Time{now.AddDate(0, 0, -3), now.AddDate(0, 0, -15)} {
		if _, err := e.Store.AppendAudit(ctx, store.AuditEntry{At: at, ActorType: store.ActorUser, Action: "login.success"}); err != nil {
			t.Fatal(err)
		}
	}

	// What the stores hold, to compare with.
	counts, err := e.Store.CountUsersByStatus(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pending, err := e.Store.CountAccessRequests(ctx, store.RequestPending)
	if err != nil {
		t.Fatal(err)
	}
	signIns, err := e.Store.ListAudit(ctx, store.AuditFilter{Action: "login.success", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}

	r := e.do(t, http.MethodGet, "/stats", tok, nil)
	want(t, r, http.StatusOK, "GET /stats")
	var st admin.StatsView
	r.decode(t, &st)
	wantUsers := admin.UserCountsView{Active: counts[store.StatusActive], Pending: counts[store.StatusPending],
		Locked: counts[store.StatusLocked], Disabled: counts[store.StatusDisabled], Expired: counts[store.StatusExpired]}
	wantUsers.Total = wantUsers.Active + wantUsers.Pending + wantUsers.Locked + wantUsers.Disabled + wantUsers.Expired
	if st.Users != wantUsers || st.Users.Locked < 1 || st.Users.Disabled < 1 || st.Users.Expired < 1 || st.Users.Pending < 1 {
		t.Errorf("users %+v, the store counts %+v", st.Users, wantUsers)
	}
	if st.PendingAccessRequests != pending || pending < 1 {
		t.Errorf("pending requests %d, the store %d", st.PendingAccessRequests, pending)
	}
	if time.Since(st.At) > time.Minute {
		t.Errorf("at %v", st.At)
	}
	if len(st.SignInsPerDay) != domain.SignInDays {
		t.Fatalf("%d days, want %d", len(st.SignInsPerDay), domain.SignInDays)
	}
	today := st.At.UTC().Format(time.DateOnly)
	if last := st.SignInsPerDay[len(st.SignInsPerDay)-1].Date; last != today {
		t.Errorf("the last day is %s, want today %s", last, today)
	}
	first, _ := time.Parse(time.DateOnly, st.SignInsPerDay[0].Date)
	wantTotal, total := 0, 0
	for _, a := range signIns {
		if !a.At.Before(first) {
			wantTotal++
		}
	}
	for i, d := range st.SignInsPerDay {
		if wantDate := first.AddDate(0, 0, i).Format(time.DateOnly); d.Date != wantDate {
			t.Errorf("day %d is %s, want %s", i, d.Date, wantDate)
		}
		total += d.Count
	}
	// Every sign-in of this run is in the window, and the one of 15 days
	// ago is not.
	if total != wantTotal || total != len(signIns)-1 {
		t.Errorf("%d sign-ins in the window, want %d (of %d in the log)", total, wantTotal, len(signIns))
	}
	threeDaysAgo := now.AddDate(0, 0, -3).Format(time.DateOnly)
	for _, d := range st.SignInsPerDay {
		if d.Date == threeDaysAgo && d.Count != 1 {
			t.Errorf("sign-ins on %s = %d, want 1", d.Date, d.Count)
		}
	}

	viewer := e.createUser(t, "viewer")
	r = e.do(t, http.MethodGet, "/stats", e.signIn(t, viewer), nil)
	want(t, r, http.StatusForbidden, "a viewer's stats")
	r.problem(t)
}

func ptrTime(t time.Time) *time.Time { return &t }
