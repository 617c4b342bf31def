package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/store"
)

// passkeyStep answers the pending second step of browser c with key, as
// the script of /login/mfa does, and returns the finish answer.
func (e *env) passkeyStep(c *http.Client, key *softauthn.Key) (*http.Response, []byte) {
	e.t.Helper()
	resp, body := e.get(c, "/login/mfa")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="passkey-factor"`) || !strings.Contains(body, "Use a passkey") {
		e.t.Fatalf("second-step page (%d) offers no passkey:\n%s", resp.StatusCode, body)
	}
	csrf := pageCSRF(e.t, body)
	resp, opts := e.postJSON(c, "/login/mfa/passkey/begin", csrf, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("mfa passkey begin: %d %s", resp.StatusCode, opts)
	}
	assertion, err := key.Get(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.postJSON(c, "/login/mfa/passkey/finish", csrf, map[string]any{"credential": json.RawMessage(assertion)})
}

func newPasskeyMFAEnv(t *testing.T, required ...string) *env {
	t.Helper()
	cfg, err := domain.DefaultPasskeyConfig(testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, envOptions{domain: domain.Options{Passkeys: cfg, MFAKey: bytes.Repeat([]byte{9}, 32), MFARequiredRoles: required}})
}

// TestPasskeySecondStep: once a user has a passkey, the right password
// leads to /login/mfa (no session yet), which offers the passkey under a
// script-allowing CSP, and no recovery code (there is none); the passkey
// completes the sign-in with amr pwd hwk user and acr aal2.
func TestPasskeySecondStep(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	c, _ := e.signIn(u)
	key := e.addPasskey(c, "Laptop")

	b := e.browser()
	resp, _ := e.login(b, "ada", testPassword, "/oauth2/auth?client_id=x")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/mfa" || e.sessionCookie(b) != nil {
		t.Fatalf("password of a passkey user: %d %q (session %v)", resp.StatusCode, resp.Header.Get("Location"), e.sessionCookie(b))
	}
	resp, body := e.get(b, "/login/mfa")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("second-step CSP = %q, want script-src 'self' and no unsafe-inline", csp)
	}
	if strings.Contains(body, `name="code"`) || strings.Contains(body, "recovery=1") || !strings.Contains(body, `src="/static/passkeys.js"`) {
		t.Errorf("passkey-only second step shows a code form or recovery link, or lacks the script:\n%s", body)
	}
	if strings.Contains(body, "<script>") {
		t.Error("inline script on the second-step page")
	}

	resp, out := e.passkeyStep(b, key)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"redirect":"/oauth2/auth?client_id=x"`) {
		t.Fatalf("mfa passkey finish: %d %s", resp.StatusCode, out)
	}
	if mc := cookieNamed(resp.Cookies(), "gatehouse_mfa"); mc == nil || mc.MaxAge >= 0 {
		t.Errorf("the second-step cookie was not cleared: %+v", mc)
	}
	sc := e.sessionCookie(b)
	if sc == nil {
		t.Fatal("no session after the passkey step")
	}
	sess := e.currentSession(sc.Value)
	if sess == nil || sess.User.ID != u.ID || !slices.Equal(sess.AMR, []string{"pwd", "hwk", "user"}) || sess.ACR != domain.ACRMultiFactor {
		t.Fatalf("session = %+v; want amr [pwd hwk user], aal2", sess)
	}
	// The step is spent: the same browser cannot begin it again.
	resp, out = e.postJSON(b, "/login/mfa/passkey/begin", pageCSRF(t, body), nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("begin after completion: %d %s", resp.StatusCode, out)
	}
}

// TestPasskeySecondStepWithApp: a user with an app and a passkey is offered
// both and the recovery codes; either completes the step.
func TestPasskeySecondStepWithApp(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	c, _ := e.signIn(u)
	key := e.addPasskey(c, "Laptop")
	e.enrolled(t, u)
	b := e.browser()
	e.login(b, "ada", testPassword, "/")
	_, body := e.get(b, "/login/mfa")
	for _, want := range []string{`id="passkey-factor"`, `name="code"`, `href="/login/mfa?recovery=1"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("second step lacks %q:\n%s", want, body)
		}
	}
	_, body = e.get(b, "/login/mfa?recovery=1")
	if !strings.Contains(body, `name="recovery_code"`) || !strings.Contains(body, "Use a passkey instead") {
		t.Fatalf("recovery form lacks the way back to the passkey:\n%s", body)
	}
	resp, out := e.passkeyStep(b, key)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"redirect":"/"`) || e.sessionCookie(b) == nil {
		t.Fatalf("finish: %d %s", resp.StatusCode, out)
	}
}

