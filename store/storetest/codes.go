package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// The authorization code flow's own writes and read (store.AuthorizeCodes):
// the code with its PKCE and OpenID Connect records, written together; the
// code read with them and its grant's user; the code redeemed for its
// tokens in one atomic, one-use write.

var codeTests = []subtest{
	{"CreateTokens", testCreateTokens},
	{"CreateTokensAllOrNothing", testCreateTokensAllOrNothing},
	{"GetAuthorizeCode", testGetAuthorizeCode},
	{"Redeem", testRedeemAuthorizeCode},
	{"RedeemOnce", testRedeemAuthorizeCodeOnce},
	{"RedeemRolledBack", testRedeemAuthorizeCodeRolledBack},
	{"RedeemDPoPBound", testRedeemAuthorizeCodeDPoPBound},
	{"RedeemOnceConcurrently", testConcurrentRedeemAuthorizeCode},
	{"RedeemOnceConcurrentlyInTx", testConcurrentRedeemAuthorizeCodeInTx},
}

// codeRecords are what the authorize endpoint writes for one code: the
// code and its PKCE and OpenID Connect records under its signature.
func (f *fixture) codeRecords(g grant) []store.Token {
	code := f.newToken(store.KindAuthorizeCode, g)
	pkce := f.newToken(store.KindPKCE, g)
	pkce.Signature = code.Signature
	pkce.GrantedScopes = []string{}
	pkce.Request = []byte(`{"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}`)
	oidc := f.newToken(store.KindOpenIDSession, g)
	oidc.Signature = code.Signature
	oidc.GrantedScopes = []string{"openid", "profile", "email"}
	return []store.Token{code, pkce, oidc}
}

func testCreateTokens(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, f.createSession(u.ID).ID)
	ts := f.codeRecords(g)
	f.must(f.s.CreateTokens(f.ctx, ts), "CreateTokens")
	for _, tok := range ts {
		f.wantToken(string(tok.Kind), tok)
	}
	got, err := f.s.GetGrant(f.ctx, g.requestID)
	f.must(err, "GetGrant of the tokens' grant")
	if got.ClientID != c.ID || got.UserID != u.ID || got.LoginSessionID != g.sessionID {
		f.t.Errorf("grant created by CreateTokens: %+v, want client %s, user %s, session %s", got, c.ID, u.ID, g.sessionID)
	}

	// Tokens of two grants, the second's created by the batch too; and a
	// token without request bytes.
	other := newGrant(c, u, "")
	a := f.newToken(store.KindAccessToken, other)
	a.Request = nil
	r := f.newToken(store.KindRefreshToken, other)
	f.must(f.s.CreateTokens(f.ctx, []store.Token{f.newToken(store.KindAccessToken, g), a, r}), "CreateTokens of two grants")
	f.wantToken("access token without request bytes", a)
	f.wantToken("refresh token of the second grant", r)

	f.must(f.s.CreateTokens(f.ctx, nil), "CreateTokens of no tokens")
	f.must(f.s.CreateTokens(f.ctx, []store.Token{}), "CreateTokens of an empty list")

	// A token that exists already is a conflict, as for CreateToken.
	dup := f.newToken(store.KindAccessToken, g)
	err = f.s.CreateTokens(f.ctx, []store.Token{dup, ts[0]})
	f.wantErr(err, store.ErrConflict, "CreateTokens with an existing code")
	f.wantTokenState(dup, "missing", "token created beside an existing one")

	// A DPoP proof is not recorded here: refused, nothing written.
	bound := f.newToken(store.KindAccessToken, g)
	bound.DPoPProof = &store.DPoPProofUse{JTIHash: make([]byte, 32), ExpiresAt: f.at(time.Minute), Now: f.now}
	plain := f.newToken(store.KindAccessToken, g)
	if err := f.s.CreateTokens(f.ctx, []store.Token{plain, bound}); err == nil {
		f.t.Errorf("CreateTokens of a token with a DPoP proof: no error")
	}
	f.wantTokenState(plain, "missing", "token beside one with a DPoP proof")
	f.wantTokenState(bound, "missing", "token with a DPoP proof")
}

