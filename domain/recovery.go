package domain

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// Password recovery and email verification: a single-use ticket, emailed
// to the user as a link, proves that whoever follows the link reads the
// user's mail. The rules of both live here; the pages, the API and the CLI
// only ask.

// RecoveryOptions configure tickets and the mail that carries them.
type RecoveryOptions struct {
	// Issuer is the base URL the emailed links point under.
	Issuer string
	// MailEnabled is true when SMTP is configured: only then are recovery
	// and verification mails queued (they would wait for ever otherwise).
	MailEnabled bool
	// TicketLifetime is how long a password-reset link works (default 1h).
	TicketLifetime time.Duration
	// VerificationLifetime is how long a verification link works (default 24h).
	VerificationLifetime time.Duration
	// OutboxMaxRows bounds the mail outbox (0: no bound).
	OutboxMaxRows int
	// RequireVerifiedEmail makes a pending user verify its email before it
	// may submit an access request.
	RequireVerifiedEmail bool
}

// Defaults of the zero RecoveryOptions fields.
const (
	DefaultTicketLifetime       = time.Hour
	DefaultVerificationLifetime = 24 * time.Hour
	// ResendInterval is the least time between two verification mails a
	// user asks for.
	ResendInterval = time.Minute
)

// ticketBytes is the entropy of a ticket token.
const ticketBytes = 32

var (
	// ErrInvalidTicket: a ticket is unknown (forged), used, expired, of
	// another purpose, or its user may no longer act. One error for all,
	// so that the page shown does not tell them apart.
	ErrInvalidTicket = errors.New("invalid ticket")
	// ErrMailDisabled: the operation needs email and SMTP is not configured.
	ErrMailDisabled = errors.New("email is not configured")
)

// RateLimitedError refuses an operation asked for again too soon.
type RateLimitedError struct {
	// RetryAfter is how long until it would be accepted.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("asked again too soon; retry in %s", e.RetryAfter.Round(time.Second))
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up and at
// least 1: the value of a Retry-After header.
func (e *RateLimitedError) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

// newTicketToken returns a fresh random token (what the link carries) and
// its digest (what the store keeps).
func newTicketToken() (token string, digest []byte, err error) {
	b := make([]byte, ticketBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("domain: ticket: random: %w", err)
	}
	d := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), d[:], nil
}

// ticketDigest is the digest of a token as the link carried it; ok is false
// for anything newTicketToken cannot have made (a forged ticket). The
// store's lookup by digest is an index search, not a comparison of secrets,
// so no timing tells anything about the stored tickets.
func ticketDigest(token string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || len(b) != ticketBytes {
		return nil, false
	}
	d := sha256.Sum256(b)
	return d[:], true
}

func (s *Service) ticketLifetime() time.Duration {
	if s.opts.Recovery.TicketLifetime > 0 {
		return s.opts.Recovery.TicketLifetime
	}
	return DefaultTicketLifetime
}

func (s *Service) verificationLifetime() time.Duration {
	if s.opts.Recovery.VerificationLifetime > 0 {
		return s.opts.Recovery.VerificationLifetime
	}
	return DefaultVerificationLifetime
}

// link is the issuer's URL of path with the ticket token.
func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.opts.Recovery.Issuer, "/") + path + "?ticket=" + token
}

// MailEnabled reports whether recovery and verification mail is sent.
func (s *Service) MailEnabled() bool { return s.opts.Recovery.MailEnabled }

// enqueue queues a message for the address to in the outbox, in the
// caller's transaction.
func (s *Service) enqueue(ctx context.Context, to, subject, body string) error {
	now := s.now()
	err := s.store.EnqueueMail(ctx, store.Mail{
		ID: uuid.NewString(), Recipient: to, Subject: subject, Body: body,
		NextAttemptAt: now, CreatedAt: now,
	}, s.opts.Recovery.OutboxMaxRows)
	if errors.Is(err, store.ErrOutboxFull) {
		return &Error{Code: CodeUnavailable, Message: "too much mail is waiting to be sent; try again later", Err: err}
	}
	return err
}

