package memory

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// CountUsersByStatus judges each user's effective status at now, as
// ListUsers' Status filter does.
func (s *Store) CountUsersByStatus(ctx context.Context, now time.Time) (map[store.UserStatus]int, error) {
	out := map[store.UserStatus]int{}
	err := s.do(ctx, "count users by status", func(op) error {
		for _, u := range s.users {
			out[u.EffectiveStatus(now)]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) CountAccessRequests(ctx context.Context, status store.AccessRequestStatus) (int, error) {
	var n int
	err := s.do(ctx, "count access requests", func(op) error {
		for _, r := range s.requests {
			if r.Status == status {
				n++
			}
		}
		return nil
	})
	return n, err
}

// CountAuditByDay compares the bounds at microseconds, as PostgreSQL keeps
// them.
func (s *Store) CountAuditByDay(ctx context.Context, action string, since, until time.Time) ([]store.DayCount, error) {
	since, until = stamp(since), stamp(until)
	byDay := map[time.Time]int{}
	err := s.do(ctx, "count audit entries by day", func(op) error {
		for _, e := range s.audit {
			if e.Action != action || e.At.Before(since) || !e.At.Before(until) {
				continue
			}
			at := e.At.UTC()
			byDay[time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.DayCount, 0, len(byDay))
	for day, n := range byDay {
		out = append(out, store.DayCount{Day: day, Count: n})
	}
	slices.SortFunc(out, func(a, b store.DayCount) int { return a.Day.Compare(b.Day) })
	return out, nil
}
