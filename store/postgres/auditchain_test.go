package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TestAuditChainStartsAfterExistingEntries: on a database that has audit
// entries when migration 00012 runs, the chain starts at the first entry
// appended after it; the older ones stay without a digest and verify
// counts them as unchained. The migration is also safe to run again.
func TestAuditChainStartsAfterExistingEntries(t *testing.T) {
	s, dbURL := newStore(t)
	conn := connect(t, dbURL)
	ctx := context.Background()
	// The state before 00012: entries from the identity sequence, no head.
	for _, sql := range []string{
		`DELETE FROM audit_chain_head`,
		`INSERT INTO audit_log (at, actor_type, action) VALUES (now(), 'cli', 'user.create'), (now(), 'cli', 'user.lock'), (now(), 'system', 'janitor.run')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	up, err := os.ReadFile("../../migrations/00012_audit_chain.sql")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := conn.Exec(ctx, string(up)); err != nil {
			t.Fatalf("migration 00012: %v", err)
		}
	}
	head, err := s.AuditChainHead(ctx)
	if err != nil || head.FirstID != 4 || head.LastID != 3 || head.Digest != nil {
		t.Fatalf("head after the migration = %+v, %v; want first 4, last 3", head, err)
	}
	for i := range 2 {
		id, err := s.AppendAudit(ctx, store.AuditEntry{At: time.Now(), ActorType: store.ActorCLI, Action: "role.create"})
		if err != nil || id != int64(4+i) {
			t.Fatalf("append %d: id %d, %v; want %d", i, id, err, 4+i)
		}
	}
	v, err := store.VerifyAuditChain(ctx, s, 2)
	if err != nil || v.Break != nil || v.Checked != 2 || v.Unchained != 3 {
		t.Fatalf("VerifyAuditChain = %+v (break %+v), %v; want 2 checked, 3 unchained", v, v.Break, err)
	}
	legacy, err := s.ListAuditChain(ctx, 0, 3)
	if err != nil || len(legacy) != 3 || legacy[0].Digest != nil || legacy[2].Digest != nil {
		t.Fatalf("entries before the chain: %+v, %v; want 3 without a digest", legacy, err)
	}
}
