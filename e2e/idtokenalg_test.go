package e2e

import (
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// TestIDTokenAlgorithmsPerClient: in one server, a client registered with
// id_token_signed_response_alg ES256 gets ES256 ID tokens and a client that
// says nothing gets RS256 (the OIDC default); a real go-oidc relying party
// verifies both against the one JWKS, which publishes every key with its
// alg and kid; discovery lists exactly the algorithms with an active key;
// the ES256 client's JWT access token keeps the server default key; and a
// rotation rotates both algorithms, old tokens of each still verifying.
//
// Not parallel: it rotates the keys of the package's shared database (see
// TestKeyRotation).
func TestIDTokenAlgorithmsPerClient(t *testing.T) {
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	esClient := ts.createConfidentialClient(t, func(c *store.Client) {
		c.IDTokenSignedResponseAlg = "ES256"
		c.AccessTokenFormat = store.FormatJWT
	})
	rsClient := ts.createConfidentialClient(t, nil)

	// Discovery offers exactly the algorithms that have an active key.
	doc := getJSON(t, ts.endpoint("/.well-known/openid-configuration"))
	var offered []string
	for _, v := range doc.JSON["id_token_signing_alg_values_supported"].([]any) {
		offered = append(offered, v.(string))
	}
	rows, err := ts.Store.ListSigningKeys(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var activeAlgs []string
	for _, r := range rows {
		if r.State == store.KeyActive {
			activeAlgs = append(activeAlgs, r.Algorithm)
		}
	}
	if !slices.Equal(offered, []string{"RS256", "ES256"}) || !slices.Equal(sortedCopy(offered), sortedCopy(activeAlgs)) {
		t.Fatalf("discovery offers %v; active keys are of %v; want exactly [RS256 ES256]", offered, activeAlgs)
	}

	signIn := func(c testClient, wantAlg string) (raw string, kid string) {
		t.Helper()
		rp := ts.newRP(t, c)
		tok, _, _ := rp.signIn(t, user) // go-oidc verifies the ID token against the JWKS
		raw, _ = tok.Extra("id_token").(string)
		h := decodeJWTPart(t, raw, 0)
		kid, _ = h["kid"].(string)
		if h["alg"] != wantAlg || kid == "" {
			t.Fatalf("client %s: ID token header %v, want alg %s with a kid", c.ID, h, wantAlg)
		}
		set := fetchJWKS(t, ts)
		if ks := set.Key(kid); len(ks) != 1 || ks[0].Algorithm != wantAlg || ks[0].Use != "sig" {
			t.Fatalf("client %s: JWKS entry of kid %s: %+v, want one %s signing key", c.ID, kid, ks, wantAlg)
		}
		if c.AccessTokenFormat == store.FormatJWT {
			at := decodeJWTPart(t, tok.AccessToken, 0)
			if at["alg"] != "RS256" {
				t.Errorf("client %s: JWT access token alg %v, want the server default RS256", c.ID, at["alg"])
			}
			verifyJWTAccessToken(t, ts, set, tok.AccessToken)
		}
		return raw, kid
	}
	esRaw, esKid := signIn(esClient, "ES256")
	rsRaw, rsKid := signIn(rsClient, "RS256")

	ks, err := ts.Server.Keys().Rotate(ctxT(t))
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if ks.Algorithm != "RS256" {
		t.Errorf("Rotate returned the %s key, want the default RS256", ks.Algorithm)
	}
	rows, err = ts.Store.ListSigningKeys(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]store.KeyState{}
	live := map[string]int{}
	for _, r := range rows {
		state[r.ID] = r.State
		if r.State == store.KeyActive {
			live[r.Algorithm]++
		}
	}
	if state[esKid] != store.KeyRetired || state[rsKid] != store.KeyRetired || live["RS256"] != 1 || live["ES256"] != 1 {
		t.Fatalf("after rotation: ES256 key %s, RS256 key %s, active per algorithm %v; want both retired, one active each",
			state[esKid], state[rsKid], live)
	}

	// A relying party meeting the JWKS afresh still verifies the tokens the
	// retired keys signed, of both algorithms.
	fresh, err := oidc.NewProvider(ctxT(t), ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ client, raw string }{{esClient.ID, esRaw}, {rsClient.ID, rsRaw}} {
		if _, err := fresh.Verifier(&oidc.Config{ClientID: tc.client}).Verify(ctxT(t), tc.raw); err != nil {
			t.Errorf("client %s: ID token from before the rotation no longer verifies: %v", tc.client, err)
		}
	}
	// New ID tokens come from the new keys, of the same algorithms.
	if _, kid := signIn(esClient, "ES256"); kid == esKid {
		t.Errorf("ES256 ID token after rotation still signed by the retired key %s", kid)
	}
	if _, kid := signIn(rsClient, "RS256"); kid == rsKid {
		t.Errorf("RS256 ID token after rotation still signed by the retired key %s", kid)
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// TestIDTokenDefaultAlgorithmConfigured: signing_algorithm ES256 makes ES256
// the server default (the ID tokens of clients that register nothing, and
// discovery's first algorithm), while RS256 stays live and a client that
// registers it still gets it.
func TestIDTokenDefaultAlgorithmConfigured(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.SigningAlgorithm = "ES256" })
	user := ts.createUser(t, "user")
	doc := getJSON(t, ts.endpoint("/.well-known/openid-configuration"))
	var offered []string
	for _, v := range doc.JSON["id_token_signing_alg_values_supported"].([]any) {
		offered = append(offered, v.(string))
	}
	if !slices.Equal(offered, []string{"ES256", "RS256"}) {
		t.Fatalf("discovery offers %v, want [ES256 RS256]", offered)
	}
	for _, tc := range []struct{ registered, want string }{{"", "ES256"}, {"RS256", "RS256"}} {
		c := ts.createConfidentialClient(t, func(c *store.Client) { c.IDTokenSignedResponseAlg = tc.registered })
		tok, _, _ := ts.newRP(t, c).signIn(t, user)
		raw, _ := tok.Extra("id_token").(string)
		if alg := decodeJWTPart(t, raw, 0)["alg"]; alg != tc.want {
			t.Errorf("client registering %q: ID token alg %v, want %s", tc.registered, alg, tc.want)
		}
	}
}
