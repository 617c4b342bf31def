package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// personaFile is the shipped example, as an operator would pass it.
const personaFile = "../../examples/roles.yaml"

func TestRoles(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var roles []admin.RoleView
	e.ok(&roles, "roles", "list")
	if got := roleNames(roles); !slices.Equal(got, []string{"admin", "manager", "user", "viewer"}) {
		t.Fatalf("roles list on a new database = %v, want the four built-ins", got)
	}
	for _, r := range roles {
		if !r.BuiltIn {
			t.Errorf("built-in role %s printed with built_in false", r.Name)
		}
	}

	var auditor admin.RoleView
	entry := e.audited(st, "role.create", nil, &auditor, "roles", "create", "--name", "auditor", "--parent", "viewer",
		"--permission", "audit:read", "--description", "Reads the audit log",
		"--goal", "Review every role change weekly", "--goal", "Sample sign-in failures")
	if entry.TargetID != "auditor" {
		t.Errorf("role.create audit target %q, want auditor", entry.TargetID)
	}
	want := admin.RoleView{Name: "auditor", Description: "Reads the audit log", Parent: "viewer",
		Permissions: []string{"audit:read"}, SuggestedGoals: []string{"Review every role change weekly", "Sample sign-in failures"}}
	got := auditor
	got.CreatedAt, got.UpdatedAt = want.CreatedAt, want.UpdatedAt
	if !equalRoleViews(got, want) {
		t.Fatalf("roles create printed %+v, want %+v", auditor, want)
	}
	stored, err := st.GetRole(ctx, "auditor")
	if err != nil || stored.Parent != "viewer" || !slices.Equal(stored.Permissions, []string{"audit:read"}) {
		t.Fatalf("stored role %+v, %v", stored, err)
	}

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"duplicate name", []string{"--name", "auditor"}, []string{`roles create: role "auditor" already exists` + "\n"}},
		{"built-in name", []string{"--name", "admin"}, []string{"admin"}},
		{"invalid name", []string{"--name", "Big Boss"}, []string{"invalid input", "name"}},
		{"unknown parent", []string{"--name", "orphan", "--parent", "nobody"}, []string{"nobody"}},
		{"unknown permission", []string{"--name", "wizard", "--permission", "magic:cast"}, []string{"magic:cast"}},
		{"missing name", []string{"--parent", "viewer"}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"roles", "create"}, tt.args...)...)
		})
	}
}

