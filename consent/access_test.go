package consent_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

const authorizeURL = "/oauth2/auth?client_id=web&state=xyz"

// accessRequestLocation is where a pending user is sent after signing in
// on its way to authorizeURL.
var accessRequestLocation = "/access/request?return_to=" + url.QueryEscape(authorizeURL)

const waitingText = "Your request for user is waiting for a manager's decision."

func (e *env) iam() store.IAM {
	e.t.Helper()
	return e.store
}

// requests returns the user's access requests, newest first.
func (e *env) requests(userID string) []store.AccessRequest {
	e.t.Helper()
	rs, err := e.iam().ListAccessRequests(context.Background(), store.AccessRequestFilter{UserID: userID})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// audit returns the audit entries of an action, newest first.
func (e *env) audit(action string) []store.AuditEntry {
	e.t.Helper()
	es, err := e.iam().ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

// manager returns the principal of a new active manager.
func (e *env) manager() domain.Principal {
	e.t.Helper()
	m := e.createUser("mary", "mary@example.com", store.StatusActive)
	m.Roles = []string{"manager"}
	if err := e.store.UpdateUser(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.UserPrincipal(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// signInPending signs a pending user in on its way to authorizeURL and
// returns the browser, checking it was sent to the request-access page.
func (e *env) signInPending(username string) *http.Client {
	e.t.Helper()
	c := e.browser()
	resp, body := e.login(c, username, testPassword, authorizeURL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != accessRequestLocation {
		e.t.Fatalf("pending sign-in: status %d Location %q, want 303 to %s\n%s", resp.StatusCode, resp.Header.Get("Location"), accessRequestLocation, body)
	}
	if e.sessionCookie(c) == nil {
		e.t.Fatal("pending sign-in set no session cookie")
	}
	return c
}

var (
	optionRE = regexp.MustCompile(`<option value="([^"]*)"( selected)?>([^<]*)</option>`)
)

// roleOptions returns the role <option>s of a page: value -> text.
func roleOptions(body string) map[string]string {
	out := map[string]string{}
	for _, m := range optionRE.FindAllStringSubmatch(body, -1) {
		if m[1] != "" {
			out[html.UnescapeString(m[1])] = html.UnescapeString(m[3])
		}
	}
	return out
}

// fieldError returns the message shown next to a field, "" if none.
func fieldError(body, field string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + field + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// The journey of a pending user: sign in, the request form, submit, the
// waiting page (again on a second visit), then, once approved, a way on.
func TestPendingUserRequestsAccess(t *testing.T) {
	e := newEnv(t, false)
	pete := e.createUser("pete", "pete@example.com", store.StatusPending)
	c := e.signInPending("pete")

	if s := e.currentSession(e.sessionCookie(c).Value); s == nil || s.User.Status != store.StatusPending {
		t.Fatalf("CurrentSession of a pending user = %+v, want its session", s)
	}

	resp, body := e.get(c, accessRequestLocation)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("request form: status %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{`<form method="post" action="/access/request">`, `<label for="role">`, `<select id="role" name="role"`,
		`<label for="purpose">`, `<textarea id="purpose" name="purpose"`, `href="/logout"`} {
		if !strings.Contains(body, want) {
			t.Errorf("request form lacks %q", want)
		}
	}
	opts := roleOptions(body)
	if _, ok := opts["admin"]; ok {
		t.Error("admin is offered")
	}
	for _, r := range store.BuiltInRoles() {
		if r.Name == "admin" {
			continue
		}
		if got := opts[r.Name]; !strings.Contains(got, r.Description) {
			t.Errorf("option %s = %q, want its description %q", r.Name, got, r.Description)
		}
	}
	if got := hiddenFields(body)["return_to"]; len(got) != 1 || got[0] != authorizeURL {
		t.Errorf("return_to = %q, want %q", got, authorizeURL)
	}

	resp, _ = e.post(c, "/access/request", url.Values{
		"csrf_token": {csrfFrom(t, body)}, "return_to": {authorizeURL},
		"role": {"user"}, "purpose": {"  I trade on the desk.  "},
	})
	wantPending := "/access/pending?return_to=" + url.QueryEscape(authorizeURL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != wantPending {
		t.Fatalf("submit: status %d Location %q, want 303 to %s", resp.StatusCode, resp.Header.Get("Location"), wantPending)
	}
	rs := e.requests(pete.ID)
	if len(rs) != 1 || rs[0].Status != store.RequestPending || rs[0].RequestedRole != "user" || rs[0].Purpose != "I trade on the desk." {
		t.Fatalf("stored requests = %+v", rs)
	}
	created := e.audit("access_request.create")
	if len(created) != 1 || created[0].ActorType != store.ActorUser || created[0].ActorID != pete.ID || created[0].TargetID != rs[0].ID {
		t.Errorf("audit = %+v", created)
	}

	resp, body = e.get(c, wantPending)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, waitingText) || !strings.Contains(body, `href="/logout"`) {
		t.Fatalf("waiting page: status %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "Continue") {
		t.Error("the waiting page offers to continue")
	}

	// A second visit to the form shows the waiting page, not a new form.
	resp, body = e.get(c, accessRequestLocation)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, waitingText) || strings.Contains(body, "<textarea") {
		t.Errorf("second visit: status %d\n%s", resp.StatusCode, body)
	}
	// A replayed form (double click) changes nothing.
	resp, _ = e.post(c, "/access/request", url.Values{
		"csrf_token": {csrfFrom(t, mustGetLogin(e, c))}, "return_to": {authorizeURL}, "role": {"viewer"}, "purpose": {"again"},
	})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != wantPending {
		t.Errorf("second submit: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := len(e.requests(pete.ID)); n != 1 {
		t.Errorf("%d requests after a second submit, want 1", n)
	}

	// Approved: the waiting page lets the user go on to where it was going.
	if _, err := e.svc.ApproveAccessRequest(context.Background(), e.manager(), rs[0].ID, "", "welcome"); err != nil {
		t.Fatalf("approve: %v", err)
	}
	resp, body = e.get(c, wantPending)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your access request was approved.") {
		t.Fatalf("after approval: status %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `href="`+html.EscapeString(authorizeURL)+`">Continue</a>`) {
		t.Errorf("no continue link to %s:\n%s", authorizeURL, body)
	}
	resp, _ = e.get(c, accessRequestLocation)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != wantPending {
		t.Errorf("request form for an active user: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// mustGetLogin fetches a page with a CSRF token for the browser (the token
// is per browser, not per form).
func mustGetLogin(e *env, c *http.Client) string {
	e.t.Helper()
	_, body := e.get(c, "/login")
	return body
}

func TestAccessRequestValidation(t *testing.T) {
	for _, tc := range []struct {
		name, role, purpose string
		field               string // the field the error must be next to
	}{
		{"no purpose", "user", "", "purpose"},
		{"blank purpose", "user", "   \t ", "purpose"},
		{"purpose too long", "user", strings.Repeat("x", 1001), "purpose"},
		{"no role", "", "reason", "role"},
		{"admin", "admin", "reason", "role"},
		{"unknown role", "wizard", "reason", "role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			pete := e.createUser("pete", "pete@example.com", store.StatusPending)
			c := e.signInPending("pete")
			_, body := e.get(c, accessRequestLocation)
			resp, body := e.post(c, "/access/request", url.Values{
				"csrf_token": {csrfFrom(t, body)}, "return_to": {authorizeURL}, "role": {tc.role}, "purpose": {tc.purpose},
			})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422\n%s", resp.StatusCode, body)
			}
			msg := fieldError(body, tc.field)
			if msg == "" {
				t.Fatalf("no error next to %s:\n%s", tc.field, body)
			}
			if !strings.Contains(body, `aria-describedby="`+tc.field+`-error"`) {
				t.Errorf("the %s field does not point at its error", tc.field)
			}
			for _, other := range []string{"role", "purpose"} {
				if other != tc.field && fieldError(body, other) != "" {
					t.Errorf("unexpected error next to %s: %q", other, fieldError(body, other))
				}
			}
			if n := len(e.requests(pete.ID)); n != 0 {
				t.Errorf("%d requests stored", n)
			}
			// The form comes back with what was typed and chosen.
			if tc.purpose != "" && strings.TrimSpace(tc.purpose) != "" && !strings.Contains(body, html.EscapeString(strings.TrimSpace(tc.purpose))+"</textarea>") {
				t.Error("purpose not kept")
			}
			if tc.role == "user" && !strings.Contains(body, `<option value="user" selected>`) {
				t.Error("chosen role not kept")
			}
			csrfFrom(t, body)
		})
	}
}

func TestAccessRequestCSRF(t *testing.T) {
	e := newEnv(t, false)
	pete := e.createUser("pete", "pete@example.com", store.StatusPending)
	c := e.signInPending("pete")
	resp, body := e.post(c, "/access/request", url.Values{"role": {"user"}, "purpose": {"reason"}, "return_to": {authorizeURL}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your session expired, please try again") {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	if n := len(e.requests(pete.ID)); n != 0 {
		t.Errorf("%d requests stored without a CSRF token", n)
	}
}

// The access pages are for signed-in pending users; everyone else is sent
// where they belong.
func TestAccessPagesNeedAPendingSession(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	lena := e.createUser("lena", "lena@example.com", store.StatusPending)

	for _, path := range []string{accessRequestLocation, "/access/pending?return_to=" + url.QueryEscape(authorizeURL)} {
		resp, _ := e.get(e.browser(), path)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?return_to=") {
			t.Errorf("%s without a session: status %d Location %q, want the login page", path, resp.StatusCode, loc)
			continue
		}
		u, _ := url.Parse(loc)
		if back := u.Query().Get("return_to"); back != path {
			t.Errorf("%s: login return_to = %q, want the page itself", path, back)
		}
	}

	alice, _ := e.signIn(store.User{Username: "alice"})
	resp, _ := e.get(alice, accessRequestLocation)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/access/pending?") {
		t.Errorf("active user on the form: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := e.get(alice, "/access/pending")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/">Continue</a>`) {
		t.Errorf("active user on the waiting page: status %d\n%s", resp.StatusCode, body)
	}

	// A pending user who has not asked yet is sent to the form.
	c := e.signInPending("lena")
	resp, _ = e.get(c, "/access/pending?return_to="+url.QueryEscape(authorizeURL))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != accessRequestLocation {
		t.Errorf("waiting page before asking: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A locked pending user's session no longer counts.
	setStatus(e, lena, store.StatusLocked)
	resp, _ = e.get(c, accessRequestLocation)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
		t.Errorf("locked user: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// After a denial the form says so, with the reviewer's comment, and the
// user may ask again.
func TestDeniedRequestIsShownAndCanBeRenewed(t *testing.T) {
	e := newEnv(t, false)
	pete := e.createUser("pete", "pete@example.com", store.StatusPending)
	ctx := context.Background()
	r, err := e.svc.SubmitAccessRequest(ctx, domain.Actor{Type: store.ActorUser, ID: pete.ID}, pete.ID, "manager", "I run the team")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if _, err := e.svc.DenyAccessRequest(ctx, e.manager(), r.ID, "Ask for <user> first"); err != nil {
		t.Fatalf("deny: %v", err)
	}
	c := e.signInPending("pete")
	resp, body := e.get(c, accessRequestLocation)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your previous request for manager was denied: Ask for &lt;user&gt; first") {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	e.clock.Advance(time.Minute) // requests list newest first
	resp, _ = e.post(c, "/access/request", url.Values{"csrf_token": {csrfFrom(t, body)}, "role": {"user"}, "purpose": {"then this"}, "return_to": {authorizeURL}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("renewed request: status %d", resp.StatusCode)
	}
	if rs := e.requests(pete.ID); len(rs) != 2 || rs[0].Status != store.RequestPending || rs[0].RequestedRole != "user" {
		t.Errorf("requests = %+v", rs)
	}
}

func TestHomePageOfAPendingUser(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("pete", "pete@example.com", store.StatusPending)
	c := e.signInPending("pete")
	_, body := e.get(c, "/")
	if !strings.Contains(body, "pete") || !strings.Contains(body, `href="/access/request"`) {
		t.Errorf("home page of a pending user:\n%s", body)
	}
}

// A lockout must not be visible on the login page: the page is the one a
// wrong password gets, byte for byte, even with the right password.
func TestLockoutLooksLikeAWrongPassword(t *testing.T) {
	// The account-wide threshold at the per-address one: three failures
	// from this browser lock the account itself.
	e := newEnvWith(t, envOptions{domain: domain.Options{LockoutThreshold: 3, LockoutDuration: 15 * time.Minute, AccountLockoutThreshold: 3}})
	alice := e.createUser("alice", "alice@example.com", store.StatusActive)
	c := e.browser()

	var wrong string
	for i := 0; i < 3; i++ {
		resp, body := e.login(c, "alice", "wrong password!", "/")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, resp.StatusCode)
		}
		wrong = body
	}
	u, err := e.store.GetUser(context.Background(), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.LockedUntil == nil || !u.LockedUntil.After(e.clock.Now()) {
		t.Fatalf("LockedUntil = %v after 3 failures, want a lock", u.LockedUntil)
	}
	resp, locked := e.login(c, "alice", testPassword, "/")
	if resp.StatusCode != http.StatusUnauthorized || e.sessionCookie(c) != nil {
		t.Fatalf("locked user with the right password: status %d", resp.StatusCode)
	}
	if locked != wrong {
		t.Errorf("the lockout page differs from the wrong-password page:\n%s\n---\n%s", locked, wrong)
	}
	if !strings.Contains(locked, "Invalid username or password.") {
		t.Error("no failure message")
	}

	e.clock.Advance(16 * time.Minute)
	if resp, _ := e.login(c, "alice", testPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the lockout: status %d, want 303", resp.StatusCode)
	}
}

// Sign-outs leave an audit entry naming the user: the logout page, the
// end-session endpoint, and another user signing in on the same browser.
func TestLogoutIsAudited(t *testing.T) {
	e := newEnv(t, false)
	alice := e.createUser("alice", "alice@example.com", store.StatusActive)
	e.createUser("bob", "bob@example.com", store.StatusActive)

	check := func(t *testing.T, n int) {
		t.Helper()
		es := e.audit("logout")
		if len(es) != n {
			t.Fatalf("%d logout entries, want %d", len(es), n)
		}
		got := es[0]
		if got.ActorType != store.ActorUser || got.ActorID != alice.ID || got.TargetType != "user" || got.TargetID != alice.ID || got.At.IsZero() {
			t.Errorf("logout entry = %+v", got)
		}
	}

	t.Run("logout page", func(t *testing.T) {
		c, _ := e.signIn(alice)
		_, body := e.get(c, "/logout")
		if resp, _ := e.post(c, "/logout", url.Values{"csrf_token": {csrfFrom(t, body)}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("logout: status %d", resp.StatusCode)
		}
		check(t, 1)
	})
	t.Run("end session", func(t *testing.T) {
		c, _ := e.signIn(alice)
		_, body := e.get(c, "/oauth2/logout")
		if resp, _ := e.post(c, "/oauth2/logout", url.Values{"csrf_token": {csrfFrom(t, body)}, "confirm": {"yes"}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("end session: status %d", resp.StatusCode)
		}
		check(t, 2)
	})
	t.Run("another user signs in", func(t *testing.T) {
		c, _ := e.signIn(alice)
		if resp, _ := e.login(c, "bob", testPassword, "/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatal("login as bob failed")
		}
		check(t, 3)
	})
	t.Run("no session, no entry", func(t *testing.T) {
		c := e.browser()
		_, body := e.get(c, "/logout")
		if resp, _ := e.post(c, "/logout", url.Values{"csrf_token": {csrfFrom(t, body)}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("logout: status %d", resp.StatusCode)
		}
		check(t, 3)
	})
}
