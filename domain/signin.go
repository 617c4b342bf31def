package domain

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/internal/ratelimit"
	"github.com/gatehouse/gatehouse/store"
)

// Authenticate checks a username (or email) and password: unknown users,
// wrong passwords, users not active or temporarily locked all give
// ErrInvalidCredentials, in equal time (one password hash). Failures are
// counted per (account, address) ("login.failure"): LockoutThreshold of
// them within LockoutDuration refuse that address for that account for a
// while, and nobody else; AccountLockoutThreshold of them from all
// addresses together lock the account for everyone ("user.lock"), against
// guessing spread over many addresses. A success clears its address's
// count and re-hashes an old-parameter hash ("login.success"). A pending
// user whose password is right is returned with a nil error: the caller
// sends it to the request-access page.
//
// A right password from an address the user's IP rules refuse
// (CheckAddress) is ErrInvalidCredentials too, audited as
// "signin.refused_address".
// ip is the client's address as clientaddr gives it; IPv6 addresses are
// counted by /64 (ratelimit.Group), so that walking through a subscriber's
// block buys no fresh attempts.
//
// Input containing "@" is looked up as an email. Attempts while refused
// are recorded but not counted. An attempt is counted for its address
// before the hash (so parallel guesses cannot slip under the threshold)
// and the count is deleted by a success, so the right password of a user
// who may not sign in (locked, disabled, expired) counts for its address;
// FailedLogins and the account-wide lock count wrong passwords only.
// login.failure entries have the anonymous actor (nobody proved who they
// are) and the user as target when the name matched one; the name typed is
// not recorded, since people type passwords into the username field.
//
// Every call is counted by outcome (Options.SignIns).
func (s *Service) Authenticate(ctx context.Context, username, password, ip string) (store.User, error) {
	u, err := s.authenticate(ctx, username, password, ip)
	outcome := SignInError
	switch {
	case errors.Is(err, errLockedOut):
		outcome, err = SignInLocked, ErrInvalidCredentials
	case errors.Is(err, ErrInvalidCredentials):
		outcome = SignInFailure
	case err == nil && u.Status == store.StatusPending:
		outcome = SignInPending
	case err == nil:
		outcome = SignInSuccess
	}
	s.opts.SignIns.SignIn(outcome)
	return u, err
}

