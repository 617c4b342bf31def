package storetest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var webhookTests = []subtest{
	{"SubscriptionCRUD", testWebhookCRUD},
	{"Patterns", testWebhookPatterns},
	{"EnqueueMatching", testWebhookEnqueueMatching},
	{"EnqueueInTransaction", testWebhookEnqueueInTx},
	{"Bounded", testWebhookBounded},
	{"LeaseAndRetry", testWebhookLeaseAndRetry},
	{"FinishAndGiveUp", testWebhookFinish},
	{"ConcurrentClaimsDisjoint", testWebhookConcurrentClaims},
	{"LogPagesAndPrune", testWebhookLogAndPrune},
}

func (f *fixture) newWebhook(types ...string) store.WebhookSubscription {
	return store.WebhookSubscription{ID: uuid.NewString(), URL: "https://hooks.example/" + uuid.NewString(),
		EventTypes: types, Description: "receiver", Enabled: true, SecretEnc: []byte{1, 2, 3, 4},
		CreatedAt: f.now, UpdatedAt: f.now}
}

func (f *fixture) createWebhook(types ...string) store.WebhookSubscription {
	f.t.Helper()
	w := f.newWebhook(types...)
	f.must(f.s.CreateWebhook(f.ctx, w), "CreateWebhook")
	return w
}

// event is an event of action at f.now, with a body naming it.
func (f *fixture) event(action string) store.WebhookEvent {
	id := "evt_" + uuid.NewString()
	return store.WebhookEvent{ID: id, Type: action, Patterns: store.WebhookPatterns(action),
		Payload: []byte(`{"type":"` + action + `","id":"` + id + `"}`), At: f.now}
}

func (f *fixture) enqueue(ctx context.Context, ev store.WebhookEvent, maxPending int) (int, int) {
	f.t.Helper()
	q, d, err := f.s.EnqueueWebhookEvent(ctx, ev, maxPending)
	f.must(err, "EnqueueWebhookEvent %s", ev.Type)
	return q, d
}

func testWebhookCRUD(f *fixture) {
	w := f.createWebhook("user.*", "client.create")
	f.wantErr(f.s.CreateWebhook(f.ctx, w), store.ErrConflict, "CreateWebhook with a taken id")
	got, err := f.s.GetWebhook(f.ctx, w.ID)
	f.must(err, "GetWebhook")
	f.equal("read back", got, w)
	_, err = f.s.GetWebhook(f.ctx, uuid.NewString())
	f.wantErr(err, store.ErrNotFound, "GetWebhook unknown")
	_, err = f.s.GetWebhook(f.ctx, "not-a-uuid")
	f.wantErr(err, store.ErrNotFound, "GetWebhook bad id")

	w.URL, w.EventTypes, w.Enabled, w.SecretEnc, w.UpdatedAt = "http://127.0.0.1:9/x", []string{"*"}, false, []byte{9}, f.at(time.Hour)
	f.must(f.s.UpdateWebhook(f.ctx, w), "UpdateWebhook")
	got, err = f.s.GetWebhook(f.ctx, w.ID)
	f.must(err, "GetWebhook after update")
	f.equal("updated", got, w)
	f.wantErr(f.s.UpdateWebhook(f.ctx, f.newWebhook("*")), store.ErrNotFound, "UpdateWebhook unknown")

	other := f.createWebhook("*")
	list, err := f.s.ListWebhooks(f.ctx)
	f.must(err, "ListWebhooks")
	f.equal("listed", len(list), 2)
	if len(list) == 2 && list[0].ID > list[1].ID {
		f.t.Errorf("ListWebhooks not ordered by id: %s, %s", list[0].ID, list[1].ID)
	}
	f.must(f.s.DeleteWebhook(f.ctx, other.ID), "DeleteWebhook")
	f.wantErr(f.s.DeleteWebhook(f.ctx, other.ID), store.ErrNotFound, "DeleteWebhook twice")
	list, err = f.s.ListWebhooks(f.ctx)
	f.must(err, "ListWebhooks after delete")
	f.equal("listed after delete", list, []store.WebhookSubscription{w})
}

