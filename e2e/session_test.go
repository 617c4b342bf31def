package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

// TestSingleSignOn: once signed in for one client, the browser's session
// cookie signs the user in to a second client without the login form.
func TestSingleSignOn(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	rpA := ts.newRP(t, ts.createConfidentialClient(t, nil))
	rpB := ts.newRP(t, ts.createPublicClient(t, nil))
	browser := ts.newBrowser(t)

	arA := rpA.newAuthRequest(t, false)
	codeA, flowA := rpA.code(t, browser, arA, &user)
	if !flowA.SawLogin {
		t.Fatalf("first client: no login page in a fresh browser")
	}
	idA := rpA.verifyIDToken(t, rpA.exchange(t, codeA, arA), arA.Nonce)

	// nil user: the flow fails if the login page appears.
	arB := rpB.newAuthRequest(t, false)
	codeB, flowB := rpB.code(t, browser, arB, nil)
	if flowB.SawLogin {
		t.Fatalf("second client: login page shown despite the SSO session")
	}
	if !flowB.SawConsent {
		t.Errorf("second client: no consent page, but the user never consented to it")
	}
	tokB := rpB.exchange(t, codeB, arB)
	idB := rpB.verifyIDToken(t, tokB, arB.Nonce)
	if idB.Subject != idA.Subject || idB.Subject != user.ID {
		t.Errorf("second client's sub %q, want %q", idB.Subject, idA.Subject)
	}
	var a, b struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idA.Claims(&a); err != nil {
		t.Fatal(err)
	}
	if err := idB.Claims(&b); err != nil {
		t.Fatal(err)
	}
	if a.AuthTime == 0 || a.AuthTime != b.AuthTime {
		t.Errorf("auth_time %d and %d: want the one sign-in's time in both ID tokens", a.AuthTime, b.AuthTime)
	}

	sessions, err := ts.Store.ListLoginSessions(ctxT(t), user.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 {
		t.Fatalf("login sessions: %d, want 1", len(sessions))
	}
	if row := ts.storedToken(t, store.KindAccessToken, tokB.AccessToken, "gh_at_"); row.LoginSessionID != sessions[0].ID {
		t.Errorf("second client's grant is tied to session %q, want %q", row.LoginSessionID, sessions[0].ID)
	}

	// prompt=login forces the form even with a session.
	arC := rpB.newAuthRequest(t, false, oauth2.SetAuthURLParam("prompt", "login"))
	_, flowC := rpB.code(t, browser, arC, &user)
	if !flowC.SawLogin {
		t.Errorf("prompt=login: no login page")
	}
}

// TestConsentRemembered: the consent page is shown once per client and scope
// set; a wider scope set asks again; first-party clients skip it.
func TestConsentRemembered(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "profile", "email")
	browser := ts.newBrowser(t)

	ar1 := rp.newAuthRequest(t, false)
	code1, flow1 := rp.code(t, browser, ar1, &user)
	if !flow1.SawConsent {
		t.Fatalf("first authorization: no consent page")
	}
	rp.exchange(t, code1, ar1)
	saved, err := ts.Store.GetConsent(ctxT(t), user.ID, client.ID, time.Now())
	if err != nil {
		t.Fatalf("consent not stored: %v", err)
	}
	if len(saved.Scopes) != 3 || !contains(saved.Scopes, "openid") || !contains(saved.Scopes, "profile") || !contains(saved.Scopes, "email") {
		t.Errorf("stored consent scopes %v, want [openid profile email]", saved.Scopes)
	}

	ar2 := rp.newAuthRequest(t, false)
	code2, flow2 := rp.code(t, browser, ar2, nil)
	if flow2.SawConsent || flow2.SawLogin {
		t.Errorf("second authorization for the same scopes: consent shown %v, login shown %v; want neither", flow2.SawConsent, flow2.SawLogin)
	}
	rp.verifyIDToken(t, rp.exchange(t, code2, ar2), ar2.Nonce)

	// A subset of what was allowed needs no new consent either.
	rpSubset := ts.newRP(t, client, oidc.ScopeOpenID, "email")
	ar3 := rpSubset.newAuthRequest(t, false)
	if _, flow3 := rpSubset.code(t, browser, ar3, nil); flow3.SawConsent {
		t.Errorf("a subset of the consented scopes asked for consent again")
	}

	// A scope never allowed asks again.
	rpWider := ts.newRP(t, client, oidc.ScopeOpenID, "profile", "email", "roles")
	ar4 := rpWider.newAuthRequest(t, false)
	if _, flow4 := rpWider.code(t, browser, ar4, nil); !flow4.SawConsent {
		t.Errorf("a new scope was granted without asking")
	}

	// prompt=consent asks even when remembered.
	ar5 := rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("prompt", "consent"))
	if _, flow5 := rp.code(t, browser, ar5, nil); !flow5.SawConsent {
		t.Errorf("prompt=consent: no consent page")
	}

	// A first-party client never asks.
	first := ts.newRP(t, ts.createConfidentialClient(t, func(c *store.Client) { c.FirstParty = true }))
	ar6 := first.newAuthRequest(t, false)
	if _, flow6 := first.code(t, browser, ar6, nil); flow6.SawConsent {
		t.Errorf("first-party client: consent page shown")
	}
}

