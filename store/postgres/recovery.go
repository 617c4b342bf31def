package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// expiringTickets is swept by DeleteExpiredTickets like the janitor's other tables.
const expiringTickets expiring = "user_tickets"

// ---------------------------------------------------------------------------
// Tickets

const ticketColumns = `digest, purpose, user_id, email, created_at, expires_at, used_at`

func scanTicket(row pgx.Row) (store.Ticket, error) {
	var t store.Ticket
	if err := row.Scan(&t.Digest, &t.Purpose, &t.UserID, &t.Email, &t.CreatedAt, &t.ExpiresAt, &t.UsedAt); err != nil {
		return store.Ticket{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = utc(t.CreatedAt), utc(t.ExpiresAt), utcPtr(t.UsedAt)
	return t, nil
}

// CreateTicket returns ErrConflict if the digest exists and ErrNotFound if
// the user does not.
func (s *Store) CreateTicket(ctx context.Context, t store.Ticket) error {
	userID, ok := parseUUID(t.UserID)
	if !ok {
		return fmt.Errorf("postgres: create ticket: user %q: %w", t.UserID, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO user_tickets (`+ticketColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, NULL)`, t.Digest, string(t.Purpose), userID, t.Email, t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: create ticket: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetTicket returns ErrNotFound unless the ticket is unused and unexpired.
func (s *Store) GetTicket(ctx context.Context, purpose store.TicketPurpose, digest []byte, now time.Time) (store.Ticket, error) {
	t, err := scanTicket(s.db(ctx).QueryRow(ctx, `SELECT `+ticketColumns+` FROM user_tickets
		WHERE digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3`, digest, string(purpose), now))
	if err != nil {
		return store.Ticket{}, fmt.Errorf("postgres: get ticket: %w", classify(err, nil))
	}
	return t, nil
}

// UseTicket is one conditional UPDATE: of concurrent uses, the first to
// take the row lock sets used_at, and the others, re-checking the row
// after it, find it used and update nothing.
func (s *Store) UseTicket(ctx context.Context, purpose store.TicketPurpose, digest []byte, now time.Time) (store.Ticket, error) {
	t, err := scanTicket(s.db(ctx).QueryRow(ctx, `UPDATE user_tickets SET used_at = $3
		WHERE digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING `+ticketColumns, digest, string(purpose), now))
	if err != nil {
		return store.Ticket{}, fmt.Errorf("postgres: use ticket: %w", classify(err, nil))
	}
	return t, nil
}

// LastTicketAt returns the zero time when the user has no ticket of purpose.
func (s *Store) LastTicketAt(ctx context.Context, userID string, purpose store.TicketPurpose) (time.Time, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return time.Time{}, nil
	}
	var last *time.Time
	err := s.db(ctx).QueryRow(ctx, `SELECT max(created_at) FROM user_tickets WHERE user_id = $1 AND purpose = $2`,
		uid, string(purpose)).Scan(&last)
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: last ticket: %w", err)
	}
	if last == nil {
		return time.Time{}, nil
	}
	return utc(*last), nil
}

// DeleteExpiredTickets removes up to limit expired tickets.
func (s *Store) DeleteExpiredTickets(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringTickets, "tickets", now, limit)
}

// ---------------------------------------------------------------------------
// Mail outbox

const mailColumns = `id, recipient, subject, body, attempts, next_attempt_at, created_at, last_error`

func scanMail(row pgx.Row) (store.Mail, error) {
	var m store.Mail
	if err := row.Scan(&m.ID, &m.Recipient, &m.Subject, &m.Body, &m.Attempts, &m.NextAttemptAt, &m.CreatedAt,
		&m.LastError); err != nil {
		return store.Mail{}, err
	}
	m.NextAttemptAt, m.CreatedAt = utc(m.NextAttemptAt), utc(m.CreatedAt)
	return m, nil
}

// EnqueueMail inserts only while the outbox holds fewer than maxRows rows.
// Concurrent enqueues may each see room for one more, so the bound can be
// passed by as many messages as there are concurrent writers: it is there
// to keep the table from growing without limit, not to be exact.
func (s *Store) EnqueueMail(ctx context.Context, m store.Mail, maxRows int) error {
	id, ok := parseUUID(m.ID)
	if !ok {
		return fmt.Errorf("postgres: enqueue mail: id %q is not a UUID", m.ID)
	}
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO mail_outbox (`+mailColumns+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8
		WHERE $9 <= 0 OR (SELECT count(*) FROM (SELECT 1 FROM mail_outbox LIMIT $9) AS held) < $9`,
		id, m.Recipient, m.Subject, m.Body, m.Attempts, m.NextAttemptAt, m.CreatedAt, m.LastError, maxRows)
	if err != nil {
		return fmt.Errorf("postgres: enqueue mail: %w", classify(err, nil))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: enqueue mail: %w", store.ErrOutboxFull)
	}
	return nil
}

// ClaimMail locks the due rows it takes with SKIP LOCKED, so that senders
// of several instances claiming at once each get other rows, and moves
// them forward by the lease in the same statement: the claim is committed
// before the (slow) delivery starts, and no transaction is held open while
// the mail server is talked to.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Mail, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `WITH due AS (
			SELECT id FROM mail_outbox WHERE next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE mail_outbox m SET attempts = m.attempts + 1, next_attempt_at = $2
		FROM due WHERE m.id = due.id
		RETURNING m.id, m.recipient, m.subject, m.body, m.attempts, m.next_attempt_at, m.created_at, m.last_error`, now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim mail: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Mail, error) { return scanMail(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: claim mail: %w", err)
	}
	// RETURNING keeps no order; the contract's is the id's.
	slices.SortFunc(out, func(a, b store.Mail) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RetryMail returns ErrNotFound if the message is gone.
func (s *Store) RetryMail(ctx context.Context, id string, next time.Time, lastError string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: retry mail: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "retry mail", `UPDATE mail_outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1`,
		uid, next, lastError)
}

// DeleteMail returns ErrNotFound if absent.
func (s *Store) DeleteMail(ctx context.Context, id string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete mail: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "delete mail", `DELETE FROM mail_outbox WHERE id = $1`, uid)
}

// CountMail counts the outbox, which max_rows keeps small.
func (s *Store) CountMail(ctx context.Context) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM mail_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count mail: %w", err)
	}
	return n, nil
}
