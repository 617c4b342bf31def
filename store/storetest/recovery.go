package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var ticketTests = []subtest{
	{"CreateGetUse", testTicketCreateGetUse},
	{"Expired", testTicketExpired},
	{"PurposeKept", testTicketPurpose},
	{"UsedOnceConcurrently", testTicketConcurrentUse},
	{"UsedOnceInTransactions", testTicketConcurrentUseInTx},
	{"LastTicketAt", testTicketLast},
	{"DeleteExpired", testTicketDeleteExpired},
	{"GoneWithUser", testTicketGoneWithUser},
	{"RolledBack", testTicketRolledBack},
}

var outboxTests = []subtest{
	{"EnqueueClaimDelete", testOutboxEnqueueClaimDelete},
	{"Bounded", testOutboxBounded},
	{"LeaseAndRetry", testOutboxLeaseAndRetry},
	{"ClaimBatchOrder", testOutboxClaimBatch},
	{"ConcurrentClaimsDisjoint", testOutboxConcurrentClaims},
	{"EnqueueRolledBack", testOutboxRolledBack},
}

func (f *fixture) newTicket(userID string, purpose store.TicketPurpose) store.Ticket {
	token := make([]byte, 32)
	_, _ = rand.Read(token)
	d := sha256.Sum256(token)
	return store.Ticket{Digest: d[:], Purpose: purpose, UserID: userID, CreatedAt: f.now, ExpiresAt: f.at(time.Hour)}
}

func testTicketCreateGetUse(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	got, err := f.s.GetTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.now)
	f.must(err, "GetTicket")
	f.equal("ticket", got, tk)

	v := f.newTicket(u.ID, store.TicketEmailVerification)
	v.Email = u.Email
	f.must(f.s.CreateTicket(f.ctx, v), "CreateTicket verification")
	got, err = f.s.GetTicket(f.ctx, store.TicketEmailVerification, v.Digest, f.now)
	f.must(err, "GetTicket verification")
	f.equal("verification ticket", got, v)

	f.wantErr(f.s.CreateTicket(f.ctx, tk), store.ErrConflict, "CreateTicket with a taken digest")
	f.wantErr(f.s.CreateTicket(f.ctx, f.newTicket(uuid.NewString(), store.TicketPasswordReset)), store.ErrNotFound,
		"CreateTicket for an unknown user")
	f.wantErr(f.s.CreateTicket(f.ctx, f.newTicket("not-a-uuid", store.TicketPasswordReset)), store.ErrNotFound,
		"CreateTicket for a malformed user id")

	used, err := f.s.UseTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.at(time.Minute))
	f.must(err, "UseTicket")
	want := tk
	want.UsedAt = f.atPtr(time.Minute)
	f.equal("used ticket", used, want)
	_, err = f.s.UseTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.at(2*time.Minute))
	f.wantErr(err, store.ErrNotFound, "UseTicket a second time")
	_, err = f.s.GetTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.at(2*time.Minute))
	f.wantErr(err, store.ErrNotFound, "GetTicket of a used ticket")

	forged := sha256.Sum256([]byte("forged"))
	_, err = f.s.GetTicket(f.ctx, store.TicketPasswordReset, forged[:], f.now)
	f.wantErr(err, store.ErrNotFound, "GetTicket of an unknown digest")
	_, err = f.s.UseTicket(f.ctx, store.TicketPasswordReset, forged[:], f.now)
	f.wantErr(err, store.ErrNotFound, "UseTicket of an unknown digest")
}

func testTicketExpired(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	_, err := f.s.GetTicket(f.ctx, store.TicketPasswordReset, tk.Digest, tk.ExpiresAt)
	f.wantErr(err, store.ErrNotFound, "GetTicket at its expiry")
	_, err = f.s.UseTicket(f.ctx, store.TicketPasswordReset, tk.Digest, tk.ExpiresAt.Add(time.Second))
	f.wantErr(err, store.ErrNotFound, "UseTicket after its expiry")
	_, err = f.s.UseTicket(f.ctx, store.TicketPasswordReset, tk.Digest, tk.ExpiresAt.Add(-time.Second))
	f.must(err, "UseTicket just before its expiry (the refused use changed nothing)")
}

