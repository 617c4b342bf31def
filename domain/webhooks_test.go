package domain_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// Whether any subscription is enabled is cached, so an audited write with
// none queues nothing and costs no outbox statement; the cache must never
// keep a subscription from its events: not its own creation's, not another
// instance's (heard through the change feed), not while the feed is down.
func TestWebhookTargetsCache(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	opts := domain.Options{Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8}, Now: clock.Now,
		WebhookKey: bytes.Repeat([]byte{7}, 32), CacheTTL: time.Hour}
	here, there := domain.NewService(st, opts), domain.NewService(st, opts) // two instances, one database
	n := 0
	touch := func(svc *domain.Service) {
		t.Helper()
		n++
		if _, err := svc.CreateRole(ctx, domain.CLIActor(), store.Role{Name: fmt.Sprintf("persona-%d", n)}); err != nil {
			t.Fatal(err)
		}
	}
	queued := func(id string) int {
		t.Helper()
		ds, err := st.ListWebhookDeliveries(ctx, id, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}

	touch(here) // caches "none"
	w, _, err := there.CreateWebhook(ctx, domain.CLIActor(), domain.WebhookInput{URL: "https://hooks.example/in", EventTypes: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := queued(w.ID); got != 1 {
		t.Fatalf("after its creation the subscription has %d deliveries, want its own webhook.create", got)
	}
	touch(there)
	if got := queued(w.ID); got != 2 {
		t.Fatalf("a write on the creating instance queued %d in all, want 2", got)
	}

	// The other instance heard nothing yet: its cache still says none,
	// which is why the feed's notice matters.
	touch(here)
	if got := queued(w.ID); got != 2 {
		t.Fatalf("deliveries = %d before the notice; the cache was not consulted", got)
	}
	here.Invalidate(store.ChangeEvent{Kind: store.ChangeWebhook, ID: w.ID})
	touch(here)
	if got := queued(w.ID); got != 3 {
		t.Fatalf("deliveries = %d after the change feed's notice, want 3", got)
	}

	// Disabled everywhere: nothing queued, and the cache learns it.
	off := false
	if _, err := there.UpdateWebhook(ctx, domain.CLIActor(), w.ID, domain.WebhookPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	here.Invalidate(store.ChangeEvent{Kind: store.ChangeWebhook, ID: w.ID})
	touch(here)
	if got := queued(w.ID); got != 3 {
		t.Fatalf("a disabled subscription got a delivery: %d", got)
	}

	// While the feed is down the cache is not trusted: a subscription
	// enabled elsewhere is seen at once; after ChangeAll the cache serves
	// again.
	here.Invalidate(store.ChangeEvent{Kind: store.ChangeFeedLost})
	on := true
	if _, err := there.UpdateWebhook(ctx, domain.CLIActor(), w.ID, domain.WebhookPatch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	before := queued(w.ID)
	touch(here)
	if got := queued(w.ID); got != before+1 {
		t.Fatalf("with the feed down, deliveries %d -> %d, want one more", before, got)
	}
	here.Invalidate(store.ChangeEvent{Kind: store.ChangeAll})
	touch(here)
	if got := queued(w.ID); got != before+2 {
		t.Fatalf("after the feed's return, deliveries %d -> %d, want two more", before, got)
	}
}
