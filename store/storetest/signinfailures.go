package storetest

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var signInFailureTests = []subtest{
	{"CountsPerAddressAndAccount", testSignInFailureCounts},
	{"WindowStartsOver", testSignInFailureWindow},
	{"Clear", testSignInFailureClear},
	{"SweepInBatches", testSignInFailureSweep},
	{"StopsAtMax", testSignInFailureMax},
	{"Concurrent", testConcurrentSignInFailures},
	{"ConcurrentStopAtMax", testConcurrentSignInFailuresMax},
	{"DeleteUserCascades", testSignInFailureCascade},
	{"RolledBack", testSignInFailureRollback},
}

const (
	addrA = "192.0.2.1"
	addrB = "2001:db8:1:2::/64"
)

// recordFailure records one failure with a window starting an hour before
// f.now and no maximum, returning the row and the account's sum.
func (f *fixture) recordFailure(userID, address string, at time.Time) (store.SignInFailure, int) {
	f.t.Helper()
	a, err := f.iam.RecordSignInFailure(f.ctx, userID, address, at, f.at(-time.Hour), 0)
	f.must(err, "RecordSignInFailure %s %s", userID, address)
	if !a.Counted {
		f.t.Errorf("RecordSignInFailure %s %s without a maximum: not counted", userID, address)
	}
	return a.Failure, a.Account
}

func (f *fixture) wantFailures(what, userID, address string, since time.Time, wantRow store.SignInFailure, wantTotal int) {
	f.t.Helper()
	row, total, err := f.iam.CountSignInFailures(f.ctx, userID, address, since)
	f.must(err, "CountSignInFailures (%s)", what)
	f.equal(what+": address row", row, wantRow)
	if total != wantTotal {
		f.t.Errorf("%s: account total = %d, want %d", what, total, wantTotal)
	}
}

func testSignInFailureCounts(f *fixture) {
	u, other := f.createUser(), f.createUser()
	for i := 1; i <= 3; i++ {
		row, total := f.recordFailure(u.ID, addrA, f.at(time.Duration(i)*time.Second))
		want := store.SignInFailure{UserID: u.ID, Address: addrA, Count: i, FirstAt: f.at(time.Second), LastAt: f.at(time.Duration(i) * time.Second)}
		f.equal("row returned by failure", row, want)
		if total != i {
			f.t.Errorf("account total after %d failures = %d", i, total)
		}
	}
	// By uppercase UUID, from another address: the account's sum counts both.
	row, total := f.recordFailure(strings.ToUpper(u.ID), addrB, f.at(4*time.Second))
	f.equal("row of the second address", row, store.SignInFailure{UserID: u.ID, Address: addrB, Count: 1, FirstAt: f.at(4 * time.Second), LastAt: f.at(4 * time.Second)})
	if total != 4 {
		f.t.Errorf("account total = %d, want 4", total)
	}
	f.recordFailure(other.ID, addrA, f.at(5*time.Second))

	wantA := store.SignInFailure{UserID: u.ID, Address: addrA, Count: 3, FirstAt: f.at(time.Second), LastAt: f.at(3 * time.Second)}
	f.wantFailures("whole window", u.ID, addrA, f.at(-time.Hour), wantA, 4)
	f.wantFailures("by uppercase UUID", strings.ToUpper(u.ID), addrA, f.at(-time.Hour), wantA, 4)
	f.wantFailures("an address without failures", u.ID, "198.51.100.9", f.at(-time.Hour), store.SignInFailure{}, 4)
	// A window starting after A's last failure sees only B's.
	f.wantFailures("A outside the window", u.ID, addrA, f.at(3*time.Second+time.Millisecond), store.SignInFailure{}, 1)
	// Since exactly at a last failure still counts it.
	f.wantFailures("since at A's last failure", u.ID, addrA, f.at(3*time.Second), wantA, 4)
	f.wantFailures("the other user", other.ID, addrA, f.at(-time.Hour),
		store.SignInFailure{UserID: other.ID, Address: addrA, Count: 1, FirstAt: f.at(5 * time.Second), LastAt: f.at(5 * time.Second)}, 1)
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		f.wantFailures("no such user "+id, id, addrA, f.at(-time.Hour), store.SignInFailure{}, 0)
		_, err := f.iam.RecordSignInFailure(f.ctx, id, addrA, f.now, f.at(-time.Hour), 5)
		f.wantErr(err, store.ErrNotFound, "RecordSignInFailure %q", id)
	}
}

