package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
)

var (
	totpSecretRE   = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	recoveryCodeRE = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// totpAt is the code of secret at t, as an authenticator app computes it.
func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authClaims are the ID token's authentication claims.
type authClaims struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

func claimsOf(t *testing.T, idt *oidc.IDToken) authClaims {
	t.Helper()
	var c authClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantAuth(t *testing.T, what string, idt *oidc.IDToken, amr []string, acr string) {
	t.Helper()
	c := claimsOf(t, idt)
	if !slices.Equal(c.AMR, amr) || c.ACR != acr {
		t.Fatalf("%s: ID token amr %q acr %q, want %q %q", what, c.AMR, c.ACR, amr, acr)
	}
}

// passwordStep opens the authorization request in browser, signs in with
// u's password and returns the page the sign-in continues to.
func passwordStep(t *testing.T, browser *http.Client, ar authRequest, u testUser) page {
	t.Helper()
	pg := readPage(t, get(t, browser, ar.URL))
	return readPage(t, submit(t, browser, loginForm(t, pg), url.Values{"username": {u.Username}, "password": {u.Password}}))
}

// finishAuthorize follows an authorization from resp (the answer to the
// last sign-in step) to the relying party's callback, allowing on the
// consent page, and returns the code.
func finishAuthorize(t *testing.T, browser *http.Client, rp *relyingParty, ar authRequest, resp *http.Response) string {
	t.Helper()
	for step := 0; step < 4; step++ {
		if isRedirect(resp.StatusCode) {
			loc := location(t, resp)
			closeBody(resp)
			if !strings.HasPrefix(loc.String(), rp.Client.RedirectURIs[0]) || loc.Query().Get("state") != ar.State {
				t.Fatalf("redirected to %s, want the redirect URI with the state", loc.Redacted())
			}
			code := loc.Query().Get("code")
			if code == "" {
				t.Fatalf("no code in the callback: %s", loc.Query().Get("error_description"))
			}
			rp.ts.secret(code)
			return code
		}
		pg := readPage(t, resp)
		if pg.FormWithButton("decision", "allow") == nil {
			t.Fatalf("unexpected page: status %d at %s, title %q\n%s", pg.Status, pg.URL, pg.Title, snippet(pg.Body))
		}
		resp = consent(t, browser, pg, "allow")
	}
	t.Fatal("authorization did not reach the callback")
	return ""
}

// submitCode answers the second-step page pg with value in the field.
func submitCode(t *testing.T, browser *http.Client, pg page, field, value string) *http.Response {
	t.Helper()
	f := pg.Form(field)
	if f == nil {
		t.Fatalf("no form with %s on %s (status %d, title %q)\n%s", field, pg.URL.Redacted(), pg.Status, pg.Title, snippet(pg.Body))
	}
	if f.Fields.Get("csrf_token") == "" {
		t.Fatalf("the %s form has no CSRF token", field)
	}
	return submit(t, browser, f, url.Values{field: {value}})
}

// enrolThroughPage sets up an authenticator app on the security page in a
// signed-in browser and returns the app's secret and the recovery codes.
func enrolThroughPage(t *testing.T, ts *testServer, browser *http.Client) (string, []string) {
	t.Helper()
	pg := readPage(t, get(t, browser, ts.endpoint("/security")))
	if pg.Status != http.StatusOK || !strings.Contains(pg.Body, "Account security") {
		t.Fatalf("security page: status %d\n%s", pg.Status, snippet(pg.Body))
	}
	setup := pg.FormWithButton("setup", "totp")
	if setup == nil {
		t.Fatalf("no set-up button on the security page\n%s", snippet(pg.Body))
	}
	pg = readPage(t, submit(t, browser, setup, nil))
	var after page
	return confirmSetup(t, ts, browser, pg, &after)
}

// confirmSetup reads the set-up page pg (QR code and key), confirms it
// with the app's current code and returns the secret and the recovery
// codes the next page shows.
func confirmSetup(t *testing.T, ts *testServer, browser *http.Client, pg page, after *page) (string, []string) {
	t.Helper()
	m := totpSecretRE.FindStringSubmatch(pg.Body)
	if pg.Status != http.StatusOK || m == nil {
		t.Fatalf("set-up page: status %d, no key\n%s", pg.Status, snippet(pg.Body))
	}
	secret := m[1]
	ts.secret(secret)
	if !strings.Contains(pg.Body, `src="data:image/png;base64,`) {
		t.Fatalf("set-up page has no inline QR code image")
	}
	if csp := pg.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") {
		t.Fatalf("set-up page CSP %q does not allow its data: image", csp)
	}
	if pg.Form("code") == nil || pg.Form("code").Fields.Get("factor_id") == "" {
		t.Fatalf("set-up page has no confirming form with the factor id")
	}
	pg = readPage(t, submitCode(t, browser, pg, "code", totpAt(t, secret, time.Now())))
	*after = pg
	var codes []string
	for _, m := range recoveryCodeRE.FindAllStringSubmatch(pg.Body, -1) {
		codes = append(codes, m[1])
	}
	if pg.Status != http.StatusOK || len(codes) != domain.RecoveryCodeCount {
		t.Fatalf("after confirming: status %d, %d recovery codes\n%s", pg.Status, len(codes), snippet(pg.Body))
	}
	ts.secret(codes...)
	return secret, codes
}

// TestTOTPSignIn: a user sets up an authenticator app through the pages;
// the next sign-in asks for a code after the password, the ID token says
// so (amr pwd+otp, acr aal2), a code works once, a recovery code works
// once, and five wrong codes end the attempt.
func TestTOTPSignIn(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	u := ts.createUser(t, "user")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))

	// Password only, before any factor: aal1.
	_, idt, browser := rp.signIn(t, u)
	wantAuth(t, "password sign-in", idt, []string{"pwd"}, "aal1")

	secret, codes := enrolThroughPage(t, ts, browser)
	factors, err := ts.Store.ListMFAFactors(ctxT(t), u.ID)
	if err != nil || len(factors) != 1 || !factors[0].Active() || factors[0].Kind != store.FactorTOTP {
		t.Fatalf("stored factors: %+v, %v", factors, err)
	}
	if strings.Contains(string(factors[0].SecretEnc), secret) {
		t.Fatal("the TOTP secret is stored in the clear")
	}
	pg := readPage(t, get(t, browser, ts.endpoint("/security")))
	if !strings.Contains(pg.Body, "10 unused recovery codes") {
		t.Fatalf("security page after set-up:\n%s", snippet(pg.Body))
	}

	// The next step's code (the current one confirmed the app): accepted
	// within the ±1 step window.
	code := totpAt(t, secret, time.Now().Add(30*time.Second))
	ts.secret(code)
	b := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	pg = passwordStep(t, b, ar, u)
	if pg.URL.Path != "/login/mfa" || !strings.Contains(pg.Body, "Authentication code") || pg.Form("code") == nil {
		t.Fatalf("after the password: %s status %d\n%s", pg.URL.Path, pg.Status, snippet(pg.Body))
	}
	// No login session yet: the authorization sends the browser back to
	// the login page.
	probe := readPage(t, get(t, b, ar.URL))
	if probe.Form("password") == nil {
		t.Fatalf("authorization after the password alone did not ask to sign in: %s\n%s", probe.URL, snippet(probe.Body))
	}
	pg = readPage(t, get(t, b, ts.endpoint("/login/mfa")))
	tok := rp.exchange(t, finishAuthorize(t, b, rp, ar, submitCode(t, b, pg, "code", code)), ar)
	wantAuth(t, "TOTP sign-in", rp.verifyIDToken(t, tok, ar.Nonce), []string{"pwd", "otp"}, "aal2")
	sessions, err := ts.Store.ListLoginSessions(ctxT(t), u.ID, time.Now())
	if err != nil || len(sessions) == 0 || sessions[0].ACR != "aal2" || !slices.Equal(sessions[0].AMR, []string{"pwd", "otp"}) {
		t.Fatalf("newest login session: %+v, %v", sessions, err)
	}

	// The same code again, in another sign-in: refused.
	b = ts.newBrowser(t)
	ar = rp.newAuthRequest(t, false)
	pg = passwordStep(t, b, ar, u)
	pg = readPage(t, submitCode(t, b, pg, "code", code))
	if pg.Status != http.StatusUnauthorized || !strings.Contains(pg.Body, "Invalid authentication code") {
		t.Fatalf("replayed code: status %d\n%s", pg.Status, snippet(pg.Body))
	}
	// A recovery code instead: works, amr pwd+mfa.
	pg = readPage(t, get(t, b, ts.endpoint("/login/mfa?recovery=1")))
	tok = rp.exchange(t, finishAuthorize(t, b, rp, ar, submitCode(t, b, pg, "recovery_code", codes[0])), ar)
	wantAuth(t, "recovery code sign-in", rp.verifyIDToken(t, tok, ar.Nonce), []string{"pwd", "mfa"}, "aal2")

	// The same recovery code again: refused.
	b = ts.newBrowser(t)
	ar = rp.newAuthRequest(t, false)
	pg = passwordStep(t, b, ar, u)
	pg = readPage(t, get(t, b, ts.endpoint("/login/mfa?recovery=1")))
	pg = readPage(t, submitCode(t, b, pg, "recovery_code", codes[0]))
	if pg.Status != http.StatusUnauthorized || pg.Form("recovery_code") == nil {
		t.Fatalf("reused recovery code: status %d\n%s", pg.Status, snippet(pg.Body))
	}

	// Five wrong codes end the attempt: back to the password.
	b = ts.newBrowser(t)
	ar = rp.newAuthRequest(t, false)
	pg = passwordStep(t, b, ar, u)
	wrong := totpAt(t, secret, time.Now().Add(-time.Hour))
	for i := 1; i < domain.MFAMaxAttempts; i++ {
		pg = readPage(t, submitCode(t, b, pg, "code", wrong))
		if pg.Status != http.StatusUnauthorized || pg.Form("code") == nil {
			t.Fatalf("wrong code %d: status %d\n%s", i, pg.Status, snippet(pg.Body))
		}
	}
	pg = readPage(t, submitCode(t, b, pg, "code", wrong))
	if pg.Status != http.StatusUnauthorized || pg.Form("password") == nil || !strings.Contains(pg.Body, "sign in again") {
		t.Fatalf("fifth wrong code: status %d\n%s", pg.Status, snippet(pg.Body))
	}
	pg = readPage(t, get(t, b, ts.endpoint("/login/mfa")))
	if pg.Form("password") == nil {
		t.Fatalf("the second step is still open after five wrong codes: %s\n%s", pg.URL, snippet(pg.Body))
	}
	// And the account is locked for login.lockout: the right password is
	// refused like a wrong one.
	pg = readPage(t, submit(t, b, loginForm(t, pg), url.Values{"username": {u.Username}, "password": {u.Password}}))
	if pg.Status != http.StatusUnauthorized || pg.Form("password") == nil {
		t.Fatalf("password after an ended attempt: status %d at %s\n%s", pg.Status, pg.URL, snippet(pg.Body))
	}
	var failed int
	entries, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: u.ID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, a := range entries {
		actions[a.Action]++
		if a.Action == "mfa.failed" {
			failed++
		}
	}
	if actions["mfa.enrolled"] != 1 || actions["mfa.recovery_code_used"] != 1 || failed != 2+domain.MFAMaxAttempts ||
		actions["user.lock"] != 1 {
		t.Fatalf("audit actions: %v", actions)
	}

	// Turning the app off: the session is fresh, no password needed.
	pg = readPage(t, get(t, browser, ts.endpoint("/security")))
	off := pg.FormWithButton("disable", "totp")
	if off == nil {
		t.Fatalf("no turn-off button\n%s", snippet(pg.Body))
	}
	pg = readPage(t, submit(t, browser, off, nil))
	if pg.Status != http.StatusOK || !strings.Contains(pg.Body, "turned off") {
		t.Fatalf("turn off: status %d\n%s", pg.Status, snippet(pg.Body))
	}
	if f, _ := ts.Store.ListMFAFactors(ctxT(t), u.ID); len(f) != 0 {
		t.Fatalf("factors after turning off: %d", len(f))
	}
}

