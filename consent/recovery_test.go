package consent_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func mailEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, envOptions{domain: domain.Options{Recovery: domain.RecoveryOptions{
		Issuer: testIssuer, MailEnabled: true}}})
}

var ticketRE = regexp.MustCompile(`ticket=([A-Za-z0-9_-]+)`)

// queuedTicket takes the one message of the outbox and returns its ticket.
func (e *env) queuedTicket() string {
	e.t.Helper()
	ms, err := e.store.ClaimMail(context.Background(), e.clock.Now().Add(time.Hour), time.Minute, 10)
	if err != nil || len(ms) != 1 {
		e.t.Fatalf("outbox = %+v, %v; want one message", ms, err)
	}
	_ = e.store.DeleteMail(context.Background(), ms[0].ID)
	m := ticketRE.FindStringSubmatch(ms[0].Body)
	if m == nil {
		e.t.Fatalf("no ticket in\n%s", ms[0].Body)
	}
	return m[1]
}

func TestLoginLinksForgotPassword(t *testing.T) {
	e := newEnv(t, false)
	_, body := e.get(e.browser(), "/login")
	if !strings.Contains(body, `href="/password/forgot"`) || !strings.Contains(body, "Forgot password?") {
		t.Errorf("the login page has no Forgot password? link\n%s", body)
	}
}

func TestForgotWithoutMail(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	c := e.browser()
	resp, body := e.get(c, "/password/forgot")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Ask your administrator") || strings.Contains(body, `name="username"`) {
		t.Fatalf("forgot page without mail: %d\n%s", resp.StatusCode, body)
	}
}

func TestForgotCSRF(t *testing.T) {
	e := mailEnv(t)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	c := e.browser()
	e.get(c, "/password/forgot")
	resp, _ := e.post(c, "/password/forgot", url.Values{"username": {"alice"}, "csrf_token": {"forged"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged CSRF token: %d, want 403", resp.StatusCode)
	}
	if n, _ := e.store.CountMail(context.Background()); n != 0 {
		t.Errorf("%d mails queued for a refused form", n)
	}
}

func TestResetPage(t *testing.T) {
	e := mailEnv(t)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	c := e.browser()
	_, body := e.get(c, "/password/forgot")
	resp, sent := e.post(c, "/password/forgot", url.Values{"username": {"alice"}, "csrf_token": {csrfFrom(t, body)}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(sent, "If an account matches") {
		t.Fatalf("forgot: %d\n%s", resp.StatusCode, sent)
	}
	ticket := e.queuedTicket()

	resp, form := e.get(c, "/password/reset?ticket="+ticket)
	if resp.StatusCode != http.StatusOK || hiddenFields(form)["ticket"][0] != ticket {
		t.Fatalf("reset form: %d\n%s", resp.StatusCode, form)
	}
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("reset page CSP %q", got)
	}
	post := func(pw, confirm string) (*http.Response, string) {
		return e.post(c, "/password/reset", url.Values{"ticket": {ticket}, "password": {pw}, "password_confirm": {confirm},
			"csrf_token": {csrfFrom(t, form)}})
	}
	if resp, body := post("", ""); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Password is required.") {
		t.Errorf("empty password: %d", resp.StatusCode)
	}
	if resp, body := post("alice-secret-1", "alice-secret-1"); resp.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "must not contain your name") {
		t.Errorf("a password with the username: %d\n%s", resp.StatusCode, body)
	}
	resp, done := post("a brand new secret", "a brand new secret")
	if resp.StatusCode != http.StatusOK || !strings.Contains(done, "Your password was changed") {
		t.Fatalf("reset: %d\n%s", resp.StatusCode, done)
	}
	if _, err := e.svc.Authenticate(context.Background(), "alice", "a brand new secret", ""); err != nil {
		t.Errorf("the new password: %v", err)
	}
	resp, used := post("another new secret", "another new secret")
	if resp.StatusCode != http.StatusGone || !strings.Contains(used, "This link cannot be used") {
		t.Errorf("reuse: %d\n%s", resp.StatusCode, used)
	}
}

func TestVerifyEmailPage(t *testing.T) {
	e := mailEnv(t)
	u, err := e.svc.CreateUser(context.Background(), domain.CLIActor(), domain.NewUser{
		Username: "bob", Email: "bob@example.com", Roles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	ticket := e.queuedTicket()
	resp, body := e.get(e.browser(), "/email/verify?ticket="+ticket)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "bob@example.com is verified") {
		t.Fatalf("verify: %d\n%s", resp.StatusCode, body)
	}
	if got, _ := e.svc.GetUser(context.Background(), u.ID); !got.EmailVerified {
		t.Error("not verified")
	}
	if resp, _ := e.get(e.browser(), "/email/verify?ticket="+ticket); resp.StatusCode != http.StatusGone {
		t.Errorf("the link again: %d, want 410", resp.StatusCode)
	}
}
