package janitor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/store"
)

// Usage counters of days past the retention go in bounded batches,
// counted as usage_counters; the retention's last day and later stay.
// Without a retention nothing goes.
func TestRunOnceDeletesUsageCountersPastRetention(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
			retention := 400 * 24 * time.Hour
			lastKept := time.Date(2025, 11, 2, 0, 0, 0, 0, time.UTC) // now - 400 days, as a day
			var counts []store.UsageCount
			for i := range 7 { // seven counters on the two days before it
				counts = append(counts, store.UsageCount{Day: lastKept.AddDate(0, 0, -1-i%2), Metric: store.UsageActiveUsers,
					Key: fmt.Sprintf("u%d", i), Count: 1})
			}
			counts = append(counts,
				store.UsageCount{Day: lastKept, Metric: store.UsageSignIns, Count: 2},
				store.UsageCount{Day: now, Metric: store.UsageSignIns, Count: 3})
			if err := st.AddUsage(ctx, counts); err != nil {
				t.Fatal(err)
			}

			// No retention: kept.
			res, err := janitor.New(st, janitor.Options{Now: func() time.Time { return now }}).RunOnce(ctx)
			if err != nil || res.UsageCounters != 0 {
				t.Fatalf("without a retention: deleted %d, %v", res.UsageCounters, err)
			}

			rec := &recorder{}
			j := janitor.New(st, janitor.Options{BatchSize: 3, Now: func() time.Time { return now }, Recorder: rec, UsageRetention: retention})
			if res, err = j.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if res.UsageCounters != 7 || rec.deleted["usage_counters"] != 7 {
				t.Errorf("deleted %d usage counters (recorded %d), want 7", res.UsageCounters, rec.deleted["usage_counters"])
			}
			left, err := st.ListUsage(ctx, store.UsageActiveUsers, lastKept.AddDate(-1, 0, 0), now.AddDate(0, 0, 1))
			if err != nil || len(left) != 0 {
				t.Errorf("active-user counters left: %v, %v", left, err)
			}
			kept, err := st.ListUsage(ctx, store.UsageSignIns, lastKept.AddDate(-1, 0, 0), now.AddDate(0, 0, 1))
			if err != nil || len(kept) != 2 || !kept[0].Day.Equal(lastKept) || kept[0].Count != 2 || kept[1].Count != 3 {
				t.Errorf("sign-in counters kept: %+v, %v; want the retention's last day and today", kept, err)
			}
			if res, err := j.RunOnce(ctx); err != nil || res.UsageCounters != 0 {
				t.Errorf("second run: %d, %v; want 0", res.UsageCounters, err)
			}
		})
	}
}
