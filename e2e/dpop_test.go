package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/dpoptest"
	"github.com/gatehouse/gatehouse/store"
)

// DPoP (RFC 9449) end to end: tokens bound to a client's key at the token
// endpoint, and presented with fresh proofs at the resource API and
// userinfo, on one instance and across two.

// base is where ts listens, with its issuer's path; a server started with
// another instance's issuer (startSameIssuer) names itself by that issuer
// but listens here.
func base(ts *testServer) string {
	u, err := url.Parse(ts.Config.Issuer)
	if err != nil {
		panic(err)
	}
	return "http://" + ts.Config.Addr + u.Path
}

// dpopTokenRequest posts form to ts's token endpoint (at its own address)
// with the DPoP header proof (none if empty).
func dpopTokenRequest(t *testing.T, ts *testServer, form url.Values, auth clientAuth, proof string) oauthResponse {
	t.Helper()
	req := ts.newFormRequest(t, "/oauth2/token", form, auth)
	u, err := url.Parse(base(ts) + "/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	req.URL, req.Host = u, u.Host
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	r := doJSON(t, httpClient(), req)
	ts.secret(r.str("access_token"), r.str("refresh_token"))
	return r
}

// ccDPoP asks ts for a client_credentials token with a proof of key k.
func ccDPoP(t *testing.T, ts *testServer, auth clientAuth, scope string, k *dpoptest.Key) oauthResponse {
	t.Helper()
	return dpopTokenRequest(t, ts, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, auth,
		k.Proof(http.MethodPost, ts.URL+"/oauth2/token", ""))
}

// presentAt calls path on ts (at its own address) with "Authorization:
// <scheme> <token>" and the DPoP header proof (none if empty).
func presentAt(t *testing.T, ts *testServer, method, path, scheme, token, proof string) oauthResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, base(ts)+path, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	return doJSON(t, httpClient(), req)
}

// wantDPoPChallenge fails unless r is a 401 whose WWW-Authenticate is a
// DPoP challenge with error code and the accepted algorithms.
func wantDPoPChallenge(t *testing.T, r oauthResponse, code string) {
	t.Helper()
	h := r.Header.Get("WWW-Authenticate")
	if r.Status != http.StatusUnauthorized || !strings.HasPrefix(h, `DPoP error="`+code+`"`) || !strings.Contains(h, `algs="ES256 RS256 PS256 EdDSA"`) {
		t.Fatalf("got %d WWW-Authenticate %q (%s), want 401 with a DPoP %s challenge naming the algorithms", r.Status, h, snippet(r.Raw), code)
	}
}

