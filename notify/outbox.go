package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/internal/queue"
	"github.com/gatehouse/gatehouse/store"
)

// Queue is what the sender needs of the store's mail outbox.
type Queue interface {
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Mail, error)
	RetryMail(ctx context.Context, id string, next time.Time, lastError string) error
	DeleteMail(ctx context.Context, id string) error
	CountMail(ctx context.Context) (int, error)
}

// Sender delivers one message (SMTP.Send).
type Sender interface {
	Send(ctx context.Context, to, subject, body string) error
}

// OutboxRecorder is told of the queue's depth and of each attempt's result
// ("sent", "retry", "given_up"); telemetry.MailMetrics is one.
type OutboxRecorder interface {
	MailDepth(n int)
	MailDelivery(result string)
}

// OutboxOptions configure an Outbox. Zero fields take the defaults below.
type OutboxOptions struct {
	// MaxAttempts failed attempts and a message is given up.
	MaxAttempts int
	// MaxAge gives a message up once it is that old, however few attempts
	// it had: the links it carries have expired.
	MaxAge time.Duration
	// PollInterval is the wait between passes when the outbox had nothing due.
	PollInterval time.Duration
	// BatchSize is how many messages one claim takes.
	BatchSize int
	// BaseBackoff is the wait after the first failure; it doubles with
	// each further one, up to MaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	Recorder    OutboxRecorder // nil: nobody
}

// Defaults of the zero OutboxOptions fields.
const (
	DefaultMaxAttempts  = 8
	DefaultMaxAge       = 24 * time.Hour
	DefaultPollInterval = 2 * time.Second
	DefaultBatchSize    = 20
	DefaultBaseBackoff  = 30 * time.Second
	DefaultMaxBackoff   = time.Hour
)

// Outbox is one instance's sender of the durable mail outbox. Every
// instance runs one; ClaimMail's lease and SKIP LOCKED keep a message with
// one sender at a time. A message is deleted once the server accepted it
// (its body carries a one-time link: nothing keeps it after) or once it is
// given up.
type Outbox struct {
	q    Queue
	send Sender
	opts OutboxOptions
	// lease is how long a claimed batch is ours: the time a whole batch
	// may take to deliver, each message bounded by sendTimeout, with a
	// margin. A sender that dies leaves its batch to others after it.
	lease time.Duration
}

// NewOutbox returns a sender of q's messages through send.
func NewOutbox(q Queue, send Sender, opts OutboxOptions) *Outbox {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{q: q, send: send, opts: opts, lease: time.Duration(opts.BatchSize)*sendTimeout + time.Minute}
}

// Backoff is the wait before the next attempt after the attempts-th failed
// one: BaseBackoff doubled attempts-1 times, at most MaxBackoff.
func (o *Outbox) Backoff(attempts int) time.Duration {
	return queue.Backoff(o.opts.BaseBackoff, o.opts.MaxBackoff, attempts)
}

// Run sends until ctx ends: a pass over everything due, then a wait of
// PollInterval when the pass found nothing (a busy outbox is drained
// without waiting).
func (o *Outbox) Run(ctx context.Context) {
	queue.Run(ctx, o.opts.PollInterval, o.Pass, func(err error) {
		o.opts.Logger.WarnContext(ctx, "mail outbox: pass failed", "error", err)
	}, nil)
}

// Pass claims one batch of due messages and delivers them, returning how
// many it claimed; then it records the outbox's depth. Shutting down, the
// rest stays claimed until the lease ends.
func (o *Outbox) Pass(ctx context.Context) (int, error) {
	batch, err := o.q.ClaimMail(ctx, o.opts.Now(), o.lease, o.opts.BatchSize)
	if err != nil {
		return 0, err
	}
	err = queue.Each(ctx, batch, o.deliver, nil)
	if o.opts.Recorder != nil {
		if n, err := o.q.CountMail(ctx); err == nil {
			o.opts.Recorder.MailDepth(n)
		}
	}
	return len(batch), err
}

func (o *Outbox) record(result string) {
	if o.opts.Recorder != nil {
		o.opts.Recorder.MailDelivery(result)
	}
}

// deliver tries m once; the error is the store's, a failed delivery is
// not one (it is recorded on the message).
func (o *Outbox) deliver(ctx context.Context, m store.Mail) error {
	log := o.opts.Logger.With("mail_id", m.ID, "attempt", m.Attempts)
	if age := o.opts.Now().Sub(m.CreatedAt); age >= o.opts.MaxAge {
		log.WarnContext(ctx, "mail outbox: message given up: too old", "age", age.String(), "last_error", m.LastError)
		o.record("given_up")
		return queue.IgnoreGone(o.q.DeleteMail(ctx, m.ID))
	}
	err := o.send.Send(ctx, m.Recipient, m.Subject, m.Body)
	if err == nil {
		o.record("sent")
		log.InfoContext(ctx, "mail outbox: message sent")
		return queue.IgnoreGone(o.q.DeleteMail(ctx, m.ID))
	}
	if m.Attempts >= o.opts.MaxAttempts {
		log.WarnContext(ctx, "mail outbox: message given up after its last attempt", "error", err)
		o.record("given_up")
		return queue.IgnoreGone(o.q.DeleteMail(ctx, m.ID))
	}
	next := o.opts.Now().Add(o.Backoff(m.Attempts))
	log.InfoContext(ctx, "mail outbox: delivery failed; will retry", "error", err, "next_attempt_at", next)
	o.record("retry")
	return queue.IgnoreGone(o.q.RetryMail(ctx, m.ID, next, queue.Truncate(err.Error(), 500)))
}
