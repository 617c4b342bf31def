package admin_test

// The harness: a real gatehouse server (server.New) on a 127.0.0.1
// listener, users who sign in through the real authorization code flow
// (login page, consent page, PKCE, token endpoint), service accounts through
// client_credentials, and a small client for the resource API.

import (
	"bytes"
	"context"
	"crypto/rand"
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

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/formdriver"
	"github.com/gatehouse/gatehouse/internal/logcheck"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/notify/smtptest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

const requestTimeout = 20 * time.Second

// env is one running server and what the tests need around it.
type env struct {
	URL   string
	Store store.Store
	// Svc is a domain service over the server's store, for fixtures: the
	// tests set up through the domain and observe through the API.
	Svc       *domain.Service
	Passwords domain.Passwords
	// Console is the confidential client users sign in with: it may ask
	// for openid and gatehouse:api.
	Console testClient
	logs    *logcheck.Log
	// srv is the server, for what only it can do (FlushUsage).
	srv *server.Server
}

// newMemoryEnv starts a server over a fresh in-memory store.
func newMemoryEnv(t *testing.T) *env {
	t.Helper()
	return startEnv(t, memory.New())
}

// newPostgresEnv starts a server over a fresh PostgreSQL database; it fails
// (never skips) when PostgreSQL is unreachable.
func newPostgresEnv(t *testing.T) *env {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.New(ctx, dbURL)
	if err != nil {
		t.Fatalf("postgres.New: %v", err)
	}
	t.Cleanup(st.Close)
	return startEnv(t, st)
}

func startEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	logs := &logcheck.Log{}
	t.Cleanup(func() { logs.Finish(t) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.Addr = ln.Addr().String()
	cfg.Secret = randomHex(t, 32)
	cfg.Password.BcryptCost = 4 // tests only
	cfg.Log.Level = "debug"
	// Every request of these tests comes from 127.0.0.1, hundreds a
	// second: the per-address rate limits (tested in server/) are off.
	cfg.RateLimits = config.RateLimits{MaxAddresses: cfg.RateLimits.MaxAddresses}
	// Mail on, so that the routes that send it answer as in production;
	// the test SMTP server keeps what the outbox sends.
	mail := smtptest.Start(t, smtptest.Options{})
	cfg.SMTP.Host, cfg.SMTP.Port, cfg.SMTP.From = mail.Host, mail.Port, "gatehouse <no-reply@gatehouse.test>"
	// The usage counts reach the table when a test flushes them
	// (srv.FlushUsage), never by a timer in the middle of a test.
	cfg.Usage.FlushInterval = time.Hour

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(ctx, cfg, st, logger)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
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

	pw := domain.Passwords{BcryptCost: cfg.Password.BcryptCost, MinLength: cfg.Password.MinLength}
	e := &env{
		URL:       cfg.Issuer,
		Store:     st,
		Svc:       domain.NewService(st, domain.Options{Passwords: pw, WebhookKey: testWebhookKey()}),
		Passwords: pw,
		logs:      logs,
		srv:       srv,
	}
	e.Console = e.createClient(t, "console-"+randomHex(t, 4), func(c *store.Client) {
		c.RedirectURIs = []string{"https://console.rp.example/callback"}
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
		c.ResponseTypes = []string{"code"}
		c.Scopes = []string{"openid", "profile", "email", "roles", "gatehouse:api"}
	})
	return e
}

// ---------------------------------------------------------------------------
// Users and clients, made through the store.

type testUser struct {
	store.User
	Password string
}

// createUser stores an active user with the roles and a random password.
func (e *env) createUser(t *testing.T, roles ...string) *testUser {
	t.Helper()
	return e.createUserWith(t, store.StatusActive, roles...)
}

func (e *env) createUserWith(t *testing.T, status store.UserStatus, roles ...string) *testUser {
	t.Helper()
	name := "u-" + randomHex(t, 6)
	password := "Pw-" + randomHex(t, 10)
	hash, err := e.Passwords.Hash(password)
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	now := time.Now().UTC()
	u := store.User{
		ID:            newUUID(t),
		Username:      name,
		Email:         name + "@example.com",
		PasswordHash:  hash,
		FullName:      "Test User",
		Status:        status,
		Roles:         roles,
		EmailVerified: true,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := e.Store.CreateUser(ctxT(t), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	e.logs.Secret(password)
	got, err := e.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	return &testUser{User: got, Password: password}
}

type testClient struct {
	store.Client
	Secret string
}

// createClient stores a client_secret_basic client; mutate sets its grants.
func (e *env) createClient(t *testing.T, id string, mutate func(*store.Client)) testClient {
	t.Helper()
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatalf("client secret: %v", err)
	}
	now := time.Now().UTC()
	c := store.Client{
		ID:                      id,
		Name:                    "Test client " + id,
		SecretHash:              digest,
		TokenEndpointAuthMethod: "client_secret_basic",
		CreatedAt:               now,
		UpdatedAt:               now,
	}
	mutate(&c)
	if err := e.Store.CreateClient(ctxT(t), c); err != nil {
		t.Fatalf("create client %s: %v", id, err)
	}
	e.logs.Secret(secret)
	return testClient{Client: c, Secret: secret}
}

// createServiceAccount stores a client_credentials client allowed the API
// scope, with roles.
func (e *env) createServiceAccount(t *testing.T, roles ...string) testClient {
	t.Helper()
	return e.createClient(t, "svc-"+randomHex(t, 4), func(c *store.Client) {
		c.GrantTypes = []string{"client_credentials"}
		c.Scopes = []string{"gatehouse:api"}
		c.Roles = roles
	})
}

// ---------------------------------------------------------------------------
// Tokens.

// clientCredentials gets a service account's access token.
func (e *env) clientCredentials(t *testing.T, c testClient) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, e.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := plainClient().Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("client_credentials for %s: status %d, error %q %q (%v)", c.ID, resp.StatusCode, body.Error, body.Description, err)
	}
	e.logs.Secret(body.AccessToken)
	return body.AccessToken
}

// revokeToken revokes an access token at the OAuth revocation endpoint.
func (e *env) revokeToken(t *testing.T, token string) {
	t.Helper()
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, e.URL+"/oauth2/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.Console.ID), url.QueryEscape(e.Console.Secret))
	resp, err := plainClient().Do(req)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", resp.StatusCode)
	}
}