func TestDPoPClientCredentials(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))
	svc := ts.serviceClient(t, []string{"gatehouse:api"}, "admin")
	key, other := dpoptest.MustES256(), dpoptest.MustES256()
	const api = "/api/v1/users"
	apiURL := ts.URL + api

	tok := ccDPoP(t, ts, authOf(svc), "gatehouse:api", key)
	if tok.Status != http.StatusOK || tok.str("token_type") != "DPoP" {
		t.Fatalf("token with a proof: %d %s, want 200 and token_type DPoP", tok.Status, tok.Raw)
	}
	at := tok.str("access_token")

	t.Run("introspection shows the binding", func(t *testing.T) {
		in := ts.introspect(t, at, rs)
		cnf, _ := in.JSON["cnf"].(map[string]any)
		if in.JSON["active"] != true || cnf["jkt"] != key.JKT() || in.str("token_type") != "DPoP" {
			t.Fatalf("introspection %s, want active with cnf.jkt %s and token_type DPoP", in.Raw, key.JKT())
		}
		stored := ts.storedToken(t, store.KindAccessToken, at, "gh_at_")
		if !strings.Contains(string(stored.Request), key.JKT()) {
			t.Errorf("stored request does not hold the key's thumbprint")
		}
	})

	t.Run("resource API accepts it with a fresh proof", func(t *testing.T) {
		for i := range 2 {
			if r := presentAt(t, ts, http.MethodGet, api+"?limit=1", "DPoP", at, key.Proof(http.MethodGet, apiURL, at)); r.Status != http.StatusOK {
				t.Fatalf("call %d with a proof: %d %s", i, r.Status, r.Raw)
			}
		}
	})

	t.Run("refused as a bearer token", func(t *testing.T) {
		wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, api, "Bearer", at, ""), "invalid_token")
		// A proof alongside does not make a bearer presentation good.
		wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, api, "Bearer", at, key.Proof(http.MethodGet, apiURL, at)), "invalid_token")
	})

	bad := []struct {
		name  string
		proof string
	}{
		{"no proof", ""},
		{"another key", other.Proof(http.MethodGet, apiURL, at)},
		{"another URL", key.Proof(http.MethodGet, ts.URL+"/api/v1/roles", at)},
		{"another method", key.Proof(http.MethodPost, apiURL, at)},
		{"an old iat", key.Sign(dpoptest.Claims{Method: http.MethodGet, URL: apiURL, AccessToken: at, IssuedAt: time.Now().Add(-10 * time.Minute)})},
		{"a wrong ath", key.Proof(http.MethodGet, apiURL, "gh_at_another.token")},
		{"no ath", key.Proof(http.MethodGet, apiURL, "")},
		{"alg none", key.SignNone(dpoptest.Claims{Method: http.MethodGet, URL: apiURL, AccessToken: at})},
		{"the private key in jwk", key.SignWithPrivateJWK(dpoptest.Claims{Method: http.MethodGet, URL: apiURL, AccessToken: at})},
	}
	for _, tc := range bad {
		t.Run("refused with "+tc.name, func(t *testing.T) {
			wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, api, "DPoP", at, tc.proof), "invalid_dpop_proof")
		})
	}

	t.Run("refused with a replayed proof", func(t *testing.T) {
		proof := key.Proof(http.MethodGet, apiURL, at)
		if r := presentAt(t, ts, http.MethodGet, api, "DPoP", at, proof); r.Status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.Status, r.Raw)
		}
		wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, api, "DPoP", at, proof), "invalid_dpop_proof")
	})

	t.Run("unbound tokens stay bearer tokens", func(t *testing.T) {
		plain := ts.ccToken(t, authOf(svc), "gatehouse:api")
		if plain.Status != http.StatusOK || !strings.EqualFold(plain.str("token_type"), "bearer") {
			t.Fatalf("token without a proof: %d %s, want a bearer token", plain.Status, plain.Raw)
		}
		pt := plain.str("access_token")
		if r := presentAt(t, ts, http.MethodGet, api, "Bearer", pt, ""); r.Status != http.StatusOK {
			t.Fatalf("unbound token as Bearer: %d %s", r.Status, r.Raw)
		}
		wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, api, "DPoP", pt, key.Proof(http.MethodGet, apiURL, pt)), "invalid_token")
		if in := ts.introspect(t, pt, rs); in.JSON["cnf"] != nil || in.JSON["token_type"] != nil {
			t.Errorf("introspection of a bearer token %s has cnf or token_type", in.Raw)
		}
	})

	t.Run("bad proofs at the token endpoint", func(t *testing.T) {
		tokenURL := ts.URL + "/oauth2/token"
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}
		used := key.Proof(http.MethodPost, tokenURL, "")
		if r := dpopTokenRequest(t, ts, form, authOf(svc), used); r.Status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.Status, r.Raw)
		}
		for _, tc := range []struct{ name, proof string }{
			{"replayed", used},
			{"another URL", key.Proof(http.MethodPost, ts.URL+"/oauth2/revoke", "")},
			{"another method", key.Proof(http.MethodGet, tokenURL, "")},
			{"an old iat", key.Sign(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL, IssuedAt: time.Now().Add(-2 * time.Minute)})},
			{"HS256", key.SignHS256(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL}, []byte(strings.Repeat("k", 32)))},
			{"not a JWT", "garbage"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantOAuthError(t, dpopTokenRequest(t, ts, form, authOf(svc), tc.proof), http.StatusBadRequest, "invalid_dpop_proof")
			})
		}
	})

	t.Run("htu is the issuer's, not the Host header's", func(t *testing.T) {
		send := func(htu string) oauthResponse {
			req := ts.newFormRequest(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}, authOf(svc))
			req.Host = "attacker.example"
			req.Header.Set("DPoP", key.Proof(http.MethodPost, htu, ""))
			r := doJSON(t, httpClient(), req)
			ts.secret(r.str("access_token"))
			return r
		}
		wantOAuthError(t, send("http://attacker.example/oauth2/token"), http.StatusBadRequest, "invalid_dpop_proof")
		if r := send(ts.URL + "/oauth2/token"); r.Status != http.StatusOK {
			t.Fatalf("proof for the issuer's URL under another Host: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("JWT access tokens carry cnf.jkt", func(t *testing.T) {
		jwtSvc := ts.createConfidentialClient(t, func(c *store.Client) {
			c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
			c.GrantTypes, c.Scopes, c.Roles = []string{"client_credentials"}, []string{"gatehouse:api"}, []string{"admin"}
			c.AccessTokenFormat = store.FormatJWT
		})
		r := ccDPoP(t, ts, authOf(jwtSvc), "gatehouse:api", key)
		if r.Status != http.StatusOK || r.str("token_type") != "DPoP" {
			t.Fatalf("JWT token with a proof: %d %s", r.Status, r.Raw)
		}
		jat := r.str("access_token")
		claims := decodeJWTPart(t, jat, 1)
		if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != key.JKT() {
			t.Fatalf("JWT access token claims %v, want cnf.jkt %s", claims, key.JKT())
		}
		if p := presentAt(t, ts, http.MethodGet, api, "DPoP", jat, key.Proof(http.MethodGet, apiURL, jat)); p.Status != http.StatusOK {
			t.Fatalf("JWT access token with a proof: %d %s", p.Status, p.Raw)
		}
		wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, api, "Bearer", jat, ""), "invalid_token")
	})

	t.Run("discovery lists the algorithms", func(t *testing.T) {
		d := getJSON(t, ts.endpoint("/.well-known/openid-configuration"))
		algs, _ := d.JSON["dpop_signing_alg_values_supported"].([]any)
		if len(algs) != 4 || algs[0] != "ES256" {
			t.Fatalf("dpop_signing_alg_values_supported = %v", d.JSON["dpop_signing_alg_values_supported"])
		}
	})
}

