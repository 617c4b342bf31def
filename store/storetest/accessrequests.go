package storetest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var accessRequestTests = []subtest{
	{"CreateGet", testRequestCreateGet},
	{"CreateErrors", testRequestCreateErrors},
	{"OnePendingPerUser", testRequestOnePending},
	{"ListFilters", testRequestListFilters},
	{"ListOrderAndPages", testRequestListPages},
	{"ListDefaultLimit", testRequestListDefaultLimit},
	{"Decide", testRequestDecide},
	{"DecideErrors", testRequestDecideErrors},
	{"ConcurrentDecisions", testRequestConcurrentDecisions},
	{"ConcurrentCreate", testRequestConcurrentCreate},
}

func testRequestCreateGet(f *fixture) {
	u := f.createUser()
	r := f.newAccessRequest(strings.ToUpper(u.ID), "manager")
	f.must(f.iam.CreateAccessRequest(f.ctx, r), "CreateAccessRequest")
	want := r
	want.UserID = u.ID // a UUID comes back in its canonical spelling

	got, err := f.iam.GetAccessRequest(f.ctx, r.ID)
	f.must(err, "GetAccessRequest")
	f.equal("GetAccessRequest", got, want)
	got, err = f.iam.GetAccessRequest(f.ctx, strings.ToUpper(r.ID))
	f.must(err, "GetAccessRequest by uppercase UUID")
	f.equal("GetAccessRequest by uppercase UUID", got, want)

	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		_, err := f.iam.GetAccessRequest(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetAccessRequest %q", id)
	}
}

func testRequestCreateErrors(f *fixture) {
	u := f.createUser()
	r := f.createAccessRequest(u.ID, "user")
	other := f.createUser()

	cases := []struct {
		name string
		edit func(*store.AccessRequest)
		want error
	}{
		{"unknown user", func(v *store.AccessRequest) { v.UserID = uuid.NewString() }, store.ErrNotFound},
		{"user id that is no UUID", func(v *store.AccessRequest) { v.UserID = "not-a-uuid" }, store.ErrNotFound},
		{"unknown role", func(v *store.AccessRequest) { v.RequestedRole = "no-such-role" }, store.ErrNotFound},
		{"no role", func(v *store.AccessRequest) { v.RequestedRole = "" }, store.ErrNotFound},
		{"taken id", func(v *store.AccessRequest) { v.ID = r.ID }, store.ErrConflict},
		{"a user with a pending request", func(v *store.AccessRequest) { v.UserID = u.ID }, store.ErrConflict},
	}
	for _, tc := range cases {
		v := f.newAccessRequest(other.ID, "viewer")
		tc.edit(&v)
		f.wantErr(f.iam.CreateAccessRequest(f.ctx, v), tc.want, "CreateAccessRequest with %s", tc.name)
		if v.ID != r.ID {
			_, err := f.iam.GetAccessRequest(f.ctx, v.ID)
			f.wantErr(err, store.ErrNotFound, "GetAccessRequest of the refused request (%s)", tc.name)
		}
	}
	// A request is created pending; it reaches a final state only through
	// DecideAccessRequest. Which error refuses it is not settled.
	for _, status := range []store.AccessRequestStatus{store.RequestApproved, store.RequestDenied, store.RequestCancelled, "", "bogus"} {
		v := f.newAccessRequest(other.ID, "viewer")
		v.Status = status
		if err := f.iam.CreateAccessRequest(f.ctx, v); err == nil {
			f.t.Errorf("CreateAccessRequest with status %q succeeded, want an error", status)
		}
		_, err := f.iam.GetAccessRequest(f.ctx, v.ID)
		f.wantErr(err, store.ErrNotFound, "GetAccessRequest of the refused request with status %q", status)
	}

	got, err := f.iam.GetAccessRequest(f.ctx, r.ID)
	f.must(err, "GetAccessRequest")
	f.equal("request after refused creations", got, r)
	list, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{})
	f.must(err, "ListAccessRequests")
	f.equal("requests after refused creations", requestIDs(list), []string{r.ID})
}