// One token in the middle names a client, or a user, that does not exist:
// ErrNotFound, and neither the tokens before it nor those after it exist.
func testCreateTokensAllOrNothing(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	for _, tc := range []struct {
		name string
		bad  grant
	}{
		{"missing client", grant{requestID: uniqueID("req"), clientID: uniqueID("no-such-client"), subject: u.ID, userID: u.ID}},
		{"missing user", grant{requestID: uniqueID("req"), clientID: c.ID, subject: "ghost", userID: uuid.NewString()}},
	} {
		g := newGrant(c, u, "")
		ts := f.codeRecords(g)
		ts = []store.Token{ts[0], ts[1], f.newToken(store.KindAccessToken, tc.bad), ts[2], f.newToken(store.KindRefreshToken, newGrant(c, u, ""))}
		err := f.s.CreateTokens(f.ctx, ts)
		f.wantErr(err, store.ErrNotFound, "CreateTokens with a token of a %s", tc.name)
		for i, tok := range ts {
			f.wantTokenState(tok, "missing", "%s: token %d of a failed CreateTokens", tc.name, i)
		}
		_, err = f.s.GetGrant(f.ctx, g.requestID)
		f.wantErr(err, store.ErrNotFound, "%s: grant of a failed CreateTokens", tc.name)
	}
}

func testGetAuthorizeCode(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, f.createSession(u.ID).ID)
	ts := f.codeRecords(g)
	f.must(f.s.CreateTokens(f.ctx, ts), "CreateTokens")
	// Another code's records, and the access token of this grant, are not
	// this code's.
	f.must(f.s.CreateTokens(f.ctx, f.codeRecords(g)), "CreateTokens of another code")
	f.createToken(store.KindAccessToken, g)

	got, err := f.s.GetAuthorizeCode(f.ctx, ts[0].Signature)
	f.must(err, "GetAuthorizeCode")
	f.equal("code", got.Code, ts[0])
	if got.PKCE == nil || got.OpenID == nil {
		f.t.Fatalf("GetAuthorizeCode: PKCE %v, OpenID %v, want both", got.PKCE, got.OpenID)
	}
	f.equal("PKCE record", *got.PKCE, ts[1])
	f.equal("OpenID Connect record", *got.OpenID, ts[2])
	want, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	if got.User == nil {
		f.t.Fatalf("GetAuthorizeCode: no user, want %s", u.ID)
	}
	f.equal("user of the code's grant", *got.User, want)

	// A user changed since is read as it is now.
	want.Status = store.StatusLocked
	want.UpdatedAt = f.at(time.Second)
	f.must(f.s.UpdateUser(f.ctx, want), "UpdateUser")
	got, err = f.s.GetAuthorizeCode(f.ctx, ts[0].Signature)
	f.must(err, "GetAuthorizeCode after UpdateUser")
	if got.User == nil || got.User.Status != store.StatusLocked {
		f.t.Errorf("GetAuthorizeCode after locking the user: user %+v, want status locked", got.User)
	}

	// A code without PKCE (a confidential client) or OpenID Connect (no
	// openid scope).
	bare := f.createToken(store.KindAuthorizeCode, g)
	got, err = f.s.GetAuthorizeCode(f.ctx, bare.Signature)
	f.must(err, "GetAuthorizeCode of a code alone")
	f.equal("code alone", got.Code, bare)
	if got.PKCE != nil || got.OpenID != nil {
		f.t.Errorf("GetAuthorizeCode of a code alone: PKCE %v, OpenID %v, want none", got.PKCE, got.OpenID)
	}
	if got.User == nil || got.User.ID != u.ID {
		f.t.Errorf("GetAuthorizeCode of a code alone: user %v, want %s", got.User, u.ID)
	}
	pkceOnly := f.codeRecords(g)[:2]
	f.must(f.s.CreateTokens(f.ctx, pkceOnly), "CreateTokens of a code with PKCE only")
	got, err = f.s.GetAuthorizeCode(f.ctx, pkceOnly[0].Signature)
	f.must(err, "GetAuthorizeCode of a code with PKCE only")
	if got.PKCE == nil || got.OpenID != nil {
		f.t.Errorf("GetAuthorizeCode of a code with PKCE only: PKCE %v, OpenID %v, want PKCE only", got.PKCE, got.OpenID)
	}

	// A grant whose subject is no user of the directory.
	cg := grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID}
	svc := f.codeRecords(cg)
	f.must(f.s.CreateTokens(f.ctx, svc), "CreateTokens of a grant without user")
	got, err = f.s.GetAuthorizeCode(f.ctx, svc[0].Signature)
	f.must(err, "GetAuthorizeCode of a grant without user")
	f.equal("code without user", got.Code, svc[0])
	if got.User != nil {
		f.t.Errorf("GetAuthorizeCode of a grant without user: user %s, want none", got.User.ID)
	}
	if got.PKCE == nil || got.OpenID == nil {
		f.t.Errorf("GetAuthorizeCode of a grant without user: PKCE %v, OpenID %v, want both", got.PKCE, got.OpenID)
	}

	// A used code is read, inactive (fosite tells reuse from absence).
	f.must(f.s.RedeemAuthorizeCode(f.ctx, ts[0].Signature, nil), "RedeemAuthorizeCode")
	got, err = f.s.GetAuthorizeCode(f.ctx, ts[0].Signature)
	f.must(err, "GetAuthorizeCode of a used code")
	if got.Code.Active || got.PKCE == nil || got.OpenID == nil {
		f.t.Errorf("GetAuthorizeCode of a used code: active %v, PKCE %v, OpenID %v, want inactive with both records", got.Code.Active, got.PKCE, got.OpenID)
	}

	// Only codes: not a PKCE record alone, not another kind's signature.
	orphan := f.newToken(store.KindPKCE, g)
	f.must(f.s.CreateToken(f.ctx, orphan), "CreateToken of a PKCE record alone")
	_, err = f.s.GetAuthorizeCode(f.ctx, orphan.Signature)
	f.wantErr(err, store.ErrNotFound, "GetAuthorizeCode of a PKCE record without code")
	access := f.createToken(store.KindAccessToken, g)
	_, err = f.s.GetAuthorizeCode(f.ctx, access.Signature)
	f.wantErr(err, store.ErrNotFound, "GetAuthorizeCode of an access token")
	_, err = f.s.GetAuthorizeCode(f.ctx, "no-such-signature")
	f.wantErr(err, store.ErrNotFound, "GetAuthorizeCode unknown")
}

