package admin

// API CONTRACT (issue 3): New, Options, AccessToken, Introspector and Mount
// are what server/ wires; the implementation is being written now.

import (
	"context"
	"log/slog"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
)

// AccessToken is what the API needs to know of a bearer access token that
// gatehouse issued.
type AccessToken struct {
	Subject  string
	ClientID string
	// UserID is empty for client_credentials tokens: the client acts as a
	// service account.
	UserID    string
	Scopes    []string
	ExpiresAt time.Time
}

// Introspector validates a bearer access token (active, unexpired, not
// revoked) and returns an error for anything else.
type Introspector func(ctx context.Context, token string) (AccessToken, error)

// Options configure the API.
type Options struct {
	Logger *slog.Logger
}

// API is the resource API under /api/v1.
type API struct {
	svc        *domain.Service
	introspect Introspector
	opts       Options
}

// New returns the API.
func New(svc *domain.Service, introspect Introspector, opts Options) *API {
	return &API{svc: svc, introspect: introspect, opts: opts}
}

// Mount registers every /api/v1 route on r.
func (a *API) Mount(r *mux.Router) {}
