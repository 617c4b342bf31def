package memory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// A refused ReplaceRecoveryCodes (a digest twice) leaves the old codes, as
// PostgreSQL's transaction does, also when called outside a transaction.
func TestReplaceRecoveryCodesRefusedKeepsOldCodes(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	now := time.Now()
	u := store.User{ID: uuid.NewString(), Username: "alice", Email: "alice@example.com", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, []string{"d1", "d2"}, now); err != nil {
		t.Fatal(err)
	}
	err := s.ReplaceRecoveryCodes(ctx, u.ID, []string{"e1", "e1"}, now)
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate digests: err = %v, want ErrConflict", err)
	}
	if n, err := s.CountRecoveryCodes(ctx, u.ID); err != nil || n != 2 {
		t.Fatalf("after the refused replace: %d codes (err %v), want the old 2", n, err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, "d1", now); err != nil {
		t.Errorf("old code d1 no longer usable: %v", err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, "e1", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("new code e1 usable after the refused replace: %v", err)
	}
}
