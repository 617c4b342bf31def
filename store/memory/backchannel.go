package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func (s *Store) ListLogoutTargets(ctx context.Context, loginSessionID string) ([]store.LogoutTarget, error) {
	out := []store.LogoutTarget{}
	err := s.do(ctx, "list logout targets", func(op) error {
		for _, g := range s.grants {
			if g.LoginSessionID != loginSessionID || loginSessionID == "" {
				continue
			}
			if c, ok := s.clients[g.ClientID]; !ok || c.BackchannelLogoutURI == "" {
				continue
			}
			t := store.LogoutTarget{ClientID: g.ClientID, Subject: g.Subject}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		// PostgreSQL's "C" collation of client ids, and subjects in byte order.
		slices.SortFunc(out, func(a, b store.LogoutTarget) int {
			if c := strings.Compare(a.ClientID, b.ClientID); c != 0 {
				return c
			}
			return strings.Compare(a.Subject, b.Subject)
		})
		return nil
	})
	return out, err
}

func copyLogout(l store.Logout) store.Logout {
	l.NextAttemptAt = stamp(l.NextAttemptAt)
	l.CreatedAt = stamp(l.CreatedAt)
	return l
}

func (s *Store) EnqueueLogout(ctx context.Context, l store.Logout, maxRows int) error {
	return s.do(ctx, "enqueue logout", func(o op) error {
		id, ok := canonicalUUID(l.ID)
		if !ok {
			return fmt.Errorf("logout id %q is not a UUID", l.ID)
		}
		if _, ok := s.logouts[id]; ok {
			return store.ErrConflict
		}
		if maxRows > 0 && len(s.logouts) >= maxRows {
			return store.ErrLogoutQueueFull
		}
		if _, ok := s.clients[l.ClientID]; !ok {
			return store.ErrNotFound
		}
		l.ID = id
		put(o, s.logouts, id, copyLogout(l))
		return nil
	})
}

func (s *Store) ClaimLogouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Logout, error) {
	var out []store.Logout
	err := s.do(ctx, "claim logouts", func(o op) error {
		var due []store.Logout
		for _, l := range s.logouts {
			if !l.NextAttemptAt.After(now) {
				due = append(due, l)
			}
		}
		slices.SortFunc(due, func(a, b store.Logout) int {
			if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		due = due[:min(max(limit, 0), len(due))]
		out = make([]store.Logout, 0, len(due))
		for _, l := range due {
			l.Attempts++
			l.NextAttemptAt = stamp(now.Add(lease))
			put(o, s.logouts, l.ID, l)
			out = append(out, copyLogout(l))
		}
		slices.SortFunc(out, func(a, b store.Logout) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	return out, err
}

func (s *Store) RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error {
	return s.do(ctx, "retry logout", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		l, ok := s.logouts[uid]
		if !ok {
			return store.ErrNotFound
		}
		l.NextAttemptAt = stamp(next)
		l.LastError = lastError
		put(o, s.logouts, uid, l)
		return nil
	})
}

func (s *Store) DeleteLogout(ctx context.Context, id string) error {
	return s.do(ctx, "delete logout", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		if _, ok := s.logouts[uid]; !ok {
			return store.ErrNotFound
		}
		del(o, s.logouts, uid)
		return nil
	})
}

func (s *Store) CountLogouts(ctx context.Context) (int, error) {
	var n int
	err := s.do(ctx, "count logouts", func(op) error {
		n = len(s.logouts)
		return nil
	})
	return n, err
}
