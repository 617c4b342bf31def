package provider

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/cache"
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
		return &cachedAccess{sr: sr, session: sess}, cache.TokenOwner{
			RequestID: t.RequestID, UserID: t.UserID, SessionID: t.LoginSessionID, ClientID: t.ClientID,
			ExpiresAt: t.ExpiresAt,
		}, true, nil
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

// invalidateTokens applies a change to the introspection cache; hold is
// for a revocation this process has written but maybe not committed.
func invalidateTokens(c *cache.Tokens[*cachedAccess], e store.ChangeEvent, hold bool) {
	if c == nil {
		return
	}
	var scope cache.TokenScope
	switch e.Kind {
	case store.ChangeGrantTokens:
		scope = cache.ByRequest
	case store.ChangeUserTokens:
		scope = cache.ByUser
	case store.ChangeSessionTokens:
		scope = cache.BySession
	case store.ChangeClient:
		// A client changed (deleted, its scopes narrowed): its tokens are
		// read again, with it.
		scope = cache.ByClient
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
		c.Hold(scope, e.ID)
	} else {
		c.Invalidate(scope, e.ID)
	}
}
