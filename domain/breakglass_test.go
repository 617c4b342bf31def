package domain_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// newBreakGlassEnv is newEnv with mfa.required_roles [admin] and mail on.
func newBreakGlassEnv(t *testing.T) *env {
	t.Helper()
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords:        domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:              c.Now,
		MFARequiredRoles: []string{"admin"},
		Recovery:         domain.RecoveryOptions{MailEnabled: true, Issuer: "https://id.example"},
	})
	return &env{t: t, ctx: t.Context(), clock: c, store: st, svc: svc}
}

// TestBreakGlassSignIn: a break-glass admin is not required to enrol a
// second factor (another admin is), its session lasts an hour however long
// the configured lifetime, the sign-in is audited login.break_glass with
// the address, and every other active admin, and only they, has a notice
// in the outbox.
func TestBreakGlassSignIn(t *testing.T) {
	e := newBreakGlassEnv(t)
	other := e.user("other-admin", "admin")
	third := e.user("third-admin", "admin")
	plain := e.user("plain-user", "user")
	bg := e.user("emergency", "admin")
	yes := true
	bg, err := e.svc.UpdateUser(e.ctx, domain.Operator(domain.CLIActor()), bg.ID, domain.UserPatch{BreakGlass: &yes})
	if err != nil || !bg.BreakGlass {
		t.Fatalf("flag break glass: %v (%+v)", err, bg)
	}
	drain(t, e) // the verification mails of the new users

	for _, tc := range []struct {
		u    store.User
		want bool
	}{{bg, false}, {other, true}, {plain, false}} {
		if got, err := e.svc.MFARequired(e.ctx, tc.u); err != nil || got != tc.want {
			t.Errorf("MFARequired(%s) = %v, %v; want %v", tc.u.Username, got, err, tc.want)
		}
	}

	if _, err := e.svc.Authenticate(e.ctx, bg.Username, goodPassword, "198.51.100.7"); err != nil {
		t.Fatalf("break-glass password sign-in: %v", err)
	}
	start := e.clock.Now()
	ls, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: strings.Repeat("b", 64), User: bg, IP: "198.51.100.7", Lifetime: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatalf("start session: %v", err)
	}
	if got := ls.ExpiresAt.Sub(ls.AuthTime); got != domain.BreakGlassSessionLifetime {
		t.Errorf("break-glass session lifetime %v, want %v", got, domain.BreakGlassSessionLifetime)
	}
	// An ordinary session of the same configuration lasts as configured.
	ordinary, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: strings.Repeat("c", 64), User: other, IP: "192.0.2.9", Lifetime: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	var found bool
	for _, a := range e.audit() {
		if a.Action == domain.ActionBreakGlassLogin {
			found = true
			if a.TargetID != bg.ID || a.ActorID != bg.ID || a.IPAddress != "198.51.100.7" {
				t.Errorf("login.break_glass entry %+v, want the user from 198.51.100.7", a)
			}
		}
	}
	if !found {
		t.Fatal("no login.break_glass audit entry")
	}
	mails, err := e.store.ClaimMail(e.ctx, e.clock.Now(), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, m := range mails {
		to = append(to, m.Recipient)
		if !strings.Contains(m.Subject, bg.Username) || !strings.Contains(m.Body, "198.51.100.7") || !strings.Contains(m.Body, domain.ActionBreakGlassLogin) {
			t.Errorf("notice %q: %q does not name the account, the address and the audit action", m.Subject, m.Body)
		}
	}
	slices.Sort(to)
	if want := []string{other.Email, third.Email}; !slices.Equal(to, want) {
		t.Errorf("notices to %v, want %v (every other admin, not the user, not the break-glass account)", to, want)
	}

	e.clock.Set(start.Add(59 * time.Minute))
	if _, _, err := e.svc.CurrentSession(e.ctx, ls.ID); err != nil {
		t.Fatalf("break-glass session after 59 minutes: %v", err)
	}
	e.clock.Set(start.Add(61 * time.Minute))
	if _, _, err := e.svc.CurrentSession(e.ctx, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("break-glass session after 61 minutes: %v, want ErrNotFound", err)
	}
	if _, _, err := e.svc.CurrentSession(e.ctx, ordinary.ID); err != nil {
		t.Fatalf("ordinary session after 61 minutes: %v", err)
	}

	// Without the flag, no entry and no mail.
	before := len(e.audit())
	if _, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: strings.Repeat("d", 64), User: third, Lifetime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, a := range e.audit()[before:] {
		if a.Action == domain.ActionBreakGlassLogin {
			t.Errorf("an ordinary sign-in was audited as break-glass: %+v", a)
		}
	}
}

