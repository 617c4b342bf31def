package storetest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var parTests = []subtest{
	{"CreateGetDelete", testPARCreateGetDelete},
	{"Expired", testPARExpired},
	{"DeleteExpired", testPARDeleteExpired},
}

var sessionTests = []subtest{
	{"CreateGet", testSessionCreateGet},
	{"Touch", testSessionTouch},
	{"Delete", testSessionDelete},
	{"ListNewestFirst", testSessionList},
	{"DeleteExpired", testSessionDeleteExpired},
}

var consentTests = []subtest{
	{"SaveGetReplace", testConsentSaveGet},
	{"Expiry", testConsentExpiry},
	{"Delete", testConsentDelete},
}

// newPAR expires an hour from the wall clock: GetPARRequest compares with
// the backend's own clock.
func (f *fixture) newPAR(clientID string) store.PARRequest {
	uri := "urn:ietf:params:oauth:request_uri:" + uniqueID("par")
	return store.PARRequest{
		RequestURI: uri,
		ClientID:   clientID,
		ExpiresAt:  f.at(time.Hour),
		Request:    json.RawMessage(fmt.Sprintf(`{"client_id": %q, "response_type": ["code"], "scope": ["openid profile"], "state": ["xyz"], "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"]}`, clientID)),
	}
}

func testPARCreateGetDelete(f *fixture) {
	c := f.createClient()
	p := f.newPAR(c.ID)
	f.must(f.s.CreatePARRequest(f.ctx, p), "CreatePARRequest")
	got, err := f.s.GetPARRequest(f.ctx, p.RequestURI)
	f.must(err, "GetPARRequest")
	f.equal("PAR request", got, p)

	dup := f.newPAR(c.ID)
	dup.RequestURI = p.RequestURI
	f.wantErr(f.s.CreatePARRequest(f.ctx, dup), store.ErrConflict, "CreatePARRequest with a taken URI")

	_, err = f.s.GetPARRequest(f.ctx, "urn:ietf:params:oauth:request_uri:unknown")
	f.wantErr(err, store.ErrNotFound, "GetPARRequest unknown")
	f.must(f.s.DeletePARRequest(f.ctx, p.RequestURI), "DeletePARRequest")
	_, err = f.s.GetPARRequest(f.ctx, p.RequestURI)
	f.wantErr(err, store.ErrNotFound, "GetPARRequest after delete")
	f.wantErr(f.s.DeletePARRequest(f.ctx, p.RequestURI), store.ErrNotFound, "DeletePARRequest twice")
}

func testPARExpired(f *fixture) {
	c := f.createClient()
	p := f.newPAR(c.ID)
	p.ExpiresAt = f.at(-time.Hour)
	f.must(f.s.CreatePARRequest(f.ctx, p), "CreatePARRequest")
	_, err := f.s.GetPARRequest(f.ctx, p.RequestURI)
	f.wantErr(err, store.ErrNotFound, "GetPARRequest of an expired request")
	// Expired is not absent: it can still be deleted.
	f.wantErr(f.s.DeletePARRequest(f.ctx, p.RequestURI), nil, "DeletePARRequest of an expired request")
}

