package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/storage"

	"github.com/gatehouse/gatehouse/store"
)

// The refresh token grant's storage, in two round trips of its own (with
// the token endpoint's BEGIN and COMMIT, and the barrier's look-up of the
// listeners after a revocation, five in all on PostgreSQL):
//
//   - the read: the presented token, locked, and its grant's user in one
//     batch (store.RefreshTokens.GetRefreshToken); grantGuard re-checks
//     that user (status, expiry, lock, address rules) from what was read
//     with the token instead of reading it again;
//   - the write: fosite's handler rotates the token, creates the access
//     token and creates the refresh token, each a call of its own inside
//     storage.MaybeBeginTx; rotationStore records the three and writes them
//     as one statement when fosite commits (store.RefreshTokens.
//     RotateRefreshToken).
//
// fosite's MaybeBeginTx would open a savepoint inside the token
// endpoint's transaction (handleToken, which holds the row lock from the
// read): with the writes deferred there is nothing for it to undo, so
// rotationStore opens none. A failure between fosite's calls (say, a
// signing error) discards the recorded writes at fosite's rollback; the
// statement itself is atomic, and writes nothing unless the token was
// still active (the one-use rule), which the row lock already assures.
// Reuse detection is unchanged: a rotated token is read inactive and
// answered with its request and fosite.ErrInactiveToken
// (GetRefreshTokenSession), and fosite's revocation of the family goes
// to fositeStore as before, savepoint included (a rare path).

// rotationStore is the storage of fosite's refresh token handler (and of
// it only: introspection and revocation read refresh tokens through
// fositeStore).
type rotationStore struct {
	*fositeStore
}

var (
	_ oauth2.TokenRevocationStorage = rotationStore{}
	_ storage.Transactional         = rotationStore{}
)

// pendingRotation is what fosite's handler asked rotationStore to write,
// until its commit. refreshGrant puts one in the context of the handler's
// PopulateTokenEndpointResponse, where the writes happen.
type pendingRotation struct {
	requestID, signature string
	access, refresh      *store.Token
}

type pendingRotationKey struct{}

func withPendingRotation(ctx context.Context) context.Context {
	return context.WithValue(ctx, pendingRotationKey{}, &pendingRotation{})
}

func pendingRotationFrom(ctx context.Context) *pendingRotation {
	p, _ := ctx.Value(pendingRotationKey{}).(*pendingRotation)
	return p
}

// BeginTX opens nothing for the rotation (see above).
func (s rotationStore) BeginTX(ctx context.Context) (context.Context, error) {
	if pendingRotationFrom(ctx) != nil {
		return ctx, nil
	}
	return s.fositeStore.BeginTX(ctx)
}

// Commit writes the recorded rotation.
func (s rotationStore) Commit(ctx context.Context) error {
	p := pendingRotationFrom(ctx)
	if p == nil {
		return s.fositeStore.Commit(ctx)
	}
	if p.signature == "" || p.access == nil || p.refresh == nil {
		return errors.New("provider: rotate refresh token: fosite committed an incomplete rotation")
	}
	err := s.store.RotateRefreshToken(ctx, store.RefreshRotation{
		Signature: p.signature, At: s.now(), Access: *p.access, Refresh: *p.refresh,
	})
	*p = pendingRotation{}
	if err != nil {
		return notFound(fmt.Errorf("provider: rotate refresh token: %w", err))
	}
	return nil
}

// Rollback forgets the recorded rotation: nothing of it was written.
func (s rotationStore) Rollback(ctx context.Context) error {
	if p := pendingRotationFrom(ctx); p != nil {
		*p = pendingRotation{}
		return nil
	}
	return s.fositeStore.Rollback(ctx)
}

// RotateRefreshToken records the rotation of the presented token; its
// write also drops the grant's access tokens (fositeStore.RotateRefreshToken).
func (s rotationStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	p := pendingRotationFrom(ctx)
	if p == nil {
		return s.fositeStore.RotateRefreshToken(ctx, requestID, signature)
	}
	p.requestID, p.signature = requestID, signature
	return nil
}

// CreateAccessTokenSession records the new access token, as
// fositeStore.CreateAccessTokenSession would write it.
func (s rotationStore) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	p := pendingRotationFrom(ctx)
	if p == nil {
		return s.fositeStore.CreateAccessTokenSession(ctx, signature, r)
	}
	t, err := s.tokenRow(store.KindAccessToken, signature, r, s.expiryOf(r, fosite.AccessToken))
	if err != nil {
		return err
	}
	t.DPoPProof = dpopUseFrom(ctx)
	p.access = &t
	return nil
}

// CreateRefreshTokenSession records the new refresh token; the rotation's
// write gives it the presented token as its predecessor.
func (s rotationStore) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, r fosite.Requester) error {
	p := pendingRotationFrom(ctx)
	if p == nil {
		return s.fositeStore.CreateRefreshTokenSession(ctx, signature, accessSignature, r)
	}
	t, err := s.tokenRow(store.KindRefreshToken, signature, r, s.expiryOf(r, fosite.RefreshToken))
	if err != nil {
		return err
	}
	p.refresh = &t
	return nil
}

// GetRefreshTokenSession is fositeStore's, reading the grant's user with
// the token and leaving it for grantGuard (grantUsers).
func (s rotationStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	if err := lookupKey(string(store.KindRefreshToken)+" signature", signature); err != nil {
		return nil, err
	}
	t, u, err := s.store.GetRefreshToken(ctx, signature)
	if err != nil {
		return nil, notFound(fmt.Errorf("provider: get %s: %w", store.KindRefreshToken, err))
	}
	_, req, err := s.hydrate(ctx, t.Request, session)
	if err != nil {
		return nil, err
	}
	if g := grantUsersFrom(ctx); g != nil && t.UserID != "" {
		g.put(t.UserID, u)
	}
	return s.refreshTokenState(ctx, req, t)
}

// grantUsers carries, through one token request, the users read with its
// refresh token, by id (nil: the grant's user is gone), from the refresh
// handler to grantGuard. fosite hands every handler the context of
// NewAccessRequest, so handleToken puts it there.
type grantUsers struct {
	mu    sync.Mutex
	users map[string]*store.User
}

type grantUsersKey struct{}

func withGrantUsers(ctx context.Context) context.Context {
	return context.WithValue(ctx, grantUsersKey{}, &grantUsers{users: map[string]*store.User{}})
}

func grantUsersFrom(ctx context.Context) *grantUsers {
	g, _ := ctx.Value(grantUsersKey{}).(*grantUsers)
	return g
}

func (g *grantUsers) put(id string, u *store.User) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users[id] = u
}

func (g *grantUsers) get(id string) (*store.User, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	u, ok := g.users[id]
	return u, ok
}

// grantUser is Directory.ActiveUser for the user of the grant being
// redeemed, from what was read with its refresh token if it was.
func (p *Provider) grantUser(ctx context.Context, id string) (store.User, error) {
	if g := grantUsersFrom(ctx); g != nil {
		if u, ok := g.get(id); ok {
			return p.svc.ActiveUserOf(id, u)
		}
	}
	return p.svc.ActiveUser(ctx, id)
}
