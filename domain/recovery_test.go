package domain_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// newMailEnv is newEnv with mail on (recovery and verification tickets).
func newMailEnv(t *testing.T, ro domain.RecoveryOptions) *env {
	t.Helper()
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	ro.Issuer, ro.MailEnabled = "https://id.example", true
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:       c.Now,
		Recovery:  ro,
	})
	return &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
}

var ticketLink = regexp.MustCompile(`https://id\.example(/[a-z/]+)\?ticket=([A-Za-z0-9_-]+)`)

// mails takes every message out of the outbox, as the sender would.
func (e *env) mails() []store.Mail {
	e.t.Helper()
	ms, err := e.store.ClaimMail(e.ctx, e.clock.Now().Add(time.Hour*48), time.Minute, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if err := e.store.DeleteMail(e.ctx, m.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return ms
}

// ticketIn returns the path and ticket of the one link in m.
func (e *env) ticketIn(m store.Mail, path string) string {
	e.t.Helper()
	got := ticketLink.FindStringSubmatch(m.Body)
	if got == nil || got[1] != path {
		e.t.Fatalf("mail %q has no %s link:\n%s", m.Subject, path, m.Body)
	}
	return got[2]
}

func TestPasswordResetFlow(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	u := e.user("alice", "user")
	e.mails() // the verification mail of the new address

	if err := e.svc.RequestPasswordReset(e.ctx, "192.0.2.7", "ALICE@example.com"); err != nil {
		t.Fatalf("RequestPasswordReset: %v", err)
	}
	ms := e.mails()
	if len(ms) != 1 || ms[0].Recipient != u.Email || ms[0].Subject != "Reset your password" {
		t.Fatalf("outbox = %+v, want one reset mail to %s", ms, u.Email)
	}
	token := e.ticketIn(ms[0], "/password/reset")
	if !strings.Contains(ms[0].Body, "within 1 hour") {
		t.Errorf("reset mail does not give the lifetime:\n%s", ms[0].Body)
	}

	// A session and a grant that the reset must end.
	ls, err := e.svc.StartSession(e.ctx, domain.NewSession{User: u, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateClient(e.ctx, store.Client{ID: "web"}); err != nil {
		t.Fatal(err)
	}
	// One grant made in the session, one outside any (a refresh token kept
	// by a client the session is gone from).
	for i, sid := range []string{ls.ID, ""} {
		if err := e.store.CreateToken(e.ctx, store.Token{Kind: store.KindRefreshToken, Signature: "sig" + string(rune('0'+i)),
			RequestID: "req" + string(rune('0'+i)), ClientID: "web", Subject: u.ID, UserID: u.ID, LoginSessionID: sid,
			RequestedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour), Active: true}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := e.svc.CheckResetTicket(e.ctx, token); err != nil {
		t.Fatalf("CheckResetTicket: %v", err)
	}
	_, err = e.svc.ResetPassword(e.ctx, "192.0.2.7", token, "short")
	if v, ok := domain.AsValidation(err); !ok || v.Field("password") == "" {
		t.Fatalf("ResetPassword with a short password: %v, want a password ValidationError", err)
	}
	_, err = e.svc.ResetPassword(e.ctx, "192.0.2.7", token, "alice-password-1")
	if _, ok := domain.AsValidation(err); !ok {
		t.Fatalf("ResetPassword with the username inside: %v, want a ValidationError", err)
	}
	before := e.lastID()
	if _, err := e.svc.ResetPassword(e.ctx, "192.0.2.7", token, "a brand new secret"); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("the old password after the reset: %v, want ErrInvalidCredentials", err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", "a brand new secret", ""); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if _, _, err := e.svc.CurrentSession(e.ctx, ls.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session after the reset: %v, want it ended", err)
	}
	if sessions, _ := e.store.ListLoginSessions(e.ctx, u.ID, time.Time{}); len(sessions) != 0 {
		t.Errorf("sessions after the reset = %d, want 0", len(sessions))
	}
	for _, sig := range []string{"sig0", "sig1"} {
		if tok, err := e.store.GetToken(e.ctx, store.KindRefreshToken, sig); err != nil || tok.Active {
			t.Errorf("refresh token %s after the reset: active %v, %v; want inactive", sig, tok.Active, err)
		}
	}
	ms = e.mails()
	if len(ms) != 1 || ms[0].Subject != "Your password was changed" || ticketLink.MatchString(ms[0].Body) {
		t.Errorf("after the reset the outbox = %+v, want the changed notice without a link", ms)
	}
	var reset *store.AuditEntry
	for _, en := range e.audit() {
		if en.ID > before && en.Action == "password.reset" {
			reset = &en
		}
	}
	if reset == nil || reset.TargetID != u.ID || reset.IPAddress != "192.0.2.7" {
		t.Fatalf("no password.reset entry for the user: %+v", e.audit())
	}
	if strings.Contains(string(reset.Changes), "brand") || strings.Contains(string(reset.Changes), token) {
		t.Errorf("the audit entry holds a secret: %s", reset.Changes)
	}

	// Used once.
	if _, err := e.svc.ResetPassword(e.ctx, "", token, "another new secret"); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("the ticket again: %v, want ErrInvalidTicket", err)
	}
	if _, err := e.svc.CheckResetTicket(e.ctx, token); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("CheckResetTicket of a used ticket: %v, want ErrInvalidTicket", err)
	}
}

func TestPasswordResetOncePerMinute(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	e.user("nina", "user")
	e.mails()
	for range 3 {
		if err := e.svc.RequestPasswordReset(e.ctx, "", "nina"); err != nil {
			t.Fatal(err)
		}
	}
	if ms := e.mails(); len(ms) != 1 {
		t.Errorf("three requests within a minute queued %d mails, want 1", len(ms))
	}
	e.clock.Advance(domain.ResendInterval)
	if err := e.svc.RequestPasswordReset(e.ctx, "", "nina"); err != nil {
		t.Fatal(err)
	}
	if ms := e.mails(); len(ms) != 1 {
		t.Errorf("a request a minute later queued %d mails, want 1", len(ms))
	}
	n := 0
	for _, en := range e.audit() {
		if en.Action == "password.reset_request" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d password.reset_request entries, want 4 (each request is recorded)", n)
	}
}

func TestPasswordResetLockoutLifted(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	e.user("bob", "user")
	for range domain.DefaultLockoutThreshold {
		_, _ = e.svc.Authenticate(e.ctx, "bob", "wrong password", "")
	}
	e.mails()
	if err := e.svc.RequestPasswordReset(e.ctx, "", "bob"); err != nil {
		t.Fatal(err)
	}
	token := e.ticketIn(e.mails()[0], "/password/reset")
	if _, err := e.svc.ResetPassword(e.ctx, "", token, "a brand new secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "bob", "a brand new secret", ""); err != nil {
		t.Errorf("sign-in after a reset of a locked-out user: %v", err)
	}
}

func TestPasswordResetUnknownAccount(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	e.user("carol", "user")
	e.mails()
	for _, name := range []string{"nobody", "nobody@example.com", "", strings.Repeat("x", 400), "bad\x00name"} {
		if err := e.svc.RequestPasswordReset(e.ctx, "192.0.2.9", name); err != nil {
			t.Errorf("RequestPasswordReset(%q) = %v, want nil as for a known account", name, err)
		}
	}
	if ms := e.mails(); len(ms) != 0 {
		t.Errorf("mail queued for unknown accounts: %+v", ms)
	}
	n := 0
	for _, en := range e.audit() {
		if en.Action == "password.reset_request" {
			n++
			if en.TargetID != "" || en.IPAddress != "192.0.2.9" || en.ActorType != store.ActorAnonymous {
				t.Errorf("entry for an unknown account = %+v", en)
			}
		}
	}
	if n != 5 {
		t.Errorf("%d password.reset_request entries, want 5", n)
	}
}

func TestPasswordResetExpiredAndForged(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{TicketLifetime: 10 * time.Minute})
	e.user("dave", "user")
	e.mails()
	if err := e.svc.RequestPasswordReset(e.ctx, "", "dave"); err != nil {
		t.Fatal(err)
	}
	token := e.ticketIn(e.mails()[0], "/password/reset")
	e.clock.Advance(10 * time.Minute)
	for name, tk := range map[string]string{
		"expired": token, "forged": strings.Repeat("A", 43), "malformed": "not a ticket", "empty": "",
	} {
		if _, err := e.svc.ResetPassword(e.ctx, "", tk, "a brand new secret"); !errors.Is(err, domain.ErrInvalidTicket) ||
			domain.ErrorCode(err) != domain.CodeNotFound {
			t.Errorf("%s ticket: %v, want ErrInvalidTicket (not_found)", name, err)
		}
	}
	if _, err := e.svc.Authenticate(e.ctx, "dave", goodPassword, ""); err != nil {
		t.Errorf("the password after refused resets: %v", err)
	}
}

func TestPasswordResetConcurrentUseOnce(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	e.user("erin", "user")
	e.mails()
	if err := e.svc.RequestPasswordReset(e.ctx, "", "erin"); err != nil {
		t.Fatal(err)
	}
	token := e.ticketIn(e.mails()[0], "/password/reset")
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.svc.ResetPassword(e.ctx, "", token, "concurrent secret "+string(rune('a'+i))) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, domain.ErrInvalidTicket):
			t.Errorf("a losing reset: %v, want ErrInvalidTicket", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent resets with one ticket succeeded, want 1", wins, n)
	}
}

