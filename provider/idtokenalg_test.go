package provider

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// jwtHeader decodes the header of a compact JWS.
func jwtHeader(t *testing.T, tok string) (alg, kid string) {
	t.Helper()
	h, _, ok := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	var head struct{ Alg, Kid string }
	if !ok || err != nil || json.Unmarshal(raw, &head) != nil {
		t.Fatalf("not a JWS: %q", tok)
	}
	return head.Alg, head.Kid
}

// TestIDTokenPerClientAlgorithm: a client registered with ES256 gets ES256
// ID tokens (from the code and from refreshes) signed by the active ES256
// key, while its JWT access token keeps the server default key; a client
// that registers nothing gets RS256. go-oidc verifies both against the one
// JWKS.
func TestIDTokenPerClientAlgorithm(t *testing.T) {
	e := newTestEnv(t)
	esSecret := e.addClient(store.Client{ID: "es", FirstParty: true, IDTokenSignedResponseAlg: keys.ES256, AccessTokenFormat: store.FormatJWT})
	rsSecret := e.addClient(store.Client{ID: "rs", FirstParty: true, AccessTokenFormat: store.FormatJWT})
	active, err := e.keys.Active(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	es, _ := active.For(keys.ES256)
	rs, _ := active.For(keys.RS256)

	for _, tc := range []struct {
		client, secret string
		want           keys.SigningKey
	}{
		{"es", esSecret, es},
		{"rs", rsSecret, rs},
	} {
		t.Run(tc.client, func(t *testing.T) {
			tok, nonce := e.codeFlow(e.newBrowser(), e.oauthConfig(tc.client, tc.secret, "openid", "offline_access"))
			raw, _ := tok.Extra("id_token").(string)
			if alg, kid := jwtHeader(t, raw); alg != tc.want.Algorithm || kid != tc.want.ID {
				t.Fatalf("ID token header alg %s kid %s, want %s %s", alg, kid, tc.want.Algorithm, tc.want.ID)
			}
			idt, err := e.verifier(tc.client).Verify(e.ctx, raw)
			if err != nil || idt.Nonce != nonce || idt.Subject != e.user.ID {
				t.Fatalf("go-oidc: %v (nonce %q sub %q)", err, idt.Nonce, idt.Subject)
			}
			// The access token is the server's, whatever the ID token.
			if alg, kid := jwtHeader(t, tok.AccessToken); alg != keys.RS256 || kid != rs.ID {
				t.Errorf("JWT access token header alg %s kid %s, want the default RS256 key %s", alg, kid, rs.ID)
			}

			status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken(t, tok)}}, tc.client, tc.secret)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, body)
			}
			refreshed, _ := body["id_token"].(string)
			if alg, kid := jwtHeader(t, refreshed); alg != tc.want.Algorithm || kid != tc.want.ID {
				t.Fatalf("refreshed ID token header alg %s kid %s, want %s %s", alg, kid, tc.want.Algorithm, tc.want.ID)
			}
			if _, err := e.verifier(tc.client).Verify(e.ctx, refreshed); err != nil {
				t.Fatalf("go-oidc, refreshed ID token: %v", err)
			}
		})
	}
}
