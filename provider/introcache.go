package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// The introspection cache: active access tokens, by signature (the HMAC
// or JWT signature part, already a digest of the token, never the token),
// each entry holding the decoded request and session an introspection
// answers from, so that a hit costs no query and no JSON decoding.
//
// Only introspection reads it (the endpoint and IntrospectAccessToken,
// which the resource API authenticates with): never a read inside a
// transaction, which could cache a token that the transaction then rolls
// back. What invalidates it:
//
//   - a revocation written by this process (store.TokenObserver): the
//     grant's, user's or login session's tokens are held out of the cache
//     until the commit has surely been announced (cache.Tokens.Hold);
//   - a revocation committed by any process, announced by the change feed
//     (store.ChangeGrantTokens, ChangeUserTokens, ChangeSessionTokens), and
//     a change of the client (ChangeClient);
//   - for a token made by token exchange, the loss of its actor's right
//     to act (domain.ActorMayAct, weighed when the entry is loaded): a
//     change of the acting user (ChangeUser: locked, disabled, expired),
//     its deletion (ChangeUserTokens), or the acting client's
//     (ChangeClient), each announced as the revocations are, and the
//     acting account's expiry;
//   - the feed's loss (ChangeFeedLost): nothing is served until it has
//     reconnected (ChangeAll), which also flushes everything;
//   - the token's expiry, and the cache TTL as a safety net.

// introspectingKey marks the context of an introspection: the one reader
// the cache serves.
type introspectingKey struct{}

func introspecting(ctx context.Context) context.Context {
	return context.WithValue(ctx, introspectingKey{}, true)
}

func isIntrospecting(ctx context.Context) bool {
	v, _ := ctx.Value(introspectingKey{}).(bool)
	return v
}

// cachedAccess is what an entry holds; shared by every hit, never modified.
type cachedAccess struct {
	sr      *storedRequest
	session *Session
}

// cachedAccessToken is GetAccessTokenSession served from the cache. session
// receives a copy of the cached session, as hydrate would unmarshal into it.
func (s *fositeStore) cachedAccessToken(ctx context.Context, signature string, session *Session) (fosite.Requester, error) {
	if err := lookupKey(string(store.KindAccessToken)+" signature", signature); err != nil {
		return nil, err
	}
	e, err := s.tokens.Get(signature, func() (*cachedAccess, cache.TokenOwner, bool, error) {
		t, err := s.store.GetToken(ctx, store.KindAccessToken, signature)
		if err != nil {
			return nil, cache.TokenOwner{}, false, notFound(fmt.Errorf("provider: get %s: %w", store.KindAccessToken, err))
		}
		if !t.Active {
			// Revoked through its grant (logout, admin revocation).
			return nil, cache.TokenOwner{}, false, fosite.ErrInactiveToken
		}
		sess := NewSession()
		sr, err := decodeRequest(t.Request, sess)
		if err != nil {
			return nil, cache.TokenOwner{}, false, err
		}
		actorUntil, err := s.actorMayAct(ctx, sess, sr.ClientID)
		if err != nil {
			return nil, cache.TokenOwner{}, false, err
		}
		owner := cache.TokenOwner{
			RequestID: t.RequestID, UserID: t.UserID, SessionID: t.LoginSessionID, ClientID: t.ClientID,
			ExpiresAt: t.ExpiresAt, Actor: sess.ActBy,
		}
		if !actorUntil.IsZero() && actorUntil.Before(owner.ExpiresAt) {
			owner.ExpiresAt = actorUntil
		}
		return &cachedAccess{sr: sr, session: sess}, owner, actorAnnounced(sess.ActBy, sr.ClientID), nil
	})
	if err != nil {
		return nil, err
	}
	*session = *e.session.Clone().(*Session)
	sr := *e.sr
	sr.RequestedScopes = slices.Clone(sr.RequestedScopes)
	sr.GrantedScopes = slices.Clone(sr.GrantedScopes)
	sr.RequestedAudience = slices.Clone(sr.RequestedAudience)
	sr.GrantedAudience = slices.Clone(sr.GrantedAudience)
	form := url.Values{}
	for k, v := range sr.Form {
		form[k] = slices.Clone(v)
	}
	sr.Form = form
	return s.request(ctx, &sr, session)
}

// actorMayAct applies domain.ActorMayAct to an access token's session read
// for an introspection: an impersonation whose impersonator may no longer
// act is an inactive token. until is when the answer changes by itself.
func (s *fositeStore) actorMayAct(ctx context.Context, sess *Session, clientID string) (until time.Time, err error) {
	if sess.ActBy == "" || s.actors == nil {
		return time.Time{}, nil
	}
	until, err = s.actors(ctx, sess.ActBy, sess.UserID, clientID)
	if errors.Is(err, domain.ErrUnauthenticated) {
		return time.Time{}, fosite.ErrInactiveToken.WithWrap(err).WithDebug(err.Error())
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("provider: acting principal: %w", err)
	}
	return until, nil
}

// actorAnnounced reports whether every change that ends the right to act
// of an exchanged token's actor is announced before the write answers (as
// ChangeUser and ChangeUserTokens are), so that the token may be cached.
// A client's deletion is not (ChangeClient reaches other instances a
// moment after it has answered): a token acted through by another client
// than its own is read, with that client, on every introspection. Such
// tokens (a service account impersonating) are few and short-lived.
func actorAnnounced(act, clientID string) bool {
	id, ok := strings.CutPrefix(act, string(store.ActorClient)+":")
	return !ok || id == clientID
}

// invalidateTokens applies a change to the introspection cache; hold is
// for a revocation this process has written but maybe not committed.
func invalidateTokens(c *cache.Tokens[*cachedAccess], e store.ChangeEvent, hold bool) {
	if c == nil {
		return
	}
	drop := func(scope cache.TokenScope, id string) {
		if hold {
			c.Hold(scope, id)
		} else {
			c.Invalidate(scope, id)
		}
	}
	var scope cache.TokenScope
	switch e.Kind {
	case store.ChangeGrantTokens:
		scope = cache.ByRequest
	case store.ChangeUserTokens:
		scope = cache.ByUser
		// The user deleted: what it impersonates ends too.
		drop(cache.ByActor, actorKey(store.ActorUser, e.ID))
	case store.ChangeSessionTokens:
		scope = cache.BySession
	case store.ChangeUser:
		// What the user may do changed (locked, disabled, its expiry):
		// the tokens it acts through are weighed again.
		drop(cache.ByActor, actorKey(store.ActorUser, e.ID))
		return
	case store.ChangeClient:
		// A client changed (deleted, its scopes narrowed): its tokens are
		// read again, with it, and so are those it acts through.
		scope = cache.ByClient
		drop(cache.ByActor, actorKey(store.ActorClient, e.ID))
	case store.ChangeFeedLost:
		c.SetLive(false)
		return
	case store.ChangeAll:
		c.SetLive(true)
		return
	default:
		return
	}
	drop(scope, e.ID)
}

// actorKey is the cache's Actor of the tokens id acts through, as
// domain.Actor writes it; "" (every actor) for every record of the kind.
func actorKey(t store.ActorType, id string) string {
	if id == "" {
		return ""
	}
	return domain.Actor{Type: t, ID: id}.String()
}