func testWebhookPatterns(f *fixture) {
	f.equal("patterns", store.WebhookPatterns("group.member.add"),
		[]string{"*", "group.*", "group.member.*", "group.member.add"})
	f.equal("patterns of one segment", store.WebhookPatterns("logout"), []string{"*", "logout"})
	for _, c := range []struct {
		types  []string
		action string
		want   bool
	}{
		{[]string{"*"}, "user.create", true},
		{[]string{"user.*"}, "user.create", true},
		{[]string{"user.*"}, "users.create", false},
		{[]string{"user.*"}, "user", false},
		{[]string{"group.member.*"}, "group.member.add", true},
		{[]string{"group.*"}, "group.member.add", true},
		{[]string{"user.create"}, "user.create", true},
		{[]string{"user.create"}, "user.created", false},
	} {
		f.equal("WebhookMatches("+c.action+")", store.WebhookMatches(c.types, c.action), c.want)
	}
}

// testWebhookEnqueueMatching: one delivery per enabled subscription one of
// whose types matches, none for disabled or unmatched ones.
func testWebhookEnqueueMatching(f *fixture) {
	all := f.createWebhook("*")
	users := f.createWebhook("user.*")
	exact := f.createWebhook("user.create", "role.delete")
	f.createWebhook("client.*", "user.created")
	off := f.newWebhook("*")
	off.Enabled = false
	f.must(f.s.CreateWebhook(f.ctx, off), "CreateWebhook disabled")

	ev := f.event("user.create")
	q, d := f.enqueue(f.ctx, ev, 0)
	f.equal("queued, dropped", []int{q, d}, []int{3, 0})
	q, d = f.enqueue(f.ctx, f.event("token.create"), 0)
	f.equal("queued, dropped of token.create", []int{q, d}, []int{1, 0})
	n, err := f.s.CountPendingWebhookDeliveries(f.ctx)
	f.must(err, "CountPendingWebhookDeliveries")
	f.equal("pending", n, 4)

	for _, w := range []store.WebhookSubscription{users, exact} {
		log, err := f.s.ListWebhookDeliveries(f.ctx, w.ID, 0, 0)
		f.must(err, "ListWebhookDeliveries")
		if len(log) != 1 {
			f.t.Fatalf("deliveries of %v: %d, want 1", w.EventTypes, len(log))
		}
		want := store.WebhookDelivery{ID: log[0].ID, SubscriptionID: w.ID, EventID: ev.ID, EventType: "user.create",
			Payload: ev.Payload, State: store.WebhookPending, NextAttemptAt: f.now, CreatedAt: f.now}
		f.equal("delivery", log[0], want)
	}
	log, err := f.s.ListWebhookDeliveries(f.ctx, all.ID, 0, 0)
	f.must(err, "ListWebhookDeliveries *")
	f.equal("deliveries of *", len(log), 2)
	if len(log) == 2 && log[0].ID <= log[1].ID {
		f.t.Errorf("delivery log not newest first: %d, %d", log[0].ID, log[1].ID)
	}
	log, err = f.s.ListWebhookDeliveries(f.ctx, off.ID, 0, 0)
	f.must(err, "ListWebhookDeliveries disabled")
	f.equal("deliveries of a disabled subscription", log, []store.WebhookDelivery{})

	// The subscription's deliveries go with it.
	f.must(f.s.DeleteWebhook(f.ctx, all.ID), "DeleteWebhook")
	n, err = f.s.CountPendingWebhookDeliveries(f.ctx)
	f.must(err, "CountPendingWebhookDeliveries after delete")
	f.equal("pending after delete", n, 2)
}

// testWebhookEnqueueInTx: the deliveries are part of the audited change's
// transaction.
func testWebhookEnqueueInTx(f *fixture) {
	f.createWebhook("*")
	errRollback := errors.New("roll back")
	err := store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		if q, _ := f.enqueue(ctx, f.event("user.create"), 0); q != 1 {
			f.t.Errorf("queued in tx: %d, want 1", q)
		}
		return errRollback
	})
	f.wantErr(err, errRollback, "the rolled-back enqueue")
	n, err := f.s.CountPendingWebhookDeliveries(f.ctx)
	f.must(err, "CountPendingWebhookDeliveries")
	f.equal("pending after a rolled-back enqueue", n, 0)

	f.must(store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		_, _, err := f.s.EnqueueWebhookEvent(ctx, f.event("user.create"), 0)
		return err
	}), "committed enqueue")
	got, err := f.s.ClaimWebhookDeliveries(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries")
	f.equal("claimed after commit", len(got), 1)
}

