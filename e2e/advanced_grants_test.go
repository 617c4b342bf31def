package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

const (
	// parRequestURIPrefix is the request_uri prefix RFC 9126 section 2.2 registers.
	parRequestURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// clientAssertionTypeJWT is the client_assertion_type of private_key_jwt (RFC 7523 section 2.2).
	clientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// grantTypeJWTBearer is the RFC 7523 section 2.1 grant type.
	grantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// TestPushedAuthorizationRequest (RFC 9126): a confidential client pushes its
// parameters, PKCE included, and the browser carries only client_id and the
// request_uri; the request_uri works once; a push needs client
// authentication and a registered redirect URI.
func TestPushedAuthorizationRequest(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	browser := ts.newBrowser(t)

	// pushed builds a fresh request (state, nonce, PKCE verifier) whose
	// parameters only the back channel carries.
	pushed := func(t *testing.T) (authRequest, url.Values) {
		t.Helper()
		ar := authRequest{State: "st-" + randomHex(t, 8), Nonce: "n-" + randomHex(t, 8), Verifier: oauth2.GenerateVerifier()}
		return ar, url.Values{
			"response_type":         {"code"},
			"client_id":             {client.ID},
			"redirect_uri":          {client.RedirectURIs[0]},
			"scope":                 {"openid profile"},
			"state":                 {ar.State},
			"nonce":                 {ar.Nonce},
			"code_challenge":        {oauth2.S256ChallengeFromVerifier(ar.Verifier)},
			"code_challenge_method": {"S256"},
		}
	}
	// push sends params to the PAR endpoint and returns ar with the
	// front-channel URL that carries only client_id and request_uri.
	push := func(t *testing.T, ar authRequest, params url.Values) (authRequest, string) {
		t.Helper()
		pushedAt := time.Now()
		r := ts.post(t, "/oauth2/par", params, authOf(client))
		if r.Status != http.StatusCreated {
			t.Fatalf("PAR: status %d, want 201\n%s", r.Status, r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("PAR: Content-Type %q, want application/json", ct)
		}
		requestURI := r.str("request_uri")
		if !strings.HasPrefix(requestURI, parRequestURIPrefix) || len(requestURI) <= len(parRequestURIPrefix) {
			t.Fatalf("PAR: request_uri %q, want a value under %s", requestURI, parRequestURIPrefix)
		}
		expiresIn, ok := r.JSON["expires_in"].(float64)
		if !ok || expiresIn <= 0 || expiresIn > 600 {
			t.Errorf("PAR: expires_in %v, want a positive number of seconds, at most 600", r.JSON["expires_in"])
		}
		row, err := ts.Store.GetPARRequest(ctxT(t), requestURI)
		if err != nil {
			t.Fatalf("store: pushed request %s: %v", requestURI, err)
		}
		if row.ClientID != client.ID {
			t.Errorf("store: pushed request belongs to client %q, want %q", row.ClientID, client.ID)
		}
		wantExp := pushedAt.Add(time.Duration(expiresIn) * time.Second)
		if d := row.ExpiresAt.Sub(wantExp); d < -5*time.Second || d > 5*time.Second {
			t.Errorf("store: pushed request expires at %v, want about %v (expires_in %v)", row.ExpiresAt, wantExp, expiresIn)
		}
		ar.URL = ts.endpoint("/oauth2/auth?" + url.Values{"client_id": {client.ID}, "request_uri": {requestURI}}.Encode())
		return ar, requestURI
	}

	ar, params := pushed(t)
	ar, requestURI := push(t, ar, params)
	code, res := rp.code(t, browser, ar, &user)
	if !res.SawLogin || !res.SawConsent {
		t.Errorf("flow saw login %v, consent %v; want both for a new user", res.SawLogin, res.SawConsent)
	}
	if _, err := ts.Store.GetPARRequest(ctxT(t), requestURI); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("store: pushed request after its use: err %v, want ErrNotFound", err)
	}
	tok := rp.exchange(t, code, ar)
	idt := rp.verifyIDToken(t, tok, ar.Nonce)
	if idt.Subject != user.ID {
		t.Errorf("ID token sub = %q, want %q", idt.Subject, user.ID)
	}
	// The front channel named no scope: what was granted is what was pushed.
	if scope, _ := tok.Extra("scope").(string); !sameScopes(scope, "openid profile") {
		t.Errorf("granted scope %q, want the pushed openid profile", scope)
	}

	t.Run("request_uri used twice", func(t *testing.T) {
		for _, b := range []struct {
			name    string
			browser *http.Client
		}{{"signed in", browser}, {"signed out", httpClient()}} {
			pg := readPage(t, get(t, b.browser, ar.URL))
			// Without the pushed request the redirect URI is unknown, so
			// the server must answer with its own page, never redirect.
			if pg.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400\n%s", b.name, pg.Status, snippet(pg.Body))
			}
			if loc := pg.Header.Get("Location"); loc != "" {
				t.Errorf("%s: redirected to %q, want an error page", b.name, loc)
			}
			if ct := pg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q, want an HTML error page", b.name, ct)
			}
			if pg.Form("password") != nil || pg.FormWithButton("decision", "allow") != nil {
				t.Errorf("%s: a spent request_uri led to a login or consent page", b.name)
			}
		}
	})

	t.Run("pushed PKCE challenge is enforced", func(t *testing.T) {
		ar, params := pushed(t)
		ar, _ = push(t, ar, params)
		code, _ := rp.code(t, browser, ar, nil) // signed in, consent remembered
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {client.RedirectURIs[0]},
			"code_verifier": {oauth2.GenerateVerifier()}}
		r := ts.token(t, form, authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		if _, ok := r.JSON["access_token"]; ok {
			t.Fatalf("tokens issued for a verifier that does not match the pushed challenge")
		}
	})

	refused := []struct {
		name   string
		auth   clientAuth
		mutate func(url.Values)
		status int
		code   string
	}{
		{"no client authentication", clientAuth{ID: client.ID}, nil, http.StatusUnauthorized, "invalid_client"},
		{"wrong client secret", clientAuth{ID: client.ID, Secret: "wrong-" + client.Secret}, nil, http.StatusUnauthorized, "invalid_client"},
		{"unregistered redirect_uri", authOf(client), func(v url.Values) { v.Set("redirect_uri", "https://evil.example/callback") },
			http.StatusBadRequest, "invalid_request"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, params := pushed(t)
			if tc.mutate != nil {
				tc.mutate(params)
			}
			before := parRequestCount(t, client.ID)
			r := ts.post(t, "/oauth2/par", params, tc.auth)
			wantOAuthError(t, r, tc.status, tc.code)
			if _, ok := r.JSON["request_uri"]; ok {
				t.Errorf("a request_uri was issued: %s", r.Raw)
			}
			if after := parRequestCount(t, client.ID); after != before {
				t.Errorf("par_requests rows of the client: %d before, %d after; a refused push must store nothing", before, after)
			}
		})
	}
}

