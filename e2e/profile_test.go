package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestProfileClaims: with the phone scope, the ID token (verified with
// go-oidc) and userinfo carry phone_number and phone_number_verified;
// without it, neither does. The profile scope brings given_name,
// family_name, locale, zoneinfo and picture, and name made of the given and
// family names when no full name is set; fields not set are left out.
// Discovery lists the scope and the claims.
func TestProfileClaims(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	u := ts.createUserWith(t, func(u *store.User) {
		u.FullName = ""
		u.PhoneNumber, u.PhoneNumberVerified = "+14155550123", true
		u.GivenName, u.FamilyName = "Grace", "Hopper"
		u.Locale, u.Zoneinfo, u.Picture = "en-US", "America/New_York", "https://example.com/grace.png"
	}, "user")
	sparse := ts.createUserWith(t, func(u *store.User) { u.FullName = "Ada Lovelace" }, "user")
	c := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Scopes = []string{"openid", "profile", "email", "phone", "offline_access"}
	})

	d := getJSON(t, ts.endpoint("/.well-known/openid-configuration"))
	for field, want := range map[string][]string{
		"scopes_supported": {"phone"},
		"claims_supported": {"phone_number", "phone_number_verified", "given_name", "family_name", "locale", "zoneinfo", "picture"},
	} {
		got := strList(d.JSON[field])
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("discovery %s = %v lacks %s", field, got, w)
			}
		}
	}

	type claims struct {
		Name                string `json:"name"`
		GivenName           string `json:"given_name"`
		FamilyName          string `json:"family_name"`
		Locale              string `json:"locale"`
		Zoneinfo            string `json:"zoneinfo"`
		Picture             string `json:"picture"`
		PhoneNumber         string `json:"phone_number"`
		PhoneNumberVerified *bool  `json:"phone_number_verified"`
	}
	for _, tc := range []struct {
		name      string
		scopes    []string
		wantPhone bool
	}{
		{"with phone", []string{oidc.ScopeOpenID, "profile", "phone"}, true},
		{"without phone", []string{oidc.ScopeOpenID, "profile"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := ts.newRP(t, c, tc.scopes...)
			tok, idt, _ := rp.signIn(t, u)
			info, err := rp.Provider.UserInfo(ctxT(t), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var fromID, fromInfo claims
			if err := idt.Claims(&fromID); err != nil {
				t.Fatal(err)
			}
			if err := info.Claims(&fromInfo); err != nil {
				t.Fatal(err)
			}
			for where, got := range map[string]claims{"ID token": fromID, "userinfo": fromInfo} {
				if got.Name != "Grace Hopper" || got.GivenName != "Grace" || got.FamilyName != "Hopper" || got.Locale != "en-US" ||
					got.Zoneinfo != "America/New_York" || got.Picture != "https://example.com/grace.png" {
					t.Errorf("%s profile claims %+v", where, got)
				}
				hasPhone := got.PhoneNumber == "+14155550123" && got.PhoneNumberVerified != nil && *got.PhoneNumberVerified
				if hasPhone != tc.wantPhone || (!tc.wantPhone && (got.PhoneNumber != "" || got.PhoneNumberVerified != nil)) {
					t.Errorf("%s phone claims %q %v, want them: %v", where, got.PhoneNumber, got.PhoneNumberVerified, tc.wantPhone)
				}
			}
		})
	}

	// Fields not set are not claims at all, not empty strings.
	rp := ts.newRP(t, c, oidc.ScopeOpenID, "profile", "phone")
	tok, idt, _ := rp.signIn(t, sparse)
	var raw map[string]any
	if err := idt.Claims(&raw); err != nil {
		t.Fatal(err)
	}
	info := ts.userinfo(t, tok.AccessToken)
	for _, m := range []map[string]any{raw, info.JSON} {
		if m["name"] != "Ada Lovelace" {
			t.Errorf("name = %v, want the full name", m["name"])
		}
		for _, k := range []string{"given_name", "family_name", "locale", "zoneinfo", "picture", "phone_number", "phone_number_verified"} {
			if v, ok := m[k]; ok {
				t.Errorf("claim %s = %v for a user without it", k, v)
			}
		}
	}
}

