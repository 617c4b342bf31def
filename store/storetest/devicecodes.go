package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var deviceCodeTests = []subtest{
	{"RoundTrip", testDeviceCodeRoundTrip},
	{"Conflicts", testDeviceCodeConflicts},
	{"BoundPerClient", testDeviceCodeBound},
	{"Decide", testDeviceCodeDecide},
	{"PollSlowDown", testDeviceCodePoll},
	{"RedeemOnce", testDeviceCodeRedeem},
	{"ConcurrentRedeem", testDeviceCodeConcurrentRedeem},
	{"ConcurrentPolls", testDeviceCodeConcurrentPolls},
	{"Sweep", testDeviceCodeSweep},
	{"Cascade", testDeviceCodeCascade},
	{"RolledBack", testDeviceCodeRollback},
}

// deviceCodeLimit is a bound no subtest reaches unless it means to.
const deviceCodeLimit = 100

func (f *fixture) newDeviceCode(clientID string) store.DeviceCode {
	return store.DeviceCode{
		Signature:   "dev-" + uuid.NewString(),
		UserCode:    "user-" + uuid.NewString(),
		ClientID:    clientID,
		Scopes:      []string{"openid", "offline_access"},
		Status:      store.DevicePending,
		Interval:    5 * time.Second,
		RequestedAt: f.now,
		ExpiresAt:   f.at(10 * time.Minute),
	}
}

func (f *fixture) createDeviceCode(clientID string) store.DeviceCode {
	f.t.Helper()
	d := f.newDeviceCode(clientID)
	f.must(f.s.CreateDeviceCode(f.ctx, d, f.now, deviceCodeLimit), "CreateDeviceCode")
	return d
}

// storedDeviceCode is d as the store keeps it (microseconds, UTC).
func storedDeviceCode(d store.DeviceCode) store.DeviceCode {
	d.RequestedAt = d.RequestedAt.UTC().Truncate(time.Microsecond)
	d.ExpiresAt = d.ExpiresAt.UTC().Truncate(time.Microsecond)
	if d.LastPolledAt != nil {
		v := d.LastPolledAt.UTC().Truncate(time.Microsecond)
		d.LastPolledAt = &v
	}
	if d.RedeemedAt != nil {
		v := d.RedeemedAt.UTC().Truncate(time.Microsecond)
		d.RedeemedAt = &v
	}
	return d
}

func testDeviceCodeRoundTrip(f *fixture) {
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	got, err := f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCode, f.now)
	f.must(err, "GetDeviceCodeByUserCode")
	f.equal("device code", got, storedDeviceCode(d))

	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, "no-such-code", f.now)
	f.wantErr(err, store.ErrNotFound, "GetDeviceCodeByUserCode unknown")
	_, err = f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCode, d.ExpiresAt)
	f.wantErr(err, store.ErrNotFound, "GetDeviceCodeByUserCode at expiry")

	d2 := f.newDeviceCode("no-such-client")
	f.wantErr(f.s.CreateDeviceCode(f.ctx, d2, f.now, deviceCodeLimit), store.ErrNotFound, "CreateDeviceCode unknown client")
}

func testDeviceCodeConflicts(f *fixture) {
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	same := f.newDeviceCode(c.ID)
	same.Signature = d.Signature
	f.wantErr(f.s.CreateDeviceCode(f.ctx, same, f.now, deviceCodeLimit), store.ErrConflict, "CreateDeviceCode same signature")
	sameUser := f.newDeviceCode(c.ID)
	sameUser.UserCode = d.UserCode
	f.wantErr(f.s.CreateDeviceCode(f.ctx, sameUser, f.now, deviceCodeLimit), store.ErrConflict, "CreateDeviceCode same user code")
}

