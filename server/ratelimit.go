package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/ratelimit"
)

// rateClass is a class of routes with a per-address limit of its own
// (config rate_limits.*): password guessing is held to a trickle on the
// sign-in forms without slowing the token endpoint or the API, whose
// clients legitimately call often.
type rateClass int

const (
	classDefault rateClass = iota
	classSignIn
	classToken
	classAPI
	classCount
)

// String is the class's name: its config key and the metric's class label.
func (c rateClass) String() string {
	switch c {
	case classSignIn:
		return "sign_in"
	case classToken:
		return "token"
	case classAPI:
		return "api"
	}
	return "default"
}

func rateLimitClasses() []string {
	out := make([]string, classCount)
	for c := range classCount {
		out[c] = c.String()
	}
	return out
}

// Paths are functions, not variables: the package holds no mutable state.

// signInPaths are the POSTs that take a secret someone could be guessing
// (password, second factor, recovery ticket, the password that confirms a
// change on the security page, a device's user code) or that send email,
// and dynamic client
// registration, open to anyone and a row per request (its management
// takes a registration token): exact paths, and prefixes ending in "/".
func signInPaths() []string {
	return []string{"/login", "/login/", "/register", "/password/", "/passkeys/", "/email/", "/security/",
		"/device", "/device/", "/oauth2/register", "/oauth2/register/"}
}

// tokenPaths are the endpoints OAuth clients call with their credentials.
func tokenPaths() []string {
	return []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/oauth2/device/auth"}
}

// unlimitedPaths are the probes and the scrape, at the root: a load
// balancer or Prometheus behind one address polls them by design.
func unlimitedPaths() []string { return []string{"/healthz", "/readyz", MetricsPath} }

// rateLimitRecorder counts refusals by class (telemetry implements it).
type rateLimitRecorder interface {
	RateLimited(class string)
}

// rateLimits holds one limiter per class; a nil limiter (rate 0) allows
// everything.
type rateLimits struct {
	faces    surfaces
	limiters [classCount]*ratelimit.Limiter
	recorder rateLimitRecorder
}

func newRateLimits(cfg config.RateLimits, faces surfaces, rec rateLimitRecorder, now func() time.Time) *rateLimits {
	l := &rateLimits{faces: faces, recorder: rec}
	for c, limit := range [classCount]config.RateLimit{
		classDefault: cfg.Default, classSignIn: cfg.SignIn, classToken: cfg.Token, classAPI: cfg.API,
	} {
		l.limiters[c] = ratelimit.New(ratelimit.Options{
			Rate: limit.PerMinute, Per: time.Minute, Burst: limit.Burst, MaxKeys: cfg.MaxAddresses, Now: now,
		})
	}
	return l
}

// rateLimit refuses, with 429 and Retry-After in the surface's format, a
// request over its class's limit for its client address.
func (s surfaces) rateLimit(cfg config.RateLimits, rec rateLimitRecorder, next http.Handler) http.Handler {
	return newRateLimits(cfg, s, rec, time.Now).middleware(next)
}

func (l *rateLimits) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, limited := l.class(r)
		if !limited || l.limiters[c] == nil {
			next.ServeHTTP(w, r)
			return
		}
		// No usable address (not a TCP peer): nobody to hold to account,
		// and the limiter lets it through.
		addr, _ := netip.ParseAddr(clientaddr.IP(r))
		ok, wait := l.limiters[c].Allow(addr)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		l.recorder.RateLimited(c.String())
		l.refuse(w, r, wait)
	})
}

// class is the request's class of routes, and false for the routes that
// are not limited at all.
func (l *rateLimits) class(r *http.Request) (rateClass, bool) {
	for _, p := range unlimitedPaths() {
		if r.URL.Path == p {
			return 0, false
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, l.faces.base)
	if !ok {
		return classDefault, true
	}
	switch {
	case rest == admin.Prefix || strings.HasPrefix(rest, admin.Prefix+"/"):
		return classAPI, true
	case matchPath(rest, tokenPaths()):
		return classToken, true
	case r.Method != http.MethodGet && r.Method != http.MethodHead && matchPath(rest, signInPaths()):
		return classSignIn, true
	}
	return classDefault, true
}

func matchPath(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

// refuse answers 429 with Retry-After in whole seconds, rounded up so that
// a client that waits as told is let through.
func (l *rateLimits) refuse(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := max(int64((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	when := fmt.Sprintf("%d seconds", secs)
	if secs == 1 {
		when = "a second"
	}
	l.faces.fail(w, r, http.StatusTooManyRequests, "temporarily_unavailable", "Too many requests",
		"Too many requests from your address. Please try again in "+when+".")
}
