package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

type countingRecorder struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingRecorder) RateLimited(class string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[class]++
}

// TestRateLimitAnswersEachSurface: a burst past its class's limit is
// answered 429 with Retry-After (whole seconds, rounded up) in the format of
// the surface it was sent to, and counted by class; other classes and other
// addresses keep their own budgets, and the budget refills with time.
func TestRateLimitAnswersEachSurface(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	rec := &countingRecorder{n: map[string]int{}}
	cfg := config.Default().RateLimits
	cfg.SignIn = config.RateLimit{PerMinute: 30, Burst: 3}  // one every 2 s
	cfg.Token = config.RateLimit{PerMinute: 1200, Burst: 3} // one every 50 ms
	cfg.API = config.RateLimit{PerMinute: 6, Burst: 3}      // one every 10 s
	cfg.Default = config.RateLimit{PerMinute: 60, Burst: 3} // one a second
	faces := surfaces{base: "/auth", pages: fakePage{}}
	served := 0
	h := newRateLimits(cfg, faces, rec, clock.Now).middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served++
		w.WriteHeader(http.StatusNoContent)
	}))
	send := func(method, path, from string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.RemoteAddr = from
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}

	for _, tc := range []struct {
		name, method, path, class string
		contentType, oauthCode    string
		retryAfter                string
	}{
		{"sign-in form", http.MethodPost, "/auth/login", "sign_in", "text/html; charset=utf-8", "", "2"},
		{"token endpoint", http.MethodPost, "/auth/oauth2/token", "token", "application/json", "temporarily_unavailable", "1"},
		{"introspection", http.MethodPost, "/auth/oauth2/introspect", "token", "application/json", "temporarily_unavailable", "1"},
		{"resource API", http.MethodGet, "/auth/api/v1/users", "api", "application/problem+json", "", "10"},
		{"a page", http.MethodGet, "/auth/login", "default", "text/html; charset=utf-8", "", "1"},
		{"discovery", http.MethodGet, "/auth/.well-known/openid-configuration", "default", "application/json", "temporarily_unavailable", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := fmt.Sprintf("192.0.2.%d:4000", len(tc.name)) // an address per case
			for i := range 3 {
				if w := send(tc.method, tc.path, from); w.Code != http.StatusNoContent {
					t.Fatalf("request %d of the burst: %d, want it served", i+1, w.Code)
				}
			}
			before := rec.n[tc.class]
			w := send(tc.method, tc.path, from)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Content-Type") != tc.contentType {
				t.Fatalf("past the burst: %d %q, want 429 %q", w.Code, w.Header().Get("Content-Type"), tc.contentType)
			}
			if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.retryAfter)
			}
			checkBody(t, tc.name, w, tc.oauthCode, http.StatusTooManyRequests)
			if rec.n[tc.class] != before+1 {
				t.Errorf("gatehouse_rate_limited_total{class=%q} went %d -> %d, want +1", tc.class, before, rec.n[tc.class])
			}
			// Another address is not held back.
			if w := send(tc.method, tc.path, "198.51.100.1:4000"); w.Code != http.StatusNoContent {
				t.Errorf("another address: %d, want served", w.Code)
			}
		})
		// Each case's budget refills before the next case's clock moves on.
		clock.Advance(time.Minute)
	}

	// The budgets are per class: a sign-in form refused does not stop the
	// same address from fetching pages or tokens.
	const from = "203.0.113.9:5000"
	for range 3 {
		send(http.MethodPost, "/auth/login", from)
	}
	if w := send(http.MethodPost, "/auth/login", from); w.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth sign-in POST: %d, want 429", w.Code)
	}
	if w := send(http.MethodGet, "/auth/login", from); w.Code != http.StatusNoContent {
		t.Errorf("GET of the login page after the sign-in limit: %d, want served (default class)", w.Code)
	}
	if w := send(http.MethodPost, "/auth/oauth2/token", from); w.Code != http.StatusNoContent {
		t.Errorf("token endpoint after the sign-in limit: %d, want served", w.Code)
	}
	// Waiting as told lets the next one through.
	clock.Advance(2 * time.Second)
	if w := send(http.MethodPost, "/auth/login", from); w.Code != http.StatusNoContent {
		t.Errorf("sign-in after Retry-After: %d, want served", w.Code)
	}
	// Every sign-in class path, and only POSTs.
	for _, p := range []string{"/auth/register", "/auth/login/mfa", "/auth/password/forgot", "/auth/passkeys/login/finish", "/auth/email/verify/resend", "/auth/security/totp/disable", "/auth/password/reset", "/auth/device", "/auth/device/consent"} {
		addr := "203.0.113.77:1"
		clock.Advance(time.Minute)
		for range 3 {
			send(http.MethodPost, p, addr)
		}
		if w := send(http.MethodPost, p, addr); w.Code != http.StatusTooManyRequests {
			t.Errorf("POST %s past the sign-in burst: %d, want 429", p, w.Code)
		}
	}
}

// TestRateLimitLeavesProbesAlone: the probes and the scrape are never
// limited, and a class configured to 0 is off.
func TestRateLimitLeavesProbesAlone(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	cfg := config.Default().RateLimits
	cfg.Default = config.RateLimit{PerMinute: 1, Burst: 1}
	cfg.Token = config.RateLimit{} // off
	h := newRateLimits(cfg, surfaces{base: "", pages: fakePage{}}, &countingRecorder{n: map[string]int{}}, clock.Now).
		middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/oauth2/token"} {
		for i := range 50 {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.RemoteAddr = "192.0.2.1:1"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusNoContent {
				t.Fatalf("%s request %d: %d, want never limited", path, i+1, w.Code)
			}
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.0.2.1:1"
	for i, want := range []int{http.StatusNoContent, http.StatusTooManyRequests} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("default-class request %d: %d, want %d", i+1, w.Code, want)
		}
		if want == http.StatusTooManyRequests && !strings.Contains(w.Body.String(), "<title>") {
			t.Errorf("429 page: %s", w.Body)
		}
	}
}