// TestPrivateKeyJWTClientAuthentication (RFC 7523 section 2.2, OIDC Core
// section 9): a client authenticates with a JWT signed by a key of its
// registered JWKS; each assertion works once and only for this server's
// token endpoint.
func TestPrivateKeyJWTClientAuthentication(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))
	key := newRSAKey(t)
	otherKey := newRSAKey(t)
	kid := "pk-" + randomHex(t, 4)

	id := "pkjwt-" + randomHex(t, 6)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}}})
	if err != nil {
		t.Fatalf("marshal JWKS: %v", err)
	}
	err = ts.Store.CreateClient(ctxT(t), store.Client{
		ID: id, Name: "Service " + id, TokenEndpointAuthMethod: "private_key_jwt", JWKS: jwks,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"},
	})
	if err != nil {
		t.Fatalf("create client %s: %v", id, err)
	}

	tokenURL := ts.endpoint("/oauth2/token")
	claims := func() jwt.Claims {
		now := time.Now()
		return jwt.Claims{
			Issuer: id, Subject: id, Audience: jwt.Audience{tokenURL}, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
		}
	}
	form := func(assertion string) url.Values {
		return url.Values{
			"grant_type": {"client_credentials"}, "scope": {"reports:read"},
			"client_assertion_type": {clientAssertionTypeJWT}, "client_assertion": {assertion},
		}
	}

	good := claims()
	assertion := signJWT(t, ts, jose.RS256, key, kid, good)
	r := ts.token(t, form(assertion), clientAuth{})
	if r.Status != http.StatusOK {
		t.Fatalf("private_key_jwt: status %d, want 200\n%s", r.Status, r.Raw)
	}
	at := r.str("access_token")
	ts.secret(at)
	if !strings.HasPrefix(at, "gh_at_") {
		t.Errorf("access token %.10q... lacks the gh_at_ prefix", at)
	}
	if r.str("scope") != "reports:read" {
		t.Errorf("scope = %q, want reports:read", r.str("scope"))
	}
	info := ts.introspect(t, at, rs)
	if info.JSON["active"] != true || info.str("client_id") != id || info.str("sub") != id || info.str("scope") != "reports:read" {
		t.Errorf("introspection: %s, want active, client_id and sub %q, scope reports:read", info.Raw, id)
	}

	// The jti is recorded until the assertion expires, so it cannot be
	// replayed for as long as it would otherwise be valid.
	exp, ok := jwtIDExpiresAt(t, good.ID)
	if !ok {
		t.Fatalf("jwt_ids: no row for the used jti")
	}
	if !exp.Equal(good.Expiry.Time()) {
		t.Errorf("jwt_ids: expires_at %v, want the assertion's exp %v", exp, good.Expiry.Time())
	}
	if used, err := ts.Store.IsJWTIDUsed(ctxT(t), good.ID, time.Now()); err != nil || !used {
		t.Errorf("store: IsJWTIDUsed = %v, %v; want true", used, err)
	}

	t.Run("replayed assertion", func(t *testing.T) {
		r := ts.token(t, form(assertion), clientAuth{})
		if _, ok := r.JSON["access_token"]; ok {
			t.Fatalf("a replayed client assertion was accepted")
		}
		// RFC 7523 section 3.2: an invalid client assertion is answered
		// with invalid_client; RFC 6749 section 5.2 gives it 401.
		if r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Errorf("got status %d error %q (%s), want 401 invalid_client (RFC 7523 section 3.2)", r.Status, r.str("error"), r.str("error_description"))
		}
	})

	refused := []struct {
		name    string
		key     *rsa.PrivateKey
		mutate  func(*jwt.Claims)
		burnJTI bool // whether the refused assertion's jti may be recorded
	}{
		{"signed by another key", otherKey, nil, false},
		{"audience is not the token endpoint", key, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://elsewhere.example/oauth2/token"} }, true},
		{"audience is the issuer, not the token endpoint", key, func(c *jwt.Claims) { c.Audience = jwt.Audience{ts.URL} }, true},
		{"expired", key, func(c *jwt.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-10 * time.Minute))
			c.Expiry = jwt.NewNumericDate(time.Now().Add(-5 * time.Minute))
		}, false},
		{"not yet valid (nbf in the future)", key, func(c *jwt.Claims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(30 * time.Minute))
		}, false},
		{"subject is another client", key, func(c *jwt.Claims) { c.Subject = "someone-else" }, false},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := claims()
			if tc.mutate != nil {
				tc.mutate(&c)
			}
			r := ts.token(t, form(signJWT(t, ts, jose.RS256, tc.key, kid, c)), clientAuth{})
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			if _, ok := r.JSON["access_token"]; ok {
				t.Fatalf("tokens issued for a refused assertion")
			}
			// Someone without the client's key must not be able to
			// fill the jti table.
			if _, recorded := jwtIDExpiresAt(t, c.ID); recorded && !tc.burnJTI {
				t.Errorf("jwt_ids: the refused assertion's jti was recorded")
			}
		})
	}

	t.Run("one assertion presented concurrently", func(t *testing.T) {
		a := signJWT(t, ts, jose.RS256, key, kid, claims())
		presentConcurrently(t, ts, 8, form(a), clientAuth{}, http.StatusUnauthorized, "invalid_client")
	})
}

