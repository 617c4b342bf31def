package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// BenchmarkUpdateUser measures UpdateUser with two instances' listeners
// connected (so an announced change waits for both acknowledgements): a
// profile edit, which is not announced, and a status change, which is.
func BenchmarkUpdateUser(b *testing.B) { benchmarkUpdateUser(b, 0) }

// BenchmarkUpdateUserSlowListener is BenchmarkUpdateUser with the second
// instance's listener taking 20 ms to apply a ChangeUser (an instance busy
// elsewhere): what an announced write waits for.
func BenchmarkUpdateUserSlowListener(b *testing.B) { benchmarkUpdateUser(b, 20*time.Millisecond) }

func benchmarkUpdateUser(b *testing.B, slow time.Duration) {
	dbURL := pgtest.NewDatabase(b)
	ctx := context.Background()
	var stores []*postgres.Store
	for n := range 2 {
		s, err := postgres.New(ctx, dbURL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		stores = append(stores, s)
		ready := make(chan struct{}, 1)
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- s.Listen(lctx, func(e store.ChangeEvent) {
				switch {
				case e.Kind == store.ChangeAll:
					select {
					case ready <- struct{}{}:
					default:
					}
				case e.Kind == store.ChangeUser && n == 1:
					time.Sleep(slow)
				}
			})
		}()
		b.Cleanup(func() { cancel(); <-done })
		<-ready
	}
	s := stores[0]
	uid := uuid.NewString()
	now := time.Now().UTC()
	u := store.User{ID: uid, Username: "bench", Email: "bench@example.com", FullName: "Bench",
		Status: store.StatusActive, Roles: []string{"user"}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	b.Run("profile", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			u.FullName = "Bench " + string(rune('a'+i%26))
			if err := s.UpdateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("status", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			u.Status = store.StatusActive
			if i%2 == 1 {
				u.Status = store.StatusLocked
			}
			if err := s.UpdateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
	})
}
