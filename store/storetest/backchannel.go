package storetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var logoutQueueTests = []subtest{
	{"Targets", testLogoutTargets},
	{"EnqueueClaimDelete", testLogoutEnqueueClaimDelete},
	{"EnqueueInTransaction", testLogoutEnqueueInTx},
	{"Bounded", testLogoutBounded},
	{"LeaseAndRetry", testLogoutLeaseAndRetry},
	{"ConcurrentClaimsDisjoint", testLogoutConcurrentClaims},
	{"GoneWithClient", testLogoutGoneWithClient},
	{"ClientFieldsUpdated", testLogoutClientFields},
}

func (f *fixture) newLogout(clientID string, due time.Time) store.Logout {
	return store.Logout{ID: uuid.NewString(), ClientID: clientID, Subject: uuid.NewString(),
		SessionID: "sid-" + uuid.NewString(), NextAttemptAt: due, CreatedAt: f.now}
}

// testLogoutTargets: the clients told of a session's end are those with a
// logout URI that were granted tokens in it, once each per subject, revoked
// grants included; other sessions' grants are not.
func testLogoutTargets(f *fixture) {
	u := f.createUser()
	sess := f.createSession(u.ID)
	other := f.createSession(u.ID)
	a := f.createClient()
	b := f.createClient()
	quiet := f.newClient()
	quiet.BackchannelLogoutURI = ""
	f.must(f.s.CreateClient(f.ctx, quiet), "CreateClient without a logout URI")

	f.createToken(store.KindAccessToken, newGrant(a, u, sess.ID))
	g := newGrant(a, u, sess.ID) // a second grant of the same client: one target
	f.createToken(store.KindRefreshToken, g)
	f.must(f.s.RevokeGrant(f.ctx, g.requestID), "RevokeGrant")
	f.createToken(store.KindAccessToken, newGrant(b, u, other.ID))
	f.createToken(store.KindAccessToken, newGrant(quiet, u, sess.ID))
	f.createToken(store.KindAccessToken, newGrant(b, u, ""))

	got, err := f.s.ListLogoutTargets(f.ctx, sess.ID)
	f.must(err, "ListLogoutTargets")
	f.equal("targets", got, []store.LogoutTarget{{ClientID: a.ID, Subject: u.ID}})
	got, err = f.s.ListLogoutTargets(f.ctx, other.ID)
	f.must(err, "ListLogoutTargets other")
	f.equal("targets of the other session", got, []store.LogoutTarget{{ClientID: b.ID, Subject: u.ID}})
	got, err = f.s.ListLogoutTargets(f.ctx, "no-such-session")
	f.must(err, "ListLogoutTargets unknown")
	f.equal("targets of an unknown session", got, []store.LogoutTarget{})
}

func testLogoutEnqueueClaimDelete(f *fixture) {
	c := f.createClient()
	l := f.newLogout(c.ID, f.now)
	f.must(f.s.EnqueueLogout(f.ctx, l, 0), "EnqueueLogout")
	f.wantErr(f.s.EnqueueLogout(f.ctx, l, 0), store.ErrConflict, "EnqueueLogout with a taken id")
	f.wantErr(f.s.EnqueueLogout(f.ctx, f.newLogout("no-such-client", f.now), 0), store.ErrNotFound,
		"EnqueueLogout for an unknown client")
	n, err := f.s.CountLogouts(f.ctx)
	f.must(err, "CountLogouts")
	f.equal("count", n, 1)

	early, err := f.s.ClaimLogouts(f.ctx, f.at(-time.Second), time.Minute, 10)
	f.must(err, "ClaimLogouts before due")
	f.equal("claimed before due", len(early), 0)
	got, err := f.s.ClaimLogouts(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimLogouts")
	want := l
	want.Attempts, want.NextAttemptAt = 1, f.at(time.Minute)
	f.equal("claimed", got, []store.Logout{want})

	f.must(f.s.DeleteLogout(f.ctx, l.ID), "DeleteLogout")
	f.wantErr(f.s.DeleteLogout(f.ctx, l.ID), store.ErrNotFound, "DeleteLogout twice")
	f.wantErr(f.s.RetryLogout(f.ctx, l.ID, f.now, "x"), store.ErrNotFound, "RetryLogout of a deleted one")
	f.wantErr(f.s.DeleteLogout(f.ctx, "not-a-uuid"), store.ErrNotFound, "DeleteLogout of a bad id")
	n, err = f.s.CountLogouts(f.ctx)
	f.must(err, "CountLogouts")
	f.equal("count after delete", n, 0)
}

// testLogoutEnqueueInTx: an enqueue is part of its transaction, as the
// session's end it belongs to is.
func testLogoutEnqueueInTx(f *fixture) {
	c := f.createClient()
	errRollback := errors.New("roll back")
	err := store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if err := f.s.EnqueueLogout(ctx, f.newLogout(c.ID, f.now), 0); err != nil {
			return err
		}
		return errRollback
	})
	f.wantErr(err, errRollback, "the rolled-back enqueue")
	n, err := f.s.CountLogouts(f.ctx)
	f.must(err, "CountLogouts")
	f.equal("count after a rolled-back enqueue", n, 0)

	l := f.newLogout(c.ID, f.now)
	f.must(store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		return f.s.EnqueueLogout(ctx, l, 0)
	}), "committed enqueue")
	got, err := f.s.ClaimLogouts(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimLogouts")
	f.equal("claimed after commit", len(got), 1)
}