func TestAdminPasswordReset(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	root := e.user("root", "admin")
	u := e.user("frank", "user")
	e.mails()
	if err := e.svc.SendPasswordReset(e.ctx, e.principal(root), u.ID); err != nil {
		t.Fatalf("SendPasswordReset: %v", err)
	}
	ms := e.mails()
	if len(ms) != 1 || ms[0].Recipient != u.Email {
		t.Fatalf("outbox = %+v", ms)
	}
	e.ticketIn(ms[0], "/password/reset")
	if err := e.svc.SendPasswordReset(e.ctx, e.principal(u), root.ID); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Errorf("a user sending an admin a reset: %v, want forbidden", err)
	}
	entries := e.audit()
	if last := entries[len(entries)-1]; last.Action != "password.reset_send" || last.TargetID != u.ID || last.ActorID != root.ID {
		t.Errorf("last entry = %+v, want password.reset_send by root", last)
	}
	// No address: refused, and no ticket stored for it.
	// (Created with one, as every user is, then cleared in the store.)
	nomail := e.user("hal", "user")
	nomail.Email = ""
	if err := e.store.UpdateUser(e.ctx, nomail); err != nil {
		t.Fatal(err)
	}
	e.mails()
	if err := e.svc.SendPasswordReset(e.ctx, e.principal(root), nomail.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("a reset mail for a user without an address: %v, want conflict", err)
	}
	if last, err := e.store.LastTicketAt(e.ctx, nomail.ID, store.TicketPasswordReset); err != nil || !last.IsZero() {
		t.Errorf("LastTicketAt after the refused reset = %v, %v; want no ticket", last, err)
	}
	if ms := e.mails(); len(ms) != 0 {
		t.Errorf("outbox after the refused reset = %+v", ms)
	}

	off := newEnv(t)
	v := off.user("gina", "user")
	if err := off.svc.SendPasswordReset(off.ctx, domain.Principal{}, v.ID); !errors.Is(err, domain.ErrMailDisabled) {
		t.Errorf("SendPasswordReset without mail: %v, want ErrMailDisabled", err)
	}
	if err := off.svc.RequestPasswordReset(off.ctx, "", "gina"); !errors.Is(err, domain.ErrMailDisabled) {
		t.Errorf("RequestPasswordReset without mail: %v, want ErrMailDisabled", err)
	}
}