// One pending request per user; once it is decided, the user may ask again.
func testRequestOnePending(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	first := f.createAccessRequest(u.ID, "user")
	f.wantErr(f.iam.CreateAccessRequest(f.ctx, f.newAccessRequest(u.ID, "viewer")), store.ErrConflict, "second pending request")
	f.wantErr(f.iam.CreateAccessRequest(f.ctx, f.newAccessRequest(strings.ToUpper(u.ID), "viewer")), store.ErrConflict, "second pending request, user id in capitals")
	f.createAccessRequest(other.ID, "user") // others are not affected

	prev := first
	for _, status := range []store.AccessRequestStatus{store.RequestDenied, store.RequestCancelled, store.RequestApproved} {
		_, err := f.iam.DecideAccessRequest(f.ctx, prev.ID, status, "", "cli", "", f.now)
		f.must(err, "DecideAccessRequest %s", status)
		next := f.newAccessRequest(u.ID, "viewer")
		f.wantErr(f.iam.CreateAccessRequest(f.ctx, next), nil, "new request after the previous was %s", status)
		prev = next
	}
	list, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{UserID: u.ID})
	f.must(err, "ListAccessRequests")
	if len(list) != 4 {
		f.t.Errorf("user has %d requests, want 4", len(list))
	}
	pending, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{UserID: u.ID, Status: store.RequestPending})
	f.must(err, "ListAccessRequests pending")
	f.equal("the user's pending requests", requestIDs(pending), []string{prev.ID})
}

func testRequestListFilters(f *fixture) {
	a, b, c := f.createUser(), f.createUser(), f.createUser()
	mk := func(u store.User, age time.Duration, decide store.AccessRequestStatus) store.AccessRequest {
		r := f.newAccessRequest(u.ID, "user")
		r.CreatedAt = f.at(-age)
		f.must(f.iam.CreateAccessRequest(f.ctx, r), "CreateAccessRequest")
		if decide != "" {
			_, err := f.iam.DecideAccessRequest(f.ctx, r.ID, decide, "", "cli", "", f.now)
			f.must(err, "DecideAccessRequest")
		}
		return r
	}
	a1 := mk(a, 5*time.Hour, store.RequestDenied)
	b1 := mk(b, 4*time.Hour, store.RequestApproved)
	a2 := mk(a, 3*time.Hour, "")
	c1 := mk(c, 2*time.Hour, store.RequestCancelled)
	b2 := mk(b, time.Hour, "")

	cases := []struct {
		name   string
		filter store.AccessRequestFilter
		want   []store.AccessRequest
	}{
		{"no filter", store.AccessRequestFilter{}, []store.AccessRequest{b2, c1, a2, b1, a1}},
		{"pending", store.AccessRequestFilter{Status: store.RequestPending}, []store.AccessRequest{b2, a2}},
		{"approved", store.AccessRequestFilter{Status: store.RequestApproved}, []store.AccessRequest{b1}},
		{"denied", store.AccessRequestFilter{Status: store.RequestDenied}, []store.AccessRequest{a1}},
		{"cancelled", store.AccessRequestFilter{Status: store.RequestCancelled}, []store.AccessRequest{c1}},
		{"user", store.AccessRequestFilter{UserID: a.ID}, []store.AccessRequest{a2, a1}},
		{"user by uppercase UUID", store.AccessRequestFilter{UserID: strings.ToUpper(b.ID)}, []store.AccessRequest{b2, b1}},
		{"user and status", store.AccessRequestFilter{UserID: b.ID, Status: store.RequestApproved}, []store.AccessRequest{b1}},
		{"unknown user", store.AccessRequestFilter{UserID: uuid.NewString()}, nil},
		{"user id that is no UUID", store.AccessRequestFilter{UserID: "not-a-uuid"}, nil},
		{"limit", store.AccessRequestFilter{Limit: 2}, []store.AccessRequest{b2, c1}},
		{"before", store.AccessRequestFilter{Before: a2.ID}, []store.AccessRequest{b1, a1}},
		{"before by uppercase UUID", store.AccessRequestFilter{Before: strings.ToUpper(c1.ID)}, []store.AccessRequest{a2, b1, a1}},
		{"before the oldest", store.AccessRequestFilter{Before: a1.ID}, nil},
		{"before and status", store.AccessRequestFilter{Before: b2.ID, Status: store.RequestPending}, []store.AccessRequest{a2}},
		{"before, user and limit", store.AccessRequestFilter{Before: b2.ID, UserID: a.ID, Limit: 1}, []store.AccessRequest{a2}},
		{"before an unknown request", store.AccessRequestFilter{Before: uuid.NewString()}, nil},
		{"before an id that is no UUID", store.AccessRequestFilter{Before: "not-a-uuid"}, nil},
	}
	for _, tc := range cases {
		got, err := f.iam.ListAccessRequests(f.ctx, tc.filter)
		if err != nil {
			f.t.Errorf("ListAccessRequests %s: %v", tc.name, err)
			continue
		}
		f.equal("ListAccessRequests "+tc.name, requestIDs(got), requestIDs(tc.want))
	}
	// Listed requests carry every field.
	got, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{Status: store.RequestPending, UserID: a.ID})
	f.must(err, "ListAccessRequests")
	if len(got) == 1 {
		f.equal("listed request", got[0], a2)
	}
}

