package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/queue"
	"github.com/gatehouse/gatehouse/store"
)

// Store is what the worker needs of the store: the outbox, and the
// subscriptions it posts to (read at each attempt, so a changed URL,
// secret or state is honoured).
type Store interface {
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error)
	RetryWebhookDelivery(ctx context.Context, id int64, next time.Time, status int, lastError string) error
	FinishWebhookDelivery(ctx context.Context, id int64, state store.WebhookDeliveryState, at time.Time, status int, lastError string) error
	CountPendingWebhookDeliveries(ctx context.Context) (int, error)
	PruneWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
	GetWebhook(ctx context.Context, id string) (store.WebhookSubscription, error)
}

// Keys opens a subscription's signing key (domain.Service).
type Keys interface {
	WebhookSigningKey(w store.WebhookSubscription) ([]byte, error)
}

// Recorder is told of the outbox's depth and of each attempt's result:
// "delivered", "failed" (every failed attempt, the last included) and
// "given_up" (attempts or age exhausted, or the subscription disabled);
// telemetry.WebhookMetrics is one.
type Recorder interface {
	WebhookDepth(n int)
	WebhookDelivery(result string)
}

// Options configure a Worker. Zero fields take the defaults below.
type Options struct {
	// MaxAttempts attempts and a delivery is given up.
	MaxAttempts int
	// MaxAge gives a delivery up once it is that old, however few
	// attempts it had.
	MaxAge time.Duration
	// PollInterval is the wait between passes when nothing was due.
	PollInterval time.Duration
	// BatchSize is how many deliveries one claim takes.
	BatchSize int
	// BaseBackoff is the wait after the first failure; it doubles with
	// each further one, up to MaxBackoff, and is then jittered (half of
	// it fixed, half random) so that receivers coming back are not hit by
	// every retry at once.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Timeout bounds one POST, connection included.
	Timeout time.Duration
	// Retention is how long finished deliveries stay in the log.
	Retention time.Duration
	// Client is the HTTP client (nil: one of the worker's own that follows
	// no redirects).
	Client   *http.Client
	Now      func() time.Time
	Logger   *slog.Logger
	Recorder Recorder // nil: nobody
}

// Defaults of the zero Options fields.
const (
	DefaultMaxAttempts  = 10
	DefaultMaxAge       = 24 * time.Hour
	DefaultPollInterval = time.Second
	DefaultBatchSize    = 20
	DefaultBaseBackoff  = 10 * time.Second
	DefaultMaxBackoff   = time.Hour
	DefaultTimeout      = 10 * time.Second
	DefaultRetention    = 7 * 24 * time.Hour
)

const (
	// maxErrorLength bounds the last_error the log keeps.
	maxErrorLength = 500
	// pruneEvery and pruneBatch pace the pruning of the log.
	pruneEvery = time.Minute
	pruneBatch = 1000
	// leaseMargin is added to a batch's lease, for the clocks of instances
	// that differ a little.
	leaseMargin = 30 * time.Second
	// releaseTimeout bounds the hand-back of claimed deliveries on stop.
	releaseTimeout = 2 * time.Second
)

// Worker is one instance's deliverer of the outbox. Every instance runs
// one; the claims' lease and SKIP LOCKED keep a row with one worker at a
// time.
type Worker struct {
	st   Store
	keys Keys
	opts Options
	// lease is how long a claimed batch is ours: the time a whole batch may
	// take, each POST bounded by Timeout, with a margin.
	lease time.Duration
	// pruned is when the log was last pruned (only Run's goroutine).
	pruned time.Time
}

