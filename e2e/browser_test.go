package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The browser tests drive Debian's Chromium through playwright-core (see
// e2e/browser/flow.mjs). They fail, never skip, when the browser or the npm
// dependencies are missing: a green run must mean the pages were exercised.

// browserTimeout bounds one run of flow.mjs, browser start included.
const browserTimeout = 60 * time.Second

// flowReport is the JSON line flow.mjs prints.
type flowReport struct {
	OK             bool   `json:"ok"`
	Error          string `json:"error"`
	Scenario       string `json:"scenario"`
	BrowserVersion string `json:"browserVersion"`
	Pages          []struct {
		Kind, Title, URL string
	} `json:"pages"`
	LoginTitle    string   `json:"loginTitle"`
	LoginStatus   int      `json:"loginStatus"`
	ConsentTitle  string   `json:"consentTitle"`
	ConsentText   string   `json:"consentText"`
	ErrorMessage  string   `json:"errorMessage"`
	UsernameValue string   `json:"usernameValue"`
	PasswordValue string   `json:"passwordValue"`
	FinalURL      string   `json:"finalURL"`
	Screenshots   []string `json:"screenshots"`

	// The cross-site scenario (browser_cookies_test.go).
	CSRFSameSite          string `json:"csrfSameSite"`
	CrossSiteLoginHadCSRF bool   `json:"crossSiteLoginHadCSRF"`
	CSRFRotated           bool   `json:"csrfRotated"`

	// The demo scenario (browser_demo_test.go).
	LoginLayout    pageLayout `json:"loginLayout"`
	ConsentLayout  pageLayout `json:"consentLayout"`
	DemoPhone      pageLayout `json:"demoPhone"`
	DemoDesktop    pageLayout `json:"demoDesktop"`
	FailedRequests []string   `json:"failedRequests"`
}

// rpCallback is a relying party's redirect URI: it records the query of
// every request and answers with a small page.
type rpCallback struct {
	*httptest.Server
	mu      sync.Mutex
	queries []url.Values
	// signIn is the authorization URL /start links to, when set.
	signIn string
}