// TestDPoPBoundClient: a client registered with dpop_bound_access_tokens
// gets no token without a proof.
func TestDPoPBoundClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	svc := ts.createConfidentialClient(t, func(c *store.Client) {
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
		c.GrantTypes, c.Scopes = []string{"client_credentials"}, []string{"api:read"}
		c.DPoPBoundAccessTokens = true
	})
	r := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, authOf(svc))
	ts.secret(r.str("access_token"))
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	if r := ccDPoP(t, ts, authOf(svc), "api:read", dpoptest.MustES256()); r.Status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("with a proof: %d %s", r.Status, r.Raw)
	}
}

// TestDPoPPublicClientRefresh: a public client's code exchanged with a
// proof gives a bound access token and a bound refresh token, which is
// redeemed only with a proof of the same key; userinfo wants the DPoP
// scheme.
func TestDPoPPublicClientRefresh(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	spa := ts.createPublicClient(t, nil)
	rp := ts.newRP(t, spa)
	key, other := dpoptest.MustES256(), dpoptest.MustES256()
	tokenURL := ts.URL + "/oauth2/token"

	ar := rp.newAuthRequest(t, false)
	code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
	tok := dpopTokenRequest(t, ts, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spa.RedirectURIs[0]}, "code_verifier": {ar.Verifier},
	}, clientAuth{ID: spa.ID}, key.Proof(http.MethodPost, tokenURL, ""))
	if tok.Status != http.StatusOK || tok.str("token_type") != "DPoP" || tok.str("refresh_token") == "" {
		t.Fatalf("code exchange with a proof: %d %s", tok.Status, tok.Raw)
	}
	at, rt := tok.str("access_token"), tok.str("refresh_token")

	userinfoURL := ts.URL + "/oauth2/userinfo"
	if r := presentAt(t, ts, http.MethodGet, "/oauth2/userinfo", "DPoP", at, key.Proof(http.MethodGet, userinfoURL, at)); r.Status != http.StatusOK || r.str("sub") != user.ID {
		t.Fatalf("userinfo with a proof: %d %s", r.Status, r.Raw)
	}
	wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, "/oauth2/userinfo", "Bearer", at, ""), "invalid_token")
	wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, "/oauth2/userinfo", "DPoP", at, other.Proof(http.MethodGet, userinfoURL, at)), "invalid_dpop_proof")

	refresh := func(proof string) oauthResponse {
		return dpopTokenRequest(t, ts, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, clientAuth{ID: spa.ID}, proof)
	}
	wantOAuthError(t, refresh(""), http.StatusBadRequest, "invalid_dpop_proof")
	wantOAuthError(t, refresh(other.Proof(http.MethodPost, tokenURL, "")), http.StatusBadRequest, "invalid_dpop_proof")
	// The refusals rotated nothing: the key's holder still refreshes.
	r := refresh(key.Proof(http.MethodPost, tokenURL, ""))
	if r.Status != http.StatusOK || r.str("token_type") != "DPoP" || r.str("refresh_token") == "" || r.str("refresh_token") == rt {
		t.Fatalf("refresh with the key: %d %s", r.Status, r.Raw)
	}
	in := ts.introspect(t, r.str("access_token"), authOf(ts.resourceServer(t)))
	if cnf, _ := in.JSON["cnf"].(map[string]any); cnf["jkt"] != key.JKT() {
		t.Fatalf("refreshed access token introspects as %s, want cnf.jkt %s", in.Raw, key.JKT())
	}
	// The new refresh token is bound as the old one was.
	rt = r.str("refresh_token")
	wantOAuthError(t, refresh(""), http.StatusBadRequest, "invalid_dpop_proof")
}