// issueTicket stores the ticket of digest (newTicketToken's) with purpose
// for u, in the caller's transaction.
func (s *Service) issueTicket(ctx context.Context, u store.User, purpose store.TicketPurpose, token string, digest []byte) error {
	now := s.now()
	life := s.ticketLifetime()
	email := ""
	if purpose == store.TicketEmailVerification {
		life, email = s.verificationLifetime(), u.Email
	}
	return s.store.CreateTicket(ctx, store.Ticket{Digest: digest, Purpose: purpose, UserID: u.ID, Email: email,
		CreatedAt: now, ExpiresAt: now.Add(life)})
}

// RequestPasswordReset is the forgot-password form: name is a username or
// an email address. When it names a user who may sign in and has an email
// address, a reset ticket is stored and its link queued for mail, in one
// transaction with the audit entry "password.reset_request"; otherwise only
// the entry is written (with an empty target). Either way the answer is
// nil and the work is the same, store calls included: one lookup, one
// token, one mail composed, and in a savepoint the outbox insert and the
// ticket insert. For nobody the ticket names a user that does not exist,
// which the store refuses, and the savepoint is undone: the page and its
// timing must not tell which accounts exist. The mail is sent by the
// outbox's sender, never during the request. With mail disabled it records
// the request and does nothing else (ErrMailDisabled). A full outbox is a
// CodeUnavailable error, for an account and for nobody alike. An account
// that was sent a link less than ResendInterval ago is sent none (its
// request goes the way of nobody's, audited with the user as target).
func (s *Service) RequestPasswordReset(ctx context.Context, ip, name string) error {
	token, digest, err := newTicketToken()
	if err != nil {
		return err
	}
	u, err := s.signInUser(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = store.User{}
	case err != nil:
		return fmt.Errorf("domain: request password reset: %w", err)
	}
	known := u.ID != "" && u.Email != "" && UserCanAct(u, s.now(), ActKeepSession)
	audited := ""
	if known {
		audited = u.ID
	}
	lookup := u.ID
	if !known {
		lookup = uuid.NewString()
	}
	// One mail a minute per account at most, so that the form cannot
	// flood a mailbox (or fill the outbox with one account's mail). The
	// lookup is made for nobody too.
	last, err := s.store.LastTicketAt(ctx, lookup, store.TicketPasswordReset)
	if err != nil {
		return fmt.Errorf("domain: request password reset: %w", err)
	}
	send := known && (last.IsZero() || s.now().Sub(last) >= ResendInterval)
	target := u
	if !send {
		// Nobody (a user id that does not exist, whose ticket the store
		// refuses) or an account sent a link within the minute: the same
		// inserts are made, and undone with their savepoint.
		target = store.User{ID: lookup}
	}
	subject, body := resetMail(target, s.link("/password/reset", token), s.ticketLifetime())
	errNobody := errors.New("no account: undo")
	err = s.inTx(ctx, "request password reset", func(ctx context.Context) error {
		if s.MailEnabled() {
			err := store.InTx(ctx, s.store, func(ctx context.Context) error {
				if err := s.enqueue(ctx, target.Email, subject, body); err != nil {
					return err
				}
				err := s.issueTicket(ctx, target, store.TicketPasswordReset, token, digest)
				if !send && (err == nil || errors.Is(err, store.ErrNotFound)) {
					return errNobody
				}
				return err
			})
			if err != nil && !errors.Is(err, errNobody) {
				return err
			}
		}
		return s.audit(ctx, Actor{Type: store.ActorAnonymous, IP: ip}, "password.reset_request", TargetUser, audited, nil)
	})
	if err != nil {
		return err
	}
	if !s.MailEnabled() {
		return ErrMailDisabled
	}
	return nil
}