func testTicketPurpose(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketEmailVerification)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	_, err := f.s.GetTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.now)
	f.wantErr(err, store.ErrNotFound, "GetTicket for another purpose")
	_, err = f.s.UseTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.now)
	f.wantErr(err, store.ErrNotFound, "UseTicket for another purpose")
	_, err = f.s.UseTicket(f.ctx, store.TicketEmailVerification, tk.Digest, f.now)
	f.must(err, "UseTicket for its purpose after the refusals")
}

// testTicketConcurrentUse: a ticket used twice in parallel succeeds once.
func testTicketConcurrentUse(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	const n = 8
	errs := f.concurrently(n, func(ctx context.Context, _ int) error {
		_, err := f.s.UseTicket(ctx, store.TicketPasswordReset, tk.Digest, f.now)
		return err
	})
	f.wantOneWinner("UseTicket", errs)
}

// testTicketConcurrentUseInTx: the same inside transactions held open for a
// while after the use, as the domain's reset transaction is.
func testTicketConcurrentUseInTx(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	errs := f.concurrently(4, func(ctx context.Context, _ int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			if _, err := f.s.UseTicket(ctx, store.TicketPasswordReset, tk.Digest, f.now); err != nil {
				return err
			}
			time.Sleep(holdWindow)
			return nil
		})
	})
	f.wantOneWinner("UseTicket in a transaction", errs)
}

func (f *fixture) wantOneWinner(what string, errs []error) {
	f.t.Helper()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotFound):
			f.t.Errorf("%s #%d: error %v, want nil or ErrNotFound", what, i, err)
		}
	}
	if wins != 1 {
		f.t.Errorf("%s: %d of %d concurrent calls succeeded, want exactly 1", what, wins, len(errs))
	}
}

func testTicketLast(f *fixture) {
	u := f.createUser()
	last, err := f.s.LastTicketAt(f.ctx, u.ID, store.TicketEmailVerification)
	f.must(err, "LastTicketAt without tickets")
	if !last.IsZero() {
		f.t.Errorf("LastTicketAt without tickets = %v, want the zero time", last)
	}
	a := f.newTicket(u.ID, store.TicketEmailVerification)
	b := f.newTicket(u.ID, store.TicketEmailVerification)
	b.CreatedAt = f.at(time.Minute)
	c := f.newTicket(u.ID, store.TicketPasswordReset)
	c.CreatedAt = f.at(time.Hour)
	for _, tk := range []store.Ticket{a, b, c} {
		f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	}
	_, err = f.s.UseTicket(f.ctx, store.TicketEmailVerification, b.Digest, f.at(2*time.Minute))
	f.must(err, "UseTicket")
	last, err = f.s.LastTicketAt(f.ctx, u.ID, store.TicketEmailVerification)
	f.must(err, "LastTicketAt")
	f.equal("last verification ticket", last, b.CreatedAt)
	last, err = f.s.LastTicketAt(f.ctx, "not-a-uuid", store.TicketEmailVerification)
	f.must(err, "LastTicketAt of a malformed id")
	if !last.IsZero() {
		f.t.Errorf("LastTicketAt of a malformed id = %v, want zero", last)
	}
}

func testTicketDeleteExpired(f *fixture) {
	u := f.createUser()
	var expired []store.Ticket
	for i := range 3 {
		tk := f.newTicket(u.ID, store.TicketPasswordReset)
		tk.ExpiresAt = f.at(time.Duration(-i-1) * time.Minute)
		f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket expired")
		expired = append(expired, tk)
	}
	live := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, live), "CreateTicket live")
	n, err := f.s.DeleteExpiredTickets(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredTickets")
	f.equal("deleted", n, 2)
	n, err = f.s.DeleteExpiredTickets(f.ctx, f.now, 10)
	f.must(err, "DeleteExpiredTickets again")
	f.equal("deleted again", n, 1)
	for _, tk := range expired {
		// Re-creating a swept digest works only if its row is gone.
		tk.ExpiresAt = f.at(time.Hour)
		f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket with a swept ticket's digest")
	}
	_, err = f.s.GetTicket(f.ctx, store.TicketPasswordReset, live.Digest, f.now)
	f.must(err, "GetTicket of the live ticket")
}