func testPARDeleteExpired(f *fixture) {
	c := f.createClient()
	var expired []store.PARRequest
	for range 3 {
		p := f.newPAR(c.ID)
		p.ExpiresAt = f.at(-time.Minute)
		f.must(f.s.CreatePARRequest(f.ctx, p), "CreatePARRequest expired")
		expired = append(expired, p)
	}
	live := f.newPAR(c.ID)
	f.must(f.s.CreatePARRequest(f.ctx, live), "CreatePARRequest live")

	n, err := f.s.DeleteExpiredPARRequests(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredPARRequests")
	f.equal("deleted with limit 2", n, 2)
	n, err = f.s.DeleteExpiredPARRequests(f.ctx, f.now, 10)
	f.must(err, "DeleteExpiredPARRequests")
	f.equal("deleted the rest", n, 1)
	for _, p := range expired {
		f.wantErr(f.s.DeletePARRequest(f.ctx, p.RequestURI), store.ErrNotFound, "DeletePARRequest of a swept request")
	}
	_, err = f.s.GetPARRequest(f.ctx, live.RequestURI)
	f.must(err, "GetPARRequest of the live request")
	n, err = f.s.DeleteExpiredPARRequests(f.ctx, f.now, 0)
	f.must(err, "DeleteExpiredPARRequests with limit 0")
	f.equal("deleted with limit 0", n, 0)
}

func testSessionCreateGet(f *fixture) {
	u := f.createUser()
	s := f.newSession(u.ID)
	f.must(f.s.CreateLoginSession(f.ctx, s), "CreateLoginSession")
	got, err := f.s.GetLoginSession(f.ctx, s.ID, f.now)
	f.must(err, "GetLoginSession")
	f.equal("login session", got, s)

	bare := f.newSession(u.ID)
	bare.UserAgent, bare.IPAddress = "", ""
	f.must(f.s.CreateLoginSession(f.ctx, bare), "CreateLoginSession without agent and address")
	got, err = f.s.GetLoginSession(f.ctx, bare.ID, f.now)
	f.must(err, "GetLoginSession")
	f.equal("bare login session", got, bare)

	mfa := f.newSession(u.ID)
	mfa.AMR, mfa.ACR = []string{"pwd", "otp"}, "aal2"
	f.must(f.s.CreateLoginSession(f.ctx, mfa), "CreateLoginSession with amr and acr")
	got, err = f.s.GetLoginSession(f.ctx, mfa.ID, f.now)
	f.must(err, "GetLoginSession")
	f.equal("login session with amr and acr", got, mfa)

	dup := f.newSession(u.ID)
	dup.ID = s.ID
	f.wantErr(f.s.CreateLoginSession(f.ctx, dup), store.ErrConflict, "CreateLoginSession with a taken id")
	orphan := f.newSession(uuid.NewString())
	f.wantErr(f.s.CreateLoginSession(f.ctx, orphan), store.ErrNotFound, "CreateLoginSession for an unknown user")
	_, err = f.s.GetLoginSession(f.ctx, orphan.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetLoginSession of the refused session")

	_, err = f.s.GetLoginSession(f.ctx, s.ID, s.ExpiresAt.Add(time.Second))
	f.wantErr(err, store.ErrNotFound, "GetLoginSession after expiry")
	_, err = f.s.GetLoginSession(f.ctx, "no-such-session", f.now)
	f.wantErr(err, store.ErrNotFound, "GetLoginSession unknown")
}

func testSessionTouch(f *fixture) {
	u := f.createUser()
	s := f.createSession(u.ID)
	other := f.createSession(u.ID)
	at := f.at(30 * time.Second)
	f.must(f.s.TouchLoginSession(f.ctx, s.ID, at), "TouchLoginSession")
	got, err := f.s.GetLoginSession(f.ctx, s.ID, f.now)
	f.must(err, "GetLoginSession")
	want := s
	want.LastSeenAt = at
	f.equal("touched session", got, want)
	got, err = f.s.GetLoginSession(f.ctx, other.ID, f.now)
	f.must(err, "GetLoginSession")
	f.equal("untouched session", got, other)
	f.wantErr(f.s.TouchLoginSession(f.ctx, "no-such-session", at), store.ErrNotFound, "TouchLoginSession unknown")
}

func testSessionDelete(f *fixture) {
	u := f.createUser()
	s := f.createSession(u.ID)
	other := f.createSession(u.ID)
	f.must(f.s.DeleteLoginSession(f.ctx, s.ID), "DeleteLoginSession")
	_, err := f.s.GetLoginSession(f.ctx, s.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetLoginSession after delete")
	f.wantErr(f.s.DeleteLoginSession(f.ctx, s.ID), store.ErrNotFound, "DeleteLoginSession twice")
	_, err = f.s.GetLoginSession(f.ctx, other.ID, f.now)
	f.wantErr(err, nil, "GetLoginSession of another session")
	_, err = f.s.GetUser(f.ctx, u.ID)
	f.wantErr(err, nil, "GetUser after deleting a session")
}

func testSessionList(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	mk := func(userID string, authAgo, expiresIn time.Duration) store.LoginSession {
		s := f.newSession(userID)
		s.AuthTime = f.at(-authAgo)
		s.LastSeenAt = s.AuthTime.Add(time.Second)
		s.ExpiresAt = f.at(expiresIn)
		f.must(f.s.CreateLoginSession(f.ctx, s), "CreateLoginSession")
		return s
	}
	oldest := mk(u.ID, 3*time.Hour, time.Hour)
	newest := mk(u.ID, time.Minute, 2*time.Hour)
	middle := mk(u.ID, time.Hour, 30*time.Minute)
	mk(u.ID, 30*time.Minute, -time.Second) // expired
	mk(other.ID, 10*time.Second, time.Hour)

	got, err := f.s.ListLoginSessions(f.ctx, u.ID, f.now)
	f.must(err, "ListLoginSessions")
	f.equal("ListLoginSessions", got, []store.LoginSession{newest, middle, oldest})

	// Later, the middle one has expired too.
	got, err = f.s.ListLoginSessions(f.ctx, u.ID, f.at(45*time.Minute))
	f.must(err, "ListLoginSessions later")
	f.equal("ListLoginSessions later", got, []store.LoginSession{newest, oldest})

	got, err = f.s.ListLoginSessions(f.ctx, uuid.NewString(), f.now)
	f.must(err, "ListLoginSessions of an unknown user")
	if len(got) != 0 {
		f.t.Errorf("ListLoginSessions of an unknown user returned %d sessions", len(got))
	}
}

func testSessionDeleteExpired(f *fixture) {
	u := f.createUser()
	var expired []store.LoginSession
	for i := range 3 {
		s := f.newSession(u.ID)
		s.ExpiresAt = f.at(-time.Duration(i+1) * time.Minute)
		f.must(f.s.CreateLoginSession(f.ctx, s), "CreateLoginSession")
		expired = append(expired, s)
	}
	live := f.createSession(u.ID)

	for i, want := range []int{2, 1, 0} {
		n, err := f.s.DeleteExpiredLoginSessions(f.ctx, f.now, 2)
		f.must(err, "DeleteExpiredLoginSessions round %d", i)
		if n != want {
			f.t.Errorf("DeleteExpiredLoginSessions round %d = %d, want %d", i, n, want)
		}
	}
	// Nothing expired is left, even for a caller that looks back in time.
	for _, s := range expired {
		_, err := f.s.GetLoginSession(f.ctx, s.ID, s.AuthTime)
		f.wantErr(err, store.ErrNotFound, "GetLoginSession of a cleaned-up session")
	}
	_, err := f.s.GetLoginSession(f.ctx, live.ID, f.now)
	f.wantErr(err, nil, "GetLoginSession of the live session")
}

func testConsentSaveGet(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	c2 := f.createClient()
	_, err := f.s.GetConsent(f.ctx, u.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetConsent before any")

	first := store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "profile"}, GrantedAt: f.at(-time.Hour), ExpiresAt: f.atPtr(time.Hour)}
	f.must(f.s.SaveConsent(f.ctx, first), "SaveConsent")
	got, err := f.s.GetConsent(f.ctx, u.ID, c.ID, f.now)
	f.must(err, "GetConsent")
	f.equal("consent", got, first)

	second := store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid", "email", "offline_access"}, GrantedAt: f.now}
	f.must(f.s.SaveConsent(f.ctx, second), "SaveConsent replacing")
	got, err = f.s.GetConsent(f.ctx, u.ID, c.ID, f.now)
	f.must(err, "GetConsent")
	f.equal("replaced consent", got, second)

	_, err = f.s.GetConsent(f.ctx, u.ID, c2.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetConsent for another client")
	empty := store.Consent{UserID: u.ID, ClientID: c2.ID, GrantedAt: f.now}
	f.must(f.s.SaveConsent(f.ctx, empty), "SaveConsent without scopes")
	got, err = f.s.GetConsent(f.ctx, u.ID, c2.ID, f.now)
	f.must(err, "GetConsent")
	f.equal("consent without scopes", got, empty)
}

func testConsentExpiry(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	cons := store.Consent{UserID: u.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: f.now, ExpiresAt: f.atPtr(time.Hour)}
	f.must(f.s.SaveConsent(f.ctx, cons), "SaveConsent")
	_, err := f.s.GetConsent(f.ctx, u.ID, c.ID, f.at(30*time.Minute))
	f.wantErr(err, nil, "GetConsent before expiry")
	_, err = f.s.GetConsent(f.ctx, u.ID, c.ID, f.at(2*time.Hour))
	f.wantErr(err, store.ErrNotFound, "GetConsent after expiry")

	cons.ExpiresAt = nil
	f.must(f.s.SaveConsent(f.ctx, cons), "SaveConsent without expiry")
	_, err = f.s.GetConsent(f.ctx, u.ID, c.ID, f.at(100*365*24*time.Hour))
	f.wantErr(err, nil, "GetConsent of a consent that never expires")
}

func testConsentDelete(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	c2 := f.createClient()
	for _, cl := range []store.Client{c, c2} {
		f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: u.ID, ClientID: cl.ID, Scopes: []string{"openid"}, GrantedAt: f.now}), "SaveConsent")
	}
	f.must(f.s.DeleteConsent(f.ctx, u.ID, c.ID), "DeleteConsent")
	_, err := f.s.GetConsent(f.ctx, u.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetConsent after delete")
	f.wantErr(f.s.DeleteConsent(f.ctx, u.ID, c.ID), store.ErrNotFound, "DeleteConsent twice")
	_, err = f.s.GetConsent(f.ctx, u.ID, c2.ID, f.now)
	f.wantErr(err, nil, "GetConsent for another client")
}
