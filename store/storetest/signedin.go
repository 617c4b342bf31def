package storetest

import (
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// A signed-in browser's reads in one (store.SessionReads): the login
// session, its user and its user's consent to one client, each exactly as
// GetLoginSession, GetUser and GetConsent read it at the same now.

var signedInTests = []subtest{
	{"SessionAndUser", testSignedInSessionAndUser},
	{"Absent", testSignedInAbsent},
	{"UserStanding", testSignedInUserStanding},
	{"Consent", testSignedInConsent},
	{"ConsentExpiry", testSignedInConsentExpiry},
	{"InTx", testSignedInInTx},
}

// wantSignedIn checks got against what the separate reads return at now.
func (f *fixture) wantSignedIn(what string, got store.SignedIn, sessionID, clientID string, now time.Time) {
	f.t.Helper()
	ls, err := f.s.GetLoginSession(f.ctx, sessionID, now)
	f.must(err, "%s: GetLoginSession", what)
	f.equal(what+": session", got.Session, ls)
	u, err := f.s.GetUser(f.ctx, ls.UserID)
	f.must(err, "%s: GetUser", what)
	if got.User == nil {
		f.t.Fatalf("%s: no user, want %s", what, u.ID)
	}
	f.equal(what+": user", *got.User, u)
	if clientID == "" {
		if got.Consent != nil {
			f.t.Errorf("%s: consent %+v read without a client, want none", what, *got.Consent)
		}
		return
	}
	c, err := f.s.GetConsent(f.ctx, ls.UserID, clientID, now)
	switch {
	case err == nil && got.Consent == nil:
		f.t.Errorf("%s: no consent, want %+v", what, c)
	case err == nil:
		f.equal(what+": consent", *got.Consent, c)
	case got.Consent != nil:
		f.wantErr(err, store.ErrNotFound, "%s: GetConsent", what)
		f.t.Errorf("%s: consent %+v, want none (GetConsent: %v)", what, *got.Consent, err)
	default:
		f.wantErr(err, store.ErrNotFound, "%s: GetConsent", what)
	}
}

func testSignedInSessionAndUser(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	s := f.createSession(u.ID)
	f.createSession(other.ID)
	mfa := f.newSession(u.ID)
	mfa.AMR, mfa.ACR = []string{"pwd", "otp"}, "aal2"
	f.must(f.s.CreateLoginSession(f.ctx, mfa), "CreateLoginSession with AMR")

	for _, ls := range []store.LoginSession{s, mfa} {
		got, err := f.s.GetSignedIn(f.ctx, ls.ID, "", f.now)
		f.must(err, "GetSignedIn")
		f.equal("session", got.Session, ls)
		if got.User == nil || got.User.ID != u.ID {
			f.t.Fatalf("GetSignedIn: user %+v, want %s", got.User, u.ID)
		}
		f.wantSignedIn("GetSignedIn", got, ls.ID, "", f.now)
	}

	// The user is read as it is now, roles included.
	changed := u
	changed.FullName = "Augusta Ada King"
	changed.Roles = []string{"manager", "user"}
	changed.UpdatedAt = f.at(time.Second)
	f.must(f.s.UpdateUser(f.ctx, changed), "UpdateUser")
	got, err := f.s.GetSignedIn(f.ctx, s.ID, "", f.now)
	f.must(err, "GetSignedIn after UpdateUser")
	if got.User == nil || got.User.FullName != changed.FullName {
		f.t.Errorf("GetSignedIn after UpdateUser: user %+v, want the new name", got.User)
	}
	f.wantSignedIn("GetSignedIn after UpdateUser", got, s.ID, "", f.now)

	// A touched session is read with its new LastSeenAt.
	at := f.at(30 * time.Second)
	f.must(f.s.TouchLoginSession(f.ctx, s.ID, at), "TouchLoginSession")
	got, err = f.s.GetSignedIn(f.ctx, s.ID, "", f.now)
	f.must(err, "GetSignedIn after TouchLoginSession")
	want := s
	want.LastSeenAt = at
	f.equal("touched session", got.Session, want)
}

func testSignedInAbsent(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: f.now}), "SaveConsent")
	for _, clientID := range []string{"", c.ID} {
		_, err := f.s.GetSignedIn(f.ctx, "no-such-session", clientID, f.now)
		f.wantErr(err, store.ErrNotFound, "GetSignedIn of an unknown session (client %q)", clientID)
	}

	// Expired at now, as GetLoginSession judges it: strictly after.
	s := f.createSession(u.ID) // expires in an hour
	_, err := f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.at(30*time.Minute))
	f.wantErr(err, nil, "GetSignedIn before the session's expiry")
	_, err = f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.at(2*time.Hour))
	f.wantErr(err, store.ErrNotFound, "GetSignedIn after the session's expiry")
	expired := f.newSession(u.ID)
	expired.ExpiresAt = f.at(-time.Minute)
	f.must(f.s.CreateLoginSession(f.ctx, expired), "CreateLoginSession expired")
	_, err = f.s.GetSignedIn(f.ctx, expired.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetSignedIn of an expired session")

	// Deleted.
	f.must(f.s.DeleteLoginSession(f.ctx, s.ID), "DeleteLoginSession")
	_, err = f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetSignedIn of a deleted session")
}