// testWebhookBounded: past maxPending, deliveries are dropped and counted;
// finished ones do not count.
func testWebhookBounded(f *fixture) {
	f.createWebhook("*")
	f.createWebhook("user.*")
	q, d := f.enqueue(f.ctx, f.event("user.create"), 3)
	f.equal("first event", []int{q, d}, []int{2, 0})
	q, d = f.enqueue(f.ctx, f.event("user.update"), 3)
	f.equal("second event: one fits", []int{q, d}, []int{1, 1})
	q, d = f.enqueue(f.ctx, f.event("user.update"), 3)
	f.equal("third event: full", []int{q, d}, []int{0, 2})
	n, err := f.s.CountPendingWebhookDeliveries(f.ctx)
	f.must(err, "CountPendingWebhookDeliveries")
	f.equal("pending when full", n, 3)
	claimed, err := f.s.ClaimWebhookDeliveries(f.ctx, f.now, time.Minute, 1)
	f.must(err, "ClaimWebhookDeliveries")
	f.must(f.s.FinishWebhookDelivery(f.ctx, claimed[0].ID, store.WebhookDelivered, f.now, 200, ""), "FinishWebhookDelivery")
	q, d = f.enqueue(f.ctx, f.event("role.create"), 3)
	f.equal("once there is room", []int{q, d}, []int{1, 0})
	q, d = f.enqueue(f.ctx, f.event("role.create"), 0)
	f.equal("unbounded", []int{q, d}, []int{1, 0})
}

// testWebhookLeaseAndRetry: a claim hides the row for its lease and counts
// an attempt; a retry schedules it with the status and error kept.
func testWebhookLeaseAndRetry(f *fixture) {
	f.createWebhook("*")
	f.enqueue(f.ctx, f.event("user.create"), 0)
	early, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(-time.Second), time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries before due")
	f.equal("claimed before due", len(early), 0)
	first, err := f.s.ClaimWebhookDeliveries(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries")
	if len(first) != 1 {
		f.t.Fatalf("claimed %d, want 1", len(first))
	}
	f.equal("attempts of the first claim", first[0].Attempts, 1)
	f.equal("lease of the first claim", first[0].NextAttemptAt, f.at(time.Minute))
	again, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(30*time.Second), time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries within the lease")
	f.equal("claimed within the lease", len(again), 0)
	// The worker died: the lease ends and another claims it.
	back, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(time.Minute), time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries after the lease")
	f.equal("claimed after the lease", len(back), 1)

	id := first[0].ID
	f.must(f.s.RetryWebhookDelivery(f.ctx, id, f.at(10*time.Minute), 503, "receiver answered HTTP 503"), "RetryWebhookDelivery")
	none, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(9*time.Minute), time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries before the retry")
	f.equal("claimed before the retry", len(none), 0)
	retried, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(10*time.Minute), time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries at the retry")
	want := first[0]
	want.Attempts, want.NextAttemptAt, want.LastStatus, want.LastError = 3, f.at(11*time.Minute), 503, "receiver answered HTTP 503"
	f.equal("retried", retried, []store.WebhookDelivery{want})
	zero, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(time.Hour), time.Minute, 0)
	f.must(err, "ClaimWebhookDeliveries with limit 0")
	f.equal("limit 0", len(zero), 0)
	f.wantErr(f.s.RetryWebhookDelivery(f.ctx, id+1000, f.now, 0, ""), store.ErrNotFound, "RetryWebhookDelivery unknown")
}

