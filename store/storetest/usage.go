package storetest

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// App access rules and usage analytics (appaccess).

var appAccessTests = []subtest{
	{"ClientAccessRoundTrip", testClientAccessRoundTrip},
	{"UsageIncrementAndRange", testUsageIncrementAndRange},
	{"UsageBoundedDeletion", testUsageBoundedDeletion},
	{"AccessRequestForClient", testAccessRequestForClient},
	{"ConcurrentRequestsForClient", testConcurrentRequestsForClient},
}

// A client's access rule is stored, replaced by UpdateClient, and an empty
// one reads back as empty lists.
func testClientAccessRoundTrip(f *fixture) {
	c := f.createClient()
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	if got.Access.Restricted() || got.Access.Roles == nil || got.Access.Groups == nil || got.Access.Areas == nil {
		f.t.Errorf("new client Access = %#v, want empty non-nil lists", got.Access)
	}
	c.Access = store.ClientAccess{Roles: []string{"manager", "trader"}, Groups: []string{"g-1"}, Areas: []string{"emea", "emea-zurich"}}
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
	// Areas alone restrict the client.
	c.Access = store.ClientAccess{Areas: []string{"apac"}}
	f.must(f.s.UpdateClient(f.ctx, c), "UpdateClient")
	got, err = f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	if !got.Access.Restricted() || !slices.Equal(got.Access.Areas, []string{"apac"}) {
		f.t.Errorf("areas-only Access = %#v, want areas [apac], restricted", got.Access)
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

// A request for an application keeps its client id through creation,
// listing and decision; a user has one pending request per client (and
// one for a role alone), and may wait for several clients at once.
func testAccessRequestForClient(f *fixture) {
	u := f.createUser()
	app, other := f.createClient(), f.createClient()
	r := f.newAccessRequest(u.ID, "user")
	r.ClientID = app.ID
	f.must(f.iam.CreateAccessRequest(f.ctx, r), "CreateAccessRequest for a client")
	got, err := f.iam.GetAccessRequest(f.ctx, r.ID)
	f.must(err, "GetAccessRequest")
	f.equal("request for a client", got, r)

	again := f.newAccessRequest(u.ID, "viewer")
	again.ClientID = app.ID
	f.wantErr(f.iam.CreateAccessRequest(f.ctx, again), store.ErrConflict, "second pending request for the same client")

	forOther := f.newAccessRequest(u.ID, "viewer")
	forOther.ClientID = other.ID
	f.must(f.iam.CreateAccessRequest(f.ctx, forOther), "pending request for another client")
	plain := f.createAccessRequest(u.ID, "viewer") // a role alone
	f.wantErr(f.iam.CreateAccessRequest(f.ctx, f.newAccessRequest(u.ID, "user")), store.ErrConflict, "second pending request for a role alone")

	list, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{UserID: u.ID, Status: store.RequestPending})
	f.must(err, "ListAccessRequests")
	clients := map[string]string{}
	for _, l := range list {
		clients[l.ID] = l.ClientID
	}
	f.equal("client ids of the listed requests", clients, map[string]string{r.ID: app.ID, forOther.ID: other.ID, plain.ID: ""})

	decided, err := f.iam.DecideAccessRequest(f.ctx, r.ID, store.RequestApproved, "user", "cli", "", f.now)
	f.must(err, "DecideAccessRequest")
	if decided.ClientID != app.ID {
		f.t.Errorf("decided request ClientID = %q, want %q", decided.ClientID, app.ID)
	}
	f.must(f.iam.CreateAccessRequest(f.ctx, again), "new request for the client once the first is decided")

	// The id is history, not a reference: deleting the client keeps it.
	f.must(f.s.DeleteClient(f.ctx, app.ID), "DeleteClient")
	got, err = f.iam.GetAccessRequest(f.ctx, r.ID)
	f.must(err, "GetAccessRequest after the client is deleted")
	if got.ClientID != app.ID {
		f.t.Errorf("ClientID after the client is deleted = %q, want %q", got.ClientID, app.ID)
	}
}

// Of concurrent requests of one user for one client exactly one is made.
func testConcurrentRequestsForClient(f *fixture) {
	const n = 8
	u := f.createUser()
	app := f.createClient()
	reqs := make([]store.AccessRequest, n)
	for i := range reqs {
		reqs[i] = f.newAccessRequest(u.ID, "user")
		reqs[i].ClientID = app.ID
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return f.iam.CreateAccessRequest(ctx, reqs[i])
	})
	ok, conflicts := f.countErrors("CreateAccessRequest", errs, store.ErrConflict)
	if ok != 1 || conflicts != n-1 {
		f.t.Errorf("%d concurrent requests for one client: %d succeeded and %d got ErrConflict, want 1 and %d", n, ok, conflicts, n-1)
	}
}
