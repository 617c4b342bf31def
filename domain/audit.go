package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Audit target types.
const (
	TargetUser          = "user"
	TargetRole          = "role"
	TargetGroup         = "group"
	TargetAccessRequest = "access_request"
	TargetAPIToken      = "api_token"
	TargetClient        = "client"
	TargetSession       = "session"
)

const maxAuditLimit = 200

// ListAudit lists audit entries newest first (limit capped at 200).
func (s *Service) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := checkFilters(map[string]string{"actor": f.ActorID, "action": f.Action, "target": f.TargetID}); err != nil {
		return nil, err
	}
	f.Limit = capLimit(f.Limit, maxAuditLimit)
	out, err := s.store.ListAudit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("domain: list audit: %w", err)
	}
	return out, nil
}

// Record appends an audit entry outside any other change (logout, session
// revocation, token revocation through OAuth). At defaults to now; Action
// and ActorType are required and Changes, when set, must be JSON.
func (s *Service) Record(ctx context.Context, e store.AuditEntry) error {
	if e.Action == "" || e.ActorType == "" {
		return errors.New("domain: record audit: action and actor type are required")
	}
	if len(e.Changes) > 0 && !json.Valid(e.Changes) {
		return errors.New("domain: record audit: changes are not JSON")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	// The entry and its event's deliveries commit together.
	return s.inTx(ctx, "record audit "+e.Action, func(ctx context.Context) error {
		return s.appendAudit(ctx, e)
	})
}

// appendAudit is the one place audit rows are written: the entry, then the
// deliveries of its event (webhooks.go), in the caller's transaction.
func (s *Service) appendAudit(ctx context.Context, e store.AuditEntry) error {
	id, err := s.store.AppendAudit(ctx, e)
	if err != nil {
		return err
	}
	return s.enqueueEvent(ctx, id, e)
}

// capLimit keeps 0 (the store's default) and caps the rest.
func capLimit(limit, maxLimit int) int {
	if limit < 0 {
		return 0
	}
	return min(limit, maxLimit)
}

// changes maps field names to their before and after, as the audit log
// records them. Only fields that are not secret go in: passwords, hashes,
// secrets and tokens are recorded as "changed" at most.
type changes map[string]store.Change

// fields is a record's audited fields as comparable values: strings, string
// lists (never nil), bools, decoded JSON, and times as RFC 3339 strings.
type fields map[string]any

// diff records the fields whose values differ, with both values as they
// are (false, "" and [] included: after an edit, the old value matters).
func diff(before, after fields) changes {
	c := changes{}
	for k, a := range after {
		if b := before[k]; !reflect.DeepEqual(b, a) {
			c[k] = store.Change{Before: b, After: a}
		}
	}
	return c
}

// onCreate records every field set on a new record.
func onCreate(after fields) changes {
	c := changes{}
	for k, a := range after {
		if v := emptyToNil(a); v != nil {
			c[k] = store.Change{After: v}
		}
	}
	return c
}

// onRemove records every field set on a deleted record: after a hard delete
// the audit entry is the only trace of what was there.
func onRemove(before fields) changes {
	c := changes{}
	for k, b := range before {
		if v := emptyToNil(b); v != nil {
			c[k] = store.Change{Before: v}
		}
	}
	return c
}

// emptyToNil turns zero values into nil, which the JSON leaves out, so that
// "no value" reads the same whatever its type.
func emptyToNil(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		if rv.Len() == 0 {
			return nil
		}
	default:
		if rv.IsZero() {
			return nil
		}
	}
	return v
}

// auditTime spells a time as the audit log and the comparisons need it;
// nil stays nil, which the JSON leaves out.
func auditTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

// auditList never returns nil, so that nil and empty lists compare equal.
func auditList(in []string) []string {
	if in == nil {
		return []string{}
	}
	return in
}

// auditJSON decodes a JSON value so that formatting and key order do not
// count as changes (PostgreSQL's jsonb reorders keys).
func auditJSON(raw json.RawMessage) any {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return v
}

// audit appends the entry of a mutation. Called inside the mutation's
// transaction, so that a failed write leaves no entry and a failed entry
// undoes the write.
func (s *Service) audit(ctx context.Context, a Actor, action, targetType, targetID string, c changes) error {
	if a.Type == "" {
		return fmt.Errorf("audit %s: the actor has no type", action)
	}
	var raw json.RawMessage
	if len(c) > 0 {
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("audit %s: encode changes: %w", action, err)
		}
		raw = b
	}
	err := s.appendAudit(ctx, store.AuditEntry{
		At:         s.now(),
		ActorType:  a.Type,
		ActorID:    a.ID,
		Action:     action,
		TargetType: targetType,
		TargetID:   targetID,
		IPAddress:  a.IP,
		Act:        a.Act,
		Changes:    raw,
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
