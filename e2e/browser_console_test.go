package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// The console's browser tests (e2e/browser/console.mjs): one Chromium runs
// every scenario in turn, each in a fresh browser context, against one
// server; the test then checks each scenario's report, the database and
// the relying party.

// consoleTimeout bounds the whole console.mjs run.
const consoleTimeout = 3 * time.Minute

type consolePerson struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type consolePlan struct {
	Issuer    string                   `json:"issuer"`
	Scenarios []string                 `json:"scenarios"`
	People    map[string]consolePerson `json:"people"`
	// Values scenarios need (a relying party's authorization URL, names
	// to create), by scenario.
	Values map[string]map[string]string `json:"values"`
}

type consoleReport struct {
	OK             bool                       `json:"ok"`
	Error          string                     `json:"error"`
	BrowserVersion string                     `json:"browserVersion"`
	Scenarios      map[string]json.RawMessage `json:"scenarios"`
	Screenshots    []string                   `json:"screenshots"`
}

// scenarioResult is what every scenario reports beside its own fields.
type scenarioResult struct {
	OK       bool     `json:"ok"`
	Error    string   `json:"error"`
	FailedAt string   `json:"failedAt"`
	Text     string   `json:"text"`
	Problems []string `json:"problems"`
	MS       int      `json:"ms"`
}

// consoleServer starts a server on a database of its own: the console's
// client is registered at every server start for that server's issuer,
// and the package's other servers (other ports) would keep adding theirs.
func consoleServer(t *testing.T) *testServer {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	return startServer(t, func(c *config.Config) { c.DatabaseURL = dbURL })
}

// runConsole runs console.mjs with plan and returns its report; a scenario
// that failed fails the test with what the page showed.
func runConsole(t *testing.T, ts *testServer, plan consolePlan) consoleReport {
	t.Helper()
	node, chromium := requireBrowser(t)
	plan.Issuer = ts.URL
	for _, p := range plan.People {
		ts.secret(p.Password)
	}
	raw, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("GATEHOUSE_E2E_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(browserDir(t), "screenshots")
	}
	shots = filepath.Join(shots, "console")
	ctx, cancel := context.WithTimeout(t.Context(), consoleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "console.mjs")
	cmd.Dir = browserDir(t)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium, "GATEHOUSE_CONSOLE_PLAN="+string(raw), "GATEHOUSE_E2E_SCREENSHOTS="+shots)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep consoleReport
	if err := json.Unmarshal([]byte(lastLine(stdout.String())), &rep); err != nil {
		t.Fatalf("console.mjs printed no report (exit: %v, timeout: %v): %v\nstdout:\n%s\nstderr:\n%s",
			runErr, errors.Is(ctx.Err(), context.DeadlineExceeded), err, snippet(stdout.String()), snippet(stderr.String()))
	}
	for _, p := range plan.People {
		if strings.Contains(stdout.String(), p.Password) || strings.Contains(stderr.String(), p.Password) {
			t.Errorf("console.mjs printed a password")
		}
	}
	if rep.Error != "" {
		t.Fatalf("console.mjs: %s\nstderr:\n%s", rep.Error, snippet(stderr.String()))
	}
	for _, name := range plan.Scenarios {
		var res scenarioResult
		if err := json.Unmarshal(rep.Scenarios[name], &res); err != nil {
			t.Fatalf("scenario %s: no result (%v)", name, err)
		}
		t.Logf("scenario %s: ok %v in %d ms", name, res.OK, res.MS)
		if !res.OK {
			t.Errorf("scenario %s failed at %s: %s\nproblems: %v\npage text:\n%s", name, res.FailedAt, res.Error, res.Problems, res.Text)
		}
	}
	if runErr != nil && !t.Failed() {
		t.Fatalf("console.mjs exited with %v\nstderr:\n%s", runErr, snippet(stderr.String()))
	}
	t.Logf("console.mjs: Chromium %s, %d screenshots in %s", rep.BrowserVersion, len(rep.Screenshots), shots)
	return rep
}

// scenario decodes one scenario's own report fields into v.
func scenario(t *testing.T, rep consoleReport, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(rep.Scenarios[name], v); err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
}

func person(u testUser) consolePerson {
	return consolePerson{Username: u.Username, Password: u.Password}
}

// TestBrowserConsole: the console in a real browser, scenario by scenario.
func TestBrowserConsole(t *testing.T) {
	ts := consoleServer(t)
	admin := ts.createUser(t, "admin")
	plan := consolePlan{
		Scenarios: []string{"signin"},
		People:    map[string]consolePerson{"admin": person(admin)},
	}
	rep := runConsole(t, ts, plan)

	// signin: an unauthenticated visit goes to the login page and returns
	// to the console; every view of an admin is in the navigation; no
	// token in web storage; a reload signs in silently; sign-out ends the
	// gatehouse session.
	var signin struct {
		LoginPage, AfterLogin, AfterReload, AfterSignOut string
		Nav                                              []string
		Storage                                          struct{ Local, Session int }
		Problems                                         []string
	}
	scenario(t, rep, "signin", &signin)
	if signin.LoginPage != "/login" || signin.AfterLogin != "/console/" || signin.AfterReload != "/console/users" {
		t.Errorf("signin: login page %q, after login %q, after reload %q", signin.LoginPage, signin.AfterLogin, signin.AfterReload)
	}
	wantNav := []string{"Dashboard", "Users", "Access requests", "Roles", "Groups", "Clients", "API tokens", "Audit log", "Account"}
	if strings.Join(signin.Nav, ",") != strings.Join(wantNav, ",") {
		t.Errorf("signin: navigation %q, want %q", signin.Nav, wantNav)
	}
	if signin.Storage.Local != 0 || signin.Storage.Session != 0 {
		t.Errorf("signin: web storage holds %d local and %d session items; tokens must stay in memory", signin.Storage.Local, signin.Storage.Session)
	}
	if signin.AfterSignOut != "/console/" {
		t.Errorf("signin: after sign-out at %q", signin.AfterSignOut)
	}
	if len(signin.Problems) != 0 {
		t.Errorf("signin: the page logged errors: %v", signin.Problems)
	}
	sessions, err := ts.Store.ListLoginSessions(ctxT(t), admin.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Errorf("%d login sessions left after sign-out, want 0", len(sessions))
	}
}
