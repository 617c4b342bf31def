package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Multi-factor authentication

type recoveryKey struct{ userID, digest string }

type recoveryCode struct {
	createdAt time.Time
	usedAt    *time.Time
}

func copyFactor(f store.MFAFactor) store.MFAFactor {
	f.SecretEnc = blob(f.SecretEnc)
	f.ConfirmedAt = stampPtr(f.ConfirmedAt)
	f.CreatedAt = stamp(f.CreatedAt)
	return f
}

func copyChallenge(c store.MFAChallenge) store.MFAChallenge {
	c.AMR = list(c.AMR)
	c.CreatedAt = stamp(c.CreatedAt)
	c.ExpiresAt = stamp(c.ExpiresAt)
	return c
}

// deleteMFAOf removes the user's factors, codes and challenges, as the
// foreign keys' ON DELETE CASCADE does in PostgreSQL.
func (s *Store) deleteMFAOf(o op, uid string) {
	for id, f := range s.factors {
		if f.UserID == uid {
			del(o, s.factors, id)
		}
	}
	for k := range s.recovery {
		if k.userID == uid {
			del(o, s.recovery, k)
		}
	}
	for id, c := range s.challenges {
		if c.UserID == uid {
			del(o, s.challenges, id)
		}
	}
}

// userOf returns the canonical id of an existing user, or ErrNotFound.
func (s *Store) userOf(userID string) (string, error) {
	id, ok := canonicalUUID(userID)
	if _, exists := s.users[id]; !ok || !exists {
		return "", fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
	}
	return id, nil
}

func (s *Store) CreateMFAFactor(ctx context.Context, f store.MFAFactor) error {
	return s.do(ctx, "create MFA factor", func(o op) error {
		id, ok := canonicalUUID(f.ID)
		if !ok {
			return fmt.Errorf("factor id %q is no UUID", f.ID)
		}
		if _, exists := s.factors[id]; exists {
			return store.ErrConflict
		}
		uid, err := s.userOf(f.UserID)
		if err != nil {
			return err
		}
		f.ID, f.UserID = id, uid
		put(o, s.factors, id, copyFactor(f))
		return nil
	})
}

func (s *Store) GetMFAFactor(ctx context.Context, id string) (store.MFAFactor, error) {
	var out store.MFAFactor
	err := s.do(ctx, "get MFA factor", func(op) error {
		cid, _ := canonicalUUID(id)
		f, ok := s.factors[cid]
		if !ok {
			return store.ErrNotFound
		}
		out = copyFactor(f)
		return nil
	})
	return out, err
}