// Newest first, ties on CreatedAt broken by ID descending, and the Before
// cursor walks the pages without gaps or repeats.
func testRequestListPages(f *fixture) {
	var all []store.AccessRequest
	for i := range 9 {
		r := f.newAccessRequest(f.createUser().ID, "viewer")
		// Three requests at each of three instants.
		r.CreatedAt = f.at(-time.Duration(i/3) * time.Minute)
		f.must(f.iam.CreateAccessRequest(f.ctx, r), "CreateAccessRequest %d", i)
		all = append(all, r)
	}
	want := sortedStrings(requestIDs(all[0:3]))
	want = append(want, sortedStrings(requestIDs(all[3:6]))...)
	want = append(want, sortedStrings(requestIDs(all[6:9]))...)
	reverse(want[0:3])
	reverse(want[3:6])
	reverse(want[6:9])

	got, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{})
	f.must(err, "ListAccessRequests")
	f.equal("ListAccessRequests order", requestIDs(got), want)

	var walked []string
	before := ""
	for page := 0; page < 10; page++ {
		got, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{Before: before, Limit: 2})
		f.must(err, "ListAccessRequests page %d", page)
		if len(got) > 2 {
			f.t.Fatalf("page %d has %d requests, limit 2", page, len(got))
		}
		if len(got) == 0 {
			break
		}
		walked = append(walked, requestIDs(got)...)
		before = got[len(got)-1].ID
	}
	f.equal("requests walked by pages", walked, want)
}

func reverse(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func testRequestListDefaultLimit(f *fixture) {
	var ids []string
	for i := range 101 {
		r := f.newAccessRequest(f.createUser().ID, "viewer")
		r.CreatedAt = f.at(-time.Duration(i) * time.Second)
		f.must(f.iam.CreateAccessRequest(f.ctx, r), "CreateAccessRequest %d", i)
		ids = append(ids, r.ID)
	}
	got, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{})
	f.must(err, "ListAccessRequests")
	if len(got) != 100 {
		f.t.Fatalf("ListAccessRequests with Limit 0 returned %d requests, want 100", len(got))
	}
	f.equal("first page", requestIDs(got), ids[:100])
	got, err = f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{Before: ids[99]})
	f.must(err, "ListAccessRequests before the 100th")
	f.equal("last page", requestIDs(got), ids[100:])
}

func testRequestDecide(f *fixture) {
	f.must(f.s.CreateRole(f.ctx, f.newRole("trader", "user")), "CreateRole")
	cases := []struct {
		status               store.AccessRequestStatus
		granted, by, comment string
	}{
		{store.RequestApproved, "trader", "user:" + uuid.NewString(), "Welcome to the desk."},
		{store.RequestDenied, "", "client:admin-bot", "Ask your manager first."},
		{store.RequestCancelled, "", "cli", ""},
	}
	for i, tc := range cases {
		u := f.createUser()
		r := f.createAccessRequest(u.ID, "user")
		at := f.at(time.Duration(i) * time.Minute)
		got, err := f.iam.DecideAccessRequest(f.ctx, r.ID, tc.status, tc.granted, tc.by, tc.comment, at)
		f.must(err, "DecideAccessRequest %s", tc.status)
		want := r
		want.Status = tc.status
		want.GrantedRole = tc.granted
		want.DecidedBy = tc.by
		want.Comment = tc.comment
		want.DecidedAt = &at
		f.equal(fmt.Sprintf("request returned by the %s decision", tc.status), got, want)
		stored, err := f.iam.GetAccessRequest(f.ctx, r.ID)
		f.must(err, "GetAccessRequest")
		f.equal(fmt.Sprintf("%s request", tc.status), stored, want)

		// Decisions are final: any second one is a conflict and changes nothing.
		for _, again := range []store.AccessRequestStatus{store.RequestApproved, store.RequestDenied, store.RequestCancelled} {
			_, err := f.iam.DecideAccessRequest(f.ctx, r.ID, again, "admin", "cli", "changed my mind", f.at(time.Hour))
			f.wantErr(err, store.ErrConflict, "%s after %s", again, tc.status)
		}
		stored, err = f.iam.GetAccessRequest(f.ctx, r.ID)
		f.must(err, "GetAccessRequest")
		f.equal(fmt.Sprintf("%s request after refused decisions", tc.status), stored, want)
	}
	// The id may be given in capitals.
	u := f.createUser()
	r := f.createAccessRequest(u.ID, "user")
	_, err := f.iam.DecideAccessRequest(f.ctx, strings.ToUpper(r.ID), store.RequestDenied, "", "cli", "", f.now)
	f.wantErr(err, nil, "DecideAccessRequest by uppercase UUID")
}

