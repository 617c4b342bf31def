package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// totpUserFormat names the users of authcode-login-totp.
const totpUserFormat = "bench-totp-%05d"

// totpPeriod is the time step of the server's keys in seconds (RFC 6238's
// 30): only the pool's size assumes it, before any key exists; codes
// follow each key's own period.
const totpPeriod = 30

// Sizing of the TOTP user pool. A code works once per factor and time
// step, so every sign-in of authcode-login-totp spends one (user, step)
// pair, and a user signed in at the start of a step is free again only at
// the next one, up to a period later. The pool holds enough users for
// totpHeadroom times the fastest sign-in rate the machine allows (every
// sign-in checks one password: bcrypt checks per second on every CPU) for
// a whole period, plus one per worker in flight. The headroom is wide
// because the bound is measured once, before the runs, and on a shared
// machine may come out at half of what the runs then reach; a user costs
// a few milliseconds to set up. totpMaxUsers bounds the pool when the
// hash is cheap (a low bcrypt cost); any shortfall then shows as waits in
// the report.
const (
	totpHeadroom = 4
	totpMaxUsers = 10_000
)

// totpPoolSize is the number of TOTP users for maxConc workers on a
// machine that checks checksPerSec passwords a second, with a period of
// periodSeconds.
func totpPoolSize(maxConc int, checksPerSec float64, periodSeconds int) int {
	n := maxConc + int(math.Ceil(totpHeadroom*checksPerSec*float64(periodSeconds)))
	return min(max(n, 2*maxConc), totpMaxUsers)
}

// TOTPUser is a user with an authenticator app: its key (as an
// authenticator app holds it, from the otpauth URI the server made) and
// the last time step one of its codes was used (at enrolment, or by a
// sign-in), which the server will not accept again.
type TOTPUser struct {
	Username string
	Key      *otp.Key
	LastStep int64
}

// totpCode is key's code for time step step.
func totpCode(key *otp.Key, step int64) (string, error) {
	period := int64(key.Period())
	code, err := totp.GenerateCodeCustom(key.Secret(), time.Unix(step*period, 0), totp.ValidateOpts{
		Period: uint(period), Digits: key.Digits(), Algorithm: key.Algorithm(),
	})
	if err != nil {
		return "", fmt.Errorf("totp code: %w", err)
	}
	return code, nil
}

// totpStep is the time step of t for key.
func totpStep(key *otp.Key, t time.Time) int64 { return t.Unix() / int64(key.Period()) }

// totpLease is one (user, step) pair handed out by the pool: the flow
// signs in as the user and answers the second step with the code of step.
type totpLease struct {
	user *TOTPUser
	step int64
}

// totpPool hands out the TOTP users so that no (user, time step) pair is
// ever used twice: a taken user is marked as having used the current
// step at once (whether or not the flow then succeeds), and is free again
// from the next step. The flow submits the code of the step it was given,
// which the server accepts for a step either side of its own clock, so a
// flow may take up to a period and still be answered.
type totpPool struct {
	mu    sync.Mutex
	users []*TOTPUser
	// next is where the search for a free user starts: taking users in
	// turn spreads the steps over the pool.
	next int
	now  func() time.Time
}

func newTOTPPool(users []TOTPUser, now func() time.Time) *totpPool {
	p := &totpPool{now: now}
	for i := range users {
		u := users[i]
		p.users = append(p.users, &u)
	}
	return p
}

// take returns a user whose last used step is before the current one, or
// ok false and how long it is until the next step begins.
func (p *totpPool) take() (l totpLease, untilNext time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for i := range p.users {
		u := p.users[(p.next+i)%len(p.users)]
		step := totpStep(u.Key, now)
		if u.LastStep < step {
			u.LastStep = step
			p.next = (p.next + i + 1) % len(p.users)
			return totpLease{user: u, step: step}, 0, true
		}
	}
	period := int64(p.users[0].Key.Period())
	return totpLease{}, time.Unix((now.Unix()/period+1)*period, 0).Sub(now), false
}

// acquire takes a free user, waiting for the next time step while none is
// free. waited reports whether it had to wait. It fails only when ctx ends.
func (p *totpPool) acquire(ctx context.Context) (l totpLease, waited bool, err error) {
	for {
		l, untilNext, ok := p.take()
		if ok {
			return l, waited, nil
		}
		waited = true
		// A few milliseconds past the boundary, so that the clock is
		// surely in the new step when the pool looks again.
		if err := sleepUntil(ctx, time.Now().Add(untilNext+5*time.Millisecond)); err != nil {
			return totpLease{}, waited, err
		}
	}
}

// authcode-login-totp: authcode-login for users with an authenticator
// app: authorize, login form, password POST, second-step page, code POST,
// authorize again, code exchange.
type totpLoginWorker struct {
	e     *env
	a     *authorizer
	lease totpLease
	ready bool
}