// SendPasswordReset mails the user a reset link on an administrator's
// behalf ("password.reset_send" on the user). ErrMailDisabled without mail,
// a CodeConflict error if the user has no email address.
func (s *Service) SendPasswordReset(ctx context.Context, p Principal, userID string) error {
	if !s.MailEnabled() {
		return &Error{Code: CodeConflict, Message: "email is not configured on this server", Err: ErrMailDisabled}
	}
	_, err := s.adminResetTicket(ctx, p, userID, true)
	return err
}

// PasswordResetLink stores a reset ticket for the user and returns its link
// instead of mailing it, for an operator at the CLI when mail is off
// ("password.reset_link" on the user; the link itself is not recorded).
func (s *Service) PasswordResetLink(ctx context.Context, p Principal, userID string) (string, error) {
	return s.adminResetTicket(ctx, p, userID, false)
}

func (s *Service) adminResetTicket(ctx context.Context, p Principal, userID string, mail bool) (string, error) {
	if err := notFoundID("user", userID); err != nil {
		return "", err
	}
	token, digest, err := newTicketToken()
	if err != nil {
		return "", err
	}
	link := s.link("/password/reset", token)
	err = s.inTx(ctx, "send password reset", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		if !UserCanAct(u, s.now(), ActKeepSession) {
			return conflict("user %s is %s: it cannot sign in", u.ID, u.EffectiveStatus(s.now()))
		}
		if mail && u.Email == "" {
			return conflict("user %s has no email address", u.ID)
		}
		if err := s.issueTicket(ctx, u, store.TicketPasswordReset, token, digest); err != nil {
			return err
		}
		action := "password.reset_link"
		if mail {
			subject, body := resetMail(u, link, s.ticketLifetime())
			if err := s.enqueue(ctx, u.Email, subject, body); err != nil {
				return err
			}
			action = "password.reset_send"
		}
		return s.audit(ctx, p.Actor, action, TargetUser, u.ID, nil)
	})
	if err != nil {
		return "", err
	}
	return link, nil
}

// CheckResetTicket returns the user a reset ticket is for, if it can still
// be used; ErrInvalidTicket (wrapped) otherwise. It uses nothing up: the
// form page calls it to show the form or the invalid-ticket page.
func (s *Service) CheckResetTicket(ctx context.Context, token string) (store.User, error) {
	_, u, err := s.usableTicket(ctx, store.TicketPasswordReset, token)
	return u, err
}

func (s *Service) usableTicket(ctx context.Context, purpose store.TicketPurpose, token string) (store.Ticket, store.User, error) {
	digest, ok := ticketDigest(token)
	if !ok {
		return store.Ticket{}, store.User{}, notFoundTicket()
	}
	now := s.now()
	t, err := s.store.GetTicket(ctx, purpose, digest, now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Ticket{}, store.User{}, notFoundTicket()
	}
	if err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("domain: get ticket: %w", err)
	}
	u, err := s.store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !UserCanAct(u, now, ActKeepSession)) {
		return store.Ticket{}, store.User{}, notFoundTicket()
	}
	if err != nil {
		return store.Ticket{}, store.User{}, fmt.Errorf("domain: get ticket user: %w", err)
	}
	return t, u, nil
}

func notFoundTicket() error {
	return &Error{Code: CodeNotFound, Message: "the link is invalid, used or expired", Err: ErrInvalidTicket}
}

