package demo_test

import (
	"context"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/domain"
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

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}

	body := get(t, c, issuer+"/demo")
	if !strings.Contains(body, `name="password"`) {
		t.Fatalf("/demo did not lead to the login form:\n%s", body)
	}
	body = post(t, c, issuer+"/login", url.Values{
		"csrf_token": {field(t, body, "csrf_token")}, "return_to": {field(t, body, "return_to")},
		"username": {"ada"}, "password": {"a long password"},
	})
	if !strings.Contains(body, `value="allow"`) {
		t.Fatalf("login did not lead to the consent page:\n%s", body)
	}
	form := url.Values{"decision": {"allow"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		form.Set(m[1], m[2])
	}
	body = post(t, c, issuer+"/oauth2/auth/consent", form)
	for _, want := range []string{"ID token claims (verified)", `"preferred_username": "ada"`, `"email": "ada@example.com"`, `"user"`, "gh_at_"} {
		if !strings.Contains(body, want) {
			t.Errorf("demo page lacks %q:\n%s", want, body)
		}
	}

	// The second visit signs in through the session cookie: no form at all.
	body = get(t, c, issuer+"/demo")
	if !strings.Contains(body, `"preferred_username": "ada"`) {
		t.Errorf("second visit did not sign in silently:\n%s", body)
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func post(t *testing.T, c *http.Client, u string, v url.Values) string {
	t.Helper()
	resp, err := c.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d\n%s", resp.Request.URL, resp.StatusCode, b)
	}
	return html.UnescapeString(string(b))
}

func field(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s field in:\n%s", name, body)
	}
	return m[1]
}
