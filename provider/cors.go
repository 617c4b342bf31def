package provider

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

const (
	// originsRefresh bounds how stale the allowed origins may be: a client
	// registered on another instance is usable from a browser within it.
	originsRefresh = 10 * time.Second
	// corsMaxAge is how long a browser may cache a preflight answer.
	corsMaxAge = 10 * time.Minute
)

// originSet is the union of every client's AllowedOrigins, reloaded from the
// store at most every originsRefresh.
type originSet struct {
	clients store.Clients
	now     func() time.Time
	log     *slog.Logger

	mu       sync.Mutex
	loadedAt time.Time
	origins  map[string]bool // nil until the first successful load
}

func newOriginSet(c store.Clients, now func() time.Time, log *slog.Logger) *originSet {
	return &originSet{clients: c, now: now, log: log}
}

func (o *originSet) allowed(ctx context.Context, origin string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.loadedAt.IsZero() || now.Sub(o.loadedAt) >= originsRefresh {
		// Whatever the outcome, wait a full interval before asking again:
		// a failing store must not be queried by every browser request.
		o.loadedAt = now
		clients, err := o.clients.ListClients(ctx)
		if err != nil {
			o.log.WarnContext(ctx, "cors: list clients; keeping the previous origins", "err", err)
		} else {
			set := map[string]bool{}
			for _, c := range clients {
				for _, origin := range c.AllowedOrigins {
					set[origin] = true
				}
			}
			o.origins = set
		}
	}
	return o.origins[origin]
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
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", maxAge)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		}
		next.ServeHTTP(w, r)
	})
}
