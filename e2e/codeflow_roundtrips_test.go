package e2e

import (
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// The code flow's budgets of round trips to PostgreSQL for a browser with
// a login session (provider/codeflow.go), counted as TestRefreshRoundTrips
// counts them. The authorize endpoint: the login session, its user and
// the remembered consent read in one batch (store.SessionReads; they were
// three round trips), then the code with its PKCE and OpenID Connect
// records in one write (it was BEGIN, three INSERTs and COMMIT). The token
// endpoint: BEGIN, the code (locked) with both records and the grant's
// user, the redemption as one statement, COMMIT (it was twelve). Twenty
// in all before, six now.
const (
	maxAuthorizeRoundTrips = 2
	maxCodeTokenRoundTrips = 4
)

func TestCodeFlowRoundTrips(t *testing.T) {
	t.Parallel()
	proxy, ts := startCountedServer(t)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	rs := authOf(ts.resourceServer(t))
	_, _, browser := rp.signIn(t, user)

	// Warm-up: the caches and the pool's prepared statements.
	for range 3 {
		ar := rp.newAuthRequest(t, false)
		code, _ := rp.code(t, browser, ar, nil)
		rp.exchange(t, code, ar)
	}
	for i := range 3 {
		ar := rp.newAuthRequest(t, false)
		proxy.reset()
		code, res := rp.code(t, browser, ar, nil)
		pool, listener, log := proxy.counts()
		if res.SawLogin || res.SawConsent {
			t.Fatalf("flow %d: the signed-in browser saw the login or consent page", i)
		}
		t.Logf("flow %d: authorize, %d round trips (%d on the listener)\n%s", i, pool+listener, listener, log)
		if pool+listener > maxAuthorizeRoundTrips {
			t.Errorf("flow %d: the authorize endpoint took %d round trips, want at most %d:\n%s", i, pool+listener, maxAuthorizeRoundTrips, log)
		}

		proxy.reset()
		tok := rp.exchange(t, code, ar)
		pool, listener, log = proxy.counts()
		t.Logf("flow %d: token, %d round trips (%d on the listener)\n%s", i, pool+listener, listener, log)
		if pool+listener > maxCodeTokenRoundTrips {
			t.Errorf("flow %d: the token endpoint took %d round trips, want at most %d:\n%s", i, pool+listener, maxCodeTokenRoundTrips, log)
		}

		// Everything a redemption did: a verified ID token (go-oidc,
		// nonce and at_hash included), live tokens, a spent code.
		rp.verifyIDToken(t, tok, ar.Nonce)
		if !ts.isActive(t, tok.AccessToken, rs) || !ts.isActive(t, tok.RefreshToken, rs) {
			t.Errorf("flow %d: the tokens of the redemption are not active", i)
		}
		_, err := rp.OAuth2.Exchange(ctxT(t), code, oauth2.VerifierOption(ar.Verifier))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
			t.Fatalf("flow %d: the code redeemed again: %v, want invalid_grant", i, err)
		}
		// Its reuse revokes what the first redemption issued (RFC 6749
		// §4.1.2).
		if ts.isActive(t, tok.AccessToken, rs) || ts.isActive(t, tok.RefreshToken, rs) {
			t.Errorf("flow %d: the code's reuse left its tokens active", i)
		}
	}
}
