package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/internal/logcheck"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// requestTimeout bounds every HTTP exchange a test makes, so a hung server
// fails the test instead of the whole package timing out.
const requestTimeout = 15 * time.Second

// testServer is one running gatehouse: its own listener, key manager and
// store connection over the package's database.
type testServer struct {
	URL    string // the issuer, http://127.0.0.1:<port> unless the test gave it a path
	Config config.Config
	Store  store.Store
	Server *server.Server

	passwords domain.Passwords
	logs      *logcheck.Log
}

// startServer starts a server on 127.0.0.1:0 whose configuration is
// config.Default() with the test's issuer, the package's random secret (all
// servers share the database, hence its encrypted signing keys) and bcrypt
// cost 4, then mutate (which may be nil). Everything is torn down at cleanup; if the
// test failed, the server's log is printed.
func startServer(t *testing.T, mutate func(*config.Config)) *testServer {
	t.Helper()
	return startServerWith(t, mutate, nil)
}

// startServerWith is startServer calling mount (when not nil) with the
// issuer and the server before it serves, for a test that mounts something
// beside gatehouse's routes, as `serve --dev` mounts the demo relying party.
func startServerWith(t *testing.T, mutate func(*config.Config), mount func(issuer string, srv *server.Server)) *testServer {
	t.Helper()
	return startServerOn(t, serverSetup{mutate: mutate, mount: mount})
}

// serverSetup is what startServerOn varies: startServerWith's mutate and
// mount, the loopback address to listen on ("" is 127.0.0.1; another one,
// say 127.0.0.2, gives the server a host, and so a cookie jar, of its
// own), and the store (nil: PostgreSQL over the package's database).
type serverSetup struct {
	mutate func(*config.Config)
	mount  func(issuer string, srv *server.Server)
	host   string
	store  func(t *testing.T) store.Store
}

// startServerOn starts a server as setup says; startServer and
// startServerWith are its common cases.
func startServerOn(t *testing.T, setup serverSetup) *testServer {
	t.Helper()
	mutate, mount := setup.mutate, setup.mount
	logs := &logcheck.Log{}
	// Registered first so that it runs last, after the server has stopped.
	t.Cleanup(func() { logs.Finish(t) })

	host := setup.host
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	issuer := "http://" + ln.Addr().String()

	cfg := config.Default()
	cfg.Issuer = issuer
	cfg.Addr = ln.Addr().String()
	cfg.DatabaseURL = databaseURL(t)
	cfg.Secret = packageSecret
	cfg.Password.BcryptCost = 4 // tests only: production keeps the default
	cfg.Log.Level = "debug"
	// Every test's requests come from 127.0.0.1, so the per-address rate
	// limits would meter the suite rather than test anything: off, except
	// in the tests of the limits (ratelimit_test.go), which set them.
	cfg.RateLimits = config.RateLimits{MaxAddresses: cfg.RateLimits.MaxAddresses}
	if mutate != nil {
		mutate(&cfg)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st store.Store
	if setup.store != nil {
		st = setup.store(t)
	} else {
		pg, err := postgres.New(ctx, cfg.DatabaseURL, postgres.WithTimeouts(postgres.Timeouts{
			Connect: cfg.Database.ConnectTimeout, Query: cfg.Database.QueryTimeout,
		}), postgres.WithClientTokenCommit(postgres.ClientTokenCommit{ // as serve does
			MaxBatch: cfg.Tokens.GroupCommit.MaxBatch, Window: cfg.Tokens.GroupCommit.Window,
			Async: cfg.Tokens.AccessTokenCommit == "async",
		}))
		if err != nil {
			_ = ln.Close()
			t.Fatalf("postgres.New: %v", err)
		}
		st = pg
	}
	t.Cleanup(st.Close)

	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(ctx, cfg, st, logger)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	if mount != nil {
		mount(cfg.Issuer, srv)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})

	return &testServer{
		URL:       cfg.Issuer,
		Config:    cfg,
		Store:     st,
		Server:    srv,
		passwords: domain.Passwords{BcryptCost: cfg.Password.BcryptCost, MinLength: cfg.Password.MinLength},
		logs:      logs,
	}
}

