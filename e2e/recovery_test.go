package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/notify/smtptest"
	"github.com/gatehouse/gatehouse/store"
)

// mailServer starts a test SMTP server and a gatehouse that mails through
// it, on a database of its own: the outbox is a table every sender of a
// database claims from, and another test's server must not deliver this
// test's mail to its own SMTP server.
func mailServer(t *testing.T, mutate func(*config.Config)) (*testServer, *smtptest.Server) {
	t.Helper()
	smtp := smtptest.Start(t, smtptest.Options{})
	ts := startServer(t, func(c *config.Config) {
		c.DatabaseURL = pgtest.NewDatabase(t)
		c.SMTP.Host, c.SMTP.Port = smtp.Host, smtp.Port
		c.SMTP.From = "gatehouse <no-reply@gatehouse.test>"
		c.MailQueue.PollInterval = 20 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
	return ts, smtp
}

// mailbox reads what the test SMTP server received, message by message.
type mailbox struct {
	srv  *smtptest.Server
	seen int
}

type email struct {
	To, Subject, Body string
}

// next waits for the next message (the outbox sends within its poll
// interval) and returns it decoded.
func (m *mailbox) next(t *testing.T) email {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := m.srv.Messages()
		if len(msgs) > m.seen {
			msg := msgs[m.seen]
			m.seen++
			subject, body := readEmail(t, msg)
			return email{To: strings.Join(msg.To, ","), Subject: subject, Body: body}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email #%d within 10s", m.seen+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// none fails if a message arrives within wait.
func (m *mailbox) none(t *testing.T, wait time.Duration) {
	t.Helper()
	time.Sleep(wait)
	if msgs := m.srv.Messages(); len(msgs) > m.seen {
		_, body := readEmail(t, msgs[m.seen])
		t.Fatalf("unexpected email to %v:\n%s", msgs[m.seen].To, body)
	}
}

var linkPattern = regexp.MustCompile(`(https?://\S+?/(?:password/reset|email/verify)\?ticket=[A-Za-z0-9_-]+)`)

// linkIn returns the one ticket link of e, which must point at path.
func linkIn(t *testing.T, ts *testServer, e email, path string) string {
	t.Helper()
	links := linkPattern.FindAllString(e.Body, -1)
	if len(links) != 1 || !strings.HasPrefix(links[0], ts.URL+path+"?ticket=") {
		t.Fatalf("email %q has links %v, want one to %s%s\n%s", e.Subject, links, ts.URL, path, e.Body)
	}
	u, _ := url.Parse(links[0])
	ts.secret(u.Query().Get("ticket"))
	return links[0]
}

// forgot asks for a reset of name through the forgot-password page, in a
// fresh browser, starting from the login page's link, and returns the
// answer page.
func forgot(t *testing.T, ts *testServer, name string) page {
	t.Helper()
	browser := ts.newBrowser(t)
	lp := readPage(t, get(t, browser, ts.endpoint("/login")))
	if !strings.Contains(lp.Body, `<a href="/password/forgot">Forgot password?</a>`) {
		t.Fatalf("the login page has no Forgot password? link\n%s", snippet(lp.Body))
	}
	fp := readPage(t, get(t, browser, ts.endpoint("/password/forgot")))
	f := fp.Form("username")
	if fp.Status != http.StatusOK || f == nil || f.Fields.Get("csrf_token") == "" {
		t.Fatalf("forgot page: status %d, no form with a CSRF token\n%s", fp.Status, snippet(fp.Body))
	}
	return readPage(t, submit(t, browser, f, url.Values{"username": {name}}))
}

// formTo returns the form of pg that posts to path.
func formTo(t *testing.T, pg page, path string) *formdriver.Form {
	t.Helper()
	for i := range pg.Forms {
		if pg.Forms[i].Action.Path == path {
			return &pg.Forms[i]
		}
	}
	t.Fatalf("no form posting to %s on %s (status %d)\n%s", path, pg.URL.Path, pg.Status, snippet(pg.Body))
	return nil
}

func auditActions(t *testing.T, ts *testServer, target string) []string {
	t.Helper()
	entries, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: target, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}

// TestPasswordRecovery: forgot → email → reset → the old password is
// refused, the new one works, the old refresh token is dead; an unknown
// account gets the same page; a used or forged ticket gets the one
// invalid-link page; an admin can send a link through the API.
func TestPasswordRecovery(t *testing.T) {
	ts, smtp := mailServer(t, nil)
	box := &mailbox{srv: smtp}
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	oldTok, _, _ := rp.signIn(t, user)
	if oldTok.RefreshToken == "" {
		t.Fatal("no refresh token to outlive the reset")
	}

	// The same page for an account and for nobody.
	known := forgot(t, ts, user.Username)
	unknown := forgot(t, ts, "nobody-"+randomHex(t, 4))
	byEmail := forgot(t, ts, "nobody-"+randomHex(t, 4)+"@example.com")
	if known.Status != http.StatusOK || !strings.Contains(known.Body, "If an account matches what you entered") {
		t.Fatalf("forgot answer: status %d\n%s", known.Status, snippet(known.Body))
	}
	if unknown.Status != known.Status || unknown.Body != known.Body || byEmail.Body != known.Body {
		t.Errorf("the answers differ for an unknown account:\nknown:\n%s\nunknown:\n%s", known.Body, unknown.Body)
	}
	mail := box.next(t)
	if mail.To != user.Email || mail.Subject != "Reset your password" {
		t.Fatalf("email to %s %q, want the reset mail to %s", mail.To, mail.Subject, user.Email)
	}
	box.none(t, 200*time.Millisecond) // none for the unknown accounts
	link := linkIn(t, ts, mail, "/password/reset")

	// The reset page: new password twice, CSRF; the policy applies.
	browser := ts.newBrowser(t)
	form := readPage(t, get(t, browser, link))
	f := form.Form("password_confirm")
	if form.Status != http.StatusOK || f == nil || f.Fields.Get("csrf_token") == "" || f.Types["password"] != "password" {
		t.Fatalf("reset page: status %d\n%s", form.Status, snippet(form.Body))
	}
	newPassword := "new-" + randomHex(t, 10)
	ts.secret(newPassword)
	mismatch := readPage(t, submit(t, browser, f, url.Values{"password": {newPassword}, "password_confirm": {newPassword + "x"}}))
	if mismatch.Status != http.StatusUnprocessableEntity || !strings.Contains(mismatch.Body, "The two passwords differ.") {
		t.Errorf("mismatched passwords: status %d\n%s", mismatch.Status, snippet(mismatch.Body))
	}
	weak := readPage(t, submit(t, browser, mismatch.Form("password_confirm"), url.Values{"password": {"short"}, "password_confirm": {"short"}}))
	if weak.Status != http.StatusUnprocessableEntity || !strings.Contains(weak.Body, "at least 8 characters") {
		t.Errorf("a short password: status %d\n%s", weak.Status, snippet(weak.Body))
	}
	noCSRF := readPage(t, submit(t, browser, weak.Form("password_confirm"), url.Values{"password": {newPassword},
		"password_confirm": {newPassword}, "csrf_token": {"forged"}}))
	if noCSRF.Status != http.StatusForbidden {
		t.Errorf("a forged CSRF token: status %d, want 403", noCSRF.Status)
	}
	done := readPage(t, submit(t, browser, noCSRF.Form("password_confirm"), url.Values{"password": {newPassword}, "password_confirm": {newPassword}}))
	if done.Status != http.StatusOK || !strings.Contains(done.Body, "Your password was changed") {
		t.Fatalf("reset: status %d\n%s", done.Status, snippet(done.Body))
	}
	notice := box.next(t)
	if notice.To != user.Email || notice.Subject != "Your password was changed" || linkPattern.MatchString(notice.Body) {
		t.Errorf("after the reset: email to %s %q, want the notice without a link\n%s", notice.To, notice.Subject, notice.Body)
	}

	// The old password is refused, the new one works.
	refused := readPage(t, login(t, ts.newBrowser(t), ts.endpoint("/login"), user.Username, user.Password))
	if refused.Status != http.StatusUnauthorized {
		t.Errorf("the old password: status %d, want 401", refused.Status)
	}
	_, idt, _ := rp.signIn(t, testUser{User: user.User, Password: newPassword})
	if idt.Subject != user.ID {
		t.Errorf("signed in with the new password as %s, want %s", idt.Subject, user.ID)
	}
	// Every refresh token of the user ended.
	wantOAuthError(t, ts.refresh(t, oldTok.RefreshToken, authOf(client)), http.StatusBadRequest, "invalid_grant")

	// Used, forged and malformed tickets: one page for all.
	used := readPage(t, get(t, ts.newBrowser(t), link))
	forged := readPage(t, get(t, ts.newBrowser(t), ts.endpoint("/password/reset?ticket="+strings.Repeat("A", 43))))
	garbage := readPage(t, get(t, ts.newBrowser(t), ts.endpoint("/password/reset?ticket=<x>")))
	if used.Status != http.StatusGone || !strings.Contains(used.Body, "This link cannot be used") {
		t.Fatalf("a used link: status %d\n%s", used.Status, snippet(used.Body))
	}
	if forged.Status != used.Status || forged.Body != used.Body || garbage.Body != used.Body {
		t.Errorf("a forged link's page differs from a used one's:\n%s\n%s", used.Body, forged.Body)
	}
	// The form posted again with the used ticket changes nothing.
	again := readPage(t, submit(t, browser, f, url.Values{"password": {"another-" + newPassword}, "password_confirm": {"another-" + newPassword}}))
	if again.Status != http.StatusGone || again.Body != used.Body {
		t.Errorf("a used ticket posted: status %d\n%s", again.Status, snippet(again.Body))
	}

	// The audit log has the request and the reset, without secrets.
	actions := auditActions(t, ts, user.ID)
	for _, want := range []string{"password.reset_request", "password.reset"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit of the user %v lacks %s", actions, want)
		}
	}
	entries, _ := ts.Store.ListAudit(ctxT(t), store.AuditFilter{Limit: 200})
	for _, e := range entries {
		if strings.Contains(string(e.Changes), newPassword) || strings.Contains(string(e.Changes), "ticket") {
			t.Errorf("audit entry %s holds a secret: %s", e.Action, e.Changes)
		}
	}

	// An admin sends a link through the API: 202, audited, mailed.
	admin := ts.createUser(t, "admin")
	other := ts.createUser(t, "user")
	adminTok := apiTokenFor(t, ts, admin)
	sent := apiCall(t, ts, http.MethodPost, "/api/v1/users/"+other.ID+"/password-reset", adminTok, nil)
	if sent.Status != http.StatusAccepted {
		t.Fatalf("POST password-reset: status %d\n%s", sent.Status, sent.Raw)
	}
	adminMail := box.next(t)
	if adminMail.To != other.Email {
		t.Errorf("the admin's reset went to %s, want %s", adminMail.To, other.Email)
	}
	linkIn(t, ts, adminMail, "/password/reset")
	if !slices.Contains(auditActions(t, ts, other.ID), "password.reset_send") {
		t.Errorf("no password.reset_send entry: %v", auditActions(t, ts, other.ID))
	}
	plain := apiCall(t, ts, http.MethodPost, "/api/v1/users/"+admin.ID+"/password-reset", apiTokenFor(t, ts, other), nil)
	if plain.Status != http.StatusForbidden {
		t.Errorf("a user sending a reset: status %d, want 403", plain.Status)
	}
}

// TestPasswordRecoveryTiming measures the forgot page's answer time for an
// account and for nobody, interleaved. It asserts only a loose bound (the
// machine is shared); the figures are logged.
func TestPasswordRecoveryTiming(t *testing.T) {
	ts, smtp := mailServer(t, func(c *config.Config) { c.MailQueue.MaxRows = 100000 })
	const n = 30
	// One account per request: an account asked for again within a
	// minute is sent nothing, and would be timed as nobody.
	var users []testUser
	for range n {
		users = append(users, ts.createUser(t, "user"))
	}
	browser := ts.newBrowser(t)
	fp := readPage(t, get(t, browser, ts.endpoint("/password/forgot")))
	f := fp.Form("username")
	post := func(name string) time.Duration {
		start := time.Now()
		resp := submit(t, browser, f, url.Values{"username": {name}})
		closeBody(resp)
		return time.Since(start)
	}
	var known, unknown []time.Duration
	for i, u := range users {
		if i%2 == 0 {
			known, unknown = append(known, post(u.Username)), append(unknown, post("nobody-"+randomHex(t, 4)))
		} else {
			unknown, known = append(unknown, post("nobody-"+randomHex(t, 4))), append(known, post(u.Username))
		}
	}
	// Each account was sent its link, nobody none: the timings are of the
	// two paths.
	box := &mailbox{srv: smtp}
	for range n {
		box.next(t)
	}
	box.none(t, 100*time.Millisecond)
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[len(d)/2]
	}
	mk, mu := median(known), median(unknown)
	t.Logf("forgot-password answer, median of %d: known account %s, unknown %s (difference %s)", n, mk, mu, mk-mu)
	if mk > 3*mu+20*time.Millisecond {
		t.Errorf("a known account's answer (%s) is far slower than an unknown one's (%s)", mk, mu)
	}
}

// TestPasswordRecoveryExpiry: a link past recovery.ticket_lifetime gets the
// invalid-link page, and the password stays.
func TestPasswordRecoveryExpiry(t *testing.T) {
	ts, smtp := mailServer(t, func(c *config.Config) { c.Recovery.TicketLifetime = time.Second })
	box := &mailbox{srv: smtp}
	user := ts.createUser(t, "user")
	forgot(t, ts, user.Email)
	link := linkIn(t, ts, box.next(t), "/password/reset")
	browser := ts.newBrowser(t)
	form := readPage(t, get(t, browser, link))
	f := form.Form("password_confirm")
	if f == nil {
		// Delivery and the GET took over the lifetime (a loaded machine):
		// the link expired before the form could be shown.
		t.Fatalf("the link expired before the test could open it (status %d)", form.Status)
	}
	time.Sleep(1100 * time.Millisecond)
	late := "late-" + randomHex(t, 8)
	gone := readPage(t, submit(t, browser, f, url.Values{"password": {late}, "password_confirm": {late}}))
	if gone.Status != http.StatusGone || !strings.Contains(gone.Body, "This link cannot be used") {
		t.Fatalf("an expired ticket: status %d\n%s", gone.Status, snippet(gone.Body))
	}
	if pg := readPage(t, get(t, ts.newBrowser(t), link)); pg.Status != http.StatusGone || pg.Body != gone.Body {
		t.Errorf("GET of an expired link: status %d\n%s", pg.Status, snippet(pg.Body))
	}
	_, idt, _ := ts.newRP(t, ts.createConfidentialClient(t, nil)).signIn(t, user)
	if idt.Subject != user.ID {
		t.Error("the old password stopped working after an expired reset")
	}
}

// TestEmailVerification: a user created through the API gets a link;
// email_verified is false in its ID token and userinfo until the link is
// followed, true in a fresh ID token after; a changed address is
// unverified again; resend is limited to one a minute.
func TestEmailVerification(t *testing.T) {
	ts, smtp := mailServer(t, nil)
	box := &mailbox{srv: smtp}
	admin := ts.createUser(t, "admin")
	adminTok := apiTokenFor(t, ts, admin)
	name := "verify-" + randomHex(t, 4)
	password := "pw-" + randomHex(t, 10)
	ts.secret(password)
	created := apiCall(t, ts, http.MethodPost, "/api/v1/users", adminTok, map[string]any{
		"username": name, "email": name + "@example.com", "password": password, "roles": []string{"user"}})
	if created.Status != http.StatusCreated {
		t.Fatalf("create user: status %d\n%s", created.Status, created.Raw)
	}
	u, err := ts.Store.GetUserByUsername(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	user := testUser{User: u, Password: password}
	mail := box.next(t)
	if mail.To != u.Email || mail.Subject != "Verify your email address" {
		t.Fatalf("email to %s %q, want the verification mail", mail.To, mail.Subject)
	}
	link := linkIn(t, ts, mail, "/email/verify")

	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "email")
	emailVerified := func(idt *oidc.IDToken) bool {
		var c struct {
			Email         string `json:"email"`
			EmailVerified *bool  `json:"email_verified"`
		}
		if err := idt.Claims(&c); err != nil || c.EmailVerified == nil {
			t.Fatalf("ID token claims: %v (email_verified missing?)", err)
		}
		return *c.EmailVerified
	}
	tok, idt, _ := rp.signIn(t, user)
	if emailVerified(idt) {
		t.Error("email_verified is true in the ID token before the link was followed")
	}
	if ui := ts.userinfo(t, tok.AccessToken); ui.JSON["email_verified"] != false {
		t.Errorf("userinfo email_verified = %v before the link, want false", ui.JSON["email_verified"])
	}

	verified := readPage(t, get(t, ts.newBrowser(t), link))
	if verified.Status != http.StatusOK || !strings.Contains(verified.Body, "Email address verified") {
		t.Fatalf("verification page: status %d\n%s", verified.Status, snippet(verified.Body))
	}
	tok, idt, _ = rp.signIn(t, user)
	if !emailVerified(idt) {
		t.Error("email_verified is false in a fresh ID token after the link was followed")
	}
	if ui := ts.userinfo(t, tok.AccessToken); ui.JSON["email_verified"] != true {
		t.Errorf("userinfo email_verified = %v after the link, want true", ui.JSON["email_verified"])
	}
	if again := readPage(t, get(t, ts.newBrowser(t), link)); again.Status != http.StatusGone {
		t.Errorf("the link followed twice: status %d, want 410", again.Status)
	}
	if !slices.Contains(auditActions(t, ts, u.ID), "email.verify") {
		t.Errorf("no email.verify entry: %v", auditActions(t, ts, u.ID))
	}

	// Verified: nothing to resend.
	userTok := apiTokenFor(t, ts, user)
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/users/me/email-verification", userTok, nil); r.Status != http.StatusConflict {
		t.Errorf("resend for a verified address: status %d, want 409\n%s", r.Status, r.Raw)
	}
	// A changed address is unverified and gets a link of its own.
	newEmail := name + ".new@example.com"
	if r := apiCall(t, ts, http.MethodPatch, "/api/v1/users/"+u.ID, adminTok, map[string]any{"email": newEmail}); r.Status != http.StatusOK {
		t.Fatalf("PATCH /users/{id} email: status %d\n%s", r.Status, r.Raw)
	}
	changed := box.next(t)
	if changed.To != newEmail {
		t.Fatalf("after the change an email went to %s, want %s", changed.To, newEmail)
	}
	_, idt, _ = rp.signIn(t, user)
	if emailVerified(idt) {
		t.Error("email_verified stayed true after the address changed")
	}
	// Resend within a minute of the last link: 429 with Retry-After.
	limited := apiCall(t, ts, http.MethodPost, "/api/v1/users/me/email-verification", userTok, nil)
	if limited.Status != http.StatusTooManyRequests || limited.Header.Get("Retry-After") == "" ||
		!strings.Contains(limited.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("resend within a minute: status %d Retry-After %q\n%s", limited.Status, limited.Header.Get("Retry-After"), limited.Raw)
	}
	box.none(t, 100*time.Millisecond)
	readPage(t, get(t, ts.newBrowser(t), linkIn(t, ts, changed, "/email/verify")))
	_, idt, _ = rp.signIn(t, user)
	if !emailVerified(idt) {
		t.Error("the new address's link did not verify it")
	}
}

// TestRequireVerifiedEmail: with registration.require_verified_email a
// self-registered user is told to verify first, its request is refused
// until it has, and the page's button sends the link again (at most once
// a minute).
func TestRequireVerifiedEmail(t *testing.T) {
	ts, smtp := mailServer(t, func(c *config.Config) {
		c.Registration.Enabled = true
		c.Registration.RequireVerifiedEmail = true
	})
	box := &mailbox{srv: smtp}
	browser := ts.newBrowser(t)
	reg := readPage(t, get(t, browser, ts.endpoint("/register")))
	f := reg.Form("email")
	if f == nil {
		t.Fatalf("no registration form\n%s", snippet(reg.Body))
	}
	name := "self-" + randomHex(t, 4)
	password := "pw-" + randomHex(t, 10)
	ts.secret(password)
	ask := readPage(t, submit(t, browser, f, url.Values{"username": {name}, "email": {name + "@example.com"},
		"full_name": {"Self Registered"}, "password": {password}}))
	if ask.URL.Path != "/access/request" || !strings.Contains(ask.Body, "Verify your email address first") {
		t.Fatalf("after registering: %d at %s\n%s", ask.Status, ask.URL.Path, snippet(ask.Body))
	}
	mail := box.next(t)
	link := linkIn(t, ts, mail, "/email/verify")

	refused := readPage(t, submit(t, browser, formTo(t, ask, "/access/request"), url.Values{"role": {"user"}, "purpose": {"Reports."}}))
	if refused.Status != http.StatusForbidden || !strings.Contains(refused.Body, "Verify your email address first") {
		t.Fatalf("a request before verifying: status %d\n%s", refused.Status, snippet(refused.Body))
	}
	wait := submit(t, browser, formTo(t, refused, "/email/verify/resend"), nil)
	if wait.StatusCode != http.StatusTooManyRequests || wait.Header.Get("Retry-After") == "" {
		t.Errorf("resend right after registering: status %d Retry-After %q, want 429", wait.StatusCode, wait.Header.Get("Retry-After"))
	}
	closeBody(wait)

	if pg := readPage(t, get(t, ts.newBrowser(t), link)); pg.Status != http.StatusOK {
		t.Fatalf("verification: status %d\n%s", pg.Status, snippet(pg.Body))
	}
	form := readPage(t, get(t, browser, ts.endpoint("/access/request")))
	if strings.Contains(form.Body, "Verify your email address first") {
		t.Error("the page still asks to verify after the link was followed")
	}
	waiting := readPage(t, submit(t, browser, formTo(t, form, "/access/request"), url.Values{"role": {"user"}, "purpose": {"Reports."}}))
	if waiting.URL.Path != "/access/pending" {
		t.Errorf("a request after verifying: %d at %s\n%s", waiting.Status, waiting.URL.Path, snippet(waiting.Body))
	}
}

// TestPasswordResetRace: the reset form posted several times at once with
// one ticket sets the password once; the other posts get the invalid-link
// page.
func TestPasswordResetRace(t *testing.T) {
	ts, smtp := mailServer(t, nil)
	box := &mailbox{srv: smtp}
	user := ts.createUser(t, "user")
	forgot(t, ts, user.Username)
	link := linkIn(t, ts, box.next(t), "/password/reset")
	browser := ts.newBrowser(t)
	f := readPage(t, get(t, browser, link)).Form("password_confirm")
	if f == nil {
		t.Fatal("no reset form")
	}
	const n = 5
	statuses := make([]int, n)
	passwords := make([]string, n)
	done := make(chan int)
	for i := range n {
		passwords[i] = "race-" + randomHex(t, 8)
		ts.secret(passwords[i])
		go func() {
			resp, err := f.Submit(ctxT(t), browser, url.Values{"password": {passwords[i]}, "password_confirm": {passwords[i]}})
			if err == nil {
				statuses[i] = resp.StatusCode
				closeBody(resp)
			}
			done <- i
		}()
	}
	for range n {
		<-done
	}
	won := -1
	for i, st := range statuses {
		switch st {
		case http.StatusOK:
			if won >= 0 {
				t.Errorf("posts %d and %d both reset the password", won, i)
			}
			won = i
		case http.StatusGone:
		default:
			t.Errorf("post %d: status %d, want 200 once and 410 for the rest", i, st)
		}
	}
	if won < 0 {
		t.Fatalf("no post succeeded: %v", statuses)
	}
	_, idt, _ := ts.newRP(t, ts.createConfidentialClient(t, nil)).signIn(t, testUser{User: user.User, Password: passwords[won]})
	if idt.Subject != user.ID {
		t.Error("the winning password does not sign in")
	}
}
