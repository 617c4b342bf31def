package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// UpdateUser sends its ChangeUser notification, and waits for every
// listener's acknowledgement, only when what the user may do changed
// (store.UserAccessChanged). A profile or password edit sends nothing:
// the next event every listener hears after it is the marker written
// after it (notifications arrive in commit order), it leaves no waiter,
// and it returns while another instance's listener is stuck, which a lock
// of the same user does not.
func TestUserUpdatesAnnouncedOnlyWhenAccessChanges(t *testing.T) {
	// The bound is far beyond eventTimeout: a write that waited for the
	// stuck listener would not return within the test's waits.
	a, b := twoInstances(t)
	ctx := t.Context()

	// B's listener: every event is passed on; on a ChangeUser it stops
	// until released, an instance busy elsewhere.
	bEvents := make(chan store.ChangeEvent, 64)
	release := make(chan struct{})
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.Listen(lctx, func(e store.ChangeEvent) {
			bEvents <- e
			if e.Kind == store.ChangeUser {
				select {
				case <-release:
				case <-lctx.Done():
				}
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	bNext := func(t *testing.T) store.ChangeEvent {
		t.Helper()
		select {
		case e := <-bEvents:
			return e
		case <-time.After(eventTimeout):
			t.Fatalf("B heard no event within %v", eventTimeout)
			return store.ChangeEvent{}
		}
	}
	la := startListening(t, a)
	if e := la.next(t); e.Kind != store.ChangeAll {
		t.Fatalf("A's first event = %+v, want ChangeAll", e)
	}
	if e := bNext(t); e.Kind != store.ChangeAll {
		t.Fatalf("B's first event = %+v, want ChangeAll", e)
	}

	uid := uuid.NewString()
	now := time.Now().UTC()
	if err := a.CreateUser(ctx, store.User{ID: uid, Username: "alice", Email: "alice@example.com",
		FullName: "Alice", Status: store.StatusActive, Roles: []string{"user"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	get := func() store.User {
		t.Helper()
		u, err := a.GetUser(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// inTime runs write and fails unless it returns within eventTimeout.
	inTime := func(t *testing.T, what string, write func() error) {
		t.Helper()
		errc := make(chan error, 1)
		go func() { errc <- write() }()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(eventTimeout):
			t.Fatalf("%s did not return within %v: it waited for the stuck listener", what, eventTimeout)
		}
	}
	// wantNothingBefore writes a marker (a client created: ChangeClient)
	// and checks it is the next event both listeners hear.
	wantNothingBefore := func(t *testing.T, what string) {
		t.Helper()
		id := "marker-" + uuid.NewString()[:8]
		if err := a.CreateClient(ctx, client(id)); err != nil {
			t.Fatal(err)
		}
		want := store.ChangeEvent{Kind: store.ChangeClient, ID: id}
		if e := la.next(t); e != want {
			t.Errorf("%s: A heard %+v before the marker %+v", what, e, want)
		}
		if e := bNext(t); e != want {
			t.Errorf("%s: B heard %+v before the marker %+v", what, e, want)
		}
		if n := postgres.BarrierWaiters(a); n != 0 {
			t.Errorf("%s: %d notifications still awaited", what, n)
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*store.User)
	}{
		{"profile edit", func(u *store.User) {
			u.FullName, u.PhoneNumber, u.Locale, u.Picture = "Alice Liddell", "+441234567890", "en-GB", "https://img.example/a.png"
		}},
		{"password change", func(u *store.User) { u.PasswordHash = "$2a$04$abcdefghijklmnopqrstuu5Jz1bS8x3kq0m7dD0yQ1xkY8aW1pS2" }},
		{"sign-in recorded", func(u *store.User) { u.LastLoginAt, u.FailedLogins = &now, 2 }},
	} {
		u := get()
		tc.edit(&u)
		inTime(t, tc.name, func() error { return a.UpdateUser(ctx, u) })
		wantNothingBefore(t, tc.name)
	}
	// The same inside a transaction.
	inTime(t, "profile edit in a transaction", func() error {
		return store.InTx(ctx, a, func(ctx context.Context) error {
			u, err := a.GetUserForUpdate(ctx, uid)
			if err != nil {
				return err
			}
			u.Department = "Wonderland"
			return a.UpdateUser(ctx, u)
		})
	})
	wantNothingBefore(t, "profile edit in a transaction")
	if got := get(); got.FullName != "Alice Liddell" || got.Department != "Wonderland" || got.FailedLogins != 2 {
		t.Fatalf("the edits were not written: %+v", got)
	}

	// A lock is announced, and returns only once the stuck listener has
	// applied it.
	u := get()
	u.Status = store.StatusLocked
	errc := make(chan error, 1)
	go func() { errc <- a.UpdateUser(ctx, u) }()
	want := store.ChangeEvent{Kind: store.ChangeUser, ID: uid}
	if e := bNext(t); e != want {
		t.Fatalf("lock: B heard %+v, want %+v", e, want)
	}
	select {
	case err := <-errc:
		t.Fatalf("lock returned (%v) before the stuck listener had applied it", err)
	default:
	}
	close(release)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("lock: %v", err)
		}
	case <-time.After(eventTimeout):
		t.Fatalf("lock did not return within %v of the listener's release", eventTimeout)
	}
	if e := la.next(t); e != want {
		t.Errorf("lock: A heard %+v, want %+v", e, want)
	}
	if n := postgres.BarrierTimeouts(a); n != 0 {
		t.Errorf("%d waits ran out: an acknowledgement was not seen", n)
	}
	if got := get(); got.Status != store.StatusLocked {
		t.Errorf("status read back %s, want locked", got.Status)
	}
	// And a role taken away, with a marker after it: exactly one event.
	u = get()
	u.Roles = []string{"viewer"}
	inTime(t, "role change", func() error { return a.UpdateUser(ctx, u) })
	if e := la.next(t); e != want {
		t.Errorf("role change: A heard %+v, want %+v", e, want)
	}
	if e := bNext(t); e != want {
		t.Errorf("role change: B heard %+v, want %+v", e, want)
	}
	wantNothingBefore(t, "role change")
}
