package storetest

import (
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var statsTests = []subtest{
	{"CountUsersByStatus", testCountUsersByStatus},
	{"CountAccessRequests", testCountAccessRequests},
	{"CountAuditByDay", testCountAuditByDay},
}

func testCountUsersByStatus(f *fixture) {
	got, err := f.s.CountUsersByStatus(f.ctx, f.now)
	f.must(err, "CountUsersByStatus of no users")
	if len(got) != 0 {
		f.t.Errorf("CountUsersByStatus of no users = %v, want none", got)
	}
	mk := func(status store.UserStatus, expires *time.Time) {
		u := f.newUser()
		u.Status, u.ExpiresAt = status, expires
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %s", status)
	}
	past, future := f.atPtr(-time.Hour), f.atPtr(time.Hour)
	for range 3 {
		mk(store.StatusActive, nil)
	}
	mk(store.StatusActive, future)
	mk(store.StatusActive, past)  // expired
	mk(store.StatusPending, past) // expired
	mk(store.StatusPending, nil)
	mk(store.StatusLocked, past) // a lock stays a lock
	mk(store.StatusDisabled, nil)
	mk(store.StatusDisabled, past)

	got, err = f.s.CountUsersByStatus(f.ctx, f.now)
	f.must(err, "CountUsersByStatus")
	f.equal("counts now", got, map[store.UserStatus]int{
		store.StatusActive: 4, store.StatusExpired: 2, store.StatusPending: 1,
		store.StatusLocked: 1, store.StatusDisabled: 2,
	})
	// Judged at the given time: two hours on, the active user whose expiry
	// was an hour away has expired too; two hours back, nobody had.
	got, err = f.s.CountUsersByStatus(f.ctx, f.at(2*time.Hour))
	f.must(err, "CountUsersByStatus later")
	f.equal("counts later", got, map[store.UserStatus]int{
		store.StatusActive: 3, store.StatusExpired: 3, store.StatusPending: 1,
		store.StatusLocked: 1, store.StatusDisabled: 2,
	})
	got, err = f.s.CountUsersByStatus(f.ctx, f.at(-2*time.Hour))
	f.must(err, "CountUsersByStatus earlier")
	f.equal("counts earlier", got, map[store.UserStatus]int{
		store.StatusActive: 5, store.StatusPending: 2, store.StatusLocked: 1, store.StatusDisabled: 2,
	})
}

func testCountAccessRequests(f *fixture) {
	for _, st := range []store.AccessRequestStatus{store.RequestPending, store.RequestApproved} {
		n, err := f.s.CountAccessRequests(f.ctx, st)
		f.must(err, "CountAccessRequests %s of none", st)
		if n != 0 {
			f.t.Errorf("CountAccessRequests %s of none = %d", st, n)
		}
	}
	var decided []store.AccessRequest
	for i := range 5 {
		u := f.createUser()
		r := f.createAccessRequest(u.ID, "viewer")
		if i < 2 {
			decided = append(decided, r)
		}
	}
	_, err := f.iam.DecideAccessRequest(f.ctx, decided[0].ID, store.RequestApproved, "viewer", "cli", "ok", f.now)
	f.must(err, "approve")
	_, err = f.iam.DecideAccessRequest(f.ctx, decided[1].ID, store.RequestDenied, "", "cli", "no", f.now)
	f.must(err, "deny")
	for st, want := range map[store.AccessRequestStatus]int{
		store.RequestPending: 3, store.RequestApproved: 1, store.RequestDenied: 1, store.RequestCancelled: 0,
	} {
		n, err := f.s.CountAccessRequests(f.ctx, st)
		f.must(err, "CountAccessRequests %s", st)
		if n != want {
			f.t.Errorf("CountAccessRequests %s = %d, want %d", st, n, want)
		}
	}
}

func testCountAuditByDay(f *fixture) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	at := func(t time.Time, action string) {
		e := f.newAuditEntry(action, "t")
		e.At = t
		f.appendAudit(e)
	}
	d1, d2, d3 := day(2031, 3, 30), day(2031, 3, 31), day(2031, 4, 1)
	// The first and last microsecond of a day belong to it, whatever zone
	// the time is given in.
	at(d1, "login.success")
	at(d1.Add(24*time.Hour-time.Microsecond).In(time.FixedZone("east", 5*3600)), "login.success")
	at(d1.Add(12*time.Hour), "login.failure")
	at(d3.Add(time.Hour).In(time.FixedZone("west", -8*3600)), "login.success") // 2031-03-31 17:00 in its own zone
	at(d3.Add(2*time.Hour), "login.success")
	// Outside the range on either side.
	at(d1.Add(-time.Microsecond), "login.success")
	at(d3.Add(24*time.Hour), "login.success")

	got, err := f.s.CountAuditByDay(f.ctx, "login.success", d1, d3.Add(24*time.Hour))
	f.must(err, "CountAuditByDay")
	f.equal("sign-ins per day", got, []store.DayCount{{Day: d1, Count: 2}, {Day: d3, Count: 2}})
	for _, dc := range got {
		if dc.Day.Location() != time.UTC {
			f.t.Errorf("day %v is not in UTC", dc.Day)
		}
	}

	// The bounds cut inside a day: since is inclusive, until exclusive.
	got, err = f.s.CountAuditByDay(f.ctx, "login.success", d1.Add(time.Microsecond), d3.Add(2*time.Hour))
	f.must(err, "CountAuditByDay within days")
	f.equal("sign-ins within the bounds", got, []store.DayCount{{Day: d1, Count: 1}, {Day: d3, Count: 1}})

	// Exact action: a prefix is not a filter here.
	got, err = f.s.CountAuditByDay(f.ctx, "login.", d1, d3.Add(24*time.Hour))
	f.must(err, "CountAuditByDay of a prefix")
	if len(got) != 0 {
		f.t.Errorf("CountAuditByDay of a prefix = %v, want none", got)
	}
	got, err = f.s.CountAuditByDay(f.ctx, "login.success", d2, d2.Add(24*time.Hour))
	f.must(err, "CountAuditByDay of an empty day")
	if got == nil || len(got) != 0 {
		f.t.Errorf("CountAuditByDay of an empty day = %#v, want an empty list", got)
	}
}
