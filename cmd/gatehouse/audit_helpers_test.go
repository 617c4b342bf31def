package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// iamOf returns the IAM half of the test store.
func iamOf(t *testing.T, st store.Store) store.IAM {
	t.Helper()
	return st
}

// auditSince returns the audit entries appended after the entry with id
// after, oldest first.
func auditSince(t *testing.T, st store.Store, after int64) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	f := store.AuditFilter{Limit: 200}
	for {
		page, err := iamOf(t, st).ListAudit(context.Background(), f)
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		for _, e := range page {
			if e.ID <= after {
				return reverse(out)
			}
			out = append(out, e)
		}
		if len(page) < f.Limit {
			return reverse(out)
		}
		f.Before = page[len(page)-1].ID
	}
}

func reverse(es []store.AuditEntry) []store.AuditEntry {
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// lastAuditID is the id of the newest audit entry, 0 if there is none.
func lastAuditID(t *testing.T, st store.Store) int64 {
	t.Helper()
	page, err := iamOf(t, st).ListAudit(context.Background(), store.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(page) == 0 {
		return 0
	}
	return page[0].ID
}

// audited runs a mutating command that must succeed and checks that it left
// exactly one audit entry, with the CLI as actor and the given action, in
// which none of the secrets appears. It returns the entry.
func (e *env) audited(st store.Store, action string, secrets []string, out any, args ...string) store.AuditEntry {
	e.t.Helper()
	before := lastAuditID(e.t, st)
	e.ok(out, args...)
	entries := auditSince(e.t, st, before)
	if len(entries) != 1 {
		e.t.Fatalf("gatehouse %s left %d audit entries, want exactly 1: %+v", strings.Join(args, " "), len(entries), entries)
	}
	got := entries[0]
	if got.ActorType != store.ActorCLI || got.ActorID != "" {
		e.t.Errorf("gatehouse %s: audit actor %s:%q, want cli", strings.Join(args, " "), got.ActorType, got.ActorID)
	}
	if got.Action != action {
		e.t.Errorf("gatehouse %s: audit action %q, want %q", strings.Join(args, " "), got.Action, action)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(got.Changes), s) {
			e.t.Errorf("gatehouse %s: audit entry records a secret: %s", strings.Join(args, " "), got.Changes)
		}
	}
	return got
}

// unaudited runs a command that must fail and checks it left no audit entry.
func (e *env) unaudited(st store.Store, want []string, args ...string) {
	e.t.Helper()
	before := lastAuditID(e.t, st)
	e.fails(want, args...)
	if entries := auditSince(e.t, st, before); len(entries) != 0 {
		e.t.Errorf("failed gatehouse %s left audit entries: %+v", strings.Join(args, " "), entries)
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, out)
	}
}

// sub is e reporting to the subtest t.
func (e *env) sub(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}
