package store

import (
	"context"
	"time"
)

// RefreshTokens are the refresh_token grant's read and write, each one
// round trip on PostgreSQL: the grant is on the path of every client that
// keeps a user signed in, and its statements used to be ten.
type RefreshTokens interface {
	// GetRefreshToken is GetToken of a refresh token (locked likewise
	// inside a transaction) with the user of its grant, read once the lock
	// is held, so that a user changed by a transaction the lock waited for
	// is read as that transaction left it. The user is nil when the grant
	// has none (or it is gone). ErrNotFound if there is no such token.
	GetRefreshToken(ctx context.Context, signature string) (Token, *User, error)
	// RotateRefreshToken exchanges the active refresh token r.Signature of
	// grant r.Refresh.RequestID for r.Refresh, atomically: the token is
	// marked inactive with RotatedAt r.At, the grant's access tokens are
	// deleted (TokenObservers are told, as by DeleteTokensByRequest), and
	// r.Access and r.Refresh are created (CreateToken's rules, the grant
	// being there already). ErrNotFound, and nothing written, if the token
	// is absent, of another grant or inactive (the one-use rule, as
	// RotateToken).
	RotateRefreshToken(ctx context.Context, r RefreshRotation) error
}

// RefreshRotation is one RotateRefreshToken.
type RefreshRotation struct {
	// Signature is the refresh token presented, At when it was exchanged.
	Signature string
	At        time.Time
	// Access and Refresh are the new pair, of the same grant.
	Access, Refresh Token
}
