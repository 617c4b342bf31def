package admin_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/store"
)

// The usage analytics of GET /stats, on both backends: what sign-ins
// and token requests a fresh server served is what the figures report,
// once the recorder has flushed (and not before: they come from the
// usage table, not the audit log); a bad ?days= is 422 naming days.

func TestStatsUsageMemory(t *testing.T)   { testStatsUsage(t, newMemoryEnv(t)) }
func TestStatsUsagePostgres(t *testing.T) { testStatsUsage(t, newPostgresEnv(t)) }

func testStatsUsage(t *testing.T, e *env) {
	mgr := e.createUser(t, "manager")
	alice, bob := e.createUser(t, "viewer"), e.createUser(t, "viewer")
	tok := e.signIn(t, mgr)
	e.signIn(t, alice)
	e.signIn(t, alice)
	e.signIn(t, bob)
	svc := e.createClient(t, "usage-svc", func(c *store.Client) {
		c.GrantTypes = []string{"client_credentials"}
		c.Scopes = []string{"gatehouse:api"}
	})
	for range 3 {
		e.clientCredentials(t, svc)
	}

	stats := func(query string) admin.UsageView {
		t.Helper()
		r := e.do(t, http.MethodGet, "/stats"+query, tok, nil)
		want(t, r, http.StatusOK, "GET /stats"+query)
		var v admin.StatsView
		r.decode(t, &v)
		return v.Usage
	}
	if u := stats(""); u.SignIns != 0 || len(u.Clients) != 0 || len(u.TokensByGrantType) != 0 || u.ActiveUsers.Last30Days != 0 {
		t.Fatalf("before any flush the usage figures are %+v, want zeros", u)
	}
	if err := e.srv.FlushUsage(ctxT(t)); err != nil {
		t.Fatalf("flush usage: %v", err)
	}

	u := stats("")
	today := time.Now().UTC().Format(time.DateOnly)
	if u.Days != 30 || len(u.SignInsPerDay) != 30 || u.To != today || u.SignInsPerDay[29].Date != today {
		t.Fatalf("default range: %d days, %d entries, to %s (last %v); want 30 up to %s", u.Days, len(u.SignInsPerDay), u.To,
			u.SignInsPerDay[len(u.SignInsPerDay)-1], today)
	}
	if first, _ := time.Parse(time.DateOnly, u.From); first.AddDate(0, 0, 29).Format(time.DateOnly) != today || u.SignInsPerDay[0].Date != u.From {
		t.Errorf("from %s, first entry %s: not 29 days before %s", u.From, u.SignInsPerDay[0].Date, today)
	}
	// Four sign-ins by three people, all today, all to the console client.
	if u.SignIns != 4 || u.SignInsPerDay[29].Count != 4 {
		t.Errorf("sign-ins %d, today %d; want 4", u.SignIns, u.SignInsPerDay[29].Count)
	}
	if u.ActiveUsers != (admin.ActiveUsersView{Last7Days: 3, Last30Days: 3}) {
		t.Errorf("active users %+v, want 3 and 3", u.ActiveUsers)
	}
	wantClients := []admin.ClientUsageView{{ClientID: e.Console.ID, Name: e.Console.Name, SignIns: 4}}
	if !slices.Equal(u.Clients, wantClients) || e.Console.Name == "" {
		t.Errorf("clients %+v, want %+v", u.Clients, wantClients)
	}
	wantTokens := []admin.GrantTypeCountView{{GrantType: "authorization_code", Count: 4}, {GrantType: "client_credentials", Count: 3}}
	if !slices.Equal(u.TokensByGrantType, wantTokens) {
		t.Errorf("tokens %+v, want %+v", u.TokensByGrantType, wantTokens)
	}

	// More of the same adds up: the table is additive.
	e.clientCredentials(t, svc)
	if err := e.srv.FlushUsage(ctxT(t)); err != nil {
		t.Fatalf("flush usage: %v", err)
	}
	one := stats("?days=1")
	if one.Days != 1 || len(one.SignInsPerDay) != 1 || one.From != today || one.SignIns != 4 {
		t.Errorf("days=1: %+v", one)
	}
	// A tie is ordered by grant type.
	wantTokens = []admin.GrantTypeCountView{{GrantType: "authorization_code", Count: 4}, {GrantType: "client_credentials", Count: 4}}
	if got := one.TokensByGrantType; !slices.Equal(got, wantTokens) {
		t.Errorf("days=1 tokens %+v, want %+v", got, wantTokens)
	}
	if n := len(stats("?days=90").SignInsPerDay); n != 90 {
		t.Errorf("days=90: %d entries", n)
	}

	for _, days := range []string{"0", "91", "-1", "seven", "1.5"} {
		r := e.do(t, http.MethodGet, "/stats?days="+days, tok, nil)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("days=%s: status %d, want 422; %s", days, r.Status, r.Raw)
			continue
		}
		if f := r.problem(t).fields(); !slices.Equal(f, []string{"days"}) {
			t.Errorf("days=%s: fields %v, want [days]", days, f)
		}
	}
}
