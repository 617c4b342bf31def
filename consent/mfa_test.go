package consent_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/store"
)

func newMFAEnv(t *testing.T, required ...string) *env {
	t.Helper()
	return newEnvWith(t, envOptions{domain: domain.Options{MFAKey: bytes.Repeat([]byte{9}, 32), MFARequiredRoles: required}})
}

func appCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolled gives u an authenticator app through the domain and returns
// its secret; the clock then moves past the confirming code's step.
func (e *env) enrolled(t *testing.T, u store.User) string {
	t.Helper()
	en, err := e.svc.BeginTOTPEnrolment(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	a := domain.Actor{Type: store.ActorUser, ID: u.ID}
	if _, err := e.svc.ConfirmTOTPEnrolment(context.Background(), a, u.ID, en.FactorID, appCode(t, en.Secret, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	return en.Secret
}

// TestPasswordOfEnrolledUserStartsSecondStep: the right password of a user
// with a factor sets only the second-step cookie (HttpOnly, 5 minutes),
// no session, and redirects to /login/mfa.
func TestPasswordOfEnrolledUserStartsSecondStep(t *testing.T) {
	e := newMFAEnv(t)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	e.enrolled(t, u)
	c := e.browser()
	resp, _ := e.login(c, "alice", testPassword, "/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/mfa" {
		t.Fatalf("after the password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if cookieNamed(resp.Cookies(), "gatehouse_session") != nil || e.sessionCookie(c) != nil {
		t.Fatal("a session cookie was set before the second step")
	}
	mc := cookieNamed(resp.Cookies(), "gatehouse_mfa")
	if mc == nil || !mc.HttpOnly || mc.MaxAge != 300 || mc.Path != "/" || mc.SameSite != http.SameSiteLaxMode {
		t.Fatalf("second-step cookie = %+v", mc)
	}
	ch, err := e.store.GetMFAChallenge(context.Background(), storeID(mc.Value), e.clock.Now())
	if err != nil || ch.UserID != u.ID || !ch.ExpiresAt.Equal(e.clock.Now().Add(5*time.Minute)) {
		t.Fatalf("stored challenge %+v, %v", ch, err)
	}

	resp, body := e.get(c, "/login/mfa")
	for _, want := range []string{`<label for="code">Authentication code</label>`, `name="code"`, `autocomplete="one-time-code"`,
		`href="/login/mfa?recovery=1"`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("second-step page (status %d) lacks %q\n%s", resp.StatusCode, want, body)
		}
	}
	csrfFrom(t, body)
	_, body = e.get(c, "/login/mfa?recovery=1")
	if !strings.Contains(body, `name="recovery_code"`) {
		t.Fatalf("recovery form missing\n%s", body)
	}
}

// TestSecondStepNeedsCSRF: a code posted without the form's token is not
// checked (and not counted), whatever the cookie.
func TestSecondStepNeedsCSRF(t *testing.T) {
	e := newMFAEnv(t)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	secret := e.enrolled(t, u)
	c := e.browser()
	e.login(c, "alice", testPassword, "/")
	resp, _ := e.post(c, "/login/mfa", url.Values{"code": {appCode(t, secret, e.clock.Now())}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", resp.StatusCode)
	}
	if e.sessionCookie(c) != nil {
		t.Fatal("signed in without a CSRF token")
	}
	_, body := e.get(c, "/login/mfa")
	pg, err := formdriver.Parse(nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	f := pg.Form("code")
	resp, _ = e.post(c, "/login/mfa", f.Values(url.Values{"code": {appCode(t, secret, e.clock.Now())}}))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || e.sessionCookie(c) == nil {
		t.Fatalf("with CSRF and the right code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ls, err := e.store.GetLoginSession(context.Background(), storeID(e.sessionCookie(c).Value), e.clock.Now())
	if err != nil || ls.ACR != domain.ACRMultiFactor {
		t.Fatalf("session %+v, %v", ls, err)
	}
}

// TestSecondStepWithoutCookie: /login/mfa without a pending step sends the
// browser to the login page.
func TestSecondStepWithoutCookie(t *testing.T) {
	e := newMFAEnv(t)
	resp, _ := e.get(e.browser(), "/login/mfa")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
		t.Fatalf("GET /login/mfa without a step: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSecurityPage: it needs a session; setting up shows the QR code under
// a CSP that allows data: images on that page only; a wrong confirming
// code is refused; the right one shows ten recovery codes.
func TestSecurityPage(t *testing.T) {
	e := newMFAEnv(t)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	resp, _ := e.get(e.browser(), "/security")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "return_to=%2Fsecurity") {
		t.Fatalf("/security signed out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c, _ := e.signIn(u)
	resp, body := e.get(c, "/security")
	if resp.StatusCode != http.StatusOK || strings.Contains(resp.Header.Get("Content-Security-Policy"), "data:") {
		t.Fatalf("/security: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	pg, _ := formdriver.Parse(nil, []byte(body))
	setup := pg.FormWithButton("setup", "totp")
	if setup == nil {
		t.Fatalf("no set-up form\n%s", body)
	}
	resp, body = e.post(c, setup.Action.String(), setup.Values(nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "img-src 'self' data:") ||
		!strings.Contains(body, `<img src="data:image/png;base64,`) {
		t.Fatalf("set-up page: %d, CSP %q\n%.400s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	secret := regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`).FindStringSubmatch(body)[1]
	pg, _ = formdriver.Parse(nil, []byte(body))
	confirm := pg.Form("code")
	resp, _ = e.post(c, confirm.Action.String(), confirm.Values(url.Values{"code": {appCode(t, secret, e.clock.Now().Add(-time.Hour))}}))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong confirming code: %d", resp.StatusCode)
	}
	// The refused attempt showed a new key; the first one is gone.
	resp, body = e.post(c, confirm.Action.String(), confirm.Values(url.Values{"code": {appCode(t, secret, e.clock.Now())}}))
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("confirming a replaced set-up: %d\n%s", resp.StatusCode, body)
	}
	resp, body = e.post(c, setup.Action.String(), setup.Values(nil))
	secret = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`).FindStringSubmatch(body)[1]
	pg, _ = formdriver.Parse(nil, []byte(body))
	confirm = pg.Form("code")
	resp, body = e.post(c, confirm.Action.String(), confirm.Values(url.Values{"code": {appCode(t, secret, e.clock.Now())}}))
	if n := len(regexp.MustCompile(`<li><code>[a-z2-7]{5}-[a-z2-7]{5}</code></li>`).FindAllString(body, -1)); resp.StatusCode != http.StatusOK || n != 10 {
		t.Fatalf("after confirming: %d, %d recovery codes\n%s", resp.StatusCode, n, body)
	}
	ls, err := e.store.GetLoginSession(context.Background(), storeID(e.sessionCookie(c).Value), e.clock.Now())
	if err != nil || ls.ACR != domain.ACRMultiFactor {
		t.Fatalf("session after enrolment %+v, %v", ls, err)
	}

	// Turning it off an hour later needs the password.
	e.clock.Advance(time.Hour)
	_, body = e.get(c, "/security")
	if !strings.Contains(body, `name="password"`) {
		t.Fatalf("an old session is not asked for the password\n%s", body)
	}
	pg, _ = formdriver.Parse(nil, []byte(body))
	off := pg.FormWithButton("disable", "totp")
	resp, _ = e.post(c, off.Action.String(), off.Values(url.Values{"password": {"not the password"}}))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("turn off with a wrong password: %d", resp.StatusCode)
	}
	resp, _ = e.post(c, off.Action.String(), off.Values(url.Values{"password": {testPassword}}))
	if st, _ := e.svc.MFAState(context.Background(), u); resp.StatusCode != http.StatusOK || st.Enrolled() {
		t.Fatalf("turn off with the password: %d, enrolled %v", resp.StatusCode, st.Enrolled())
	}
}

// TestPolicySendsToEnrolment: a user whose role requires MFA and who has
// none gets the set-up page as the second step.
func TestPolicySendsToEnrolment(t *testing.T) {
	e := newMFAEnv(t, "admin")
	h, err := testPasswords.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	err = e.store.CreateUser(context.Background(), store.User{ID: newID("root"), Username: "root", Email: "root@example.com",
		PasswordHash: h, Status: store.StatusActive, Roles: []string{"admin"}, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c := e.browser()
	resp, _ := e.login(c, "root", testPassword, "/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/mfa" || e.sessionCookie(c) != nil {
		t.Fatalf("admin after the password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body := e.get(c, "/login/mfa")
	if !strings.Contains(body, "needs two-step verification") || !strings.Contains(body, `name="factor_id"`) {
		t.Fatalf("not the set-up page\n%s", body)
	}
}
