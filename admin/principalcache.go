package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// The principal cache: what an access token's subject may do (the user
// with its effective roles and permissions, or the service account's), by
// the token's digest, so that an API request whose token introspection
// answers from memory costs no query before its own. The token itself is
// still checked on every request (introspection, its own cache and
// revocation rules; the DPoP proof; the scope): only the principal is
// cached. The address rules and the user's standing are applied to the
// cached user on every request, both pure functions of it and the clock.
//
// What invalidates an entry:
//
//   - a write that changes what a user may do (store.ChangeUser: status,
//     expiry, roles and their expiries, deny list, IP rules, group
//     memberships; UpdateUser announces nothing else, store.UserAccessChanged
//     lists what an entry reads, so a handler reads the user again for any
//     other field, as patchMe does), a group's roles (store.ChangeGroup), a role definition
//     (store.ChangeRole), the client of a service account
//     (store.ChangeClient), the user's tokens revoked or the user deleted
//     (store.ChangeUserTokens). The stores announce the user and group
//     writes as they announce revocations of tokens: to this process when
//     written (held out of the cache until surely committed and
//     announced, as the introspection cache does), and to every
//     instance's change feed, the write returning only once each has
//     applied it. So the request after the one that locked a user is
//     refused on any instance;
//   - the feed's loss (nothing is served until it reconnects);
//   - the clock: an entry lives at most until the token expires, until
//     the earliest of the user's time-boxed role grants or the account
//     expires (domain.PrincipalChangesAt), and for PrincipalCacheTTL.

// PrincipalCacheTTL is the safety-net lifetime of a cached principal: a
// change the feed missed is seen after it at the latest.
const PrincipalCacheTTL = time.Minute

// cachedPrincipal is an entry: shared by every hit, never modified. IP,
// Act and Exchanged are per request and left empty.
type cachedPrincipal struct {
	p domain.Principal
}

func newPrincipalCache(opts Options) *cache.Tokens[*cachedPrincipal] {
	if opts.PrincipalCacheEntries <= 0 {
		return nil
	}
	return cache.NewTokens[*cachedPrincipal](cache.TokenOptions{
		Max: opts.PrincipalCacheEntries, TTL: PrincipalCacheTTL, Live: !opts.SharedStore,
		Now: opts.Now, Name: "api_principal", Recorder: opts.CacheRecorder,
	})
}

// tokenPrincipal returns the principal of the access token at (presented
// as token), from the cache when it holds it. Refusals are the 401s of
// authenticate.
func (a *API) tokenPrincipal(ctx context.Context, token string, at AccessToken, ip string) (domain.Principal, error) {
	if a.principals == nil {
		return a.loadPrincipal(ctx, at, ip)
	}
	sum := sha256.Sum256([]byte(token))
	e, err := a.principals.Get(string(sum[:]), func() (*cachedPrincipal, cache.TokenOwner, bool, error) {
		now := a.now()
		p, err := a.loadPrincipal(ctx, at, "")
		if err != nil {
			return nil, cache.TokenOwner{}, false, err
		}
		owner := cache.TokenOwner{ExpiresAt: at.ExpiresAt}
		if p.User != nil {
			owner.UserID = p.User.ID
			if t := domain.PrincipalChangesAt(*p.User, now); !t.IsZero() && (owner.ExpiresAt.IsZero() || t.Before(owner.ExpiresAt)) {
				owner.ExpiresAt = t
			}
		} else if p.Client != nil {
			owner.ClientID = p.Client.ID
		}
		if owner.ExpiresAt.IsZero() {
			// A token without an expiry: the TTL alone bounds the entry.
			owner.ExpiresAt = now.Add(PrincipalCacheTTL)
		}
		return &cachedPrincipal{p: p}, owner, true, nil
	})
	if err != nil {
		return domain.Principal{}, err
	}
	p := e.copy()
	if p.User != nil {
		// Standing and address, on every request, on the cached user: an
		// account expiring between two requests is refused at once.
		if !domain.UserCanAct(*p.User, a.now(), domain.ActHoldTokens) {
			return domain.Principal{}, principalError(domain.ErrUnauthenticated)
		}
		if err := a.admitAddress(ctx, *p.User, ip); err != nil {
			return domain.Principal{}, err
		}
	}
	return p, nil
}

