package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/demo"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestSecurityHeadersOnEveryAnswer walks every route of the real server's
// router (and the dev-mode demo mounted on it) and sends GET to each (HEAD
// and POST where GET is not allowed), plus unknown paths and wrong methods:
// every answer, whatever its status, carries nosniff, DENY, no-referrer, a
// CSP that forbids framing and inline code, and HSTS exactly when the
// issuer is https. Answers whose handler has no CSP of its own carry the
// strict default.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	for _, issuer := range []string{"https://gatehouse.example", "http://127.0.0.1:5556"} {
		t.Run(issuer, func(t *testing.T) {
			cfg := config.Default()
			cfg.Issuer = issuer
			cfg.Secret = strings.Repeat("s", 32)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv, err := New(ctx, cfg, memory.New(), nil)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(srv.Close)
			srv.Mount("/demo", demo.New(demo.Options{Issuer: issuer, ClientID: "demo", ClientSecret: "x", Key: make([]byte, 32)}))

			type probe struct{ method, path string }
			var probes []probe
			vars := regexp.MustCompile(`\{[^}]*\}`)
			err = srv.base.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
				tmpl, err := route.GetPathTemplate()
				if err != nil {
					return nil // a subrouter's matcher without a path
				}
				path := vars.ReplaceAllString(tmpl, "x")
				methods, err := route.GetMethods()
				if err != nil || slices.Contains(methods, http.MethodGet) {
					probes = append(probes, probe{http.MethodGet, path})
				} else {
					probes = append(probes, probe{methods[0], path})
				}
				// A method no route takes: a 405 wherever the path is known.
				probes = append(probes, probe{"PROPFIND", path})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(probes) < 60 {
				t.Fatalf("walked only %d probes: the router walk missed routes", len(probes))
			}
			probes = append(probes,
				probe{http.MethodGet, "/no-such-page"}, probe{http.MethodGet, "/api/v1/no-such-route"},
				probe{http.MethodGet, "/oauth2/token"}, probe{http.MethodPut, "/login"},
				probe{http.MethodGet, "/api/v1/users?q=%00"}, probe{http.MethodGet, "/.well-known/nothing"})

			statuses := map[int]int{}
			for _, p := range probes {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(p.method, issuer+p.path, nil)
				if p.method == http.MethodPost {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				srv.Handler().ServeHTTP(rec, req)
				statuses[rec.Code]++
				h := rec.Header()
				what := p.method + " " + p.path
				for name, want := range map[string]string{
					"X-Content-Type-Options": "nosniff",
					"X-Frame-Options":        "DENY",
					"Referrer-Policy":        "no-referrer",
				} {
					if got := h.Values(name); len(got) != 1 || got[0] != want {
						t.Errorf("%s (%d): %s = %q, want %q", what, rec.Code, name, got, want)
					}
				}
				csp := h.Values("Content-Security-Policy")
				if len(csp) != 1 || !strings.Contains(csp[0], "frame-ancestors 'none'") ||
					!strings.Contains(csp[0], "default-src 'none'") || !strings.Contains(csp[0], "base-uri 'none'") ||
					strings.Contains(csp[0], "unsafe-") {
					t.Errorf("%s (%d): Content-Security-Policy = %q", what, rec.Code, csp)
				}
				// JSON (the API, the protocol endpoints, discovery) has no
				// policy of its own: the default's.
				if strings.Contains(h.Get("Content-Type"), "json") && len(csp) == 1 && csp[0] != defaultCSP {
					t.Errorf("%s (%d, %s): CSP %q, want the default %q", what, rec.Code, h.Get("Content-Type"), csp[0], defaultCSP)
				}
				hsts := h.Values("Strict-Transport-Security")
				if strings.HasPrefix(issuer, "https:") && (len(hsts) != 1 || hsts[0] != hstsValue) {
					t.Errorf("%s (%d): Strict-Transport-Security = %q, want %q", what, rec.Code, hsts, hstsValue)
				}
				if strings.HasPrefix(issuer, "http:") && len(hsts) != 0 {
					t.Errorf("%s (%d): Strict-Transport-Security = %q for an http issuer", what, rec.Code, hsts)
				}
			}
			if statuses[http.StatusOK] < 10 {
				t.Errorf("only %d probes answered 200", statuses[http.StatusOK])
			}
			// The walk reached answers of every kind, not only one.
			for _, code := range []int{http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnauthorized} {
				if statuses[code] == 0 {
					t.Errorf("no probe answered %d (statuses %v)", code, statuses)
				}
			}
			t.Logf("%d probes, statuses %v", len(probes), statuses)
		})
	}
}
