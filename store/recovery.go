package store

import (
	"context"
	"errors"
	"time"
)

// This file holds what account recovery and email verification keep:
// single-use tickets, and the outbox of mail waiting to be sent.

// ErrOutboxFull: EnqueueMail refused a message because the outbox holds
// its maximum number of rows already (the mail server has been unreachable
// for a while, or someone is making us send a lot). Callers tell their
// caller the message was not sent; nothing was written.
var ErrOutboxFull = errors.New("store: mail outbox full")

// TicketPurpose says what a ticket is good for; a ticket of one purpose is
// never accepted for another.
type TicketPurpose string

const (
	TicketPasswordReset     TicketPurpose = "password_reset"
	TicketEmailVerification TicketPurpose = "email_verification"
)

// Ticket is a single-use, expiring proof that whoever holds its token
// received an email sent to the user. Only the SHA-256 digest of the token
// is stored.
type Ticket struct {
	// Digest is the SHA-256 of the token (32 bytes); the key.
	Digest  []byte
	Purpose TicketPurpose
	UserID  string
	// Email is the address a verification ticket verifies ("" for a
	// password reset): a ticket sent to an address the user has since
	// changed verifies nothing.
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the ticket was used; nil while it is unused.
	UsedAt *time.Time
}

// Tickets stores recovery and verification tickets.
type Tickets interface {
	// CreateTicket stores t (UsedAt must be nil). ErrConflict if the digest
	// exists, ErrNotFound if the user does not.
	CreateTicket(ctx context.Context, t Ticket) error
	// GetTicket returns the ticket of purpose with digest if it is unused
	// and has not expired at now; ErrNotFound otherwise (absent, used,
	// expired, or of another purpose), alike.
	GetTicket(ctx context.Context, purpose TicketPurpose, digest []byte, now time.Time) (Ticket, error)
	// UseTicket marks the ticket GetTicket would return used at now and
	// returns it; ErrNotFound, changing nothing, where GetTicket would.
	// Of concurrent uses of one ticket exactly one succeeds.
	UseTicket(ctx context.Context, purpose TicketPurpose, digest []byte, now time.Time) (Ticket, error)
	// LastTicketAt returns when the user's newest ticket of purpose was
	// created, used or not; the zero time if it has none.
	LastTicketAt(ctx context.Context, userID string, purpose TicketPurpose) (time.Time, error)
	// DeleteExpiredTickets removes up to limit tickets whose expiry is not
	// after now (used ones included), returning how many went.
	DeleteExpiredTickets(ctx context.Context, now time.Time, limit int) (int, error)
}

// Mail is one message in the outbox: plain text to one recipient.
type Mail struct {
	ID        string // UUID
	Recipient string
	Subject   string
	Body      string
	// Attempts counts the claims so far (each a delivery attempt).
	Attempts int
	// NextAttemptAt is when the message may next be claimed.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	// LastError is why the last attempt failed ("" before any).
	LastError string
}

// MailOutbox is the durable queue of mail to send. Several senders (one
// per instance) may claim from it at once; each message is with at most
// one of them at a time.
type MailOutbox interface {
	// EnqueueMail adds m unless the outbox holds maxRows messages or more
	// already: then it returns ErrOutboxFull and writes nothing. maxRows
	// <= 0 means no bound. ErrConflict if the id exists.
	EnqueueMail(ctx context.Context, m Mail, maxRows int) error
	// ClaimMail returns up to limit messages due at now (NextAttemptAt not
	// after it), ordered by id, taking the longest due first, having added one to their Attempts
	// and moved their NextAttemptAt to now + lease: until then no other
	// claim returns them, so a sender that dies mid-delivery leaves them to
	// be claimed again once the lease ends. Messages another transaction is
	// claiming at the same moment are skipped, not waited for (FOR UPDATE
	// SKIP LOCKED). The returned messages carry the updated fields.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Mail, error)
	// RetryMail sets the message's NextAttemptAt and LastError after a
	// failed attempt; ErrNotFound if it is gone.
	RetryMail(ctx context.Context, id string, next time.Time, lastError string) error
	// DeleteMail removes a message (sent, or given up); ErrNotFound if absent.
	DeleteMail(ctx context.Context, id string) error
	// CountMail returns how many messages the outbox holds.
	CountMail(ctx context.Context) (int, error)
}
