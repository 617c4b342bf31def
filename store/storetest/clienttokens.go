package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Client tokens (store.ClientTokens): client_credentials access tokens kept
// as one record with their grant's header.
var clientTokenTests = []subtest{
	{"RoundTrip", testClientTokenRoundTrip},
	{"Refused", testClientTokenRefused},
	{"Revocation", testClientTokenRevocation},
	{"DeleteGoesWithGrant", testClientTokenDelete},
	{"DeleteExpired", testClientTokenDeleteExpired},
	{"DeleteClientCascades", testClientTokenDeleteClient},
	{"Transaction", testClientTokenTransaction},
	{"DPoPProof", testClientTokenDPoPProof},
	{"DPoPProofConcurrent", testClientTokenDPoPProofConcurrent},
	{"Concurrent", testClientTokenConcurrent},
}

// RunClientTokens runs the suite's ClientTokens group alone: for a second
// configuration of a backend that changes how client tokens are written
// and nothing else.
func RunClientTokens(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, st := range clientTokenTests {
		t.Run(st.name, func(t *testing.T) { st.fn(newFixture(t, newStore(t))) })
	}
}

// newClientToken is a client_credentials token of client c, as fositeStore
// writes one: the subject is the client, no user, no session.
func (f *fixture) newClientToken(c store.Client) store.Token {
	tok := f.newToken(store.KindAccessToken, grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID})
	tok.GrantedScopes = []string{"gatehouse:api", "reports:read"}
	return tok
}

func (f *fixture) createClientToken(c store.Client) store.Token {
	f.t.Helper()
	tok := f.newClientToken(c)
	f.must(f.s.CreateClientToken(f.ctx, tok), "CreateClientToken")
	return tok
}

// clientGrant is the grant GetGrant reports for a client token.
func clientGrant(tok store.Token) store.Grant {
	return store.Grant{ID: tok.RequestID, ClientID: tok.ClientID, Subject: tok.Subject,
		GrantedScopes: tok.GrantedScopes, RequestedAt: tok.RequestedAt}
}

func testClientTokenRoundTrip(f *fixture) {
	c := f.createClient()
	tok := f.createClientToken(c)
	got, err := f.s.GetToken(f.ctx, store.KindAccessToken, tok.Signature)
	f.must(err, "GetToken")
	f.equal("client token", got, tok)
	g, err := f.s.GetGrant(f.ctx, tok.RequestID)
	f.must(err, "GetGrant")
	f.equal("client token's grant", g, clientGrant(tok))
	for _, kind := range []store.TokenKind{store.KindRefreshToken, store.KindAuthorizeCode} {
		_, err = f.s.GetToken(f.ctx, kind, tok.Signature)
		f.wantErr(err, store.ErrNotFound, "GetToken %s with a client token's signature", kind)
	}

	// No scopes and an inactive token round-trip too.
	bare := f.newClientToken(c)
	bare.GrantedScopes = nil
	bare.Active = false
	f.must(f.s.CreateClientToken(f.ctx, bare), "CreateClientToken without scopes")
	got, err = f.s.GetToken(f.ctx, store.KindAccessToken, bare.Signature)
	f.must(err, "GetToken")
	f.equal("client token without scopes", got, bare)

	// Tokens of other grants are untouched by it, and it by them.
	u := f.createUser()
	other := f.createToken(store.KindAccessToken, newGrant(c, u, ""))
	f.wantTokenState(other, "active", "an ordinary access token beside client tokens")
	f.wantTokenState(tok, "active", "a client token beside an ordinary one")
}