// tokensFor are the tokens a redemption of a code of g issues.
func (f *fixture) tokensFor(g grant) []store.Token {
	a := f.newToken(store.KindAccessToken, g)
	r := f.newToken(store.KindRefreshToken, g)
	r.GrantedScopes = []string{"profile", "openid", "offline_access", `urn:example:"odd" scope\é`}
	return []store.Token{a, r}
}

func testRedeemAuthorizeCode(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, f.createSession(u.ID).ID)
	ts := f.codeRecords(g)
	f.must(f.s.CreateTokens(f.ctx, ts), "CreateTokens")
	bystander := f.createToken(store.KindAuthorizeCode, g)

	issued := f.tokensFor(g)
	f.must(f.s.RedeemAuthorizeCode(f.ctx, ts[0].Signature, issued), "RedeemAuthorizeCode")
	wantCode := ts[0]
	wantCode.Active = false
	f.wantToken("redeemed code", wantCode)
	f.wantToken("PKCE record of the redeemed code", ts[1])
	f.wantToken("OpenID Connect record of the redeemed code", ts[2])
	f.wantToken("access token of the redemption", issued[0])
	f.wantToken("refresh token of the redemption", issued[1])
	f.wantTokenState(bystander, "active", "another code of the grant")

	// An access token alone (no offline_access), with empty scopes and no
	// request bytes; and the rotation fields, written as given.
	code := f.createToken(store.KindAuthorizeCode, g)
	a := f.newToken(store.KindAccessToken, g)
	a.GrantedScopes, a.Request = []string{}, nil
	f.must(f.s.RedeemAuthorizeCode(f.ctx, code.Signature, []store.Token{a}), "RedeemAuthorizeCode of an access token alone")
	f.wantToken("access token alone", a)
	code2 := f.createToken(store.KindAuthorizeCode, g)
	r := f.newToken(store.KindRefreshToken, g)
	r.Active, r.Predecessor, r.RotatedAt, r.RewoundAt = false, uniqueID("sig"), f.atPtr(-2*time.Second), f.atPtr(-time.Second)
	f.must(f.s.RedeemAuthorizeCode(f.ctx, code2.Signature, []store.Token{r}), "RedeemAuthorizeCode of a token with rotation fields")
	f.wantToken("token with rotation fields", r)

	// No tokens: the code is used all the same.
	code3 := f.createToken(store.KindAuthorizeCode, g)
	f.must(f.s.RedeemAuthorizeCode(f.ctx, code3.Signature, nil), "RedeemAuthorizeCode of no tokens")
	f.wantTokenState(code3, "inactive", "code redeemed for no tokens")
}

