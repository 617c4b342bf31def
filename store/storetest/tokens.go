package storetest

import (
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var tokenTests = []subtest{
	{"CreateGetEveryKind", testTokenCreateGet},
	{"ClientCredentialsGrant", testTokenClientCredentials},
	{"Duplicate", testTokenDuplicate},
	{"GrantCreatedOnceAndShared", testTokenGrantShared},
	{"Deactivate", testTokenDeactivate},
	{"Delete", testTokenDelete},
	{"ByRequest", testTokensByRequest},
	{"RevokeGrant", testRevokeGrant},
	{"RevokeGrantsBySession", testRevokeGrantsBySession},
	{"MoveSessionGrants", testMoveSessionGrants},
	{"DeleteExpired", testDeleteExpiredTokens},
	{"DeleteClientCascades", testDeleteClientCascades},
	{"DeleteUserCascades", testDeleteUserCascades},
	{"NoAliasing", testTokenNoAliasing},
}

var allKinds = []store.TokenKind{
	store.KindAuthorizeCode, store.KindAccessToken, store.KindRefreshToken,
	store.KindOpenIDSession, store.KindPKCE,
}

func testTokenCreateGet(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	sess := f.createSession(u.ID)
	g := newGrant(c, u, sess.ID)
	for _, kind := range allKinds {
		tok := f.createToken(kind, g)
		got, err := f.s.GetToken(f.ctx, kind, tok.Signature)
		f.must(err, "GetToken %s", kind)
		f.equal("token "+string(kind), got, tok)
		// The kind is part of the key.
		other := store.KindAccessToken
		if kind == other {
			other = store.KindRefreshToken
		}
		_, err = f.s.GetToken(f.ctx, other, tok.Signature)
		f.wantErr(err, store.ErrNotFound, "GetToken %s with the signature of a %s", other, kind)
	}
	grant, err := f.s.GetGrant(f.ctx, g.requestID)
	f.must(err, "GetGrant")
	first := f.newToken(store.KindAuthorizeCode, g)
	f.equal("grant", grant, store.Grant{
		ID:             g.requestID,
		ClientID:       c.ID,
		Subject:        u.ID,
		UserID:         u.ID,
		LoginSessionID: sess.ID,
		GrantedScopes:  first.GrantedScopes,
		RequestedAt:    first.RequestedAt,
	})

	_, err = f.s.GetToken(f.ctx, store.KindAccessToken, "no-such-signature")
	f.wantErr(err, store.ErrNotFound, "GetToken unknown")
	_, err = f.s.GetGrant(f.ctx, "no-such-request")
	f.wantErr(err, store.ErrNotFound, "GetGrant unknown")
}

// A client_credentials grant has no user and no session: the subject is the
// client itself.
func testTokenClientCredentials(f *fixture) {
	c := f.createClient()
	g := grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID}
	tok := f.newToken(store.KindAccessToken, g)
	tok.GrantedScopes = nil
	f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
	got, err := f.s.GetToken(f.ctx, tok.Kind, tok.Signature)
	f.must(err, "GetToken")
	f.equal("client_credentials token", got, tok)
	grant, err := f.s.GetGrant(f.ctx, g.requestID)
	f.must(err, "GetGrant")
	f.equal("client_credentials grant", grant, store.Grant{
		ID: g.requestID, ClientID: c.ID, Subject: c.ID, RequestedAt: tok.RequestedAt,
	})
}

func testTokenDuplicate(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)

	dup := f.newToken(store.KindAuthorizeCode, newGrant(c, u, ""))
	dup.Signature = code.Signature
	f.wantErr(f.s.CreateToken(f.ctx, dup), store.ErrConflict, "CreateToken with a taken (kind, signature)")
	got, err := f.s.GetToken(f.ctx, code.Kind, code.Signature)
	f.must(err, "GetToken")
	f.equal("code after a refused duplicate", got, code)

	// PKCE and OpenID session records are keyed by the code's signature.
	for _, kind := range []store.TokenKind{store.KindPKCE, store.KindOpenIDSession} {
		tok := f.newToken(kind, g)
		tok.Signature = code.Signature
		f.wantErr(f.s.CreateToken(f.ctx, tok), nil, "CreateToken %s with the code's signature", kind)
		got, err := f.s.GetToken(f.ctx, kind, code.Signature)
		f.must(err, "GetToken %s", kind)
		f.equal(string(kind)+" record", got, tok)
	}
}

