package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

// TestAppAccessRule: a client restricted to a role answers access_denied
// (with the state) to a user without it under prompt=none, lets a user
// with it through, and refuses that user's refresh once the role is taken
// away.
func TestAppAccessRule(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Access = store.ClientAccess{Roles: []string{"manager"}}
	})
	rp := ts.newRP(t, client, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)

	// Signed in elsewhere, the outsider asks silently: no page may be
	// shown, so the client hears access_denied at once.
	outsider := ts.createUser(t, "user")
	other := ts.newRP(t, ts.createConfidentialClient(t, nil), oidc.ScopeOpenID)
	_, _, browser := other.signIn(t, outsider)
	ar := rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("prompt", "none"))
	res := rp.authorize(t, browser, ar, nil)
	if got := res.Query.Get("error"); got != "access_denied" || res.Query.Get("code") != "" {
		t.Fatalf("outsider: error=%q code=%q, want access_denied and no code", got, res.Query.Get("code"))
	}

	// admin inherits manager: admitted through the hierarchy.
	insider := ts.createUser(t, "admin")
	tok, _, _ := rp.signIn(t, insider)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	insider.Roles = []string{"user"}
	if err := ts.Store.UpdateUser(ctxT(t), insider.User); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, ts.refresh(t, tok.RefreshToken, authOf(client)), http.StatusBadRequest, "invalid_grant")
}