func testTicketGoneWithUser(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, err := f.s.GetTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.now)
	f.wantErr(err, store.ErrNotFound, "GetTicket after the user was deleted")
	n, err := f.s.DeleteExpiredTickets(f.ctx, f.at(2*time.Hour), 10)
	f.must(err, "DeleteExpiredTickets")
	f.equal("tickets left of the deleted user", n, 0)
}

func testTicketRolledBack(f *fixture) {
	u := f.createUser()
	tk := f.newTicket(u.ID, store.TicketPasswordReset)
	f.must(f.s.CreateTicket(f.ctx, tk), "CreateTicket")
	errRollback := errors.New("roll back")
	err := store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if _, err := f.s.UseTicket(ctx, store.TicketPasswordReset, tk.Digest, f.now); err != nil {
			return err
		}
		return errRollback
	})
	f.wantErr(err, errRollback, "the rolled-back use")
	_, err = f.s.GetTicket(f.ctx, store.TicketPasswordReset, tk.Digest, f.now)
	f.must(err, "GetTicket after a rolled-back use")
}

func (f *fixture) newMail(due time.Time) store.Mail {
	return store.Mail{ID: uuid.NewString(), Recipient: "alice@example.com", Subject: "Reset your password",
		Body: "https://id.example/password/reset?ticket=x\n", NextAttemptAt: due, CreatedAt: f.now}
}

func testOutboxEnqueueClaimDelete(f *fixture) {
	m := f.newMail(f.now)
	f.must(f.s.EnqueueMail(f.ctx, m, 0), "EnqueueMail")
	f.wantErr(f.s.EnqueueMail(f.ctx, m, 0), store.ErrConflict, "EnqueueMail with a taken id")
	n, err := f.s.CountMail(f.ctx)
	f.must(err, "CountMail")
	f.equal("count", n, 1)

	early, err := f.s.ClaimMail(f.ctx, f.at(-time.Second), time.Minute, 10)
	f.must(err, "ClaimMail before it is due")
	f.equal("claimed before due", len(early), 0)

	got, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimMail")
	want := m
	want.Attempts, want.NextAttemptAt = 1, f.at(time.Minute)
	f.equal("claimed", got, []store.Mail{want})

	f.must(f.s.DeleteMail(f.ctx, m.ID), "DeleteMail")
	f.wantErr(f.s.DeleteMail(f.ctx, m.ID), store.ErrNotFound, "DeleteMail twice")
	f.wantErr(f.s.RetryMail(f.ctx, m.ID, f.now, "x"), store.ErrNotFound, "RetryMail of a deleted message")
	n, err = f.s.CountMail(f.ctx)
	f.must(err, "CountMail")
	f.equal("count after delete", n, 0)
}

func testOutboxBounded(f *fixture) {
	for i := range 3 {
		f.must(f.s.EnqueueMail(f.ctx, f.newMail(f.now), 3), "EnqueueMail #%d", i)
	}
	f.wantErr(f.s.EnqueueMail(f.ctx, f.newMail(f.now), 3), store.ErrOutboxFull, "EnqueueMail past max rows")
	n, err := f.s.CountMail(f.ctx)
	f.must(err, "CountMail")
	f.equal("count when full", n, 3)
	f.must(f.s.EnqueueMail(f.ctx, f.newMail(f.now), 0), "EnqueueMail without a bound")
	claimed, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 1)
	f.must(err, "ClaimMail")
	f.must(f.s.DeleteMail(f.ctx, claimed[0].ID), "DeleteMail")
	f.must(f.s.DeleteMail(f.ctx, func() string {
		c, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 1)
		f.must(err, "ClaimMail")
		return c[0].ID
	}()), "DeleteMail")
	f.must(f.s.EnqueueMail(f.ctx, f.newMail(f.now), 3), "EnqueueMail once there is room")
}