// mfaService is a domain service over ts's store with ts's settings: the
// MFA sealing key derives from the same secret, so what it sets up the
// server can open.
func mfaService(ts *testServer) *domain.Service {
	return domain.NewService(ts.Store, server.DomainOptions(ts.Config, nil))
}

// TestMFAPolicy: with mfa.required_roles [admin], an admin without a factor
// is sent to set one up right after the password and cannot finish the
// authorization otherwise; a user of another role is not.
func TestMFAPolicy(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.MFA.RequiredRoles = []string{"admin"} })
	admin := ts.createUser(t, "admin")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))

	_, idt, _ := rp.signIn(t, ts.createUser(t, "user"))
	wantAuth(t, "user sign-in", idt, []string{"pwd"}, "aal1")

	b := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	pg := passwordStep(t, b, ar, admin)
	if pg.URL.Path != "/login/mfa" || !strings.Contains(pg.Body, "needs two-step verification") {
		t.Fatalf("admin after the password: %s status %d\n%s", pg.URL.Path, pg.Status, snippet(pg.Body))
	}
	// Without enrolling there is no session: the authorization asks for
	// the password again.
	if probe := readPage(t, get(t, b, ar.URL)); probe.Form("password") == nil {
		t.Fatalf("authorization without enrolment did not ask to sign in: %s", probe.URL)
	}
	pg = readPage(t, get(t, b, ts.endpoint("/login/mfa")))
	var after page
	confirmSetup(t, ts, b, pg, &after)
	// The recovery codes page continues to the authorization.
	cont := regexp.MustCompile(`<a class="button primary" href="([^"]+)">Continue</a>`).FindStringSubmatch(after.Body)
	if cont == nil {
		t.Fatalf("no Continue link after enrolment\n%s", snippet(after.Body))
	}
	next, err := after.URL.Parse(html.UnescapeString(cont[1]))
	if err != nil {
		t.Fatal(err)
	}
	tok := rp.exchange(t, finishAuthorize(t, b, rp, ar, get(t, b, next.String())), ar)
	wantAuth(t, "admin after enrolment", rp.verifyIDToken(t, tok, ar.Nonce), []string{"pwd", "otp"}, "aal2")

	// A password-only session (one from before the policy, made here
	// through the domain) does not let an admin skip the second factor.
	other := ts.createUser(t, "admin")
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	value := base64.RawURLEncoding.EncodeToString(raw)
	digest := sha256.Sum256([]byte(value))
	if _, err := mfaService(ts).StartSession(ctxT(t), domain.NewSession{
		ID: hex.EncodeToString(digest[:]), User: other.User, Lifetime: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	b2 := ts.newBrowser(t)
	issuer, _ := url.Parse(ts.URL)
	b2.Jar.SetCookies(issuer, []*http.Cookie{{Name: "gatehouse_session", Value: value, Path: "/"}})
	if pg := readPage(t, get(t, b2, ts.endpoint("/"))); !strings.Contains(pg.Body, other.Username) {
		t.Fatalf("the planted session is not signed in\n%s", snippet(pg.Body))
	}
	ar = rp.newAuthRequest(t, false)
	if probe := readPage(t, get(t, b2, ar.URL)); probe.Form("password") == nil {
		t.Fatalf("an admin's password-only session was let through: %s status %d\n%s", probe.URL, probe.Status, snippet(probe.Body))
	}
}

// TestAcrValuesStepUp: a password-only session is enough for a plain
// request, but acr_values=aal2 sends the user through the login again,
// password and second step, and the ID token then says aal2.
func TestAcrValuesStepUp(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	u := ts.createUser(t, "user")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))
	_, idt, browser := rp.signIn(t, u)
	wantAuth(t, "password sign-in", idt, []string{"pwd"}, "aal1")

	// An authenticator app set up outside this browser: its session stays
	// a password one.
	svc := mfaService(ts)
	en, err := svc.BeginTOTPEnrolment(ctxT(t), u.User)
	if err != nil {
		t.Fatal(err)
	}
	ts.secret(en.Secret)
	a := domain.Actor{Type: store.ActorUser, ID: u.ID}
	recovery, err := svc.ConfirmTOTPEnrolment(ctxT(t), a, u.ID, en.FactorID, totpAt(t, en.Secret, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	ts.secret(recovery...)

	// No acr_values: single sign-on as before.
	ar := rp.newAuthRequest(t, false)
	if res := rp.authorize(t, browser, ar, nil); res.SawLogin {
		t.Fatal("a plain request asked to sign in again")
	}

	ar = rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("acr_values", "aal2"))
	pg := passwordStep(t, browser, ar, u)
	if pg.URL.Path != "/login/mfa" || pg.Form("code") == nil {
		t.Fatalf("step-up after the password: %s status %d\n%s", pg.URL.Path, pg.Status, snippet(pg.Body))
	}
	code := totpAt(t, en.Secret, time.Now().Add(30*time.Second))
	ts.secret(code)
	tok := rp.exchange(t, finishAuthorize(t, browser, rp, ar, submitCode(t, browser, pg, "code", code)), ar)
	wantAuth(t, "after step-up", rp.verifyIDToken(t, tok, ar.Nonce), []string{"pwd", "otp"}, "aal2")

	// Now the session is aal2: acr_values=aal2 needs no new login.
	ar = rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("acr_values", "aal2"))
	if res := rp.authorize(t, browser, ar, nil); res.SawLogin {
		t.Fatal("an aal2 session was asked to sign in again for aal2")
	}

	// max_age=0 asks for a fresh sign-in: password and second step again.
	ar = rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("max_age", "0"))
	pg = passwordStep(t, browser, ar, u)
	if pg.URL.Path != "/login/mfa" || pg.Form("code") == nil {
		t.Fatalf("max_age=0 after the password: %s status %d\n%s", pg.URL.Path, pg.Status, snippet(pg.Body))
	}
	// (A recovery code: the app's next code was used a moment ago.)
	pg = readPage(t, get(t, browser, ts.endpoint("/login/mfa?recovery=1")))
	tok = rp.exchange(t, finishAuthorize(t, browser, rp, ar, submitCode(t, browser, pg, "recovery_code", recovery[0])), ar)
	idt = rp.verifyIDToken(t, tok, ar.Nonce)
	wantAuth(t, "after max_age=0", idt, []string{"pwd", "mfa"}, "aal2")
	var at struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&at); err != nil || time.Since(time.Unix(at.AuthTime, 0)) > time.Minute {
		t.Fatalf("auth_time %d is not the fresh sign-in (%v)", at.AuthTime, err)
	}

	// A user without any factor asked for aal2 is sent to set one up.
	v := ts.createUser(t, "user")
	b := ts.newBrowser(t)
	ar = rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("acr_values", "aal2"))
	pg = passwordStep(t, b, ar, v)
	if pg.URL.Path != "/login/mfa" || pg.Form("code") == nil || pg.Form("code").Fields.Get("factor_id") == "" {
		t.Fatalf("aal2 for a user without a factor: %s status %d\n%s", pg.URL.Path, pg.Status, snippet(pg.Body))
	}
}
