package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/notify/smtptest"
	"github.com/gatehouse/gatehouse/store"
)

// waitingSentence is what the waiting page tells a user whose request for
// the role "user" is pending.
const waitingSentence = "Your request for user is waiting for a manager's decision. You will get an email when it is decided."

// TestAccessRequestJourney is the way in for a person without access: a
// pending user signs in through a relying party and is asked what access it
// needs instead of being sent back with a code; it asks; a manager approves
// through the resource API; an email says so; and the next sign-in gives
// the relying party an ID token with the granted role (and the roles the
// user has through its groups).
func TestAccessRequestJourney(t *testing.T) {
	t.Parallel()
	smtp := smtptest.Start(t, smtptest.Options{})
	ts := startServer(t, func(c *config.Config) {
		c.SMTP.Host, c.SMTP.Port = smtp.Host, smtp.Port
		c.SMTP.From = "gatehouse <no-reply@gatehouse.test>"
	})
	iam := storeIAM(t, ts)

	// A persona role the user holds through a group, not directly.
	desk := "desk-" + randomHex(t, 4)
	if err := ts.Store.CreateRole(ctxT(t), store.Role{Name: desk, Description: "Desk analysts", Parent: "viewer"}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	group := store.Group{ID: uuid.NewString(), Name: "group-" + randomHex(t, 4), Roles: []string{desk}}
	if err := iam.CreateGroup(ctxT(t), group); err != nil {
		t.Fatalf("create group: %v", err)
	}
	pending := ts.createUserWith(t, func(u *store.User) { u.Status = store.StatusPending })
	if err := iam.AddGroupMember(ctxT(t), group.ID, pending.ID); err != nil {
		t.Fatalf("add group member: %v", err)
	}

	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "profile", "email", "roles")
	browser := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)

	// 1. Signing in leads to the request-access page, not to the client.
	first := readPage(t, get(t, browser, ar.URL))
	resp := login(t, browser, first.URL.String(), pending.Username, pending.Password)
	if isRedirect(resp.StatusCode) {
		t.Fatalf("a pending user's sign-in left the server: %d to %s", resp.StatusCode, location(t, resp).Redacted())
	}
	form := readPage(t, resp)
	if form.Status != http.StatusOK || form.URL.Path != "/access/request" {
		t.Fatalf("after sign-in: status %d at %s, want the request-access page\n%s", form.Status, form.URL.Path, snippet(form.Body))
	}
	f := form.Form("csrf_token")
	if f == nil || f.Action.Path != "/access/request" || f.Method != http.MethodPost {
		t.Fatalf("no request-access form on the page\n%s", snippet(form.Body))
	}
	for _, want := range []string{`<select id="role" name="role"`, `<option value="user">`, `<textarea id="purpose" name="purpose"`} {
		if !strings.Contains(form.Body, want) {
			t.Errorf("request-access page lacks %s", want)
		}
	}
	if strings.Contains(form.Body, `<option value="admin"`) {
		t.Error("admin is offered")
	}
	back, err := url.Parse(f.Fields.Get("return_to"))
	if err != nil || back.Path != "/oauth2/auth" || back.Query().Get("state") != ar.State || back.Query().Get("client_id") != client.ID {
		t.Fatalf("return_to %q is not the authorization request", f.Fields.Get("return_to"))
	}

	// 2. Asking for access leads to the waiting page.
	waiting := readPage(t, submit(t, browser, f, url.Values{"role": {"user"}, "purpose": {"I analyse the desk's positions."}}))
	if waiting.Status != http.StatusOK || waiting.URL.Path != "/access/pending" || !strings.Contains(waiting.Body, waitingSentence) {
		t.Fatalf("after asking: status %d at %s\n%s", waiting.Status, waiting.URL.Path, snippet(waiting.Body))
	}
	requests, err := iam.ListAccessRequests(ctxT(t), store.AccessRequestFilter{UserID: pending.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(requests) != 1 || requests[0].Status != store.RequestPending || requests[0].RequestedRole != "user" {
		t.Fatalf("stored requests: %+v", requests)
	}
	reqID := requests[0].ID

	// While it waits, the client gets no code, only the waiting page again.
	again := readPage(t, get(t, browser, rp.newAuthRequest(t, false).URL))
	if again.URL.Path != "/access/request" || !strings.Contains(again.Body, waitingSentence) {
		t.Fatalf("authorizing while waiting: status %d at %s\n%s", again.Status, again.URL.Path, snippet(again.Body))
	}

	// 3. A manager approves through the resource API.
	manager := ts.createUser(t, "manager")
	apiToken := apiTokenFor(t, ts, manager)
	approve := apiCall(t, ts, http.MethodPost, "/api/v1/access-requests/"+reqID+"/approve", apiToken, map[string]string{"comment": "Welcome to the desk"})
	if approve.Status != http.StatusOK {
		t.Fatalf("approve: status %d\n%s", approve.Status, approve.Raw)
	}
	decided, err := iam.GetAccessRequest(ctxT(t), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if decided.Status != store.RequestApproved || decided.GrantedRole != "user" || decided.DecidedBy != "user:"+manager.ID {
		t.Errorf("decided request: %+v", decided)
	}
	u, err := ts.Store.GetUser(ctxT(t), pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Status != store.StatusActive || !slices.Equal(u.Roles, []string{"user"}) {
		t.Errorf("approved user: status %s roles %v, want active [user]", u.Status, u.Roles)
	}
	// Decisions are final.
	if deny := apiCall(t, ts, http.MethodPost, "/api/v1/access-requests/"+reqID+"/deny", apiToken, map[string]string{"comment": "changed my mind"}); deny.Status != http.StatusConflict {
		t.Errorf("second decision: status %d, want 409\n%s", deny.Status, deny.Raw)
	}

	// 4. The email arrives.
	msgs := smtp.WaitMessages(t, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1", len(msgs))
	}
	if !slices.Equal(msgs[0].To, []string{pending.Email}) {
		t.Errorf("email to %v, want %s", msgs[0].To, pending.Email)
	}
	subject, body := readEmail(t, msgs[0])
	if subject != "Your access request was approved" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{"Your access request was approved (role: user).", "Welcome to the desk", ts.URL} {
		if !strings.Contains(body, want) {
			t.Errorf("email body lacks %q:\n%s", want, body)
		}
	}

	// 5. The waiting page now lets the user continue, and continuing
	// finishes the original authorization request in the same browser.
	done := readPage(t, get(t, browser, ts.endpoint("/access/pending?return_to="+url.QueryEscape(f.Fields.Get("return_to")))))
	if !strings.Contains(done.Body, "Your access request was approved.") || !strings.Contains(done.Body, ">Continue</a>") {
		t.Fatalf("waiting page after approval:\n%s", snippet(done.Body))
	}
	res := rp.authorize(t, browser, authRequest{State: ar.State, Nonce: ar.Nonce, Verifier: ar.Verifier, URL: ts.endpoint(f.Fields.Get("return_to"))}, nil)
	code := res.Query.Get("code")
	if code == "" {
		t.Fatalf("no code after approval: %v", res.Query)
	}
	rp.ts.secret(code)
	checkRoles(t, rp.verifyIDToken(t, rp.exchange(t, code, ar), ar.Nonce), desk)

	// A fresh sign-in in another browser gives the same.
	_, idt, _ := rp.signIn(t, pending)
	checkRoles(t, idt, desk)

	// The audit log has the story, with the right actors.
	for action, actor := range map[string]string{"access_request.create": pending.ID, "access_request.approve": manager.ID, "login.success": pending.ID} {
		es, err := iam.ListAudit(ctxT(t), store.AuditFilter{Action: action, ActorID: actor})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			t.Errorf("no %s entry by %s", action, actor)
		}
	}
}

// TestDisabledUserCannotSignIn: a soft-deleted user keeps its row, but its
// browser session stops counting and it cannot sign in again.
func TestDisabledUserCannotSignIn(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	_, _, browser := rp.signIn(t, user)

	admin := ts.createUser(t, "admin")
	del := apiCall(t, ts, http.MethodDelete, "/api/v1/users/"+user.ID, apiTokenFor(t, ts, admin), nil)
	if del.Status != http.StatusNoContent {
		t.Fatalf("soft delete: status %d\n%s", del.Status, del.Raw)
	}
	u, err := ts.Store.GetUser(ctxT(t), user.ID)
	if err != nil {
		t.Fatalf("the soft-deleted user's row is gone: %v", err)
	}
	if u.Status != store.StatusDisabled {
		t.Errorf("status %s, want disabled", u.Status)
	}

	// The signed-in browser is sent to the login page...
	pg := readPage(t, get(t, browser, rp.newAuthRequest(t, false).URL))
	if pg.Form("password") == nil {
		t.Fatalf("a disabled user's session still counts: status %d at %s", pg.Status, pg.URL.Path)
	}
	// ...and the right password does not get it further, in this browser or
	// a new one.
	for name, b := range map[string]*http.Client{"same browser": browser, "new browser": ts.newBrowser(t)} {
		start := readPage(t, get(t, b, rp.newAuthRequest(t, false).URL))
		resp := login(t, b, start.URL.String(), user.Username, user.Password)
		if isRedirect(resp.StatusCode) {
			t.Fatalf("%s: a disabled user's sign-in left the server to %s", name, location(t, resp).Redacted())
		}
		failed := readPage(t, resp)
		if failed.Status != http.StatusUnauthorized || !strings.Contains(failed.Body, "Invalid username or password.") {
			t.Errorf("%s: status %d, want 401 with the generic message", name, failed.Status)
		}
	}
	sessions, err := ts.Store.ListLoginSessions(ctxT(t), user.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("%d login sessions left for a disabled user", len(sessions))
	}
}

// storeIAM is the identity-and-access half of the server's store.
func storeIAM(t *testing.T, ts *testServer) store.IAM {
	t.Helper()
	return ts.Store
}

// apiTokenFor signs u in through a first-party client allowed the scope
// gatehouse:api and returns the access token.
func apiTokenFor(t *testing.T, ts *testServer, u testUser) string {
	t.Helper()
	c := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Scopes = []string{"openid", "gatehouse:api"}
		c.FirstParty = true
	})
	tok, _, _ := ts.newRP(t, c, oidc.ScopeOpenID, "gatehouse:api").signIn(t, u)
	return tok.AccessToken
}

