package janitor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Options configure a Janitor.
type Options struct {
	// Interval between runs (default 1m). Each run waits a random extra of
	// up to a tenth of it, so instances started together spread out.
	Interval time.Duration
	// BatchSize bounds each DELETE (default 500): short statements hold
	// locks briefly and never build a huge transaction.
	BatchSize int
	// MaxBatches bounds one run per table (default 200); what is left waits
	// for the next run rather than starving the database.
	MaxBatches int
	// SignInFailureWindow is how long a failed sign-in counts (the
	// configuration's login.lockout, default 15m): rows whose last failure
	// is older count for nothing and are deleted.
	SignInFailureWindow time.Duration
	Now                 func() time.Time
	Logger              *slog.Logger
	// Recorder is told what each run deleted (nil: nobody).
	Recorder Recorder

	// UnusedClientTTL deletes dynamically registered clients (RFC 7591)
	// that got no token for that long (config client_registration.
	// unused_client_ttl); 0 keeps them.
	UnusedClientTTL time.Duration

	// Time-boxed role grants.
	// RoleGrants deletes expired role assignments and audits each
	// (domain.Service.ExpireRoleGrants); nil: they stay until an
	// administrator removes them. They stop counting at their expiry
	// either way: this only keeps user_roles tidy.
	RoleGrants RoleGrantExpirer

	// Usage analytics.
	// UsageRetention deletes the usage counters (store.Usage) of days
	// older than this (config usage.retention); 0 keeps them.
	UsageRetention time.Duration
}

// RoleGrantExpirer removes up to limit role assignments expired by now,
// auditing each, and says how many went.
type RoleGrantExpirer interface {
	ExpireRoleGrants(ctx context.Context, now time.Time, limit int) (int, error)
}