// TestJWTBearerGrant (RFC 7523 section 2.1): a client exchanges an
// assertion of a trusted external issuer for an access token whose subject
// is the asserted one, within the scopes the trust relationship allows.
func TestJWTBearerGrant(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	kid := "partner-" + randomHex(t, 4)
	issuer := "https://partner-" + randomHex(t, 6) + ".example"
	subject := "partner-service"
	pub, err := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"})
	if err != nil {
		t.Fatalf("marshal JWK: %v", err)
	}
	err = ts.Store.CreateTrustedIssuer(ctxT(t), store.TrustedIssuer{
		ID: uuid.NewString(), Issuer: issuer, Subject: subject, KeyID: kid, PublicKey: pub,
		Scopes: []string{"reports:read"}, ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now(),
	})
	if err != nil {
		t.Fatalf("create trusted issuer: %v", err)
	}
	// The client may ask for more than the issuer is trusted with: the
	// trust relationship must be what limits the assertion.
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
		c.GrantTypes = []string{grantTypeJWTBearer}
		c.Scopes = []string{"reports:read", "reports:write"}
	})

	tokenURL := ts.endpoint("/oauth2/token")
	claims := func() jwt.Claims {
		now := time.Now()
		return jwt.Claims{
			Issuer: issuer, Subject: subject, Audience: jwt.Audience{tokenURL}, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(5 * time.Minute)),
		}
	}
	form := func(assertion, scope string) url.Values {
		return url.Values{"grant_type": {grantTypeJWTBearer}, "assertion": {assertion}, "scope": {scope}}
	}

	good := claims()
	assertion := signJWT(t, ts, jose.ES256, key, kid, good)
	r := ts.token(t, form(assertion, "reports:read"), authOf(client))
	if r.Status != http.StatusOK {
		t.Fatalf("jwt-bearer: status %d, want 200\n%s", r.Status, r.Raw)
	}
	at := r.str("access_token")
	ts.secret(at)
	if !strings.HasPrefix(at, "gh_at_") {
		t.Errorf("access token %.10q... lacks the gh_at_ prefix", at)
	}
	if r.str("scope") != "reports:read" {
		t.Errorf("scope = %q, want reports:read", r.str("scope"))
	}
	if _, ok := r.JSON["refresh_token"]; ok {
		t.Errorf("jwt-bearer response carries a refresh token; a new assertion is the way to a new token")
	}
	info := ts.introspect(t, at, rs)
	if info.JSON["active"] != true || info.str("sub") != subject || info.str("scope") != "reports:read" || info.str("client_id") != client.ID {
		t.Errorf("introspection: %s, want active, sub %q, scope reports:read, client_id %q", info.Raw, subject, client.ID)
	}
	row := ts.storedToken(t, store.KindAccessToken, at, "gh_at_")
	if row.Subject != subject || row.UserID != "" || row.ClientID != client.ID {
		t.Errorf("stored token: subject %q user %q client %q, want subject %q, no user, client %q", row.Subject, row.UserID, row.ClientID, subject, client.ID)
	}
	if exp, ok := jwtIDExpiresAt(t, good.ID); !ok {
		t.Errorf("jwt_ids: no row for the used jti")
	} else if !exp.Equal(good.Expiry.Time()) {
		t.Errorf("jwt_ids: expires_at %v, want the assertion's exp %v", exp, good.Expiry.Time())
	}

	t.Run("replayed assertion", func(t *testing.T) {
		r := ts.token(t, form(assertion, "reports:read"), authOf(client))
		if _, ok := r.JSON["access_token"]; ok {
			t.Fatalf("a replayed assertion was accepted")
		}
		// RFC 7523 section 3.1: an invalid assertion is answered with
		// invalid_grant.
		if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("got status %d error %q (%s), want 400 invalid_grant (RFC 7523 section 3.1)", r.Status, r.str("error"), r.str("error_description"))
		}
	})

	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	refused := []struct {
		name   string
		key    *ecdsa.PrivateKey
		mutate func(*jwt.Claims)
		scope  string
		code   string
	}{
		{"unknown issuer", key, func(c *jwt.Claims) { c.Issuer = "https://unknown-" + randomHex(t, 4) + ".example" }, "reports:read", "invalid_grant"},
		{"subject the issuer may not assert", key, func(c *jwt.Claims) { c.Subject = "someone-else" }, "reports:read", "invalid_grant"},
		{"signed by another key", otherKey, nil, "reports:read", "invalid_grant"},
		{"audience is not the token endpoint", key, func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://elsewhere.example/token"} }, "reports:read", "invalid_grant"},
		{"expired", key, func(c *jwt.Claims) {
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-10 * time.Minute))
			c.Expiry = jwt.NewNumericDate(time.Now().Add(-5 * time.Minute))
		}, "reports:read", "invalid_grant"},
		{"scope the issuer is not trusted with", key, nil, "reports:write", "invalid_scope"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := claims()
			if tc.mutate != nil {
				tc.mutate(&c)
			}
			r := ts.token(t, form(signJWT(t, ts, jose.ES256, tc.key, kid, c), tc.scope), authOf(client))
			wantOAuthError(t, r, http.StatusBadRequest, tc.code)
			if _, ok := r.JSON["access_token"]; ok {
				t.Fatalf("tokens issued for a refused assertion")
			}
		})
	}

	t.Run("one assertion presented concurrently", func(t *testing.T) {
		a := signJWT(t, ts, jose.ES256, key, kid, claims())
		presentConcurrently(t, ts, 8, form(a, "reports:read"), authOf(client), http.StatusBadRequest, "invalid_grant")
	})
}