func testDeviceCodeBound(f *fixture) {
	c, other := f.createClient(), f.createClient()
	for i := 0; i < 3; i++ {
		f.must(f.s.CreateDeviceCode(f.ctx, f.newDeviceCode(c.ID), f.now, 3), "CreateDeviceCode %d", i)
	}
	f.wantErr(f.s.CreateDeviceCode(f.ctx, f.newDeviceCode(c.ID), f.now, 3), store.ErrDeviceCodesFull, "CreateDeviceCode over the bound")
	f.must(f.s.CreateDeviceCode(f.ctx, f.newDeviceCode(other.ID), f.now, 3), "CreateDeviceCode for another client")
	// Expired codes do not count, swept or not.
	f.must(f.s.CreateDeviceCode(f.ctx, f.newDeviceCode(c.ID), f.at(11*time.Minute), 3), "CreateDeviceCode once the others expired")
}

func testDeviceCodeDecide(f *fixture) {
	c, u := f.createClient(), f.createUser()
	d, denied := f.createDeviceCode(c.ID), f.createDeviceCode(c.ID)
	session := json.RawMessage(`{"user_id":"` + u.ID + `"}`)

	f.wantErr(f.s.DecideDeviceCode(f.ctx, d.UserCode, store.DeviceApproved, u.ID, session, d.ExpiresAt), store.ErrNotFound, "DecideDeviceCode at expiry")
	f.wantErr(f.s.DecideDeviceCode(f.ctx, d.UserCode, store.DeviceApproved, uuid.NewString(), session, f.now), store.ErrNotFound, "DecideDeviceCode unknown user")
	f.must(f.s.DecideDeviceCode(f.ctx, d.UserCode, store.DeviceApproved, u.ID, session, f.now), "DecideDeviceCode approve")
	f.wantErr(f.s.DecideDeviceCode(f.ctx, d.UserCode, store.DeviceDenied, u.ID, nil, f.now), store.ErrNotFound, "DecideDeviceCode a second time")
	_, err := f.s.GetDeviceCodeByUserCode(f.ctx, d.UserCode, f.now)
	f.wantErr(err, store.ErrNotFound, "GetDeviceCodeByUserCode once decided")

	got, _, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.now, 0)
	f.must(err, "PollDeviceCode approved")
	want := storedDeviceCode(d)
	want.Status, want.UserID, want.Session = store.DeviceApproved, u.ID, session
	f.equal("approved code", got, want)

	f.must(f.s.DecideDeviceCode(f.ctx, denied.UserCode, store.DeviceDenied, u.ID, nil, f.now), "DecideDeviceCode deny")
	got, _, err = f.s.PollDeviceCode(f.ctx, denied.Signature, f.now, 0)
	f.must(err, "PollDeviceCode denied")
	if got.Status != store.DeviceDenied || got.UserID != u.ID || got.Session != nil {
		f.t.Errorf("denied code = %+v, want denied by %s without a session", got, u.ID)
	}
	f.wantErr(f.s.RedeemDeviceCode(f.ctx, denied.Signature, f.now), store.ErrNotFound, "RedeemDeviceCode denied")
}

