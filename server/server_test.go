package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

type instance struct {
	t      *testing.T
	url    string
	store  store.Store
	server *server.Server
}

func start(t *testing.T, st store.Store) *instance {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Issuer = "http://" + hs.Listener.Addr().String()
	cfg.Secret = strings.Repeat("s", 32)
	cfg.Password.BcryptCost = 4
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg, st, nil)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return &instance{t: t, url: cfg.Issuer, store: st, server: srv}
}

// addClient stores a client_credentials client directly and returns its
// secret.
func (in *instance) addClient(id string, scopes []string, roles ...string) string {
	in.t.Helper()
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		in.t.Fatal(err)
	}
	now := time.Now()
	err = in.store.CreateClient(context.Background(), store.Client{ID: id, SecretHash: digest,
		TokenEndpointAuthMethod: "client_secret_basic", GrantTypes: []string{"client_credentials"},
		Scopes: scopes, Roles: roles, CreatedAt: now, UpdatedAt: now})
	if err != nil {
		in.t.Fatal(err)
	}
	return secret
}

func (in *instance) do(req *http.Request) (int, map[string]any) {
	in.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// token asks for a client_credentials token with scope.
func (in *instance) token(id, secret, scope string) (int, map[string]any) {
	in.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, _ := http.NewRequest(http.MethodPost, in.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return in.do(req)
}

func (in *instance) api(method, path, token string, body any) int {
	in.t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, in.url+"/api/v1"+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	status, _ := in.do(req)
	return status
}

// A change made through this instance's resource API is in force for the
// very next request, with no change feed to help (the memory store has
// none), although the client was cached before it.
func TestOwnClientWritesAreSeenAtOnce(t *testing.T) {
	in := start(t, memory.New())
	opsSecret := in.addClient("ops", []string{"gatehouse:api"}, "admin")
	status, body := in.token("ops", opsSecret, "gatehouse:api")
	if status != http.StatusOK {
		t.Fatalf("ops token: %d %v", status, body)
	}
	ops, _ := body["access_token"].(string)
	svcSecret := in.addClient("svc", []string{"api:read", "api:write"})

	if status, body := in.token("svc", svcSecret, "api:read"); status != http.StatusOK {
		t.Fatalf("svc token before the change: %d %v", status, body)
	}
	if status := in.api(http.MethodPatch, "/clients/svc", ops, map[string]any{"scope": "api:write"}); status != http.StatusOK {
		t.Fatalf("PATCH /clients/svc: %d", status)
	}
	if status, body := in.token("svc", svcSecret, "api:read"); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("svc token for a scope just removed: %d %v, want 400 invalid_scope", status, body)
	}
	if status, body := in.token("svc", svcSecret, "api:write"); status != http.StatusOK {
		t.Errorf("svc token for the remaining scope: %d %v", status, body)
	}
	if status := in.api(http.MethodDelete, "/clients/svc", ops, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE /clients/svc: %d", status)
	}
	if status, body := in.token("svc", svcSecret, "api:write"); status != http.StatusUnauthorized {
		t.Errorf("svc token after the client was deleted: %d %v, want 401", status, body)
	}
}

// Close stops the change feed listener and closes its connection; calling
// it again is harmless.
func TestCloseStopsTheListener(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	st, err := postgres.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	listeners := func() int {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'gatehouse-listener'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for listeners() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d listener connections, want %d", listeners(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	in := start(t, st)
	waitFor(1)
	in.server.Close()
	waitFor(0)
	in.server.Close()
}

// TestOversizedAPIBodyIsAProblem: the body limit answers POST /api/v1/users
// with problem+json, as every other API error is.
func TestOversizedAPIBodyIsAProblem(t *testing.T) {
	in := start(t, memory.New())
	req, err := http.NewRequest(http.MethodPost, in.url+"/api/v1/users", strings.NewReader(strings.Repeat("x", 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" || p.Status != 413 || !strings.Contains(p.Detail, "exceeds") {
		t.Errorf("status %d %q %+v, want 413 application/problem+json", resp.StatusCode, resp.Header.Get("Content-Type"), p)
	}
}

// TestConsoleIsMounted: the console and the account pages are served
// under the issuer's path, and the start registered the console's client
// for this issuer.
func TestConsoleIsMounted(t *testing.T) {
	st := memory.New()
	in := start(t, st)
	for _, p := range []string{"/console/", "/console/users", "/account/"} {
		resp, err := http.Get(in.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	c, err := st.GetClient(context.Background(), domain.ConsoleClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Public || !c.FirstParty || len(c.RedirectURIs) != 1 || c.RedirectURIs[0] != in.url+"/console/callback" {
		t.Errorf("console client: public %v first-party %v redirect URIs %v", c.Public, c.FirstParty, c.RedirectURIs)
	}
}