func testSignInFailureWindow(f *fixture) {
	u := f.createUser()
	for i := range 3 {
		f.recordFailure(u.ID, addrA, f.at(time.Duration(i)*time.Minute))
	}
	// A failure that comes before the row's last (another instance's clock)
	// counts and keeps the later LastAt.
	row, _ := f.recordFailure(u.ID, addrA, f.at(time.Minute))
	f.equal("an earlier failure", row, store.SignInFailure{UserID: u.ID, Address: addrA, Count: 4, FirstAt: f.now, LastAt: f.at(2 * time.Minute)})

	// An hour later, with the window starting after the last failure, the
	// row starts over.
	later := f.at(3 * time.Hour)
	a, err := f.iam.RecordSignInFailure(f.ctx, u.ID, addrA, later, f.at(2*time.Hour), 4)
	f.must(err, "RecordSignInFailure after the window")
	f.equal("attempt after its window passed, at the maximum before", a,
		store.SignInAttempt{Failure: store.SignInFailure{UserID: u.ID, Address: addrA, Count: 1, FirstAt: later, LastAt: later}, Account: 1, Counted: true})
}

func testSignInFailureClear(f *fixture) {
	u, other := f.createUser(), f.createUser()
	f.recordFailure(u.ID, addrA, f.now)
	f.recordFailure(u.ID, addrB, f.now)
	f.recordFailure(other.ID, addrA, f.now)
	f.must(f.iam.ClearSignInFailures(f.ctx, strings.ToUpper(u.ID), addrA), "ClearSignInFailures")
	f.wantFailures("cleared address", u.ID, addrA, f.at(-time.Hour), store.SignInFailure{}, 1)
	f.wantFailures("the same user's other address", u.ID, addrB, f.at(-time.Hour),
		store.SignInFailure{UserID: u.ID, Address: addrB, Count: 1, FirstAt: f.now, LastAt: f.now}, 1)
	f.wantFailures("another user, same address", other.ID, addrA, f.at(-time.Hour),
		store.SignInFailure{UserID: other.ID, Address: addrA, Count: 1, FirstAt: f.now, LastAt: f.now}, 1)
	// Nothing to clear is no error.
	f.must(f.iam.ClearSignInFailures(f.ctx, u.ID, addrA), "ClearSignInFailures again")
	f.must(f.iam.ClearSignInFailures(f.ctx, "not-a-uuid", addrA), "ClearSignInFailures of a non-UUID")

	// Clearing a user clears all its addresses and nobody else's.
	f.recordFailure(u.ID, addrA, f.now)
	f.must(f.iam.ClearUserSignInFailures(f.ctx, strings.ToUpper(u.ID)), "ClearUserSignInFailures")
	f.wantFailures("user cleared, A", u.ID, addrA, f.at(-time.Hour), store.SignInFailure{}, 0)
	f.wantFailures("user cleared, B", u.ID, addrB, f.at(-time.Hour), store.SignInFailure{}, 0)
	f.wantFailures("another user after clearing one", other.ID, addrA, f.at(-time.Hour),
		store.SignInFailure{UserID: other.ID, Address: addrA, Count: 1, FirstAt: f.now, LastAt: f.now}, 1)
	f.must(f.iam.ClearUserSignInFailures(f.ctx, "not-a-uuid"), "ClearUserSignInFailures of a non-UUID")
}

func testSignInFailureSweep(f *fixture) {
	u := f.createUser()
	addrs := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}
	for i, a := range addrs {
		f.recordFailure(u.ID, a, f.at(time.Duration(i)*time.Minute))
	}
	before := f.at(3 * time.Minute) // 10.0.0.1-3 are older
	n, err := f.iam.DeleteSignInFailuresBefore(f.ctx, before, 0)
	f.must(err, "DeleteSignInFailuresBefore limit 0")
	if n != 0 {
		f.t.Errorf("limit 0 deleted %d", n)
	}
	n, err = f.iam.DeleteSignInFailuresBefore(f.ctx, before, 2)
	f.must(err, "DeleteSignInFailuresBefore limit 2")
	if n != 2 {
		f.t.Errorf("first batch deleted %d, want 2", n)
	}
	// The oldest went first.
	for _, a := range addrs[:2] {
		f.wantFailures("swept "+a, u.ID, a, f.at(-time.Hour), store.SignInFailure{}, 3)
	}
	n, err = f.iam.DeleteSignInFailuresBefore(f.ctx, before, 2)
	f.must(err, "DeleteSignInFailuresBefore second batch")
	if n != 1 {
		f.t.Errorf("second batch deleted %d, want 1", n)
	}
	// The row whose last failure is exactly at before stays.
	f.wantFailures("kept at the boundary", u.ID, addrs[3], f.at(-time.Hour),
		store.SignInFailure{UserID: u.ID, Address: addrs[3], Count: 1, FirstAt: before, LastAt: before}, 2)
}