func testTokenGrantShared(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	sess := f.createSession(u.ID)
	g := newGrant(c, u, sess.ID)
	first := f.createToken(store.KindAuthorizeCode, g)

	// Later tokens of the grant (a rotated refresh token, say) do not change it.
	want := store.Grant{
		ID: g.requestID, ClientID: c.ID, Subject: u.ID, UserID: u.ID, LoginSessionID: sess.ID,
		GrantedScopes: first.GrantedScopes, RequestedAt: first.RequestedAt,
	}
	later := f.newToken(store.KindRefreshToken, g)
	later.GrantedScopes = []string{"openid"}
	later.RequestedAt = f.at(time.Hour)
	later.LoginSessionID = ""
	f.must(f.s.CreateToken(f.ctx, later), "CreateToken of the same grant")
	grant, err := f.s.GetGrant(f.ctx, g.requestID)
	f.must(err, "GetGrant")
	f.equal("grant after its second token", grant, want)

	access := f.newToken(store.KindAccessToken, g)
	access.GrantedScopes = nil
	access.RequestedAt = f.at(2 * time.Hour)
	f.must(f.s.CreateToken(f.ctx, access), "CreateToken of the same grant")
	grant, err = f.s.GetGrant(f.ctx, g.requestID)
	f.must(err, "GetGrant")
	f.equal("grant after its third token", grant, want)
	// One grant: revoking it reaches all three tokens.
	f.must(f.s.RevokeGrant(f.ctx, g.requestID), "RevokeGrant")
	for _, tok := range []store.Token{first, later, access} {
		f.wantTokenState(tok, "inactive", "after RevokeGrant")
	}
}

func testTokenDeactivate(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	other := f.createToken(store.KindAuthorizeCode, g)

	f.must(f.s.DeactivateToken(f.ctx, code.Kind, code.Signature), "DeactivateToken")
	got, err := f.s.GetToken(f.ctx, code.Kind, code.Signature)
	f.must(err, "GetToken of an inactive token")
	want := code
	want.Active = false
	f.equal("inactive code", got, want)

	f.wantErr(f.s.DeactivateToken(f.ctx, code.Kind, code.Signature), store.ErrNotFound, "DeactivateToken twice")
	f.wantErr(f.s.DeactivateToken(f.ctx, code.Kind, "no-such-signature"), store.ErrNotFound, "DeactivateToken unknown")
	f.wantErr(f.s.DeactivateToken(f.ctx, store.KindRefreshToken, other.Signature), store.ErrNotFound, "DeactivateToken of another kind")
	f.wantTokenState(other, "active", "the other code")
}

func testTokenDelete(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	access := f.createToken(store.KindAccessToken, g)
	refresh := f.createToken(store.KindRefreshToken, g)

	f.must(f.s.DeleteToken(f.ctx, access.Kind, access.Signature), "DeleteToken")
	f.wantTokenState(access, "missing", "deleted token")
	f.wantTokenState(refresh, "active", "other token of the grant")
	f.wantErr(f.s.DeleteToken(f.ctx, access.Kind, access.Signature), store.ErrNotFound, "DeleteToken twice")
	f.wantErr(f.s.DeleteToken(f.ctx, store.KindAccessToken, refresh.Signature), store.ErrNotFound, "DeleteToken with the wrong kind")
	f.wantTokenState(refresh, "active", "token addressed with the wrong kind")
	// An inactive token can be deleted too.
	f.must(f.s.DeactivateToken(f.ctx, refresh.Kind, refresh.Signature), "DeactivateToken")
	f.wantErr(f.s.DeleteToken(f.ctx, refresh.Kind, refresh.Signature), nil, "DeleteToken of an inactive token")
	f.wantTokenState(refresh, "missing", "deleted inactive token")
}