func (e *env) newAuthcodeLoginTOTP(ctx context.Context, _ int) (Worker, error) {
	if e.totp == nil || len(e.totp.users) == 0 {
		return nil, errors.New("no TOTP users (authcode-login-totp needs the users the bench seeds: bench or roundtrips)")
	}
	w := &totpLoginWorker{e: e, a: &authorizer{d: e.d, t: e.t, rp: e.plain}}
	// One whole flow before the clock starts, as authcode-login's set-up
	// flow: it proves that sign-in with the second step works.
	if _, err := w.Wait(ctx); err != nil {
		return nil, err
	}
	if _, err := w.Do(ctx); err != nil {
		return nil, fmt.Errorf("first sign-in with TOTP: %w", err)
	}
	return w, nil
}

// Wait takes the user of the next flow from the pool (Run's waiter).
func (w *totpLoginWorker) Wait(ctx context.Context) (bool, error) {
	l, waited, err := w.e.totp.acquire(ctx)
	if err != nil {
		return waited, err
	}
	w.lease, w.ready = l, true
	return waited, nil
}

func (w *totpLoginWorker) Do(ctx context.Context) (string, error) {
	if !w.ready {
		// Run always calls Wait first; this keeps Do correct on its own.
		if _, err := w.Wait(ctx); err != nil {
			return "", err
		}
	}
	w.ready = false
	code, err := totpCode(w.lease.user.Key, w.lease.step)
	if err != nil {
		return "", err
	}
	w.a.username, w.a.otp = w.lease.user.Username, code
	w.a.browser = newBrowser(w.e.transport)
	_, err = w.a.flow(ctx, scopeLogin, true)
	if err != nil {
		return "", fmt.Errorf("%s: %w", w.lease.user.Username, err)
	}
	return "", nil
}

// configEnv is what the server's configuration is read from: this
// process's environment as the bench passes it on, with the bench's own
// settings.
func (l *local) configEnv() func(string) (string, bool) {
	vars := map[string]string{}
	for _, kv := range childEnv(l.serverEnv, []string{"GATEHOUSE_DATABASE_URL=" + l.dbURL}) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// createTOTPUsers makes the users of authcode-login-totp, each with a
// confirmed authenticator app and the consent to the web client's scopes
// remembered. The factors are set up through the domain service, built
// from the server's configuration as the server builds it
// (server.DomainOptions), so the secrets are sealed under the key the
// server opens them with. Every user shares one password hash at the
// server's cost (hashing hundreds of passwords would take minutes; the
// sign-in checks it at the same cost), and the users are created in the
// store directly, as the bulk directory users are: without audit entries
// for their creation.
func (l *local) createTOTPUsers(ctx context.Context, password string, n int) ([]TOTPUser, error) {
	cfg, err := config.Load("", l.configEnv())
	if err != nil {
		return nil, fmt.Errorf("totp users: configuration: %w", err)
	}
	st, err := postgres.New(ctx, l.dbURL)
	if err != nil {
		return nil, fmt.Errorf("totp users: open database: %w", err)
	}
	defer st.Close()
	svc := domain.NewService(st, server.DomainOptions(cfg, slog.New(slog.DiscardHandler)))
	hash, err := domain.Passwords{BcryptCost: cfg.Password.BcryptCost}.Hash(password)
	if err != nil {
		return nil, fmt.Errorf("totp users: %w", err)
	}
	users := make([]TOTPUser, n)
	errs := make([]error, n)
	const parallel = 4
	var wg sync.WaitGroup
	for g := range parallel {
		wg.Go(func() {
			for i := g; i < n; i += parallel {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					return
				}
				users[i], errs[i] = enrolTOTPUser(ctx, st, svc, fmt.Sprintf(totpUserFormat, i), hash)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return users, nil
}

// enrolTOTPUser creates one user and sets up its authenticator app the
// way the account security page does: begin, then confirm with a code of
// the key the server handed out.
func enrolTOTPUser(ctx context.Context, st store.Store, svc *domain.Service, name, hash string) (TOTPUser, error) {
	now := time.Now().UTC()
	u := store.User{
		ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: hash,
		FullName: "TOTP " + name, Status: store.StatusActive, Roles: []string{"user"}, EmailVerified: true,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateUser(ctx, u); err != nil {
		return TOTPUser{}, fmt.Errorf("totp user %s: %w", name, err)
	}
	if err := svc.GrantConsent(ctx, u.ID, webClientID, strings.Fields(scopeAll)); err != nil {
		return TOTPUser{}, fmt.Errorf("totp user %s: %w", name, err)
	}
	en, err := svc.BeginTOTPEnrolment(ctx, u)
	if err != nil {
		return TOTPUser{}, fmt.Errorf("totp user %s: %w", name, err)
	}
	key, err := otp.NewKeyFromURL(en.URI)
	if err != nil {
		return TOTPUser{}, fmt.Errorf("totp user %s: key: %w", name, err)
	}
	step := totpStep(key, time.Now())
	code, err := totpCode(key, step)
	if err != nil {
		return TOTPUser{}, err
	}
	if _, err := svc.ConfirmTOTPEnrolment(ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, en.FactorID, code); err != nil {
		return TOTPUser{}, fmt.Errorf("totp user %s: confirm: %w", name, err)
	}
	// The confirming code's step counts as used.
	return TOTPUser{Username: name, Key: key, LastStep: step}, nil
}