// testWebhookFinish: delivered and given-up rows stay in the log, are never
// claimed again and cannot be finished twice.
func testWebhookFinish(f *fixture) {
	w := f.createWebhook("*")
	f.enqueue(f.ctx, f.event("user.create"), 0)
	f.enqueue(f.ctx, f.event("user.delete"), 0)
	claimed, err := f.s.ClaimWebhookDeliveries(f.ctx, f.now, time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries")
	if len(claimed) != 2 {
		f.t.Fatalf("claimed %d, want 2", len(claimed))
	}
	f.must(f.s.FinishWebhookDelivery(f.ctx, claimed[0].ID, store.WebhookDelivered, f.at(time.Second), 204, ""), "delivered")
	f.must(f.s.FinishWebhookDelivery(f.ctx, claimed[1].ID, store.WebhookFailed, f.at(2*time.Second), 500, "receiver answered HTTP 500"), "given up")
	f.wantErr(f.s.FinishWebhookDelivery(f.ctx, claimed[0].ID, store.WebhookFailed, f.now, 0, ""), store.ErrNotFound, "finish twice")
	f.wantErr(f.s.RetryWebhookDelivery(f.ctx, claimed[1].ID, f.now, 0, ""), store.ErrNotFound, "retry a given-up one")
	later, err := f.s.ClaimWebhookDeliveries(f.ctx, f.at(time.Hour), time.Minute, 10)
	f.must(err, "ClaimWebhookDeliveries later")
	f.equal("claimed after finishing", len(later), 0)
	n, err := f.s.CountPendingWebhookDeliveries(f.ctx)
	f.must(err, "CountPendingWebhookDeliveries")
	f.equal("pending", n, 0)

	log, err := f.s.ListWebhookDeliveries(f.ctx, w.ID, 0, 0)
	f.must(err, "ListWebhookDeliveries")
	d0, d1 := claimed[0], claimed[1]
	d0.State, d0.FinishedAt, d0.LastStatus = store.WebhookDelivered, f.atPtr(time.Second), 204
	d1.State, d1.FinishedAt, d1.LastStatus, d1.LastError = store.WebhookFailed, f.atPtr(2*time.Second), 500, "receiver answered HTTP 500"
	f.equal("log", log, []store.WebhookDelivery{d1, d0})
}

// testWebhookConcurrentClaims: workers claiming at once never get the same
// delivery, and between them get every due one.
func testWebhookConcurrentClaims(f *fixture) {
	const total, workers = 30, 3
	f.createWebhook("*")
	for range total {
		f.enqueue(f.ctx, f.event("user.update"), 0)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	errs := f.concurrently(workers, func(ctx context.Context, _ int) error {
		for {
			var batch []store.WebhookDelivery
			err := store.InTx(ctx, f.s, func(ctx context.Context) error {
				var err error
				batch, err = f.s.ClaimWebhookDeliveries(ctx, f.now, time.Hour, 3)
				if err == nil && len(batch) > 0 {
					time.Sleep(5 * time.Millisecond)
				}
				return err
			})
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				return nil
			}
			mu.Lock()
			for _, d := range batch {
				seen[d.ID]++
			}
			mu.Unlock()
		}
	})
	for i, err := range errs {
		f.must(err, "worker #%d", i)
	}
	f.equal("distinct deliveries claimed", len(seen), total)
	for id, n := range seen {
		if n != 1 {
			f.t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
}

// testWebhookLogAndPrune: the log pages by id, and pruning removes only
// finished rows older than the cut, pending ones never.
func testWebhookLogAndPrune(f *fixture) {
	w := f.createWebhook("*")
	for range 5 {
		f.enqueue(f.ctx, f.event("user.update"), 0)
	}
	page1, err := f.s.ListWebhookDeliveries(f.ctx, w.ID, 0, 2)
	f.must(err, "ListWebhookDeliveries page 1")
	if len(page1) != 2 {
		f.t.Fatalf("page 1: %d rows, want 2", len(page1))
	}
	page2, err := f.s.ListWebhookDeliveries(f.ctx, w.ID, page1[1].ID, 10)
	f.must(err, "ListWebhookDeliveries page 2")
	f.equal("page 2", len(page2), 3)
	if len(page2) > 0 && page2[0].ID >= page1[1].ID {
		f.t.Errorf("page 2 starts at %d, not below %d", page2[0].ID, page1[1].ID)
	}
	claimed, err := f.s.ClaimWebhookDeliveries(f.ctx, f.now, time.Minute, 3)
	f.must(err, "ClaimWebhookDeliveries")
	for i, d := range claimed {
		f.must(f.s.FinishWebhookDelivery(f.ctx, d.ID, store.WebhookDelivered, f.at(time.Duration(i)*time.Hour), 200, ""), "finish")
	}
	n, err := f.s.PruneWebhookDeliveries(f.ctx, f.at(90*time.Minute), 10)
	f.must(err, "PruneWebhookDeliveries")
	f.equal("pruned", n, 2)
	log, err := f.s.ListWebhookDeliveries(f.ctx, w.ID, 0, 0)
	f.must(err, "ListWebhookDeliveries after prune")
	f.equal("left after prune", len(log), 3)
	n, err = f.s.PruneWebhookDeliveries(f.ctx, f.at(100*time.Hour), 10)
	f.must(err, "PruneWebhookDeliveries all finished")
	f.equal("pruned the rest of the finished", n, 1)
}
