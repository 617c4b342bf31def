package consent_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func TestLoginPageRendersForm(t *testing.T) {
	e := newEnv(t, false)
	c := e.browser()
	resp, body := e.get(c, "/login?return_to="+url.QueryEscape("/oauth2/auth?client_id=web&state=x"))

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{
		`<html lang="en">`,
		`<title>Sign in · gatehouse</title>`,
		`<label for="username">`,
		`name="username" type="text" autocomplete="username"`,
		`<label for="password">`,
		`name="password" type="password" autocomplete="current-password"`,
		`<button type="submit"`,
		`<form method="post" action="/login">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("login page has a script")
	}
	csrfFrom(t, body)
	if got := hiddenFields(body)["return_to"]; len(got) != 1 || got[0] != "/oauth2/auth?client_id=web&state=x" {
		t.Errorf("return_to = %q", got)
	}

	h := resp.Header
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer",
		"Cache-Control":   "no-store",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	csrf := cookieNamed(resp.Cookies(), "gatehouse_csrf")
	if csrf == nil || !csrf.HttpOnly || csrf.SameSite != http.SameSiteStrictMode || csrf.Path != "/" {
		t.Errorf("CSRF cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", csrf)
	}
}

// TestLoginSetsSessionCookie drives the handlers without a jar so that the
// Set-Cookie attributes can be read as sent.
func TestLoginSetsSessionCookie(t *testing.T) {
	for _, tc := range []struct {
		name       string
		secure     bool
		csrfName   string
		cookieName string
	}{
		{"http", false, "gatehouse_csrf", "gatehouse_session"},
		{"https", true, "__Host-gatehouse_csrf", "__Host-gatehouse_session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.secure)
			u := e.createUser("alice", "alice@example.com", store.StatusActive)

			rec := httptest.NewRecorder()
			e.router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
			csrf := cookieNamed(rec.Result().Cookies(), tc.csrfName)
			if csrf == nil {
				t.Fatalf("no %s cookie in %v", tc.csrfName, rec.Result().Cookies())
			}
			if csrf.Secure != tc.secure {
				t.Errorf("CSRF cookie Secure = %v, want %v", csrf.Secure, tc.secure)
			}
			token := csrfFrom(t, rec.Body.String())

			form := url.Values{"username": {"alice"}, "password": {testPassword}, "return_to": {"/oauth2/auth?x=1"}, "csrf_token": {token}}
			req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("User-Agent", strings.Repeat("é", 200)) // 400 bytes
			req.RemoteAddr = "203.0.113.7:4321"
			req.Header.Set("X-Forwarded-For", "198.51.100.1") // no proxy is trusted: ignored
			req.AddCookie(csrf)
			rec = httptest.NewRecorder()
			e.router.ServeHTTP(rec, req)

			if rec.Code != http.StatusSeeOther {
				t.Fatalf("status = %d, want 303; body:\n%s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != "/oauth2/auth?x=1" {
				t.Errorf("Location = %q", got)
			}
			sc := cookieNamed(rec.Result().Cookies(), tc.cookieName)
			if sc == nil {
				t.Fatalf("no %s cookie", tc.cookieName)
			}
			if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure != tc.secure || sc.Domain != "" {
				t.Errorf("session cookie = %+v", sc)
			}
			if sc.MaxAge != int(testLifetime.Seconds()) {
				t.Errorf("MaxAge = %d, want %d", sc.MaxAge, int(testLifetime.Seconds()))
			}
			if len(sc.Value) != 43 {
				t.Errorf("cookie value has %d characters, want 43 (32 bytes base64url)", len(sc.Value))
			}

			now := e.clock.Now()
			ls, err := e.store.GetLoginSession(context.Background(), storeID(sc.Value), now)
			if err != nil {
				t.Fatalf("session row for the cookie: %v", err)
			}
			if ls.UserID != u.ID || !ls.AuthTime.Equal(now) || !ls.ExpiresAt.Equal(now.Add(testLifetime)) {
				t.Errorf("session = %+v", ls)
			}
			if ls.IPAddress != "203.0.113.7" {
				t.Errorf("IP = %q", ls.IPAddress)
			}
			if len(ls.UserAgent) > 256 || !strings.HasPrefix(ls.UserAgent, "éé") || len(ls.UserAgent) < 250 {
				t.Errorf("user agent kept %d bytes", len(ls.UserAgent))
			}
			got, err := e.store.GetUser(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastLoginAt == nil || !got.LastLoginAt.Equal(now) {
				t.Errorf("LastLoginAt = %v, want %v", got.LastLoginAt, now)
			}
		})
	}
}

func TestLoginByEmailAndCase(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	for _, name := range []string{"ALICE", "Alice@Example.COM", "  alice  "} {
		t.Run(name, func(t *testing.T) {
			c := e.browser()
			resp, body := e.login(c, name, testPassword, "/")
			if resp.StatusCode != http.StatusSeeOther || e.sessionCookie(c) == nil {
				t.Fatalf("status = %d, cookie %v; body:\n%s", resp.StatusCode, e.sessionCookie(c), body)
			}
		})
	}
}

func TestSessionIDRotatesAtEveryLogin(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	c := e.browser()

	// A value planted before login (session fixation) must not survive it.
	u, _ := url.Parse(e.srv.URL)
	planted := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: planted, Path: "/"}})

	var values []string
	for i := 0; i < 3; i++ {
		resp, _ := e.login(c, "alice", testPassword, "/")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %d: status %d", i, resp.StatusCode)
		}
		values = append(values, e.sessionCookie(c).Value)
	}
	seen := map[string]bool{planted: true}
	for i, v := range values {
		if seen[v] {
			t.Errorf("login %d reused a session value", i)
		}
		seen[v] = true
	}
	for i, old := range values[:2] {
		if s := e.currentSession(old); s != nil {
			t.Errorf("cookie of login %d still valid after a later login", i)
		}
		if e.sessionExists(storeID(old)) {
			t.Errorf("session row of login %d still exists", i)
		}
	}
	if s := e.currentSession(values[2]); s == nil {
		t.Error("latest cookie is not a session")
	}
}

func TestLoginFailuresLookTheSame(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	e.createUser("dora", "dora@example.com", store.StatusDisabled)
	e.createUser("lena", "lena@example.com", store.StatusLocked)
	c := e.browser()

	var bodies []string
	for _, tc := range []struct{ name, username, password string }{
		{"unknown user", "nobody", testPassword},
		{"wrong password", "alice", "wrong password!"},
		{"disabled user", "dora", testPassword},
		{"locked user", "lena", testPassword},
		{"unknown email", "nobody@example.com", testPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.login(c, tc.username, tc.password, "/")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			if !strings.Contains(body, "Invalid username or password.") {
				t.Error("no failure message")
			}
			if cookieNamed(resp.Cookies(), "gatehouse_session") != nil || e.sessionCookie(c) != nil {
				t.Error("a failed login set a session cookie")
			}
			if strings.Contains(body, tc.password) {
				t.Error("the password was echoed")
			}
			if !strings.Contains(body, `value="`+tc.username+`"`) {
				t.Error("the username was not kept in the form")
			}
			bodies = append(bodies, strings.ReplaceAll(body, tc.username, "USERNAME"))
		})
	}
	for i := 1; i < len(bodies); i++ {
		if bodies[i] != bodies[0] {
			t.Errorf("failure page %d differs from the first:\n%s\n---\n%s", i, bodies[i], bodies[0])
		}
	}
}

// TestLoginLockoutLooksLikeWrongPassword: an address refused after its
// failures gets, with the right password, the page a wrong password gets;
// else it would tell a guesser that the account exists and is being
// refused. The account itself is not locked: that takes the account-wide
// threshold, from many addresses.
func TestLoginLockoutLooksLikeWrongPassword(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("max", "max@example.com", store.StatusActive)
	c := e.browser()
	var wrong string
	for range domain.DefaultLockoutThreshold {
		resp, body := e.login(c, "max", "wrong password!", "/")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
		}
		wrong = body
	}
	stored, err := e.store.GetUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.LockedOut(e.clock.Now()) {
		t.Fatalf("%d wrong passwords from one address locked the account for everyone: locked_until %v", domain.DefaultLockoutThreshold, stored.LockedUntil)
	}
	resp, locked := e.login(c, "max", testPassword, "/")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("right password from the refused address: status %d, want 401", resp.StatusCode)
	}
	if locked != wrong {
		t.Errorf("the locked-out page differs from the wrong-password page:\n%s\n---\n%s", locked, wrong)
	}
}

func TestLoginCSRF(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token func(body string) string
		// fresh drops the CSRF cookie: the token comes from another browser.
		fresh bool
	}{
		{"missing token", func(string) string { return "" }, false},
		{"forged token", func(string) string { return "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, false},
		{"token of another browser", func(body string) string { return csrfFrom(t, body) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			u := e.createUser("alice", "alice@example.com", store.StatusActive)
			c := e.browser()
			_, body := e.get(c, "/login")
			form := url.Values{"username": {"alice"}, "password": {testPassword}, "csrf_token": {tc.token(body)}}
			if tc.fresh {
				c = e.browser()
			}
			resp, body := e.post(c, "/login", form)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403", resp.StatusCode)
			}
			if !strings.Contains(body, "Your session expired, please try again") {
				t.Error("no CSRF message")
			}
			csrfFrom(t, body) // the form is offered again with a token
			if e.sessionCookie(c) != nil {
				t.Error("session cookie set")
			}
			sessions, err := e.store.ListLoginSessions(context.Background(), u.ID, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) != 0 {
				t.Errorf("%d sessions created", len(sessions))
			}
			// The re-rendered form works.
			resp, _ = e.post(c, "/login", url.Values{"username": {"alice"}, "password": {testPassword}, "csrf_token": {csrfFrom(t, body)}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("retry with the fresh token: status %d", resp.StatusCode)
			}
		})
	}
}

func TestLoginOpenRedirect(t *testing.T) {
	e := newEnv(t, false)
	e.createUser("alice", "alice@example.com", store.StatusActive)
	for _, tc := range []struct{ returnTo, want string }{
		{"//evil.example", "/"},
		{"//evil.example/path", "/"},
		{"https://evil.example", "/"},
		{"http://evil.example/", "/"},
		{`/\evil`, "/"},
		{`/\/evil.example`, "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"evil.example", "/"},
		{"", "/"},
		{"/oauth2/auth?client_id=web&state=a%2Fb", "/oauth2/auth?client_id=web&state=a%2Fb"},
		{"/", "/"},
	} {
		t.Run(tc.returnTo, func(t *testing.T) {
			c := e.browser()
			_, body := e.get(c, "/login")
			resp, _ := e.post(c, "/login", url.Values{
				"username": {"alice"}, "password": {testPassword},
				"return_to": {tc.returnTo}, "csrf_token": {csrfFrom(t, body)},
			})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Location"); got != tc.want {
				t.Errorf("Location = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedirectToLogin(t *testing.T) {
	e := newEnv(t, false)
	for _, tc := range []struct{ returnTo, want string }{
		{"/oauth2/auth?client_id=web&scope=openid", "/login?return_to=%2Foauth2%2Fauth%3Fclient_id%3Dweb%26scope%3Dopenid"},
		{"https://evil.example/", "/login?return_to=%2F"},
		{"//evil.example", "/login?return_to=%2F"},
	} {
		rec := httptest.NewRecorder()
		e.pages.RedirectToLogin(rec, httptest.NewRequest(http.MethodGet, "/oauth2/auth", nil), tc.returnTo)
		if rec.Code != http.StatusSeeOther {
			t.Errorf("%q: status = %d, want 303", tc.returnTo, rec.Code)
		}
		if got := rec.Header().Get("Location"); got != tc.want {
			t.Errorf("%q: Location = %q, want %q", tc.returnTo, got, tc.want)
		}
	}
}

func TestLoginRehashesOldPasswordHash(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	old, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost+1)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = string(old)
	if err := e.store.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.login(e.browser(), "alice", testPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login status %d", resp.StatusCode)
	}
	got, err := e.store.GetUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := bcrypt.Cost([]byte(got.PasswordHash))
	if err != nil || cost != bcrypt.MinCost {
		t.Errorf("hash cost = %d (%v), want %d", cost, err, bcrypt.MinCost)
	}
	if ok, _ := testPasswords.Verify(got.PasswordHash, testPassword); !ok {
		t.Error("new hash does not verify the password")
	}
}

// Signing in as someone else on a shared browser ends the previous user's
// session like a logout; re-authenticating as the same user keeps its tokens.
func TestLoginReplacesPreviousSession(t *testing.T) {
	e := newEnv(t, false)
	alice := e.createUser("alice", "alice@example.com", store.StatusActive)
	e.createUser("bob", "bob@example.com", store.StatusActive)
	e.createClient("web")

	c, sid := e.signIn(alice)
	e.createGrant("web", alice, sid, "tok-1")
	if resp, _ := e.login(c, "alice", testPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("re-login failed")
	}
	if !e.tokenActive("tok-1") {
		t.Error("re-authenticating as the same user revoked its tokens")
	}
	sid2 := storeID(e.sessionCookie(c).Value)
	e.createGrant("web", alice, sid2, "tok-2")
	if resp, _ := e.login(c, "bob", testPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("login as bob failed")
	}
	if e.tokenActive("tok-2") {
		t.Error("alice's token survived bob signing in on the same browser")
	}
	if s := e.currentSession(e.sessionCookie(c).Value); s == nil || s.User.Username != "bob" {
		t.Errorf("session = %+v, want bob", s)
	}
}
