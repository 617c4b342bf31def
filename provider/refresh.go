package provider

import (
	"context"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// The reuse interval of refresh tokens.
//
// A refresh rotates the token: the presented one goes inactive, a new pair
// is issued, and presenting the old one again is reuse, which revokes the
// whole family (RFC 6819 §5.2.2.3, RFC 9700 §4.14.2). But the answer can be
// lost after the rotation committed — the server is killed, a proxy times
// out, the client's own deadline passes — and the client, which never saw
// the new pair, retries with the token it has. Without an allowance that
// retry logs the user out.
//
// So a rotated token presented again is a retry, not a reuse, when all of
// these hold: the reuse interval is on (Options.RefreshReuseInterval > 0),
// the token was rotated no longer ago than the interval, it is presented by
// the client it was issued to, its rotation was never undone before, and
// the successor that rotation issued is still active (unused and not
// revoked: a client that used the successor did receive the answer). Then
// the rotation is rewound — the successor dies, the presented token is
// active again — and fosite's handler rotates it as if for the first time.
// Anything else is reuse and revokes the family as before: too late,
// another client, a second retry, or a successor already in use. The
// interval is measured with the clocks of the instances that rotate and
// that see the retry; they must agree to well within it (NTP), as token
// expiry already needs.
//
// Why a fresh pair and not the same one: answering a retry with the pair
// the lost answer held needs that pair's values, and the store keeps only
// signatures so that a copy of the table holds no credential. Storing the
// values (even encrypted) would make it a credential store again; deriving
// them from the presented token would make an old token the key to its
// successors. A fresh pair needs neither, and the pair nobody saw dies
// with the rewind, so whoever caught the lost answer holds dead tokens and
// the family never has more than one live pair.
//
// What the interval gives a thief: one who replays a token within seconds
// of its rotation, as its client, gets a live pair — but only by killing
// the pair the real client holds, whose next refresh is then reuse and
// revokes the family, the thief's pair included. Reuse detection is
// delayed by one refresh, not lost; hence the short interval.
//
// Concurrency: the token endpoint's transaction locks the presented token's
// row as fosite reads it (store.RefreshTokens.GetRefreshToken, through
// rotationStore), and the rewind locks the
// successor's row too (store.Tokens.RewindRotation). Two retries racing
// take turns: the first rewinds and rotates, the second finds the rotation
// rewound already — a second retry — and revokes the family, the first
// one's new pair included. A retry racing the successor's own rotation
// (the client refreshing with the new token while someone replays the old
// one) is decided by the successor's row lock: either the rewind wins and
// the successor is dead when its rotation reads it, or the rotation wins
// and the rewind finds no live successor. Either way one pair lives at most.

// refreshClientKey carries, into the store's GetRefreshTokenSession, the
// client that presented a refresh token at the token endpoint. Only there
// may a rotated token count as a retry: introspection and revocation read
// the same token through the same method and must see it inactive.
type refreshClientKey struct{}

// rotatedKey carries, into CreateRefreshTokenSession, the signature of the
// refresh token being rotated, so the new token records its predecessor.
type rotatedKey struct{}

func refreshClient(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(refreshClientKey{}).(string)
	return id, ok && id != ""
}

func rotatedSignature(ctx context.Context) string {
	s, _ := ctx.Value(rotatedKey{}).(string)
	return s
}

// refreshGrant is fosite's refresh-token handler, telling the storage who
// presents the token and which token a rotation replaces; fosite's handler
// passes the context through but not these.
type refreshGrant struct {
	*oauth2.RefreshTokenGrantHandler
}

var _ fosite.TokenEndpointHandler = refreshGrant{}

func (h refreshGrant) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if h.CanHandleTokenEndpointRequest(ctx, r) && r.GetClient() != nil {
		ctx = context.WithValue(ctx, refreshClientKey{}, r.GetClient().GetID())
	}
	return h.RefreshTokenGrantHandler.HandleTokenEndpointRequest(ctx, r)
}

func (h refreshGrant) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if h.CanHandleTokenEndpointRequest(ctx, r) {
		sig := h.RefreshTokenStrategy.RefreshTokenSignature(ctx, r.GetRequestForm().Get("refresh_token"))
		ctx = context.WithValue(ctx, rotatedKey{}, sig)
		// The rotation's writes wait for fosite's commit (rotation.go).
		ctx = withPendingRotation(ctx)
	}
	return h.RefreshTokenGrantHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}
