package consent_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
)

const postLogoutURI = "https://web.example/signed-out"

// logoutEnv has alice signed in with a grant of client "web", and bob.
type logoutEnv struct {
	*env
	alice, bob store.User
	browser    *http.Client
	sessionID  string
}

func newLogoutEnv(t *testing.T) *logoutEnv {
	e := newEnv(t, false)
	le := &logoutEnv{env: e}
	le.alice = e.createUser("alice", "alice@example.com", store.StatusActive)
	le.bob = e.createUser("bob", "bob@example.com", store.StatusActive)
	e.createClient("web", postLogoutURI, "https://web.example/other")
	e.createClient("other", "https://other.example/bye")
	le.browser, le.sessionID = e.signIn(le.alice)
	e.createGrant("web", le.alice, le.sessionID, "tok-web")
	return le
}

func (e *env) hintFor(u store.User, aud string) string {
	now := e.clock.Now()
	return e.idToken(map[string]any{
		"iss": testIssuer, "sub": u.ID, "aud": aud,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
}

func endSessionPath(params url.Values) string { return "/oauth2/logout?" + params.Encode() }

func (le *logoutEnv) assertSignedIn(t *testing.T) {
	t.Helper()
	if !le.sessionExists(le.sessionID) {
		t.Error("session ended, want it kept")
	}
	if !le.tokenActive("tok-web") {
		t.Error("token revoked, want it active")
	}
}

func (le *logoutEnv) assertSignedOut(t *testing.T) {
	t.Helper()
	if le.sessionExists(le.sessionID) {
		t.Error("session still exists")
	}
	if le.tokenActive("tok-web") {
		t.Error("token of the session still active")
	}
	if le.env.sessionCookie(le.browser) != nil {
		t.Error("session cookie not cleared")
	}
}

func TestEndSessionRedirectsToRegisteredURI(t *testing.T) {
	le := newLogoutEnv(t)
	resp, _ := le.get(le.browser, endSessionPath(url.Values{
		"id_token_hint":            {le.hintFor(le.alice, "web")},
		"post_logout_redirect_uri": {postLogoutURI},
		"state":                    {"s t&ate"},
	}))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Location"), postLogoutURI+"?state=s+t%26ate"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	le.assertSignedOut(t)
}

func TestEndSessionAcceptsExpiredHint(t *testing.T) {
	le := newLogoutEnv(t)
	past := le.clock.Now().Add(-48 * time.Hour)
	hint := le.idToken(map[string]any{
		"iss": testIssuer, "sub": le.alice.ID, "aud": []string{"web"},
		"iat": past.Unix(), "exp": past.Add(time.Hour).Unix(),
	})
	resp, body := le.get(le.browser, endSessionPath(url.Values{"id_token_hint": {hint}}))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You are signed out") {
		t.Fatalf("status = %d\n%s", resp.StatusCode, body)
	}
	le.assertSignedOut(t)
}

func TestEndSessionRefuses(t *testing.T) {
	foreignKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params func(le *logoutEnv) url.Values
	}{
		{"unregistered redirect", func(le *logoutEnv) url.Values {
			return url.Values{"id_token_hint": {le.hintFor(le.alice, "web")}, "post_logout_redirect_uri": {"https://evil.example/"}}
		}},
		{"redirect of another client", func(le *logoutEnv) url.Values {
			return url.Values{"id_token_hint": {le.hintFor(le.alice, "web")}, "post_logout_redirect_uri": {"https://other.example/bye"}}
		}},
		{"redirect that only starts like a registered one", func(le *logoutEnv) url.Values {
			return url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {postLogoutURI + "/../../evil"}}
		}},
		{"redirect without a client", func(le *logoutEnv) url.Values {
			return url.Values{"post_logout_redirect_uri": {postLogoutURI}}
		}},
		{"client_id disagrees with the hint", func(le *logoutEnv) url.Values {
			return url.Values{"id_token_hint": {le.hintFor(le.alice, "web")}, "client_id": {"other"}, "post_logout_redirect_uri": {"https://other.example/bye"}}
		}},
		{"unknown client", func(le *logoutEnv) url.Values {
			return url.Values{"client_id": {"nope"}, "post_logout_redirect_uri": {postLogoutURI}}
		}},
		{"hint signed by another key", func(le *logoutEnv) url.Values {
			sk, _ := le.keys.Signer(t.Context())
			hint := signJWT(t, foreignKey, sk.ID, jose.RS256, map[string]any{"iss": testIssuer, "sub": le.alice.ID, "aud": "web"})
			return url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogoutURI}}
		}},
		{"hint of another issuer", func(le *logoutEnv) url.Values {
			hint := le.idToken(map[string]any{"iss": "https://evil.example", "sub": le.alice.ID, "aud": "web"})
			return url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogoutURI}}
		}},
		{"garbage hint", func(le *logoutEnv) url.Values {
			return url.Values{"id_token_hint": {"not.a.jwt"}, "post_logout_redirect_uri": {postLogoutURI}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			le := newLogoutEnv(t)
			resp, body := le.get(le.browser, endSessionPath(tc.params(le)))
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Errorf("Location = %q", loc)
			}
			if !strings.Contains(body, "Sign-out failed") {
				t.Errorf("not the error page:\n%s", body)
			}
			le.assertSignedIn(t)
		})
	}
}