func testLogoutBounded(f *fixture) {
	c := f.createClient()
	for i := range 3 {
		f.must(f.s.EnqueueLogout(f.ctx, f.newLogout(c.ID, f.now), 3), "EnqueueLogout #%d", i)
	}
	f.wantErr(f.s.EnqueueLogout(f.ctx, f.newLogout(c.ID, f.now), 3), store.ErrLogoutQueueFull, "EnqueueLogout past max rows")
	n, err := f.s.CountLogouts(f.ctx)
	f.must(err, "CountLogouts")
	f.equal("count when full", n, 3)
	claimed, err := f.s.ClaimLogouts(f.ctx, f.now, time.Minute, 1)
	f.must(err, "ClaimLogouts")
	f.must(f.s.DeleteLogout(f.ctx, claimed[0].ID), "DeleteLogout")
	f.must(f.s.EnqueueLogout(f.ctx, f.newLogout(c.ID, f.now), 3), "EnqueueLogout once there is room")
}

// testLogoutLeaseAndRetry: a claim hides the row for its lease; a retry
// schedules it, and each claim counts an attempt (what the give-up bound
// reads).
func testLogoutLeaseAndRetry(f *fixture) {
	c := f.createClient()
	l := f.newLogout(c.ID, f.now)
	f.must(f.s.EnqueueLogout(f.ctx, l, 0), "EnqueueLogout")
	_, err := f.s.ClaimLogouts(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimLogouts")
	again, err := f.s.ClaimLogouts(f.ctx, f.at(30*time.Second), time.Minute, 10)
	f.must(err, "ClaimLogouts within the lease")
	f.equal("claimed within the lease", len(again), 0)
	back, err := f.s.ClaimLogouts(f.ctx, f.at(time.Minute), time.Minute, 10)
	f.must(err, "ClaimLogouts after the lease")
	f.equal("claimed after the lease", len(back), 1)

	f.must(f.s.RetryLogout(f.ctx, l.ID, f.at(10*time.Minute), "HTTP 500"), "RetryLogout")
	none, err := f.s.ClaimLogouts(f.ctx, f.at(9*time.Minute), time.Minute, 10)
	f.must(err, "ClaimLogouts before the retry")
	f.equal("claimed before the retry", len(none), 0)
	retried, err := f.s.ClaimLogouts(f.ctx, f.at(10*time.Minute), time.Minute, 10)
	f.must(err, "ClaimLogouts at the retry")
	want := l
	want.Attempts, want.NextAttemptAt, want.LastError = 3, f.at(11*time.Minute), "HTTP 500"
	f.equal("retried", retried, []store.Logout{want})
	zero, err := f.s.ClaimLogouts(f.ctx, f.at(time.Hour), time.Minute, 0)
	f.must(err, "ClaimLogouts with limit 0")
	f.equal("limit 0", len(zero), 0)
}

// testLogoutConcurrentClaims: senders claiming at once never get the same
// notification, and between them get every due one.
func testLogoutConcurrentClaims(f *fixture) {
	const total, senders = 30, 3
	c := f.createClient()
	for range total {
		f.must(f.s.EnqueueLogout(f.ctx, f.newLogout(c.ID, f.now), 0), "EnqueueLogout")
	}
	var mu sync.Mutex
	seen := map[string]int{}
	errs := f.concurrently(senders, func(ctx context.Context, _ int) error {
		for {
			var batch []store.Logout
			err := store.InTx(ctx, f.s, func(ctx context.Context) error {
				var err error
				batch, err = f.s.ClaimLogouts(ctx, f.now, time.Hour, 3)
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
			for _, l := range batch {
				seen[l.ID]++
			}
			mu.Unlock()
		}
	})
	for i, err := range errs {
		f.must(err, "sender #%d", i)
	}
	f.equal("distinct notifications claimed", len(seen), total)
	for id, n := range seen {
		if n != 1 {
			f.t.Errorf("notification %s claimed %d times, want once", id, n)
		}
	}
}

func testLogoutGoneWithClient(f *fixture) {
	c := f.createClient()
	keep := f.createClient()
	f.must(f.s.EnqueueLogout(f.ctx, f.newLogout(c.ID, f.now), 0), "EnqueueLogout")
	f.must(f.s.EnqueueLogout(f.ctx, f.newLogout(keep.ID, f.now), 0), "EnqueueLogout")
	f.must(f.s.DeleteClient(f.ctx, c.ID), "DeleteClient")
	got, err := f.s.ClaimLogouts(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimLogouts")
	f.equal("left after the client went", len(got), 1)
	if len(got) == 1 {
		f.equal("the other client's", got[0].ClientID, keep.ID)
	}
}

func testLogoutClientFields(f *fixture) {
	c := f.createClient()
	c.BackchannelLogoutURI = "http://127.0.0.1:9000/logout"
	c.BackchannelLogoutSessionRequired = false
	f.must(f.s.UpdateClient(f.ctx, c), "UpdateClient")
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("uri", got.BackchannelLogoutURI, c.BackchannelLogoutURI)
	f.equal("session required", got.BackchannelLogoutSessionRequired, false)
}