// TestPasskeySecondStepRefuses: without the second-step cookie, or without
// the CSRF header, the endpoints refuse and nothing is counted; a wrong
// passkey counts as a wrong code, and the fifth ends the attempt.
func TestPasskeySecondStepRefuses(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	c, _ := e.signIn(u)
	e.addPasskey(c, "Laptop")

	// No pending step: a fresh browser with a CSRF token of its own.
	anon := e.browser()
	_, lb := e.get(anon, "/login")
	for _, path := range []string{"/login/mfa/passkey/begin", "/login/mfa/passkey/finish"} {
		resp, out := e.postJSON(anon, path, pageCSRF(t, lb), map[string]any{"credential": json.RawMessage(`{}`)})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(out), "sign in again") {
			t.Errorf("%s without the second-step cookie: %d %s", path, resp.StatusCode, out)
		}
	}

	b := e.browser()
	e.login(b, "ada", testPassword, "/")
	_, body := e.get(b, "/login/mfa")
	csrf := pageCSRF(t, body)
	for _, token := range []string{"", "forged"} {
		for _, path := range []string{"/login/mfa/passkey/begin", "/login/mfa/passkey/finish"} {
			resp, out := e.postJSON(b, path, token, nil)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s with CSRF %q: %d %s", path, token, resp.StatusCode, out)
			}
		}
	}
	// Another authenticator (not registered to ada) answers: refused and
	// counted, as a wrong code.
	stranger, err := softauthn.New(testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= domain.MFAMaxAttempts; i++ {
		resp, opts := e.postJSON(b, "/login/mfa/passkey/begin", csrf, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("begin %d: %d %s", i, resp.StatusCode, opts)
		}
		assertion, _ := stranger.Get(opts)
		resp, out := e.postJSON(b, "/login/mfa/passkey/finish", csrf, map[string]any{"credential": json.RawMessage(assertion)})
		want := "not accepted"
		if i == domain.MFAMaxAttempts {
			want = "sign in again"
		}
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(out), want) {
			t.Fatalf("wrong passkey %d: %d %s, want 401 %q", i, resp.StatusCode, out, want)
		}
	}
	if e.sessionCookie(b) != nil {
		t.Fatal("signed in with a stranger's passkey")
	}
	failed := 0
	for _, a := range e.audit("mfa.failed") {
		if a.TargetID == u.ID {
			failed++
		}
	}
	if failed != domain.MFAMaxAttempts {
		t.Errorf("mfa.failed entries = %d, want %d", failed, domain.MFAMaxAttempts)
	}
	// The attempt is over: ada's own passkey cannot finish it, and the
	// second-step page sends the browser back to the login.
	resp, out := e.postJSON(b, "/login/mfa/passkey/begin", csrf, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("begin after the attempt ended: %d %s", resp.StatusCode, out)
	}
	if list, _ := e.svc.ListPasskeys(context.Background(), u.ID); len(list) != 1 || list[0].LastUsedAt != nil {
		t.Errorf("ada's passkey = %+v; want unused", list)
	}
	resp, _ = e.get(b, "/login/mfa")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("GET /login/mfa after the attempt ended: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSecondStepWithoutPasskey: on a server with passkeys, a user with an
// app alone is not offered a passkey.
func TestSecondStepWithoutPasskey(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	e.enrolled(t, u)
	b := e.browser()
	e.login(b, "ada", testPassword, "/")
	resp, body := e.get(b, "/login/mfa")
	if !strings.Contains(body, `name="code"`) || strings.Contains(body, "passkey") {
		t.Fatalf("app-only second step:\n%s", body)
	}
	// No passkey on the page, no script allowed on it.
	if csp := resp.Header.Get("Content-Security-Policy"); csp == "" || strings.Contains(csp, "script-src") {
		t.Fatalf("app-only second step CSP = %q, want the page policy without scripts", csp)
	}
}

// TestPasskeySatisfiesPolicyPages: a user whose role requires a second
// factor and who has a passkey gets the passkey step after the password,
// not the app set-up, and the security page does not tell them to set up
// an app.
func TestPasskeySatisfiesPolicyPages(t *testing.T) {
	e := newPasskeyMFAEnv(t, "admin")
	h, err := testPasswords.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: newID("root"), Username: "root", Email: "root@example.com", PasswordHash: h,
		Status: store.StatusActive, Roles: []string{"admin"}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
	if err := e.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	// Until the user has a factor, the password leads to the app set-up.
	b := e.browser()
	e.login(b, "root", testPassword, "/")
	if _, body := e.get(b, "/login/mfa"); !strings.Contains(body, `name="factor_id"`) {
		t.Fatalf("required user without a factor is not sent to set-up:\n%s", body)
	}
	key := e.enrolledPasskey(u)
	b = e.browser()
	e.login(b, "root", testPassword, "/security")
	if resp, out := e.passkeyStep(b, key); resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"redirect":"/security"`) {
		t.Fatalf("passkey step of a required user: %d %s", resp.StatusCode, out)
	}
	_, body := e.get(b, "/security")
	if strings.Contains(body, "asked to set it up") || !strings.Contains(body, "Your passkeys are the second factor") {
		t.Fatalf("security page of a required user with a passkey:\n%s", body)
	}
}

// enrolledPasskey registers a software passkey for u through the domain
// (for a user who cannot reach the security page yet).
func (e *env) enrolledPasskey(u store.User) *softauthn.Key {
	e.t.Helper()
	ctx := context.Background()
	key, err := softauthn.New(testIssuer)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.svc.BeginPasskeyRegistration(ctx, u)
	if err != nil {
		e.t.Fatal(err)
	}
	opts, err := json.Marshal(c.Options)
	if err != nil {
		e.t.Fatal(err)
	}
	body, err := key.Create(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	a := domain.Actor{Type: store.ActorUser, ID: u.ID}
	if _, err := e.svc.FinishPasskeyRegistration(ctx, a, u.ID, c.Secret, "Key", bytes.NewReader(body)); err != nil {
		e.t.Fatal(err)
	}
	return key
}

// TestPasskeySecondStepPendingUser: a pending user's second step ends at
// the access request, as their code would.
func TestPasskeySecondStepPendingUser(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.createUser("pat", "pat@example.com", store.StatusPending)
	c, _ := e.signIn(u)
	key := e.addPasskey(c, "Phone")
	b := e.browser()
	if resp, _ := e.login(b, "pat", testPassword, "/oauth2/auth?client_id=x"); resp.Header.Get("Location") != "/login/mfa" {
		t.Fatalf("pending user's password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, out := e.passkeyStep(b, key)
	want := `"redirect":"/access/request?return_to=%2Foauth2%2Fauth%3Fclient_id%3Dx"`
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), want) || e.sessionCookie(b) == nil {
		t.Fatalf("pending user's passkey step: %d %s, want %s", resp.StatusCode, out, want)
	}
}