// TestDPoPConfidentialRefresh: a confidential client's refresh token is
// bound by the client's authentication, not to a key; each refresh's
// access token follows that request's proof.
func TestDPoPConfidentialRefresh(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	tok, _, _ := rp.signIn(t, user)
	key := dpoptest.MustES256()
	r := dpopTokenRequest(t, ts, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, authOf(client),
		key.Proof(http.MethodPost, ts.URL+"/oauth2/token", ""))
	if r.Status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("refresh with a proof: %d %s", r.Status, r.Raw)
	}
	r = dpopTokenRequest(t, ts, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, authOf(client), "")
	if r.Status != http.StatusOK || !strings.EqualFold(r.str("token_type"), "bearer") {
		t.Fatalf("refresh without a proof: %d %s, want a bearer token", r.Status, r.Raw)
	}
	if got := ts.userinfo(t, r.str("access_token")); got.Status != http.StatusOK {
		t.Fatalf("userinfo with the bearer token: %d %s", got.Status, got.Raw)
	}
}

// startSameIssuer starts a second instance over a's database that names
// itself by a's issuer, as two instances behind one load balancer do.
func startSameIssuer(t *testing.T, a *testServer, mutate func(*config.Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *config.Config) {
		c.Issuer = a.URL
		if mutate != nil {
			mutate(c)
		}
	})
}

// TestDPoPAcrossInstances: a proof used at one instance is refused at the
// other (the replay record is in the shared database), and a nonce one
// instance hands out is accepted by the other (both derive it from the
// shared secret).
func TestDPoPAcrossInstances(t *testing.T) {
	t.Parallel()
	a := startServer(t, func(c *config.Config) { c.DPoP.RequireNonce = true })
	b := startSameIssuer(t, a, func(c *config.Config) { c.DPoP.RequireNonce = true })
	svc := a.serviceClient(t, []string{"gatehouse:api"}, "admin")
	key := dpoptest.MustES256()
	tokenURL := a.URL + "/oauth2/token"
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}

	// The nonce flow: refused with use_dpop_nonce and a nonce, then
	// accepted with it, at the other instance.
	first := dpopTokenRequest(t, a, form, authOf(svc), key.Proof(http.MethodPost, tokenURL, ""))
	wantOAuthError(t, first, http.StatusBadRequest, "use_dpop_nonce")
	nonce := first.Header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	stale := key.Sign(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL, Nonce: "not-the-nonce"})
	wantOAuthError(t, dpopTokenRequest(t, b, form, authOf(svc), stale), http.StatusBadRequest, "use_dpop_nonce")

	proof := key.Sign(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL, Nonce: nonce})
	tok := dpopTokenRequest(t, b, form, authOf(svc), proof)
	if tok.Status != http.StatusOK || tok.str("token_type") != "DPoP" {
		t.Fatalf("token at B with A's nonce: %d %s", tok.Status, tok.Raw)
	}
	if tok.Header.Get("DPoP-Nonce") == "" {
		t.Error("no fresh DPoP-Nonce on the success")
	}

	t.Run("token endpoint proof replayed at the other instance", func(t *testing.T) {
		wantOAuthError(t, dpopTokenRequest(t, a, form, authOf(svc), proof), http.StatusBadRequest, "invalid_dpop_proof")
	})

	t.Run("resource proof replayed at the other instance", func(t *testing.T) {
		at := tok.str("access_token")
		const api = "/api/v1/users"
		p := key.Proof(http.MethodGet, a.URL+api, at)
		if r := presentAt(t, a, http.MethodGet, api, "DPoP", at, p); r.Status != http.StatusOK {
			t.Fatalf("first use at A: %d %s", r.Status, r.Raw)
		}
		wantDPoPChallenge(t, presentAt(t, b, http.MethodGet, api, "DPoP", at, p), "invalid_dpop_proof")
		// B takes a fresh proof: the refusal was the replay.
		if r := presentAt(t, b, http.MethodGet, api, "DPoP", at, key.Proof(http.MethodGet, a.URL+api, at)); r.Status != http.StatusOK {
			t.Fatalf("fresh proof at B: %d %s", r.Status, r.Raw)
		}
	})
}

