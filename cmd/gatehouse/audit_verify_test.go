package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// TestAuditChainTampering: the CLI writes entries; then, as the database's
// superuser, with the append-only trigger (migration 00002) disabled, one
// entry is edited, one deleted, one inserted, and audit verify reports
// exactly that entry each time, exiting 1. Each tampering is undone before
// the next, and the chain verifies again.
func TestAuditChainTampering(t *testing.T) {
	e, url := newDBEnv(t)
	ctx := context.Background()
	for _, name := range []string{"alice", "bob", "carol"} {
		e.ok(nil, "users", "create", "--username", name, "--email", name+"@example.com", "--password", "correct horse battery", "--role", "user")
		e.ok(nil, "users", "lock", name)
	}
	e.ok(nil, "roles", "create", "--name", "auditor", "--parent", "viewer")
	const entries = 7

	verify := func(t *testing.T, args ...string) (auditVerification, result) {
		t.Helper()
		r := e.run(append([]string{"audit", "verify"}, args...)...)
		var v auditVerification
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("audit verify: stdout is not JSON: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
		}
		return v, r
	}
	intact := func(t *testing.T) {
		t.Helper()
		for _, batch := range []string{"1", "3", "1000"} {
			v, r := verify(t, "--batch", batch)
			if r.code != 0 || v.Status != "ok" || v.Break != nil || v.Checked != entries || len(v.Head) != 64 {
				t.Fatalf("audit verify --batch %s on the intact log: exit %d, %+v\nstderr: %s", batch, r.code, v, r.stderr)
			}
		}
	}
	intact(t)

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	exec := func(t *testing.T, sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// The trigger refuses tampering until a superuser turns it off.
	if _, err := conn.Exec(ctx, `UPDATE audit_log SET action = 'forged' WHERE id = 3`); err == nil {
		t.Fatal("the append-only trigger let an UPDATE through")
	}
	exec(t, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`)
	exec(t, `CREATE TEMP TABLE saved AS SELECT * FROM audit_log`)
	restore := func(t *testing.T, id int64) {
		t.Helper()
		exec(t, `DELETE FROM audit_log WHERE id = $1`, id)
		exec(t, `INSERT INTO audit_log OVERRIDING SYSTEM VALUE SELECT * FROM saved WHERE id = $1`, id)
	}

	tests := []struct {
		name    string
		tamper  string
		want    store.AuditBreak
		restore int64 // the entry to put back as it was
	}{
		{"edit a field", `UPDATE audit_log SET ip_address = '203.0.113.66' WHERE id = 3`,
			store.AuditBreak{ID: 3, Reason: store.AuditBreakDigest}, 3},
		{"edit the changes", `UPDATE audit_log SET changes = changes || '{"forged": true}' WHERE id = 4`,
			store.AuditBreak{ID: 4, Reason: store.AuditBreakDigest}, 4},
		{"edit the time", `UPDATE audit_log SET at = at - interval '1 day' WHERE id = 1`,
			store.AuditBreak{ID: 1, Reason: store.AuditBreakDigest}, 1},
		{"swap digests", `UPDATE audit_log SET digest = (SELECT digest FROM saved WHERE id = 6) WHERE id = 5`,
			store.AuditBreak{ID: 5, Reason: store.AuditBreakDigest}, 5},
		{"drop a digest", `UPDATE audit_log SET digest = NULL WHERE id = 2`,
			store.AuditBreak{ID: 2, Reason: store.AuditBreakNoDigest}, 2},
		{"delete one", `DELETE FROM audit_log WHERE id = 5`,
			store.AuditBreak{ID: 5, Reason: store.AuditBreakMissing}, 5},
		{"delete the first", `DELETE FROM audit_log WHERE id = 1`,
			store.AuditBreak{ID: 1, Reason: store.AuditBreakMissing}, 1},
		{"delete the newest", fmt.Sprintf(`DELETE FROM audit_log WHERE id = %d`, entries),
			store.AuditBreak{ID: entries, Reason: store.AuditBreakMissing}, entries},
		// The forger even chains it to the newest entry correctly; only
		// the head, which it did not move, gives it away.
		{"insert one", fmt.Sprintf(`INSERT INTO audit_log (id, at, actor_type, action, digest) OVERRIDING SYSTEM VALUE
			SELECT %[1]d, now(), 'cli', 'user.create', sha256(digest || convert_to('[1,%[1]d,', 'UTF8')) FROM saved WHERE id = %[2]d`, entries+1, entries),
			store.AuditBreak{ID: entries + 1, Reason: store.AuditBreakAfter}, entries + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec(t, tt.tamper)
			for _, batch := range []string{"1", "2", "1000"} {
				v, r := verify(t, "--batch", batch)
				if r.code != 1 || v.Status != "broken" || v.Break == nil || *v.Break != tt.want {
					t.Errorf("--batch %s: exit %d, %+v (break %+v); want exit 1, break %+v", batch, r.code, v, v.Break, tt.want)
				}
				wantErr := fmt.Sprintf("chain broken at entry %d: %s", tt.want.ID, tt.want.Reason)
				if !strings.Contains(r.stderr, wantErr) {
					t.Errorf("--batch %s: stderr %q, want it to say %q", batch, r.stderr, wantErr)
				}
			}
			restore(t, tt.restore)
			intact(t)
		})
	}

	exec(t, `ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
	// Appends go on from the head after all that.
	e.ok(nil, "roles", "create", "--name", "reader", "--parent", "viewer")
	v, r := verify(t)
	if r.code != 0 || v.Checked != entries+1 {
		t.Fatalf("audit verify after one more append: exit %d, %+v", r.code, v)
	}
	e.fails([]string{"--batch must be between 1 and 10000"}, "audit", "verify", "--batch", "0")
}
