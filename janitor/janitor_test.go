package janitor_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

func backends(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memory": func(t *testing.T) store.Store { return memory.New() },
		"postgres": func(t *testing.T) store.Store {
			st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(st.Close)
			return st
		},
	}
}

// seed stores expired and live access tokens, login sessions, JWT ids and
// passkey ceremonies.
func seed(t *testing.T, st store.Store, now time.Time, expired, live int) {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateClient(ctx, store.Client{ID: "c", GrantTypes: []string{"client_credentials"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	user := store.User{ID: uuid.NewString(), Username: "u", Email: "u@example.com", Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	add := func(i int, exp time.Time) {
		err := st.CreateToken(ctx, store.Token{
			Kind: store.KindAccessToken, Signature: fmt.Sprintf("sig-%d-%d", i, exp.Unix()), RequestID: uuid.NewString(),
			ClientID: "c", Subject: "c", RequestedAt: now, ExpiresAt: exp, Active: true, Request: json.RawMessage(`{}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateLoginSession(ctx, store.LoginSession{ID: fmt.Sprintf("s-%d-%d", i, exp.Unix()), UserID: user.ID,
			AuthTime: now, ExpiresAt: exp, LastSeenAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkJWTIDUsed(ctx, fmt.Sprintf("j-%d-%d", i, exp.Unix()), exp, now.Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateWebAuthnCeremony(ctx, store.WebAuthnCeremony{ID: fmt.Sprintf("w-%d-%d", i, exp.Unix()), Kind: "login",
			SessionData: json.RawMessage(`{}`), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreatePARRequest(ctx, store.PARRequest{RequestURI: fmt.Sprintf("urn:par:%d-%d", i, exp.Unix()),
			ClientID: "c", ExpiresAt: exp, Request: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateDeviceCode(ctx, store.DeviceCode{Signature: fmt.Sprintf("dc-%d-%d", i, exp.Unix()),
			UserCode: fmt.Sprintf("uc-%d-%d", i, exp.Unix()), ClientID: "c", Status: store.DevicePending, Interval: 5 * time.Second,
			RequestedAt: now.Add(-2 * time.Hour), ExpiresAt: exp}, now.Add(-2*time.Hour), 1000); err != nil {
			t.Fatal(err)
		}
		digest := sha256.Sum256([]byte(fmt.Sprintf("ticket-%d-%d", i, exp.Unix())))
		if err := st.CreateTicket(ctx, store.Ticket{Digest: digest[:], Purpose: store.TicketPasswordReset, UserID: user.ID,
			CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
		proof := sha256.Sum256([]byte(fmt.Sprintf("dpop-%d-%d", i, exp.Unix())))
		if err := st.UseDPoPProof(ctx, proof[:], exp, now.Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range expired {
		add(i, now.Add(-time.Minute))
	}
	for i := range live {
		add(i, now.Add(time.Hour))
	}
}

func TestRunOnceDeletesOnlyExpired(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			seed(t, st, now, 25, 3)
			j := janitor.New(st, janitor.Options{BatchSize: 10, Now: func() time.Time { return now }})
			res, err := j.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := janitor.Result{Tokens: 25, PARRequests: 25, LoginSessions: 25, JWTIDs: 25, WebAuthnCeremonies: 25, Tickets: 25, DeviceCodes: 25, DPoPProofs: 25}
			if res != want {
				t.Fatalf("RunOnce = %+v, want %+v", res, want)
			}
			// A second run finds nothing; the live records are all there.
			if res, err = j.RunOnce(context.Background()); err != nil || res != (janitor.Result{}) {
				t.Fatalf("second RunOnce = %+v, %v; want nothing deleted", res, err)
			}
			if n, _ := st.DeleteExpiredTokens(context.Background(), now.Add(2*time.Hour), 1000); n != 3 {
				t.Errorf("live tokens left = %d, want 3", n)
			}
			sessions, err := st.ListLoginSessions(context.Background(), mustUser(t, st).ID, now)
			if err != nil || len(sessions) != 3 {
				t.Errorf("live sessions = %d (%v), want 3", len(sessions), err)
			}
		})
	}
}

func TestRunOnceIsBounded(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			seed(t, st, now, 50, 0)
			j := janitor.New(st, janitor.Options{BatchSize: 10, MaxBatches: 2, Now: func() time.Time { return now }})
			res, err := j.RunOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Tokens != 20 || res.PARRequests != 20 || res.LoginSessions != 20 || res.JWTIDs != 20 || res.WebAuthnCeremonies != 20 || res.DeviceCodes != 20 {
				t.Fatalf("one bounded run deleted %+v, want 20 of each (2 batches of 10)", res)
			}
			// The rest goes on the following runs.
			for range 2 {
				if _, err := j.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if res, _ := j.RunOnce(context.Background()); res != (janitor.Result{}) {
				t.Fatalf("after four runs still deleting: %+v", res)
			}
		})
	}
}

func TestConcurrentJanitorsShareTheWork(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			seed(t, st, now, 60, 0)
			results := make(chan janitor.Result, 3)
			errs := make(chan error, 3)
			for range 3 {
				go func() {
					res, err := janitor.New(st, janitor.Options{BatchSize: 7, Now: func() time.Time { return now }}).RunOnce(context.Background())
					results <- res
					errs <- err
				}()
			}
			total := janitor.Result{}
			for range 3 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
				r := <-results
				total.Tokens += r.Tokens
				total.PARRequests += r.PARRequests
				total.LoginSessions += r.LoginSessions
				total.JWTIDs += r.JWTIDs
				total.WebAuthnCeremonies += r.WebAuthnCeremonies
				total.Tickets += r.Tickets
				total.DeviceCodes += r.DeviceCodes
				total.DPoPProofs += r.DPoPProofs
			}
			if total != (janitor.Result{Tokens: 60, PARRequests: 60, LoginSessions: 60, JWTIDs: 60, WebAuthnCeremonies: 60, Tickets: 60, DeviceCodes: 60, DPoPProofs: 60}) {
				t.Fatalf("three janitors deleted %+v in all, want exactly 60 of each", total)
			}
		})
	}
}

func mustUser(t *testing.T, st store.Store) store.User {
	t.Helper()
	u, err := st.GetUserByUsername(context.Background(), "u")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// recorder is what telemetry sees of the janitor.
type recorder struct {
	deleted map[string]int
	runs    []bool
}

func (r *recorder) JanitorDeleted(kind string, n int) {
	if r.deleted == nil {
		r.deleted = map[string]int{}
	}
	r.deleted[kind] += n
}

func (r *recorder) JanitorRun(ok bool) { r.runs = append(r.runs, ok) }

// Each run reports what it deleted, kind by kind, and whether it succeeded;
// a failed run is reported as one.
func TestRunOnceReportsToTheRecorder(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			seed(t, st, now, 12, 2)
			rec := &recorder{}
			j := janitor.New(st, janitor.Options{BatchSize: 5, Now: func() time.Time { return now }, Recorder: rec})
			for range 2 {
				if _, err := j.RunOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]int{"tokens": 12, "par_requests": 12, "login_sessions": 12, "jwt_ids": 12, "signing_keys": 0, "sign_in_failures": 0, "mfa_challenges": 0, "webauthn_ceremonies": 12, "tickets": 12, "registered_clients": 0, "device_codes": 12, "dpop_proofs": 12}
			if fmt.Sprint(rec.deleted) != fmt.Sprint(want) {
				t.Errorf("reported deletions %v, want %v", rec.deleted, want)
			}
			if fmt.Sprint(rec.runs) != "[true true]" {
				t.Errorf("reported runs %v, want two successful ones", rec.runs)
			}
		})
	}
	t.Run("failed run", func(t *testing.T) {
		st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		st.Close() // every statement now fails
		rec := &recorder{}
		if _, err := janitor.New(st, janitor.Options{Recorder: rec}).RunOnce(context.Background()); err == nil {
			t.Fatal("RunOnce on a closed store succeeded")
		}
		if fmt.Sprint(rec.runs) != "[false]" {
			t.Errorf("reported runs %v, want one failed run", rec.runs)
		}
	})
}

// Failure rows older than the window go, in bounded batches; rows within
// it stay, since they still count.
func TestRunOnceSweepsOldSignInFailures(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Microsecond)
			user := store.User{ID: uuid.NewString(), Username: "u", Email: "u@example.com", Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}
			if err := st.CreateUser(ctx, user); err != nil {
				t.Fatal(err)
			}
			const window = 15 * time.Minute
			record := func(addr string, at time.Time) {
				t.Helper()
				if _, err := st.RecordSignInFailure(ctx, user.ID, addr, at, at.Add(-window), 5); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 23 {
				record(fmt.Sprintf("192.0.2.%d", i), now.Add(-window-time.Minute))
			}
			record("198.51.100.1", now.Add(-window+time.Minute))

			j := janitor.New(st, janitor.Options{BatchSize: 5, MaxBatches: 3, SignInFailureWindow: window, Now: func() time.Time { return now }})
			res, err := j.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.SignInFailures != 15 {
				t.Errorf("first run deleted %d failure rows, want 15 (3 batches of 5)", res.SignInFailures)
			}
			if res, _ = j.RunOnce(ctx); res.SignInFailures != 8 {
				t.Errorf("second run deleted %d, want the 8 left", res.SignInFailures)
			}
			_, total, err := st.CountSignInFailures(ctx, user.ID, "198.51.100.1", now.Add(-24*time.Hour))
			if err != nil || total != 1 {
				t.Errorf("rows left: %d (%v), want the one within the window", total, err)
			}
		})
	}
}
