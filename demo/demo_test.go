package demo_test

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
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

	mux := http.NewServeMux()
	rp := demo.New(demo.Options{Issuer: issuer, ClientID: "demo", ClientSecret: secret, Key: []byte(strings.Repeat("k", 32))})
	mux.Handle("/demo", rp)
	mux.Handle("/demo/", rp)
	mux.Handle("/", srv.Handler())
	hs := &http.Server{Handler: mux}
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

	// The second visit signs in through the session cookie: no form at all.
	body = read(t, get(t, c, issuer+"/demo"))
	if !strings.Contains(body, `"preferred_username": "ada"`) {
		t.Errorf("second visit did not sign in silently:\n%s", body)
	}
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
