package provider

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// The area claim (areas): the code of the user's default area, in the ID
// token and userinfo, only under the area scope, absent when the user has
// no default area; discovery lists both.
func TestAreaClaimUnderTheAreaScope(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now()
	emea := store.Area{ID: uuid.NewString(), Code: "emea", Name: "EMEA", CreatedAt: now, UpdatedAt: now}
	de := store.Area{ID: uuid.NewString(), Code: "emea-de", Name: "Germany", ParentID: emea.ID, CreatedAt: now, UpdatedAt: now}
	for _, a := range []store.Area{emea, de} {
		if err := e.store.CreateArea(e.ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []store.Area{emea, de} {
		if err := e.store.AddAreaMember(e.ctx, a.ID, e.user.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.SetDefaultArea(e.ctx, e.user.ID, de.ID); err != nil {
		t.Fatal(err)
	}
	secret := e.addClient(store.Client{ID: "web", FirstParty: true,
		Scopes: []string{"openid", "profile", "roles", ScopeArea}})

	areaOf := func(scopes ...string) (idToken, info any, hasID, hasInfo bool) {
		t.Helper()
		tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, scopes...))
		idt, err := e.verifier("web").Verify(e.ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		ui := userinfo(t, e, tok.AccessToken)
		idToken, hasID = claims[ClaimArea]
		info, hasInfo = ui[ClaimArea]
		return
	}

	idc, uic, _, _ := areaOf("openid", ScopeArea)
	if idc != "emea-de" || uic != "emea-de" {
		t.Errorf("area claim: ID token %v, userinfo %v, want emea-de in both", idc, uic)
	}
	if _, _, hasID, hasInfo := areaOf("openid", "profile"); hasID || hasInfo {
		t.Errorf("area claim without the area scope: ID token %v, userinfo %v", hasID, hasInfo)
	}
	// No default area: no claim, not an empty one.
	if err := e.store.SetDefaultArea(e.ctx, e.user.ID, ""); err != nil {
		t.Fatal(err)
	}
	if idc, uic, hasID, hasInfo := areaOf("openid", ScopeArea); hasID || hasInfo {
		t.Errorf("area claim with no default area: ID token %v, userinfo %v", idc, uic)
	}

	resp, err := http.Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Scopes []string `json:"scopes_supported"`
		Claims []string `json:"claims_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Scopes, ScopeArea) || !slices.Contains(d.Claims, ClaimArea) {
		t.Errorf("discovery: scopes %v, claims %v; want area in both", d.Scopes, d.Claims)
	}
}