// ResetPassword sets the password of the user a reset ticket is for. The
// policy is the password policy (Passwords.Validate, a ValidationError for
// "password"); then, in one transaction, the ticket is used (of two
// concurrent resets with one ticket exactly one succeeds: the other gets
// ErrInvalidTicket and changes nothing), the password replaced, the
// lockout after failed sign-ins lifted (the user has just proved it reads
// its mail), every login session ended and every grant revoked (refresh
// and access tokens), a "your password was changed" mail queued and
// "password.reset" audited. The password itself is never recorded.
func (s *Service) ResetPassword(ctx context.Context, ip, token, password string) (store.User, error) {
	t, u, err := s.usableTicket(ctx, store.TicketPasswordReset, token)
	if err != nil {
		return store.User{}, err
	}
	if err := s.opts.Passwords.Validate(password, u.Username, u.Email, u.FullName); err != nil {
		return store.User{}, err
	}
	hash, err := s.opts.Passwords.Hash(password)
	if err != nil {
		return store.User{}, err
	}
	var out store.User
	err = s.inTx(ctx, "reset password", func(ctx context.Context) error {
		if _, err := s.store.UseTicket(ctx, store.TicketPasswordReset, t.Digest, s.now()); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFoundTicket()
			}
			return err
		}
		cur, err := s.store.GetUserForUpdate(ctx, t.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundTicket()
		}
		if err != nil {
			return err
		}
		now := s.now()
		if !UserCanAct(cur, now, ActKeepSession) {
			// Locked or disabled while the password was being hashed: the
			// ticket is refused (and, rolled back, stays unused).
			return notFoundTicket()
		}
		cur.PasswordHash, cur.UpdatedAt = hash, now
		cur.FailedLogins, cur.LockedUntil = 0, nil
		if err := s.store.UpdateUser(ctx, cur); err != nil {
			return err
		}
		// The owner proved itself by the mailbox: the addresses its own
		// (or anyone's) wrong passwords refused are let in again.
		if err := s.store.ClearUserSignInFailures(ctx, cur.ID); err != nil {
			return err
		}
		grants, err := s.store.RevokeGrantsByUser(ctx, cur.ID, "")
		if err != nil {
			return err
		}
		if err := s.endSessions(ctx, cur.ID); err != nil {
			return err
		}
		if cur.Email != "" && s.MailEnabled() {
			subject, body := passwordChangedMail(cur, s.opts.Recovery.Issuer)
			// The reset stands even if the notice cannot be queued: the
			// user is on the page that says so.
			if err := s.tryEnqueue(ctx, cur.Email, subject, body); err != nil {
				return err
			}
		}
		out = cur
		return s.audit(ctx, Actor{Type: store.ActorUser, ID: cur.ID, IP: ip}, "password.reset", TargetUser, cur.ID,
			changes{"password": passwordChanged, "grants": {Before: grants, After: 0}})
	})
	if err != nil {
		return store.User{}, err
	}
	return out, nil
}

// tryEnqueue is enqueue in a savepoint: a full outbox is logged and leaves
// the caller's transaction as it was; other failures are returned.
func (s *Service) tryEnqueue(ctx context.Context, to, subject, body string) error {
	err := store.InTx(ctx, s.store, func(ctx context.Context) error { return s.enqueue(ctx, to, subject, body) })
	if errors.Is(err, store.ErrOutboxFull) {
		s.opts.Logger.WarnContext(ctx, "mail outbox full; a notice was not queued", "subject", subject)
		return nil
	}
	return err
}

// queueVerification stores a verification ticket for u's address and
// queues its link, in a savepoint of the caller's transaction (a user
// created or changed is not refused because the outbox is full; the user
// can ask for another link). Nothing without mail or an address, or when
// the address is verified already.
func (s *Service) queueVerification(ctx context.Context, u store.User) error {
	if !s.MailEnabled() || u.Email == "" || u.EmailVerified {
		return nil
	}
	token, digest, err := newTicketToken()
	if err != nil {
		return err
	}
	subject, body := verificationMail(u, s.link("/email/verify", token), s.verificationLifetime())
	err = store.InTx(ctx, s.store, func(ctx context.Context) error {
		if err := s.issueTicket(ctx, u, store.TicketEmailVerification, token, digest); err != nil {
			return err
		}
		return s.enqueue(ctx, u.Email, subject, body)
	})
	if errors.Is(err, store.ErrOutboxFull) {
		s.opts.Logger.WarnContext(ctx, "mail outbox full; a verification link was not queued", "user_id", u.ID)
		return nil
	}
	return err
}