// A code is redeemed once: a second redemption, or one of a code revoked,
// unknown or of another kind, is ErrNotFound and writes nothing.
func testRedeemAuthorizeCodeOnce(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	first := f.tokensFor(g)
	f.must(f.s.RedeemAuthorizeCode(f.ctx, code.Signature, first), "RedeemAuthorizeCode")

	again := f.tokensFor(g)
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, code.Signature, again), store.ErrNotFound, "RedeemAuthorizeCode twice")
	for _, tok := range again {
		f.wantTokenState(tok, "missing", "token of a second redemption")
	}
	for _, tok := range first {
		f.wantTokenState(tok, "active", "token of the first redemption")
	}
	f.wantTokenState(code, "inactive", "code redeemed once")

	revoked := f.createToken(store.KindAuthorizeCode, g)
	f.must(f.s.DeactivateToken(f.ctx, revoked.Kind, revoked.Signature), "DeactivateToken")
	ts := f.tokensFor(g)
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, revoked.Signature, ts), store.ErrNotFound, "RedeemAuthorizeCode of a revoked code")
	f.wantTokenState(ts[0], "missing", "token of a revoked code's redemption")

	// A refresh token (or any other kind) under the signature is no code.
	refresh := f.createToken(store.KindRefreshToken, g)
	ts = f.tokensFor(g)
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, refresh.Signature, ts), store.ErrNotFound, "RedeemAuthorizeCode of a refresh token")
	f.wantTokenState(refresh, "active", "refresh token presented as a code")
	f.wantTokenState(ts[0], "missing", "token of a refresh token's redemption")

	ts = f.tokensFor(g)
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, "no-such-signature", ts), store.ErrNotFound, "RedeemAuthorizeCode unknown")
	f.wantTokenState(ts[1], "missing", "token of an unknown code's redemption")

	// A token that exists already fails the redemption, which then leaves
	// the code active.
	live := f.createToken(store.KindAuthorizeCode, g)
	ts = f.tokensFor(g)
	ts[1] = first[1]
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, live.Signature, ts), store.ErrConflict, "RedeemAuthorizeCode with an existing token")
	f.wantTokenState(live, "active", "code of a failed redemption")
	f.wantTokenState(ts[0], "missing", "token of a failed redemption")
}

func testRedeemAuthorizeCodeRolledBack(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	ts := f.tokensFor(g)
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	got, err := f.s.GetAuthorizeCode(tx, code.Signature)
	f.must(err, "GetAuthorizeCode in a transaction")
	f.equal("code read in a transaction", got.Code, code)
	f.must(f.s.RedeemAuthorizeCode(tx, code.Signature, ts), "RedeemAuthorizeCode in a transaction")
	f.must(f.s.Rollback(tx), "Rollback")
	f.wantTokenState(code, "active", "code of a rolled back redemption")
	for _, tok := range ts {
		f.wantTokenState(tok, "missing", "token of a rolled back redemption")
	}
	f.must(f.s.RedeemAuthorizeCode(f.ctx, code.Signature, ts), "RedeemAuthorizeCode after the rollback")
	f.wantTokenState(ts[0], "active", "token of the redemption after the rollback")
}

// Without a transaction the write alone decides: of n concurrent
// redemptions of one code exactly one writes its tokens.
func testConcurrentRedeemAuthorizeCode(f *fixture) {
	const n = 8
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	issued := make([][]store.Token, n)
	for i := range issued {
		issued[i] = f.tokensFor(g)
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return f.s.RedeemAuthorizeCode(ctx, code.Signature, issued[i])
	})
	ok, notFound := f.countErrors("RedeemAuthorizeCode", errs, store.ErrNotFound)
	if ok != 1 || notFound != n-1 {
		f.t.Errorf("%d concurrent redemptions: %d succeeded and %d got ErrNotFound, want 1 and %d", n, ok, notFound, n-1)
	}
	for i, ts := range issued {
		want := "missing"
		if errs[i] == nil {
			want = "active"
		}
		for _, tok := range ts {
			f.wantTokenState(tok, want, "token of redemption %d (error %v)", i, errs[i])
		}
	}
	f.wantTokenState(code, "inactive", "code after concurrent redemptions")
}

