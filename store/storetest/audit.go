package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var auditTests = []subtest{
	{"AppendList", testAuditAppendList},
	{"Filters", testAuditFilters},
	{"Pages", testAuditPages},
	{"DefaultLimit", testAuditDefaultLimit},
	{"ChainDigests", testAuditChainDigests},
	{"ChainRollback", testAuditChainRollback},
	{"ChainConcurrent", testAuditChainConcurrent},
}

func auditIDs(es []store.AuditEntry) []int64 {
	ids := []int64{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func testAuditAppendList(f *fixture) {
	full := f.newAuditEntry("user.update", "0b1d2c3e-0000-4000-8000-000000000001")
	full.ID = 999_999 // ignored
	bare := store.AuditEntry{
		At:        f.at(time.Second),
		ActorType: store.ActorAnonymous,
		Action:    "login.failure",
	}
	ipv6 := f.newAuditEntry("logout", "")
	ipv6.ActorType, ipv6.ActorID = store.ActorCLI, ""
	ipv6.IPAddress = "2001:db8::1"
	ipv6.Act = "user:0b1d2c3e-0000-4000-8000-0000000000aa"
	ipv6.Changes = json.RawMessage(`{"roles": {"before": ["viewer"], "after": ["user", "viewer"]}, "n": {"before": 1.5, "after": 12345678901234567890}}`)

	var appended []store.AuditEntry
	var last int64
	head, err := f.iam.AuditChainHead(f.ctx)
	f.must(err, "AuditChainHead")
	prev := head.Digest
	for i, e := range []store.AuditEntry{full, bare, ipv6} {
		e.Digest = []byte("ignored")
		id, err := f.iam.AppendAudit(f.ctx, e)
		f.must(err, "AppendAudit %d", i)
		if id <= last {
			f.t.Errorf("AppendAudit %d returned id %d, want more than %d", i, id, last)
		}
		last = id
		e.ID = id
		// The digest chains the entry as stored: at microseconds, UTC.
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Digest, err = store.AuditDigest(prev, e)
		f.must(err, "AuditDigest %d", i)
		prev = e.Digest
		appended = append(appended, e)
	}

	got, err := f.iam.ListAudit(f.ctx, store.AuditFilter{})
	f.must(err, "ListAudit")
	if len(got) != 3 {
		f.t.Fatalf("ListAudit returned %d entries, want 3", len(got))
	}
	// Newest first; every field as appended, Changes as JSON, none as nil.
	for i, want := range []store.AuditEntry{appended[2], appended[1], appended[0]} {
		f.equal(fmt.Sprintf("entry %d", i), got[i], want)
	}
}

func testAuditFilters(f *fixture) {
	// Times at whole microseconds, so that the bounds are exact on every
	// backend.
	t0 := f.now.Truncate(time.Microsecond)
	type spec struct {
		actor, action, target string
		at                    time.Duration
	}
	specs := []spec{
		{"alice", "user.create", "u1", 0},                      // 0
		{"alice", "user.update", "u1", time.Second},            // 1
		{"bob", "users.export", "u2", 2 * time.Second},         // 2
		{"bob", "user", "u2", 3 * time.Second},                 // 3
		{"carol", "group.member.add", "g1", 4 * time.Second},   // 4
		{"carol", "group.create", "g1", 5 * time.Second},       // 5
		{"alice", "login.success", "alice", 6 * time.Second},   // 6
		{"", "axb.create", "u1", 7 * time.Second},              // 7
		{"alice", "a_b.create", "u3", 8 * time.Second},         // 8
		{"dave", "token.revoke", "t1", 9 * time.Second},        // 9
		{"alice", "user.delete", "u1", 9*time.Second + 1000},   // 10: one microsecond later
		{"alice", "USER.create", "u1", 10 * time.Second},       // 11
		{"erin", "user.create", "u1", 10*time.Second + 500000}, // 12
	}
	e := make([]store.AuditEntry, len(specs))
	for i, s := range specs {
		entry := f.newAuditEntry(s.action, s.target)
		entry.ActorID, entry.At = s.actor, t0.Add(s.at)
		e[i] = f.appendAudit(entry)
	}
	// ids lists the entries by index, newest first.
	ids := func(idx ...int) []int64 {
		out := []int64{}
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out, e[idx[i]].ID)
		}
		return out
	}
	at := func(d time.Duration) *time.Time {
		v := t0.Add(d)
		return &v
	}
	cases := []struct {
		name   string
		filter store.AuditFilter
		want   []int64
	}{
		{"no filter", store.AuditFilter{}, ids(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)},
		{"actor", store.AuditFilter{ActorID: "alice"}, ids(0, 1, 6, 8, 10, 11)},
		{"actor is exact", store.AuditFilter{ActorID: "ali"}, ids()},
		{"action exact", store.AuditFilter{Action: "user.create"}, ids(0, 12)},
		{"action without dot is exact", store.AuditFilter{Action: "user"}, ids(3)},
		{"action prefix", store.AuditFilter{Action: "user."}, ids(0, 1, 10, 12)},
		{"action prefix of two segments", store.AuditFilter{Action: "group.member."}, ids(4)},
		{"action prefix with LIKE wildcard _ is literal", store.AuditFilter{Action: "a_b."}, ids(8)},
		{"action prefix with LIKE wildcard % is literal", store.AuditFilter{Action: "%."}, ids()},
		{"action exact with LIKE wildcard is literal", store.AuditFilter{Action: "user_create"}, ids()},
		{"action that matches nothing", store.AuditFilter{Action: "nothing."}, ids()},
		{"target", store.AuditFilter{TargetID: "u1"}, ids(0, 1, 7, 10, 11, 12)},
		{"target is exact", store.AuditFilter{TargetID: "u"}, ids()},
		{"since is inclusive", store.AuditFilter{Since: at(9 * time.Second)}, ids(9, 10, 11, 12)},
		{"until is exclusive", store.AuditFilter{Until: at(2 * time.Second)}, ids(0, 1)},
		{"since and until", store.AuditFilter{Since: at(time.Second), Until: at(4 * time.Second)}, ids(1, 2, 3)},
		{"one microsecond apart", store.AuditFilter{Since: at(9*time.Second + 1000), Until: at(9*time.Second + 2000)}, ids(10)},
		{"empty window", store.AuditFilter{Since: at(4 * time.Second), Until: at(4 * time.Second)}, ids()},
		{"before", store.AuditFilter{Before: e[3].ID}, ids(0, 1, 2)},
		{"before the first", store.AuditFilter{Before: e[0].ID}, ids()},
		{"limit", store.AuditFilter{Limit: 2}, ids(11, 12)},
		{"actor, action prefix and target", store.AuditFilter{ActorID: "alice", Action: "user.", TargetID: "u1"}, ids(0, 1, 10)},
		{"actor, since and limit", store.AuditFilter{ActorID: "alice", Since: at(time.Second), Limit: 3}, ids(8, 10, 11)},
		{"action prefix, before and limit", store.AuditFilter{Action: "user.", Before: e[12].ID, Limit: 2}, ids(1, 10)},
	}
	for _, tc := range cases {
		got, err := f.iam.ListAudit(f.ctx, tc.filter)
		if err != nil {
			f.t.Errorf("ListAudit %s: %v", tc.name, err)
			continue
		}
		f.equal("ListAudit "+tc.name, auditIDs(got), tc.want)
	}
}

