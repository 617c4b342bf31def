package scim_test

// The harness: a real gatehouse server (server.New) on a 127.0.0.1
// listener over either store, provisioning tokens minted through the
// domain (API tokens of a service account) or the client_credentials
// grant, and a small SCIM client.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

type env struct {
	URL   string // the issuer
	Store store.Store
	Svc   *domain.Service
}

// bothStores runs fn on the memory store and on PostgreSQL (which fails,
// never skips, when the database is unreachable).
func bothStores(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("memory", func(t *testing.T) { fn(t, startEnv(t, memory.New(), nil)) })
	t.Run("postgres", func(t *testing.T) {
		dbURL := pgtest.NewDatabase(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := postgres.New(ctx, dbURL)
		if err != nil {
			t.Fatalf("postgres.New: %v", err)
		}
		t.Cleanup(st.Close)
		fn(t, startEnv(t, st, nil))
	})
}

func startEnv(t *testing.T, st store.Store, mutate func(*config.Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String() + "/idp"
	cfg.Addr = ln.Addr().String()
	cfg.Secret = randomHex(t, 32)
	cfg.Password.BcryptCost = 4 // tests only
	cfg.RateLimits = config.RateLimits{MaxAddresses: cfg.RateLimits.MaxAddresses}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg, st, nil)
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
		_ = hs.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	pw := domain.Passwords{BcryptCost: cfg.Password.BcryptCost, MinLength: cfg.Password.MinLength}
	return &env{URL: cfg.Issuer, Store: st, Svc: domain.NewService(st, domain.Options{Passwords: pw})}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// serviceAccount stores a client_credentials client with the roles and
// returns it with its secret.
func (e *env) serviceAccount(t *testing.T, roles ...string) (store.Client, string) {
	t.Helper()
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	c := store.Client{
		ID: "scim-" + randomHex(t, 4), Name: "Provisioning", SecretHash: digest,
		TokenEndpointAuthMethod: "client_secret_basic", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"gatehouse:api"}, Roles: roles, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.Store.CreateClient(ctxT(t), c); err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, secret
}

// systemToken is an API token of a new service account with the roles,
// scoped to scopes (all of the account's permissions when none).
func (e *env) systemToken(t *testing.T, roles []string, scopes ...string) (string, store.Client) {
	t.Helper()
	c, _ := e.serviceAccount(t, roles...)
	// As the CLI issues it (cmd/gatehouse cliPrincipal).
	perms := map[string]bool{}
	for _, p := range domain.KnownPermissions() {
		perms[p] = true
	}
	cli := domain.Principal{Actor: domain.CLIActor(), Permissions: perms}
	_, secret, err := e.Svc.IssueAPIToken(ctxT(t), cli,
		domain.NewAPIToken{Name: "scim", Kind: store.TokenSystem, ClientID: c.ID, Scopes: scopes})
	if err != nil {
		t.Fatalf("issue API token: %v", err)
	}
	return secret, c
}

// clientCredentials gets an access token for the service account.
func (e *env) clientCredentials(t *testing.T, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, e.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("client_credentials: status %d (%v)", resp.StatusCode, err)
	}
	return body.AccessToken
}

// reply is one SCIM response.
type reply struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// call sends a SCIM request; body is JSON-encoded unless it is a string.
func (e *env) call(t *testing.T, method, path, token string, body any, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, e.URL+"/scim/v2"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r
}

// want fails unless the reply has the status.
func want(t *testing.T, r reply, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, status, r.Raw)
	}
}

// wantError checks a SCIM error object: media type, schemas, the status
// as a string and the scimType ("" for none).
func wantError(t *testing.T, r reply, status int, scimType, what string) {
	t.Helper()
	want(t, r, status, what)
	if ct := r.Header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("%s: Content-Type %q, want application/scim+json", what, ct)
	}
	schemas, _ := r.Body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("%s: schemas %v", what, r.Body["schemas"])
	}
	if r.Body["status"] != itoa(status) {
		t.Errorf("%s: status field %v, want %q", what, r.Body["status"], itoa(status))
	}
	if got, _ := r.Body["scimType"].(string); got != scimType {
		t.Errorf("%s: scimType %q, want %q (detail %v)", what, got, scimType, r.Body["detail"])
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// str reads a string at a dotted path of a JSON object.
func str(m map[string]any, path string) string {
	var cur any = m
	for p := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = obj[p]
	}
	s, _ := cur.(string)
	return s
}

// auditSince returns the audit entries with an id above after, oldest
// first.
func (e *env) auditSince(t *testing.T, after int64) []store.AuditEntry {
	t.Helper()
	page, err := e.Store.ListAudit(ctxT(t), store.AuditFilter{Limit: 200})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	var out []store.AuditEntry
	for i := len(page) - 1; i >= 0; i-- {
		if page[i].ID > after {
			out = append(out, page[i])
		}
	}
	return out
}

func (e *env) lastAuditID(t *testing.T) int64 {
	t.Helper()
	page, err := e.Store.ListAudit(ctxT(t), store.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	if len(page) == 0 {
		return 0
	}
	return page[0].ID
}