// secret registers values that must never appear in the server's log.
func (ts *testServer) secret(values ...string) {
	for _, v := range values {
		ts.logs.Secret(v)
	}
}

// dialRaw opens a plain TCP connection to the server, closed at the end of
// the test, for requests net/http's client would not send as written (bad
// bytes, partial bodies); host is what the Host header should say.
func (ts *testServer) dialRaw(t *testing.T) (net.Conn, string) {
	t.Helper()
	host := strings.TrimPrefix(ts.URL, "http://")
	if u, err := url.Parse(ts.URL); err == nil {
		host = u.Host
	}
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(requestTimeout))
	return conn, host
}

// endpoint returns the absolute URL of a path on the server.
func (ts *testServer) endpoint(path string) string { return ts.URL + path }

// ---------------------------------------------------------------------------
// Users and clients, made directly through the store.

// testUser is a user of the directory and its clear-text password.
type testUser struct {
	store.User
	Password string
}

// createUser stores an active user with a unique username, the given roles
// and a random password hashed the way the server hashes them.
func (ts *testServer) createUser(t *testing.T, roles ...string) testUser {
	t.Helper()
	return ts.createUserWith(t, func(*store.User) {}, roles...)
}

func (ts *testServer) createUserWith(t *testing.T, mutate func(*store.User), roles ...string) testUser {
	t.Helper()
	name := "user-" + randomHex(t, 6)
	password := "pw-" + randomHex(t, 12)
	hash, err := ts.passwords.Hash(password)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	u := store.User{
		ID:            uuid.NewString(),
		Username:      name,
		Email:         name + "@example.com",
		PasswordHash:  hash,
		FullName:      "Test " + strings.ToUpper(name[5:6]) + name[6:],
		Department:    "Engineering",
		Status:        store.StatusActive,
		Roles:         roles,
		EmailVerified: true,
	}
	mutate(&u)
	if err := ts.Store.CreateUser(ctxT(t), u); err != nil {
		t.Fatalf("create user %s: %v", u.Username, err)
	}
	ts.secret(password)
	got, err := ts.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatalf("get user %s: %v", u.Username, err)
	}
	return testUser{User: got, Password: password}
}

// testClient is a registered client and, if confidential, its clear-text
// secret.
type testClient struct {
	store.Client
	Secret string
}

// redirectURIFor is the (never fetched) redirect URI of a client: a foreign
// host, so that the test browser stops there and the test reads the code.
func redirectURIFor(id string) string { return "https://" + id + ".rp.example/callback" }

// createConfidentialClient stores a client_secret_basic client allowed the
// authorization code and refresh grants and the scopes openid, profile,
// email, roles and offline_access; mutate adjusts it before it is stored.
func (ts *testServer) createConfidentialClient(t *testing.T, mutate func(*store.Client)) testClient {
	t.Helper()
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatalf("client secret: %v", err)
	}
	id := "conf-" + randomHex(t, 6)
	c := store.Client{
		ID:                      id,
		Name:                    "Confidential RP " + id,
		SecretHash:              digest,
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{redirectURIFor(id)},
		PostLogoutRedirectURIs:  []string{"https://" + id + ".rp.example/signed-out"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "roles", "offline_access"},
	}
	if mutate != nil {
		mutate(&c)
	}
	if err := ts.Store.CreateClient(ctxT(t), c); err != nil {
		t.Fatalf("create client %s: %v", c.ID, err)
	}
	ts.secret(secret)
	return testClient{Client: c, Secret: secret}
}

