package backchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/queue"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// Store is what the sender needs of the store: the queue, and the clients
// whose logout URIs it posts to (read at each attempt, so a changed or
// removed URI is honoured).
type Store interface {
	ClaimLogouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Logout, error)
	RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error
	DeleteLogout(ctx context.Context, id string) error
	CountLogouts(ctx context.Context) (int, error)
	GetClient(ctx context.Context, id string) (store.Client, error)
}

// Keys gives the active signing keys (keys.Manager).
type Keys interface {
	Active(ctx context.Context) (keys.Active, error)
}

// Recorder is told of the queue's depth and of each attempt's result:
// "delivered", "failed" (every failed attempt, the last included) and
// "given_up" (a notification dropped: attempts or age exhausted, or its
// client gone); telemetry.LogoutMetrics is one.
type Recorder interface {
	LogoutDepth(n int)
	LogoutDelivery(result string)
}

// Options configure a Sender. Zero fields take the defaults below.
type Options struct {
	// Issuer is the iss of logout tokens.
	Issuer string
	// MaxAttempts failed attempts and a notification is given up.
	MaxAttempts int
	// MaxAge gives a notification up once it is that old, however few
	// attempts it had: a session ended long ago is of little use to tell.
	MaxAge time.Duration
	// PollInterval is the wait between passes when nothing was due.
	PollInterval time.Duration
	// BatchSize is how many notifications one claim takes.
	BatchSize int
	// BaseBackoff is the wait after the first failure; it doubles with
	// each further one, up to MaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Timeout bounds one POST, connection included.
	Timeout time.Duration
	// Client is the HTTP client (nil: one of the sender's own that follows
	// no redirects). Its own Timeout, if any, applies besides Timeout.
	Client   *http.Client
	Now      func() time.Time
	Logger   *slog.Logger
	Recorder Recorder // nil: nobody
}

// Defaults of the zero Options fields.
const (
	DefaultMaxAttempts  = 8
	DefaultMaxAge       = 24 * time.Hour
	DefaultPollInterval = 2 * time.Second
	DefaultBatchSize    = 20
	DefaultBaseBackoff  = 10 * time.Second
	DefaultMaxBackoff   = time.Hour
	DefaultTimeout      = 5 * time.Second
)

// TokenLifetime is how long a logout token is valid: it is signed at each
// attempt, so it needs only to outlive its delivery and the receiver's
// clock skew.
const TokenLifetime = 2 * time.Minute

// EventBackChannelLogout is the event a logout token carries (section 2.4).
const EventBackChannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// maxErrorLength bounds the last_error the queue keeps.
const maxErrorLength = 500

// Sender is one instance's deliverer of the back-channel logout queue.
// Every instance runs one; ClaimLogouts' lease and SKIP LOCKED keep a row
// with one sender at a time.
type Sender struct {
	st   Store
	keys Keys
	opts Options
	// lease is how long a claimed batch is ours: the time a whole batch may
	// take, each POST bounded by Timeout, with a margin.
	lease time.Duration
}

