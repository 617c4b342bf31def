package store

import (
	"context"
	"time"
)

// SessionReads read what a signed-in browser's request needs in one round
// trip on PostgreSQL: the authorization endpoint of a browser with a login
// session (SSO) read the session, its user and the remembered consent one
// by one, three round trips before the code's one write.
type SessionReads interface {
	// GetSignedIn reads the login session id, its user and, when clientID
	// is not "", the user's remembered consent to clientID, as
	// GetLoginSession, GetUser and GetConsent would at now, but in one
	// round trip (one lock hold in memory). ErrNotFound if the session is
	// absent or expired at now (GetLoginSession's rule). User is nil if
	// the session's user is gone; Consent is nil if there is none, it has
	// expired at now (GetConsent's rule), or clientID is "". The store
	// judges nothing else: a disabled or locked user is returned as it is.
	GetSignedIn(ctx context.Context, id, clientID string, now time.Time) (SignedIn, error)
}

// SignedIn is what GetSignedIn reads. User and Consent, when set, belong
// to Session.UserID.
type SignedIn struct {
	Session LoginSession
	User    *User
	Consent *Consent
}
