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
	e.Digest = blob(e.Digest)
	return e
}

func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) (int64, error) {
	var id int64
	err := s.do(ctx, "append audit entry", func(o op) error {
		if err := checkJSON("changes", e.Changes); err != nil {
			return err
		}
		head := s.chainHead()
		e = copyAudit(e)
		e.ID = head.LastID + 1
		d, err := store.AuditDigest(head.Digest, e)
		if err != nil {
			return err
		}
		e.Digest = d
		put(o, s.audit, e.ID, e)
		old := s.auditHead
		s.auditHead = store.AuditChainHead{FirstID: head.FirstID, LastID: e.ID, Digest: d}
		o.undo(func() { s.auditHead = old })
		id = e.ID
		return nil
	})
	return id, err
}

// chainHead is the head; a new store's chain starts at id 1.
func (s *Store) chainHead() store.AuditChainHead {
	if s.auditHead.FirstID == 0 {
		return store.AuditChainHead{FirstID: 1}
	}
	return s.auditHead
}

func (s *Store) AuditChainHead(ctx context.Context) (store.AuditChainHead, error) {
	var h store.AuditChainHead
	err := s.do(ctx, "read audit chain head", func(op) error {
		h = s.chainHead()
		h.Digest = blob(h.Digest)
		return nil
	})
	return h, err
}

// ListAuditChain sorts the ids above after: the log is small in memory.
func (s *Store) ListAuditChain(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	err := s.do(ctx, "list audit chain", func(op) error {
		var ids []int64
		for id := range s.audit {
			if id > after {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids[:min(max(limit, 0), len(ids))] {
			out = append(out, copyAudit(s.audit[id]))
		}
		return nil
	})
	return out, err
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
