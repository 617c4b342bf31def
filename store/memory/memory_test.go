package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
}

func TestClock(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("X", 3600)))
	s := memory.New(memory.WithClock(clock.Now))
	ctx := t.Context()

	// Seeded roles carry the clock's time, as PostgreSQL would keep it.
	r, err := s.GetRole(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	want := clock.Now().UTC().Truncate(time.Microsecond)
	if !r.CreatedAt.Equal(want) || r.CreatedAt.Location() != time.UTC || !r.UpdatedAt.Equal(want) {
		t.Errorf("admin CreatedAt/UpdatedAt = %v/%v, want %v in UTC", r.CreatedAt, r.UpdatedAt, want)
	}

	// PAR expiry follows the injected clock, not the wall clock.
	if err := s.CreateClient(ctx, store.Client{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	p := store.PARRequest{RequestURI: "urn:x", ClientID: "c", ExpiresAt: clock.Now().Add(time.Minute), Request: json.RawMessage(`{}`)}
	if err := s.CreatePARRequest(ctx, p); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    error
	}{
		{"before expiry", 59 * time.Second, nil},
		{"at expiry", time.Second, store.ErrNotFound},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		_, err := s.GetPARRequest(ctx, p.RequestURI)
		if !errors.Is(err, st.want) {
			t.Errorf("%s: GetPARRequest = %v, want %v", st.name, err, st.want)
		}
	}
}

func TestFinishedTransactionIsRefused(t *testing.T) {
	s := memory.New()
	tx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	// The lock is released: using the old context must not write unlocked.
	if err := s.CreateClient(tx, store.Client{ID: "late"}); err == nil {
		t.Error("CreateClient with a committed transaction's context succeeded")
	}
	if err := s.Commit(tx); err == nil {
		t.Error("second Commit succeeded")
	}
	if _, err := s.BeginTx(tx); err == nil {
		t.Error("BeginTx inside a committed transaction succeeded")
	}
	if _, err := s.GetClient(t.Context(), "late"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient late = %v, want ErrNotFound", err)
	}
	if err := s.Commit(t.Context()); err == nil {
		t.Error("Commit without a transaction succeeded")
	}
	if err := s.Rollback(t.Context()); err == nil {
		t.Error("Rollback without a transaction succeeded")
	}
}

// A caller waiting for the store lock gives up with its context.
func TestBeginTxHonoursContext(t *testing.T) {
	s := memory.New()
	tx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.BeginTx(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("BeginTx while the lock is held = %v, want context.Canceled", err)
	}
	if _, err := s.GetClient(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetClient with a cancelled context = %v, want context.Canceled", err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	// The lock is free again.
	if _, err := s.ListClients(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A context may carry transactions of two stores; each store uses its own.
func TestTransactionsOfTwoStores(t *testing.T) {
	a, b := memory.New(), memory.New()
	txA, err := a.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	txAB, err := b.BeginTx(txA)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateClient(txAB, store.Client{ID: "in-a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateClient(txAB, store.Client{ID: "in-b"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Rollback(txAB); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(txAB); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetClient(t.Context(), "in-a"); err != nil {
		t.Errorf("client of the committed store: %v", err)
	}
	if _, err := b.GetClient(t.Context(), "in-b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("client of the rolled-back store: %v, want ErrNotFound", err)
	}
}