// apiCall calls the resource API with a bearer token and a JSON body (nil
// for none).
func apiCall(t *testing.T, ts *testServer, method, path, token string, body any) oauthResponse {
	t.Helper()
	return apiCallWith(t, ts, httpClient(), method, path, token, body)
}

// apiCallWith is apiCall through client (one bound to an address, say).
func apiCallWith(t *testing.T, ts *testServer, client *http.Client, method, path, token string, body any) oauthResponse {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, ts.endpoint(path), r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return doJSON(t, client, req)
}

// readEmail returns the decoded subject and plain-text body of a message.
func readEmail(t *testing.T, m smtptest.Message) (string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("read email: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("email body: %v", err)
	}
	return subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

// checkRoles fails unless the ID token's roles claim holds the granted role
// "user" with its ancestor, the group's role, and nothing above "user".
func checkRoles(t *testing.T, idt *oidc.IDToken, groupRole string) {
	t.Helper()
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	for _, want := range []string{"user", "viewer", groupRole} {
		if !slices.Contains(claims.Roles, want) {
			t.Errorf("roles claim %v lacks %q", claims.Roles, want)
		}
	}
	for _, not := range []string{"admin", "manager"} {
		if slices.Contains(claims.Roles, not) {
			t.Errorf("roles claim %v has %q", claims.Roles, not)
		}
	}
}