func TestOutboxFullRefused(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{OutboxMaxRows: 2})
	// Two users: their verification mails fill the outbox.
	e.user("hank", "user")
	e.user("ivy", "user")
	err := e.svc.RequestPasswordReset(e.ctx, "", "hank")
	if !errors.Is(err, store.ErrOutboxFull) || domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("RequestPasswordReset with a full outbox: %v, want ErrOutboxFull (unavailable)", err)
	}
	// Nobody's request meets the same refusal: the answer does not tell.
	if err := e.svc.RequestPasswordReset(e.ctx, "", "nobody"); !errors.Is(err, store.ErrOutboxFull) {
		t.Errorf("RequestPasswordReset for nobody with a full outbox: %v, want ErrOutboxFull as for an account", err)
	}
	// Nothing of the refused requests stays: no ticket, no entry.
	for _, en := range e.audit() {
		if en.Action == "password.reset_request" {
			t.Errorf("a refused request was audited: %+v", en)
		}
	}
	// A user created while the outbox is full still is; it can ask again.
	if _, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "jack", Email: "jack@example.com"}); err != nil {
		t.Errorf("CreateUser with a full outbox: %v", err)
	}
}

func TestEmailVerification(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	u := e.user("kim", "user")
	if u.EmailVerified {
		t.Fatal("a new user's address is verified")
	}
	ms := e.mails()
	if len(ms) != 1 || ms[0].Recipient != u.Email || ms[0].Subject != "Verify your email address" {
		t.Fatalf("outbox after CreateUser = %+v", ms)
	}
	token := e.ticketIn(ms[0], "/email/verify")
	if !strings.Contains(ms[0].Body, "within 1 day") {
		t.Errorf("verification mail does not give the lifetime:\n%s", ms[0].Body)
	}
	if _, err := e.svc.ResetPassword(e.ctx, "", token, "a brand new secret"); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("a verification ticket as a reset ticket: %v, want ErrInvalidTicket", err)
	}
	got, err := e.svc.VerifyEmail(e.ctx, "192.0.2.3", token)
	if err != nil || !got.EmailVerified {
		t.Fatalf("VerifyEmail = %+v, %v", got, err)
	}
	if stored, _ := e.svc.GetUser(e.ctx, u.ID); !stored.EmailVerified {
		t.Error("stored user not verified")
	}
	if _, err := e.svc.VerifyEmail(e.ctx, "", token); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("the link again: %v, want ErrInvalidTicket", err)
	}

	// A changed address is unverified and gets a link of its own; the old
	// address's link verifies nothing.
	p := e.principal(u)
	if err := e.svc.SendEmailVerification(e.ctx, p, u.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("resend for a verified address: %v, want conflict", err)
	}
	e.clock.Advance(2 * time.Minute)
	if err := e.svc.SendEmailVerification(e.ctx, p, u.ID); domain.ErrorCode(err) != domain.CodeConflict {
		t.Errorf("resend for a verified address: %v, want conflict", err)
	}
	email := "kim.new@example.com"
	changed, err := e.svc.UpdateUser(e.ctx, p, u.ID, domain.UserPatch{Email: &email})
	if err != nil || changed.EmailVerified {
		t.Fatalf("UpdateUser email = %+v, %v; want unverified", changed, err)
	}
	ms = e.mails()
	if len(ms) != 1 || ms[0].Recipient != email {
		t.Fatalf("outbox after the change = %+v", ms)
	}
	newToken := e.ticketIn(ms[0], "/email/verify")

	// Resend: at most one per minute per user.
	var rl *domain.RateLimitedError
	if err := e.svc.SendEmailVerification(e.ctx, p, u.ID); !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute {
		t.Fatalf("resend right after the change's mail: %v, want RateLimitedError within a minute", err)
	}
	e.clock.Advance(time.Minute)
	if err := e.svc.SendEmailVerification(e.ctx, p, u.ID); err != nil {
		t.Fatalf("resend a minute later: %v", err)
	}
	resent := e.ticketIn(e.mails()[0], "/email/verify")

	// Back to the first address: a link to the second verifies nothing.
	email2 := "kim.third@example.com"
	if _, err := e.svc.UpdateUser(e.ctx, p, u.ID, domain.UserPatch{Email: &email2}); err != nil {
		t.Fatal(err)
	}
	e.mails()
	if _, err := e.svc.VerifyEmail(e.ctx, "", newToken); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("a link to a former address: %v, want ErrInvalidTicket", err)
	}
	if _, err := e.svc.VerifyEmail(e.ctx, "", resent); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("a resent link to a former address: %v, want ErrInvalidTicket", err)
	}
	if stored, _ := e.svc.GetUser(e.ctx, u.ID); stored.EmailVerified {
		t.Error("verified by a link to a former address")
	}
}

