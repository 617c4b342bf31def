package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Audit log

// defaultAuditLimit is what AuditFilter's zero Limit means.
const defaultAuditLimit = 100

func copyAudit(e store.AuditEntry) store.AuditEntry {
	e.At = stamp(e.At)
	e.Changes = rawJSON(e.Changes)
	return e
}

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	var id int64
	err := s.do(ctx, "append audit entry", func(o op) error {
		if err := checkJSON("changes", e.Changes); err != nil {
			return err
		}
		s.auditSeq++
		e.ID = s.auditSeq
		put(o, s.audit, e.ID, copyAudit(e))
		id = e.ID
		return nil
	})
	return id, err
}

// ListAudit orders by ID, newest first: ids are handed out in append order,
// and the Before cursor is an id.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	// Bounds are compared as PostgreSQL compares them: at microseconds.
	var since, until *time.Time
	if f.Since != nil {
		since = stampPtr(f.Since)
	}
	if f.Until != nil {
		until = stampPtr(f.Until)
	}
	var out []store.AuditEntry
	err := s.do(ctx, "list audit entries", func(op) error {
		for _, e := range s.audit {
			if f.Before > 0 && e.ID >= f.Before {
				continue
			}
			if f.ActorID != "" && e.ActorID != f.ActorID {
				continue
			}
			if f.TargetID != "" && e.TargetID != f.TargetID {
				continue
			}
			if !actionMatches(e.Action, f.Action) {
				continue
			}
			if since != nil && e.At.Before(*since) {
				continue
			}
			if until != nil && !e.At.Before(*until) {
				continue
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.AuditEntry) int { return cmp.Compare(b.ID, a.ID) })
	out = out[:min(limit, len(out))]
	for i := range out {
		out[i] = copyAudit(out[i])
	}
	return out, nil
}

// actionMatches applies AuditFilter.Action: exact, or a prefix when it ends
// in ".".
func actionMatches(action, filter string) bool {
	switch {
	case filter == "":
		return true
	case strings.HasSuffix(filter, "."):
		return strings.HasPrefix(action, filter)
	}
	return action == filter
}

// ---------------------------------------------------------------------------
// Sign-in bookkeeping

// RecordLoginSuccess changes only the sign-in fields; UpdatedAt tracks
// edits of the record, not sign-ins.
func (s *Store) RecordLoginSuccess(ctx context.Context, userID string, at time.Time, newHash string) error {
	return s.do(ctx, "record login success", func(o op) error {
		uid, _ := canonicalUUID(userID)
		u, ok := s.users[uid]
		if !ok {
			return store.ErrNotFound
		}
		u.LastLoginAt = &at
		u.FailedLogins = 0
		u.LockedUntil = nil
		if newHash != "" {
			u.PasswordHash = newHash
		}
		put(o, s.users, uid, copyUser(u))
		return nil
	})
}

// RecordLoginFailure locks once the count reaches maxFailures (also when an
// earlier, higher threshold let it grow past it). A maxFailures below 1
// turns locking off: failures are only counted.
func (s *Store) RecordLoginFailure(ctx context.Context, userID string, at time.Time, maxFailures int, lockFor time.Duration) (store.User, error) {
	var out store.User
	err := s.do(ctx, "record login failure", func(o op) error {
		uid, _ := canonicalUUID(userID)
		u, ok := s.users[uid]
		if !ok {
			return store.ErrNotFound
		}
		u.FailedLogins++
		if maxFailures > 0 && u.FailedLogins >= maxFailures {
			until := at.Add(lockFor)
			u.LockedUntil = &until
			u.FailedLogins = 0
		}
		u = copyUser(u)
		put(o, s.users, uid, u)
		out = copyUser(u)
		return nil
	})
	return out, err
}