func testTokensByRequest(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	a, b := newGrant(c, u, ""), newGrant(c, u, "")
	a1 := f.createToken(store.KindAccessToken, a)
	a2 := f.createToken(store.KindAccessToken, a)
	aRefresh := f.createToken(store.KindRefreshToken, a)
	b1 := f.createToken(store.KindAccessToken, b)
	bRefresh := f.createToken(store.KindRefreshToken, b)

	f.must(f.s.DeactivateTokensByRequest(f.ctx, store.KindAccessToken, a.requestID), "DeactivateTokensByRequest")
	f.wantTokenState(a1, "inactive", "access token of the grant")
	f.wantTokenState(a2, "inactive", "access token of the grant")
	f.wantTokenState(aRefresh, "active", "refresh token of the grant")
	f.wantTokenState(b1, "active", "access token of another grant")
	// Again, with nothing left to deactivate, and for unknown grants.
	f.wantErr(f.s.DeactivateTokensByRequest(f.ctx, store.KindAccessToken, a.requestID), nil, "DeactivateTokensByRequest again")
	f.wantErr(f.s.DeactivateTokensByRequest(f.ctx, store.KindAccessToken, "no-such-request"), nil, "DeactivateTokensByRequest unknown")

	f.must(f.s.DeleteTokensByRequest(f.ctx, store.KindRefreshToken, a.requestID), "DeleteTokensByRequest")
	f.wantTokenState(aRefresh, "missing", "refresh token of the grant")
	f.wantTokenState(a1, "inactive", "access token of the grant")
	f.wantTokenState(bRefresh, "active", "refresh token of another grant")
	f.wantErr(f.s.DeleteTokensByRequest(f.ctx, store.KindRefreshToken, a.requestID), nil, "DeleteTokensByRequest again")
	f.wantErr(f.s.DeleteTokensByRequest(f.ctx, store.KindRefreshToken, "no-such-request"), nil, "DeleteTokensByRequest unknown")

	f.must(f.s.DeleteTokensByRequest(f.ctx, store.KindAccessToken, a.requestID), "DeleteTokensByRequest access")
	f.wantTokenState(a1, "missing", "access token of the grant")
	f.wantTokenState(a2, "missing", "access token of the grant")
	f.wantTokenState(b1, "active", "access token of another grant")
}

func testRevokeGrant(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	a, b := newGrant(c, u, ""), newGrant(c, u, "")
	var aTokens []store.Token
	for _, kind := range allKinds {
		aTokens = append(aTokens, f.createToken(kind, a))
	}
	bAccess := f.createToken(store.KindAccessToken, b)

	f.must(f.s.RevokeGrant(f.ctx, a.requestID), "RevokeGrant")
	for _, tok := range aTokens {
		f.wantTokenState(tok, "inactive", "token of the revoked grant")
	}
	f.wantTokenState(bAccess, "active", "token of another grant")
	_, err := f.s.GetGrant(f.ctx, a.requestID)
	f.wantErr(err, nil, "GetGrant of a revoked grant")
	f.wantErr(f.s.RevokeGrant(f.ctx, "no-such-request"), store.ErrNotFound, "RevokeGrant unknown")
}

func testRevokeGrantsBySession(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	s1 := f.createSession(u.ID)
	s2 := f.createSession(u.ID)
	ga, gb := newGrant(c, u, s1.ID), newGrant(c, u, s1.ID)
	gc, gd := newGrant(c, u, s2.ID), newGrant(c, u, "")
	aRefresh := f.createToken(store.KindRefreshToken, ga)
	aAccess := f.createToken(store.KindAccessToken, ga)
	bRefresh := f.createToken(store.KindRefreshToken, gb)
	cRefresh := f.createToken(store.KindRefreshToken, gc)
	dRefresh := f.createToken(store.KindRefreshToken, gd)

	n, err := f.s.RevokeGrantsBySession(f.ctx, s1.ID)
	f.must(err, "RevokeGrantsBySession")
	if n != 2 {
		f.t.Errorf("RevokeGrantsBySession = %d, want 2 grants", n)
	}
	f.wantTokenState(aRefresh, "inactive", "session grant")
	f.wantTokenState(aAccess, "inactive", "session grant")
	f.wantTokenState(bRefresh, "inactive", "session grant")
	f.wantTokenState(cRefresh, "active", "grant of another session")
	f.wantTokenState(dRefresh, "active", "grant without session")

	n, err = f.s.RevokeGrantsBySession(f.ctx, "no-such-session")
	f.must(err, "RevokeGrantsBySession unknown")
	if n != 0 {
		f.t.Errorf("RevokeGrantsBySession unknown = %d, want 0", n)
	}

	// Deleting a session leaves the grants made in it: their refresh tokens
	// outlive the browser session.
	f.must(f.s.DeleteLoginSession(f.ctx, s2.ID), "DeleteLoginSession")
	_, err = f.s.GetGrant(f.ctx, gc.requestID)
	f.wantErr(err, nil, "GetGrant after its session was deleted")
	f.wantTokenState(cRefresh, "active", "token of a grant whose session was deleted")
}

