package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
)

// checkUsageFigures compares the usage figures the tour read off the
// dashboard (30 days) with what the usage table holds: the headings, the
// active users, a row per client (by name) and per grant type with its
// count in text, the total and the chart's text alternative.
func checkUsageFigures(t *testing.T, ts *testServer, headings []string, active, clients, tokens [][2]string, total, chart string) {
	t.Helper()
	st, err := domain.NewService(ts.Store, domain.Options{}).UsageStats(ctxT(t), domain.DefaultUsageDays)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Active users", "Sign-ins per day", "Sign-ins per client", "Tokens issued by grant type"}; !slices.Equal(headings, want) {
		t.Errorf("usage headings %q, want %q", headings, want)
	}
	wantActive := [][2]string{{"active users, last 7 days", fmt.Sprint(st.ActiveUsers7)}, {"active users, last 30 days", fmt.Sprint(st.ActiveUsers30)}}
	if !slices.Equal(active, wantActive) || st.ActiveUsers30 < 3 {
		t.Errorf("active users shown %q, the table counts %q (want at least 3 people from the scenarios)", active, wantActive)
	}
	var wantClients [][2]string
	var names []string
	for _, c := range st.Clients {
		name := c.Name
		if name == "" {
			name = c.ClientID
		}
		wantClients = append(wantClients, [2]string{name, fmt.Sprint(c.SignIns)})
		names = append(names, name)
	}
	if !slices.Equal(clients, wantClients) {
		t.Errorf("clients shown %q, the table has %q", clients, wantClients)
	}
	// The scenarios signed in to the relying parties of the test, by name.
	for _, want := range []string{"Desk reports", "Expense tracker"} {
		if !slices.Contains(names, want) {
			t.Errorf("the clients %q lack %s", names, want)
		}
	}
	var wantTokens [][2]string
	for _, k := range st.Tokens {
		wantTokens = append(wantTokens, [2]string{k.Key, fmt.Sprint(k.Count)})
	}
	if !slices.Equal(tokens, wantTokens) || !slices.ContainsFunc(wantTokens, func(r [2]string) bool { return r[0] == "authorization_code" }) {
		t.Errorf("tokens shown %q, the table has %q (with authorization_code)", tokens, wantTokens)
	}
	if want := fmt.Sprintf("%d sign-ins in 30 days", st.TotalSignIns); !strings.HasPrefix(total, want) || st.TotalSignIns == 0 {
		t.Errorf("usage total %q, want %q", total, want)
	}
	from, to := st.From.Format("2006-01-02"), st.From.AddDate(0, 0, st.Days-1).Format("2006-01-02")
	if want := fmt.Sprintf("Sign-ins per UTC day, %s to %s: ", from, to); !strings.HasPrefix(chart, want) || strings.Count(chart, ":") != 31 {
		t.Errorf("chart's text alternative %q, want %q and 30 days", chart, want)
	}
}