func TestRequireVerifiedEmail(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{RequireVerifiedEmail: true})
	u, err := e.svc.CreateUser(e.ctx, domain.Actor{Type: store.ActorAnonymous}, domain.NewUser{
		Username: "lena", Email: "lena@example.com", Password: goodPassword, Status: store.StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	if !e.svc.MustVerifyEmail(u) {
		t.Error("MustVerifyEmail of a new pending user = false")
	}
	_, err = e.svc.SubmitAccessRequest(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, "user", "work")
	if !errors.Is(err, domain.ErrEmailUnverified) || domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("access request before verifying: %v, want ErrEmailUnverified", err)
	}
	token := e.ticketIn(e.mails()[0], "/email/verify")
	if _, err := e.svc.VerifyEmail(e.ctx, "", token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SubmitAccessRequest(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, "user", "work"); err != nil {
		t.Errorf("access request after verifying: %v", err)
	}
}

func TestNoVerificationMailWithoutSMTP(t *testing.T) {
	e := newEnv(t)
	e.user("mona", "user")
	if n, _ := e.store.CountMail(e.ctx); n != 0 {
		t.Errorf("%d mails queued without SMTP", n)
	}
}

func TestPasswordResetOfADisabledUser(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	root := e.user("root", "admin")
	u := e.user("oscar", "user")
	e.mails()
	if err := e.svc.RequestPasswordReset(e.ctx, "", "oscar"); err != nil {
		t.Fatal(err)
	}
	token := e.ticketIn(e.mails()[0], "/password/reset")
	if _, err := e.svc.SetUserStatus(e.ctx, e.principal(root), u.ID, store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResetPassword(e.ctx, "", token, "a brand new secret"); !errors.Is(err, domain.ErrInvalidTicket) {
		t.Errorf("a disabled user's reset: %v, want ErrInvalidTicket", err)
	}
	if err := e.svc.RequestPasswordReset(e.ctx, "", "oscar"); err != nil {
		t.Fatal(err)
	}
	if ms := e.mails(); len(ms) != 0 {
		t.Errorf("a disabled user was sent a reset link: %+v", ms)
	}
}

// TestResetLiftsTheLockout: an address refused after wrong passwords (the
// owner's own, say, who then forgot the password) signs in with the new
// password once the reset is done.
func TestResetLiftsTheLockout(t *testing.T) {
	e := newMailEnv(t, domain.RecoveryOptions{})
	e.user("alice", "user")
	e.mails()
	const ip = "192.0.2.66"
	for range domain.DefaultLockoutThreshold {
		if _, err := e.svc.Authenticate(e.ctx, "alice", "not the password", ip); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if err := e.svc.RequestPasswordReset(e.ctx, ip, "alice"); err != nil {
		t.Fatal(err)
	}
	token := e.ticketIn(e.mails()[0], "/password/reset")
	if _, err := e.svc.ResetPassword(e.ctx, ip, token, "a brand new secret"); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", "a brand new secret", ip); err != nil {
		t.Fatalf("new password from the refused address: %v, want a sign-in", err)
	}
}

func TestRateLimitedErrorRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {59*time.Second + 500*time.Millisecond, 60}, {time.Minute, 60}} {
		if got := (&domain.RateLimitedError{RetryAfter: c.d}).RetryAfterSeconds(); got != c.want {
			t.Errorf("RetryAfterSeconds(%s) = %d, want %d", c.d, got, c.want)
		}
	}
}
