package storetest

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var signInTests = []subtest{
	{"Success", testLoginSuccess},
	{"FailureCountsAndLocks", testLoginFailure},
	{"ConcurrentFailures", testConcurrentLoginFailures},
	{"ConcurrentFailuresLock", testConcurrentLoginFailuresLock},
}

// Sign-ins change their own fields and nothing else, UpdatedAt included:
// it tracks edits of the record, not sign-ins.
func testLoginSuccess(f *fixture) {
	u := f.createUser() // FailedLogins 2 and LockedUntil set by newUser
	other := f.createUser()

	at := f.at(time.Minute)
	f.must(f.iam.RecordLoginSuccess(f.ctx, u.ID, at, ""), "RecordLoginSuccess")
	want := u
	want.LastLoginAt = &at
	want.FailedLogins = 0
	want.LockedUntil = nil
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user after RecordLoginSuccess without a new hash", got, want)

	// A re-hash at new parameters replaces the hash.
	at2 := f.at(2 * time.Minute)
	const rehashed = "$argon2id$v=19$m=65536,t=3,p=4$bmV3c2FsdA$bmV3aGFzaA"
	f.must(f.iam.RecordLoginSuccess(f.ctx, strings.ToUpper(u.ID), at2, rehashed), "RecordLoginSuccess with a new hash, by uppercase UUID")
	want.LastLoginAt = &at2
	want.PasswordHash = rehashed
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user after RecordLoginSuccess with a new hash", got, want)

	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		f.wantErr(f.iam.RecordLoginSuccess(f.ctx, id, at, ""), store.ErrNotFound, "RecordLoginSuccess %q", id)
	}
	got, err = f.s.GetUser(f.ctx, other.ID)
	f.must(err, "GetUser other")
	f.equal("another user", got, other)
}

func testLoginFailure(f *fixture) {
	u := f.newUser()
	u.FailedLogins, u.LockedUntil = 0, nil
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	const lockFor = 15 * time.Minute
	want := u

	// Below the threshold, failures are counted.
	for i := 1; i <= 2; i++ {
		got, err := f.iam.RecordLoginFailure(f.ctx, u.ID, f.at(time.Duration(i)*time.Second), 3, lockFor)
		f.must(err, "RecordLoginFailure %d", i)
		want.FailedLogins = i
		f.equal("user returned by failure", got, want)
	}
	// The third locks the user from its time on, and the count starts over.
	third := f.at(3 * time.Second)
	got, err := f.iam.RecordLoginFailure(f.ctx, strings.ToUpper(u.ID), third, 3, lockFor)
	f.must(err, "RecordLoginFailure 3, by uppercase UUID")
	want.FailedLogins = 0
	want.LockedUntil = f.atPtr(3*time.Second + lockFor)
	f.equal("user returned by the locking failure", got, want)
	stored, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("stored user after the locking failure", stored, want)

	// Failures while locked count again; the lock stays until the next one.
	got, err = f.iam.RecordLoginFailure(f.ctx, u.ID, f.at(4*time.Second), 3, lockFor)
	f.must(err, "RecordLoginFailure while locked")
	want.FailedLogins = 1
	f.equal("user after a failure while locked", got, want)

	// A count that grew past a threshold lowered since locks at once.
	want.FailedLogins = 7
	f.must(f.s.UpdateUser(f.ctx, want), "UpdateUser")
	got, err = f.iam.RecordLoginFailure(f.ctx, u.ID, f.at(5*time.Second), 5, time.Hour)
	f.must(err, "RecordLoginFailure past the threshold")
	want.FailedLogins = 0
	want.LockedUntil = f.atPtr(5*time.Second + time.Hour)
	f.equal("user after a failure past the threshold", got, want)

	// A threshold below 1 turns locking off: failures are only counted.
	f.must(f.iam.RecordLoginSuccess(f.ctx, u.ID, f.at(6*time.Second), ""), "RecordLoginSuccess")
	want.LastLoginAt = f.atPtr(6 * time.Second)
	want.LockedUntil = nil
	for i := 1; i <= 3; i++ {
		got, err = f.iam.RecordLoginFailure(f.ctx, u.ID, f.at(7*time.Second), 0, lockFor)
		f.must(err, "RecordLoginFailure without a threshold")
		want.FailedLogins = i
		f.equal("user after a failure without a threshold", got, want)
	}

	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		_, err := f.iam.RecordLoginFailure(f.ctx, id, f.now, 3, lockFor)
		f.wantErr(err, store.ErrNotFound, "RecordLoginFailure %q", id)
	}
}

// The increment is atomic: ten failures at once count ten, and each caller
// sees its own step of the count.
func testConcurrentLoginFailures(f *fixture) {
	const n = 10
	u := f.newUser()
	u.FailedLogins, u.LockedUntil = 0, nil
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	counts := make([]int, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		got, err := f.iam.RecordLoginFailure(ctx, u.ID, f.now, 100, time.Minute)
		counts[i] = got.FailedLogins
		return err
	})
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("RecordLoginFailure in goroutine %d: %v", i, err)
		}
	}
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	if got.FailedLogins != n || got.LockedUntil != nil {
		f.t.Errorf("after %d concurrent failures: FailedLogins = %d, LockedUntil = %v, want %d and nil", n, got.FailedLogins, got.LockedUntil, n)
	}
	slices.Sort(counts)
	f.equal("counts returned to the concurrent callers", counts, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
}

// With a threshold of 5, ten failures at once lock the user exactly twice.
func testConcurrentLoginFailuresLock(f *fixture) {
	const n = 10
	u := f.newUser()
	u.FailedLogins, u.LockedUntil = 0, nil
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	counts := make([]int, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		got, err := f.iam.RecordLoginFailure(ctx, u.ID, f.now, 5, time.Minute)
		counts[i] = got.FailedLogins
		return err
	})
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("RecordLoginFailure in goroutine %d: %v", i, err)
		}
	}
	slices.Sort(counts)
	f.equal("counts returned to the concurrent callers", counts, []int{0, 0, 1, 1, 2, 2, 3, 3, 4, 4})
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	if got.FailedLogins != 0 || got.LockedUntil == nil || !sameTime(*got.LockedUntil, f.now.Add(time.Minute)) {
		f.t.Errorf("after %d concurrent failures with threshold 5: FailedLogins = %d, LockedUntil = %v, want 0 and %v", n, got.FailedLogins, got.LockedUntil, f.now.Add(time.Minute))
	}
}