func testRequestDecideErrors(f *fixture) {
	u := f.createUser()
	r := f.createAccessRequest(u.ID, "user")
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		_, err := f.iam.DecideAccessRequest(f.ctx, id, store.RequestApproved, "user", "cli", "", f.now)
		f.wantErr(err, store.ErrNotFound, "DecideAccessRequest %q", id)
	}
	// Only approved, denied and cancelled are decisions. Which error refuses
	// the others is not settled.
	for _, status := range []store.AccessRequestStatus{store.RequestPending, "", "bogus"} {
		if _, err := f.iam.DecideAccessRequest(f.ctx, r.ID, status, "", "cli", "", f.now); err == nil {
			f.t.Errorf("DecideAccessRequest to %q succeeded, want an error", status)
		}
	}
	got, err := f.iam.GetAccessRequest(f.ctx, r.ID)
	f.must(err, "GetAccessRequest")
	f.equal("request after refused decisions", got, r)
}

// The API's approve and deny may race. Each runs the way the domain does it,
// the decision and its audit entry in one transaction: exactly one wins, the
// other gets ErrConflict, and only the winner's audit entry remains.
func testRequestConcurrentDecisions(f *fixture) {
	u := f.createUser()
	decisions := []struct {
		status store.AccessRequestStatus
		role   string
		action string
	}{
		{store.RequestApproved, "user", "access_request.approve"},
		{store.RequestDenied, "", "access_request.deny"},
	}
	for round := range 20 {
		r := f.createAccessRequest(u.ID, "user")
		errs := f.concurrently(2, func(ctx context.Context, i int) error {
			d := decisions[i]
			return store.InTx(ctx, f.s, func(ctx context.Context) error {
				if _, err := f.iam.DecideAccessRequest(ctx, r.ID, d.status, d.role, fmt.Sprintf("user:%d", i), "", f.now); err != nil {
					return err
				}
				e := f.newAuditEntry(d.action, r.ID)
				_, err := f.iam.AppendAudit(ctx, e)
				return err
			})
		})
		ok, conflicts := f.countErrors(fmt.Sprintf("round %d", round), errs, store.ErrConflict)
		if ok != 1 || conflicts != 1 {
			f.t.Fatalf("round %d: approve and deny at once: %d succeeded and %d got ErrConflict, want 1 and 1", round, ok, conflicts)
		}
		winner := 0
		if errs[0] != nil {
			winner = 1
		}
		got, err := f.iam.GetAccessRequest(f.ctx, r.ID)
		f.must(err, "GetAccessRequest")
		if got.Status != decisions[winner].status || got.DecidedBy != fmt.Sprintf("user:%d", winner) {
			f.t.Errorf("round %d: request is %s decided by %q, want %s by user:%d", round, got.Status, got.DecidedBy, decisions[winner].status, winner)
		}
		entries, err := f.iam.ListAudit(f.ctx, store.AuditFilter{TargetID: r.ID})
		f.must(err, "ListAudit")
		if len(entries) != 1 || entries[0].Action != decisions[winner].action {
			f.t.Errorf("round %d: %d audit entries for the request, want 1 %s", round, len(entries), decisions[winner].action)
		}
	}
}

// The one-pending-request rule holds under concurrency: the database, not a
// check before the insert, enforces it.
func testRequestConcurrentCreate(f *fixture) {
	const n = 10
	u := f.createUser()
	reqs := make([]store.AccessRequest, n)
	for i := range reqs {
		reqs[i] = f.newAccessRequest(u.ID, "user")
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return f.iam.CreateAccessRequest(ctx, reqs[i])
	})
	ok, conflicts := f.countErrors("CreateAccessRequest", errs, store.ErrConflict)
	if ok != 1 || conflicts != n-1 {
		f.t.Errorf("%d concurrent CreateAccessRequest for one user: %d succeeded and %d got ErrConflict, want 1 and %d", n, ok, conflicts, n-1)
	}
	list, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{UserID: u.ID})
	f.must(err, "ListAccessRequests")
	if len(list) != 1 {
		f.t.Errorf("user has %d requests after concurrent creation, want 1", len(list))
	}
}
