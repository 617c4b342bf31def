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

// SignInAttempt is what RecordSignInFailure did.
type SignInAttempt struct {
	Failure SignInFailure // the address's row after the call
	Account int           // the sum of the account's rows within the window
	Counted bool          // false when the row was at max already, and nothing changed
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
	// RecordSignInFailure atomically counts one failure at at, unless the
	// address already has max (when max > 0) within the window: a new row
	// has Count 1 and FirstAt = LastAt = at; a row whose LastAt is before
	// since starts over the same way; any other row below max gets Count+1
	// and LastAt = the later of at and its LastAt; a row at max is left as
	// it is (Counted false). It returns the row and the account-wide sum
	// after it, as CountSignInFailures(since) would. Concurrent calls for
	// one row queue, so no more than max are ever counted in a window.
	// ErrNotFound if the user does not exist.
	RecordSignInFailure(ctx context.Context, userID, address string, at, since time.Time, max int) (SignInAttempt, error)
	// ClearSignInFailures deletes userID's row for address, if any.
	ClearSignInFailures(ctx context.Context, userID, address string) error
	// ClearUserSignInFailures deletes every row of userID (an admin lifting
	// its lockouts), if any.
	ClearUserSignInFailures(ctx context.Context, userID string) error
	// DeleteSignInFailuresBefore deletes up to limit rows whose LastAt is
	// before before, oldest first, and returns how many it deleted.
	DeleteSignInFailuresBefore(ctx context.Context, before time.Time, limit int) (int, error)
}
