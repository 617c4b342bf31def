package memory

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

type failureKey struct{ userID, address string }

func (s *Store) CountSignInFailures(ctx context.Context, userID, address string, since time.Time) (store.SignInFailure, int, error) {
	var row store.SignInFailure
	var total int
	err := s.do(ctx, "count sign-in failures", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		row, total = s.countFailures(uid, address, stamp(since))
		return nil
	})
	return row, total, err
}

// countFailures is CountSignInFailures under the lock. Like every time
// here, since is compared as PostgreSQL keeps it (microseconds).
func (s *Store) countFailures(uid, address string, since time.Time) (store.SignInFailure, int) {
	var row store.SignInFailure
	total := 0
	for k, f := range s.failures {
		if k.userID != uid || f.LastAt.Before(since) {
			continue
		}
		total += f.Count
		if k.address == address {
			row = f
		}
	}
	return row, total
}

func (s *Store) RecordSignInFailure(ctx context.Context, userID, address string, at, since time.Time, max int) (store.SignInAttempt, error) {
	var out store.SignInAttempt
	err := s.do(ctx, "record sign-in failure", func(o op) error {
		uid, err := s.userOf(userID)
		if err != nil {
			return err
		}
		at, since := stamp(at), stamp(since)
		k := failureKey{uid, address}
		f, ok := s.failures[k]
		switch {
		case !ok || f.LastAt.Before(since):
			f = store.SignInFailure{UserID: uid, Address: address, Count: 1, FirstAt: at, LastAt: at}
		case max > 0 && f.Count >= max:
			out.Failure, out.Account = s.countFailures(uid, address, since)
			return nil
		default:
			f.Count++
			if at.After(f.LastAt) {
				f.LastAt = at
			}
		}
		put(o, s.failures, k, f)
		out.Failure, out.Account = s.countFailures(uid, address, since)
		out.Counted = true
		return nil
	})
	return out, err
}

func (s *Store) ClearSignInFailures(ctx context.Context, userID, address string) error {
	return s.do(ctx, "clear sign-in failures", func(o op) error {
		if uid, ok := canonicalUUID(userID); ok {
			del(o, s.failures, failureKey{uid, address})
		}
		return nil
	})
}

func (s *Store) ClearUserSignInFailures(ctx context.Context, userID string) error {
	return s.do(ctx, "clear user sign-in failures", func(o op) error {
		uid, _ := canonicalUUID(userID)
		for k := range s.failures {
			if k.userID == uid {
				del(o, s.failures, k)
			}
		}
		return nil
	})
}

func (s *Store) DeleteSignInFailuresBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete old sign-in failures", func(o op) error {
		// deleteExpired takes what is not after its now; last_at < before
		// is, at the microseconds every stored time has, not after the
		// microsecond before it.
		n = len(deleteExpired(o, s.failures, func(f store.SignInFailure) time.Time { return f.LastAt },
			stamp(before).Add(-time.Microsecond), limit))
		return nil
	})
	return n, err
}
