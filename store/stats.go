package store

import (
	"context"
	"time"
)

// Stats are the counts a dashboard shows. Each is one query whose cost is
// bounded by what it counts (the users, the pending requests, the audit
// entries of the range), never by the size of the whole audit log.
type Stats interface {
	// CountUsersByStatus counts every user by its effective status at now
	// (User.EffectiveStatus, so StatusExpired is one of the keys). Statuses
	// nobody has are absent.
	CountUsersByStatus(ctx context.Context, now time.Time) (map[UserStatus]int, error)
	// CountAccessRequests counts the requests in status.
	CountAccessRequests(ctx context.Context, status AccessRequestStatus) (int, error)
	// CountAuditByDay counts the entries whose Action is exactly action and
	// whose At is in [since, until), per UTC calendar day, oldest day
	// first. Days without entries are absent.
	CountAuditByDay(ctx context.Context, action string, since, until time.Time) ([]DayCount, error)
}

// DayCount is a count for one UTC calendar day.
type DayCount struct {
	// Day is the day's first instant, midnight UTC.
	Day   time.Time
	Count int
}
