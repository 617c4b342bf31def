package provider

import (
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

// TestSSOConsentReadWithSession: the remembered consent read with the
// session (CurrentSessionFor) answers for the request's own client and for
// this request only: a consent to one client does not skip another's page,
// and a consent revoked, narrowed or expired since the last authorization
// is asked again at once.
func TestSSOConsentReadWithSession(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "third"})
	otherSecret := e.addClient(store.Client{ID: "other"})
	cfg := e.oauthConfig("third", secret, "openid", "profile")
	other := e.oauthConfig("other", otherSecret, "openid")

	b := e.newBrowser()
	if q := b.authorize(cfg.AuthCodeURL("state-123456")); q.Get("code") == "" {
		t.Fatalf("first authorization: %v", q)
	}
	sso := func(c *oauth2.Config, what string) page {
		t.Helper()
		resp := b.get(c.AuthCodeURL("state-123456"))
		if resp.isLogin(t) {
			t.Fatalf("%s: the signed-in browser was sent to the login page", what)
		}
		return resp
	}
	if q := sso(cfg, "remembered").callback(t); q.Get("code") == "" {
		t.Fatalf("remembered consent: want a code, got %v", q)
	}

	// Another client, same browser and user: its own (absent) consent.
	if resp := sso(other, "another client"); !resp.isConsent() {
		t.Errorf("another client: want the consent page, got %d %q", resp.status, resp.location())
	}
	// prompt=none there: consent_required, not a code.
	q := b.get(other.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("prompt", "none"))).callback(t)
	if q.Get("error") != "consent_required" || q.Get("code") != "" {
		t.Errorf("another client, prompt=none: %v, want consent_required", q)
	}

	// Narrowed behind the browser's back: the new scope set decides.
	narrow := store.Consent{UserID: e.user.ID, ClientID: "third", Scopes: []string{"openid"}, GrantedAt: time.Now()}
	if err := e.store.SaveConsent(e.ctx, narrow); err != nil {
		t.Fatal(err)
	}
	if resp := sso(cfg, "narrowed"); !resp.isConsent() {
		t.Errorf("narrowed consent: want the consent page, got %d %q", resp.status, resp.location())
	}
	if q := sso(e.oauthConfig("third", secret, "openid"), "narrowed, fewer scopes").callback(t); q.Get("code") == "" {
		t.Errorf("narrowed consent, its own scopes: want a code, got %v", q)
	}

	// Expired.
	past := time.Now().Add(-time.Second)
	expired := store.Consent{UserID: e.user.ID, ClientID: "third", Scopes: []string{"openid", "profile"}, GrantedAt: past.Add(-time.Hour), ExpiresAt: &past}
	if err := e.store.SaveConsent(e.ctx, expired); err != nil {
		t.Fatal(err)
	}
	if resp := sso(cfg, "expired"); !resp.isConsent() {
		t.Errorf("expired consent: want the consent page, got %d %q", resp.status, resp.location())
	}

	// Revoked.
	if err := e.store.SaveConsent(e.ctx, store.Consent{UserID: e.user.ID, ClientID: "third", Scopes: []string{"openid", "profile"}, GrantedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if q := sso(cfg, "granted again").callback(t); q.Get("code") == "" {
		t.Fatalf("granted again: want a code, got %v", q)
	}
	if err := e.store.DeleteConsent(e.ctx, e.user.ID, "third"); err != nil {
		t.Fatal(err)
	}
	if resp := sso(cfg, "revoked"); !resp.isConsent() {
		t.Errorf("revoked consent: want the consent page, got %d %q", resp.status, resp.location())
	}
}