func testOutboxLeaseAndRetry(f *fixture) {
	m := f.newMail(f.now)
	f.must(f.s.EnqueueMail(f.ctx, m, 0), "EnqueueMail")
	_, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimMail")
	again, err := f.s.ClaimMail(f.ctx, f.at(30*time.Second), time.Minute, 10)
	f.must(err, "ClaimMail within the lease")
	f.equal("claimed within the lease", len(again), 0)

	// A sender that died: the message comes back once the lease ends.
	back, err := f.s.ClaimMail(f.ctx, f.at(time.Minute), time.Minute, 10)
	f.must(err, "ClaimMail after the lease")
	f.equal("attempts after the lease", len(back), 1)
	if len(back) == 1 {
		f.equal("attempts", back[0].Attempts, 2)
	}

	f.must(f.s.RetryMail(f.ctx, m.ID, f.at(10*time.Minute), "451 try later"), "RetryMail")
	none, err := f.s.ClaimMail(f.ctx, f.at(9*time.Minute), time.Minute, 10)
	f.must(err, "ClaimMail before the retry")
	f.equal("claimed before the retry", len(none), 0)
	retried, err := f.s.ClaimMail(f.ctx, f.at(10*time.Minute), time.Minute, 10)
	f.must(err, "ClaimMail at the retry")
	want := m
	want.Attempts, want.NextAttemptAt, want.LastError = 3, f.at(11*time.Minute), "451 try later"
	f.equal("retried", retried, []store.Mail{want})
}

func testOutboxClaimBatch(f *fixture) {
	var ms []store.Mail
	for i := range 5 {
		m := f.newMail(f.at(time.Duration(-5+i) * time.Minute))
		f.must(f.s.EnqueueMail(f.ctx, m, 0), "EnqueueMail")
		ms = append(ms, m)
	}
	got, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 2)
	f.must(err, "ClaimMail")
	ids := func(list []store.Mail) []string {
		var out []string
		for _, m := range list {
			out = append(out, m.ID)
		}
		slices.Sort(out)
		return out
	}
	// The two longest due, returned in id order.
	f.equal("first batch", ids(got), ids(ms[:2]))
	if !slices.IsSortedFunc(got, func(a, b store.Mail) int { return strings.Compare(a.ID, b.ID) }) {
		f.t.Errorf("ClaimMail returned %v, not in id order", ids(got))
	}
	rest, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimMail the rest")
	f.equal("second batch", ids(rest), ids(ms[2:]))
	none, err := f.s.ClaimMail(f.ctx, f.now, time.Minute, 0)
	f.must(err, "ClaimMail with limit 0")
	f.equal("limit 0", len(none), 0)
}

// testOutboxConcurrentClaims: senders claiming at once never get the same
// message, and between them get every due one.
func testOutboxConcurrentClaims(f *fixture) {
	const total, senders = 40, 4
	for range total {
		f.must(f.s.EnqueueMail(f.ctx, f.newMail(f.now), 0), "EnqueueMail")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	errs := f.concurrently(senders, func(ctx context.Context, _ int) error {
		for {
			var batch []store.Mail
			// Each claim in a transaction held a while, as a slow sender's
			// would be if it claimed inside one: SKIP LOCKED lets the other
			// senders pass its rows instead of waiting.
			err := store.InTx(ctx, f.s, func(ctx context.Context) error {
				var err error
				batch, err = f.s.ClaimMail(ctx, f.now, time.Hour, 3)
				if err == nil && len(batch) > 0 {
					time.Sleep(5 * time.Millisecond)
				}
				return err
			})
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				return nil
			}
			mu.Lock()
			for _, m := range batch {
				seen[m.ID]++
			}
			mu.Unlock()
		}
	})
	for i, err := range errs {
		f.must(err, "sender #%d", i)
	}
	f.equal("distinct messages claimed", len(seen), total)
	for id, n := range seen {
		if n != 1 {
			f.t.Errorf("message %s claimed %d times, want once", id, n)
		}
	}
}

func testOutboxRolledBack(f *fixture) {
	errRollback := errors.New("roll back")
	err := store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if err := f.s.EnqueueMail(ctx, f.newMail(f.now), 0); err != nil {
			return err
		}
		return errRollback
	})
	f.wantErr(err, errRollback, "the rolled-back enqueue")
	n, err := f.s.CountMail(f.ctx)
	f.must(err, "CountMail")
	f.equal("count after a rolled-back enqueue", n, 0)
}