// createPublicClient stores a public (PKCE, no secret) client.
func (ts *testServer) createPublicClient(t *testing.T, mutate func(*store.Client)) testClient {
	t.Helper()
	id := "spa-" + randomHex(t, 6)
	c := store.Client{
		ID:                      id,
		Name:                    "Public SPA " + id,
		TokenEndpointAuthMethod: "none",
		Public:                  true,
		RedirectURIs:            []string{redirectURIFor(id)},
		PostLogoutRedirectURIs:  []string{"https://" + id + ".rp.example/signed-out"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
	}
	if mutate != nil {
		mutate(&c)
	}
	if err := ts.Store.CreateClient(ctxT(t), c); err != nil {
		t.Fatalf("create client %s: %v", c.ID, err)
	}
	return testClient{Client: c}
}

// ---------------------------------------------------------------------------
// The browser: a cookie jar that follows redirects on the server but stops
// at any other host (a relying party's redirect URI).

func (ts *testServer) newBrowser(t *testing.T) *http.Client {
	t.Helper()
	issuer, _ := url.Parse(ts.URL) // httptest's own URL
	return formdriver.NewBrowser(issuer.Host, requestTimeout)
}

// httpClient is a plain client that never follows redirects (for the back
// channel and for reading a redirect's Location).
func httpClient() *http.Client {
	return &http.Client{
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ---------------------------------------------------------------------------
// The relying party: x/oauth2 for the protocol, go-oidc for ID tokens.

type relyingParty struct {
	ts       *testServer
	Client   testClient
	OAuth2   oauth2.Config
	Provider *oidc.Provider
	Verifier *oidc.IDTokenVerifier
}

func (ts *testServer) newRP(t *testing.T, c testClient, scopes ...string) *relyingParty {
	t.Helper()
	provider, err := oidc.NewProvider(ctxT(t), ts.URL)
	if err != nil {
		t.Fatalf("oidc.NewProvider: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	endpoint := provider.Endpoint()
	// Send the secret the way the client is registered to.
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if c.Secret == "" || c.TokenEndpointAuthMethod == "client_secret_post" {
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return &relyingParty{
		ts:     ts,
		Client: c,
		OAuth2: oauth2.Config{
			ClientID:     c.ID,
			ClientSecret: c.Secret,
			Endpoint:     endpoint,
			RedirectURL:  c.RedirectURIs[0],
			Scopes:       scopes,
		},
		Provider: provider,
		Verifier: provider.Verifier(&oidc.Config{ClientID: c.ID}),
	}
}

// authRequest is one authorization request as a relying party makes it.
type authRequest struct {
	State, Nonce, Verifier string
	URL                    string
}

// newAuthRequest builds an authorization URL with a fresh state and nonce
// and, unless noPKCE, an S256 PKCE challenge; extra options are appended.
func (rp *relyingParty) newAuthRequest(t *testing.T, noPKCE bool, extra ...oauth2.AuthCodeOption) authRequest {
	t.Helper()
	ar := authRequest{State: "st-" + randomHex(t, 8), Nonce: "n-" + randomHex(t, 8)}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(ar.Nonce)}
	if !noPKCE {
		ar.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(ar.Verifier))
	}
	opts = append(opts, extra...)
	ar.URL = rp.OAuth2.AuthCodeURL(ar.State, opts...)
	return ar
}

// flowResult is where an authorization request ended: the relying party's
// redirect URI, with the pages seen on the way.
type flowResult struct {
	Callback   *url.URL   // the Location that left the server
	Query      url.Values // its query
	SawLogin   bool
	SawConsent bool
}

// authorize runs an authorization request in browser as user: it signs in
// if the login page appears (u must then be non-nil), allows on the consent
// page if it appears, and returns where the server finally sent the browser.
func (rp *relyingParty) authorize(t *testing.T, browser *http.Client, ar authRequest, u *testUser) flowResult {
	t.Helper()
	var res flowResult
	resp := get(t, browser, ar.URL)
	for step := 0; ; step++ {
		if step > 4 {
			t.Fatalf("authorization did not reach the redirect URI after %d pages", step)
		}
		if isRedirect(resp.StatusCode) {
			loc := location(t, resp)
			closeBody(resp)
			if !strings.HasPrefix(loc.String(), rp.Client.RedirectURIs[0]) {
				t.Fatalf("redirected to %s, want the redirect URI %s", loc, rp.Client.RedirectURIs[0])
			}
			res.Callback, res.Query = loc, loc.Query()
			if got := res.Query.Get("state"); got != ar.State {
				t.Fatalf("state = %q, want %q (callback %s)", got, ar.State, loc.Redacted())
			}
			return res
		}
		pg := readPage(t, resp)
		switch {
		case pg.Form("password") != nil:
			if u == nil {
				t.Fatalf("login page shown but the test expected a signed-in browser")
			}
			res.SawLogin = true
			resp = login(t, browser, pg.URL.String(), u.Username, u.Password)
		case pg.FormWithButton("decision", "allow") != nil:
			res.SawConsent = true
			resp = consent(t, browser, pg, "allow")
		default:
			t.Fatalf("unexpected page during authorization: status %d at %s, title %q\n%s", pg.Status, pg.URL, pg.Title, snippet(pg.Body))
		}
	}
}

// code runs authorize and returns the authorization code it ended with.
func (rp *relyingParty) code(t *testing.T, browser *http.Client, ar authRequest, u *testUser) (string, flowResult) {
	t.Helper()
	res := rp.authorize(t, browser, ar, u)
	code := res.Query.Get("code")
	if code == "" {
		t.Fatalf("no code in callback: error=%q error_description=%q", res.Query.Get("error"), res.Query.Get("error_description"))
	}
	if !strings.HasPrefix(code, "gh_ac_") {
		t.Errorf("authorization code %.10q... lacks the gh_ac_ prefix", code)
	}
	rp.ts.secret(code)
	return code, res
}

// exchange redeems code at the token endpoint through x/oauth2.
func (rp *relyingParty) exchange(t *testing.T, code string, ar authRequest) *oauth2.Token {
	t.Helper()
	var opts []oauth2.AuthCodeOption
	if ar.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(ar.Verifier))
	}
	tok, err := rp.OAuth2.Exchange(ctxT(t), code, opts...)
	if err != nil {
		t.Fatalf("exchange code: %v", err)
	}
	rp.ts.secret(tok.AccessToken, tok.RefreshToken)
	return tok
}

// signIn is a full authorization code flow for user in a new browser,
// returning the tokens, the verified ID token and the browser (signed in).
func (rp *relyingParty) signIn(t *testing.T, u testUser) (*oauth2.Token, *oidc.IDToken, *http.Client) {
	t.Helper()
	browser := rp.ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	code, _ := rp.code(t, browser, ar, &u)
	tok := rp.exchange(t, code, ar)
	idt := rp.verifyIDToken(t, tok, ar.Nonce)
	return tok, idt, browser
}

// verifyIDToken verifies the token response's ID token with go-oidc against
// the server's JWKS (signature, iss, aud, exp) and checks nonce and at_hash.
func (rp *relyingParty) verifyIDToken(t *testing.T, tok *oauth2.Token, nonce string) *oidc.IDToken {
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatalf("token response has no id_token")
	}
	idt, err := rp.Verifier.Verify(ctxT(t), raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Issuer != rp.ts.URL {
		t.Errorf("iss = %q, want %q", idt.Issuer, rp.ts.URL)
	}
	if len(idt.Audience) == 0 || !contains(idt.Audience, rp.Client.ID) {
		t.Errorf("aud = %v, want it to contain %q", idt.Audience, rp.Client.ID)
	}
	if idt.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	if !idt.Expiry.After(time.Now()) || idt.Expiry.After(time.Now().Add(rp.ts.Config.Lifetimes.IDToken+time.Minute)) {
		t.Errorf("exp = %v, want within the ID token lifetime %v from now", idt.Expiry, rp.ts.Config.Lifetimes.IDToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
	}
	return idt
}

// ---------------------------------------------------------------------------
// Pages: fetching, scraping and submitting forms (internal/formdriver),
// failing the test where the driver returns an error.

// page is a fetched HTML page with its forms.
type page = formdriver.Page

// readPage reads and parses resp (closing it).
func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	pg, err := formdriver.Read(resp)
	if err != nil {
		t.Fatal(err)
	}
	return pg
}

// submit posts the form's fields with the overrides set.
func submit(t *testing.T, browser *http.Client, f *formdriver.Form, overrides url.Values) *http.Response {
	t.Helper()
	resp, err := f.Submit(ctxT(t), browser, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// login GETs the login page at loginURL, checks its form carries csrf_token
// and return_to, and POSTs it with username and password. It returns the
// response to the POST (after the server's own redirects).
func login(t *testing.T, browser *http.Client, loginURL, username, password string) *http.Response {
	t.Helper()
	pg := readPage(t, get(t, browser, loginURL))
	if pg.Status != http.StatusOK {
		t.Fatalf("login page: status %d, want 200\n%s", pg.Status, snippet(pg.Body))
	}
	f := loginForm(t, pg)
	return submit(t, browser, f, url.Values{"username": {username}, "password": {password}})
}

// loginForm returns the login form of pg, failing unless it has every field
// the server needs.
func loginForm(t *testing.T, pg page) *formdriver.Form {
	t.Helper()
	f := pg.Form("password")
	if f == nil {
		t.Fatalf("no login form on %s (status %d, title %q)\n%s", pg.URL.Redacted(), pg.Status, pg.Title, snippet(pg.Body))
	}
	for _, name := range []string{"username", "csrf_token", "return_to"} {
		if _, ok := f.Types[name]; !ok {
			t.Fatalf("login form lacks the %s field (has %v)", name, f.Types)
		}
	}
	if f.Fields.Get("csrf_token") == "" {
		t.Fatalf("login form has an empty csrf_token")
	}
	if f.Types["password"] != "password" {
		t.Errorf("password input has type %q, want password", f.Types["password"])
	}
	return f
}

// consent submits the consent page pg with decision (allow or deny).
func consent(t *testing.T, browser *http.Client, pg page, decision string) *http.Response {
	t.Helper()
	f := consentForm(t, pg)
	return submit(t, browser, f, url.Values{"decision": {decision}})
}

func consentForm(t *testing.T, pg page) *formdriver.Form {
	t.Helper()
	f := pg.FormWithButton("decision", "allow")
	if f == nil {
		t.Fatalf("no consent form on %s (status %d, title %q)\n%s", pg.URL.Redacted(), pg.Status, pg.Title, snippet(pg.Body))
	}
	if pg.FormWithButton("decision", "deny") != f {
		t.Errorf("consent form has no deny button in the same form")
	}
	for _, name := range []string{"csrf_token", "request", "binding"} {
		if f.Fields.Get(name) == "" {
			t.Fatalf("consent form lacks a %s value (has %v)", name, f.Types)
		}
	}
	return f
}

// ---------------------------------------------------------------------------
// The back channel: token, introspection, revocation, userinfo.

// clientAuth is how a request authenticates as a client: HTTP Basic when
// Secret is set, otherwise client_id in the form (public client).
type clientAuth struct{ ID, Secret string }

func authOf(c testClient) clientAuth { return clientAuth{ID: c.ID, Secret: c.Secret} }

// oauthResponse is a decoded JSON response of the back channel.
type oauthResponse struct {
	Status int
	Header http.Header
	JSON   map[string]any
	Raw    string
	Err    error // set only by doJSONNoFatal
}

func (r oauthResponse) str(key string) string {
	s, _ := r.JSON[key].(string)
	return s
}

// post sends form to path authenticated as auth and decodes the JSON answer.
func (ts *testServer) post(t *testing.T, path string, form url.Values, auth clientAuth) oauthResponse {
	t.Helper()
	req := ts.newFormRequest(t, path, form, auth)
	return doJSON(t, httpClient(), req)
}

func (ts *testServer) newFormRequest(t *testing.T, path string, form url.Values, auth clientAuth) *http.Request {
	t.Helper()
	values := url.Values{}
	for k, v := range form {
		values[k] = v
	}
	if auth.Secret == "" && auth.ID != "" {
		values.Set("client_id", auth.ID)
	}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, ts.endpoint(path), strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth.Secret != "" {
		req.SetBasicAuth(url.QueryEscape(auth.ID), url.QueryEscape(auth.Secret))
	}
	return req
}

func doJSON(t *testing.T, c *http.Client, req *http.Request) oauthResponse {
	t.Helper()
	r := doJSONNoFatal(c, req)
	if r.Err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, r.Err)
	}
	return r
}

// doJSONNoFatal is doJSON for goroutines other than the test's: failures
// come back in Err.
func doJSONNoFatal(c *http.Client, req *http.Request) oauthResponse {
	resp, err := c.Do(req)
	if err != nil {
		return oauthResponse{Err: err}
	}
	defer closeBody(resp)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return oauthResponse{Err: fmt.Errorf("read body: %w", err)}
	}
	out := oauthResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			out.Err = fmt.Errorf("decode JSON (status %d): %w\n%s", resp.StatusCode, err, snippet(string(raw)))
		}
	}
	return out
}

