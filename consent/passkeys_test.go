package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/store"
)

func newPasskeyEnv(t *testing.T) *env {
	t.Helper()
	cfg, err := domain.DefaultPasskeyConfig(testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, envOptions{domain: domain.Options{Passkeys: cfg}})
}

var dataCSRF = regexp.MustCompile(`data-csrf="([^"]+)"`)

func pageCSRF(t testing.TB, body string) string {
	t.Helper()
	m := dataCSRF.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no data-csrf on the page:\n%s", body)
	}
	return m[1]
}

// postJSON posts body as the script does, with the CSRF header when csrf
// is not empty.
func (e *env) postJSON(c *http.Client, path, csrf string, body any) (*http.Response, []byte) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.url(path), bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, out
}

// addPasskey registers a new software passkey through the security page.
func (e *env) addPasskey(c *http.Client, name string) *softauthn.Key {
	e.t.Helper()
	resp, body := e.get(c, "/security")
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /security: %d", resp.StatusCode)
	}
	csrf := pageCSRF(e.t, body)
	resp, opts := e.postJSON(c, "/passkeys/register/begin", csrf, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("register/begin: %d %s", resp.StatusCode, opts)
	}
	key, err := softauthn.New(testIssuer)
	if err != nil {
		e.t.Fatal(err)
	}
	cred, err := key.Create(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, out := e.postJSON(c, "/passkeys/register/finish", csrf, map[string]any{"name": name, "credential": json.RawMessage(cred)})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"redirect":"/security?notice=added"`) {
		e.t.Fatalf("register/finish: %d %s", resp.StatusCode, out)
	}
	return key
}

// passkeyLogin signs in with key from the login page of a fresh browser
// and returns the browser and the finish answer.
func (e *env) passkeyLogin(key *softauthn.Key, returnTo string) (*http.Client, *http.Response, []byte) {
	e.t.Helper()
	c := e.browser()
	resp, body := e.get(c, "/login?return_to="+url.QueryEscape(returnTo))
	if !strings.Contains(body, "Sign in with a passkey") {
		e.t.Fatalf("login page offers no passkey:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		e.t.Errorf("login page CSP = %q, want script-src 'self' and no unsafe-inline", csp)
	}
	csrf := pageCSRF(e.t, body)
	resp, opts := e.postJSON(c, "/passkeys/login/begin", csrf, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login/begin: %d %s", resp.StatusCode, opts)
	}
	assertion, err := key.Get(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, out := e.postJSON(c, "/passkeys/login/finish", csrf, map[string]any{"return_to": returnTo, "credential": json.RawMessage(assertion)})
	return c, resp, out
}

func TestPasskeyPagesRegisterAndSignIn(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	c, _ := e.signIn(u)

	resp, body := e.get(c, "/security")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "You have no passkeys yet") {
		t.Fatalf("security page: %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("security page CSP = %q", csp)
	}
	key := e.addPasskey(c, "Work laptop")
	_, body = e.get(c, "/security?notice=added")
	if !strings.Contains(body, "Work laptop") || !strings.Contains(body, "Passkey added.") || !strings.Contains(body, "Last used Never") {
		t.Fatalf("security page after adding:\n%s", body)
	}

	e.clock.Advance(time.Minute)
	c2, resp, out := e.passkeyLogin(key, "/oauth2/auth?client_id=x")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"redirect":"/oauth2/auth?client_id=x"`) {
		t.Fatalf("login/finish: %d %s", resp.StatusCode, out)
	}
	sc := e.sessionCookie(c2)
	if sc == nil {
		t.Fatal("no session cookie after the passkey sign-in")
	}
	sess := e.currentSession(sc.Value)
	if sess == nil || sess.User.ID != u.ID || !slices.Equal(sess.AMR, []string{"hwk", "user"}) || sess.ACR != "aal2" {
		t.Fatalf("session after the passkey sign-in = %+v", sess)
	}
	list, _ := e.svc.ListPasskeys(context.Background(), u.ID)
	if len(list) != 1 || list[0].LastUsedAt == nil {
		t.Fatalf("passkeys after use = %+v", list)
	}
}