// signIn runs the authorization code flow with PKCE for u in a fresh
// browser and returns the access token. scopes default to openid and
// gatehouse:api.
func (e *env) signIn(t *testing.T, u *testUser, scopes ...string) string {
	t.Helper()
	tok, err := e.trySignIn(t, u, scopes...)
	if err != nil {
		t.Fatalf("sign in %s: %v", u.Username, err)
	}
	return tok
}

// errSignInRefused: the login form was shown again after the password was
// submitted.
var errSignInRefused = errors.New("sign-in refused")

// trySignIn is signIn returning the failure instead of failing the test.
func (e *env) trySignIn(t *testing.T, u *testUser, scopes ...string) (string, error) {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"openid", "gatehouse:api"}
	}
	conf := oauth2.Config{
		ClientID:     e.Console.ID,
		ClientSecret: e.Console.Secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.URL + "/oauth2/auth",
			TokenURL:  e.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: e.Console.RedirectURIs[0],
		Scopes:      scopes,
	}
	state, verifier := "st-"+randomHex(t, 8), oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "n-"+randomHex(t, 8)))
	browser := e.newBrowser(t)

	resp, err := doGet(t, browser, authURL)
	if err != nil {
		return "", err
	}
	triedLogin := false
	for step := 0; ; step++ {
		if step > 5 {
			return "", fmt.Errorf("no redirect to the client after %d pages", step)
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			closeBody(resp)
			if err != nil {
				return "", fmt.Errorf("redirect without Location: %w", err)
			}
			if !strings.HasPrefix(loc.String(), conf.RedirectURL) {
				return "", fmt.Errorf("redirected to %s", loc.Redacted())
			}
			q := loc.Query()
			if q.Get("state") != state {
				return "", fmt.Errorf("state %q, want %q", q.Get("state"), state)
			}
			if q.Get("code") == "" {
				return "", fmt.Errorf("no code: error %q %q", q.Get("error"), q.Get("error_description"))
			}
			tok, err := conf.Exchange(ctxT(t), q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				return "", fmt.Errorf("exchange: %w", err)
			}
			e.logs.Secret(tok.AccessToken)
			e.logs.Secret(q.Get("code"))
			return tok.AccessToken, nil
		}
		pg, err := formdriver.Read(resp)
		if err != nil {
			return "", err
		}
		switch {
		case pg.Form("password") != nil:
			if triedLogin {
				return "", fmt.Errorf("%w: the login page came back (status %d)", errSignInRefused, pg.Status)
			}
			triedLogin = true
			resp, err = pg.Form("password").Submit(ctxT(t), browser, url.Values{"username": {u.Username}, "password": {u.Password}})
		case pg.FormWithButton("decision", "allow") != nil:
			resp, err = pg.FormWithButton("decision", "allow").Submit(ctxT(t), browser, url.Values{"decision": {"allow"}})
		default:
			return "", fmt.Errorf("unexpected page: status %d at %s: %.300s", pg.Status, pg.URL.Redacted(), pg.Body)
		}
		if err != nil {
			return "", err
		}
	}
}

