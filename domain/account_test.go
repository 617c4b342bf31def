package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// grantFor stores a refresh token of a new grant of u with the client,
// made in session (or none), and returns its signature.
func (e *env) grantFor(u store.User, clientID, session, name string) string {
	e.t.Helper()
	now := e.clock.Now()
	sig := "sig-" + name
	if err := e.store.CreateToken(e.ctx, store.Token{Kind: store.KindRefreshToken, Signature: sig,
		RequestID: "req-" + name, ClientID: clientID, Subject: u.ID, UserID: u.ID, LoginSessionID: session,
		RequestedAt: now, ExpiresAt: now.Add(24 * time.Hour), Active: true, Request: json.RawMessage(`{}`)}); err != nil {
		e.t.Fatal(err)
	}
	return sig
}

func (e *env) refreshActive(sig string) bool {
	e.t.Helper()
	tok, err := e.store.GetToken(e.ctx, store.KindRefreshToken, sig)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Active
}

func (e *env) client(id, name string, firstParty bool) {
	e.t.Helper()
	now := e.clock.Now()
	if err := e.store.CreateClient(e.ctx, store.Client{ID: id, Name: name, TokenEndpointAuthMethod: "none", Public: true,
		FirstParty: firstParty, GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{"https://" + id + ".example/cb"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		e.t.Fatal(err)
	}
}

func TestAllowedApps(t *testing.T) {
	e := newEnv(t)
	u, bob := e.user("alice", "user"), e.user("bob", "user")
	e.client("wiki", "Team wiki", false)
	e.client("crm", "CRM", false)
	e.client("console", "Console", true)
	for _, c := range []struct {
		id     string
		scopes []string
	}{{"wiki", []string{"openid", "profile"}}, {"crm", []string{"openid", "email"}}} {
		if err := e.svc.GrantConsent(e.ctx, u.ID, c.id, c.scopes); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.GrantConsent(e.ctx, bob.ID, "wiki", []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	wikiA, wikiB := e.grantFor(u, "wiki", "", "wiki-a"), e.grantFor(u, "wiki", "", "wiki-b")
	crm := e.grantFor(u, "crm", "", "crm")
	console := e.grantFor(u, "console", "", "console")
	bobWiki := e.grantFor(bob, "wiki", "", "bob-wiki")

	apps, err := e.svc.AllowedApps(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].ClientID != "crm" || apps[0].ClientName != "CRM" || apps[1].ClientID != "wiki" ||
		apps[1].ClientName != "Team wiki" || len(apps[1].Scopes) != 2 || !apps[1].GrantedAt.Equal(e.clock.Now()) || apps[1].ExpiresAt != nil {
		t.Fatalf("apps = %+v", apps)
	}

	self := e.principal(u)
	self.Actor.IP = "203.0.113.5"
	before := e.lastID()
	if err := e.svc.RevokeAllowedApp(e.ctx, self, u.ID, "wiki"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.GetConsent(e.ctx, u.ID, "wiki", e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the consent is still there: %v", err)
	}
	if e.refreshActive(wikiA) || e.refreshActive(wikiB) {
		t.Error("a grant of the revoked app still works")
	}
	if !e.refreshActive(crm) || !e.refreshActive(console) || !e.refreshActive(bobWiki) {
		t.Error("a grant of another app, or of another user, was revoked")
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "consent.revoke" || entries[0].TargetType != domain.TargetClient ||
		entries[0].TargetID != "wiki" || entries[0].ActorID != u.ID || entries[0].IPAddress != "203.0.113.5" {
		t.Fatalf("entries = %+v", entries)
	}
	c := changesOf(t, entries[0])
	if c["user_id"]["before"] != u.ID || c["grants"]["before"] != float64(2) {
		t.Errorf("changes = %s", entries[0].Changes)
	}
	if s, _ := c["scopes"]["before"].([]any); len(s) != 2 {
		t.Errorf("scopes change = %v", c["scopes"])
	}
	apps, _ = e.svc.AllowedApps(e.ctx, u.ID)
	if len(apps) != 1 || apps[0].ClientID != "crm" {
		t.Errorf("apps after the revocation = %+v", apps)
	}

	t.Run("nothing left to revoke is not found", func(t *testing.T) {
		before := e.lastID()
		wantErr(t, e.svc.RevokeAllowedApp(e.ctx, self, u.ID, "wiki"), store.ErrNotFound)
		wantErr(t, e.svc.RevokeAllowedApp(e.ctx, self, u.ID, "no-such-client"), store.ErrNotFound)
		if len(e.since(before)) != 0 {
			t.Error("a refused revocation was audited")
		}
	})

	t.Run("a first-party app has grants but no consent", func(t *testing.T) {
		if err := e.svc.RevokeAllowedApp(e.ctx, self, u.ID, "console"); err != nil {
			t.Fatal(err)
		}
		if e.refreshActive(console) {
			t.Error("the first-party grant still works")
		}
	})

	t.Run("a consent without scopes is a consent", func(t *testing.T) {
		if err := e.store.SaveConsent(e.ctx, store.Consent{UserID: u.ID, ClientID: "wiki", GrantedAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RevokeAllowedApp(e.ctx, self, u.ID, "wiki"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.GetConsent(e.ctx, u.ID, "wiki", e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the consent is still there: %v", err)
		}
	})

	t.Run("nobody revokes for someone with more power", func(t *testing.T) {
		boss := e.user("carol", "admin")
		if err := e.svc.GrantConsent(e.ctx, boss.ID, "crm", []string{"openid"}); err != nil {
			t.Fatal(err)
		}
		err := e.svc.RevokeAllowedApp(e.ctx, self, boss.ID, "crm")
		wantErr(t, err, domain.ErrForbidden)
		if _, err := e.store.GetConsent(e.ctx, boss.ID, "crm", e.clock.Now()); err != nil {
			t.Errorf("the refused revocation removed the consent: %v", err)
		}
	})
}

func TestSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	other := e.user("bob", "user")
	e.sessionWithToken(u, "s1")
	e.sessionWithToken(u, "s2")
	e.sessionWithToken(other, "s3")
	// A grant made outside any session (or whose session is gone) dies too.
	loose := e.grantFor(u, "rp", "", "loose")

	self := e.principal(u)
	before := e.lastID()
	got, err := e.svc.SignOutEverywhere(e.ctx, self, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != (domain.SignedOut{Sessions: 2, Grants: 3}) {
		t.Errorf("signed out %+v, want 2 sessions and 3 grants", got)
	}
	if left, _ := e.svc.ListSessions(e.ctx, u.ID); len(left) != 0 {
		t.Errorf("sessions left: %+v", left)
	}
	if e.tokenActive("s1") || e.tokenActive("s2") || e.refreshActive(loose) {
		t.Error("a grant of the user still works")
	}
	if !e.tokenActive("s3") {
		t.Error("another user's grant was revoked")
	}
	if left, _ := e.svc.ListSessions(e.ctx, other.ID); len(left) != 1 {
		t.Errorf("another user's sessions: %+v", left)
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "session.revoke_all" || entries[0].TargetType != domain.TargetUser ||
		entries[0].TargetID != u.ID || entries[0].ActorID != u.ID {
		t.Fatalf("entries = %+v", entries)
	}
	if c := changesOf(t, entries[0]); c["sessions"]["before"] != float64(2) || c["grants"]["before"] != float64(3) {
		t.Errorf("changes = %s", entries[0].Changes)
	}

	t.Run("again: nothing left, still fine", func(t *testing.T) {
		got, err := e.svc.SignOutEverywhere(e.ctx, self, u.ID)
		if err != nil || got != (domain.SignedOut{}) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})

	t.Run("an administrator signs someone out; not someone with more power", func(t *testing.T) {
		boss := e.user("carol", "admin")
		manager := e.user("dave", "manager")
		e.sessionWithToken(boss, "s4")
		e.sessionWithToken(manager, "s5")
		_, err := e.svc.SignOutEverywhere(e.ctx, e.principal(manager), boss.ID)
		wantErr(t, err, domain.ErrForbidden)
		if !e.tokenActive("s4") {
			t.Error("the refused sign-out revoked the admin's grant")
		}
		got, err := e.svc.SignOutEverywhere(e.ctx, e.principal(boss), manager.ID)
		if err != nil || got.Sessions != 1 || e.tokenActive("s5") {
			t.Fatalf("admin signs the manager out: %+v, %v", got, err)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		_, err := e.svc.SignOutEverywhere(e.ctx, self, "00000000-0000-0000-0000-000000000001")
		wantErr(t, err, store.ErrNotFound)
	})
}
