package store

import (
	"context"
	"time"
)

// Usage metrics, the Metric of a UsageCount.
const (
	// UsageSignIns counts successful sign-ins; Key is "".
	UsageSignIns = "sign_in"
	// UsageActiveUsers counts a user's sign-ins; Key is the user id, so
	// the number of distinct keys over a range is the active users.
	UsageActiveUsers = "active_user"
	// UsageClientSignIns counts authorizations granted to a client at the
	// authorization endpoint; Key is the client id.
	UsageClientSignIns = "client_sign_in"
	// UsageTokens counts token responses; Key is the grant type.
	UsageTokens = "token"
)

// UsageCount is one counter of the usage table: Count events of Metric for
// Key on Day (midnight UTC).
type UsageCount struct {
	Day    time.Time
	Metric string
	Key    string
	Count  int64
}

// Usage stores the aggregated usage table: one counter per (day, metric,
// key), bounded by the janitor, so that the analytics never scan the audit
// log or the token tables.
type Usage interface {
	// AddUsage adds each count's Count to its (Day, Metric, Key) counter,
	// creating it at 0 first; Day is truncated to its UTC day. Atomic:
	// all or none.
	AddUsage(ctx context.Context, counts []UsageCount) error
	// ListUsage returns the counters of metric whose Day is in [from, to),
	// ordered by day then key.
	ListUsage(ctx context.Context, metric string, from, to time.Time) ([]UsageCount, error)
	// CountUsageKeys counts the distinct keys of metric's counters whose
	// Day is in [from, to).
	CountUsageKeys(ctx context.Context, metric string, from, to time.Time) (int, error)
	// DeleteUsageBefore deletes at most limit counters whose Day is before
	// day and returns how many it deleted.
	DeleteUsageBefore(ctx context.Context, day time.Time, limit int) (int, error)
}

// UsageDay is t's UTC calendar day, as the usage table keys it.
func UsageDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
