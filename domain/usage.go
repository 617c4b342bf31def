package domain

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// UsageCounter counts usage events for the analytics (usage.Recorder
// implements it): in memory, flushed to the usage table in batches, so
// that a sign-in pays no write for being counted.
type UsageCounter interface {
	Count(metric, key string)
}

type noUsageCounter struct{}

func (noUsageCounter) Count(string, string) {}

// countSignIn counts a successful sign-in of userID, once it is
// committed (a rolled-back one must not count): the sign-in itself and
// the user as active that day. Password, passkey and upstream sign-ins
// all count; they are the ones that record RecordLoginSuccess.
func (s *Service) countSignIn(userID string) {
	s.opts.Usage.Count(store.UsageSignIns, "")
	s.opts.Usage.Count(store.UsageActiveUsers, userID)
}

// The range of UsageStats.
const (
	DefaultUsageDays = 30
	MaxUsageDays     = 90
	// UsageTopClients is how many clients UsageStats ranks.
	UsageTopClients = 10
)

// UsageStats are the usage analytics of the dashboard, read from the
// usage table (never the audit log or the token tables), as of At.
type UsageStats struct {
	At time.Time
	// Days is the range: the Days UTC days up to today, From the first.
	Days int
	From time.Time
	// SignIns counts successful sign-ins per UTC day over the range,
	// oldest first; a day without any has Count 0.
	SignIns []store.DayCount
	// TotalSignIns sums SignIns.
	TotalSignIns int64
	// Clients are the UsageTopClients clients with the most
	// authorizations granted at the authorization endpoint over the
	// range, the most first (then by id).
	Clients []ClientUsage
	// ActiveUsers7 and ActiveUsers30 count the distinct users who signed
	// in over the last 7 and 30 UTC days, today included, whatever Days.
	ActiveUsers7, ActiveUsers30 int
	// Tokens counts token responses by grant type over the range, the
	// most first (then by grant type).
	Tokens []KeyCount
}

// ClientUsage is one client's sign-ins; Name is "" for a client deleted
// since.
type ClientUsage struct {
	ClientID, Name string
	SignIns        int64
}

// KeyCount is a count for one key.
type KeyCount struct {
	Key   string
	Count int64
}

// UsageStats reads the usage analytics for the days UTC days up to today
// (1..MaxUsageDays; the dashboard's default is DefaultUsageDays), in one transaction of five
// queries plus one client lookup per ranked client. Counts reach the
// table at each instance's flush, so the last usage.flush_interval is
// not in it yet.
func (s *Service) UsageStats(ctx context.Context, days int) (UsageStats, error) {
	if days < 1 || days > MaxUsageDays {
		return UsageStats{}, invalid("days", "must be between 1 and %d, got %d", MaxUsageDays, days)
	}
	now := s.now()
	today := store.UsageDay(now)
	end := today.AddDate(0, 0, 1)
	out := UsageStats{At: now, Days: days, From: today.AddDate(0, 0, -(days - 1))}
	err := s.inTx(ctx, "usage stats", func(ctx context.Context) error {
		signIns, err := s.store.ListUsage(ctx, store.UsageSignIns, out.From, end)
		if err != nil {
			return err
		}
		perDay := make(map[int64]int64, len(signIns))
		for _, c := range signIns {
			perDay[c.Day.Unix()] += c.Count
		}
		out.SignIns = make([]store.DayCount, days)
		for i := range out.SignIns {
			day := out.From.AddDate(0, 0, i)
			out.SignIns[i] = store.DayCount{Day: day, Count: int(perDay[day.Unix()])}
			out.TotalSignIns += perDay[day.Unix()]
		}

		clients, err := s.store.ListUsage(ctx, store.UsageClientSignIns, out.From, end)
		if err != nil {
			return err
		}
		for _, kc := range rank(clients, UsageTopClients) {
			cu := ClientUsage{ClientID: kc.Key, SignIns: kc.Count}
			c, err := s.store.GetClient(ctx, kc.Key)
			switch {
			case err == nil:
				cu.Name = c.Name
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			out.Clients = append(out.Clients, cu)
		}

		if out.ActiveUsers7, err = s.store.CountUsageKeys(ctx, store.UsageActiveUsers, today.AddDate(0, 0, -6), end); err != nil {
			return err
		}
		if out.ActiveUsers30, err = s.store.CountUsageKeys(ctx, store.UsageActiveUsers, today.AddDate(0, 0, -29), end); err != nil {
			return err
		}

		tokens, err := s.store.ListUsage(ctx, store.UsageTokens, out.From, end)
		if err != nil {
			return err
		}
		out.Tokens = rank(tokens, 0)
		return nil
	})
	if err != nil {
		return UsageStats{}, err
	}
	return out, nil
}

// rank sums counts by key and orders them, the most first, then by key;
// top > 0 keeps that many.
func rank(counts []store.UsageCount, top int) []KeyCount {
	sums := map[string]int64{}
	for _, c := range counts {
		sums[c.Key] += c.Count
	}
	out := make([]KeyCount, 0, len(sums))
	for k, n := range sums {
		out = append(out, KeyCount{Key: k, Count: n})
	}
	slices.SortFunc(out, func(a, b KeyCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}
