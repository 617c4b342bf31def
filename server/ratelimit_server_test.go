package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestServerRateLimitsEachSurface: through the whole handler chain, a burst
// past the limits gets 429 with Retry-After on the token endpoint (OAuth
// JSON), the API (problem+json) and the login form (HTML), and /metrics
// counts each class.
func TestServerRateLimitsEachSurface(t *testing.T) {
	hs := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Issuer = "http://" + hs.Listener.Addr().String()
	cfg.Secret = strings.Repeat("s", 32)
	cfg.Password.BcryptCost = 4
	cfg.RateLimits.SignIn = config.RateLimit{PerMinute: 2, Burst: 2}
	cfg.RateLimits.Token = config.RateLimit{PerMinute: 2, Burst: 2}
	cfg.RateLimits.API = config.RateLimit{PerMinute: 2, Burst: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg, memory.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)

	send := func(method, path string) *http.Response {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode())
		}
		req, _ := http.NewRequest(method, cfg.Issuer+path, body)
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, tc := range []struct{ method, path, contentType, want string }{
		{http.MethodPost, "/oauth2/token", "application/json", `"error":"temporarily_unavailable"`},
		{http.MethodGet, "/api/v1/users", "application/problem+json", `"status":429`},
		{http.MethodPost, "/login", "text/html; charset=utf-8", "Too many requests"},
	} {
		for i := range 2 {
			if resp := send(tc.method, tc.path); resp.StatusCode == http.StatusTooManyRequests {
				t.Fatalf("%s %s request %d of the burst: 429", tc.method, tc.path, i+1)
			}
		}
		resp := send(tc.method, tc.path)
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != tc.contentType {
			t.Fatalf("%s %s past the burst: %d %q, want 429 %q\n%s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType, raw)
		}
		// 2 a minute: the next in 30 s.
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 29 || secs > 30 {
			t.Errorf("%s %s: Retry-After %q, want about 30 (seconds)", tc.method, tc.path, resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(raw), tc.want) {
			t.Errorf("%s %s: body %s, want it to contain %s", tc.method, tc.path, raw, tc.want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: the 429 lacks X-Content-Type-Options", tc.method, tc.path)
		}
	}
	metrics, _ := io.ReadAll(send(http.MethodGet, "/metrics").Body)
	for _, line := range []string{
		`gatehouse_rate_limited_total{class="token"} 1`,
		`gatehouse_rate_limited_total{class="api"} 1`,
		`gatehouse_rate_limited_total{class="sign_in"} 1`,
		`gatehouse_rate_limited_total{class="default"} 0`,
	} {
		if !strings.Contains(string(metrics), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}
