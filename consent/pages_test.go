package consent_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/store"
)

func TestNewValidatesOptions(t *testing.T) {
	e := newEnv(t, false)
	good := consent.Options{CSRFKey: make([]byte, 32), BindingKey: make([]byte, 32), Issuer: testIssuer}
	for _, tc := range []struct {
		name    string
		opts    consent.Options
		wantErr bool
	}{
		{"ok", good, false},
		{"short CSRF key", consent.Options{CSRFKey: make([]byte, 31), BindingKey: make([]byte, 32)}, true},
		{"short binding key", consent.Options{CSRFKey: make([]byte, 32), BindingKey: make([]byte, 31)}, true},
		{"negative lifetime", consent.Options{CSRFKey: make([]byte, 32), BindingKey: make([]byte, 32), SessionLifetime: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := consent.New(e.svc, e.keys, tc.opts)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if _, err := consent.New(e.svc, nil, good); err == nil {
		t.Error("nil key manager accepted")
	}
	if _, err := consent.New(nil, e.keys, good); err == nil {
		t.Error("nil domain service accepted")
	}
}

func TestRenderConsent(t *testing.T) {
	e := newEnv(t, false)
	rec := httptest.NewRecorder()
	e.pages.RenderConsent(rec, httptest.NewRequest(http.MethodGet, "/oauth2/auth?client_id=web", nil), consent.ConsentRequest{
		ClientID:   "web",
		ClientName: "Trading <Desk>",
		Scopes:     []string{"openid", "email", "custom:read"},
		Session:    &consent.Session{ID: "s1", User: store.User{Username: "alice", Email: "alice@example.com"}},
		Request:    `client_id=web&state=a"b<c>&d&decision=allow&csrf_token=attacker`,
	})
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	for _, want := range []string{
		"Trading &lt;Desk&gt;",
		"alice",
		"alice@example.com",
		"Sign you in with your gatehouse account",
		"See your email address",
		"custom:read",
		`<form method="post" action="/oauth2/auth/consent">`,
		`<button type="submit" name="decision" value="allow"`,
		`<button type="submit" name="decision" value="deny"`,
		`<html lang="en">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(body, "Trading <Desk>") {
		t.Error("client name not escaped")
	}
	hidden := hiddenFields(body)
	if got := hidden["request"]; len(got) != 1 || got[0] != `client_id=web&state=a"b<c>&d&decision=allow&csrf_token=attacker` {
		t.Errorf("request = %q, want the request verbatim", got)
	}
	if got := hidden["binding"]; len(got) != 1 || len(got[0]) != 43 {
		t.Errorf("binding = %q, want one base64url HMAC-SHA256", got)
	}
	if got := hidden["csrf_token"]; len(got) != 1 || got[0] == "attacker" || got[0] == "" {
		t.Errorf("csrf_token = %q, want only ours", got)
	}
	if _, ok := hidden["decision"]; ok {
		t.Error("a hidden decision field shadows the buttons")
	}
	if cookieNamed(rec.Result().Cookies(), "gatehouse_csrf") == nil {
		t.Error("no CSRF cookie set")
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Error("consent page can be framed")
	}
}

// The token a consent page carries passes VerifyCSRF with its cookie, and
// only with it.
func TestVerifyCSRF(t *testing.T) {
	e := newEnv(t, false)
	rec := httptest.NewRecorder()
	e.pages.RenderConsent(rec, httptest.NewRequest(http.MethodGet, "/", nil), consent.ConsentRequest{ClientID: "web", Session: &consent.Session{ID: "s1"}})
	cookie := cookieNamed(rec.Result().Cookies(), "gatehouse_csrf")
	token := csrfFrom(t, rec.Body.String())

	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		token  string
		ok     bool
	}{
		{"match", cookie, token, true},
		{"no cookie", nil, token, false},
		{"no token", cookie, "", false},
		{"wrong token", cookie, token[:len(token)-2] + "AA", false},
		{"other cookie", &http.Cookie{Name: "gatehouse_csrf", Value: strings.Repeat("A", 43)}, token, false},
		{"token as cookie", &http.Cookie{Name: "gatehouse_csrf", Value: token}, token, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/oauth2/auth", strings.NewReader(url.Values{"csrf_token": {tc.token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			if err := req.ParseForm(); err != nil {
				t.Fatal(err)
			}
			if err := e.pages.VerifyCSRF(req); (err == nil) != tc.ok {
				t.Errorf("VerifyCSRF = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRenderErrorNeverRedirects(t *testing.T) {
	e := newEnv(t, false)
	for _, status := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusInternalServerError} {
		rec := httptest.NewRecorder()
		rec.Header().Set("Location", "https://evil.example/")
		e.pages.RenderError(rec, httptest.NewRequest(http.MethodGet, "/oauth2/auth", nil), status, "Request <refused>", "The client <b>x</b> is unknown.")
		if rec.Code != status {
			t.Errorf("status = %d, want %d", rec.Code, status)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			t.Errorf("Location = %q on an error page", loc)
		}
		body := rec.Body.String()
		if !strings.Contains(body, "Request &lt;refused&gt;") || !strings.Contains(body, "The client &lt;b&gt;x&lt;/b&gt; is unknown.") {
			t.Errorf("title or message missing or unescaped:\n%s", body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Error("error page cacheable")
		}
	}
}

func TestLogoutPage(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	e.createClient("web")
	c, sid := e.signIn(u)
	e.createGrant("web", u, sid, "tok-1")

	resp, body := e.get(c, "/logout")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Sign out of gatehouse?") || !strings.Contains(body, "alice") {
		t.Fatalf("logout page: status %d\n%s", resp.StatusCode, body)
	}
	token := csrfFrom(t, body)

	// Without the token nothing happens.
	resp, body = e.post(c, "/logout", url.Values{})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF: status %d, want 403", resp.StatusCode)
	}
	if !strings.Contains(body, "Your session expired, please try again") {
		t.Error("no CSRF message")
	}
	if !e.sessionExists(sid) || !e.tokenActive("tok-1") {
		t.Fatal("POST without CSRF signed out")
	}

	resp, body = e.post(c, "/logout", url.Values{"csrf_token": {token}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are signed out") {
		t.Fatalf("POST with CSRF: status %d\n%s", resp.StatusCode, body)
	}
	if e.sessionExists(sid) {
		t.Error("session still exists")
	}
	if e.tokenActive("tok-1") {
		t.Error("token of the session still active")
	}
	if e.sessionCookie(c) != nil {
		t.Error("session cookie not cleared")
	}
}

func TestHomePage(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)

	_, body := e.get(e.browser(), "/")
	if !strings.Contains(body, `href="/login"`) || strings.Contains(body, "alice") {
		t.Errorf("signed-out home page:\n%s", body)
	}
	c, _ := e.signIn(u)
	_, body = e.get(c, "/")
	if !strings.Contains(body, "alice") || !strings.Contains(body, `href="/logout"`) {
		t.Errorf("signed-in home page:\n%s", body)
	}
}

func TestStylesheet(t *testing.T) {
	e := newEnv(t, false)
	resp, body := e.get(e.browser(), "/static/style.css")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.Contains(body, ":focus-visible") || !strings.Contains(body, ".card") {
		t.Error("stylesheet lacks focus outlines or the card layout")
	}
}

// Every page is a complete, labelled document without scripts.
func TestPagesAreAccessible(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("alice", "alice@example.com", store.StatusActive)
	c, _ := e.signIn(u)
	for _, path := range []string{"/", "/login", "/logout", "/oauth2/logout"} {
		resp, body := e.get(c, path)
		if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "<title>") {
			t.Errorf("%s: no lang or title", path)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, " style=") {
			t.Errorf("%s: inline script or style", path)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no CSP", path)
		}
	}
}

// TestHomeNamesProductOnce: the start page's visible text says "gatehouse"
// once (the brand line), whether or not someone is signed in.
func TestHomeNamesProductOnce(t *testing.T) {
	e := newEnv(t, false)
	u := e.createUser("hannah", "hannah@example.com", store.StatusActive)
	signedIn, _ := e.signIn(u)
	for name, c := range map[string]*http.Client{"anonymous": e.browser(), "signed in": signedIn} {
		resp, body := e.get(c, "/")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", name, resp.StatusCode)
		}
		visible := body[strings.Index(body, "<body>"):]
		if n := strings.Count(visible, "gatehouse"); n != 1 {
			t.Errorf("%s: the page body names gatehouse %d times, want once:\n%s", name, n, visible)
		}
	}
}
