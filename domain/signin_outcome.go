package domain

import (
	"errors"
	"fmt"
)

// Outcomes of Authenticate, as counted by a SignInRecorder.
const (
	SignInSuccess = "success" // signed in, with access
	SignInPending = "pending" // signed in, no access yet
	SignInFailure = "failure" // unknown user, wrong password, account not active or expired
	SignInLocked  = "locked"  // refused because the account is locked (by an admin, or for a while after failures)
	SignInError   = "error"   // the check itself failed (database)
)

// SignInOutcomes lists every outcome, for a recorder to start at zero.
func SignInOutcomes() []string {
	return []string{SignInSuccess, SignInPending, SignInFailure, SignInLocked, SignInError}
}

// SignInRecorder counts sign-ins by outcome (telemetry implements it).
type SignInRecorder interface {
	SignIn(outcome string)
}

type noSignInRecorder struct{}

func (noSignInRecorder) SignIn(string) {}

// errLockedOut marks, between authenticate and Authenticate only, a refusal
// of a locked account (by an admin or for a while after failures); callers
// see ErrInvalidCredentials like any other refusal.
var errLockedOut = fmt.Errorf("%w: locked", ErrInvalidCredentials)

// lockedOut turns signInRefused's refusal into errLockedOut.
func lockedOut(err error) error {
	if errors.Is(err, ErrInvalidCredentials) {
		return errLockedOut
	}
	return err
}