// As the token endpoint does it: read the code (locking it) in a
// transaction, redeem it if active, commit. The others wait for the lock
// and then read the code inactive; their redemption is ErrNotFound.
func testConcurrentRedeemAuthorizeCodeInTx(f *fixture) {
	const n = 8
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, f.createSession(u.ID).ID)
	records := f.codeRecords(g)
	f.must(f.s.CreateTokens(f.ctx, records), "CreateTokens")
	code := records[0]
	issued := make([][]store.Token, n)
	for i := range issued {
		issued[i] = f.tokensFor(g)
	}
	sawInactive := make([]bool, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			got, err := f.s.GetAuthorizeCode(ctx, code.Signature)
			if err != nil {
				return fmt.Errorf("GetAuthorizeCode: %w", err)
			}
			if got.User == nil || got.User.ID != u.ID || got.PKCE == nil || got.OpenID == nil {
				return fmt.Errorf("GetAuthorizeCode: user %v, PKCE %v, OpenID %v, want all", got.User, got.PKCE, got.OpenID)
			}
			if got.Code.Active {
				time.Sleep(holdWindow)
			} else {
				sawInactive[i] = true
			}
			// Redeemed whatever was read: the write must refuse on its own
			// too.
			if err := f.s.RedeemAuthorizeCode(ctx, code.Signature, issued[i]); err != nil {
				return fmt.Errorf("RedeemAuthorizeCode: %w", err)
			}
			return nil
		})
	})
	ok, notFound := f.countErrors("redeem in tx", errs, store.ErrNotFound)
	if ok != 1 || notFound != n-1 {
		f.t.Errorf("%d concurrent redemptions in tx: %d succeeded and %d got ErrNotFound, want 1 and %d", n, ok, notFound, n-1)
	}
	nInactive := 0
	for i := range n {
		if sawInactive[i] {
			nInactive++
			if errs[i] == nil {
				f.t.Errorf("goroutine %d read the code inactive but redeemed it", i)
			}
		}
	}
	// The lock: every loser waited for the winner's commit and read the
	// code as it left it, instead of reading it active beside it.
	if nInactive != n-1 {
		f.t.Errorf("%d goroutines read the code inactive, want %d (the read does not lock the code)", nInactive, n-1)
	}
	issuedActive := 0
	for i, ts := range issued {
		for _, tok := range ts {
			state := f.tokenState(tok)
			if (state == "active") != (errs[i] == nil) {
				f.t.Errorf("goroutine %d: returned %v but its %s is %s", i, errs[i], tok.Kind, state)
			}
			if state == "active" && tok.Kind == store.KindAccessToken {
				issuedActive++
			}
		}
	}
	if issuedActive != 1 {
		f.t.Errorf("%d access tokens issued for one code, want 1", issuedActive)
	}
	f.wantTokenState(code, "inactive", "code after concurrent redemptions")
}

// A DPoP-bound access token records its proof with the redemption, as
// CreateToken does; a proof used before refuses the redemption, which then
// writes nothing and leaves the code active.
func testRedeemAuthorizeCodeDPoPBound(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	proof := store.DPoPProofUse{JTIHash: proofDigest(), ExpiresAt: f.at(time.Minute), Now: f.now}
	ts := f.tokensFor(g)
	ts[0].DPoPProof = &proof
	f.must(f.s.RedeemAuthorizeCode(f.ctx, code.Signature, ts), "RedeemAuthorizeCode of a DPoP-bound access token")
	f.wantTokenState(code, "inactive", "code of a DPoP-bound redemption")
	want := ts[0]
	want.DPoPProof = nil // write-only
	f.wantToken("DPoP-bound access token", want)
	f.wantToken("refresh token beside a DPoP-bound access token", ts[1])
	f.wantErr(f.s.UseDPoPProof(f.ctx, proof.JTIHash, f.at(time.Minute), f.now), store.ErrConflict, "UseDPoPProof of the redemption's proof")

	again := f.createToken(store.KindAuthorizeCode, g)
	ts = f.tokensFor(g)
	ts[0].DPoPProof = &proof
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, again.Signature, ts), store.ErrDPoPProofUsed, "RedeemAuthorizeCode with a used proof")
	f.wantTokenState(again, "active", "code of a redemption with a used proof")
	for _, tok := range ts {
		f.wantTokenState(tok, "missing", "token of a redemption with a used proof")
	}
	ts = f.tokensFor(g)
	ts[0].DPoPProof = &store.DPoPProofUse{JTIHash: proofDigest(), ExpiresAt: f.at(time.Minute), Now: f.now}
	f.wantErr(f.s.RedeemAuthorizeCode(f.ctx, code.Signature, ts), store.ErrNotFound, "RedeemAuthorizeCode of a used code with a DPoP-bound token")
	f.wantTokenState(ts[0], "missing", "DPoP-bound token of a used code")
}
