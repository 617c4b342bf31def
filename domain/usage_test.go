package domain_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// countingUsage keeps what it was told to count.
type countingUsage struct {
	mu     sync.Mutex
	counts []string
}

func (c *countingUsage) Count(metric, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = append(c.counts, metric+"/"+key)
}

func (c *countingUsage) taken() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = nil
	return out
}

// TestSignInsAreCountedForUsage: a successful sign-in counts one sign-in
// and its user as active; a failed or refused one counts nothing.
func TestSignInsAreCountedForUsage(t *testing.T) {
	e := newEnv(t)
	counter := &countingUsage{}
	svc := domain.NewService(e.store, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8}, Now: e.clock.Now, Usage: counter,
	})
	u := e.user("alice", "user")
	pending := e.user("waiting")
	if _, err := svc.Authenticate(e.ctx, "alice", goodPassword, "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if got, want := counter.taken(), []string{"sign_in/", "active_user/" + u.ID}; !slices.Equal(got, want) {
		t.Fatalf("counted %v, want %v", got, want)
	}
	if _, err := svc.Authenticate(e.ctx, "alice", "wrong password here", "198.51.100.7"); err == nil {
		t.Fatal("a wrong password signed in")
	}
	if _, err := svc.Authenticate(e.ctx, "nobody", goodPassword, "198.51.100.7"); err == nil {
		t.Fatal("an unknown user signed in")
	}
	if got := counter.taken(); len(got) != 0 {
		t.Fatalf("failed sign-ins counted %v", got)
	}
	// A pending user signs in (to request access): it is a sign-in, as
	// the audit log's login.success says.
	if _, err := svc.Authenticate(e.ctx, "waiting", goodPassword, "198.51.100.7"); err != nil {
		t.Fatal(err)
	}
	if got, want := counter.taken(), []string{"sign_in/", "active_user/" + pending.ID}; !slices.Equal(got, want) {
		t.Fatalf("pending sign-in counted %v, want %v", got, want)
	}
}