// Store is what the janitor needs of the store: the deletions of what has
// expired, each bounded by limit so that one statement stays short.
type Store interface {
	DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredPARRequests(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredLoginSessions(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredJWTIDs(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredMFAChallenges(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredWebAuthnCeremonies(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredTickets(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error)
	DeleteSignInFailuresBefore(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteUnusedRegisteredClients(ctx context.Context, before time.Time, limit int) (int, error)
	// DeleteExpiredDeviceCodes: the device authorization grant.
	DeleteExpiredDeviceCodes(ctx context.Context, now time.Time, limit int) (int, error)
	DeleteExpiredDPoPProofs(ctx context.Context, now time.Time, limit int) (int, error)
	// DeleteUsageBefore: the usage analytics' retention.
	DeleteUsageBefore(ctx context.Context, day time.Time, limit int) (int, error)
}

var _ Store = store.Store(nil)

// Recorder counts the janitor's work (telemetry implements it). kind is
// one of the Result's JSON names: tokens, par_requests, login_sessions,
// jwt_ids, signing_keys, sign_in_failures, mfa_challenges,
// webauthn_ceremonies, tickets, registered_clients, device_codes, dpop_proofs,
// role_grants, usage_counters.
type Recorder interface {
	JanitorDeleted(kind string, n int)
	JanitorRun(ok bool)
}

type noRecorder struct{}

func (noRecorder) JanitorDeleted(string, int) {}
func (noRecorder) JanitorRun(bool)            {}

// Janitor removes expired records from a store.
type Janitor struct {
	st   Store
	opts Options
}

// New returns a Janitor with defaults for zero options.
func New(st Store, opts Options) *Janitor {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.MaxBatches <= 0 {
		opts.MaxBatches = 200
	}
	if opts.SignInFailureWindow <= 0 {
		opts.SignInFailureWindow = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Recorder == nil {
		opts.Recorder = noRecorder{}
	}
	return &Janitor{st: st, opts: opts}
}

// Result counts what one run deleted.
type Result struct {
	Tokens        int `json:"tokens"`
	PARRequests   int `json:"par_requests"`
	LoginSessions int `json:"login_sessions"`
	JWTIDs        int `json:"jwt_ids"`
	SigningKeys   int `json:"signing_keys"`
	// SignInFailures counts (account, address) failure rows older than
	// the window.
	SignInFailures int `json:"sign_in_failures"`
	// MFAChallenges are sign-ins abandoned between password and code.
	MFAChallenges int `json:"mfa_challenges"`
	// WebAuthnCeremonies are passkey ceremonies begun and never finished.
	WebAuthnCeremonies int `json:"webauthn_ceremonies"`
	// Tickets are password-reset and email-verification tickets.
	Tickets int `json:"tickets"`
	// RegisteredClients are dynamically registered clients unused for
	// Options.UnusedClientTTL.
	RegisteredClients int `json:"registered_clients"`
	// DeviceCodes are device authorizations (RFC 8628), answered or not.
	DeviceCodes int `json:"device_codes"`
	// DPoPProofs are the replay records of DPoP proofs past their window.
	DPoPProofs int `json:"dpop_proofs"`

	// RoleGrants are the expired time-boxed role assignments removed.
	RoleGrants int `json:"role_grants"`

	// UsageCounters are the usage analytics' daily counters past
	// Options.UsageRetention.
	UsageCounters int `json:"usage_counters"`
}

// RunOnce deletes expired records, batch by batch, until a batch comes back
// short or MaxBatches is reached for each kind. What a failed run deleted
// before it failed is in its Result, and is recorded.
func (j *Janitor) RunOnce(ctx context.Context) (res Result, err error) {
	defer func() { j.record(res, err) }()
	now := j.opts.Now()
	if res.Tokens, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredTokens(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: tokens: %w", err)
	}
	if res.PARRequests, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredPARRequests(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: PAR requests: %w", err)
	}
	if res.LoginSessions, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredLoginSessions(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: login sessions: %w", err)
	}
	if res.JWTIDs, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredJWTIDs(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: jwt ids: %w", err)
	}
	before := now.Add(-j.opts.SignInFailureWindow)
	if res.SignInFailures, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteSignInFailuresBefore(ctx, before, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: sign-in failures: %w", err)
	}
	if res.MFAChallenges, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredMFAChallenges(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: MFA challenges: %w", err)
	}
	if res.WebAuthnCeremonies, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredWebAuthnCeremonies(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: webauthn ceremonies: %w", err)
	}
	if res.Tickets, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredTickets(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: tickets: %w", err)
	}
	if j.opts.UnusedClientTTL > 0 {
		unused := now.Add(-j.opts.UnusedClientTTL)
		if res.RegisteredClients, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
			return j.st.DeleteUnusedRegisteredClients(ctx, unused, limit)
		}); err != nil {
			return res, fmt.Errorf("janitor: registered clients: %w", err)
		}
	}
	if res.DeviceCodes, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredDeviceCodes(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: device codes: %w", err)
	}
	if res.DPoPProofs, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
		return j.st.DeleteExpiredDPoPProofs(ctx, now, limit)
	}); err != nil {
		return res, fmt.Errorf("janitor: DPoP proofs: %w", err)
	}
	// Retired keys are few; one statement removes them all.
	if j.opts.RoleGrants != nil {
		if res.RoleGrants, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
			return j.opts.RoleGrants.ExpireRoleGrants(ctx, now, limit)
		}); err != nil {
			return res, fmt.Errorf("janitor: role grants: %w", err)
		}
	}
	if j.opts.UsageRetention > 0 {
		// A counter is a whole UTC day: the day whose end is within the
		// retention stays (DeleteUsageBefore truncates to the day).
		before := now.Add(-j.opts.UsageRetention)
		if res.UsageCounters, err = j.drain(ctx, func(ctx context.Context, limit int) (int, error) {
			return j.st.DeleteUsageBefore(ctx, before, limit)
		}); err != nil {
			return res, fmt.Errorf("janitor: usage counters: %w", err)
		}
	}
	if res.SigningKeys, err = j.st.DeleteRetiredSigningKeys(ctx, now); err != nil {
		return res, fmt.Errorf("janitor: signing keys: %w", err)
	}
	return res, nil
}

func (j *Janitor) record(res Result, err error) {
	r := j.opts.Recorder
	r.JanitorDeleted("tokens", res.Tokens)
	r.JanitorDeleted("par_requests", res.PARRequests)
	r.JanitorDeleted("login_sessions", res.LoginSessions)
	r.JanitorDeleted("jwt_ids", res.JWTIDs)
	r.JanitorDeleted("signing_keys", res.SigningKeys)
	r.JanitorDeleted("sign_in_failures", res.SignInFailures)
	r.JanitorDeleted("mfa_challenges", res.MFAChallenges)
	r.JanitorDeleted("webauthn_ceremonies", res.WebAuthnCeremonies)
	r.JanitorDeleted("tickets", res.Tickets)
	r.JanitorDeleted("registered_clients", res.RegisteredClients)
	r.JanitorDeleted("device_codes", res.DeviceCodes)
	r.JanitorDeleted("dpop_proofs", res.DPoPProofs)
	if j.opts.RoleGrants != nil {
		r.JanitorDeleted("role_grants", res.RoleGrants)
	}
	if j.opts.UsageRetention > 0 {
		r.JanitorDeleted("usage_counters", res.UsageCounters)
	}
	r.JanitorRun(err == nil)
}

func (j *Janitor) drain(ctx context.Context, batch func(ctx context.Context, limit int) (int, error)) (int, error) {
	total := 0
	for range j.opts.MaxBatches {
		n, err := batch(ctx, j.opts.BatchSize)
		total += n
		if err != nil {
			return total, err
		}
		if n < j.opts.BatchSize {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// Run calls RunOnce every Interval until ctx is done. Failures are logged
// and retried at the next interval: a database blip must not stop cleanup.
func (j *Janitor) Run(ctx context.Context) {
	for {
		jitter := time.Duration(rand.Int64N(int64(j.opts.Interval)/10 + 1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(j.opts.Interval + jitter):
		}
		res, err := j.RunOnce(ctx)
		if err != nil {
			if ctx.Err() == nil {
				j.opts.Logger.Warn("janitor run failed", "error", err)
			}
			continue
		}
		if res != (Result{}) {
			j.opts.Logger.Info("janitor deleted expired records", "tokens", res.Tokens, "par_requests", res.PARRequests,
				"login_sessions", res.LoginSessions, "jwt_ids", res.JWTIDs, "signing_keys", res.SigningKeys,
				"sign_in_failures", res.SignInFailures, "mfa_challenges", res.MFAChallenges, "webauthn_ceremonies", res.WebAuthnCeremonies, "tickets", res.Tickets,
				"registered_clients", res.RegisteredClients, "device_codes", res.DeviceCodes, "dpop_proofs", res.DPoPProofs,
				"role_grants", res.RoleGrants, "usage_counters", res.UsageCounters)
		}
	}
}