// At max, a failure is not counted and changes nothing, LastAt included;
// other addresses and the account's sum go on.
func testSignInFailureMax(f *fixture) {
	u := f.createUser()
	since := f.at(-time.Hour)
	for i := 1; i <= 3; i++ {
		a, err := f.iam.RecordSignInFailure(f.ctx, u.ID, addrA, f.at(time.Duration(i)*time.Second), since, 3)
		f.must(err, "RecordSignInFailure %d", i)
		if !a.Counted || a.Failure.Count != i || a.Account != i {
			f.t.Errorf("failure %d of 3: %+v, want counted, count %d", i, a, i)
		}
	}
	full := store.SignInFailure{UserID: u.ID, Address: addrA, Count: 3, FirstAt: f.at(time.Second), LastAt: f.at(3 * time.Second)}
	for range 2 {
		a, err := f.iam.RecordSignInFailure(f.ctx, strings.ToUpper(u.ID), addrA, f.at(time.Minute), since, 3)
		f.must(err, "RecordSignInFailure past the maximum")
		f.equal("attempt past the maximum", a, store.SignInAttempt{Failure: full, Account: 3, Counted: false})
	}
	f.wantFailures("after refused attempts", u.ID, addrA, since, full, 3)
	a, err := f.iam.RecordSignInFailure(f.ctx, u.ID, addrB, f.at(time.Minute), since, 3)
	f.must(err, "RecordSignInFailure from another address")
	f.equal("another address", a, store.SignInAttempt{
		Failure: store.SignInFailure{UserID: u.ID, Address: addrB, Count: 1, FirstAt: f.at(time.Minute), LastAt: f.at(time.Minute)},
		Account: 4, Counted: true})
	// A greater max counts again.
	a, err = f.iam.RecordSignInFailure(f.ctx, u.ID, addrA, f.at(2*time.Minute), since, 4)
	f.must(err, "RecordSignInFailure with a greater maximum")
	if !a.Counted || a.Failure.Count != 4 || a.Account != 5 {
		f.t.Errorf("with max 4: %+v, want counted, count 4, account 5", a)
	}
}

// Ten failures at once with max 5 count exactly five: the check and the
// increment are one step.
func testConcurrentSignInFailuresMax(f *fixture) {
	const n, max = 10, 5
	u := f.createUser()
	counted := make([]bool, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		a, err := f.iam.RecordSignInFailure(ctx, u.ID, addrA, f.now, f.at(-time.Hour), max)
		counted[i] = a.Counted
		return err
	})
	yes := 0
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("RecordSignInFailure in goroutine %d: %v", i, err)
		}
		if counted[i] {
			yes++
		}
	}
	if yes != max {
		f.t.Errorf("%d of %d concurrent failures counted with max %d, want %d", yes, n, max, max)
	}
	f.wantFailures("after concurrent failures at the maximum", u.ID, addrA, f.at(-time.Hour),
		store.SignInFailure{UserID: u.ID, Address: addrA, Count: max, FirstAt: f.now, LastAt: f.now}, max)
}

// Ten failures at once from one address count ten, each caller seeing its
// own step.
func testConcurrentSignInFailures(f *fixture) {
	const n = 10
	u := f.createUser()
	counts := make([]int, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		a, err := f.iam.RecordSignInFailure(ctx, u.ID, addrA, f.now, f.at(-time.Hour), 0)
		counts[i] = a.Failure.Count
		return err
	})
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("RecordSignInFailure in goroutine %d: %v", i, err)
		}
	}
	slices.Sort(counts)
	f.equal("counts returned to the concurrent callers", counts, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.wantFailures("after concurrent failures", u.ID, addrA, f.at(-time.Hour),
		store.SignInFailure{UserID: u.ID, Address: addrA, Count: n, FirstAt: f.now, LastAt: f.now}, n)
}

func testSignInFailureCascade(f *fixture) {
	u := f.createUser()
	f.recordFailure(u.ID, addrA, f.now)
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	f.wantFailures("after the user's deletion", u.ID, addrA, f.at(-time.Hour), store.SignInFailure{}, 0)
	n, err := f.iam.DeleteSignInFailuresBefore(f.ctx, f.at(time.Hour), 100)
	f.must(err, "DeleteSignInFailuresBefore")
	if n != 0 {
		f.t.Errorf("the deleted user's rows outlived it: the sweep found %d", n)
	}
}

func testSignInFailureRollback(f *fixture) {
	u := f.createUser()
	f.recordFailure(u.ID, addrA, f.now)
	ctx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	_, err = f.iam.RecordSignInFailure(ctx, u.ID, addrA, f.now, f.at(-time.Hour), 0)
	f.must(err, "RecordSignInFailure in a transaction")
	f.must(f.iam.ClearSignInFailures(ctx, u.ID, addrB), "ClearSignInFailures in a transaction")
	_, err = f.iam.RecordSignInFailure(ctx, u.ID, addrB, f.now, f.at(-time.Hour), 0)
	f.must(err, "RecordSignInFailure of B in a transaction")
	f.must(f.s.Rollback(ctx), "Rollback")
	f.wantFailures("after rollback", u.ID, addrA, f.at(-time.Hour),
		store.SignInFailure{UserID: u.ID, Address: addrA, Count: 1, FirstAt: f.now, LastAt: f.now}, 1)
}
