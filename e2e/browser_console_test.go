package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
)

// The console's browser tests (e2e/browser/console.mjs): one Chromium runs
// every scenario in turn, each in a fresh browser context, against one
// server; the test then checks each scenario's report, the database and
// the relying party.

// consoleTimeout bounds the whole console.mjs run: nine scenarios take
// about three minutes on a loaded two-core machine, so the bound only
// stops a run that hangs.
const consoleTimeout = 5 * time.Minute

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
	// Hooks is the base URL of consoleHooks: a scenario POSTs to
	// <hooks>/<name> to have the test act (through the API) at that point.
	Hooks string `json:"hooks,omitempty"`
}

// consoleHooks serves the plan's hooks: POST /<name> runs hooks[name] in
// the test process while the scenario waits, answering 204, or 500 with
// the error (which also fails the test).
func consoleHooks(t *testing.T, hooks map[string]func(context.Context) error) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		run, ok := hooks[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if err := run(r.Context()); err != nil {
			t.Errorf("hook %s: %v", r.URL.Path, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
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
func consoleServer(t *testing.T, issuerPath string) *testServer {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	return startServer(t, func(c *config.Config) {
		c.DatabaseURL = dbURL
		c.Issuer += issuerPath
		// The usage counts reach the table when a scenario has the test
		// flush them (hook flush-usage), so what the dashboard shows is
		// what the table holds when the test reads it.
		c.Usage.FlushInterval = time.Hour
	})
}

// runConsole runs console.mjs with plan, its screenshots going to dir under
// e2e/browser/screenshots (or GATEHOUSE_E2E_SCREENSHOTS), and returns its
// report; a scenario
// that failed fails the test with what the page showed.
func runConsole(t *testing.T, ts *testServer, dir string, plan consolePlan) consoleReport {
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
	shots = filepath.Join(shots, dir)
	// Only this run's pictures: a stale failure shot would mislead.
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
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

// TestBrowserConsole: the console in a real browser, scenario by scenario
// (see console.mjs for what each does in the browser).
func TestBrowserConsole(t *testing.T) {
	ts := consoleServer(t, "")
	ctx := ctxT(t)
	trader := store.Role{Name: "trader", Description: "Trades on the desk.", Parent: "user",
		SuggestedGoals: []string{"Reduce settlement risk", "Grow the desk's book"}}
	if err := ts.Store.CreateRole(ctx, trader); err != nil {
		t.Fatal(err)
	}
	// A custom permission: the role editor offers it beside the built-in
	// ones, as the API lists them.
	if err := ts.Store.CreatePermission(ctx, store.Permission{Name: "reports:export", Description: "Export the desk reports."}); err != nil {
		t.Fatal(err)
	}
	admin := ts.createUser(t, "admin")
	manager := ts.createUser(t, "manager")
	viewer := ts.createUser(t, "viewer")
	// An app's preferences: the account page edits the string and keeps
	// the number it cannot show as a string untouched.
	user := ts.createUserWith(t, func(u *store.User) {
		u.Preferences = json.RawMessage(`{"theme":"dark","zoom":1.25}`)
	}, "user")
	target := ts.createUser(t, "user")
	impersonated := ts.createUser(t, "user")
	lockedUser := ts.createUserWith(t, func(u *store.User) { u.Status = store.StatusLocked }, "user")
	busy := ts.createUserWith(t, func(u *store.User) {
		u.Goals = []string{"One", "Two", "Three", "Four", "Five"}
	}, "user")
	pending := ts.createUserWith(t, func(u *store.User) { u.Status = store.StatusPending })
	desk := store.Group{ID: uuid.NewString(), Name: "Rates desk", Description: "Traders of the rates desk.", Roles: []string{"trader"}}
	if err := ts.Store.CreateGroup(ctx, desk); err != nil {
		t.Fatal(err)
	}
	if err := ts.Store.AddGroupMember(ctx, desk.ID, busy.ID); err != nil {
		t.Fatal(err)
	}

	// The relying party the pending person signs in to, twice.
	cb := newRPCallback(t)
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Name = "Desk reports"
		c.RedirectURIs = []string{cb.redirectURI()}
	})
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "profile", "roles")
	first, second := rp.newAuthRequest(t, false), rp.newAuthRequest(t, false)

	// More users than one page of the API holds, so that the dashboard's
	// counts can only be right if they come from /stats.
	bulkHash, err := ts.passwords.Hash("pw-" + randomHex(t, 12))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 110 {
		name := fmt.Sprintf("zz-bulk-%03d", i)
		st := store.StatusActive
		if i%10 == 0 {
			st = store.StatusDisabled
		}
		if err := ts.Store.CreateUser(ctx, store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com",
			PasswordHash: bulkHash, Status: st, Roles: []string{"user"}}); err != nil {
			t.Fatal(err)
		}
	}

	// A third-party app the user allowed (the consent is remembered) and
	// holds a refresh token of; the token scenario revokes it.
	expenses := ts.createConfidentialClient(t, func(c *store.Client) { c.Name = "Expense tracker" })
	expensesRP := ts.newRP(t, expenses)
	expensesTok, _, _ := expensesRP.signIn(t, user)
	if expensesTok.RefreshToken == "" || !ts.isActive(t, expensesTok.RefreshToken, authOf(expenses)) {
		t.Fatal("the app's refresh token is not active after the sign-in")
	}
	if _, err := ts.Store.GetConsent(ctx, user.ID, expenses.ID, time.Now()); err != nil {
		t.Fatalf("the consent to %s was not remembered: %v", expenses.ID, err)
	}

	// App access rules (appaccess): a decided request for access to an app,
	// which the tour reads in the queue's decided list as "access to <app>".
	deskApp := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Name = "Desk blotter"
		c.Access = store.ClientAccess{Roles: []string{"manager"}}
	})
	appAsker := ts.createUser(t, "user")
	appReq := store.AccessRequest{ID: uuid.NewString(), UserID: appAsker.ID, RequestedRole: "manager", Purpose: "I trade.",
		Status: store.RequestPending, CreatedAt: time.Now(), ClientID: deskApp.ID}
	if err := ts.Store.CreateAccessRequest(ctx, appReq); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.DecideAccessRequest(ctx, appReq.ID, store.RequestApproved, "manager", "cli", "", time.Now()); err != nil {
		t.Fatal(err)
	}

	newUser := "nadia-" + randomHex(t, 4)
	newPassword := "pw-" + randomHex(t, 12)
	// A second administrator changes the user the first one is editing,
	// between the Edit dialog's opening and its Save.
	otherAdmin := apiTokenFor(t, ts, ts.createUser(t, "admin"))
	ts.secret(otherAdmin)
	hooks := consoleHooks(t, map[string]func(context.Context) error{
		"other-admin-edits": func(ctx context.Context) error {
			u, err := ts.Store.GetUserByUsername(ctx, newUser)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPatch, ts.endpoint("/api/v1/users/"+u.ID), strings.NewReader(`{"department":"Risk"}`))
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+otherAdmin)
			req.Header.Set("Content-Type", "application/merge-patch+json")
			resp, err := httpClient().Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("PATCH by the other admin: status %d", resp.StatusCode)
			}
			return nil
		},
		// Usage analytics: the counts of the scenarios so far reach the
		// table (the interval is an hour here, so nothing else moves it).
		"flush-usage": func(ctx context.Context) error { return ts.Server.FlushUsage(ctx) },
	})
	plan := consolePlan{
		Hooks:     hooks,
		Scenarios: []string{"create-user", "taken-username", "access-request", "manager", "impersonate", "viewer", "token", "failure", "tour"},
		People: map[string]consolePerson{
			"admin": person(admin), "manager": person(manager), "viewer": person(viewer),
			"user": person(user), "pending": person(pending),
		},
		Values: map[string]map[string]string{
			"create-user": {"username": newUser, "password": newPassword, "role": "trader",
				"suggested": "Reduce settlement risk", "custom": "Automate the month-end report", "busy": busy.Username},
			"taken-username": {"taken": target.Username, "email": "fresh-" + randomHex(t, 4) + "@example.com",
				"password": "pw-" + randomHex(t, 12), "free": "free-" + randomHex(t, 4)},
			"access-request": {"first": first.URL, "second": second.URL, "redirect": cb.redirectURI(),
				"purpose": "I reconcile the desk's trades.", "comment": "Welcome to the desk"},
			"manager":     {"target": target.Username},
			"impersonate": {"target": impersonated.Username, "inactive": lockedUser.Username},
			"token": {"name": "nightly report", "fullName": "Renamed Person", "app": expenses.Name,
				"prefName": "language", "prefValue": "fr-CA", "prefRemove": "theme",
				"again": expensesRP.newAuthRequest(t, false).URL},
			"tour": {"role": "analyst", "client": "risk-reports", "app": "Desk blotter"},
		},
	}
	ts.secret(newPassword)
	rep := runConsole(t, ts, "console", plan)

	t.Run("create-user", func(t *testing.T) {
		var r struct {
			Card, EditDepartment, Conflict    string
			CardRoles, CardGoals, CardButtons []string
			EditedGoals                       []string
			Searches, BusyGoals               []string
			Listed                            int
			Address                           string
			Problems, Refused                 []string
		}
		scenario(t, rep, "create-user", &r)
		if !strings.Contains(r.Card, newUser) || !strings.Contains(r.Card, "active") {
			t.Errorf("card of the new user:\n%s\nwant its username and the status word active", r.Card)
		}
		if strings.Join(r.CardRoles, ",") != "trader" {
			t.Errorf("card roles %q, want trader", r.CardRoles)
		}
		if strings.Join(r.CardGoals, "|") != "Reduce settlement risk|Automate the month-end report" {
			t.Errorf("card goals %q", r.CardGoals)
		}
		for _, want := range []string{"Edit", "Lock", "Delete"} {
			if !contains(r.CardButtons, want) {
				t.Errorf("an admin's card buttons %q lack %s", r.CardButtons, want)
			}
		}
		u, err := ts.Store.GetUserByUsername(ctxT(t), newUser)
		if err != nil {
			t.Fatalf("the created user is not in the database: %v", err)
		}
		// Created with two goals, then edited: the department changed and
		// the custom goal removed; then the other admin's department
		// (Risk) stood against the console's later save with the old ETag.
		if u.FullName != "Nadia Trader" || u.Department != "Risk" || u.Status != store.StatusActive ||
			strings.Join(u.Roles, ",") != "trader" || strings.Join(u.Goals, "|") != "Reduce settlement risk" {
			t.Errorf("stored user: %+v", u)
		}
		if r.EditDepartment != "Markets" || strings.Join(r.EditedGoals, "|") != "Reduce settlement risk" {
			t.Errorf("edit dialog showed department %q; goals after the edit %q", r.EditDepartment, r.EditedGoals)
		}
		created, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: u.ID, Action: "user.create", Limit: 5})
		if err != nil || len(created) != 1 || !strings.Contains(string(created[0].Changes), "Automate the month-end report") {
			t.Errorf("user.create audit entry %+v (%v): want the custom goal in it", created, err)
		}
		// Four goals shown at most three, with the count of the rest.
		if strings.Join(r.BusyGoals, "|") != "One|Two|Three|+2 more" {
			t.Errorf("goals of a user with five: %q, want the first three and +2 more", r.BusyGoals)
		}
		if !strings.Contains(r.Conflict, "Someone else changed this") {
			t.Errorf("saving over the other admin's change showed %q, want the conflict message", r.Conflict)
		}
		if len(r.Searches) != 1 || r.Searches[0] != busy.Username || r.Listed != 1 {
			t.Errorf("typing %q made the searches %q (want one, debounced) and listed %d users", busy.Username, r.Searches, r.Listed)
		}
		if r.Address != "?q="+busy.Username {
			t.Errorf("address after the search %q: the filters should be in it", r.Address)
		}
		if want := "412 PATCH /api/v1/users/" + u.ID; strings.Join(r.Refused, ",") != want {
			t.Errorf("refused API calls %q, want only the stale save: %s", r.Refused, want)
		}
		noProblems(t, r.Problems, nil)
	})

	t.Run("taken-username", func(t *testing.T) {
		var r struct {
			UsernameInvalid, UsernameError, UsernameInvalidAfter, EmailInvalid, EmailError, FocusBack, Wrapped string
			Focused, FirstFocus                                                                                bool
			Problems, Refused                                                                                  []string
		}
		scenario(t, rep, "taken-username", &r)
		if r.UsernameInvalid != "true" || !strings.Contains(r.UsernameError, "already taken") || !r.Focused {
			t.Errorf("taken username: aria-invalid %q, description %q, focused %v", r.UsernameInvalid, r.UsernameError, r.Focused)
		}
		if r.UsernameInvalidAfter != "" || r.EmailInvalid != "true" || r.EmailError == "" {
			t.Errorf("invalid email: username aria-invalid %q, email aria-invalid %q, description %q", r.UsernameInvalidAfter, r.EmailInvalid, r.EmailError)
		}
		if !r.FirstFocus || r.Wrapped != "Save" {
			t.Errorf("dialog focus: on the first field at open %v; Shift+Tab twice from it lands on %q, want Save", r.FirstFocus, r.Wrapped)
		}
		if r.FocusBack != "Create user" {
			t.Errorf("after Escape the focus is on %q, want the Create user button", r.FocusBack)
		}
		if _, err := ts.Store.GetUserByEmail(ctxT(t), plan.Values["taken-username"]["email"]); err == nil {
			t.Error("a refused user was stored")
		}
		want := []string{"409 POST /api/v1/users", "422 POST /api/v1/users"}
		if strings.Join(r.Refused, ",") != strings.Join(want, ",") {
			t.Errorf("refused API calls %q, want %q", r.Refused, want)
		}
		noProblems(t, r.Problems, nil)
	})

	t.Run("access-request", func(t *testing.T) {
		var r struct {
			BadgeBefore                                bool
			Badge, BadgeDescription, Item, ApproveRole string
			Decided                                    string
			Problems, Refused                          []string
		}
		scenario(t, rep, "access-request", &r)
		if r.BadgeBefore || r.Badge != "1" || r.BadgeDescription != "1 pending" {
			t.Errorf("badge: shown before %v, then %q described %q", r.BadgeBefore, r.Badge, r.BadgeDescription)
		}
		for _, want := range []string{pending.Username, "user", "I reconcile the desk's trades."} {
			if !strings.Contains(r.Item, want) {
				t.Errorf("queue item lacks %q:\n%s", want, r.Item)
			}
		}
		if r.ApproveRole != "user" {
			t.Errorf("the approve dialog offered %q, want the requested role", r.ApproveRole)
		}
		for _, want := range []string{pending.Username, "approved", admin.Username, "Welcome to the desk"} {
			if !strings.Contains(r.Decided, want) {
				t.Errorf("decided row lacks %q:\n%s", want, r.Decided)
			}
		}
		reqs, err := ts.Store.ListAccessRequests(ctxT(t), store.AccessRequestFilter{UserID: pending.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) != 1 || reqs[0].Status != store.RequestApproved || reqs[0].GrantedRole != "user" || reqs[0].DecidedBy != "user:"+admin.ID {
			t.Fatalf("stored requests: %+v", reqs)
		}
		// The next sign-in at the relying party gets a code, and the ID
		// token carries the granted role.
		var code string
		for _, q := range cb.received() {
			if q.Get("state") == second.State {
				code = q.Get("code")
			}
			if q.Get("state") == first.State {
				t.Errorf("the relying party got an answer to the first request while the person was pending: %v", q)
			}
		}
		if code == "" {
			t.Fatalf("no code for the second sign-in; callbacks: %v", cb.received())
		}
		ts.secret(code)
		tok := rp.exchange(t, code, second)
		idt := rp.verifyIDToken(t, tok, second.Nonce)
		var claims struct {
			Roles []string `json:"roles"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Subject != pending.ID || !contains(claims.Roles, "user") {
			t.Errorf("ID token sub %q roles %q, want %s with the role user", idt.Subject, claims.Roles, pending.ID)
		}
		noProblems(t, r.Problems, r.Refused)
	})

	t.Run("manager", func(t *testing.T) {
		var r struct {
			Nav, CardButtons, DeleteButtons   []string
			CreateUser, CreateRole, RoleEdits int
			Problems, Refused                 []string
		}
		scenario(t, rep, "manager", &r)
		wantNav := []string{"Dashboard", "Users", "Access requests", "Roles", "Groups", "API tokens", "Audit log", "Account"}
		if strings.Join(r.Nav, ",") != strings.Join(wantNav, ",") {
			t.Errorf("manager navigation %q, want %q", r.Nav, wantNav)
		}
		if r.CreateUser != 0 || contains(r.CardButtons, "Edit") || contains(r.CardButtons, "Impersonate") || !contains(r.CardButtons, "Delete") || !contains(r.CardButtons, "Lock") {
			t.Errorf("manager: Create user shown %d times, card buttons %q", r.CreateUser, r.CardButtons)
		}
		if strings.Join(r.DeleteButtons, ",") != "Close,Disable,Cancel" {
			t.Errorf("manager's delete dialog buttons %q, want Disable and Cancel (no Delete permanently)", r.DeleteButtons)
		}
		if r.CreateRole != 0 || r.RoleEdits != 0 {
			t.Errorf("manager sees Create role %d and Edit %d times on Roles", r.CreateRole, r.RoleEdits)
		}
		noProblems(t, r.Problems, r.Refused)
	})

	t.Run("impersonate", func(t *testing.T) {
		var r struct {
			CardButtons, InactiveButtons []string
			Title, Token, Note           string
			Problems, Refused            []string
		}
		scenario(t, rep, "impersonate", &r)
		ts.secret(r.Token)
		if !contains(r.CardButtons, "Impersonate") || contains(r.InactiveButtons, "Impersonate") || !contains(r.InactiveButtons, "Unlock") {
			t.Errorf("Impersonate on the active user's card %q, on the locked user's %q: want it on the first only", r.CardButtons, r.InactiveButtons)
		}
		if !strings.Contains(r.Note, impersonated.Username) || !strings.Contains(r.Note, "audited") {
			t.Errorf("dialog note %q", r.Note)
		}
		// The token the console showed acts as the user through the API,
		// and the impersonation was audited as the admin's.
		if me := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", r.Token, nil); me.Status != http.StatusOK || me.str("id") != impersonated.ID {
			t.Errorf("GET /users/me with the console's impersonation token: %d %s", me.Status, me.Raw)
		}
		starts, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: impersonated.ID, Action: "impersonation.start", Limit: 5})
		if err != nil || len(starts) != 1 || starts[0].ActorID != admin.ID {
			t.Errorf("impersonation.start entries %+v (%v), want one by the admin %s", starts, err, admin.ID)
		}
		noProblems(t, r.Problems, r.Refused)
	})

	t.Run("viewer", func(t *testing.T) {
		var r struct {
			Address           string
			Nav, Sections     []string
			Problems, Refused []string
		}
		scenario(t, rep, "viewer", &r)
		if r.Address != "/account/" || strings.Join(r.Nav, ",") != "Account" {
			t.Errorf("viewer: at %q with navigation %q, want only Account", r.Address, r.Nav)
		}
		for _, want := range []string{"Profile", "Password", "Sessions", "API tokens"} {
			if !contains(r.Sections, want) {
				t.Errorf("viewer's account sections %q lack %s", r.Sections, want)
			}
		}
		noProblems(t, r.Problems, r.Refused)
	})

	t.Run("token", func(t *testing.T) {
		var r struct {
			Nav, Sections     []string
			SessionRevokes    int
			PrefInvalid       string
			PrefError         string
			ShownOnce         bool
			Copy              int
			Token             string
			Before, After     int
			Apps              []string
			AppsAfter         string
			AskedAgain        bool
			SignedOut         string
			Problems, Refused []string
		}
		scenario(t, rep, "token", &r)
		ts.secret(r.Token)
		if strings.Join(r.Nav, ",") != "Account" {
			t.Errorf("a user's navigation %q, want only Account", r.Nav)
		}
		for _, want := range []string{"Profile", "Password", "Sessions", "API tokens", "Request another role"} {
			if !contains(r.Sections, want) {
				t.Errorf("account sections %q lack %s", r.Sections, want)
			}
		}
		if r.SessionRevokes < 1 || !r.ShownOnce || r.Copy != 1 || !strings.HasPrefix(r.Token, "gh_") {
			t.Errorf("sessions with Revoke %d, shown-once text %v, Copy %d, token %.6q", r.SessionRevokes, r.ShownOnce, r.Copy, r.Token)
		}
		if r.Before != http.StatusOK || r.After != http.StatusUnauthorized {
			t.Errorf("the token answered %d before and %d after its revocation, want 200 then 401", r.Before, r.After)
		}
		if got := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", r.Token, nil); got.Status != http.StatusUnauthorized {
			t.Errorf("the revoked token answers %d, want 401", got.Status)
		}
		u, err := ts.Store.GetUser(ctxT(t), user.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.FullName != "Renamed Person" {
			t.Errorf("full name %q after the profile save", u.FullName)
		}
		// Preferences: a too-long value was refused at its field, then the
		// added one saved, the removed one gone and the number kept.
		if r.PrefInvalid != "true" || !strings.Contains(r.PrefError, "at most") {
			t.Errorf("a too-long preference: aria-invalid %q, described by %q; want the API's size error at the field", r.PrefInvalid, r.PrefError)
		}
		var prefs map[string]any
		if err := json.Unmarshal(u.Preferences, &prefs); err != nil || len(prefs) != 2 || prefs["language"] != "fr-CA" || prefs["zoom"] != 1.25 {
			t.Errorf("stored preferences %s (%v), want {language: fr-CA, zoom: 1.25}", u.Preferences, err)
		}
		// Allowed apps: the app was listed, its Revoke forgot the consent
		// and ended its tokens, and its next authorization asked again.
		if len(r.Apps) != 1 || !strings.Contains(r.Apps[0], expenses.Name) || !strings.Contains(r.Apps[0], "offline_access") {
			t.Errorf("allowed apps %q, want %s with its scopes", r.Apps, expenses.Name)
		}
		if !strings.Contains(r.AppsAfter, "You have not allowed any app") || !r.AskedAgain {
			t.Errorf("after Revoke the section shows %q; the app asked for consent again: %v", r.AppsAfter, r.AskedAgain)
		}
		if _, err := ts.Store.GetConsent(ctxT(t), user.ID, expenses.ID, time.Time{}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the revoked consent is still stored (%v)", err)
		}
		if ts.isActive(t, expensesTok.RefreshToken, authOf(expenses)) {
			t.Error("the app's refresh token is still active after Revoke")
		}
		// Sign out everywhere: one revoke-all, no session left, and the
		// console went through end_session.
		if r.SignedOut != "/console/" {
			t.Errorf("after Sign out everywhere at %q, want the signed-out page /console/", r.SignedOut)
		}
		if live, err := ts.Store.ListLoginSessions(ctxT(t), user.ID, time.Now()); err != nil || len(live) != 0 {
			t.Errorf("%d sessions left after Sign out everywhere (%v)", len(live), err)
		}
		if all, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: user.ID, Action: "session.revoke_all", Limit: 5}); err != nil || len(all) != 1 {
			t.Errorf("%d session.revoke_all audit entries (%v), want 1", len(all), err)
		}
		// The one refusal is the too-long preference's save.
		if want := "422 PATCH /api/v1/users/me"; strings.Join(r.Refused, ",") != want {
			t.Errorf("refused API calls %q, want only the too-long preference: %s", r.Refused, want)
		}
		noProblems(t, r.Problems, nil)
	})

	t.Run("failure", func(t *testing.T) {
		var r struct {
			ServerAlert, NetworkAlert string
			AlertsLeft                int
			Problems, Refused         []string
		}
		scenario(t, rep, "failure", &r)
		if !strings.Contains(r.ServerAlert, "had a problem") || !strings.Contains(r.ServerAlert, "Retry") {
			t.Errorf("a 503 shows %q, want the failure and a Retry", r.ServerAlert)
		}
		if !strings.Contains(r.NetworkAlert, "could not be reached") || !strings.Contains(r.NetworkAlert, "Retry") {
			t.Errorf("a network failure shows %q, want it and a Retry", r.NetworkAlert)
		}
		if r.AlertsLeft != 0 {
			t.Errorf("%d alerts left after the retries succeeded", r.AlertsLeft)
		}
		if strings.Join(r.Refused, ",") != "503 GET /api/v1/users" {
			t.Errorf("refused API calls %q, want the one 503", r.Refused)
		}
		noProblems(t, r.Problems, nil)
	})

	t.Run("tour", func(t *testing.T) {
		var r struct {
			LoginPage, AfterLogin, AfterReload, AfterSignOut string
			ClientShownOnce                                  bool
			ClientCopy                                       int
			ClientSecret                                     string
			ClientAccessRow, AppRequestRow                   string
			ClientAccessChecked                              bool
			Nav                                              []string
			Storage                                          struct{ Local, Session int }
			StatusCounts                                     map[string]string
			SignIns                                          string
			DashboardCalls                                   []string
			UsageHeadings                                    []string
			ActiveUsers, ClientRows, TokenRows               [][2]string
			UsageTotal, UsageChart                           string
			Problems, Refused                                []string
		}
		scenario(t, rep, "tour", &r)
		// The dashboard's figures are the database's (more than a page of
		// users), read from /stats alone.
		byStatus, err := ts.Store.CountUsersByStatus(ctxT(t), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if byStatus[store.StatusActive] <= 100 {
			t.Fatalf("only %d active users: the test means more than a page", byStatus[store.StatusActive])
		}
		for _, st := range []store.UserStatus{store.StatusActive, store.StatusPending, store.StatusLocked, store.StatusDisabled, store.StatusExpired} {
			if got := r.StatusCounts[string(st)]; got != strconv.Itoa(byStatus[st]) {
				t.Errorf("dashboard shows %q %s users, the database counts %d", got, st, byStatus[st])
			}
		}
		today := time.Now().UTC().Truncate(24 * time.Hour)
		days, err := ts.Store.CountAuditByDay(ctxT(t), "login.success", today.AddDate(0, 0, -(domain.SignInDays-1)), today.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		signIns := 0
		for _, d := range days {
			signIns += d.Count
		}
		if want := fmt.Sprintf("%d sign-ins in 14 days", signIns); !strings.HasPrefix(r.SignIns, want) {
			t.Errorf("dashboard says %q, want %q", r.SignIns, want)
		}
		if !contains(r.DashboardCalls, "GET /api/v1/stats") || !contains(r.DashboardCalls, "GET /api/v1/stats?days=7") {
			t.Errorf("the dashboard's API calls %q lack GET /api/v1/stats, and ?days=7 for the other range", r.DashboardCalls)
		}
		checkUsageFigures(t, ts, r.UsageHeadings, r.ActiveUsers, r.ClientRows, r.TokenRows, r.UsageTotal, r.UsageChart)
		for _, c := range r.DashboardCalls {
			if strings.Contains(c, "/api/v1/users?") || strings.Contains(c, "action=login.success") {
				t.Errorf("the dashboard counted by itself: %s", c)
			}
		}
		if r.LoginPage != "/login" || r.AfterLogin != "/console/" || r.AfterReload != "/console/users" {
			t.Errorf("login page %q, after login %q, after reload %q", r.LoginPage, r.AfterLogin, r.AfterReload)
		}
		wantNav := []string{"Dashboard", "Users", "Access requests", "Roles", "Groups", "Clients", "API tokens", "Audit log", "Account"}
		if strings.Join(r.Nav, ",") != strings.Join(wantNav, ",") {
			t.Errorf("navigation %q, want %q", r.Nav, wantNav)
		}
		if r.Storage.Local != 0 || r.Storage.Session != 0 {
			t.Errorf("web storage holds %d local and %d session items; tokens must stay in memory", r.Storage.Local, r.Storage.Session)
		}
		if r.AfterSignOut != "/console/" {
			t.Errorf("after sign-out at %q", r.AfterSignOut)
		}
		noProblems(t, r.Problems, r.Refused)
		ts.secret(r.ClientSecret)
		role, err := ts.Store.GetRole(ctxT(t), "analyst")
		if err != nil || role.Parent != "viewer" || strings.Join(slices.Sorted(slices.Values(role.Permissions)), ",") != "reports:export,tokens:self" ||
			strings.Join(role.SuggestedGoals, ",") != "Publish the weekly risk report" {
			t.Errorf("the role created in the console: %+v (%v)", role, err)
		}
		c, err := ts.Store.GetClient(ctxT(t), "risk-reports")
		if err != nil || c.Public || !domain.ClientSecretMatches(c.SecretHash, r.ClientSecret) || !r.ClientShownOnce || r.ClientCopy != 1 {
			t.Errorf("the client created in the console: %+v (%v); shown once %v, Copy %d", c, err, r.ClientShownOnce, r.ClientCopy)
		}
		if c.IDTokenSignedResponseAlg != "ES256" {
			t.Errorf("the client created in the console has id_token_signed_response_alg %q, want the ES256 chosen in its form", c.IDTokenSignedResponseAlg)
		}
		// App access rules: the rule ticked at creation is shown in the row
		// and ticked again in the Edit dialog, where viewer was added.
		if !slices.Equal(c.Access.Roles, []string{"manager", "viewer"}) || len(c.Access.Groups) != 0 || len(c.Access.Areas) != 0 {
			t.Errorf("the client's access rule after the console's create and edit: %+v, want roles manager and viewer", c.Access)
		}
		if !strings.Contains(r.ClientAccessRow, "Who may sign in: only roles manager") || !r.ClientAccessChecked {
			t.Errorf("the client row says %q (edit dialog had manager ticked: %v)", r.ClientAccessRow, r.ClientAccessChecked)
		}
		if !strings.Contains(r.AppRequestRow, "access to Desk blotter") {
			t.Errorf("the decided app request's row reads %q, want \"access to Desk blotter\"", r.AppRequestRow)
		}
		if c.BackchannelLogoutURI != "https://reports.example/backchannel-logout" || !c.BackchannelLogoutSessionRequired {
			t.Errorf("the client created in the console has back-channel logout %q/%v, want the URI and sid required of its form",
				c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired)
		}
		// The console's sign-out ended the gatehouse session (the other
		// scenarios' sessions of the admin stay).
		logouts, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{ActorID: admin.ID, Action: "logout", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(logouts) != 1 {
			t.Errorf("%d logout audit entries of the admin, want 1 (the tour's sign-out)", len(logouts))
		}
	})
}

// TestBrowserConsoleRefresh: with access tokens that live two seconds,
// the console refreshes before it calls the API, rotating the refresh
// token each time, and what was typed in a dialog is saved. The server's
// issuer has a path (/auth), under which the console lives too.
func TestBrowserConsoleRefresh(t *testing.T) {
	ts := consoleServer(t, "/auth")
	admin := ts.createUser(t, "admin")
	c, err := ts.Store.GetClient(ctxT(t), domain.ConsoleClientID)
	if err != nil {
		t.Fatal(err)
	}
	c.Lifetimes.AccessToken = 2 * time.Second
	if err := ts.Store.UpdateClient(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	newUser := "late-" + randomHex(t, 4)
	password := "pw-" + randomHex(t, 12)
	ts.secret(password)
	rep := runConsole(t, ts, "console-refresh", consolePlan{
		Scenarios: []string{"refresh"},
		People:    map[string]consolePerson{"admin": person(admin)},
		Values:    map[string]map[string]string{"refresh": {"username": newUser, "password": password, "waitMs": "3000"}},
	})
	var r struct {
		Address           string
		Grants            []string
		Problems, Refused []string
	}
	scenario(t, rep, "refresh", &r)
	if r.Address != "/auth/console/users" {
		t.Errorf("the console ended at %q, want /auth/console/users (under the issuer's path)", r.Address)
	}
	refreshes := 0
	for _, g := range r.Grants {
		if g == "refresh_token" {
			refreshes++
		}
	}
	if len(r.Grants) == 0 || r.Grants[0] != "authorization_code" || refreshes == 0 {
		t.Errorf("token requests %q, want the code redeemed, then refreshes", r.Grants)
	}
	if _, err := ts.Store.GetUserByUsername(ctxT(t), newUser); err != nil {
		t.Errorf("the user typed before the token expired was not saved: %v", err)
	}
	noProblems(t, r.Problems, r.Refused)
}

// noProblems fails on script errors and failed loads a scenario's pages
// logged, and on API calls the console made that were refused.
func noProblems(t *testing.T, problems, refused []string) {
	t.Helper()
	if len(problems) != 0 {
		t.Errorf("the pages logged problems: %v", problems)
	}
	if len(refused) != 0 {
		t.Errorf("the console made API calls that were refused: %v", refused)
	}
}