// presentConcurrently sends form to the token endpoint n times at once and
// fails unless exactly one request gets tokens and every other gets the
// OAuth error status/code: a jti is single-use however the requests
// interleave, and losing the race is a refused assertion, not a server
// error.
func presentConcurrently(t *testing.T, ts *testServer, n int, form url.Values, auth clientAuth, status int, code string) {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = ts.newFormRequest(t, "/oauth2/token", form, auth)
	}
	results := make([]oauthResponse, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = doJSONNoFatal(httpClient(), reqs[i])
		}()
	}
	close(start)
	wg.Wait()

	succeeded := 0
	other := map[string]int{}
	for _, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("concurrent request: %v", r.Err)
		case r.Status == http.StatusOK:
			succeeded++
			ts.secret(r.str("access_token"))
		case r.Status != status || r.str("error") != code:
			other[fmt.Sprintf("%d %s", r.Status, r.str("error"))]++
		}
	}
	if succeeded != 1 {
		t.Errorf("%d of %d concurrent presentations of one assertion got tokens, want exactly 1", succeeded, n)
	}
	if len(other) > 0 {
		t.Errorf("the refused concurrent presentations got %v, want every one %d %s", other, status, code)
	}
}

// signJWT signs claims as a compact JWS with key under kid, and registers
// the result as a value the server must never log (it is a credential
// until it expires).
func signJWT(t *testing.T, ts *testServer, alg jose.SignatureAlgorithm, key any, kid string, claims jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign JWT: %v", err)
	}
	ts.secret(raw)
	return raw
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	return k
}