// The store reads the user whatever its standing: the rules of who may
// keep a session are the domain's. A user deleted for good takes its
// sessions with it.
func testSignedInUserStanding(f *fixture) {
	for _, status := range []store.UserStatus{store.StatusDisabled, store.StatusLocked, store.StatusPending} {
		u := f.createUser()
		s := f.createSession(u.ID)
		u.Status = status
		u.UpdatedAt = f.at(time.Second)
		f.must(f.s.UpdateUser(f.ctx, u), "UpdateUser %s", status)
		got, err := f.s.GetSignedIn(f.ctx, s.ID, "", f.now)
		f.must(err, "GetSignedIn of a %s user's session", status)
		if got.User == nil || got.User.Status != status {
			f.t.Errorf("GetSignedIn of a %s user's session: user %+v, want status %s", status, got.User, status)
		}
	}

	u := f.createUser()
	c := f.createClient()
	s := f.createSession(u.ID)
	f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: f.now}), "SaveConsent")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, err := f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetSignedIn of a deleted user's session")
}

func testSignedInConsent(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	c := f.createClient()
	c2 := f.createClient()
	s := f.createSession(u.ID)
	otherSession := f.createSession(other.ID)

	// No consent yet.
	got, err := f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.must(err, "GetSignedIn without a consent")
	if got.Consent != nil {
		f.t.Errorf("GetSignedIn without a consent: %+v, want none", *got.Consent)
	}
	f.wantSignedIn("GetSignedIn without a consent", got, s.ID, c.ID, f.now)

	// The other user's consent to c, and u's to c2, are not u's to c.
	f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: other.ID, ClientID: c.ID, Scopes: []string{"openid", "email"}, GrantedAt: f.now}), "SaveConsent of another user")
	f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: u.ID, ClientID: c2.ID, Scopes: []string{"openid", "profile"}, GrantedAt: f.now}), "SaveConsent to another client")
	got, err = f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.must(err, "GetSignedIn with others' consents")
	if got.Consent != nil {
		f.t.Errorf("GetSignedIn with only others' consents: %+v, want none", *got.Consent)
	}

	cons := store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "profile", "offline_access"}, GrantedAt: f.at(-time.Minute), ExpiresAt: f.atPtr(time.Hour)}
	f.must(f.s.SaveConsent(f.ctx, cons), "SaveConsent")
	got, err = f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.must(err, "GetSignedIn with a consent")
	if got.Consent == nil {
		f.t.Fatalf("GetSignedIn with a consent: none, want %+v", cons)
	}
	f.equal("consent", *got.Consent, cons)
	f.wantSignedIn("GetSignedIn with a consent", got, s.ID, c.ID, f.now)
	// Without a client, no consent is read.
	got, err = f.s.GetSignedIn(f.ctx, s.ID, "", f.now)
	f.must(err, "GetSignedIn without a client")
	if got.Consent != nil {
		f.t.Errorf("GetSignedIn without a client: consent %+v, want none", *got.Consent)
	}
	// The other user's session reads the other user's consent.
	got, err = f.s.GetSignedIn(f.ctx, otherSession.ID, c.ID, f.now)
	f.must(err, "GetSignedIn of the other user")
	if got.Consent == nil || got.Consent.UserID != other.ID || len(got.Consent.Scopes) != 2 {
		f.t.Errorf("GetSignedIn of the other user: consent %+v, want the other user's", got.Consent)
	}
	f.wantSignedIn("GetSignedIn of the other user", got, otherSession.ID, c.ID, f.now)
	// An unknown client has none.
	got, err = f.s.GetSignedIn(f.ctx, s.ID, "no-such-client", f.now)
	f.must(err, "GetSignedIn for an unknown client")
	if got.Consent != nil {
		f.t.Errorf("GetSignedIn for an unknown client: consent %+v, want none", *got.Consent)
	}

	// Revoked.
	f.must(f.s.DeleteConsent(f.ctx, u.ID, c.ID), "DeleteConsent")
	got, err = f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.must(err, "GetSignedIn after DeleteConsent")
	if got.Consent != nil {
		f.t.Errorf("GetSignedIn after DeleteConsent: %+v, want none", *got.Consent)
	}
}