// TestAppAccessRequestJourney: a user the rule refuses sees a 403 page
// that says it has no access to the application and offers a request for
// it; the request is stored with the client's id and audited; the page
// then says it is waiting instead of offering a second one; "Return"
// gives the relying party access_denied with its state; and once a
// reviewer approves (the suggested role, the rule's), the same user signs
// in and the relying party gets tokens.
func TestAppAccessRequestJourney(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Name = "Trading Desk"
		c.Access = store.ClientAccess{Roles: []string{"manager"}}
	})
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "roles")
	u := ts.createUser(t, "user")
	browser := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)

	// 1. Sign-in ends on the no-access page, not at the client.
	first := readPage(t, get(t, browser, ar.URL))
	resp := login(t, browser, first.URL.String(), u.Username, u.Password)
	if isRedirect(resp.StatusCode) {
		t.Fatalf("a refused user's sign-in left the server: %d to %s", resp.StatusCode, location(t, resp).Redacted())
	}
	pg := readPage(t, resp)
	if pg.Status != http.StatusForbidden || !strings.Contains(pg.Body, "<h1>You have no access to Trading Desk</h1>") {
		t.Fatalf("after sign-in: status %d at %s, want 403 and the heading\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	reqForm := pg.FormWithButton("action", "request")
	if reqForm == nil || reqForm.Action.Path != "/oauth2/auth/noaccess" || reqForm.Method != http.MethodPost {
		t.Fatalf("no request form on the page\n%s", snippet(pg.Body))
	}
	for _, name := range []string{"csrf_token", "request", "binding"} {
		if reqForm.Fields.Get(name) == "" {
			t.Fatalf("request form lacks %s (has %v)", name, reqForm.Types)
		}
	}
	// (The form driver reads inputs, not textareas: the page is read.)
	if !strings.Contains(pg.Body, `<label for="purpose">Purpose</label>`) || !strings.Contains(pg.Body, `<textarea id="purpose" name="purpose"`) {
		t.Fatalf("request form lacks a labelled purpose field\n%s", snippet(pg.Body))
	}
	if bound, _ := url.ParseQuery(reqForm.Fields.Get("request")); bound.Get("state") != ar.State || bound.Get("client_id") != client.ID {
		t.Fatalf("the form carries %q, not the authorization request", reqForm.Fields.Get("request"))
	}
	// A form whose binding was tampered with is refused.
	bad := readPage(t, submit(t, browser, reqForm, url.Values{"action": {"request"}, "purpose": {"x"}, "binding": {"forged"}}))
	if bad.Status != http.StatusBadRequest {
		t.Fatalf("forged binding: status %d, want 400", bad.Status)
	}
	// And so is one without its CSRF token.
	if noCSRF := readPage(t, submit(t, browser, reqForm, url.Values{"action": {"request"}, "purpose": {"x"}, "csrf_token": {""}})); noCSRF.Status != http.StatusForbidden {
		t.Fatalf("no CSRF token: status %d, want 403", noCSRF.Status)
	}

	// A request without a purpose is refused at its field (the domain's
	// rule, as for every access request), and nothing is stored.
	empty := readPage(t, submit(t, browser, reqForm, url.Values{"action": {"request"}, "purpose": {"  "}}))
	if empty.Status != http.StatusUnprocessableEntity || !strings.Contains(empty.Body, `id="purpose-error"`) || !strings.Contains(empty.Body, "Purpose is required.") {
		t.Fatalf("empty purpose: status %d\n%s", empty.Status, snippet(empty.Body))
	}

	// 2. The request is made, stored with the client and audited; the
	// page now says it waits.
	waiting := readPage(t, submit(t, browser, reqForm, url.Values{"action": {"request"}, "purpose": {"I run the desk's books."}}))
	if waiting.Status != http.StatusForbidden || !strings.Contains(waiting.Body, "Your request for access to Trading Desk is waiting") {
		t.Fatalf("after asking: status %d at %s\n%s", waiting.Status, waiting.URL, snippet(waiting.Body))
	}
	if waiting.FormWithButton("action", "request") != nil {
		t.Fatal("the page offers a second request while one is pending")
	}
	reqs, err := ts.Store.ListAccessRequests(ctxT(t), store.AccessRequestFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].ClientID != client.ID || reqs[0].RequestedRole != "manager" || reqs[0].Status != store.RequestPending {
		t.Fatalf("stored requests: %+v", reqs)
	}
	es, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{Action: "access_request.create", ActorID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].TargetID != reqs[0].ID || !strings.Contains(string(es[0].Changes), client.ID) {
		t.Fatalf("audit entries: %+v", es)
	}

	// 3. "Return" hands the relying party access_denied with its state.
	back := waiting.FormWithButton("action", "return")
	if back == nil || !strings.Contains(waiting.Body, ">Return to Trading Desk</button>") {
		t.Fatalf("no Return form\n%s", snippet(waiting.Body))
	}
	ret := submit(t, browser, back, url.Values{"action": {"return"}})
	if !isRedirect(ret.StatusCode) {
		t.Fatalf("return: status %d, want a redirect", ret.StatusCode)
	}
	loc := location(t, ret)
	closeBody(ret)
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), client.RedirectURIs[0]) || q.Get("error") != "access_denied" || q.Get("state") != ar.State || q.Get("code") != "" {
		t.Fatalf("return redirected to %s, want the redirect URI with access_denied and the state", loc.Redacted())
	}
	if d := q.Get("error_description"); !strings.Contains(d, "no access to this application") {
		t.Fatalf("error_description = %q", d)
	}

	// 4. The API shows the request's client; an admin approves it with the
	// role it asked (the rule's).
	admin := ts.createUser(t, "admin")
	apiToken := apiTokenFor(t, ts, admin)
	view := apiCall(t, ts, http.MethodGet, "/api/v1/access-requests/"+reqs[0].ID, apiToken, nil)
	if view.Status != http.StatusOK || view.str("client_id") != client.ID || view.str("requested_role") != "manager" {
		t.Fatalf("request view: %d %s", view.Status, view.Raw)
	}
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/access-requests/"+reqs[0].ID+"/approve", apiToken, map[string]string{"comment": "ok"}); r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}

	// 5. The same user, same browser, now gets tokens.
	ar2 := rp.newAuthRequest(t, false)
	code, _ := rp.code(t, browser, ar2, &u)
	tok := rp.exchange(t, code, ar2)
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := rp.verifyIDToken(t, tok, ar2.Nonce).Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(claims.Roles, "manager") {
		t.Fatalf("roles claim %v lacks the granted manager", claims.Roles)
	}
}