// New returns a sender of st's logout queue, signing with ks.
func New(st Store, ks Keys, opts Options) *Sender {
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
	if opts.Client == nil {
		opts.Client = &http.Client{
			// A redirect is not an acceptance: the logout token is posted
			// to the registered URI only, and a 3xx is retried.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{st: st, keys: ks, opts: opts, lease: time.Duration(opts.BatchSize)*opts.Timeout + time.Minute}
}

// Backoff is the wait before the next attempt after the attempts-th failed
// one: BaseBackoff doubled attempts-1 times, at most MaxBackoff.
func (s *Sender) Backoff(attempts int) time.Duration {
	return queue.Backoff(s.opts.BaseBackoff, s.opts.MaxBackoff, attempts)
}

// Run delivers until ctx ends: a pass over everything due, then a wait of
// PollInterval when the pass found nothing.
func (s *Sender) Run(ctx context.Context) {
	queue.Run(ctx, s.opts.PollInterval, s.Pass, func(err error) {
		s.opts.Logger.WarnContext(ctx, "back-channel logout: pass failed", "error", err)
	}, nil)
}

// Pass claims one batch of due notifications and delivers them, returning
// how many it claimed; then it records the queue's depth. Stopping, the
// rest stays claimed until the lease ends.
func (s *Sender) Pass(ctx context.Context) (int, error) {
	batch, err := s.st.ClaimLogouts(ctx, s.opts.Now(), s.lease, s.opts.BatchSize)
	if err != nil {
		return 0, err
	}
	err = queue.Each(ctx, batch, s.deliver, nil)
	if s.opts.Recorder != nil {
		if n, err := s.st.CountLogouts(ctx); err == nil {
			s.opts.Recorder.LogoutDepth(n)
		}
	}
	return len(batch), err
}

func (s *Sender) record(result string) {
	if s.opts.Recorder != nil {
		s.opts.Recorder.LogoutDelivery(result)
	}
}

// deliver tries l once; the error is the store's, a failed delivery is not
// one (it is recorded on the row).
func (s *Sender) deliver(ctx context.Context, l store.Logout) error {
	log := s.opts.Logger.With("logout_id", l.ID, "client_id", l.ClientID, "attempt", l.Attempts)
	if age := s.opts.Now().Sub(l.CreatedAt); age >= s.opts.MaxAge {
		log.WarnContext(ctx, "back-channel logout given up: too old", "age", age.String(), "last_error", l.LastError)
		s.record("given_up")
		return queue.IgnoreGone(s.st.DeleteLogout(ctx, l.ID))
	}
	c, err := s.st.GetClient(ctx, l.ClientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.BackchannelLogoutURI == "") {
		log.InfoContext(ctx, "back-channel logout dropped: the client no longer takes them")
		s.record("given_up")
		return queue.IgnoreGone(s.st.DeleteLogout(ctx, l.ID))
	}
	if err == nil {
		err = s.post(ctx, c, l)
		if err == nil {
			// Counted once the row is gone: "delivered" then means the
			// queue is done with it.
			if err := queue.IgnoreGone(s.st.DeleteLogout(ctx, l.ID)); err != nil {
				return err
			}
			s.record("delivered")
			log.InfoContext(ctx, "back-channel logout delivered")
			return nil
		}
	}
	s.record("failed")
	if l.Attempts >= s.opts.MaxAttempts {
		log.WarnContext(ctx, "back-channel logout given up after its last attempt", "error", err)
		s.record("given_up")
		return queue.IgnoreGone(s.st.DeleteLogout(ctx, l.ID))
	}
	next := s.opts.Now().Add(s.Backoff(l.Attempts))
	log.InfoContext(ctx, "back-channel logout failed; will retry", "error", err, "next_attempt_at", next)
	return queue.IgnoreGone(s.st.RetryLogout(ctx, l.ID, next, queue.Truncate(err.Error(), maxErrorLength)))
}

// post signs a logout token for l and POSTs it to c's URI (section 2.5):
// done on any 2xx, failed otherwise.
func (s *Sender) post(ctx context.Context, c store.Client, l store.Logout) error {
	token, err := s.Token(ctx, c, l)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		// The URL may carry a query the client registered; net/http's error
		// names it, which is the client's own configuration, not a secret.
		return fmt.Errorf("post: %w", err)
	}
	// Read a little so the connection can be reused, never much: the
	// receiver's body means nothing to us.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// logoutClaims are a logout token's claims (section 2.4): no nonce, ever,
// so that it can never pass for an ID token.
type logoutClaims struct {
	jwt.Claims
	Events map[string]struct{} `json:"events"`
	SID    string              `json:"sid,omitempty"`
}

// Token signs the logout token of l for client c: with the active key of
// the algorithm c's ID tokens are signed with (the default if it has
// none), typ logout+jwt, kid of the key.
func (s *Sender) Token(ctx context.Context, c store.Client, l store.Logout) (string, error) {
	active, err := s.keys.Active(ctx)
	if err != nil {
		return "", fmt.Errorf("signing keys: %w", err)
	}
	key, err := active.For(c.IDTokenSignedResponseAlg)
	if errors.Is(err, keys.ErrNoActiveKey) {
		key, err = active.Default()
	}
	if err != nil {
		return "", fmt.Errorf("signing key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key.Private},
		(&jose.SignerOptions{}).WithType("logout+jwt").WithHeader(jose.HeaderKey("kid"), key.ID))
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	now := s.opts.Now()
	claims := logoutClaims{
		Claims: jwt.Claims{
			Issuer:   s.opts.Issuer,
			Subject:  l.Subject,
			Audience: jwt.Audience{c.ID},
			IssuedAt: jwt.NewNumericDate(now),
			Expiry:   jwt.NewNumericDate(now.Add(TokenLifetime)),
			ID:       uuid.NewString(),
		},
		Events: map[string]struct{}{EventBackChannelLogout: {}},
		SID:    l.SessionID,
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