// testClientTokenRefused: a token that is not a client token's shape is a
// caller's bug; a duplicate is a conflict; a missing client is not found;
// none of them writes anything.
func testClientTokenRefused(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	sess := f.createSession(u.ID)
	at := f.atPtr(-time.Second)
	for name, change := range map[string]func(*store.Token){
		"refresh token":  func(t *store.Token) { t.Kind = store.KindRefreshToken },
		"with a user":    func(t *store.Token) { t.UserID = u.ID },
		"with a session": func(t *store.Token) { t.LoginSessionID = sess.ID },
		"rotated":        func(t *store.Token) { t.RotatedAt = at },
		"predecessor":    func(t *store.Token) { t.Predecessor = "sig-x" },
		"no signature":   func(t *store.Token) { t.Signature = "" },
		"no request id":  func(t *store.Token) { t.RequestID = "" },
	} {
		tok := f.newClientToken(c)
		change(&tok)
		if err := f.s.CreateClientToken(f.ctx, tok); err == nil {
			f.t.Errorf("CreateClientToken %s succeeded", name)
		}
		if tok.Signature != "" {
			_, err := f.s.GetToken(f.ctx, tok.Kind, tok.Signature)
			f.wantErr(err, store.ErrNotFound, "GetToken of the refused token (%s)", name)
		}
	}

	first := f.createClientToken(c)
	dup := f.newClientToken(c)
	dup.Signature = first.Signature
	f.wantErr(f.s.CreateClientToken(f.ctx, dup), store.ErrConflict, "CreateClientToken with a taken signature")
	got, err := f.s.GetToken(f.ctx, store.KindAccessToken, first.Signature)
	f.must(err, "GetToken")
	f.equal("client token after a refused duplicate", got, first)
	_, err = f.s.GetGrant(f.ctx, dup.RequestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant of the refused duplicate")

	orphan := f.newClientToken(store.Client{ID: uniqueID("no-client")})
	f.wantErr(f.s.CreateClientToken(f.ctx, orphan), store.ErrNotFound, "CreateClientToken for a missing client")
	_, err = f.s.GetGrant(f.ctx, orphan.RequestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant of the orphan")
}

// testClientTokenRevocation: every way an access token is revoked reaches
// a client token, and its grant stays readable (as an inactive token's).
func testClientTokenRevocation(f *fixture) {
	c := f.createClient()
	revokers := map[string]func(tok store.Token) error{
		"DeactivateToken": func(tok store.Token) error {
			return f.s.DeactivateToken(f.ctx, store.KindAccessToken, tok.Signature)
		},
		"DeactivateTokensByRequest": func(tok store.Token) error {
			return f.s.DeactivateTokensByRequest(f.ctx, store.KindAccessToken, tok.RequestID)
		},
		"RevokeGrant": func(tok store.Token) error { return f.s.RevokeGrant(f.ctx, tok.RequestID) },
	}
	for name, revoke := range revokers {
		tok := f.createClientToken(c)
		bystander := f.createClientToken(c)
		f.must(revoke(tok), "%s", name)
		f.wantTokenState(tok, "inactive", "%s", name)
		f.wantTokenState(bystander, "active", "another client token after %s", name)
		g, err := f.s.GetGrant(f.ctx, tok.RequestID)
		f.must(err, "GetGrant after %s", name)
		f.equal("grant after "+name, g, clientGrant(tok))
	}
	tok := f.createClientToken(c)
	f.must(f.s.DeactivateToken(f.ctx, store.KindAccessToken, tok.Signature), "DeactivateToken")
	f.wantErr(f.s.DeactivateToken(f.ctx, store.KindAccessToken, tok.Signature), store.ErrNotFound, "DeactivateToken twice")
	f.wantErr(f.s.RevokeGrant(f.ctx, tok.RequestID), nil, "RevokeGrant of a revoked client token")
	f.wantErr(f.s.RevokeGrant(f.ctx, uniqueID("req")), store.ErrNotFound, "RevokeGrant of no grant")

	// Other kinds of the grant are another matter.
	live := f.createClientToken(c)
	f.must(f.s.DeactivateTokensByRequest(f.ctx, store.KindRefreshToken, live.RequestID), "DeactivateTokensByRequest refresh")
	f.must(f.s.DeleteTokensByRequest(f.ctx, store.KindRefreshToken, live.RequestID), "DeleteTokensByRequest refresh")
	f.wantTokenState(live, "active", "client token after revoking its grant's refresh tokens")
	f.wantErr(f.s.DeactivateToken(f.ctx, store.KindRefreshToken, live.Signature), store.ErrNotFound, "DeactivateToken refresh with its signature")

	// The user revocations never meet it: it has no user and no session.
	u := f.createUser()
	n, err := f.s.RevokeGrantsByUser(f.ctx, u.ID, c.ID)
	f.must(err, "RevokeGrantsByUser")
	if n != 0 {
		f.t.Errorf("RevokeGrantsByUser = %d, want 0", n)
	}
	f.wantTokenState(live, "active", "client token after RevokeGrantsByUser")
}

// testClientTokenDelete: a client token's grant goes with the token.
func testClientTokenDelete(f *fixture) {
	c := f.createClient()
	for name, del := range map[string]func(tok store.Token) error{
		"DeleteToken": func(tok store.Token) error {
			return f.s.DeleteToken(f.ctx, store.KindAccessToken, tok.Signature)
		},
		"DeleteTokensByRequest": func(tok store.Token) error {
			return f.s.DeleteTokensByRequest(f.ctx, store.KindAccessToken, tok.RequestID)
		},
	} {
		tok := f.createClientToken(c)
		bystander := f.createClientToken(c)
		f.must(del(tok), "%s", name)
		f.wantTokenState(tok, "missing", "%s", name)
		f.wantTokenState(bystander, "active", "another client token after %s", name)
		_, err := f.s.GetGrant(f.ctx, tok.RequestID)
		f.wantErr(err, store.ErrNotFound, "GetGrant after %s", name)
		f.wantErr(f.s.RevokeGrant(f.ctx, tok.RequestID), store.ErrNotFound, "RevokeGrant after %s", name)
	}
	tok := f.createClientToken(c)
	f.must(f.s.DeleteToken(f.ctx, store.KindAccessToken, tok.Signature), "DeleteToken")
	f.wantErr(f.s.DeleteToken(f.ctx, store.KindAccessToken, tok.Signature), store.ErrNotFound, "DeleteToken twice")
}

// testClientTokenDeleteExpired: the janitor's sweep takes client tokens and
// ordinary ones under one limit, and the client tokens' grants with them.
func testClientTokenDeleteExpired(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	var expired []store.Token
	for i := range 3 {
		tok := f.newClientToken(c)
		tok.ExpiresAt = f.at(-time.Duration(i+1) * time.Minute)
		f.must(f.s.CreateClientToken(f.ctx, tok), "CreateClientToken")
		expired = append(expired, tok)
	}
	for i := range 2 {
		tok := f.newToken(store.KindAccessToken, newGrant(c, u, ""))
		tok.ExpiresAt = f.at(-time.Duration(i+1) * time.Hour)
		f.must(f.s.CreateToken(f.ctx, tok), "CreateToken")
		expired = append(expired, tok)
	}
	live := f.createClientToken(c)
	revoked := f.createClientToken(c)
	f.must(f.s.DeactivateToken(f.ctx, store.KindAccessToken, revoked.Signature), "DeactivateToken")

	for i, want := range []int{2, 2, 1, 0} {
		n, err := f.s.DeleteExpiredTokens(f.ctx, f.now, 2)
		f.must(err, "DeleteExpiredTokens round %d", i)
		if n != want {
			f.t.Errorf("DeleteExpiredTokens round %d = %d, want %d", i, n, want)
		}
	}
	for _, tok := range expired {
		f.wantTokenState(tok, "missing", "expired token")
		_, err := f.s.GetGrant(f.ctx, tok.RequestID)
		f.wantErr(err, store.ErrNotFound, "GetGrant of an expired token's grant")
	}
	f.wantTokenState(live, "active", "unexpired client token")
	f.wantTokenState(revoked, "inactive", "unexpired revoked client token")
	_, err := f.s.GetGrant(f.ctx, live.RequestID)
	f.wantErr(err, nil, "GetGrant of a live client token")
}

func testClientTokenDeleteClient(f *fixture) {
	c := f.createClient()
	keep := f.createClient()
	gone := []store.Token{f.createClientToken(c), f.createClientToken(c)}
	kept := f.createClientToken(keep)
	f.must(f.s.DeleteClient(f.ctx, c.ID), "DeleteClient")
	for _, tok := range gone {
		f.wantTokenState(tok, "missing", "client token of the deleted client")
		_, err := f.s.GetGrant(f.ctx, tok.RequestID)
		f.wantErr(err, store.ErrNotFound, "GetGrant of the deleted client's token")
	}
	f.wantTokenState(kept, "active", "client token of another client")
}

// testClientTokenTransaction: inside a transaction the token is the
// transaction's, and goes if it rolls back.
func testClientTokenTransaction(f *fixture) {
	c := f.createClient()
	undone := f.newClientToken(c)
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	f.must(f.s.CreateClientToken(tx, undone), "CreateClientToken in a transaction")
	got, err := f.s.GetToken(tx, store.KindAccessToken, undone.Signature)
	f.must(err, "GetToken in the transaction")
	f.equal("client token in its transaction", got, undone)
	f.must(f.s.Rollback(tx), "Rollback")
	f.wantTokenState(undone, "missing", "client token of a rolled-back transaction")
	_, err = f.s.GetGrant(f.ctx, undone.RequestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant of a rolled-back client token")

	done := f.newClientToken(c)
	tx, err = f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	f.must(f.s.CreateClientToken(tx, done), "CreateClientToken in a transaction")
	f.must(f.s.Commit(tx), "Commit")
	f.wantTokenState(done, "active", "client token of a committed transaction")
}

// testClientTokenDPoPProof: the proof is recorded with the token, as
// CreateToken records it; a used proof writes nothing.
func testClientTokenDPoPProof(f *fixture) {
	c := f.createClient()
	use := store.DPoPProofUse{JTIHash: proofDigest(), ExpiresAt: f.at(time.Minute), Now: f.now}
	first := f.newClientToken(c)
	first.DPoPProof = &use
	f.must(f.s.CreateClientToken(f.ctx, first), "CreateClientToken with a proof")
	got, err := f.s.GetToken(f.ctx, store.KindAccessToken, first.Signature)
	f.must(err, "GetToken")
	want := first
	want.DPoPProof = nil // write-only
	f.equal("client token with a proof", got, want)
	f.wantErr(f.s.UseDPoPProof(f.ctx, use.JTIHash, f.at(time.Minute), f.now), store.ErrConflict, "UseDPoPProof of the proof a client token recorded")

	second := f.newClientToken(c)
	second.DPoPProof = &use
	err = f.s.CreateClientToken(f.ctx, second)
	f.wantErr(err, store.ErrDPoPProofUsed, "CreateClientToken with a used proof")
	f.wantTokenState(second, "missing", "the refused client token")
	_, err = f.s.GetGrant(f.ctx, second.RequestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant of the refused client token")

	// Also through CreateToken: one replay record for both.
	third := f.clientToken()
	third.DPoPProof = &use
	f.wantErr(f.s.CreateToken(f.ctx, third), store.ErrDPoPProofUsed, "CreateToken with a proof a client token used")

	// A token refused for its client leaves the proof unrecorded.
	h := proofDigest()
	orphan := f.newClientToken(store.Client{ID: uniqueID("no-client")})
	orphan.DPoPProof = &store.DPoPProofUse{JTIHash: h, ExpiresAt: f.at(time.Minute), Now: f.now}
	f.wantErr(f.s.CreateClientToken(f.ctx, orphan), store.ErrNotFound, "CreateClientToken for a missing client")
	f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now), nil, "UseDPoPProof of the proof a refused client token carried")

	bad := f.newClientToken(c)
	bad.DPoPProof = &store.DPoPProofUse{JTIHash: []byte("short"), ExpiresAt: f.at(time.Minute), Now: f.now}
	if err := f.s.CreateClientToken(f.ctx, bad); err == nil {
		f.t.Errorf("CreateClientToken with a 5-byte proof digest succeeded")
	}
}

// testClientTokenDPoPProofConcurrent: of simultaneous client tokens carrying
// one proof (which a group commit may put in one batch), exactly one is
// stored.
func testClientTokenDPoPProofConcurrent(f *fixture) {
	c := f.createClient()
	use := store.DPoPProofUse{JTIHash: proofDigest(), ExpiresAt: f.at(time.Minute), Now: f.now}
	const n = 16
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = f.newClientToken(c)
		toks[i].DPoPProof = &use
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error { return f.s.CreateClientToken(ctx, toks[i]) })
	ok, used := f.countErrors("CreateClientToken with one proof", errs, store.ErrDPoPProofUsed)
	if ok != 1 || used != n-1 {
		f.t.Errorf("%d writes succeeded and %d were refused as used, want 1 and %d", ok, used, n-1)
	}
	stored := 0
	for _, tok := range toks {
		if f.tokenState(tok) != "missing" {
			stored++
		}
	}
	if stored != 1 {
		f.t.Errorf("%d client tokens stored, want 1", stored)
	}
}

// testClientTokenConcurrent: many simultaneous writes, one of them for a
// client that does not exist. Each good one is readable as soon as it
// returns; the bad one alone fails.
func testClientTokenConcurrent(f *fixture) {
	c := f.createClient()
	const n = 100
	const bad = 37
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = f.newClientToken(c)
	}
	toks[bad].ClientID = uniqueID("no-client")
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		if err := f.s.CreateClientToken(ctx, toks[i]); err != nil {
			return err
		}
		got, err := f.s.GetToken(ctx, store.KindAccessToken, toks[i].Signature)
		if err != nil {
			return fmt.Errorf("GetToken as CreateClientToken returned: %w", err)
		}
		if got.RequestID != toks[i].RequestID || !got.Active {
			return fmt.Errorf("GetToken as CreateClientToken returned: %+v", got)
		}
		return nil
	})
	ok, notFound := f.countErrors("CreateClientToken", errs, store.ErrNotFound)
	if ok != n-1 || notFound != 1 {
		f.t.Errorf("%d writes succeeded and %d were refused as not found, want %d and 1", ok, notFound, n-1)
	}
	f.wantErr(errs[bad], store.ErrNotFound, "CreateClientToken for a missing client among good ones")
}
