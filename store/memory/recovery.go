package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Tickets

func copyTicket(t store.Ticket) store.Ticket {
	t.Digest = blob(t.Digest)
	t.CreatedAt = stamp(t.CreatedAt)
	t.ExpiresAt = stamp(t.ExpiresAt)
	t.UsedAt = stampPtr(t.UsedAt)
	return t
}

func validPurpose(p store.TicketPurpose) bool {
	return p == store.TicketPasswordReset || p == store.TicketEmailVerification
}

func (s *Store) CreateTicket(ctx context.Context, t store.Ticket) error {
	return s.do(ctx, "create ticket", func(o op) error {
		// What the table's checks refuse.
		if len(t.Digest) != 32 {
			return errors.New("ticket digest must be 32 bytes")
		}
		if !validPurpose(t.Purpose) {
			return fmt.Errorf("ticket purpose %q is not known", t.Purpose)
		}
		uid, err := s.userOf(t.UserID)
		if err != nil {
			return err
		}
		if _, ok := s.tickets[string(t.Digest)]; ok {
			return store.ErrConflict
		}
		t.UserID = uid
		put(o, s.tickets, string(t.Digest), copyTicket(t))
		return nil
	})
}

// usable is the ticket of purpose with digest if unused and unexpired at now.
func (s *Store) usable(purpose store.TicketPurpose, digest []byte, now time.Time) (store.Ticket, bool) {
	t, ok := s.tickets[string(digest)]
	if !ok || t.Purpose != purpose || t.UsedAt != nil || !now.Before(t.ExpiresAt) {
		return store.Ticket{}, false
	}
	return t, true
}

func (s *Store) GetTicket(ctx context.Context, purpose store.TicketPurpose, digest []byte, now time.Time) (store.Ticket, error) {
	var out store.Ticket
	err := s.do(ctx, "get ticket", func(op) error {
		t, ok := s.usable(purpose, digest, now)
		if !ok {
			return store.ErrNotFound
		}
		out = copyTicket(t)
		return nil
	})
	return out, err
}

func (s *Store) UseTicket(ctx context.Context, purpose store.TicketPurpose, digest []byte, now time.Time) (store.Ticket, error) {
	var out store.Ticket
	err := s.do(ctx, "use ticket", func(o op) error {
		t, ok := s.usable(purpose, digest, now)
		if !ok {
			return store.ErrNotFound
		}
		at := stamp(now)
		t.UsedAt = &at
		t = copyTicket(t)
		put(o, s.tickets, string(digest), t)
		out = copyTicket(t)
		return nil
	})
	return out, err
}

func (s *Store) LastTicketAt(ctx context.Context, userID string, purpose store.TicketPurpose) (time.Time, error) {
	var last time.Time
	err := s.do(ctx, "last ticket", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for _, t := range s.tickets {
			if t.UserID == uid && t.Purpose == purpose && t.CreatedAt.After(last) {
				last = t.CreatedAt
			}
		}
		return nil
	})
	return last, err
}

func (s *Store) DeleteExpiredTickets(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired tickets", func(o op) error {
		n = len(deleteExpired(o, s.tickets, func(t store.Ticket) time.Time { return t.ExpiresAt }, now, limit))
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// Mail outbox

func copyMail(m store.Mail) store.Mail {
	m.NextAttemptAt = stamp(m.NextAttemptAt)
	m.CreatedAt = stamp(m.CreatedAt)
	return m
}

func (s *Store) EnqueueMail(ctx context.Context, m store.Mail, maxRows int) error {
	return s.do(ctx, "enqueue mail", func(o op) error {
		id, ok := canonicalUUID(m.ID)
		if !ok {
			return fmt.Errorf("mail id %q is not a UUID", m.ID)
		}
		if _, ok := s.outbox[id]; ok {
			return store.ErrConflict
		}
		if maxRows > 0 && len(s.outbox) >= maxRows {
			return store.ErrOutboxFull
		}
		m.ID = id
		put(o, s.outbox, id, copyMail(m))
		return nil
	})
}

func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Mail, error) {
	var out []store.Mail
	err := s.do(ctx, "claim mail", func(o op) error {
		var due []store.Mail
		for _, m := range s.outbox {
			if !m.NextAttemptAt.After(now) {
				due = append(due, m)
			}
		}
		// The order PostgreSQL's index gives, with the id to make it total.
		slices.SortFunc(due, func(a, b store.Mail) int {
			if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		due = due[:min(max(limit, 0), len(due))]
		out = make([]store.Mail, 0, len(due))
		for _, m := range due {
			m.Attempts++
			m.NextAttemptAt = stamp(now.Add(lease))
			put(o, s.outbox, m.ID, m)
			out = append(out, copyMail(m))
		}
		slices.SortFunc(out, func(a, b store.Mail) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	return out, err
}

func (s *Store) RetryMail(ctx context.Context, id string, next time.Time, lastError string) error {
	return s.do(ctx, "retry mail", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		m, ok := s.outbox[uid]
		if !ok {
			return store.ErrNotFound
		}
		m.NextAttemptAt = stamp(next)
		m.LastError = lastError
		put(o, s.outbox, uid, m)
		return nil
	})
}

func (s *Store) DeleteMail(ctx context.Context, id string) error {
	return s.do(ctx, "delete mail", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		if _, ok := s.outbox[uid]; !ok {
			return store.ErrNotFound
		}
		del(o, s.outbox, uid)
		return nil
	})
}

func (s *Store) CountMail(ctx context.Context) (int, error) {
	var n int
	err := s.do(ctx, "count mail", func(op) error {
		n = len(s.outbox)
		return nil
	})
	return n, err
}