// The Before cursor walks the log newest first without gaps or repeats.
func testAuditPages(f *fixture) {
	var want []int64
	for i := range 7 {
		// At goes backwards while ids go forwards: the order is the ids'.
		e := f.newAuditEntry(fmt.Sprintf("user.step%d", i), "")
		e.At = f.at(-time.Duration(i) * time.Minute)
		want = append([]int64{f.appendAudit(e).ID}, want...)
	}
	var walked []int64
	var before int64
	for page := 0; page < 10; page++ {
		got, err := f.iam.ListAudit(f.ctx, store.AuditFilter{Before: before, Limit: 3})
		f.must(err, "ListAudit page %d", page)
		if len(got) > 3 {
			f.t.Fatalf("page %d has %d entries, limit 3", page, len(got))
		}
		if len(got) == 0 {
			break
		}
		walked = append(walked, auditIDs(got)...)
		before = got[len(got)-1].ID
	}
	f.equal("entries walked by pages", walked, want)
}

func testAuditDefaultLimit(f *fixture) {
	var ids []int64
	for i := range 101 {
		ids = append(ids, f.appendAudit(f.newAuditEntry(fmt.Sprintf("user.n%d", i), "")).ID)
	}
	got, err := f.iam.ListAudit(f.ctx, store.AuditFilter{})
	f.must(err, "ListAudit")
	if len(got) != 100 {
		f.t.Fatalf("ListAudit with Limit 0 returned %d entries, want 100", len(got))
	}
	if got[0].ID != ids[100] || got[99].ID != ids[1] {
		f.t.Errorf("ListAudit first/last = %d/%d, want %d/%d", got[0].ID, got[99].ID, ids[100], ids[1])
	}
}