// token posts to the token endpoint.
func (ts *testServer) token(t *testing.T, form url.Values, auth clientAuth) oauthResponse {
	t.Helper()
	return ts.post(t, "/oauth2/token", form, auth)
}

// refresh redeems a refresh token.
func (ts *testServer) refresh(t *testing.T, refreshToken string, auth clientAuth) oauthResponse {
	t.Helper()
	return ts.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, auth)
}

// introspect asks whether token is active, authenticated as auth.
func (ts *testServer) introspect(t *testing.T, token string, auth clientAuth) oauthResponse {
	t.Helper()
	r := ts.post(t, "/oauth2/introspect", url.Values{"token": {token}}, auth)
	if r.Status != http.StatusOK {
		t.Fatalf("introspect: status %d, want 200\n%s", r.Status, r.Raw)
	}
	if _, ok := r.JSON["active"].(bool); !ok {
		t.Fatalf("introspect: no boolean active in %s", r.Raw)
	}
	return r
}

func (ts *testServer) isActive(t *testing.T, token string, auth clientAuth) bool {
	t.Helper()
	return ts.introspect(t, token, auth).JSON["active"].(bool)
}

// revoke revokes token, failing unless the server answers 200.
func (ts *testServer) revoke(t *testing.T, token string, auth clientAuth) {
	t.Helper()
	r := ts.post(t, "/oauth2/revoke", url.Values{"token": {token}}, auth)
	if r.Status != http.StatusOK {
		t.Fatalf("revoke: status %d, want 200\n%s", r.Status, r.Raw)
	}
}