// copy returns the entry's principal with its own user, roles and
// permissions: a handler may change what it was given.
func (e *cachedPrincipal) copy() domain.Principal {
	p := e.p
	if p.User != nil {
		u := *p.User
		u.Goals = slices.Clone(u.Goals)
		u.Preferences = slices.Clone(u.Preferences)
		u.Roles = slices.Clone(u.Roles)
		u.IPAllow = slices.Clone(u.IPAllow)
		u.IPDeny = slices.Clone(u.IPDeny)
		u.RoleExpiry = maps.Clone(u.RoleExpiry)
		u.DeniedPermissions = slices.Clone(u.DeniedPermissions)
		p.User = &u
	}
	if p.Client != nil {
		c := *p.Client
		c.Roles = slices.Clone(c.Roles)
		p.Client = &c
	}
	p.Roles = slices.Clone(p.Roles)
	p.Permissions = maps.Clone(p.Permissions)
	return p
}

// loadPrincipal reads the principal of at from the store: its user (who
// must be able to act, and, when ip is not empty, be admitted from ip) or
// its service account.
func (a *API) loadPrincipal(ctx context.Context, at AccessToken, ip string) (domain.Principal, error) {
	if at.UserID != "" {
		u, err := a.svc.GetUser(ctx, at.UserID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return domain.Principal{}, invalidToken("the token's user no longer exists")
			}
			return domain.Principal{}, err
		}
		// UserPrincipal refuses a user that is no longer active or has
		// expired, so a token outliving a lock or a soft delete stops
		// working at once.
		p, err := a.svc.UserPrincipal(ctx, u)
		if err != nil {
			return domain.Principal{}, principalError(err)
		}
		if ip != "" {
			if err := a.admitAddress(ctx, u, ip); err != nil {
				return domain.Principal{}, err
			}
		}
		return p, nil
	}
	// A service account's token is its own (subject = client), but one
	// exchanged for another client keeps the account as subject.
	id := at.ClientID
	if at.Act != "" {
		id = at.Subject
	}
	c, err := a.svc.GetClient(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return domain.Principal{}, invalidToken("the token's client no longer exists")
		}
		return domain.Principal{}, err
	}
	p, err := a.svc.ClientPrincipal(ctx, c)
	if err != nil {
		return domain.Principal{}, principalError(err)
	}
	return p, nil
}

// admitAddress applies the user's IP rules to the access tokens of its
// grants, as to its API tokens.
func (a *API) admitAddress(ctx context.Context, u store.User, ip string) error {
	if err := a.svc.AdmitAddress(ctx, u, ip, "access_token"); err != nil {
		if errors.Is(err, domain.ErrAddressRefused) {
			return invalidToken("the access token is invalid, expired or revoked")
		}
		return err
	}
	return nil
}

// Invalidate drops the cached principals a change makes stale; the server
// calls it with every change of the feed and of this process's own writes
// (after the domain service's caches, whose role definitions a load
// reads).
func (a *API) Invalidate(e store.ChangeEvent) { a.invalidatePrincipals(e, false) }

// invalidatePrincipals applies e; hold is for a write this process has
// made but maybe not committed (store.TokenObserver on a shared store).
func (a *API) invalidatePrincipals(e store.ChangeEvent, hold bool) {
	c := a.principals
	if c == nil {
		return
	}
	var scope cache.TokenScope
	id := e.ID
	switch e.Kind {
	case store.ChangeUser, store.ChangeUserTokens:
		scope = cache.ByUser
	case store.ChangeClient:
		scope = cache.ByClient
	case store.ChangeGroup, store.ChangeRole:
		// Who holds the group's or role's permissions is not known
		// here: every principal is read again. Both are rare writes.
		scope, id = cache.ByUser, ""
	case store.ChangeFeedLost:
		c.SetLive(false)
		return
	case store.ChangeAll:
		c.SetLive(true)
		return
	default:
		return
	}
	if hold {
		c.Hold(scope, id)
	} else {
		c.Invalidate(scope, id)
	}
}

// ObserveStore registers the cache with the store's observer of its own
// writes (store.TokenObserver), so that this process stops serving a
// principal the moment a write changes it, before the change feed (if
// any) announces the commit; on a shared store such a write is held out
// of the cache until surely announced.
func (a *API) ObserveStore(o store.TokenObserver) {
	if a.principals == nil {
		return
	}
	shared := a.sharedStore
	o.ObserveTokenChanges(func(e store.ChangeEvent) { a.invalidatePrincipals(e, shared) })
}
