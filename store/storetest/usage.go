package storetest

import (
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// App access rules and usage analytics (appaccess).

var appAccessTests = []subtest{
	{"ClientAccessRoundTrip", testClientAccessRoundTrip},
	{"UsageIncrementAndRange", testUsageIncrementAndRange},
	{"UsageBoundedDeletion", testUsageBoundedDeletion},
}

// A client's access rule is stored, replaced by UpdateClient, and an empty
// one reads back as empty lists.
func testClientAccessRoundTrip(f *fixture) {
	c := f.createClient()
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	if got.Access.Restricted() || got.Access.Roles == nil || got.Access.Groups == nil {
		f.t.Errorf("new client Access = %#v, want empty non-nil lists", got.Access)
	}
	c.Access = store.ClientAccess{Roles: []string{"manager", "trader"}, Groups: []string{"g-1"}}
	f.must(f.s.UpdateClient(f.ctx, c), "UpdateClient")
	got, err = f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("access", got.Access, c.Access)
	list, err := f.s.ListClients(f.ctx)
	f.must(err, "ListClients")
	for _, l := range list {
		if l.ID == c.ID {
			f.equal("listed access", l.Access, c.Access)
		}
	}
	c.Access = store.ClientAccess{}
	f.must(f.s.UpdateClient(f.ctx, c), "UpdateClient")
	got, err = f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	if got.Access.Restricted() {
		f.t.Errorf("cleared Access = %#v, want empty", got.Access)
	}
}

func testUsageIncrementAndRange(f *fixture) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	f.must(f.s.AddUsage(f.ctx, []store.UsageCount{
		{Day: day.Add(13 * time.Hour), Metric: store.UsageTokens, Key: "authorization_code", Count: 2},
		{Day: day.Add(14 * time.Hour), Metric: store.UsageTokens, Key: "authorization_code", Count: 3},
		{Day: day, Metric: store.UsageTokens, Key: "refresh_token", Count: 1},
		{Day: day.AddDate(0, 0, 1), Metric: store.UsageTokens, Key: "refresh_token", Count: 4},
		{Day: day, Metric: store.UsageActiveUsers, Key: "u1", Count: 1},
		{Day: day.AddDate(0, 0, 1), Metric: store.UsageActiveUsers, Key: "u1", Count: 1},
		{Day: day.AddDate(0, 0, 1), Metric: store.UsageActiveUsers, Key: "u2", Count: 1},
	}), "AddUsage")
	// A second batch adds to the same counters.
	f.must(f.s.AddUsage(f.ctx, []store.UsageCount{
		{Day: day, Metric: store.UsageTokens, Key: "refresh_token", Count: 5},
	}), "AddUsage again")
	f.must(f.s.AddUsage(f.ctx, nil), "AddUsage empty")
	got, err := f.s.ListUsage(f.ctx, store.UsageTokens, day, day.AddDate(0, 0, 2))
	f.must(err, "ListUsage")
	want := []store.UsageCount{
		{Day: day, Metric: store.UsageTokens, Key: "authorization_code", Count: 5},
		{Day: day, Metric: store.UsageTokens, Key: "refresh_token", Count: 6},
		{Day: day.AddDate(0, 0, 1), Metric: store.UsageTokens, Key: "refresh_token", Count: 4},
	}
	f.equal("usage", got, want)
	got, err = f.s.ListUsage(f.ctx, store.UsageTokens, day.AddDate(0, 0, 1), day.AddDate(0, 0, 2))
	f.must(err, "ListUsage second day")
	f.equal("usage of the second day", got, want[2:])
	n, err := f.s.CountUsageKeys(f.ctx, store.UsageActiveUsers, day, day.AddDate(0, 0, 2))
	f.must(err, "CountUsageKeys")
	if n != 2 {
		f.t.Errorf("active users over two days = %d, want 2", n)
	}
	n, err = f.s.CountUsageKeys(f.ctx, store.UsageActiveUsers, day, day.AddDate(0, 0, 1))
	f.must(err, "CountUsageKeys")
	if n != 1 {
		f.t.Errorf("active users on the first day = %d, want 1", n)
	}
}

func testUsageBoundedDeletion(f *fixture) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	var counts []store.UsageCount
	for i := range 5 {
		counts = append(counts, store.UsageCount{Day: day.AddDate(0, 0, i), Metric: store.UsageSignIns, Count: 1})
	}
	f.must(f.s.AddUsage(f.ctx, counts), "AddUsage")
	cut := day.AddDate(0, 0, 3)
	n, err := f.s.DeleteUsageBefore(f.ctx, cut, 2)
	f.must(err, "DeleteUsageBefore")
	if n != 2 {
		f.t.Fatalf("first batch deleted %d, want 2 (the limit)", n)
	}
	n, err = f.s.DeleteUsageBefore(f.ctx, cut, 2)
	f.must(err, "DeleteUsageBefore")
	if n != 1 {
		f.t.Fatalf("second batch deleted %d, want 1", n)
	}
	got, err := f.s.ListUsage(f.ctx, store.UsageSignIns, day, day.AddDate(0, 0, 10))
	f.must(err, "ListUsage")
	f.equal("kept usage", got, counts[3:])
}
