package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// ClientID is the console's client.
const ClientID = domain.ConsoleClientID

// Scopes are what the console asks for: who is signed in and their roles
// (to show only what they may do), the resource API, and a refresh token
// so that an expired access token is renewed without a page load.
var Scopes = []string{"openid", "profile", "roles", "gatehouse:api", "offline_access"}

// Clients is what the console needs of the domain (domain.Service) to
// register its client.
type Clients interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	CreateClient(ctx context.Context, a domain.Actor, c store.Client) (store.Client, string, error)
	UpdateClientUnchangedSince(ctx context.Context, a domain.Actor, id string, updatedAt time.Time, p domain.ClientPatch) (store.Client, error)
	DeleteClient(ctx context.Context, a domain.Actor, id string) error
}

// system is the actor of the registration in the audit log.
var system = domain.Actor{Type: store.ActorSystem}

// attempts bounds EnsureClient's read-repair-verify loop: each round that
// loses a race to another instance re-reads, and some instance wins every
// round.
const attempts = 20

// EnsureClient registers the console's client for issuer, or repairs it:
// public with PKCE, first-party (no consent page), allowed the code and
// refresh grants and the console's scopes, with <issuer>/console/callback
// as a redirect URI and <issuer>/console/ as a post-logout one.
//
// The repair adds what is missing and keeps what an operator added (more
// redirect URIs, say for a second host name; more scopes). Instances of one
// issuer that start at once want the same client, so they converge: a
// create that loses the race re-reads. Instances of different issuers
// sharing one database each add their own addresses: the repair is a
// compare-and-swap on the client's update time, so one that read the
// client before another's repair reads it again rather than drop the other's
// addresses. A confidential client of
// the console's id (registered by hand before the console existed) cannot
// be turned public by an update; it is deleted and registered again.
//
// An issuer the domain refuses as a redirect URI (plain http on a host
// that is not a loopback address) is logged, not fatal: gatehouse serves
// everything else, and the console answers its sign-in with the reason.
func EnsureClient(ctx context.Context, clients Clients, issuer string, logger *slog.Logger) error {
	want := consoleClient(issuer)
	for range attempts {
		cur, err := clients.GetClient(ctx, ClientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, _, err = clients.CreateClient(ctx, system, want)
			if errors.Is(err, store.ErrConflict) {
				continue // another instance registered it meanwhile
			}
		case err != nil:
			return fmt.Errorf("console: read client %s: %w", ClientID, err)
		case !cur.Public || cur.TokenEndpointAuthMethod != domain.AuthNone:
			logger.Warn("console: client is confidential; registering it again as a public client", "client_id", ClientID)
			if err := clients.DeleteClient(ctx, system, ClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("console: delete confidential client %s: %w", ClientID, err)
			}
			continue
		default:
			p, changed := repair(cur, want)
			if !changed {
				return nil
			}
			logger.Info("console: repairing client", "client_id", ClientID)
			_, err = clients.UpdateClientUnchangedSince(ctx, system, ClientID, cur.UpdatedAt, p)
			if errors.Is(err, domain.ErrStale) {
				continue // another instance repaired it meanwhile: read again
			}
		}
		if _, ok := domain.AsValidation(err); ok {
			logger.Error("console: cannot register the console's client; the console cannot sign in", "client_id", ClientID, "error", err)
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("console: register client %s: %w", ClientID, err)
		}
		// Loop: read back, to see our change survived any concurrent one.
	}
	return fmt.Errorf("console: client %s still differs from what the console needs after %d attempts", ClientID, attempts)
}

// consoleClient is the registration the console needs for issuer.
func consoleClient(issuer string) store.Client {
	issuer = strings.TrimRight(issuer, "/")
	return store.Client{
		ID:                      ClientID,
		Name:                    "gatehouse console",
		Public:                  true,
		FirstParty:              true,
		TokenEndpointAuthMethod: domain.AuthNone,
		RedirectURIs:            []string{issuer + CallbackPath},
		PostLogoutRedirectURIs:  []string{issuer + ConsolePath},
		// Token exchange: the Impersonate action (users.js).
		GrantTypes:    []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken, domain.GrantTokenExchange},
		ResponseTypes: []string{domain.ResponseTypeCode},
		Scopes:        slices.Clone(Scopes),
	}
}

// repair is the patch that gives cur what want has, keeping what cur has
// beyond it; changed is false when nothing is missing.
func repair(cur, want store.Client) (p domain.ClientPatch, changed bool) {
	if !cur.FirstParty {
		t := true
		p.FirstParty, changed = &t, true
	}
	for _, f := range []struct {
		have, want []string
		dst        **[]string
	}{
		{cur.RedirectURIs, want.RedirectURIs, &p.RedirectURIs},
		{cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs, &p.PostLogoutRedirectURIs},
		{cur.GrantTypes, want.GrantTypes, &p.GrantTypes},
		{cur.Scopes, want.Scopes, &p.Scopes},
	} {
		merged := slices.Clone(f.have)
		for _, v := range f.want {
			if !slices.Contains(merged, v) {
				merged = append(merged, v)
			}
		}
		if len(merged) != len(f.have) {
			*f.dst, changed = &merged, true
		}
	}
	return p, changed
}
