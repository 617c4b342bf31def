package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestStrictTransportSecurity: with an https issuer every answer carries
// HSTS — a page, an OAuth endpoint, discovery, the API, 404s on each
// surface, the probes, the metrics, refusals the middleware writes itself;
// with an http issuer none does. The server itself speaks plain HTTP here,
// as behind a TLS-terminating proxy: the issuer is what clients use.
func TestStrictTransportSecurity(t *testing.T) {
	const want = "max-age=63072000; includeSubDomains"
	requests := []struct {
		name, method, path, body string
	}{
		{"login page", http.MethodGet, "/login", ""},
		{"token endpoint", http.MethodPost, "/oauth2/token", "grant_type=client_credentials"},
		{"discovery", http.MethodGet, "/.well-known/openid-configuration", ""},
		{"API without a token", http.MethodGet, "/api/v1/users", ""},
		{"API 404", http.MethodGet, "/api/v1/no-such-route", ""},
		{"page 404", http.MethodGet, "/no-such-page", ""},
		{"healthz", http.MethodGet, "/healthz", ""},
		{"readyz", http.MethodGet, "/readyz", ""},
		{"metrics", http.MethodGet, server.MetricsPath, ""},
		{"refused at the edge", http.MethodGet, "/api/v1/users?q=%00", ""},
		{"oversized body", http.MethodPost, "/oauth2/token", strings.Repeat("a", 2<<20)},
	}
	for _, issuer := range []string{"https://gatehouse.example", "http://gatehouse.example"} {
		t.Run(issuer, func(t *testing.T) {
			hs := httptest.NewUnstartedServer(nil)
			cfg := config.Default()
			cfg.Issuer = issuer
			cfg.Secret = strings.Repeat("s", 32)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv, err := server.New(ctx, cfg, memory.New(), nil)
			if err != nil {
				t.Fatalf("server.New: %v", err)
			}
			t.Cleanup(srv.Close)
			hs.Config.Handler = srv.Handler()
			hs.Start()
			t.Cleanup(hs.Close)

			for _, rq := range requests {
				req, err := http.NewRequest(rq.method, hs.URL+rq.path, strings.NewReader(rq.body))
				if err != nil {
					t.Fatal(err)
				}
				if rq.body != "" {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", rq.name, err)
				}
				_ = resp.Body.Close()
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s (status %d): X-Content-Type-Options = %q, want nosniff", rq.name, resp.StatusCode, got)
				}
				got := resp.Header.Get("Strict-Transport-Security")
				if strings.HasPrefix(issuer, "https:") && got != want {
					t.Errorf("%s (status %d): Strict-Transport-Security = %q, want %q", rq.name, resp.StatusCode, got, want)
				}
				if strings.HasPrefix(issuer, "http:") && got != "" {
					t.Errorf("%s (status %d): Strict-Transport-Security = %q for an http issuer", rq.name, resp.StatusCode, got)
				}
			}
		})
	}
}