func TestRolesImportPersonas(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)

	before := lastAuditID(t, st)
	var res importResult
	e.ok(&res, "roles", "import", personaFile)
	if res != (importResult{Created: 9, Updated: 0}) {
		t.Fatalf("first import = %+v, want 9 created", res)
	}
	entries := auditSince(t, st, before)
	if len(entries) != 9 {
		t.Fatalf("first import left %d audit entries, want one per role created (9)", len(entries))
	}
	for _, entry := range entries {
		if entry.ActorType != store.ActorCLI || entry.Action != "role.create" {
			t.Errorf("import audit entry %+v, want role.create by cli", entry)
		}
	}

	// Importing the same file again finds nothing to change: the domain
	// counts (and audits) only roles it actually created or changed.
	before = lastAuditID(t, st)
	e.ok(&res, "roles", "import", personaFile)
	if res != (importResult{}) {
		t.Fatalf("second import of the same file = %+v, want nothing created or updated", res)
	}
	if n := len(auditSince(t, st, before)); n != 0 {
		t.Fatalf("an import that changed nothing left %d audit entries", n)
	}

	// An edited copy updates the changed role in place and adds the new one.
	doc, err := os.ReadFile(personaFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(doc), "Trades on the desk;", "Trades equities on the desk;", 1) +
		"\n  - name: broker\n    description: Places orders for clients.\n    parent: trader\n    suggested_goals: [Confirm every order the same day]\n"
	editedFile := filepath.Join(t.TempDir(), "roles.yaml")
	if err := os.WriteFile(editedFile, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	before = lastAuditID(t, st)
	e.ok(&res, "roles", "import", editedFile)
	if res != (importResult{Created: 1, Updated: 1}) {
		t.Fatalf("import of the edited file = %+v, want 1 created (broker) and 1 updated (trader)", res)
	}
	var actions []string
	for _, entry := range auditSince(t, st, before) {
		if entry.ActorType != store.ActorCLI {
			t.Errorf("import audit entry %+v, want actor cli", entry)
		}
		actions = append(actions, entry.Action+" "+entry.TargetID)
	}
	slices.Sort(actions)
	if want := []string{"role.create broker", "role.update trader"}; !slices.Equal(actions, want) {
		t.Fatalf("edited import audit entries %v, want %v", actions, want)
	}

	var roles []admin.RoleView
	e.ok(&roles, "roles", "list")
	wantNames := []string{"admin", "agent", "analyst", "broker", "executive", "finance", "investor", "manager",
		"operations", "sales", "team-manager", "trader", "user", "viewer"}
	if got := roleNames(roles); !slices.Equal(got, wantNames) {
		t.Fatalf("roles after import = %v, want %v", got, wantNames)
	}
	for _, r := range roles {
		if r.Name == "trader" && (r.Parent != "user" || !strings.HasPrefix(r.Description, "Trades equities") ||
			!slices.Contains(r.SuggestedGoals, "Reduce execution slippage")) {
			t.Fatalf("trader imported as %+v", r)
		}
	}

	// A document whose parent does not exist changes nothing (one transaction).
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("roles:\n  - name: first-ok\n    parent: user\n  - name: broken\n    parent: nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.unaudited(st, []string{"roles import"}, "roles", "import", bad)
	if _, err := st.GetRole(context.Background(), "first-ok"); err == nil {
		t.Fatal("a failed import left some of its roles behind")
	}
	e.fails([]string{"roles import", "no-such-file.yaml"}, "roles", "import", "no-such-file.yaml")

	// - reads the document from stdin.
	e.stdin = "roles:\n  - name: from-stdin\n    parent: viewer\n    suggested_goals: [Read the docs]\n"
	e.ok(&res, "roles", "import", "-")
	e.stdin = ""
	if res != (importResult{Created: 1}) {
		t.Fatalf("import from stdin = %+v, want 1 created", res)
	}
	if _, err := st.GetRole(context.Background(), "from-stdin"); err != nil {
		t.Fatalf("role imported from stdin: %v", err)
	}
}

func roleNames(roles []admin.RoleView) []string {
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	return names
}

func equalRoleViews(a, b admin.RoleView) bool {
	return a.Name == b.Name && a.Description == b.Description && a.Parent == b.Parent && a.BuiltIn == b.BuiltIn &&
		slices.Equal(a.Permissions, b.Permissions) && slices.Equal(a.SuggestedGoals, b.SuggestedGoals)
}

// serve --dev imports the personas into its store with the system as actor;
// a restart on the same database finds them in place.
func TestDevImportsPersonas(t *testing.T) {
	st := memory.New()
	a := &app{now: time.Now, logger: slog.New(slog.DiscardHandler)}
	cfg := config.Default()
	for range 2 {
		if err := a.importPersonaRoles(context.Background(), a.newService(cfg, st)); err != nil {
			t.Fatal(err)
		}
	}
	roles, err := st.ListRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 13 {
		t.Fatalf("%d roles after the dev import, want the 4 built-ins and 9 personas", len(roles))
	}
	goals, err := domain.NewService(st, domain.Options{}).GoalSuggestions(context.Background(), "trader")
	if err != nil || !slices.Contains(goals, "Track intraday P&L") {
		t.Fatalf("trader goal suggestions = %v, %v", goals, err)
	}
	entries, err := st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 9 {
		t.Fatalf("%d audit entries after two dev imports, want 9 (the second changed nothing)", len(entries))
	}
	for _, e := range entries {
		if e.ActorType != store.ActorSystem || e.Action != "role.create" {
			t.Errorf("dev import audit entry %+v, want role.create by system", e)
		}
	}
}