func testDeviceCodePoll(f *fixture) {
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	_, _, err := f.s.PollDeviceCode(f.ctx, "no-such-code", f.now, 0)
	f.wantErr(err, store.ErrNotFound, "PollDeviceCode unknown")

	steps := []struct {
		at           time.Duration
		slow         bool
		intervalSeen time.Duration // the interval before the poll
	}{
		{0, false, 5 * time.Second},                // first poll
		{5 * time.Second, false, 5 * time.Second},  // exactly the interval later
		{7 * time.Second, true, 5 * time.Second},   // 2 s later: too soon
		{12 * time.Second, true, 10 * time.Second}, // 5 s later, but the interval is now 10 s
		{27 * time.Second, false, 15 * time.Second},
	}
	var last *time.Time
	for i, st := range steps {
		got, slow, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.at(st.at), 0)
		f.must(err, "PollDeviceCode %d", i)
		if slow != st.slow {
			f.t.Errorf("poll %d at +%s: slow = %v, want %v", i, st.at, slow, st.slow)
		}
		if got.Interval != st.intervalSeen {
			f.t.Errorf("poll %d: interval before = %s, want %s", i, got.Interval, st.intervalSeen)
		}
		if (last == nil) != (got.LastPolledAt == nil) || (last != nil && !got.LastPolledAt.Equal(last.UTC().Truncate(time.Microsecond))) {
			f.t.Errorf("poll %d: last polled = %v, want %v", i, got.LastPolledAt, last)
		}
		last = f.atPtr(st.at)
	}

	// With a leeway, a poll a little early is forgiven; one earlier still
	// is not.
	e := f.createDeviceCode(c.ID)
	for i, st := range []struct {
		at   time.Duration
		slow bool
	}{{0, false}, {4 * time.Second, false}, {7*time.Second + 500*time.Millisecond, true}} {
		_, slow, err := f.s.PollDeviceCode(f.ctx, e.Signature, f.at(st.at), time.Second)
		f.must(err, "PollDeviceCode with leeway %d", i)
		if slow != st.slow {
			f.t.Errorf("poll with leeway %d at +%s: slow = %v, want %v", i, st.at, slow, st.slow)
		}
	}
}

func (f *fixture) approveDeviceCode(d store.DeviceCode) store.User {
	f.t.Helper()
	u := f.createUser()
	f.must(f.s.DecideDeviceCode(f.ctx, d.UserCode, store.DeviceApproved, u.ID, json.RawMessage(`{}`), f.now), "DecideDeviceCode")
	return u
}

func testDeviceCodeRedeem(f *fixture) {
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	f.wantErr(f.s.RedeemDeviceCode(f.ctx, d.Signature, f.now), store.ErrNotFound, "RedeemDeviceCode pending")
	f.approveDeviceCode(d)
	f.must(f.s.RedeemDeviceCode(f.ctx, d.Signature, f.at(time.Second)), "RedeemDeviceCode")
	f.wantErr(f.s.RedeemDeviceCode(f.ctx, d.Signature, f.at(2*time.Second)), store.ErrNotFound, "RedeemDeviceCode twice")
	got, _, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.now, 0)
	f.must(err, "PollDeviceCode redeemed")
	if want := f.at(time.Second).UTC().Truncate(time.Microsecond); got.RedeemedAt == nil || !got.RedeemedAt.Equal(want) {
		f.t.Errorf("redeemed at = %v, want %v", got.RedeemedAt, want)
	}
}

// The token endpoint polls and redeems in one transaction; of concurrent
// redemptions of one approved code exactly one issues tokens.
func testDeviceCodeConcurrentRedeem(f *fixture) {
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	u := f.approveDeviceCode(d)
	access := make([]store.Token, 10)
	for i := range access {
		access[i] = f.newToken(store.KindAccessToken, newGrant(c, u, ""))
	}
	errs := f.concurrently(10, func(ctx context.Context, i int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			got, _, err := f.s.PollDeviceCode(ctx, d.Signature, f.now, 0)
			if err != nil {
				return fmt.Errorf("PollDeviceCode: %w", err)
			}
			if got.RedeemedAt == nil {
				time.Sleep(holdWindow)
			}
			if err := f.s.RedeemDeviceCode(ctx, d.Signature, f.now); err != nil {
				return fmt.Errorf("RedeemDeviceCode: %w", err)
			}
			return f.s.CreateToken(ctx, access[i])
		})
	})
	ok, notFound := f.countErrors("redeem device code", errs, store.ErrNotFound)
	if ok != 1 || notFound != 9 {
		f.t.Errorf("10 concurrent redemptions: %d succeeded and %d got ErrNotFound, want 1 and 9", ok, notFound)
	}
	for i, tok := range access {
		if state := f.tokenState(tok); (state == "active") != (errs[i] == nil) {
			f.t.Errorf("goroutine %d: returned %v but its access token is %s", i, errs[i], state)
		}
	}
}