func (s *Service) authenticate(ctx context.Context, username, password, ip string) (store.User, error) {
	pw := s.opts.Passwords
	anonymous := Actor{Type: store.ActorAnonymous, IP: ip}
	u, err := s.signInUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		pw.VerifyNobody(password)
		if err := s.audit(ctx, anonymous, "login.failure", TargetUser, "", nil); err != nil {
			return store.User{}, fmt.Errorf("domain: authenticate: %w", err)
		}
		return store.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return store.User{}, fmt.Errorf("domain: authenticate: %w", err)
	}

	now := s.now()
	if u.LockedOut(now) {
		// Spend the time a check takes, so that the answer's timing does
		// not say the account is locked.
		s.verify(u.PasswordHash, password)
		return store.User{}, lockedOut(s.signInRefused(ctx, anonymous, u.ID))
	}
	// The attempt is counted before the password is checked, in one atomic
	// step with the check of the address's count: guesses sent in
	// parallel (a hash takes a while) cannot all slip under the threshold.
	// A success deletes the count again; so the right password of a user
	// who may not sign in (disabled, expired) counts like a wrong one, for
	// its address only.
	address := addressKey(ip)
	attempt, err := s.store.RecordSignInFailure(ctx, u.ID, address, now, now.Add(-s.opts.LockoutDuration), s.opts.LockoutThreshold)
	if err != nil {
		return store.User{}, fmt.Errorf("domain: authenticate: %w", err)
	}
	if !attempt.Counted {
		// This address has had its tries at this account for now; the
		// right password from it is refused too, or it could keep going.
		s.verify(u.PasswordHash, password)
		return store.User{}, lockedOut(s.signInRefused(ctx, anonymous, u.ID))
	}
	ok, rehash := s.verify(u.PasswordHash, password)
	if !ok {
		err := s.inTx(ctx, "authenticate", func(ctx context.Context) error {
			// FailedLogins keeps counting failures in a row for the user
			// view; it locks only at the account-wide threshold, reached
			// by the failures of every address within the window.
			lockAt := 0 // count only
			if limit := s.opts.AccountLockoutThreshold; limit > 0 && attempt.Account >= limit {
				lockAt = 1
			}
			after, err := s.store.RecordLoginFailure(ctx, u.ID, now, lockAt, s.opts.LockoutDuration)
			if err != nil {
				return err
			}
			if err := s.audit(ctx, anonymous, "login.failure", TargetUser, u.ID, nil); err != nil {
				return err
			}
			if attempt.Failure.Count == s.opts.LockoutThreshold {
				s.opts.Logger.WarnContext(ctx, "sign-in: an address reached the failure threshold; refused for this account for a while",
					"user_id", u.ID, "address", address, "failures", attempt.Failure.Count, "for", s.opts.LockoutDuration.String())
			}
			if after.LockedOut(now) {
				lock := Actor{Type: store.ActorSystem, IP: ip}
				c := changes{"locked_until": {Before: auditTime(u.LockedUntil), After: auditTime(after.LockedUntil)}}
				return s.audit(ctx, lock, "user.lock", TargetUser, u.ID, c)
			}
			return nil
		})
		if err != nil {
			return store.User{}, err
		}
		return store.User{}, ErrInvalidCredentials
	}
	if !UserCanAct(u, now, ActKeepSession) {
		refused := s.signInRefused(ctx, anonymous, u.ID)
		if u.Status == store.StatusLocked {
			refused = lockedOut(refused)
		}
		return store.User{}, refused
	}
	// After the password: a right password from a refused address is
	// worth an audit entry of its own, and the answer is the same either
	// way. It does not count toward the lockout: the owner knows the
	// password, and the rule, not guessing, kept it out: the attempt
	// counted above is taken back.
	if err := s.AdmitAddress(ctx, u, ip, "password"); err != nil {
		if errors.Is(err, ErrAddressRefused) {
			if err := s.store.ClearSignInFailures(ctx, u.ID, address); err != nil {
				return store.User{}, fmt.Errorf("domain: authenticate: %w", err)
			}
			return store.User{}, ErrInvalidCredentials
		}
		return store.User{}, fmt.Errorf("domain: authenticate: %w", err)
	}

	var newHash string
	if rehash {
		if h, err := pw.Hash(password); err == nil {
			newHash = h
		} else {
			// The old hash still works; try again at the next sign-in.
			s.opts.Logger.WarnContext(ctx, "re-hash password", "user_id", u.ID, "error", err.Error())
		}
	}
	err = s.inTx(ctx, "authenticate", func(ctx context.Context) error {
		if err := s.store.RecordLoginSuccess(ctx, u.ID, now, newHash); err != nil {
			return err
		}
		if err := s.store.ClearSignInFailures(ctx, u.ID, address); err != nil {
			return err
		}
		return s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "login.success", TargetUser, u.ID, nil)
	})
	if err != nil {
		return store.User{}, err
	}
	s.countSignIn(u.ID)
	u.LastLoginAt, u.FailedLogins, u.LockedUntil = &now, 0, nil
	if newHash != "" {
		u.PasswordHash = newHash
	}
	return u, nil
}

// addressKey is the key failures are counted under: the address itself
// for IPv4, its /64 for IPv6 (as the rate limits group them), and the
// address as given when it does not parse ("" when none is known).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	p := ratelimit.Group(a)
	if p.Bits() == 32 {
		return p.Addr().String()
	}
	return p.String()
}

func (s *Service) signInUser(ctx context.Context, name string) (store.User, error) {
	// Phones and password managers add stray spaces; no username or email
	// has any.
	name = strings.TrimSpace(name)
	if !ValidKey(name) {
		// Names no user (and PostgreSQL would refuse the bytes): an
		// unknown user, refused like any other.
		return store.User{}, notFound("user not found")
	}
	if strings.Contains(name, "@") {
		return s.store.GetUserByEmail(ctx, NormalizeEmail(name))
	}
	return s.store.GetUserByUsername(ctx, name)
}

// verify checks a password, spending the time of a check even for a user
// without one (signed up through an upstream provider).
func (s *Service) verify(hash, password string) (ok, rehash bool) {
	if hash == "" {
		return s.opts.Passwords.VerifyNobody(password), false
	}
	return s.opts.Passwords.Verify(hash, password)
}

// signInRefused records a refused sign-in that does not count toward the
// lockout and returns ErrInvalidCredentials.
func (s *Service) signInRefused(ctx context.Context, a Actor, userID string) error {
	if err := s.audit(ctx, a, "login.failure", TargetUser, userID, nil); err != nil {
		return fmt.Errorf("domain: authenticate: %w", err)
	}
	return ErrInvalidCredentials
}