// userinfo calls the userinfo endpoint with a bearer token.
func (ts *testServer) userinfo(t *testing.T, accessToken string) oauthResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, ts.endpoint("/oauth2/userinfo"), nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return doJSON(t, httpClient(), req)
}

// wantOAuthError fails unless r is the OAuth 2.0 error code with status.
func wantOAuthError(t *testing.T, r oauthResponse, status int, code string) {
	t.Helper()
	if r.Status != status || r.str("error") != code {
		t.Fatalf("got status %d error %q (%s), want status %d error %q", r.Status, r.str("error"), r.str("error_description"), status, code)
	}
}

// tokenSignature is the part of an opaque token the store keys it by: fosite's
// HMAC tokens are <prefix><key>.<signature> and only the signature is kept.
func tokenSignature(t *testing.T, token, prefix string) string {
	t.Helper()
	if !strings.HasPrefix(token, prefix) {
		t.Fatalf("token %.10q... lacks the %s prefix", token, prefix)
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 || i == len(token)-1 {
		t.Fatalf("token with prefix %s is not of the form key.signature", prefix)
	}
	return token[i+1:]
}

// storedToken reads the store's row of an opaque token.
func (ts *testServer) storedToken(t *testing.T, kind store.TokenKind, token, prefix string) store.Token {
	t.Helper()
	row, err := ts.Store.GetToken(ctxT(t), kind, tokenSignature(t, token, prefix))
	if err != nil {
		t.Fatalf("store: get %s: %v", kind, err)
	}
	return row
}

// ---------------------------------------------------------------------------
// Small helpers.

func get(t *testing.T, c *http.Client, rawURL string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL.Redacted(), err)
	}
	return resp
}

func postForm(t *testing.T, c *http.Client, rawURL string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", req.URL.Redacted(), err)
	}
	return resp
}

func getJSON(t *testing.T, rawURL string) oauthResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	return doJSON(t, httpClient(), req)
}

func isRedirect(status int) bool { return status >= 300 && status < 400 }

func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("status %d without a usable Location: %v", resp.StatusCode, err)
	}
	return loc
}

func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// ctxT is a context bounded by requestTimeout and canceled at test end.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// snippet shortens a body for a failure message.
func snippet(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// decodeJWTPart decodes one base64url segment of a compact JWT as JSON.
func decodeJWTPart(t *testing.T, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("decode JWT part %d: %v", i, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("JWT part %d: %v", i, err)
	}
	return m
}