// testAuditChainDigests: a fixed sequence of entries gets fixed digests on
// every backend (pinned here, so memory and PostgreSQL agree byte for
// byte), ids follow the head without gaps, and the chain verifies.
func testAuditChainDigests(f *fixture) {
	head, err := f.iam.AuditChainHead(f.ctx)
	f.must(err, "AuditChainHead")
	if head.LastID != head.FirstID-1 || head.Digest != nil {
		f.t.Fatalf("head of an empty log = %+v", head)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
	entries := []store.AuditEntry{
		{At: at, ActorType: store.ActorUser, ActorID: "5f0c1f8e-8a47-4f43-9d0b-3f1a3c1e2d10", Action: "user.update",
			TargetType: "user", TargetID: "0b1d2c3e-0000-4000-8000-000000000001", IPAddress: "192.0.2.10",
			Changes: json.RawMessage(`{"roles": {"before": ["viewer"], "after": ["user", "viewer"]}, "n": {"before": 1.50, "after": 12345678901234567890}, "é<": "\u00e9"}`)},
		{At: at.Add(time.Second), ActorType: store.ActorAnonymous, Action: "login.failure"},
		{At: at.Add(2 * time.Second), ActorType: store.ActorCLI, Action: "token.revoke", Act: "user:x", Changes: json.RawMessage(`null`)},
	}
	var got []string
	for i, e := range entries {
		id, err := f.iam.AppendAudit(f.ctx, e)
		f.must(err, "AppendAudit %d", i)
		if id != head.FirstID+int64(i) {
			f.t.Errorf("entry %d got id %d, want %d (the head's plus one)", i, id, head.FirstID+int64(i))
		}
	}
	chained, err := f.iam.ListAuditChain(f.ctx, 0, 10)
	f.must(err, "ListAuditChain")
	for _, e := range chained {
		got = append(got, fmt.Sprintf("%x", e.Digest))
	}
	pinned := []string{auditPin0, auditPin1, auditPin2}
	f.equal("digests", got, pinned)
	head, err = f.iam.AuditChainHead(f.ctx)
	f.must(err, "AuditChainHead")
	if fmt.Sprintf("%x", head.Digest) != auditPin2 || head.LastID != head.FirstID+2 {
		f.t.Errorf("head after three appends = %+v", head)
	}
	v, err := store.VerifyAuditChain(f.ctx, f.iam, 2)
	f.must(err, "VerifyAuditChain")
	if v.Break != nil || v.Checked != 3 || v.Head != auditPin2 {
		f.t.Errorf("VerifyAuditChain = %+v (break %+v), want 3 checked, no break", v, v.Break)
	}
}

// The digests of testAuditChainDigests' entries, ids 1 to 3.
const (
	auditPin0 = "558f8d87afe7dcb9cca7eff8121359e84babc46d44fadf8a10777e9c5c09dace"
	auditPin1 = "931f233c16d720ff2d2938438e546e06de1a1897f428241e5e23ff086bedaa7a"
	auditPin2 = "88b86a38d5da5254e55253347df5b11cbeb3f73a7c06120aeadaddd3f5b30359"
)

// testAuditChainRollback: a rolled-back append leaves no gap: the next
// entry takes its id and links to the entry before it.
func testAuditChainRollback(f *fixture) {
	first := f.appendAudit(f.newAuditEntry("user.create", "u1"))
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	rolled, err := f.iam.AppendAudit(tx, f.newAuditEntry("user.update", "u1"))
	f.must(err, "AppendAudit in tx")
	f.must(f.s.Rollback(tx), "Rollback")
	next := f.appendAudit(f.newAuditEntry("user.delete", "u1"))
	if rolled != first.ID+1 || next.ID != first.ID+1 {
		f.t.Errorf("ids: first %d, rolled back %d, next %d; want the next to take the rolled-back id", first.ID, rolled, next.ID)
	}
	v, err := store.VerifyAuditChain(f.ctx, f.iam, 10)
	f.must(err, "VerifyAuditChain")
	if v.Break != nil || v.Checked != 2 {
		f.t.Errorf("VerifyAuditChain after a rollback = %+v (break %+v)", v, v.Break)
	}
}

// testAuditChainConcurrent: appends from many goroutines, some inside
// transactions, form one unbroken chain, also as seen by a verification
// running meanwhile.
func testAuditChainConcurrent(f *fixture) {
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := f.newAuditEntry("user.update", fmt.Sprintf("w%d-%d", w, i))
				if w%2 == 0 {
					_, err := f.iam.AppendAudit(f.ctx, e)
					errs <- err
					continue
				}
				errs <- store.InTx(f.ctx, f.s, func(ctx context.Context) error {
					_, err := f.iam.AppendAudit(ctx, e)
					return err
				})
			}
		}()
	}
	// Verifying while they append finds no break: entries appended after
	// it read the head are not taken for insertions.
	done := make(chan struct{})
	verified := make(chan []string, 1)
	go func() {
		var breaks []string
		for {
			select {
			case <-done:
				verified <- breaks
				return
			default:
			}
			v, err := store.VerifyAuditChain(f.ctx, f.iam, 3)
			switch {
			case err != nil:
				breaks = append(breaks, err.Error())
			case v.Break != nil:
				breaks = append(breaks, fmt.Sprintf("%+v", *v.Break))
			}
		}
	}()
	wg.Wait()
	close(done)
	if breaks := <-verified; len(breaks) > 0 {
		f.t.Errorf("VerifyAuditChain during concurrent appends reported %v", breaks)
	}
	close(errs)
	for err := range errs {
		f.must(err, "concurrent AppendAudit")
	}
	v, err := store.VerifyAuditChain(f.ctx, f.iam, 7)
	f.must(err, "VerifyAuditChain")
	if v.Break != nil || v.Checked != writers*each {
		f.t.Errorf("VerifyAuditChain after concurrent appends = %+v (break %+v), want %d checked", v, v.Break, writers*each)
	}
}