// sameScopes compares two space-separated scope strings as sets.
func sameScopes(a, b string) bool {
	as, bs := strings.Fields(a), strings.Fields(b)
	if len(as) != len(bs) {
		return false
	}
	for _, s := range as {
		if !contains(bs, s) {
			return false
		}
	}
	return true
}

// dbConn is a direct connection to the package's database, for checking
// rows the store contract does not expose.
func dbConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctxT(t), databaseURL(t))
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() {
		// The test's context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// jwtIDExpiresAt reads the jwt_ids row of jti.
func jwtIDExpiresAt(t *testing.T, jti string) (time.Time, bool) {
	t.Helper()
	var exp time.Time
	err := dbConn(t).QueryRow(ctxT(t), `SELECT expires_at FROM jwt_ids WHERE jti = $1`, jti).Scan(&exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false
	}
	if err != nil {
		t.Fatalf("query jwt_ids: %v", err)
	}
	return exp, true
}

// parRequestCount counts the stored pushed requests of a client.
func parRequestCount(t *testing.T, clientID string) int {
	t.Helper()
	var n int
	if err := dbConn(t).QueryRow(ctxT(t), `SELECT count(*) FROM par_requests WHERE client_id = $1`, clientID).Scan(&n); err != nil {
		t.Fatalf("count par_requests: %v", err)
	}
	return n
}