func (s *Store) ListMFAFactors(ctx context.Context, userID string) ([]store.MFAFactor, error) {
	out := []store.MFAFactor{}
	err := s.do(ctx, "list MFA factors", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for _, f := range s.factors {
			if f.UserID == uid {
				out = append(out, copyFactor(f))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.MFAFactor) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) ConfirmMFAFactor(ctx context.Context, id string, at time.Time, step int64) error {
	return s.do(ctx, "confirm MFA factor", func(o op) error {
		cid, _ := canonicalUUID(id)
		f, ok := s.factors[cid]
		if !ok || f.ConfirmedAt != nil {
			return store.ErrNotFound
		}
		f.ConfirmedAt, f.LastStep = &at, step
		put(o, s.factors, cid, copyFactor(f))
		return nil
	})
}

func (s *Store) AdvanceMFAStep(ctx context.Context, id string, step int64) error {
	return s.do(ctx, "advance MFA step", func(o op) error {
		cid, _ := canonicalUUID(id)
		f, ok := s.factors[cid]
		if !ok {
			return store.ErrNotFound
		}
		if step <= f.LastStep {
			return store.ErrConflict
		}
		f.LastStep = step
		put(o, s.factors, cid, copyFactor(f))
		return nil
	})
}

func (s *Store) DeleteMFAFactor(ctx context.Context, id string) error {
	return s.do(ctx, "delete MFA factor", func(o op) error {
		cid, _ := canonicalUUID(id)
		if _, ok := s.factors[cid]; !ok {
			return store.ErrNotFound
		}
		del(o, s.factors, cid)
		return nil
	})
}

func (s *Store) DeleteMFAFactors(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.do(ctx, "delete MFA factors", func(o op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for id, f := range s.factors {
			if f.UserID == uid {
				del(o, s.factors, id)
				n++
			}
		}
		return nil
	})
	return n, err
}

func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, at time.Time) error {
	return s.do(ctx, "replace recovery codes", func(o op) error {
		uid, err := s.userOf(userID)
		if err != nil {
			return err
		}
		// Refused before anything changes: outside a transaction nothing
		// undoes the deletes, and PostgreSQL's (in one) keeps the old codes.
		seen := make(map[string]bool, len(digests))
		for _, d := range digests {
			if seen[d] {
				return store.ErrConflict
			}
			seen[d] = true
		}
		for k := range s.recovery {
			if k.userID == uid {
				del(o, s.recovery, k)
			}
		}
		for _, d := range digests {
			put(o, s.recovery, recoveryKey{uid, d}, recoveryCode{createdAt: stamp(at)})
		}
		return nil
	})
}

func (s *Store) UseRecoveryCode(ctx context.Context, userID, digest string, at time.Time) error {
	return s.do(ctx, "use recovery code", func(o op) error {
		uid, _ := canonicalUUID(userID)
		k := recoveryKey{uid, digest}
		c, ok := s.recovery[k]
		if !ok || c.usedAt != nil {
			return store.ErrNotFound
		}
		c.usedAt = stampPtr(&at)
		put(o, s.recovery, k, c)
		return nil
	})
}

func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.do(ctx, "count recovery codes", func(op) error {
		uid, _ := canonicalUUID(userID)
		for k, c := range s.recovery {
			if k.userID == uid && c.usedAt == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

func (s *Store) DeleteRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.do(ctx, "delete recovery codes", func(o op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for k := range s.recovery {
			if k.userID == uid {
				del(o, s.recovery, k)
				n++
			}
		}
		return nil
	})
	return n, err
}

func (s *Store) CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error {
	return s.do(ctx, "create MFA challenge", func(o op) error {
		if _, ok := s.challenges[c.ID]; ok {
			return store.ErrConflict
		}
		uid, err := s.userOf(c.UserID)
		if err != nil {
			return err
		}
		c.UserID = uid
		put(o, s.challenges, c.ID, copyChallenge(c))
		return nil
	})
}

func (s *Store) GetMFAChallenge(ctx context.Context, id string, now time.Time) (store.MFAChallenge, error) {
	var out store.MFAChallenge
	err := s.do(ctx, "get MFA challenge", func(op) error {
		c, ok := s.challenges[id]
		if !ok || !now.Before(c.ExpiresAt) {
			return store.ErrNotFound
		}
		out = copyChallenge(c)
		return nil
	})
	return out, err
}

func (s *Store) CountMFAChallengeFailure(ctx context.Context, id string) (int, error) {
	var n int
	err := s.do(ctx, "count MFA challenge failure", func(o op) error {
		c, ok := s.challenges[id]
		if !ok {
			return store.ErrNotFound
		}
		c.Attempts++
		n = c.Attempts
		put(o, s.challenges, id, copyChallenge(c))
		return nil
	})
	return n, err
}

func (s *Store) DeleteMFAChallenge(ctx context.Context, id string) error {
	return s.do(ctx, "delete MFA challenge", func(o op) error {
		if _, ok := s.challenges[id]; !ok {
			return store.ErrNotFound
		}
		del(o, s.challenges, id)
		return nil
	})
}

func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired MFA challenges", func(o op) error {
		n = len(deleteExpired(o, s.challenges, func(c store.MFAChallenge) time.Time { return c.ExpiresAt }, now, limit))
		return nil
	})
	return n, err
}