// TestBreakGlassAccess: with mfa.required_roles [admin], an admin without
// a factor is sent to enrol and gets no session, while a break-glass admin
// without a factor signs in with its password alone; its login session is
// stored to end an hour after the sign-in though the configured lifetime
// is a day, it gets no refresh token despite offline_access, the sign-in
// is audited login.break_glass with the address, and every other admin
// has a notice in the mail outbox table.
func TestBreakGlassAccess(t *testing.T) {
	t.Parallel()
	ts, _ := mailServer(t, func(c *config.Config) {
		c.MFA.RequiredRoles = []string{"admin"}
		c.Lifetimes.LoginSession = 24 * time.Hour
		// The sender must not deliver (and delete) the notices before the
		// test reads the table: its first pass is at start, the next an
		// hour later.
		c.MailQueue.PollInterval = time.Hour
	})
	other := ts.createUser(t, "admin")
	notFlagged := ts.createUser(t, "admin")
	bg := ts.createUserWith(t, func(u *store.User) { u.BreakGlass = true }, "admin")
	rp := ts.newRP(t, ts.createConfidentialClient(t, nil))

	// Not flagged: the password leads to enrolment, and without it there
	// is no session.
	b := ts.newBrowser(t)
	ar := rp.newAuthRequest(t, false)
	if pg := passwordStep(t, b, ar, notFlagged); pg.URL.Path != "/login/mfa" {
		t.Fatalf("unflagged admin after the password: %s status %d\n%s", pg.URL.Path, pg.Status, snippet(pg.Body))
	}
	if probe := readPage(t, get(t, b, ar.URL)); probe.Form("password") == nil {
		t.Fatalf("unflagged admin without enrolment got through: %s", probe.URL)
	}

	// Flagged: straight through.
	before := time.Now()
	tok, idt, _ := rp.signIn(t, bg)
	wantAuth(t, "break-glass sign-in", idt, []string{"pwd"}, "aal1")
	if tok.RefreshToken != "" {
		t.Error("a break-glass session's grant got a refresh token")
	}
	if info := ts.userinfo(t, tok.AccessToken); info.Status != 200 {
		t.Errorf("userinfo with the break-glass token: %d %s", info.Status, info.Raw)
	}

	sessions, err := ts.Store.ListLoginSessions(ctxT(t), bg.ID, time.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("break-glass sessions: %v %+v", err, sessions)
	}
	if life := sessions[0].ExpiresAt.Sub(sessions[0].AuthTime); life != domain.BreakGlassSessionLifetime {
		t.Errorf("break-glass session stored to last %v, want %v", life, domain.BreakGlassSessionLifetime)
	}
	others, err := ts.Store.ListLoginSessions(ctxT(t), notFlagged.ID, time.Now())
	if err != nil || len(others) != 0 {
		t.Errorf("the unflagged admin has sessions: %v %+v", err, others)
	}

	entries, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{Action: domain.ActionBreakGlassLogin, TargetID: bg.ID})
	if err != nil || len(entries) != 1 {
		t.Fatalf("login.break_glass entries: %v %+v", err, entries)
	}
	if e := entries[0]; e.ActorID != bg.ID || e.IPAddress != "127.0.0.1" || e.At.Before(before.Add(-time.Second)) {
		t.Errorf("login.break_glass entry %+v, want the user from 127.0.0.1", e)
	}

	conn, err := pgx.Connect(ctxT(t), ts.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(ctxT(t), `SELECT recipient FROM mail_outbox WHERE subject = $1 ORDER BY recipient`,
		"Emergency account "+bg.Username+" signed in")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{other.Email, notFlagged.Email}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("break-glass notices to %v, want every other admin %v", got, want)
	}
}
