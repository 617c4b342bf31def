package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// defaultRequestLimit is what AccessRequestFilter's zero Limit means.
const defaultRequestLimit = 100

func copyRequest(r store.AccessRequest) store.AccessRequest {
	r.CreatedAt = stamp(r.CreatedAt)
	r.DecidedAt = stampPtr(r.DecidedAt)
	return r
}

// newestFirst orders access requests by CreatedAt descending, then ID
// descending: the order of the keyset (created_at, id) < (...).
func newestFirst(a, b store.AccessRequest) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// CreateAccessRequest stores a new, pending request: a request reaches a
// final state only through DecideAccessRequest.
func (s *Store) CreateAccessRequest(ctx context.Context, r store.AccessRequest) error {
	return s.do(ctx, "create access request", func(o op) error {
		id, ok := canonicalUUID(r.ID)
		if !ok {
			return fmt.Errorf("id %q is not a UUID", r.ID)
		}
		r.ID = id
		if r.Status != store.RequestPending {
			return fmt.Errorf("status %q: a new access request is pending", r.Status)
		}
		if _, ok := s.requests[id]; ok {
			return store.ErrConflict
		}
		uid, _ := canonicalUUID(r.UserID)
		if _, ok := s.users[uid]; !ok {
			return fmt.Errorf("user %q: %w", r.UserID, store.ErrNotFound)
		}
		r.UserID = uid
		if _, ok := s.roles[r.RequestedRole]; !ok {
			return fmt.Errorf("role %q: %w", r.RequestedRole, store.ErrNotFound)
		}
		for _, other := range s.requests {
			if other.UserID == uid && other.Status == store.RequestPending && other.ClientID == r.ClientID {
				return fmt.Errorf("user %q has a pending request for client %q: %w", uid, r.ClientID, store.ErrConflict)
			}
		}
		put(o, s.requests, id, copyRequest(r))
		return nil
	})
}

func (s *Store) GetAccessRequest(ctx context.Context, id string) (store.AccessRequest, error) {
	var out store.AccessRequest
	err := s.do(ctx, "get access request", func(op) error {
		rid, _ := canonicalUUID(id)
		r, ok := s.requests[rid]
		if !ok {
			return store.ErrNotFound
		}
		out = copyRequest(r)
		return nil
	})
	return out, err
}

// ListAccessRequests returns nothing for a Before cursor that names no
// request: a keyset comparison with a missing row matches no row.
func (s *Store) ListAccessRequests(ctx context.Context, f store.AccessRequestFilter) ([]store.AccessRequest, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultRequestLimit
	}
	var out []store.AccessRequest
	err := s.do(ctx, "list access requests", func(op) error {
		var cursor *store.AccessRequest
		if f.Before != "" {
			id, _ := canonicalUUID(f.Before)
			r, ok := s.requests[id]
			if !ok {
				return nil
			}
			cursor = &r
		}
		userID := ""
		if f.UserID != "" {
			id, ok := canonicalUUID(f.UserID)
			if !ok {
				return nil
			}
			userID = id
		}
		for _, r := range s.requests {
			if f.Status != "" && r.Status != f.Status {
				continue
			}
			if userID != "" && r.UserID != userID {
				continue
			}
			if cursor != nil && newestFirst(*cursor, r) >= 0 {
				continue
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, newestFirst)
	out = out[:min(limit, len(out))]
	for i := range out {
		out[i] = copyRequest(out[i])
	}
	return out, nil
}

func (s *Store) DecideAccessRequest(ctx context.Context, id string, status store.AccessRequestStatus, grantedRole, decidedBy, comment string, at time.Time) (store.AccessRequest, error) {
	var out store.AccessRequest
	err := s.do(ctx, "decide access request", func(o op) error {
		switch status {
		case store.RequestApproved, store.RequestDenied, store.RequestCancelled:
		default:
			return fmt.Errorf("status %q is no decision", status)
		}
		rid, _ := canonicalUUID(id)
		r, ok := s.requests[rid]
		if !ok {
			return store.ErrNotFound
		}
		if r.Status != store.RequestPending {
			return fmt.Errorf("request is %s: %w", r.Status, store.ErrConflict)
		}
		r.Status = status
		r.GrantedRole = grantedRole
		r.DecidedBy = decidedBy
		r.Comment = comment
		r.DecidedAt = &at
		r = copyRequest(r)
		put(o, s.requests, rid, r)
		out = copyRequest(r)
		return nil
	})
	return out, err
}
