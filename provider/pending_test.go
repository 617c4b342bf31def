package provider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

// iam returns the identity-and-access half of the test store.
func (e *testEnv) iam() store.IAM {
	e.t.Helper()
	return e.store
}

func (e *testEnv) setStatus(u store.User, st store.UserStatus, roles ...string) {
	e.t.Helper()
	got, err := e.store.GetUser(e.ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	got.Status, got.Roles = st, roles
	if err := e.store.UpdateUser(e.ctx, got); err != nil {
		e.t.Fatal(err)
	}
}

// A pending user is signed in but gets no code: the browser is sent to the
// request-access page, carrying the authorization request to come back to.
func TestPendingUserGetsNoCode(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web"})
	pete := e.addUser("pete")
	e.setStatus(pete, store.StatusPending)
	cfg := e.oauthConfig("web", secret, "openid", "roles")
	authURL := cfg.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	wantAccessRequest := func(t *testing.T, resp page) {
		t.Helper()
		if resp.status != http.StatusSeeOther || !strings.HasPrefix(resp.location(), "/access/request?") {
			t.Fatalf("want 303 to /access/request, got %d Location %q", resp.status, resp.location())
		}
		loc, err := url.Parse(resp.location())
		if err != nil {
			t.Fatal(err)
		}
		back, err := url.Parse(loc.Query().Get("return_to"))
		if err != nil || back.Path != "/oauth2/auth" || back.Query().Get("client_id") != "web" || back.Query().Get("state") != "state-123456" {
			t.Fatalf("return_to %q is not the authorization request", loc.Query().Get("return_to"))
		}
		if strings.Contains(resp.location(), callbackURL) || strings.Contains(resp.location(), "code=") {
			t.Fatalf("redirect %q leads to the client", resp.location())
		}
	}

	b := e.newBrowser()
	// Signing in sends a pending user to ask for access...
	wantAccessRequest(t, b.signIn(b.get(authURL), "pete"))
	// ...and so does every later authorization request of its session.
	wantAccessRequest(t, b.get(authURL))

	t.Run("prompt=none", func(t *testing.T) {
		q := b.get(cfg.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none"))).callback(t)
		if q.Get("error") != "interaction_required" || q.Get("code") != "" {
			t.Errorf("callback %v, want error=interaction_required and no code", q)
		}
	})

	t.Run("after approval the same session gets a code", func(t *testing.T) {
		e.setStatus(pete, store.StatusActive, "user")
		resp := b.get(authURL)
		if resp.isConsent() {
			resp = b.decide(resp, "allow")
		}
		if q := resp.callback(t); q.Get("code") == "" {
			t.Errorf("no code after approval: %v", q)
		}
	})
}

// The roles claim is the user's effective roles: its own, its groups',
// and every ancestor of both, in the ID token, userinfo and JWT access
// tokens alike; a refresh reflects a change of groups.
func TestRolesClaimIncludesGroups(t *testing.T) {
	e := newTestEnv(t)
	iam := e.iam()
	for _, r := range []store.Role{
		{Name: "trader", Description: "Trades", Parent: "user"},
		{Name: "analyst", Description: "Analyses", Parent: "viewer"},
	} {
		if err := e.store.CreateRole(e.ctx, r); err != nil {
			t.Fatalf("create role %s: %v", r.Name, err)
		}
	}
	group := store.Group{ID: uuid.NewString(), Name: "research", Roles: []string{"analyst"}}
	if err := iam.CreateGroup(e.ctx, group); err != nil {
		t.Fatalf("create group: %v", err)
	}
	bob := e.addUser("bob", "trader")
	if err := iam.AddGroupMember(e.ctx, group.ID, bob.ID); err != nil {
		t.Fatalf("add member: %v", err)
	}
	secret := e.addClient(store.Client{ID: "web", FirstParty: true, AccessTokenFormat: store.FormatJWT})
	cfg := e.oauthConfig("web", secret, "openid", "roles", "offline_access")

	b := e.newBrowser()
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier))
	callback := b.get(b.signIn(b.get(authURL), "bob").location()).callback(t)
	tok, err := cfg.Exchange(e.ctx, callback.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	want := []string{"analyst", "trader", "user", "viewer"}

	idt, err := e.verifier("web").Verify(e.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.Roles, want) {
		t.Errorf("ID token roles = %v, want %v", claims.Roles, want)
	}
	if got := strList(userinfo(t, e, tok.AccessToken)["roles"]); !slices.Equal(got, want) {
		t.Errorf("userinfo roles = %v, want %v", got, want)
	}
	if got := strList(jwtClaims(t, e, tok.AccessToken)["roles"]); !slices.Equal(got, want) {
		t.Errorf("JWT access token roles = %v, want %v", got, want)
	}

	// Leaving the group drops its role (and nothing else) at the next refresh.
	if err := iam.RemoveGroupMember(e.ctx, group.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	status, body := e.postForm("/oauth2/token", refreshForm(refreshToken(t, tok)), "web", secret)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	idt, err = e.verifier("web").Verify(e.ctx, body["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	want = []string{"trader", "user", "viewer"}
	if !slices.Equal(claims.Roles, want) {
		t.Errorf("roles after leaving the group = %v, want %v", claims.Roles, want)
	}
	if got := strList(jwtClaims(t, e, body["access_token"].(string))["roles"]); !slices.Equal(got, want) {
		t.Errorf("refreshed JWT access token roles = %v, want %v", got, want)
	}
}

// Without the roles scope no token carries roles.
func TestNoRolesWithoutTheScope(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true, AccessTokenFormat: store.FormatJWT})
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid"))
	if _, ok := jwtClaims(t, e, tok.AccessToken)["roles"]; ok {
		t.Error("JWT access token has roles without the roles scope")
	}
	if _, ok := userinfo(t, e, tok.AccessToken)["roles"]; ok {
		t.Error("userinfo has roles without the roles scope")
	}
}

// jwtClaims verifies a JWT access token against the JWKS and returns its
// claims.
func jwtClaims(t *testing.T, e *testEnv, raw string) map[string]any {
	t.Helper()
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("access token is not a JWT: %v", err)
	}
	set := jwks(t, e)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", tok.Headers[0].KeyID)
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("JWT signature: %v", err)
	}
	return claims
}