// TestUsageStats reads the figures back from counters in the store: per
// day over the range (zeros included), the top clients with their names,
// active users over 7 and 30 days whatever the range, tokens by grant
// type; a range outside 1..90 days is refused naming days.
func TestUsageStats(t *testing.T) {
	e := newEnv(t) // today is 2030-01-02
	today := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	ago := func(n int) time.Time { return today.AddDate(0, 0, -n) }
	if err := e.store.CreateClient(e.ctx, store.Client{ID: "web", Name: "Web app", CreatedAt: today, UpdatedAt: today}); err != nil {
		t.Fatal(err)
	}
	counts := []store.UsageCount{
		{Day: ago(0), Metric: store.UsageSignIns, Count: 3},
		{Day: ago(2), Metric: store.UsageSignIns, Count: 2},
		{Day: ago(6), Metric: store.UsageSignIns, Count: 1},
		{Day: ago(7), Metric: store.UsageSignIns, Count: 50}, // outside a 7-day range
		{Day: ago(0), Metric: store.UsageActiveUsers, Key: "u1", Count: 2},
		{Day: ago(1), Metric: store.UsageActiveUsers, Key: "u1", Count: 1},
		{Day: ago(6), Metric: store.UsageActiveUsers, Key: "u2", Count: 1},
		{Day: ago(7), Metric: store.UsageActiveUsers, Key: "u3", Count: 1},
		{Day: ago(29), Metric: store.UsageActiveUsers, Key: "u4", Count: 1},
		{Day: ago(30), Metric: store.UsageActiveUsers, Key: "u5", Count: 1}, // outside 30 days
		{Day: ago(0), Metric: store.UsageClientSignIns, Key: "web", Count: 4},
		{Day: ago(3), Metric: store.UsageClientSignIns, Key: "web", Count: 1},
		{Day: ago(1), Metric: store.UsageClientSignIns, Key: "gone", Count: 5},
		{Day: ago(1), Metric: store.UsageClientSignIns, Key: "alpha", Count: 5},
		{Day: ago(0), Metric: store.UsageTokens, Key: "client_credentials", Count: 7},
		{Day: ago(5), Metric: store.UsageTokens, Key: "authorization_code", Count: 2},
		{Day: ago(5), Metric: store.UsageTokens, Key: "refresh_token", Count: 2},
		{Day: ago(8), Metric: store.UsageTokens, Key: "refresh_token", Count: 100},
	}
	// Eleven more clients, one sign-in each: past the top ten.
	for i := range 11 {
		counts = append(counts, store.UsageCount{Day: ago(0), Metric: store.UsageClientSignIns, Key: fmt.Sprintf("z%02d", i), Count: 1})
	}
	if err := e.store.AddUsage(e.ctx, counts); err != nil {
		t.Fatal(err)
	}

	got, err := e.svc.UsageStats(e.ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got.Days != 7 || !got.From.Equal(ago(6)) || len(got.SignIns) != 7 {
		t.Fatalf("range: %d days from %v, %d entries", got.Days, got.From, len(got.SignIns))
	}
	wantDays := []int{1, 0, 0, 0, 2, 0, 3}
	for i, d := range got.SignIns {
		if !d.Day.Equal(ago(6-i)) || d.Count != wantDays[i] {
			t.Errorf("day %d = %v %d, want %v %d", i, d.Day, d.Count, ago(6-i), wantDays[i])
		}
	}
	if got.TotalSignIns != 6 {
		t.Errorf("total %d, want 6", got.TotalSignIns)
	}
	if got.ActiveUsers7 != 2 || got.ActiveUsers30 != 4 {
		t.Errorf("active users %d over 7 days, %d over 30; want 2 and 4", got.ActiveUsers7, got.ActiveUsers30)
	}
	if len(got.Clients) != domain.UsageTopClients {
		t.Fatalf("%d clients, want the top %d: %+v", len(got.Clients), domain.UsageTopClients, got.Clients)
	}
	wantTop := []domain.ClientUsage{{ClientID: "alpha", SignIns: 5}, {ClientID: "gone", SignIns: 5}, {ClientID: "web", Name: "Web app", SignIns: 5},
		{ClientID: "z00", SignIns: 1}}
	if !slices.Equal(got.Clients[:4], wantTop) || got.Clients[9].ClientID != "z06" {
		t.Errorf("clients %+v, want %+v ... z06", got.Clients, wantTop)
	}
	wantTokens := []domain.KeyCount{{Key: "client_credentials", Count: 7}, {Key: "authorization_code", Count: 2}, {Key: "refresh_token", Count: 2}}
	if !slices.Equal(got.Tokens, wantTokens) {
		t.Errorf("tokens %+v, want %+v", got.Tokens, wantTokens)
	}

	def, err := e.svc.UsageStats(e.ctx, domain.DefaultUsageDays)
	if err != nil {
		t.Fatal(err)
	}
	if def.Days != domain.DefaultUsageDays || len(def.SignIns) != 30 || def.TotalSignIns != 56 || def.ActiveUsers30 != 4 {
		t.Errorf("default range: %d days, %d entries, %d sign-ins, %d active", def.Days, len(def.SignIns), def.TotalSignIns, def.ActiveUsers30)
	}
	if n := def.Tokens[0]; n != (domain.KeyCount{Key: "refresh_token", Count: 102}) {
		t.Errorf("tokens over 30 days start with %+v", n)
	}

	for _, days := range []int{-1, 0, 91, 1000} {
		_, err := e.svc.UsageStats(e.ctx, days)
		if f := fieldsOf(t, err); !slices.Equal(f, []string{"days"}) {
			t.Errorf("days=%d: fields %v (%v), want [days]", days, f, err)
		}
	}
	if _, err := e.svc.UsageStats(e.ctx, 90); err != nil {
		t.Errorf("days=90: %v", err)
	}
}
