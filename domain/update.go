package domain

import (
	"context"
	"time"
)

// record describes one kind of stored record to the audited update: how to
// read and write it, which of its fields the audit log compares, and where
// its modification time is.
type record[T any] struct {
	what   string // for error context: "update user"
	target string // the audit entry's target type
	get    func(ctx context.Context, id string) (T, error)
	put    func(ctx context.Context, v T) error
	fields func(v T) fields
	touch  func(v *T, now time.Time)
	// precondition, when set, is checked against the record as the
	// transaction reads it, before change: it refuses (ErrStale) an edit
	// made on the strength of a version that is no longer current. get
	// must then hold the record until the transaction ends, or a
	// concurrent update could slip in between the check and the write.
	precondition func(cur T) error
}

// update is the one audited update of a stored record, in one transaction:
// read it, check the record's precondition if it has one, let change
// derive (and validate) the next version, and unless nothing the audit log
// compares differs, write it, run then (more work the change needs in the
// same transaction, such as ending sessions; may be nil), record action
// with each changed field's before and after, and read the record back as
// stored. A change that changes nothing writes nothing and records nothing
// (a failed precondition still fails it: the caller's view is out of date
// either way).
func update[T any](ctx context.Context, s *Service, a Actor, r record[T], id, action string,
	change func(ctx context.Context, cur T) (T, error), then func(ctx context.Context, cur, next T) error) (T, error) {
	var out T
	err := s.inTx(ctx, r.what, func(ctx context.Context) error {
		cur, err := r.get(ctx, id)
		if err != nil {
			return err
		}
		if r.precondition != nil {
			if err := r.precondition(cur); err != nil {
				return err
			}
		}
		next, err := change(ctx, cur)
		if err != nil {
			return err
		}
		c := diff(r.fields(cur), r.fields(next))
		if len(c) == 0 {
			out = cur
			return nil
		}
		r.touch(&next, s.now())
		if err := r.put(ctx, next); err != nil {
			return err
		}
		if then != nil {
			if err := then(ctx, cur, next); err != nil {
				return err
			}
		}
		if err := s.audit(ctx, a, action, r.target, id, c); err != nil {
			return err
		}
		out, err = r.get(ctx, id)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
