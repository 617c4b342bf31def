package demo_test

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestSignInThroughDemo walks the dev-mode demo as a person would: /demo,
// the login form, the consent page, and back to the demo page showing the
// verified ID token of the user who signed in.
func TestSignInThroughDemo(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	cfg := config.Default()
	cfg.Issuer, cfg.Secret, cfg.Password.BcryptCost = issuer, strings.Repeat("s", 32), 4
	st := memory.New()
	srv, err := server.New(ctx, cfg, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	pw := domain.Passwords{BcryptCost: 4, MinLength: 8}
	hash, _ := pw.Hash("a long password")
	now := time.Now()
	if err := st.CreateUser(ctx, store.User{ID: uuid.NewString(), Username: "ada", Email: "ada@example.com",
		FullName: "Ada Lovelace", PasswordHash: hash, Status: store.StatusActive, Roles: []string{"user"},
		CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	secret, digest, _ := domain.NewClientSecret()
	if err := st.CreateClient(ctx, store.Client{ID: "demo", Name: "Demo web app", SecretHash: digest,
		TokenEndpointAuthMethod: "client_secret_basic", RedirectURIs: []string{demo.RedirectURL(issuer)},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "email", "roles", "offline_access"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	srv.Mount("/demo", demo.New(demo.Options{Issuer: issuer, ClientID: "demo", ClientSecret: secret, Key: []byte(strings.Repeat("k", 32))}))
	hs := &http.Server{Handler: srv.Handler()}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	// The demo and the server share the host: the browser follows every
	// redirect of the round trip.
	c := formdriver.NewBrowser(ln.Addr().String(), 10*time.Second)

	pg := page(t, get(t, c, issuer+"/demo"))
	login := pg.Form("password")
	if login == nil {
		t.Fatalf("/demo did not lead to the login form:\n%s", pg.Body)
	}
	pg = page(t, submit(t, c, login, url.Values{"username": {"ada"}, "password": {"a long password"}}))
	consent := pg.FormWithButton("decision", "allow")
	if consent == nil {
		t.Fatalf("login did not lead to the consent page:\n%s", pg.Body)
	}
	body := read(t, submit(t, c, consent, url.Values{"decision": {"allow"}}))
	for _, want := range []string{"ID token claims (verified)", `"preferred_username": "ada"`, `"email": "ada@example.com"`, `"user"`, "gh_at_"} {
		if !strings.Contains(body, want) {
			t.Errorf("demo page lacks %q:\n%s", want, body)
		}
	}

	// The page's links lead to the demo, the sign-out page and stylesheets
	// that load, and none is an absolute path.
	refs := pageRefs(t, body)
	for _, want := range []string{"../static/style.css", "../demo/demo.css", "../demo", "../logout"} {
		if !slices.Contains(refs, want) {
			t.Errorf("demo page refers to %v, want %q among them", refs, want)
		}
	}
	for _, css := range []string{"/static/style.css", "/demo/demo.css"} {
		resp, err := c.Get(issuer + css)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
			t.Errorf("GET %s: %d %s, want 200 text/css", css, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}

	// The second visit signs in through the session cookie: no form at all.
	body = read(t, get(t, c, issuer+"/demo"))
	if !strings.Contains(body, `"preferred_username": "ada"`) {
		t.Errorf("second visit did not sign in silently:\n%s", body)
	}
}

// When gatehouse is served under an issuer path, the demo's pages still
// point at its stylesheets and pages: every URL in them is relative to where
// the page is. (The issuer here is unreachable, so each page is the error
// page, which has the same head.)
func TestDemoPagesUnderAnIssuerPath(t *testing.T) {
	rp := demo.New(demo.Options{Issuer: "http://127.0.0.1:1/auth", ClientID: "demo", ClientSecret: "s", Key: []byte(strings.Repeat("k", 32))})
	// As server.Mount serves it: the demo sees the whole path.
	var h http.Handler = rp
	for _, tt := range []struct {
		path string
		want []string // every reference, resolved against the page
	}{
		{"/auth/demo", []string{"/auth/static/style.css", "/auth/demo/demo.css", "/auth/demo"}},
		{"/auth/demo/", []string{"/auth/static/style.css", "/auth/demo/demo.css", "/auth/demo"}},
		{"/auth/demo/callback?error=access_denied", []string{"/auth/static/style.css", "/auth/demo/demo.css", "/auth/demo"}},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://id.example.com"+tt.path, nil)
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !strings.Contains(body, `<meta name="viewport" content="width=device-width, initial-scale=1">`) {
			t.Errorf("%s: no viewport meta:\n%s", tt.path, body)
		}
		var got []string
		for _, ref := range pageRefs(t, body) {
			u, err := req.URL.Parse(ref)
			if err != nil {
				t.Fatalf("%s: %q: %v", tt.path, ref, err)
			}
			got = append(got, u.Path)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: references resolve to %v, want %v", tt.path, got, tt.want)
		}
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/auth/demo/demo.css", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(rec.Body.String(), ".card.demo") {
		t.Errorf("GET /auth/demo/demo.css: %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

// pageRefs returns every href and src of an HTML page, in order, failing
// the test on one that is an absolute path (it would miss an issuer path).
func pageRefs(t *testing.T, body string) []string {
	t.Helper()
	var refs []string
	for _, m := range regexp.MustCompile(`\b(?:href|src)="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if strings.HasPrefix(m[1], "/") {
			t.Errorf("page refers to %q, an absolute path", m[1])
		}
		refs = append(refs, m[1])
	}
	return refs
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func submit(t *testing.T, c *http.Client, f *formdriver.Form, overrides url.Values) *http.Response {
	t.Helper()
	resp, err := f.Submit(t.Context(), c, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// page parses resp, which must be a 200.
func page(t *testing.T, resp *http.Response) formdriver.Page {
	t.Helper()
	pg, err := formdriver.Read(resp)
	if err != nil {
		t.Fatal(err)
	}
	if pg.Status != http.StatusOK {
		t.Fatalf("%s: status %d\n%s", pg.URL, pg.Status, pg.Body)
	}
	return pg
}

// read returns the body of resp, which must be a 200, unescaped.
func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d\n%s", resp.Request.URL, resp.StatusCode, b)
	}
	return html.UnescapeString(string(b))
}
