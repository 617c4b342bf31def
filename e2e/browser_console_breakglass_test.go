package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TestBrowserConsoleBreakGlassAudit: a user's card shows a time-boxed role
// with its expiry; and after a break-glass account signed
// in, the console's audit log shows its login.break_glass entry with an
// "Emergency sign-in" badge (text, so that it does not rest on colour) on
// a marked row, and no other row carries the badge.
func TestBrowserConsoleBreakGlassAudit(t *testing.T) {
	ts := consoleServer(t, "")
	admin := ts.createUser(t, "admin")
	bg := ts.createUserWith(t, func(u *store.User) { u.BreakGlass = true }, "user")
	ts.newRP(t, ts.createConfidentialClient(t, nil)).signIn(t, bg)

	until := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	timed := ts.createUserWith(t, func(u *store.User) {
		u.Roles = []string{"viewer", "manager"}
		u.RoleExpiry = map[string]time.Time{"manager": until}
	})

	rep := runConsole(t, ts, "console-break-glass", consolePlan{
		Scenarios: []string{"grant-expiry", "break-glass-audit"},
		People:    map[string]consolePerson{"admin": person(admin)},
		Values:    map[string]map[string]string{"grant-expiry": {"target": timed.Username, "role": "manager"}},
	})
	var g struct {
		Roles             []string
		Datetime          string
		Problems, Refused []string
	}
	scenario(t, rep, "grant-expiry", &g)
	if len(g.Roles) != 2 || !slices.ContainsFunc(g.Roles, func(r string) bool { return strings.HasPrefix(r, "manager until ") }) || !slices.Contains(g.Roles, "viewer") {
		t.Errorf("card roles %q, want viewer and \"manager until ...\"", g.Roles)
	}
	if at, err := time.Parse(time.RFC3339, g.Datetime); err != nil || !at.Equal(until) {
		t.Errorf("the manager badge's <time datetime> %q, want %v", g.Datetime, until)
	}
	if len(g.Problems) != 0 || len(g.Refused) != 0 {
		t.Errorf("grant-expiry: problems %v, refused API calls %v", g.Problems, g.Refused)
	}

	var r struct {
		Rows, OtherRows, OtherBadges int
		Badge, Marked, RowText       string
		Problems, Refused            []string
	}
	scenario(t, rep, "break-glass-audit", &r)
	if r.Rows != 1 || r.Badge != "Emergency sign-in" || !strings.Contains(r.Marked, "alarm") {
		t.Errorf("break-glass rows %d, badge %q, row class %q: want one row, badged and marked", r.Rows, r.Badge, r.Marked)
	}
	if !strings.Contains(r.RowText, bg.Username) || !strings.Contains(r.RowText, "127.0.0.1") {
		t.Errorf("break-glass row %q, want the account and the address", r.RowText)
	}
	if r.OtherRows == 0 || r.OtherBadges != 0 {
		t.Errorf("%d other rows carry %d badges, want other rows and no badge on them", r.OtherRows, r.OtherBadges)
	}
	if len(r.Problems) != 0 || len(r.Refused) != 0 {
		t.Errorf("problems %v, refused API calls %v", r.Problems, r.Refused)
	}
}
