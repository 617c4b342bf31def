package e2e

import (
	"strings"
	"testing"
)

// TestBrowserConsoleIPRules: an administrator edits a user's IP rules and
// session limit in the console's user dialog; a refused rule is shown at
// its field, naming the line, and what was saved is in the database and in
// the dialog when it opens again.
func TestBrowserConsoleIPRules(t *testing.T) {
	ts := consoleServer(t, "")
	admin := ts.createUser(t, "admin")
	target := ts.createUser(t, "user")
	rep := runConsole(t, ts, "console-ip-rules", consolePlan{
		Scenarios: []string{"ip-rules"},
		People:    map[string]consolePerson{"admin": person(admin)},
		Values: map[string]map[string]string{"ip-rules": {
			"target": target.Username, "bad": "10.1.2.3/8", "good": "203.0.113.7\n2001:DB8::/32", "limit": "2",
		}},
	})
	var r struct {
		DenyError, DenyInvalid            string
		DenyAfter, AllowAfter, LimitAfter string
		Problems, Refused                 []string
	}
	scenario(t, rep, "ip-rules", &r)
	if !strings.Contains(r.DenyError, "Line 1 (10.1.2.3/8)") || !strings.Contains(r.DenyError, "10.0.0.0/8") || r.DenyInvalid != "true" {
		t.Errorf("refused rule shown as %q (aria-invalid %q), want its line and the network it names", r.DenyError, r.DenyInvalid)
	}
	if r.DenyAfter != "203.0.113.7/32\n2001:db8::/32" || r.AllowAfter != "" || r.LimitAfter != "2" {
		t.Errorf("dialog reopened with deny %q, allow %q, limit %q", r.DenyAfter, r.AllowAfter, r.LimitAfter)
	}
	u, err := ts.Store.GetUser(ctxT(t), target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.IPDeny) != 2 || u.IPDeny[0].String() != "203.0.113.7/32" || u.IPDeny[1].String() != "2001:db8::/32" ||
		len(u.IPAllow) != 0 || u.SessionLimit == nil || *u.SessionLimit != 2 {
		t.Errorf("stored deny %v, allow %v, session limit %v", u.IPDeny, u.IPAllow, u.SessionLimit)
	}
	if len(r.Problems) != 0 {
		t.Errorf("the pages logged problems: %v", r.Problems)
	}
	if want := "422 PUT /api/v1/users/" + target.ID + "/ip-rules"; strings.Join(r.Refused, ",") != want {
		t.Errorf("refused API calls %v, want only %s", r.Refused, want)
	}
}