// Polls from several instances at once are all recorded: of n polls at one
// instant after a first, every one is too soon and each grows the interval.
func testDeviceCodeConcurrentPolls(f *fixture) {
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	_, _, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.now, 0)
	f.must(err, "first poll")
	const n = 6
	errs := f.concurrently(n, func(ctx context.Context, _ int) error {
		_, slow, err := f.s.PollDeviceCode(ctx, d.Signature, f.at(time.Second), 0)
		if err == nil && !slow {
			return fmt.Errorf("a poll 1 s after the last was not too soon")
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("poll %d: %v", i, err)
		}
	}
	got, _, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.at(time.Hour), 0)
	f.must(err, "last poll")
	if want := 5*time.Second + n*store.DeviceSlowDownStep; got.Interval != want {
		f.t.Errorf("interval after %d concurrent early polls = %s, want %s", n, got.Interval, want)
	}
}

func testDeviceCodeSweep(f *fixture) {
	c := f.createClient()
	var codes []store.DeviceCode
	for _, exp := range []time.Duration{-time.Hour, -time.Minute, 0, time.Minute} {
		d := f.newDeviceCode(c.ID)
		d.ExpiresAt = f.at(exp)
		f.must(f.s.CreateDeviceCode(f.ctx, d, f.at(-2*time.Hour), deviceCodeLimit), "CreateDeviceCode")
		codes = append(codes, d)
	}
	n, err := f.s.DeleteExpiredDeviceCodes(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredDeviceCodes")
	if n != 2 {
		f.t.Errorf("first batch deleted %d, want 2", n)
	}
	n, err = f.s.DeleteExpiredDeviceCodes(f.ctx, f.now, 10)
	f.must(err, "DeleteExpiredDeviceCodes")
	if n != 1 {
		f.t.Errorf("second batch deleted %d, want 1", n)
	}
	for i, d := range codes {
		_, _, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.now, 0)
		if i < 3 {
			f.wantErr(err, store.ErrNotFound, "swept code %d", i)
		} else {
			f.wantErr(err, nil, "live code")
		}
	}
}

func testDeviceCodeCascade(f *fixture) {
	c, other := f.createClient(), f.createClient()
	byClient := f.createDeviceCode(c.ID)
	d := f.createDeviceCode(other.ID)
	u := f.approveDeviceCode(d)
	f.must(f.s.DeleteClient(f.ctx, c.ID), "DeleteClient")
	_, _, err := f.s.PollDeviceCode(f.ctx, byClient.Signature, f.now, 0)
	f.wantErr(err, store.ErrNotFound, "device code of a deleted client")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, _, err = f.s.PollDeviceCode(f.ctx, d.Signature, f.now, 0)
	f.wantErr(err, store.ErrNotFound, "device code approved by a deleted user")
}

func testDeviceCodeRollback(f *fixture) {
	errRollback := errors.New("roll back")
	c := f.createClient()
	d := f.createDeviceCode(c.ID)
	f.approveDeviceCode(d)
	err := store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if _, _, err := f.s.PollDeviceCode(ctx, d.Signature, f.now, 0); err != nil {
			return err
		}
		if err := f.s.RedeemDeviceCode(ctx, d.Signature, f.now); err != nil {
			return err
		}
		return errRollback
	})
	f.wantErr(err, errRollback, "transaction")
	got, _, err := f.s.PollDeviceCode(f.ctx, d.Signature, f.now, 0)
	f.must(err, "PollDeviceCode after rollback")
	if got.RedeemedAt != nil || got.LastPolledAt != nil {
		f.t.Errorf("after rollback: redeemed %v, last polled %v; want neither", got.RedeemedAt, got.LastPolledAt)
	}
	f.must(f.s.RedeemDeviceCode(f.ctx, d.Signature, f.now), "RedeemDeviceCode after rollback")
}