// TestDPoPIssuerWithPath: with an issuer under a path, htu is the issuer's
// URL of the endpoint, path included, at the token endpoint and the API.
func TestDPoPIssuerWithPath(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.Issuer += "/auth" })
	svc := ts.serviceClient(t, []string{"gatehouse:api"}, "admin")
	key := dpoptest.MustES256()
	tok := ccDPoP(t, ts, authOf(svc), "gatehouse:api", key)
	if tok.Status != http.StatusOK || tok.str("token_type") != "DPoP" {
		t.Fatalf("token under /auth: %d %s", tok.Status, tok.Raw)
	}
	at := tok.str("access_token")
	if r := presentAt(t, ts, http.MethodGet, "/api/v1/users", "DPoP", at, key.Proof(http.MethodGet, ts.URL+"/api/v1/users", at)); r.Status != http.StatusOK {
		t.Fatalf("API under /auth with a proof: %d %s", r.Status, r.Raw)
	}
	// The URL without the issuer's path is another URL.
	origin := strings.TrimSuffix(ts.URL, "/auth")
	wantDPoPChallenge(t, presentAt(t, ts, http.MethodGet, "/api/v1/users", "DPoP", at, key.Proof(http.MethodGet, origin+"/api/v1/users", at)), "invalid_dpop_proof")
	wantOAuthError(t, dpopTokenRequest(t, ts, url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}, authOf(svc),
		key.Proof(http.MethodPost, origin+"/oauth2/token", "")), http.StatusBadRequest, "invalid_dpop_proof")
}

// TestDPoPAuthorizationCodeBinding: a code whose authorization request
// named dpop_jkt (RFC 9449 §10) is redeemed only with a proof of that key.
func TestDPoPAuthorizationCodeBinding(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	spa := ts.createPublicClient(t, nil)
	rp := ts.newRP(t, spa)
	key, other := dpoptest.MustES256(), dpoptest.MustES256()
	tokenURL := ts.URL + "/oauth2/token"
	browser := ts.newBrowser(t)

	ar := rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("dpop_jkt", key.JKT()))
	code, _ := rp.code(t, browser, ar, &user)
	exchange := func(proof string) oauthResponse {
		return dpopTokenRequest(t, ts, url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {spa.RedirectURIs[0]}, "code_verifier": {ar.Verifier},
		}, clientAuth{ID: spa.ID}, proof)
	}
	wantOAuthError(t, exchange(""), http.StatusBadRequest, "invalid_dpop_proof")
	wantOAuthError(t, exchange(other.Proof(http.MethodPost, tokenURL, "")), http.StatusBadRequest, "invalid_dpop_proof")
	// The refusals did not spend the code.
	if r := exchange(key.Proof(http.MethodPost, tokenURL, "")); r.Status != http.StatusOK || r.str("token_type") != "DPoP" {
		t.Fatalf("exchange with the named key: %d %s", r.Status, r.Raw)
	}

	// Without dpop_jkt the code is not bound: any key, or none.
	ar = rp.newAuthRequest(t, false)
	code, _ = rp.code(t, browser, ar, nil)
	if r := exchange(""); r.Status != http.StatusOK || !strings.EqualFold(r.str("token_type"), "bearer") {
		t.Fatalf("exchange of an unbound code without a proof: %d %s", r.Status, r.Raw)
	}
}
