package store

import (
	"context"
	"time"
)

// SignInFailure is the count of failed sign-ins for one account from one
// client address (the key the domain groups addresses under: an IPv4
// address or an IPv6 /64).
type SignInFailure struct {
	UserID  string
	Address string
	Count   int
	FirstAt time.Time // the first failure counted in Count
	LastAt  time.Time // the latest
}

// SignInFailures counts failed sign-ins per (account, address), so that one
// address guessing a password is refused without the account being locked
// for everyone. A row counts within a window: only while its LastAt is at
// or after the since the caller passes (now minus the window).
type SignInFailures interface {
	// CountSignInFailures returns userID's row for address if its LastAt is
	// at or after since (else the zero SignInFailure, Count 0), and the sum
	// of Count over all of userID's rows whose LastAt is at or after since.
	// An unknown user or one that is not a UUID has no rows (no error).
	CountSignInFailures(ctx context.Context, userID, address string, since time.Time) (SignInFailure, int, error)
	// RecordSignInFailure atomically counts one failure at at: a new row
	// has Count 1 and FirstAt = LastAt = at; a row whose LastAt is before
	// since starts over the same way; any other row gets Count+1 and
	// LastAt = the later of at and its LastAt. It returns the row and the
	// account-wide sum after it, as CountSignInFailures(since) would.
	// ErrNotFound if the user does not exist.
	RecordSignInFailure(ctx context.Context, userID, address string, at, since time.Time) (SignInFailure, int, error)
	// ClearSignInFailures deletes userID's row for address, if any.
	ClearSignInFailures(ctx context.Context, userID, address string) error
	// ClearUserSignInFailures deletes every row of userID (an admin lifting
	// its lockouts), if any.
	ClearUserSignInFailures(ctx context.Context, userID string) error
	// DeleteSignInFailuresBefore deletes up to limit rows whose LastAt is
	// before before, oldest first, and returns how many it deleted.
	DeleteSignInFailuresBefore(ctx context.Context, before time.Time, limit int) (int, error)
}