func drain(t *testing.T, e *env) {
	t.Helper()
	mails, err := e.store.ClaimMail(e.ctx, e.clock.Now(), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mails {
		if err := e.store.DeleteMail(e.ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestProfileValidation: each profile field's bad values are refused
// naming the field, on create and on update, and good ones are kept.
func TestProfileValidation(t *testing.T) {
	e := newEnv(t)
	u := e.user("grace", "user")
	op := domain.Operator(domain.CLIActor())
	for _, tc := range []struct {
		field string
		patch func(*domain.UserPatch, string)
		bad   []string
		good  []string
	}{
		{"phone_number", func(p *domain.UserPatch, v string) { p.PhoneNumber = &v },
			[]string{"14155550123", "+04155550123", "+1415555", "+1234567890123456", "+1 415 555 0123", "+1415555012a", "++14155550123"},
			[]string{"+14155550123", "+4930123456", "+123456789012345", ""}},
		{"locale", func(p *domain.UserPatch, v string) { p.Locale = &v },
			[]string{"en_US", "english", "e", "en-", "en-US-x-private", "en-USA1", "<script>"},
			[]string{"en", "en-US", "zh-Hant-TW", "es-419", "fr-CA", ""}},
		{"zoneinfo", func(p *domain.UserPatch, v string) { p.Zoneinfo = &v },
			[]string{"Mars/Olympus_Mons", "Local", "../../etc/passwd", "/etc/localtime", "Europe/ Paris", strings.Repeat("A", 65)},
			[]string{"Europe/Paris", "America/Argentina/Buenos_Aires", "UTC", ""}},
		{"picture", func(p *domain.UserPatch, v string) { p.Picture = &v },
			[]string{"http://example.com/a.png", "javascript:alert(1)", "/a.png", "https://", "https://user:pw@example.com/a.png",
				"https://example.com/" + strings.Repeat("a", domain.MaxPictureLength)},
			[]string{"https://example.com/a.png", "https://cdn.example.com/u/1?size=64", ""}},
		{"given_name", func(p *domain.UserPatch, v string) { p.GivenName = &v },
			[]string{"two\nlines", strings.Repeat("g", 201)}, []string{"Grace", ""}},
	} {
		for _, bad := range tc.bad {
			var p domain.UserPatch
			tc.patch(&p, bad)
			_, err := e.svc.UpdateUser(e.ctx, op, u.ID, p)
			if !wantField(err, tc.field) {
				t.Errorf("%s %q: %v, want a validation error naming %s", tc.field, bad, err, tc.field)
			}
			nu := domain.NewUser{Username: "n-" + strings.ToLower(tc.field[:3]), Email: "n@example.com", Password: goodPassword}
			applyNew(&nu, tc.field, bad)
			if _, err := e.svc.CreateUser(e.ctx, admin, nu); !wantField(err, tc.field) {
				t.Errorf("create with %s %q: %v, want a validation error naming %s", tc.field, bad, err, tc.field)
			}
		}
		for _, good := range tc.good {
			var p domain.UserPatch
			tc.patch(&p, good)
			if _, err := e.svc.UpdateUser(e.ctx, op, u.ID, p); err != nil {
				t.Errorf("%s %q refused: %v", tc.field, good, err)
			}
		}
	}
	// phone_number_verified needs a number.
	yes := true
	if _, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{PhoneNumberVerified: &yes}); !wantField(err, "phone_number_verified") {
		t.Errorf("verified without a number: %v", err)
	}
}

func applyNew(nu *domain.NewUser, field, v string) {
	switch field {
	case "phone_number":
		nu.PhoneNumber = v
	case "locale":
		nu.Locale = v
	case "zoneinfo":
		nu.Zoneinfo = v
	case "picture":
		nu.Picture = v
	case "given_name":
		nu.GivenName = v
	}
}

func wantField(err error, field string) bool {
	ve, ok := domain.AsValidation(err)
	if !ok {
		return false
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// TestPhoneVerificationResets: a new number is unverified unless the same
// change verifies it; other edits keep the mark.
func TestPhoneVerificationResets(t *testing.T) {
	e := newEnv(t)
	u := e.user("hopper", "user")
	op := domain.Operator(domain.CLIActor())
	phone, yes := "+14155550123", true
	u, err := e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{PhoneNumber: &phone, PhoneNumberVerified: &yes})
	if err != nil || !u.PhoneNumberVerified {
		t.Fatalf("set verified phone: %v %+v", err, u)
	}
	given := "Grace"
	if u, err = e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{GivenName: &given, PhoneNumber: &phone}); err != nil || !u.PhoneNumberVerified {
		t.Fatalf("same number again: verified %v (%v), want kept", u.PhoneNumberVerified, err)
	}
	other := "+14155550199"
	if u, err = e.svc.UpdateUser(e.ctx, op, u.ID, domain.UserPatch{PhoneNumber: &other}); err != nil || u.PhoneNumberVerified {
		t.Fatalf("new number: verified %v (%v), want reset", u.PhoneNumberVerified, err)
	}
	if got := domain.DisplayName(store.User{GivenName: "Grace", FamilyName: "Hopper"}); got != "Grace Hopper" {
		t.Errorf("DisplayName = %q", got)
	}
	if got := domain.DisplayName(store.User{FullName: "Rear Admiral Hopper", GivenName: "Grace"}); got != "Rear Admiral Hopper" {
		t.Errorf("DisplayName with a full name = %q", got)
	}
}