func testMoveSessionGrants(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	old, other := f.createSession(u.ID), f.createSession(u.ID)
	ga, gb := newGrant(c, u, old.ID), newGrant(c, u, other.ID)
	aRefresh := f.createToken(store.KindRefreshToken, ga)
	bRefresh := f.createToken(store.KindRefreshToken, gb)

	_, err := f.s.MoveSessionGrants(f.ctx, old.ID, "no-such-session")
	f.wantErr(err, store.ErrNotFound, "MoveSessionGrants to a missing session")
	g, err := f.s.GetGrant(f.ctx, ga.requestID)
	f.must(err, "GetGrant after a refused move")
	if g.LoginSessionID != old.ID {
		f.t.Errorf("grant after a refused move names session %q, want %q", g.LoginSessionID, old.ID)
	}

	next := f.createSession(u.ID)
	n, err := f.s.MoveSessionGrants(f.ctx, old.ID, next.ID)
	f.must(err, "MoveSessionGrants")
	if n != 1 {
		f.t.Errorf("MoveSessionGrants = %d, want 1", n)
	}
	n, err = f.s.MoveSessionGrants(f.ctx, "no-such-session", next.ID)
	f.must(err, "MoveSessionGrants from an unknown session")
	if n != 0 {
		f.t.Errorf("MoveSessionGrants from an unknown session = %d, want 0", n)
	}
	// The moved grant now ends with the new session, not the old one.
	f.must(f.s.DeleteLoginSession(f.ctx, old.ID), "DeleteLoginSession old")
	n, err = f.s.RevokeGrantsBySession(f.ctx, next.ID)
	f.must(err, "RevokeGrantsBySession next")
	if n != 1 {
		f.t.Errorf("RevokeGrantsBySession(next) = %d, want the moved grant", n)
	}
	f.wantTokenState(aRefresh, "inactive", "moved grant revoked with its new session")
	f.wantTokenState(bRefresh, "active", "grant of another session")

	// A deleted session's grants no longer name it: revoking by its id
	// reaches nothing (PostgreSQL's ON DELETE SET NULL, the memory store too).
	f.must(f.s.DeleteLoginSession(f.ctx, other.ID), "DeleteLoginSession other")
	n, err = f.s.RevokeGrantsBySession(f.ctx, other.ID)
	f.must(err, "RevokeGrantsBySession deleted")
	if n != 0 {
		f.t.Errorf("RevokeGrantsBySession(deleted session) = %d, want 0", n)
	}
	f.wantTokenState(bRefresh, "active", "grant whose session was deleted")
}

