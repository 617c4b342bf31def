package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

type usageKey struct {
	day         time.Time
	metric, key string
}

func (s *Store) AddUsage(ctx context.Context, counts []store.UsageCount) error {
	return s.do(ctx, "add usage", func(o op) error {
		for _, c := range counts {
			k := usageKey{day: store.UsageDay(c.Day), metric: c.Metric, key: c.Key}
			put(o, s.usage, k, s.usage[k]+c.Count)
		}
		return nil
	})
}

func (s *Store) ListUsage(ctx context.Context, metric string, from, to time.Time) ([]store.UsageCount, error) {
	from, to = store.UsageDay(from), store.UsageDay(to)
	var out []store.UsageCount
	err := s.do(ctx, "list usage", func(op) error {
		for k, n := range s.usage {
			if k.metric == metric && !k.day.Before(from) && k.day.Before(to) {
				out = append(out, store.UsageCount{Day: k.day, Metric: k.metric, Key: k.key, Count: n})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.UsageCount) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

func (s *Store) CountUsageKeys(ctx context.Context, metric string, from, to time.Time) (int, error) {
	counts, err := s.ListUsage(ctx, metric, from, to)
	if err != nil {
		return 0, err
	}
	keys := map[string]bool{}
	for _, c := range counts {
		keys[c.Key] = true
	}
	return len(keys), nil
}

func (s *Store) DeleteUsageBefore(ctx context.Context, day time.Time, limit int) (int, error) {
	day = store.UsageDay(day)
	n := 0
	err := s.do(ctx, "delete usage", func(o op) error {
		for k := range s.usage {
			if n >= limit {
				break
			}
			if k.day.Before(day) {
				del(o, s.usage, k)
				n++
			}
		}
		return nil
	})
	return n, err
}
