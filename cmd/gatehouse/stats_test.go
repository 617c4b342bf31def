package main

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/store"
)

// gatehouse stats prints what /api/v1/stats answers, from the usage table
// a server fills, and refuses a range outside 1..90 naming the flag's value.
func TestStats(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	e.ok(nil, "users", "create", "--username", "alice", "--email", "alice@example.com", "--password", "correct horse battery", "--role", "user")
	e.ok(nil, "clients", "create", "--id", "web", "--name", "Web app", "--redirect-uri", "https://app.example/cb",
		"--grant-type", "authorization_code", "--scope", "openid")
	today := store.UsageDay(time.Now())
	err := st.AddUsage(context.Background(), []store.UsageCount{
		{Day: today, Metric: store.UsageSignIns, Count: 3},
		{Day: today, Metric: store.UsageActiveUsers, Key: "u1", Count: 2},
		{Day: today, Metric: store.UsageActiveUsers, Key: "u2", Count: 1},
		{Day: today, Metric: store.UsageClientSignIns, Key: "web", Count: 3},
		{Day: today, Metric: store.UsageTokens, Key: "client_credentials", Count: 40},
		{Day: today.AddDate(0, 0, -20), Metric: store.UsageSignIns, Count: 5},
	})
	if err != nil {
		t.Fatal(err)
	}

	var v admin.StatsView
	e.ok(&v, "stats", "--days", "7")
	u := v.Usage
	if v.Users.Total != 1 || u.Days != 7 || u.SignIns != 3 || len(u.SignInsPerDay) != 7 {
		t.Fatalf("stats --days 7 = users %+v, usage %+v; want 1 user, 3 sign-ins over 7 days", v.Users, u)
	}
	if len(u.Clients) != 1 || u.Clients[0].ClientID != "web" || u.Clients[0].Name != "Web app" || u.Clients[0].SignIns != 3 {
		t.Errorf("clients = %+v, want web (Web app) with 3", u.Clients)
	}
	if u.ActiveUsers.Last7Days != 2 || u.ActiveUsers.Last30Days != 2 {
		t.Errorf("active users = %+v, want 2 and 2", u.ActiveUsers)
	}
	if len(u.TokensByGrantType) != 1 || u.TokensByGrantType[0].GrantType != "client_credentials" || u.TokensByGrantType[0].Count != 40 {
		t.Errorf("tokens = %+v, want 40 client_credentials", u.TokensByGrantType)
	}
	e.ok(&v, "stats")
	if v.Usage.Days != 30 || v.Usage.SignIns != 8 {
		t.Errorf("stats (30 days) = %+v, want 8 sign-ins", v.Usage)
	}
	e.fails([]string{"days"}, "stats", "--days", "91")
}