func testDeleteExpiredTokens(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	ga, gb := newGrant(c, u, ""), newGrant(c, u, "")
	expired := func(g grant, kind store.TokenKind, ago time.Duration) store.Token {
		tok := f.newToken(kind, g)
		tok.ExpiresAt = f.at(-ago)
		f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
		return tok
	}
	a1 := expired(ga, store.KindAuthorizeCode, time.Hour)
	a2 := expired(ga, store.KindAccessToken, 2*time.Hour)
	a3 := expired(ga, store.KindPKCE, time.Minute)
	b1 := expired(gb, store.KindAccessToken, time.Second)
	bLive := f.createToken(store.KindRefreshToken, gb)
	bInactive := f.createToken(store.KindAccessToken, gb)
	f.must(f.s.DeactivateToken(f.ctx, bInactive.Kind, bInactive.Signature), "DeactivateToken")

	for i, want := range []int{3, 1, 0} {
		n, err := f.s.DeleteExpiredTokens(f.ctx, f.now, 3)
		f.must(err, "DeleteExpiredTokens round %d", i)
		if n != want {
			f.t.Errorf("DeleteExpiredTokens round %d = %d, want %d", i, n, want)
		}
	}
	for _, tok := range []store.Token{a1, a2, a3, b1} {
		f.wantTokenState(tok, "missing", "expired token")
	}
	f.wantTokenState(bLive, "active", "unexpired token")
	f.wantTokenState(bInactive, "inactive", "unexpired inactive token")
	_, err := f.s.GetGrant(f.ctx, ga.requestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant of a grant left without tokens")
	_, err = f.s.GetGrant(f.ctx, gb.requestID)
	f.wantErr(err, nil, "GetGrant of a grant with a live token")
}

func testDeleteClientCascades(f *fixture) {
	c := f.createClient()
	keep := f.createClient()
	u := f.createUser()
	sess := f.createSession(u.ID)
	g, gKeep := newGrant(c, u, sess.ID), newGrant(keep, u, sess.ID)
	var gone []store.Token
	for _, kind := range allKinds {
		gone = append(gone, f.createToken(kind, g))
	}
	kept := f.createToken(store.KindRefreshToken, gKeep)
	ccGrant := grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID}
	gone = append(gone, f.createToken(store.KindAccessToken, ccGrant))
	for _, cl := range []store.Client{c, keep} {
		f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: u.ID, ClientID: cl.ID, Scopes: []string{"openid"}, GrantedAt: f.now}), "SaveConsent")
	}
	par := f.newPAR(c.ID)
	f.must(f.s.CreatePARRequest(f.ctx, par), "CreatePARRequest")
	parKeep := f.newPAR(keep.ID)
	f.must(f.s.CreatePARRequest(f.ctx, parKeep), "CreatePARRequest")

	f.must(f.s.DeleteClient(f.ctx, c.ID), "DeleteClient")
	for _, tok := range gone {
		f.wantTokenState(tok, "missing", "token of the deleted client")
	}
	for _, id := range []string{g.requestID, ccGrant.requestID} {
		_, err := f.s.GetGrant(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetGrant of the deleted client")
	}
	_, err := f.s.GetConsent(f.ctx, u.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetConsent of the deleted client")
	_, err = f.s.GetPARRequest(f.ctx, par.RequestURI)
	f.wantErr(err, store.ErrNotFound, "GetPARRequest of the deleted client")

	f.wantTokenState(kept, "active", "token of another client")
	_, err = f.s.GetGrant(f.ctx, gKeep.requestID)
	f.wantErr(err, nil, "GetGrant of another client")
	_, err = f.s.GetConsent(f.ctx, u.ID, keep.ID, f.now)
	f.wantErr(err, nil, "GetConsent of another client")
	_, err = f.s.GetPARRequest(f.ctx, parKeep.RequestURI)
	f.wantErr(err, nil, "GetPARRequest of another client")
	_, err = f.s.GetUser(f.ctx, u.ID)
	f.wantErr(err, nil, "GetUser after deleting a client")
	_, err = f.s.GetLoginSession(f.ctx, sess.ID, f.now)
	f.wantErr(err, nil, "GetLoginSession after deleting a client")
}

func testDeleteUserCascades(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	other := f.createUser()
	sess := f.createSession(u.ID)
	otherSess := f.createSession(other.ID)
	g, gOther := newGrant(c, u, sess.ID), newGrant(c, other, otherSess.ID)
	var gone []store.Token
	for _, kind := range allKinds {
		gone = append(gone, f.createToken(kind, g))
	}
	// A grant of the user made without a browser session (e.g. by jwt-bearer).
	gNoSession := newGrant(c, u, "")
	gone = append(gone, f.createToken(store.KindAccessToken, gNoSession))
	kept := f.createToken(store.KindRefreshToken, gOther)
	ccGrant := grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID}
	keptCC := f.createToken(store.KindAccessToken, ccGrant)
	for _, usr := range []store.User{u, other} {
		f.must(f.s.SaveConsent(f.ctx, store.Consent{UserID: usr.ID, ClientID: c.ID, Scopes: []string{"openid"}, GrantedAt: f.now}), "SaveConsent")
	}

	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	for _, tok := range gone {
		f.wantTokenState(tok, "missing", "token of the deleted user")
	}
	for _, id := range []string{g.requestID, gNoSession.requestID} {
		_, err := f.s.GetGrant(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetGrant of the deleted user")
	}
	_, err := f.s.GetLoginSession(f.ctx, sess.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetLoginSession of the deleted user")
	_, err = f.s.GetConsent(f.ctx, u.ID, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetConsent of the deleted user")

	f.wantTokenState(kept, "active", "token of another user")
	f.wantTokenState(keptCC, "active", "client_credentials token")
	_, err = f.s.GetLoginSession(f.ctx, otherSess.ID, f.now)
	f.wantErr(err, nil, "GetLoginSession of another user")
	_, err = f.s.GetConsent(f.ctx, other.ID, c.ID, f.now)
	f.wantErr(err, nil, "GetConsent of another user")
	_, err = f.s.GetClient(f.ctx, c.ID)
	f.wantErr(err, nil, "GetClient after deleting a user")
}

// The serialized request is stored, not the caller's buffer.
func testTokenNoAliasing(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	tok := f.newToken(store.KindRefreshToken, g)
	want := tok
	want.Request = append([]byte(nil), tok.Request...)
	want.GrantedScopes = slices.Clone(tok.GrantedScopes)
	f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
	copy(tok.Request, `{"id": "overwritten"}`)
	tok.GrantedScopes[0] = "admin"

	got, err := f.s.GetToken(f.ctx, tok.Kind, tok.Signature)
	f.must(err, "GetToken")
	f.equal("token after changing the input", got, want)
	copy(got.Request, `{"id": "overwritten"}`)
	got.GrantedScopes[0] = "admin"
	again, err := f.s.GetToken(f.ctx, tok.Kind, tok.Signature)
	f.must(err, "GetToken")
	f.equal("token after changing a copy read out", again, want)
	grant, err := f.s.GetGrant(f.ctx, g.requestID)
	f.must(err, "GetGrant")
	f.equal("grant scopes", grant.GrantedScopes, want.GrantedScopes)
}
