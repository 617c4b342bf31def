package e2e

import (
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// TestBreakGlassTokensEndWithTheSession: with access and ID tokens
// configured to live four hours, a break-glass account's access token (its
// exp, expires_in and introspection) and ID token end when its one-hour
// login session does; another user's tokens on the same server keep the
// configured lifetime.
func TestBreakGlassTokensEndWithTheSession(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) {
		c.Lifetimes.AccessToken = 4 * time.Hour
		c.Lifetimes.IDToken = 4 * time.Hour
		c.Lifetimes.LoginSession = 24 * time.Hour
	})
	bg := ts.createUserWith(t, func(u *store.User) { u.BreakGlass = true }, "user")
	plain := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, func(c *store.Client) { c.AccessTokenFormat = store.FormatJWT })
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "profile")

	tok, idt, _ := rp.signIn(t, bg)
	sessions, err := ts.Store.ListLoginSessions(ctxT(t), bg.ID, time.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("break-glass sessions: %v %+v", err, sessions)
	}
	end := sessions[0].ExpiresAt.Truncate(time.Second)
	if life := sessions[0].ExpiresAt.Sub(sessions[0].AuthTime); life != time.Hour {
		t.Fatalf("break-glass session lasts %v, want an hour", life)
	}

	exp := int64(decodeJWTPart(t, tok.AccessToken, 1)["exp"].(float64))
	if exp != end.Unix() {
		t.Errorf("break-glass access token exp %v, want the session's end %v", time.Unix(exp, 0).UTC(), end.UTC())
	}
	// expires_in (which the oauth2 package turns into Expiry) says the same.
	if tok.Expiry.After(end.Add(time.Second)) {
		t.Errorf("break-glass expires_in ends %v, after the session's end %v", tok.Expiry, end)
	}
	if !idt.Expiry.Equal(end) {
		t.Errorf("break-glass ID token exp %v, want the session's end %v", idt.Expiry.UTC(), end.UTC())
	}
	in := ts.introspect(t, tok.AccessToken, authOf(client))
	if got, _ := in.JSON["exp"].(float64); in.JSON["active"] != true || int64(got) != end.Unix() {
		t.Errorf("introspection of the break-glass token %s, want active until %d", in.Raw, end.Unix())
	}

	// The configured four hours for everyone else.
	before := time.Now()
	tok, idt, _ = rp.signIn(t, plain)
	exp = int64(decodeJWTPart(t, tok.AccessToken, 1)["exp"].(float64))
	if exp < before.Add(4*time.Hour).Unix()-1 {
		t.Errorf("access token exp %v for an ordinary user, want four hours after %v", time.Unix(exp, 0).UTC(), before.UTC())
	}
	if idt.Expiry.Before(before.Add(4 * time.Hour).Truncate(time.Second)) {
		t.Errorf("ID token exp %v for an ordinary user, want four hours after %v", idt.Expiry.UTC(), before.UTC())
	}
}
