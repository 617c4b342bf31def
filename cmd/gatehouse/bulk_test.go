package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// importOutput is the summary users import prints.
type importOutput struct {
	Created, Updated, Unchanged, Failed int
	DryRun                              bool `json:"dry_run"`
	Problems                            []domain.ImportProblem
}

// runImport runs users import and decodes its summary; wantFailed says
// whether rows are expected to fail (exit 1) or not (exit 0).
func (e *env) runImport(wantFailed bool, args ...string) (importOutput, result) {
	e.t.Helper()
	r := e.run(append([]string{"users", "import"}, args...)...)
	if (r.code != 0) != wantFailed {
		e.t.Fatalf("users import %v: exit %d (want failures: %v)\nstdout: %s\nstderr: %s", args, r.code, wantFailed, r.stdout, r.stderr)
	}
	var out importOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		e.t.Fatalf("users import %v: summary is not JSON: %v\n%s\nstderr: %s", args, err, r.stdout, r.stderr)
	}
	return out, r
}

func argon2idHash(password string) string {
	salt := []byte("saltsaltsalt")
	sum := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(sum))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func allUsers(t *testing.T, st store.Store) map[string]store.User {
	t.Helper()
	users, err := st.ListUsers(context.Background(), store.UserFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.User{}
	for _, u := range users {
		out[u.Username] = u
	}
	return out
}

// TestUsersImport: a CSV file with bad rows among good ones writes the good
// ones, reports each bad one by row and field without writing it (nor any
// hash in the report); a dry run writes nothing; the same file again
// changes nothing; the imported bcrypt and argon2id hashes verify their
// passwords; a later file updates only the fields it gives.
func TestUsersImport(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	now := time.Now()
	desk := store.Group{ID: uuid.NewString(), Name: "desk", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateGroup(ctx, desk); err != nil {
		t.Fatal(err)
	}
	bh, err := bcrypt.GenerateFromPassword([]byte("alice's old password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	bcryptHash := strings.Replace(string(bh), "$2a$", "$2y$", 1) // as PHP writes them
	argonHash := argon2idHash("bob's old password")
	malformed := "$2b$04$tooshort"
	file := writeFile(t, "people.csv", strings.Join([]string{
		"username,email,full_name,department,roles,groups,goals,password_hash",
		"alice,Alice@Example.com,Alice Liddell,Trading,admin|viewer,desk,Track P&L; daily|Hire,\"" + bcryptHash + "\"",
		"bob,bob@example.com,Bob,,user,," + ",\"" + argonHash + "\"",
		"carol,not-an-email,Carol,,,,,",
		"dave,dave@example.com,Dave,,no-such-role,,,",
		"erin,erin@example.com,Erin,,,,,\"" + malformed + "\"",
		"alice,alice2@example.com,Alice Again,,,,,",
		"frank,frank@example.com,Frank,,,,,",
	}, "\n")+"\n")

	dry, r := e.runImport(true, file, "--dry-run")
	if !dry.DryRun || dry.Created != 3 || dry.Failed != 4 || dry.Updated != 0 || dry.Unchanged != 0 {
		t.Fatalf("dry run summary %+v, want 3 created and 4 failed", dry)
	}
	if got := allUsers(t, st); len(got) != 0 {
		t.Fatalf("dry run wrote users: %v", got)
	}

	sum, r := e.runImport(true, file)
	if sum.DryRun || sum.Created != 3 || sum.Failed != 4 {
		t.Fatalf("import summary %+v, want 3 created and 4 failed", sum)
	}
	type rowField struct {
		row   int
		field string
	}
	var got []rowField
	for _, p := range sum.Problems {
		got = append(got, rowField{p.Row, p.Field})
	}
	want := []rowField{{4, "email"}, {5, "roles"}, {6, "password_hash"}, {7, "username"}}
	if !slices.Equal(got, want) {
		t.Errorf("problems %+v, want rows and fields %v", sum.Problems, want)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		for _, h := range []string{bcryptHash, argonHash, malformed, bcryptHash[:10], "saltsalt", argonHash[len(argonHash)-20:]} {
			if strings.Contains(out, h) {
				t.Errorf("the report shows a password hash %q:\n%s", h, out)
			}
		}
	}
	if !strings.Contains(r.stderr, "row 5 (dave): roles: ") {
		t.Errorf("stderr does not report row 5's roles: %s", r.stderr)
	}

	users := allUsers(t, st)
	if len(users) != 3 {
		t.Fatalf("stored users %v, want alice, bob and frank", users)
	}
	alice, bob, frank := users["alice"], users["bob"], users["frank"]
	if alice.Email != "alice@example.com" || alice.FullName != "Alice Liddell" || alice.Department != "Trading" ||
		!slices.Equal(alice.Roles, []string{"admin", "viewer"}) || !slices.Equal(alice.Goals, []string{"Track P&L; daily", "Hire"}) ||
		alice.Status != store.StatusActive {
		t.Errorf("alice stored as %+v", alice)
	}
	groups, err := st.ListUserGroups(ctx, alice.ID)
	if err != nil || len(groups) != 1 || groups[0].ID != desk.ID {
		t.Errorf("alice's groups %v (%v), want desk", groups, err)
	}
	if frank.Status != store.StatusPending || frank.PasswordHash != "" {
		t.Errorf("frank (no roles, no hash) stored as %+v, want pending without password", frank)
	}
	// The hashes are kept as given and verify the old passwords, as a
	// sign-in checks them; the argon2id one asks to be re-hashed.
	pw := domain.Passwords{BcryptCost: 4}
	if ok, _ := pw.Verify(alice.PasswordHash, "alice's old password"); !ok || alice.PasswordHash != bcryptHash {
		t.Error("alice's imported $2y$ bcrypt hash does not verify her password")
	}
	if ok, _ := pw.Verify(alice.PasswordHash, "wrong"); ok {
		t.Error("alice's hash verifies a wrong password")
	}
	if ok, rehash := pw.Verify(bob.PasswordHash, "bob's old password"); !ok || !rehash || bob.PasswordHash != argonHash {
		t.Errorf("bob's imported argon2id hash: verifies %v, re-hash %v", ok, rehash)
	}
	if ok, _ := pw.Verify(bob.PasswordHash, "bob's new password"); ok {
		t.Error("bob's argon2id hash verifies a wrong password")
	}

	// One audit entry per batch, naming the users, never a hash.
	entries, err := st.ListAudit(ctx, store.AuditFilter{Action: "user.import"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("user.import audit entries %v (%v), want 1", entries, err)
	}
	for _, name := range []string{"alice", "bob", "frank"} {
		if !strings.Contains(string(entries[0].Changes), name) {
			t.Errorf("audit entry %s does not name %s", entries[0].Changes, name)
		}
	}
	if strings.Contains(string(entries[0].Changes), "$2") || strings.Contains(string(entries[0].Changes), "argon2") {
		t.Errorf("audit entry holds a hash: %s", entries[0].Changes)
	}

	// The same file again: the good rows are unchanged, nothing is written.
	again, _ := e.runImport(true, file)
	if again.Created != 0 || again.Updated != 0 || again.Unchanged != 3 || again.Failed != 4 {
		t.Fatalf("second import %+v, want 3 unchanged and 4 failed", again)
	}
	if entries, _ := st.ListAudit(ctx, store.AuditFilter{Action: "user.import"}); len(entries) != 1 {
		t.Errorf("an unchanged import left %d user.import entries, want still 1", len(entries))
	}
	after := allUsers(t, st)
	if !after["alice"].UpdatedAt.Equal(alice.UpdatedAt) {
		t.Error("an unchanged import touched alice")
	}

	// JSON lines updating only what they give; a status change of an
	// existing user is refused (it is lock/unlock's work).
	upd := writeFile(t, "changes.jsonl", `{"username":"alice","full_name":"Alice L."}`+"\n\n"+
		`{"username":"frank","status":"locked"}`+"\n"+`{"username":"gina","email":"gina@example.com","extra":1}`+"\n")
	u, _ := e.runImport(true, upd)
	if u.Updated != 1 || u.Failed != 2 || len(u.Problems) != 2 || u.Problems[0].Row != 3 || u.Problems[0].Field != "status" || u.Problems[1].Row != 4 {
		t.Fatalf("update import %+v", u)
	}
	a2, err := st.GetUser(ctx, alice.ID)
	if err != nil || a2.FullName != "Alice L." || a2.Department != "Trading" || a2.Email != alice.Email ||
		a2.PasswordHash != alice.PasswordHash || !slices.Equal(a2.Roles, alice.Roles) {
		t.Errorf("alice after the update %+v (%v), want only the full name changed", a2, err)
	}
}

// TestUsersExportRoundTrip: an export, with hashes, imported into an empty
// directory gives the same export; without the flag no hash is written.
func TestUsersExportRoundTrip(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	now := time.Now()
	if err := st.CreateGroup(ctx, store.Group{ID: uuid.NewString(), Name: "ops", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var lines []string
	// More than one export page (200).
	for i := range 230 {
		lines = append(lines, fmt.Sprintf(`{"username":"user%03d","email":"user%03d@example.com","full_name":"User %d","roles":["user"],"groups":["ops"],"goals":["g|%d"],"password_hash":%q}`,
			i, i, i, i, argon2idHash("pw")))
	}
	lines = append(lines, `{"username":"nohash","email":"nohash@example.com"}`)
	sum, _ := e.runImport(false, writeFile(t, "seed.jsonl", strings.Join(lines, "\n")))
	if sum.Created != 231 {
		t.Fatalf("seed import %+v", sum)
	}

	plain := e.ok(nil, "users", "export")
	if strings.Contains(plain.stdout, "password_hash") || strings.Contains(plain.stdout, "$argon2id$") {
		t.Fatal("export without --with-password-hashes wrote hashes")
	}
	if n := strings.Count(plain.stdout, "\n"); n != 231 {
		t.Fatalf("export wrote %d lines, want 231", n)
	}
	full := e.ok(nil, "users", "export", "--with-password-hashes")
	csvOut := e.ok(nil, "users", "export", "--format", "csv")
	if !strings.HasPrefix(csvOut.stdout, "username,email,full_name,department,roles,groups,goals,status\n") ||
		!strings.Contains(csvOut.stdout, "user007,user007@example.com,User 7,,user,ops,g|7,active\n") {
		t.Errorf("CSV export:\n%.400s", csvOut.stdout)
	}

	e2, url2 := newDBEnv(t)
	st2 := openTestStore(t, url2)
	if err := st2.CreateGroup(ctx, store.Group{ID: uuid.NewString(), Name: "ops", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e2.stdin = full.stdout
	sum, _ = e2.runImport(false, "--format", "jsonl", "-")
	if sum.Created != 231 || sum.Failed != 0 {
		t.Fatalf("round-trip import %+v", sum)
	}
	if again := e2.ok(nil, "users", "export", "--with-password-hashes"); again.stdout != full.stdout {
		t.Errorf("the export of the imported export differs")
	}
	u, err := st2.GetUserByUsername(ctx, "user042")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := (domain.Passwords{BcryptCost: 4}).Verify(u.PasswordHash, "pw"); !ok {
		t.Error("a round-tripped argon2id hash does not verify")
	}
	// Importing the export into the directory it came from changes nothing.
	e.stdin = full.stdout
	if sum, _ := e.runImport(false, "--format", "jsonl", "-"); sum.Unchanged != 231 {
		t.Errorf("re-import of the export %+v, want 231 unchanged", sum)
	}
}

// A CSV line past maxImportLine stops the read with a clear error rather
// than being gathered whole; the rows before it are read.
func TestCSVImportRefusesAnOverlongLine(t *testing.T) {
	in := "username,email\nalice,alice@example.com\nbob," + strings.Repeat("b", maxImportLine+1) + "@example.com\n"
	rows, err := newCSVRows(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	first, problem, err := rows.next()
	if err != nil || problem != nil || first.Username != "alice" {
		t.Fatalf("first row = %+v, %+v, %v; want alice", first, problem, err)
	}
	if _, _, err := rows.next(); !errors.Is(err, errLongLine) {
		t.Fatalf("overlong row: %v, want errLongLine", err)
	}
}
