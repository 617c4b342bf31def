package e2e

import (
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/store"
)

// TestKeyRotation: after a rotation, ID tokens signed before it still verify
// against the JWKS (the retired key stays published) and new ones are signed
// with the newly active key.
//
// Not parallel: it rotates the keys of the package's shared database, and
// running alone keeps its view of "the active key" unambiguous. Parallel
// tests start their servers only after it has finished, and tokens signed
// by a retired key keep verifying, so they are not disturbed.
func TestKeyRotation(t *testing.T) {
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, func(c *store.Client) { c.AccessTokenFormat = store.FormatJWT })
	rp := ts.newRP(t, client)

	tok1, _, _ := rp.signIn(t, user)
	raw1, _ := tok1.Extra("id_token").(string)
	kid1, _ := decodeJWTPart(t, raw1, 0)["kid"].(string)
	if kid1 == "" {
		t.Fatalf("ID token has no kid")
	}
	if atKid, _ := decodeJWTPart(t, tok1.AccessToken, 0)["kid"].(string); atKid != kid1 {
		t.Errorf("JWT access token signed by %q, ID token by %q: want the one active key", atKid, kid1)
	}

	info, err := ts.Server.Keys().Rotate(ctxT(t))
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if info.ID == "" || info.ID == kid1 {
		t.Fatalf("rotation made %q active, want a new key (was %q)", info.ID, kid1)
	}
	if info.State != store.KeyActive {
		t.Errorf("rotate returned a key in state %q, want active", info.State)
	}

	set := fetchJWKS(t, ts)
	if len(set.Key(kid1)) != 1 {
		t.Errorf("retired key %q no longer in the JWKS", kid1)
	}
	if len(set.Key(info.ID)) != 1 {
		t.Errorf("new active key %q not in the JWKS", info.ID)
	}
	rows, err := ts.Store.ListSigningKeys(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]store.KeyState{}
	for _, r := range rows {
		states[r.ID] = r.State
	}
	if states[kid1] != store.KeyRetired || states[info.ID] != store.KeyActive {
		t.Errorf("store: old key %s, new key %s; want retired and active", states[kid1], states[info.ID])
	}

	// A relying party that never saw the new key: a fresh go-oidc provider
	// fetches the JWKS anew and verifies the old token with the retired key.
	fresh, err := oidc.NewProvider(ctxT(t), ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Verifier(&oidc.Config{ClientID: client.ID}).Verify(ctxT(t), raw1); err != nil {
		t.Errorf("ID token signed before the rotation no longer verifies: %v", err)
	}
	// The RP that cached the old key set meets the new kid and refetches.
	tok2, _, _ := rp.signIn(t, user)
	raw2, _ := tok2.Extra("id_token").(string)
	if kid2, _ := decodeJWTPart(t, raw2, 0)["kid"].(string); kid2 != info.ID {
		t.Errorf("new ID token signed by %q, want the new active key %q", kid2, info.ID)
	}
	if _, err := rp.Verifier.Verify(ctxT(t), raw1); err != nil {
		t.Errorf("old ID token with the RP's cached verifier: %v", err)
	}

	// JWT access tokens from either side of the rotation verify offline.
	set = fetchJWKS(t, ts)
	verifyJWTAccessToken(t, ts, set, tok1.AccessToken)
	verifyJWTAccessToken(t, ts, set, tok2.AccessToken)
	if atKid, _ := decodeJWTPart(t, tok2.AccessToken, 0)["kid"].(string); atKid != info.ID {
		t.Errorf("new JWT access token signed by %q, want %q", atKid, info.ID)
	}
}