// TestRPInitiatedLogout: the relying party sends the browser to the end
// session endpoint with its ID token; the session ends, its tokens are
// revoked, and the browser returns to the registered URI with the state.
func TestRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	tok, _, browser := rp.signIn(t, user)
	rawID, _ := tok.Extra("id_token").(string)

	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := rp.Provider.Claims(&doc); err != nil || doc.EndSession == "" {
		t.Fatalf("discovery has no end_session_endpoint: %v", err)
	}

	t.Run("unregistered post_logout_redirect_uri", func(t *testing.T) {
		q := url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"s1"}}
		resp := get(t, browser, doc.EndSession+"?"+q.Encode())
		pg := readPage(t, resp)
		if pg.Status != http.StatusBadRequest || pg.Header.Get("Location") != "" {
			t.Errorf("status %d Location %q, want 400 and no redirect", pg.Status, pg.Header.Get("Location"))
		}
		if !ts.isActive(t, tok.RefreshToken, rs) {
			t.Fatalf("a refused logout request revoked the tokens")
		}
	})

	state := "st-" + randomHex(t, 8)
	q := url.Values{
		"id_token_hint":            {rawID},
		"post_logout_redirect_uri": {client.PostLogoutRedirectURIs[0]},
		"state":                    {state},
	}
	resp := get(t, browser, doc.EndSession+"?"+q.Encode())
	if !isRedirect(resp.StatusCode) {
		pg := readPage(t, resp)
		t.Fatalf("end session: status %d, want a redirect to the RP\n%s", pg.Status, snippet(pg.Body))
	}
	loc := location(t, resp)
	closeBody(resp)
	if got := strings.SplitN(loc.String(), "?", 2)[0]; got != client.PostLogoutRedirectURIs[0] {
		t.Errorf("redirected to %s, want %s", got, client.PostLogoutRedirectURIs[0])
	}
	if loc.Query().Get("state") != state {
		t.Errorf("state = %q, want %q", loc.Query().Get("state"), state)
	}

	sessions, err := ts.Store.ListLoginSessions(ctxT(t), user.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("login sessions after logout: %d, want 0", len(sessions))
	}
	if ts.isActive(t, tok.RefreshToken, rs) {
		t.Errorf("refresh token of the ended session still active")
	}
	if ts.isActive(t, tok.AccessToken, rs) {
		t.Errorf("access token of the ended session still active")
	}
	wantOAuthError(t, ts.refresh(t, tok.RefreshToken, authOf(client)), http.StatusBadRequest, "invalid_grant")

	// The browser is signed out: the next authorization asks for the password.
	ar := rp.newAuthRequest(t, false)
	if _, flow := rp.code(t, browser, ar, &user); !flow.SawLogin {
		t.Errorf("after logout, authorization did not show the login page")
	}
}
