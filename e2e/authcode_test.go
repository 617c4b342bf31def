package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

// TestAuthorizationCodePublicClientPKCE is a single-page app's sign-in: a
// public client, PKCE S256, the login and consent pages, and a token request
// authenticated by the code verifier alone.
func TestAuthorizationCodePublicClientPKCE(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createPublicClient(t, nil)
	rp := ts.newRP(t, client)
	browser := ts.newBrowser(t)

	ar := rp.newAuthRequest(t, false)
	code, flow := rp.code(t, browser, ar, &user)
	if !flow.SawLogin || !flow.SawConsent {
		t.Errorf("first authorization: login page shown %v, consent page shown %v; want both", flow.SawLogin, flow.SawConsent)
	}

	sessions, err := ts.Store.ListLoginSessions(ctxT(t), user.ID, time.Now())
	if err != nil {
		t.Fatalf("list login sessions: %v", err)
	}
	if len(sessions) != 1 {
		t.Fatalf("login sessions after sign-in: %d, want 1", len(sessions))
	}
	saved, err := ts.Store.GetConsent(ctxT(t), user.ID, client.ID, time.Now())
	if err != nil {
		t.Fatalf("consent not remembered: %v", err)
	}
	for _, s := range rp.OAuth2.Scopes {
		if !contains(saved.Scopes, s) {
			t.Errorf("remembered consent scopes %v lack %q", saved.Scopes, s)
		}
	}

	// No client secret: the public client proves possession of the code with
	// the verifier only.
	tok := rp.exchange(t, code, ar)
	if !strings.EqualFold(tok.TokenType, "bearer") {
		t.Errorf("token_type = %q, want Bearer", tok.TokenType)
	}
	if !strings.HasPrefix(tok.AccessToken, "gh_at_") {
		t.Errorf("access token %.10q... lacks the gh_at_ prefix", tok.AccessToken)
	}
	if !strings.HasPrefix(tok.RefreshToken, "gh_rt_") {
		t.Errorf("refresh token %.10q... lacks the gh_rt_ prefix (offline_access was granted)", tok.RefreshToken)
	}
	if left := time.Until(tok.Expiry); left < 59*time.Minute || left > 61*time.Minute {
		t.Errorf("access token expires in %v, want the default 60m", left)
	}
	idt := rp.verifyIDToken(t, tok, ar.Nonce)
	if idt.Subject != user.ID {
		t.Errorf("sub = %q, want the user id %q", idt.Subject, user.ID)
	}
	var claims struct {
		AuthTime int64  `json:"auth_time"`
		AZP      string `json:"azp"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	if at := time.Unix(claims.AuthTime, 0); claims.AuthTime == 0 || at.Sub(sessions[0].AuthTime).Abs() > time.Second {
		t.Errorf("auth_time = %v, want the login session's %v", at, sessions[0].AuthTime)
	}

	row := ts.storedToken(t, store.KindAccessToken, tok.AccessToken, "gh_at_")
	if !row.Active || row.ClientID != client.ID || row.Subject != user.ID || row.UserID != user.ID {
		t.Errorf("stored access token: active %v client %q subject %q user %q; want active, %q, %q, %q",
			row.Active, row.ClientID, row.Subject, row.UserID, client.ID, user.ID, user.ID)
	}
	if row.LoginSessionID != sessions[0].ID {
		t.Errorf("stored access token's login session %q, want %q", row.LoginSessionID, sessions[0].ID)
	}
	if !contains(row.GrantedScopes, "openid") || !contains(row.GrantedScopes, "offline_access") {
		t.Errorf("granted scopes %v, want openid and offline_access", row.GrantedScopes)
	}
	grant, err := ts.Store.GetGrant(ctxT(t), row.RequestID)
	if err != nil {
		t.Fatalf("grant of the access token: %v", err)
	}
	if grant.ClientID != client.ID || grant.UserID != user.ID {
		t.Errorf("grant: client %q user %q, want %q %q", grant.ClientID, grant.UserID, client.ID, user.ID)
	}
	rt := ts.storedToken(t, store.KindRefreshToken, tok.RefreshToken, "gh_rt_")
	if rt.RequestID != row.RequestID || !rt.Active {
		t.Errorf("refresh token: grant %q active %v, want grant %q, active", rt.RequestID, rt.Active, row.RequestID)
	}

	// The tokens work: userinfo answers for the user.
	ui := ts.userinfo(t, tok.AccessToken)
	if ui.Status != http.StatusOK || ui.str("sub") != user.ID {
		t.Errorf("userinfo: status %d sub %q, want 200 %q\n%s", ui.Status, ui.str("sub"), user.ID, ui.Raw)
	}
}

// TestAuthorizationCodeConfidentialClient runs the flow for a confidential
// client with each way of sending its secret, with and without PKCE.
func TestAuthorizationCodeConfidentialClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	cases := []struct {
		name       string
		authMethod string
		authStyle  oauth2.AuthStyle
		noPKCE     bool
	}{
		{"client_secret_basic with PKCE", "client_secret_basic", oauth2.AuthStyleInHeader, false},
		{"client_secret_post with PKCE", "client_secret_post", oauth2.AuthStyleInParams, false},
		{"client_secret_basic without PKCE", "client_secret_basic", oauth2.AuthStyleInHeader, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			user := ts.createUser(t, "user")
			client := ts.createConfidentialClient(t, func(c *store.Client) { c.TokenEndpointAuthMethod = tc.authMethod })
			rp := ts.newRP(t, client)
			rp.OAuth2.Endpoint.AuthStyle = tc.authStyle
			browser := ts.newBrowser(t)

			ar := rp.newAuthRequest(t, tc.noPKCE)
			code, _ := rp.code(t, browser, ar, &user)
			tok := rp.exchange(t, code, ar)
			idt := rp.verifyIDToken(t, tok, ar.Nonce)
			if idt.Subject != user.ID {
				t.Errorf("sub = %q, want %q", idt.Subject, user.ID)
			}
			if tok.RefreshToken == "" {
				t.Errorf("no refresh token although offline_access was granted")
			}
			row := ts.storedToken(t, store.KindAccessToken, tok.AccessToken, "gh_at_")
			if row.ClientID != client.ID || row.Subject != user.ID || !row.Active {
				t.Errorf("stored access token: client %q subject %q active %v", row.ClientID, row.Subject, row.Active)
			}

			// go-oidc's userinfo call must accept the response too.
			info, err := rp.Provider.UserInfo(ctxT(t), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo through go-oidc: %v", err)
			}
			if info.Subject != user.ID || info.Email != user.Email || !info.EmailVerified {
				t.Errorf("userinfo: sub %q email %q verified %v, want %q %q true", info.Subject, info.Email, info.EmailVerified, user.ID, user.Email)
			}
		})
	}
}

// TestUserinfoClaimsByScope checks that userinfo releases exactly the claims
// the granted scopes cover.
func TestUserinfoClaimsByScope(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	cases := []struct {
		name    string
		scopes  []string
		want    []string // claims that must be present
		notWant []string // claims that must be absent
	}{
		{"openid only", []string{oidc.ScopeOpenID}, nil, []string{"email", "email_verified", "name", "preferred_username", "roles"}},
		{"profile", []string{oidc.ScopeOpenID, "profile"}, []string{"name", "preferred_username"}, []string{"email", "roles"}},
		{"email", []string{oidc.ScopeOpenID, "email"}, []string{"email", "email_verified"}, []string{"name", "preferred_username", "roles"}},
		{"roles", []string{oidc.ScopeOpenID, "roles"}, []string{"roles"}, []string{"email", "name"}},
		{"everything", []string{oidc.ScopeOpenID, "profile", "email", "roles"}, []string{"name", "preferred_username", "email", "email_verified", "roles"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			user := ts.createUser(t, "manager", "viewer")
			client := ts.createConfidentialClient(t, nil)
			rp := ts.newRP(t, client, tc.scopes...)
			browser := ts.newBrowser(t)
			ar := rp.newAuthRequest(t, false)
			code, _ := rp.code(t, browser, ar, &user)
			tok := rp.exchange(t, code, ar)
			rp.verifyIDToken(t, tok, ar.Nonce)

			ui := ts.userinfo(t, tok.AccessToken)
			if ui.Status != http.StatusOK {
				t.Fatalf("userinfo: status %d\n%s", ui.Status, ui.Raw)
			}
			if ui.str("sub") != user.ID {
				t.Errorf("sub = %q, want %q", ui.str("sub"), user.ID)
			}
			for _, c := range tc.want {
				if _, ok := ui.JSON[c]; !ok {
					t.Errorf("claim %q missing from userinfo %s", c, ui.Raw)
				}
			}
			for _, c := range tc.notWant {
				if _, ok := ui.JSON[c]; ok {
					t.Errorf("claim %q released without its scope: %s", c, ui.Raw)
				}
			}
			if _, ok := ui.JSON["name"]; ok && ui.str("name") != user.FullName {
				t.Errorf("name = %q, want %q", ui.str("name"), user.FullName)
			}
			if _, ok := ui.JSON["preferred_username"]; ok && ui.str("preferred_username") != user.Username {
				t.Errorf("preferred_username = %q, want %q", ui.str("preferred_username"), user.Username)
			}
			if _, ok := ui.JSON["email"]; ok {
				if ui.str("email") != user.Email || ui.JSON["email_verified"] != true {
					t.Errorf("email %q verified %v, want %q true", ui.str("email"), ui.JSON["email_verified"], user.Email)
				}
			}
			if raw, ok := ui.JSON["roles"]; ok {
				list, _ := raw.([]any)
				var got []string
				for _, r := range list {
					s, _ := r.(string)
					got = append(got, s)
				}
				// The claim lists the effective roles: the user's own
				// (manager, viewer) expanded through the hierarchy.
				if len(got) != 3 || !contains(got, "manager") || !contains(got, "user") || !contains(got, "viewer") {
					t.Errorf("roles = %v, want [manager user viewer]", raw)
				}
			}
			for _, secret := range []string{"password", "password_hash", "PasswordHash"} {
				if _, ok := ui.JSON[secret]; ok {
					t.Fatalf("userinfo exposes %q", secret)
				}
			}
		})
	}
}