// newBrowser is a cookie jar that follows redirects on the server and
// stops at any other host (the client's redirect URI).
func (e *env) newBrowser(t *testing.T) *http.Client {
	t.Helper()
	issuer, _ := url.Parse(e.URL) // httptest's own URL
	return formdriver.NewBrowser(issuer.Host, requestTimeout)
}

func plainClient() *http.Client {
	return &http.Client{
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func doGet(t *testing.T, c *http.Client, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}

// ---------------------------------------------------------------------------
// The resource API.

// apiResponse is a decoded API response.
type apiResponse struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
	Err    error
}

// problem is the problem+json body of an error.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r apiResponse) problem(t *testing.T) problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("error response has Content-Type %q, want application/problem+json; body %s", ct, r.Raw)
	}
	var p problem
	if err := json.Unmarshal(r.Raw, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.Raw)
	}
	if p.Status != r.Status || p.Title == "" || p.Type == "" {
		t.Errorf("problem %+v does not match status %d or lacks type/title", p, r.Status)
	}
	return p
}

// fields lists the fields a problem names.
func (p problem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Raw, v); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
}

func (r apiResponse) str(key string) string {
	s, _ := r.JSON[key].(string)
	return s
}

// apiRequest is a call to the API: path is under /api/v1; Body is
// JSON-encoded unless RawBody is set.
type apiRequest struct {
	Method      string
	Path        string
	Token       string
	Body        any
	RawBody     *string
	ContentType string
	// Header holds further request headers (If-Match).
	Header http.Header
}

// call makes the request from any goroutine: failures come back in Err.
func (e *env) call(ctx context.Context, r apiRequest) apiResponse {
	var body io.Reader
	ct := r.ContentType
	switch {
	case r.RawBody != nil:
		body = strings.NewReader(*r.RawBody)
	case r.Body != nil:
		b, err := json.Marshal(r.Body)
		if err != nil {
			return apiResponse{Err: err}
		}
		body = bytes.NewReader(b)
		if ct == "" {
			ct = "application/json"
			if r.Method == http.MethodPatch {
				ct = "application/merge-patch+json"
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, e.URL+"/api/v1"+r.Path, body)
	if err != nil {
		return apiResponse{Err: err}
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := plainClient().Do(req)
	if err != nil {
		return apiResponse{Err: err}
	}
	defer closeBody(resp)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	out := apiResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw, Err: err}
	if err == nil && len(bytes.TrimSpace(raw)) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if jerr := json.Unmarshal(raw, &out.JSON); jerr != nil {
			// Lists and other non-object bodies are read with decode.
			out.JSON = nil
		}
	}
	return out
}

// do is call on the test goroutine, failing on transport errors.
func (e *env) do(t *testing.T, method, path, token string, body any) apiResponse {
	t.Helper()
	r := e.call(ctxT(t), apiRequest{Method: method, Path: path, Token: token, Body: body})
	if r.Err != nil {
		t.Fatalf("%s %s: %v", method, path, r.Err)
	}
	return r
}

// want fails unless r has the status.
func want(t *testing.T, r apiResponse, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, status, r.Raw)
	}
}

// ---------------------------------------------------------------------------
// Small helpers.

func closeBody(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

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

func newUUID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// iam is the IAM half of the store, for checks of what the API wrote.
func (e *env) iam(t *testing.T) store.IAM {
	t.Helper()
	return e.Store
}

// auditSince returns the audit entries with an id above after, oldest first.
func (e *env) auditSince(t *testing.T, after int64) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	before := int64(0)
	for {
		page, err := e.iam(t).ListAudit(ctxT(t), store.AuditFilter{Before: before, Limit: 200})
		if err != nil {
			t.Fatalf("list audit: %v", err)
		}
		done := len(page) == 0
		for _, a := range page {
			if a.ID <= after {
				done = true
				break
			}
			out = append(out, a)
			before = a.ID
		}
		if done {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// lastAuditID is the id of the newest audit entry (0 if none).
func (e *env) lastAuditID(t *testing.T) int64 {
	t.Helper()
	page, err := e.iam(t).ListAudit(ctxT(t), store.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	if len(page) == 0 {
		return 0
	}
	return page[0].ID
}

// testWebhookKey seals the subscriptions' secrets (events and webhooks).
func testWebhookKey() []byte { return bytes.Repeat([]byte{9}, 32) }