// New returns a worker of st's outbox, signing with the keys ks opens.
func New(st Store, ks Keys, opts Options) *Worker {
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
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Client == nil {
		opts.Client = &http.Client{
			// A redirect is not an acceptance: the event is posted to the
			// subscribed URL only, and a 3xx is retried.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{st: st, keys: ks, opts: opts, lease: time.Duration(opts.BatchSize)*opts.Timeout + leaseMargin}
}

// Backoff is the wait before the next attempt after the attempts-th failed
// one, before jitter: BaseBackoff doubled attempts-1 times, at most
// MaxBackoff.
func (w *Worker) Backoff(attempts int) time.Duration {
	return queue.Backoff(w.opts.BaseBackoff, w.opts.MaxBackoff, attempts)
}

// jittered keeps half of d and draws the other half at random.
func jittered(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// Run delivers until ctx ends: a pass over everything due, then a wait of
// PollInterval when the pass found nothing; every pruneEvery, the delivery
// log is pruned past the retention.
func (w *Worker) Run(ctx context.Context) {
	queue.Run(ctx, w.opts.PollInterval, w.Pass, func(err error) {
		w.opts.Logger.WarnContext(ctx, "webhooks: pass failed", "error", err)
	}, w.prune)
}

func (w *Worker) prune(ctx context.Context) {
	now := w.opts.Now()
	if now.Sub(w.pruned) < pruneEvery {
		return
	}
	w.pruned = now
	if _, err := w.st.PruneWebhookDeliveries(ctx, now.Add(-w.opts.Retention), pruneBatch); err != nil && ctx.Err() == nil {
		w.opts.Logger.WarnContext(ctx, "webhooks: prune failed", "error", err)
	}
}

// Pass claims one batch of due deliveries and makes them, returning how
// many it claimed; then it records the outbox's depth. Stopping, the rest
// is handed back at once rather than left to its lease, so that another
// instance (or this one, when it starts again) takes it now.
func (w *Worker) Pass(ctx context.Context) (int, error) {
	batch, err := w.st.ClaimWebhookDeliveries(ctx, w.opts.Now(), w.lease, w.opts.BatchSize)
	if err != nil {
		return 0, err
	}
	err = queue.Each(ctx, batch, w.deliver, func(rest []store.WebhookDelivery) {
		for _, d := range rest {
			w.release(ctx, d, "not attempted: the worker stopped")
		}
	})
	if w.opts.Recorder != nil {
		if n, err := w.st.CountPendingWebhookDeliveries(ctx); err == nil {
			w.opts.Recorder.WebhookDepth(n)
		}
	}
	return len(batch), err
}

func (w *Worker) record(result string) {
	if w.opts.Recorder != nil {
		w.opts.Recorder.WebhookDelivery(result)
	}
}

// deliver tries d once; the error is the store's, a failed delivery is not
// one (it is recorded on the row).
func (w *Worker) deliver(ctx context.Context, d store.WebhookDelivery) error {
	log := w.opts.Logger.With("delivery_id", d.ID, "webhook_id", d.SubscriptionID, "event_id", d.EventID,
		"event_type", d.EventType, "attempt", d.Attempts)
	if age := w.opts.Now().Sub(d.CreatedAt); age >= w.opts.MaxAge {
		log.WarnContext(ctx, "webhook delivery given up: too old", "age", age.String(), "last_error", d.LastError)
		w.record("given_up")
		return queue.IgnoreGone(w.st.FinishWebhookDelivery(ctx, d.ID, store.WebhookFailed, w.opts.Now(), d.LastStatus,
			queue.Truncate("given up after "+age.Round(time.Second).String()+": "+d.LastError, maxErrorLength)))
	}
	sub, err := w.st.GetWebhook(ctx, d.SubscriptionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted with its subscription
	}
	if err != nil {
		return err
	}
	if !sub.Enabled {
		log.InfoContext(ctx, "webhook delivery dropped: the subscription is disabled")
		w.record("given_up")
		return queue.IgnoreGone(w.st.FinishWebhookDelivery(ctx, d.ID, store.WebhookFailed, w.opts.Now(), 0, "the subscription is disabled"))
	}
	status, err := w.post(ctx, sub, d)
	if err == nil {
		// The last error stays: the log then tells why it took retries.
		// Counted once recorded, as the back-channel sender does.
		if err := queue.IgnoreGone(w.st.FinishWebhookDelivery(ctx, d.ID, store.WebhookDelivered, w.opts.Now(), status, d.LastError)); err != nil {
			return err
		}
		w.record("delivered")
		log.InfoContext(ctx, "webhook delivered", "status", status)
		return nil
	}
	if ctx.Err() != nil {
		// Cut by the worker's stop, not the receiver's fault; the receiver
		// may have it already, and de-duplicates by webhook-id.
		w.release(ctx, d, "interrupted: the worker stopped")
		return nil
	}
	w.record("failed")
	msg := queue.Truncate(err.Error(), maxErrorLength)
	if d.Attempts >= w.opts.MaxAttempts {
		log.WarnContext(ctx, "webhook delivery given up after its last attempt", "error", msg)
		w.record("given_up")
		return queue.IgnoreGone(w.st.FinishWebhookDelivery(ctx, d.ID, store.WebhookFailed, w.opts.Now(), status, msg))
	}
	next := w.opts.Now().Add(jittered(w.Backoff(d.Attempts)))
	log.InfoContext(ctx, "webhook delivery failed; will retry", "error", msg, "next_attempt_at", next)
	return queue.IgnoreGone(w.st.RetryWebhookDelivery(ctx, d.ID, next, status, msg))
}

// release hands a claimed delivery back, due now, with ctx's values but
// not its end (it is called when ctx is done), within a short bound; if it
// fails the lease still ends.
func (w *Worker) release(ctx context.Context, d store.WebhookDelivery, why string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := queue.IgnoreGone(w.st.RetryWebhookDelivery(ctx, d.ID, w.opts.Now(), d.LastStatus, why)); err != nil {
		w.opts.Logger.WarnContext(ctx, "webhooks: hand back on stop failed; the lease will end", "delivery_id", d.ID, "error", err)
	}
}

// post signs d for sub and POSTs it: done on any 2xx, failed otherwise,
// with the status (0 when there was no answer).
func (w *Worker) post(ctx context.Context, sub store.WebhookSubscription, d store.WebhookDelivery) (int, error) {
	key, err := w.keys.WebhookSigningKey(sub)
	if err != nil {
		return 0, errors.New("the subscription's secret cannot be opened")
	}
	ts := w.opts.Now().Unix()
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gatehouse-webhooks")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(key, d.EventID, ts, d.Payload))
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s", w.opts.Timeout)
		}
		return 0, fmt.Errorf("post: %w", err)
	}
	// Read a little so the connection can be reused, never much: the
	// receiver's body means nothing to us.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("receiver answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Sign is the webhook-signature header of Standard Webhooks: "v1," and the
// base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}").
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}