// SendEmailVerification mails the user a new verification link
// ("email.verification_send"). At most one per ResendInterval per user
// (counted from the last link sent, whoever asked): sooner is a
// *RateLimitedError. A verified address is a CodeConflict error;
// ErrMailDisabled (CodeConflict) without mail.
func (s *Service) SendEmailVerification(ctx context.Context, p Principal, userID string) error {
	if !s.MailEnabled() {
		return &Error{Code: CodeConflict, Message: "email is not configured on this server", Err: ErrMailDisabled}
	}
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	token, digest, err := newTicketToken()
	if err != nil {
		return err
	}
	return s.inTx(ctx, "send email verification", func(ctx context.Context) error {
		// Held, so that two resends at once are counted one after the other.
		u, err := s.store.GetUserForUpdate(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		if u.Email == "" {
			return conflict("user %s has no email address", u.ID)
		}
		if u.EmailVerified {
			return conflict("the email address is verified already")
		}
		last, err := s.store.LastTicketAt(ctx, u.ID, store.TicketEmailVerification)
		if err != nil {
			return err
		}
		if wait := last.Add(ResendInterval).Sub(s.now()); !last.IsZero() && wait > 0 {
			return &RateLimitedError{RetryAfter: wait}
		}
		if err := s.issueTicket(ctx, u, store.TicketEmailVerification, token, digest); err != nil {
			return err
		}
		subject, body := verificationMail(u, s.link("/email/verify", token), s.verificationLifetime())
		if err := s.enqueue(ctx, u.Email, subject, body); err != nil {
			return err
		}
		return s.audit(ctx, p.Actor, "email.verification_send", TargetUser, u.ID, nil)
	})
}

// VerifyEmail follows a verification link: the ticket is used and, if the
// user's address is still the one it was sent to, marked verified
// ("email.verify", in one transaction). Any other ticket, or one for an
// address since changed, is ErrInvalidTicket.
func (s *Service) VerifyEmail(ctx context.Context, ip, token string) (store.User, error) {
	digest, ok := ticketDigest(token)
	if !ok {
		return store.User{}, notFoundTicket()
	}
	var out store.User
	err := s.inTx(ctx, "verify email", func(ctx context.Context) error {
		now := s.now()
		t, err := s.store.UseTicket(ctx, store.TicketEmailVerification, digest, now)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundTicket()
		}
		if err != nil {
			return err
		}
		cur, err := s.store.GetUserForUpdate(ctx, t.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return notFoundTicket()
		}
		if err != nil {
			return err
		}
		if !strings.EqualFold(cur.Email, t.Email) || !UserCanAct(cur, now, ActKeepSession) {
			return notFoundTicket()
		}
		out = cur
		if cur.EmailVerified {
			return nil
		}
		cur.EmailVerified, cur.UpdatedAt = true, now
		if err := s.store.UpdateUser(ctx, cur); err != nil {
			return err
		}
		out = cur
		return s.audit(ctx, Actor{Type: store.ActorUser, ID: cur.ID, IP: ip}, "email.verify", TargetUser, cur.ID,
			changes{"email_verified": {Before: false, After: true}})
	})
	if err != nil {
		// A ticket refused inside the transaction was rolled back: used
		// again later it is refused again (used, or the address differs).
		return store.User{}, err
	}
	return out, nil
}

// ErrEmailUnverified: registration.require_verified_email holds and the
// user has not followed its verification link yet.
var ErrEmailUnverified = errors.New("email address not verified")

// MustVerifyEmail reports whether u must verify its email address before it
// may request access (registration.require_verified_email), so that the
// access-request page can say why before the person fills it in.
func (s *Service) MustVerifyEmail(u store.User) bool {
	return s.opts.Recovery.RequireVerifiedEmail && u.Status == store.StatusPending && !u.EmailVerified
}

func (s *Service) mayRequestAccess(u store.User) error {
	if s.MustVerifyEmail(u) {
		return &Error{Code: CodeForbidden, Message: "verify your email address before requesting access", Err: ErrEmailUnverified}
	}
	return nil
}
