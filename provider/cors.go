package provider

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

const (
	// originsRetry is how long a failed load of the allowed origins is
	// not retried: a failing store must not be queried by every browser
	// request.
	originsRetry = 10 * time.Second
	// corsMaxAge is how long a browser may cache a preflight answer.
	corsMaxAge = 10 * time.Minute
)

// originSet is the union of every client's AllowedOrigins. It is loaded
// when first needed and again after invalidate (a client changed, here or
// on another instance) or, as a safety net, after ttl.
type originSet struct {
	clients store.Clients
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	// gen counts invalidations; it is atomic so that invalidating never
	// waits for a load.
	gen atomic.Uint64

	// mu serializes loads and guards the fields below.
	mu        sync.Mutex
	loadedGen uint64
	loadedAt  time.Time
	failedAt  time.Time
	origins   map[string]bool // nil until the first successful load
}

func newOriginSet(c store.Clients, ttl time.Duration, now func() time.Time, log *slog.Logger) *originSet {
	return &originSet{clients: c, ttl: ttl, now: now, log: log}
}

// invalidate makes the next request load the origins again.
func (o *originSet) invalidate() { o.gen.Add(1) }

func (o *originSet) allowed(ctx context.Context, origin string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	gen := o.gen.Load()
	fresh := o.origins != nil && o.loadedGen == gen && now.Sub(o.loadedAt) < o.ttl && !now.Before(o.loadedAt)
	if fresh || (!o.failedAt.IsZero() && now.Sub(o.failedAt) < originsRetry && !now.Before(o.failedAt)) {
		return o.origins[origin]
	}
	clients, err := o.clients.ListClients(ctx)
	if err != nil {
		o.failedAt = now
		o.log.WarnContext(ctx, "cors: list clients; keeping the previous origins", "err", err)
		return o.origins[origin]
	}
	set := map[string]bool{}
	for _, c := range clients {
		for _, origin := range c.AllowedOrigins {
			set[origin] = true
		}
	}
	// Stamped with the generation read before the load: an invalidation
	// that arrived during it leaves the set stale, to be loaded again.
	o.origins, o.loadedGen, o.loadedAt, o.failedAt = set, gen, now, time.Time{}
	return set[origin]
}

// cors answers preflights and marks responses readable by the origins of
// registered clients; other origins get no CORS headers at all, so the
// browser keeps the response from them.
func (p *Provider) cors(next http.Handler, methods []string) http.Handler {
	allowMethods := strings.Join(append(append([]string(nil), methods...), http.MethodOptions), ", ")
	maxAge := strconv.Itoa(int(corsMaxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The answer depends on Origin; caches (the JWKS and discovery are
		// cacheable) must not hand one origin's answer to another.
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		ok := origin != "" && p.origins.allowed(r.Context(), origin)
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if r.Method == http.MethodOptions {
			if ok {
				h.Set("Access-Control-Allow-Methods", allowMethods)
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
				h.Set("Access-Control-Max-Age", maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
		}
		next.ServeHTTP(w, r)
	})
}
