package provider

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// This file holds the shared setup of the provider tests: a real server
// (provider + consent pages + memory store) on a loopback port, clients and
// a user in its store, a cookie-keeping browser, and the relying-party
// helpers (golang.org/x/oauth2, go-oidc).

const (
	testPassword = "correct horse battery staple"
	// callbackURL is never served: the browser stops at the redirect to it
	// and the test reads the code from the Location header. http is
	// allowed for localhost redirect URIs.
	callbackURL = "http://localhost/callback"
)

type testEnv struct {
	t     testing.TB
	ctx   context.Context
	store *memory.Store
	// reads counts the provider's reads of tokens from the store.
	reads  *tokenReads
	keys   *keys.Manager
	p      *Provider
	srv    *httptest.Server
	issuer string
	user   store.User
}

// newTestEnv starts a server whose issuer is its own loopback URL, with one
// active user "alice" (role manager). mod may adjust the provider options.
// The introspection cache is on, so that every test of a revocation
// proves it is not served stale.
func newTestEnv(t testing.TB, mod ...func(*Options)) *testEnv {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	reads := &tokenReads{Store: st}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(st, secret, keys.Options{Algorithm: "RS256"})
	if err != nil {
		t.Fatalf("keys.NewManager: %v", err)
	}
	if err := km.Ensure(ctx); err != nil {
		t.Fatalf("keys Ensure: %v", err)
	}

	// The listener exists before the handler, so the issuer (which the
	// handler needs) can name its port.
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()

	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
	})
	pages, err := consent.New(svc, km, consent.Options{
		Issuer:     issuer,
		CSRFKey:    keys.Derive(secret, "csrf", 32),
		BindingKey: keys.Derive(secret, "consent-binding", 32),
	})
	if err != nil {
		t.Fatalf("consent.New: %v", err)
	}
	opts := Options{
		Issuer:       issuer,
		GlobalSecret: keys.Derive(secret, "fosite-global-secret", 32),

		IntrospectionCacheEntries: 1000,
	}
	for _, m := range mod {
		m(&opts)
	}
	p, err := New(reads, svc, km, pages, opts)
	if err != nil {
		t.Fatalf("provider.New: %v", err)
	}
	r := mux.NewRouter()
	pages.Mount(r)
	p.Mount(r)
	srv.Config.Handler = r
	srv.Start()
	t.Cleanup(srv.Close)

	e := &testEnv{t: t, ctx: ctx, store: st, reads: reads, keys: km, p: p, srv: srv, issuer: issuer}
	e.user = e.addUser("alice", "manager")
	return e
}

func (e *testEnv) addUser(username string, roles ...string) store.User {
	e.t.Helper()
	hash, err := domain.Passwords{BcryptCost: bcrypt.MinCost}.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u := store.User{
		ID:            uuid.NewString(),
		Username:      username,
		Email:         username + "@example.com",
		PasswordHash:  hash,
		FullName:      strings.ToUpper(username[:1]) + username[1:] + " Example",
		Status:        store.StatusActive,
		Roles:         roles,
		EmailVerified: true,
		CreatedAt:     time.Now(),
		UpdatedAt:     time.Now(),
	}
	if err := e.store.CreateUser(e.ctx, u); err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

// addClient stores c and returns its secret ("" for public and
// private_key_jwt clients). Unset fields get the defaults of a web app.
func (e *testEnv) addClient(c store.Client) string {
	e.t.Helper()
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{callbackURL}
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if c.Scopes == nil {
		c.Scopes = []string{"openid", "profile", "email", "offline_access", "roles"}
	}
	if c.Name == "" {
		c.Name = "App " + c.ID
	}
	var secret string
	if !c.Public && c.TokenEndpointAuthMethod != "private_key_jwt" && c.TokenEndpointAuthMethod != "none" {
		s, digest, err := domain.NewClientSecret()
		if err != nil {
			e.t.Fatal(err)
		}
		secret, c.SecretHash = s, digest
		if c.TokenEndpointAuthMethod == "" {
			c.TokenEndpointAuthMethod = "client_secret_basic"
		}
	}
	if c.Public {
		c.TokenEndpointAuthMethod = "none"
	}
	c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
	if err := e.store.CreateClient(e.ctx, c); err != nil {
		e.t.Fatalf("create client %s: %v", c.ID, err)
	}
	return secret
}

// oauthConfig is a relying party's configuration for a client.
func (e *testEnv) oauthConfig(clientID, secret string, scopes ...string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if secret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		RedirectURL:  callbackURL,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/oauth2/auth",
			TokenURL:  e.issuer + "/oauth2/token",
			AuthStyle: style,
		},
	}
}

// verifier returns go-oidc's ID token verifier for clientID, built from
// our discovery document and JWKS.
func (e *testEnv) verifier(clientID string) *oidc.IDTokenVerifier {
	e.t.Helper()
	prov, err := oidc.NewProvider(e.ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("oidc.NewProvider: %v", err)
	}
	return prov.Verifier(&oidc.Config{ClientID: clientID})
}