func TestPasskeyEndpointsRefuse(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	c, _ := e.signIn(u)
	// No CSRF header, or a wrong one: refused before anything happens.
	for _, token := range []string{"", "forged"} {
		resp, out := e.postJSON(c, "/passkeys/register/begin", token, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("register/begin with CSRF %q: %d %s", token, resp.StatusCode, out)
		}
	}
	// Registration needs a session.
	anon := e.browser()
	_, lb := e.get(anon, "/login")
	resp, out := e.postJSON(anon, "/passkeys/register/begin", pageCSRF(t, lb), nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("register/begin without a session: %d %s", resp.StatusCode, out)
	}
	// The security page itself sends a stranger to the login page.
	resp, _ = e.get(anon, "/security")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?return_to=%2Fsecurity") {
		t.Errorf("GET /security signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// A finished ceremony cannot be finished again: the same answer,
	// replayed with the ceremony cookie put back, is refused.
	key := e.addPasskey(c, "Laptop")
	b2 := e.browser()
	_, lb = e.get(b2, "/login")
	csrf2 := pageCSRF(t, lb)
	_, opts := e.postJSON(b2, "/passkeys/login/begin", csrf2, nil)
	srvURL, _ := url.Parse(e.srv.URL)
	var ceremony *http.Cookie
	for _, ck := range b2.Jar.Cookies(srvURL) {
		if ck.Name == "gatehouse_webauthn" {
			ceremony = ck
		}
	}
	if ceremony == nil {
		t.Fatal("login/begin set no ceremony cookie")
	}
	assertion, _ := key.Get(opts)
	finish := map[string]any{"credential": json.RawMessage(assertion)}
	if resp, out := e.postJSON(b2, "/passkeys/login/finish", csrf2, finish); resp.StatusCode != http.StatusOK {
		t.Fatalf("first finish: %d %s", resp.StatusCode, out)
	}
	b3 := e.browser()
	_, lb = e.get(b3, "/login")
	csrf3 := pageCSRF(t, lb)
	b3.Jar.SetCookies(srvURL, []*http.Cookie{{Name: "gatehouse_webauthn", Value: ceremony.Value, Path: "/"}})
	if resp, out := e.postJSON(b3, "/passkeys/login/finish", csrf3, finish); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed finish: %d %s", resp.StatusCode, out)
	}
	if e.sessionCookie(b3) != nil {
		t.Error("the replay got a session")
	}
}

// TestPasskeyRemoveNeedsFreshSignIn: a sign-in older than five minutes
// may list passkeys but not remove them.
func TestPasskeyRemoveNeedsFreshSignIn(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.createUser("ada", "ada@example.com", store.StatusActive)
	c, _ := e.signIn(u)
	key := e.addPasskey(c, "Laptop")
	list, _ := e.svc.ListPasskeys(context.Background(), u.ID)
	if len(list) != 1 {
		t.Fatalf("passkeys = %+v", list)
	}
	id := list[0].ID

	e.clock.Advance(6 * time.Minute)
	_, body := e.get(c, "/security")
	if !strings.Contains(body, "sign in again") || strings.Contains(body, `name="id"`) {
		t.Fatalf("stale security page should offer re-authentication, not removal:\n%s", body)
	}
	resp, body := e.post(c, "/security/passkeys/remove", url.Values{"csrf_token": {pageCSRF(t, body)}, "id": {id}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "sign in again first") {
		t.Fatalf("stale remove: %d\n%s", resp.StatusCode, body)
	}
	if list, _ := e.svc.ListPasskeys(context.Background(), u.ID); len(list) != 1 {
		t.Fatal("a stale session removed the passkey")
	}

	// Signing in again makes the session fresh: the password, then the
	// passkey as the second step.
	if resp, _ := e.login(c, u.Username, testPassword, "/security"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("re-authentication: %d", resp.StatusCode)
	}
	if resp, out := e.passkeyStep(c, key); resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"redirect":"/security"`) {
		t.Fatalf("re-authentication, second step: %d %s", resp.StatusCode, out)
	}
	_, body = e.get(c, "/security")
	resp, _ = e.post(c, "/security/passkeys/remove", url.Values{"csrf_token": {pageCSRF(t, body)}, "id": {id}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/security?notice=removed" {
		t.Fatalf("fresh remove: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if list, _ := e.svc.ListPasskeys(context.Background(), u.ID); len(list) != 0 {
		t.Fatalf("passkeys after removal = %+v", list)
	}
	// Without the form's CSRF token nothing is removed.
	resp, _ = e.post(c, "/security/passkeys/remove", url.Values{"id": {id}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("remove without CSRF: %d", resp.StatusCode)
	}
}

// TestPasskeysOff: with no relying party the login page offers nothing,
// keeps its script-free policy, and the endpoints are 404.
func TestPasskeysOff(t *testing.T) {
	e := newEnv(t, false)
	c := e.browser()
	resp, body := e.get(c, "/login")
	if strings.Contains(body, "passkey") {
		t.Errorf("login page mentions passkeys with passkeys off")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") {
		t.Errorf("login page CSP = %q, want no script-src", csp)
	}
	resp, _ = e.postJSON(c, "/passkeys/login/begin", csrfFrom(t, body), nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("login/begin with passkeys off: %d", resp.StatusCode)
	}
}

// TestPasskeyPendingUser: a pending user's passkey signs in to the access
// request, as the password does.
func TestPasskeyPendingUser(t *testing.T) {
	e := newPasskeyEnv(t)
	u := e.createUser("pat", "pat@example.com", store.StatusPending)
	c, _ := e.signIn(u)
	key := e.addPasskey(c, "Phone")
	_, resp, out := e.passkeyLogin(key, "/oauth2/auth?client_id=x")
	want := `"redirect":"/access/request?return_to=%2Foauth2%2Fauth%3Fclient_id%3Dx"`
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), want) {
		t.Fatalf("pending user's passkey sign-in: %d %s, want %s", resp.StatusCode, out, want)
	}
}