// The consent expires at now as GetConsent judges it; the session and the
// consent are judged at the same now.
func testSignedInConsentExpiry(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	s := f.newSession(u.ID)
	s.ExpiresAt = f.at(3 * time.Hour)
	f.must(f.s.CreateLoginSession(f.ctx, s), "CreateLoginSession")
	cons := store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: f.now, ExpiresAt: f.atPtr(time.Hour)}
	f.must(f.s.SaveConsent(f.ctx, cons), "SaveConsent")

	for _, tc := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"before the consent's expiry", f.at(30 * time.Minute), true},
		{"after the consent's expiry", f.at(2 * time.Hour), false},
	} {
		got, err := f.s.GetSignedIn(f.ctx, s.ID, c.ID, tc.now)
		f.must(err, "GetSignedIn %s", tc.name)
		if (got.Consent != nil) != tc.want {
			f.t.Errorf("GetSignedIn %s: consent %+v, want present %v", tc.name, got.Consent, tc.want)
		}
		f.wantSignedIn("GetSignedIn "+tc.name, got, s.ID, c.ID, tc.now)
	}
	// An expired consent with a session that has expired too: the session
	// decides, ErrNotFound.
	_, err := f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.at(4*time.Hour))
	f.wantErr(err, store.ErrNotFound, "GetSignedIn after both expired")

	cons.ExpiresAt = nil
	f.must(f.s.SaveConsent(f.ctx, cons), "SaveConsent without expiry")
	got, err := f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.at(2*time.Hour))
	f.must(err, "GetSignedIn of a consent that never expires")
	if got.Consent == nil || got.Consent.ExpiresAt != nil {
		f.t.Errorf("GetSignedIn of a consent that never expires: %+v", got.Consent)
	}
}

// Inside a transaction it reads the transaction's own writes, and an
// absent session leaves the transaction usable.
func testSignedInInTx(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	ctx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	defer f.s.Rollback(ctx)
	s := f.newSession(u.ID)
	f.must(f.s.CreateLoginSession(ctx, s), "CreateLoginSession in the transaction")
	f.must(f.s.SaveConsent(ctx, store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: f.now}), "SaveConsent in the transaction")
	_, err = f.s.GetSignedIn(ctx, "no-such-session", c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetSignedIn of an unknown session in the transaction")
	got, err := f.s.GetSignedIn(ctx, s.ID, c.ID, f.now)
	f.must(err, "GetSignedIn in the transaction")
	if got.User == nil || got.User.ID != u.ID || got.Consent == nil || got.Consent.ClientID != c.ID {
		f.t.Errorf("GetSignedIn in the transaction: user %+v, consent %+v; want both", got.User, got.Consent)
	}
	f.must(f.s.Commit(ctx), "Commit")
	got, err = f.s.GetSignedIn(f.ctx, s.ID, c.ID, f.now)
	f.must(err, "GetSignedIn after Commit")
	f.wantSignedIn("GetSignedIn after Commit", got, s.ID, c.ID, f.now)
}