func TestEndSessionConfirmsForAnotherUser(t *testing.T) {
	le := newLogoutEnv(t)
	params := url.Values{
		"id_token_hint":            {le.hintFor(le.bob, "web")},
		"post_logout_redirect_uri": {postLogoutURI},
		"state":                    {"xyz"},
	}
	resp, body := le.get(le.browser, endSessionPath(params))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want the confirmation page", resp.StatusCode)
	}
	if !strings.Contains(body, "Sign out of gatehouse?") || !strings.Contains(body, `action="/oauth2/logout"`) || !strings.Contains(body, "App web") {
		t.Errorf("not the confirmation page:\n%s", body)
	}
	le.assertSignedIn(t)

	hidden := hiddenFields(body)
	for k := range params {
		if got := hidden[k]; len(got) != 1 || got[0] != params.Get(k) {
			t.Errorf("hidden %s = %q, want %q", k, got, params.Get(k))
		}
	}

	// Posting the form without its CSRF token does nothing.
	form := url.Values{"confirm": {"yes"}}
	for k := range params {
		form.Set(k, params.Get(k))
	}
	resp, _ = le.post(le.browser, "/oauth2/logout", form)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Errorf("confirmation without CSRF: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	le.assertSignedIn(t)

	form.Set("csrf_token", csrfFrom(t, body))
	resp, _ = le.post(le.browser, "/oauth2/logout", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != postLogoutURI+"?state=xyz" {
		t.Fatalf("confirmed: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	le.assertSignedOut(t)
}

func TestEndSessionWithoutHintAsksFirst(t *testing.T) {
	le := newLogoutEnv(t)
	resp, body := le.get(le.browser, endSessionPath(url.Values{"client_id": {"web"}, "post_logout_redirect_uri": {postLogoutURI}}))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="confirm"`) {
		t.Fatalf("status = %d, want the confirmation page\n%s", resp.StatusCode, body)
	}
	le.assertSignedIn(t)
}

func TestEndSessionNobodySignedIn(t *testing.T) {
	le := newLogoutEnv(t)
	resp, _ := le.get(le.env.browser(), endSessionPath(url.Values{
		"id_token_hint":            {le.hintFor(le.bob, "web")},
		"post_logout_redirect_uri": {"https://web.example/other"},
	}))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://web.example/other" {
		t.Errorf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	le.assertSignedIn(t) // alice's browser is another one
}

// A relying party's cross-site POST would arrive without our SameSite=Lax
// cookies, so it is turned into a GET that carries them.
func TestEndSessionPOSTBecomesGET(t *testing.T) {
	le := newLogoutEnv(t)
	params := url.Values{
		"id_token_hint":            {le.hintFor(le.alice, "web")},
		"post_logout_redirect_uri": {postLogoutURI},
		"state":                    {"abc"},
	}
	resp, _ := le.post(le.env.browser(), "/oauth2/logout", params)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path != "/oauth2/logout" {
		t.Fatalf("Location = %q", resp.Header.Get("Location"))
	}
	for k := range params {
		if loc.Query().Get(k) != params.Get(k) {
			t.Errorf("%s not carried over", k)
		}
	}
	le.assertSignedIn(t)

	resp, _ = le.get(le.browser, loc.String())
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != postLogoutURI+"?state=abc" {
		t.Fatalf("GET: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	le.assertSignedOut(t)
}