// page is one HTTP response, body read.
type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

// callback parses the redirect to the client's callback URL.
func (p page) callback(t testing.TB) url.Values {
	t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("want a redirect to the client, got %d: %s", p.status, p.body)
	}
	loc := p.location()
	if !strings.HasPrefix(loc, callbackURL+"?") {
		t.Fatalf("want a redirect to %s, got Location %q", callbackURL, loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// browser is a user agent with cookies that does not follow redirects, so
// tests see every step.
type browser struct {
	t testing.TB
	e *testEnv
	c *http.Client
}

func (e *testEnv) newBrowser() *browser {
	return &browser{t: e.t, e: e, c: formdriver.NewBrowser("", 0)}
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) abs(u string) string {
	if strings.HasPrefix(u, "/") {
		return b.e.issuer + u
	}
	return u
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(u), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(u), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// form returns the action and fields of the page's first POST form.
func (p page) form(t testing.TB) (string, url.Values) {
	t.Helper()
	pg, err := formdriver.Parse(nil, []byte(p.body))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pg.Forms {
		if f.Method == http.MethodPost {
			return f.Action.String(), f.Values(nil)
		}
	}
	t.Fatalf("no form on page (status %d): %s", p.status, p.body)
	return "", nil
}

func (p page) isLogin(t testing.TB) bool {
	t.Helper()
	return (p.status == http.StatusSeeOther || p.status == http.StatusFound) && strings.HasPrefix(p.location(), "/login?")
}

func (p page) isConsent() bool {
	return p.status == http.StatusOK && strings.Contains(p.body, `name="decision" value="allow"`)
}

// signIn follows a redirect to the login page, signs in as username and
// returns the response to the login form (a redirect to return_to).
func (b *browser) signIn(loginRedirect page, username string) page {
	b.t.Helper()
	if !loginRedirect.isLogin(b.t) {
		b.t.Fatalf("want a redirect to /login, got %d Location %q: %s", loginRedirect.status, loginRedirect.location(), loginRedirect.body)
	}
	form := b.get(loginRedirect.location())
	action, fields := form.form(b.t)
	fields.Set("username", username)
	fields.Set("password", testPassword)
	resp := b.post(action, fields)
	if resp.status != http.StatusSeeOther {
		b.t.Fatalf("login: want 303, got %d: %s", resp.status, resp.body)
	}
	return resp
}

// decide submits the consent page with decision allow or deny.
func (b *browser) decide(consentPage page, decision string) page {
	b.t.Helper()
	if !consentPage.isConsent() {
		b.t.Fatalf("want the consent page, got %d Location %q: %s", consentPage.status, consentPage.location(), consentPage.body)
	}
	action, fields := consentPage.form(b.t)
	fields.Set("decision", decision)
	return b.post(action, fields)
}

// authorize runs the browser part of the code flow from authURL: it signs
// in if asked, allows consent if asked, and returns the client's callback
// parameters.
func (b *browser) authorize(authURL string) url.Values {
	b.t.Helper()
	resp := b.get(authURL)
	if resp.isLogin(b.t) {
		resp = b.get(b.signIn(resp, "alice").location())
	}
	if resp.isConsent() {
		resp = b.decide(resp, "allow")
	}
	return resp.callback(b.t)
}

// codeFlow runs a whole authorization code flow with PKCE and a nonce for
// cfg and returns the tokens and the nonce used.
func (e *testEnv) codeFlow(b *browser, cfg *oauth2.Config, opts ...oauth2.AuthCodeOption) (*oauth2.Token, string) {
	e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	nonce := "n-" + oauth2.GenerateVerifier()[:16]
	state := "s-" + oauth2.GenerateVerifier()[:16]
	opts = append(opts, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	q := b.authorize(cfg.AuthCodeURL(state, opts...))
	if q.Get("state") != state {
		e.t.Fatalf("state: got %q want %q", q.Get("state"), state)
	}
	if q.Get("error") != "" {
		e.t.Fatalf("authorize error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	tok, err := cfg.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok, nonce
}

// postForm sends a form to an endpoint with optional HTTP Basic client
// credentials and decodes the JSON answer.
func (e *testEnv) postForm(path string, form url.Values, clientID, secret string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			e.t.Fatalf("POST %s: %d, body not JSON: %s", path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out
}

// introspect asks whether token is active, authenticating as the resource
// server client rsID.
func (e *testEnv) introspect(token, rsID, rsSecret string) map[string]any {
	e.t.Helper()
	status, body := e.postForm("/oauth2/introspect", url.Values{"token": {token}}, rsID, rsSecret)
	if status != http.StatusOK {
		e.t.Fatalf("introspect: status %d: %v", status, body)
	}
	return body
}

// resourceServer registers a confidential client used to introspect.
func (e *testEnv) resourceServer() (string, string) {
	secret := e.addClient(store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, Scopes: []string{}})
	return "rs", secret
}

func refreshToken(t testing.TB, tok *oauth2.Token) string {
	t.Helper()
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token issued")
	}
	return tok.RefreshToken
}