func newRPCallback(t *testing.T) *rpCallback {
	t.Helper()
	cb := &rpCallback{}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			cb.mu.Lock()
			link := cb.signIn
			cb.mu.Unlock()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><title>RP</title><a id="signin" href="` + html.EscapeString(link) + `">Sign in</a>`))
			return
		}
		// The browser also asks for /favicon.ico; only the redirect URI counts.
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		cb.mu.Lock()
		cb.queries = append(cb.queries, r.URL.Query())
		cb.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>RP callback</title><p>Back at the relying party.</p>"))
	}))
	t.Cleanup(cb.Close)
	return cb
}

func (cb *rpCallback) redirectURI() string { return cb.URL + "/callback" }

func (cb *rpCallback) received() []url.Values {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	return append([]url.Values(nil), cb.queries...)
}

// browserDir is e2e/browser; `go test` runs in the package directory.
func browserDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireBrowser fails the test with the install commands when Chromium,
// node or playwright-core is missing.
func requireBrowser(t *testing.T) (node, chromium string) {
	t.Helper()
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium not found at %s (%v): install it with `apt-get install -y chromium`, or set CHROMIUM", chromium, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: install Node.js (`apt-get install -y nodejs npm`), then `make browser-deps`")
	}
	if _, err := os.Stat(filepath.Join(browserDir(t), "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed in e2e/browser: run `make browser-deps` (npm ci in e2e/browser)")
	}
	return node, chromium
}

// runFlow runs flow.mjs for one scenario and returns its report. It fails
// the test if the script exits non-zero or prints no report.
func runFlow(t *testing.T, scenario, authURL, redirectURI string, user testUser, extra ...string) flowReport {
	t.Helper()
	node, chromium := requireBrowser(t)
	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()

	shots := os.Getenv("GATEHOUSE_E2E_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else {
		shots = filepath.Join(shots, scenario)
	}
	args := []string{"flow.mjs", "--scenario=" + scenario, "--url=" + authURL, "--redirect=" + redirectURI, "--username=" + user.Username}
	cmd := exec.CommandContext(ctx, node, append(args, extra...)...)
	cmd.Dir = browserDir(t)
	cmd.Env = append(os.Environ(),
		"CHROMIUM="+chromium,
		"GATEHOUSE_E2E_PASSWORD="+user.Password,
		"GATEHOUSE_E2E_SCREENSHOTS="+shots,
	)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()

	var rep flowReport
	line := lastLine(stdout.String())
	if jerr := json.Unmarshal([]byte(line), &rep); jerr != nil {
		t.Fatalf("flow.mjs %s printed no report (exit: %v, timeout: %v): %v\nstdout:\n%s\nstderr:\n%s",
			scenario, err, errors.Is(ctx.Err(), context.DeadlineExceeded), jerr, snippet(stdout.String()), snippet(stderr.String()))
	}
	if err != nil || !rep.OK {
		t.Fatalf("flow.mjs %s failed (exit: %v): %s\npages: %+v\nstderr:\n%s", scenario, err, rep.Error, rep.Pages, snippet(stderr.String()))
	}
	if strings.Contains(stdout.String(), user.Password) || strings.Contains(stderr.String(), user.Password) {
		t.Errorf("flow.mjs printed the password")
	}
	var seen []string
	for _, p := range rep.Pages {
		seen = append(seen, p.Kind+" ("+p.Title+")")
	}
	t.Logf("flow.mjs %s: Chromium %s, pages %v, screenshots %v", scenario, rep.BrowserVersion, seen, rep.Screenshots)
	return rep
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// browserSetup is a server, a user, a confidential client whose redirect
// URI is a live callback server, and an authorization request for it.
type browserSetup struct {
	ts       *testServer
	user     testUser
	callback *rpCallback
	rp       *relyingParty
	ar       authRequest
}

func newBrowserSetup(t *testing.T) browserSetup {
	t.Helper()
	ts := startServer(t, nil)
	cb := newRPCallback(t)
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Name = "Acme Reports"
		c.RedirectURIs = []string{cb.redirectURI()}
	})
	rp := ts.newRP(t, client)
	return browserSetup{ts: ts, user: ts.createUser(t, "user"), callback: cb, rp: rp, ar: rp.newAuthRequest(t, false)}
}

// TestBrowserSignInAndConsent: a real browser signs in, allows, and lands
// at the relying party with a code that redeems for tokens.
func TestBrowserSignInAndConsent(t *testing.T) {
	s := newBrowserSetup(t)
	rep := runFlow(t, "allow", s.ar.URL, s.callback.redirectURI(), s.user)

	if !strings.HasPrefix(rep.LoginTitle, "Sign in") {
		t.Errorf("login page title %q, want it to start with \"Sign in\"", rep.LoginTitle)
	}
	if rep.LoginStatus != http.StatusSeeOther && rep.LoginStatus != http.StatusFound {
		t.Errorf("POST /login answered %d, want a redirect", rep.LoginStatus)
	}
	if !strings.Contains(rep.ConsentTitle, "Acme Reports") {
		t.Errorf("consent page title %q does not name the client", rep.ConsentTitle)
	}
	if !strings.Contains(rep.ConsentText, s.user.Username) {
		t.Errorf("consent page does not say who is signed in:\n%s", rep.ConsentText)
	}
	if !strings.HasPrefix(rep.FinalURL, s.callback.redirectURI()+"?") {
		t.Errorf("final URL %q, want the redirect URI", rep.FinalURL)
	}

	got := s.callback.received()
	if len(got) != 1 {
		t.Fatalf("callback received %d requests, want 1", len(got))
	}
	q := got[0]
	if q.Get("state") != s.ar.State || q.Get("error") != "" {
		t.Fatalf("callback query: state %q error %q, want state %q and no error", q.Get("state"), q.Get("error"), s.ar.State)
	}
	code := q.Get("code")
	s.ts.secret(code)
	tok := s.rp.exchange(t, code, s.ar)
	idt := s.rp.verifyIDToken(t, tok, s.ar.Nonce)
	if idt.Subject != s.user.ID {
		t.Errorf("sub = %q, want %q", idt.Subject, s.user.ID)
	}
	if _, err := s.ts.Store.GetConsent(ctxT(t), s.user.ID, s.rp.Client.ID, time.Now()); err != nil {
		t.Errorf("consent given in the browser not stored: %v", err)
	}
}

// TestBrowserWrongPassword: the page tells the person the sign-in failed,
// keeps the username and clears the password; the RP hears nothing.
func TestBrowserWrongPassword(t *testing.T) {
	s := newBrowserSetup(t)
	rep := runFlow(t, "wrong-password", s.ar.URL, s.callback.redirectURI(), s.user)

	if rep.LoginStatus != http.StatusUnauthorized {
		t.Errorf("POST /login answered %d, want 401", rep.LoginStatus)
	}
	if rep.ErrorMessage != "Invalid username or password." {
		t.Errorf("error message %q, want \"Invalid username or password.\"", rep.ErrorMessage)
	}
	if rep.UsernameValue != s.user.Username || rep.PasswordValue != "" {
		t.Errorf("form after failure: username %q password set %v; want the username kept, the password empty",
			rep.UsernameValue, rep.PasswordValue != "")
	}
	if u, err := url.Parse(rep.FinalURL); err != nil || u.Path != "/login" {
		t.Errorf("final URL %q, want the login page", rep.FinalURL)
	}
	if n := len(s.callback.received()); n != 0 {
		t.Errorf("callback received %d requests, want none", n)
	}
	sessions, err := s.ts.Store.ListLoginSessions(ctxT(t), s.user.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("%d login sessions after a failed sign-in, want 0", len(sessions))
	}
}

// TestBrowserConsentDenied: deny sends error=access_denied to the RP.
func TestBrowserConsentDenied(t *testing.T) {
	s := newBrowserSetup(t)
	rep := runFlow(t, "deny", s.ar.URL, s.callback.redirectURI(), s.user)
	if rep.ConsentTitle == "" {
		t.Errorf("no consent page was shown")
	}
	got := s.callback.received()
	if len(got) != 1 {
		t.Fatalf("callback received %d requests, want 1", len(got))
	}
	q := got[0]
	if q.Get("error") != "access_denied" || q.Get("state") != s.ar.State || q.Get("code") != "" {
		t.Errorf("callback query %v, want error=access_denied with the state and no code", q)
	}
	if _, err := s.ts.Store.GetConsent(ctxT(t), s.user.ID, s.rp.Client.ID, time.Now()); err == nil {
		t.Errorf("a denied consent was stored")
	}
}
