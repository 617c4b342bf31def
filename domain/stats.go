package domain

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// SignInDays is how many UTC days Stats counts sign-ins for, today
// included.
const SignInDays = 14

// signInAction is the audit action of a successful sign-in.
const signInAction = "login.success"

// Stats is what the admin dashboard shows, as of At.
type Stats struct {
	At time.Time
	// Users counts users by effective status (store.User.EffectiveStatus);
	// every status is a key, with 0 where nobody has it.
	Users map[store.UserStatus]int
	// PendingAccessRequests is the length of the review queue.
	PendingAccessRequests int
	// SignIns counts successful sign-ins per UTC day, the SignInDays days
	// up to today, oldest first; a day without any has Count 0.
	SignIns []store.DayCount
}

// userStatuses are the effective statuses Stats always reports.
func userStatuses() []store.UserStatus {
	return []store.UserStatus{store.StatusActive, store.StatusPending, store.StatusLocked,
		store.StatusDisabled, store.StatusExpired}
}

// Stats computes the dashboard's figures in one transaction: three
// queries, each bounded by what it counts (the sign-ins are read for
// SignInDays days only, through the audit log's time index).
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	now := s.now()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	since := today.AddDate(0, 0, -(SignInDays - 1))
	out := Stats{At: now}
	err := s.inTx(ctx, "stats", func(ctx context.Context) error {
		byStatus, err := s.store.CountUsersByStatus(ctx, now)
		if err != nil {
			return err
		}
		out.Users = map[store.UserStatus]int{}
		for _, st := range userStatuses() {
			out.Users[st] = byStatus[st]
		}
		if out.PendingAccessRequests, err = s.store.CountAccessRequests(ctx, store.RequestPending); err != nil {
			return err
		}
		days, err := s.store.CountAuditByDay(ctx, signInAction, since, today.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		counts := make(map[int64]int, len(days))
		for _, d := range days {
			counts[d.Day.Unix()] = d.Count
		}
		out.SignIns = make([]store.DayCount, SignInDays)
		for i := range out.SignIns {
			day := since.AddDate(0, 0, i)
			out.SignIns[i] = store.DayCount{Day: day, Count: counts[day.Unix()]}
		}
		return nil
	})
	if err != nil {
		return Stats{}, err
	}
	return out, nil
}
