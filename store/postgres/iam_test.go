package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func newUser(t *testing.T, s *postgres.Store, username string, roles ...string) store.User {
	t.Helper()
	now := time.Now()
	u := store.User{ID: uuid.NewString(), Username: username, Email: username + "@example.com",
		Status: store.StatusPending, Roles: roles, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func pendingRequest(userID, role string) store.AccessRequest {
	return store.AccessRequest{ID: uuid.NewString(), UserID: userID, RequestedRole: role, Purpose: "work",
		Status: store.RequestPending, CreatedAt: time.Now()}
}

// The audit log is append-only in the database itself: UPDATE and DELETE are
// refused whoever runs them, even when they match no row; TRUNCATE (the
// test reset) still works.
func TestAuditLogRefusesUpdateAndDelete(t *testing.T) {
	s, dbURL := newStore(t)
	ctx := t.Context()
	id, err := s.AppendAudit(ctx, store.AuditEntry{At: time.Now(), ActorType: store.ActorCLI, Action: "user.create",
		TargetType: "user", TargetID: "u1", Changes: json.RawMessage(`{"username":{"after":"alice"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dbURL)
	for _, sql := range []string{
		`UPDATE audit_log SET action = 'forged' WHERE id = $1`,
		`DELETE FROM audit_log WHERE id = $1`,
		`DELETE FROM audit_log WHERE id = $1 + 1000`,
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := conn.Exec(ctx, sql, id)
			if code := sqlState(err); code != "42501" {
				t.Errorf("SQLSTATE = %q (err %v), want 42501 insufficient_privilege", code, err)
			}
		})
	}
	got, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(got) != 1 || got[0].ID != id || got[0].Action != "user.create" {
		t.Fatalf("ListAudit after refused changes = %+v, %v; want the one entry unchanged", got, err)
	}

	pgtest.Reset(t, dbURL)
	if n := countRows(t, conn, `SELECT count(*) FROM audit_log`); n != 0 {
		t.Errorf("audit rows after Reset = %d, want 0", n)
	}
	// RESTART IDENTITY: ids start again, so tests do not depend on order.
	again, err := s.AppendAudit(ctx, store.AuditEntry{At: time.Now(), ActorType: store.ActorCLI, Action: "x"})
	if err != nil || again != 1 {
		t.Errorf("first id after Reset = %d, %v; want 1", again, err)
	}
}

// The partial unique index allows one pending request per user: a second is
// ErrConflict, also when 8 arrive at once; once decided, a new one may be
// made.
func TestOnePendingAccessRequestPerUser(t *testing.T) {
	s, dbURL := newStore(t)
	ctx := t.Context()
	u := newUser(t, s, "pat")
	first := pendingRequest(u.ID, "user")
	if err := s.CreateAccessRequest(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccessRequest(ctx, pendingRequest(u.ID, "viewer")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second pending request = %v, want ErrConflict", err)
	}
	if _, err := s.DecideAccessRequest(ctx, first.ID, store.RequestDenied, "", "cli", "no", time.Now()); err != nil {
		t.Fatal(err)
	}

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateAccessRequest(ctx, pendingRequest(u.ID, "user")) })
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("concurrent CreateAccessRequest: %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d concurrent requests: %d ok, %d ErrConflict; want 1 and %d", n, ok, conflicts, n-1)
	}
	conn := connect(t, dbURL)
	if got := countRows(t, conn, `SELECT count(*) FROM access_requests WHERE status = 'pending'`); got != 1 {
		t.Errorf("pending rows = %d, want 1", got)
	}
	if got := countRows(t, conn, `SELECT count(*) FROM access_requests`); got != 2 {
		t.Errorf("rows = %d, want 2 (the denied one and the new one)", got)
	}
}

// Concurrent decisions on one request: exactly one wins, the others get
// ErrConflict and change nothing.
func TestConcurrentDecisionsOneWins(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	u := newUser(t, s, "pat")
	r := pendingRequest(u.ID, "user")
	if err := s.CreateAccessRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	decisions := []store.AccessRequestStatus{store.RequestApproved, store.RequestDenied,
		store.RequestApproved, store.RequestDenied, store.RequestCancelled, store.RequestApproved}
	type result struct {
		r   store.AccessRequest
		err error
	}
	results := make([]result, len(decisions))
	var wg sync.WaitGroup
	for i, d := range decisions {
		wg.Go(func() {
			granted := ""
			if d == store.RequestApproved {
				granted = "user"
			}
			got, err := s.DecideAccessRequest(ctx, r.ID, d, granted, "user:"+string(rune('a'+i)), "c", time.Now())
			results[i] = result{got, err}
		})
	}
	wg.Wait()
	var winner *result
	for i := range results {
		switch res := &results[i]; {
		case res.err == nil:
			if winner != nil {
				t.Fatalf("two decisions won: %+v and %+v", winner.r, res.r)
			}
			winner = res
		case !errors.Is(res.err, store.ErrConflict):
			t.Errorf("decision %d: %v, want nil or ErrConflict", i, res.err)
		}
	}
	if winner == nil {
		t.Fatal("no decision won")
	}
	got, err := s.GetAccessRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != winner.r.Status || got.DecidedBy != winner.r.DecidedBy || got.DecidedAt == nil {
		t.Errorf("stored request %+v, want the winner's decision %+v", got, winner.r)
	}
	if _, err := s.DecideAccessRequest(ctx, uuid.NewString(), store.RequestDenied, "", "cli", "", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deciding an unknown request = %v, want ErrNotFound", err)
	}
}

// A role a group carries or a pending request asks for cannot be deleted; a
// decided request holds it no longer (its name stays as history).
func TestDeleteRoleReferencedByGroupOrPendingRequest(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	now := time.Now()
	for _, name := range []string{"trader", "analyst"} {
		if err := s.CreateRole(ctx, store.Role{Name: name, Parent: "user", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	g := store.Group{ID: uuid.NewString(), Name: "desk", Roles: []string{"trader"}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, s, "pat")
	r := pendingRequest(u.ID, "analyst")
	if err := s.CreateAccessRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"trader", "analyst"} {
		if err := s.DeleteRole(ctx, name); !errors.Is(err, store.ErrConflict) {
			t.Errorf("DeleteRole(%s) while referenced = %v, want ErrConflict", name, err)
		}
	}
	if _, err := s.DecideAccessRequest(ctx, r.ID, store.RequestDenied, "", "cli", "", now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole(ctx, "analyst"); err != nil {
		t.Errorf("DeleteRole(analyst) after the request was decided: %v", err)
	}
	if got, err := s.GetAccessRequest(ctx, r.ID); err != nil || got.RequestedRole != "analyst" {
		t.Errorf("decided request after its role went = %+v, %v; want it kept with its role name", got, err)
	}
	if err := s.CreateAccessRequest(ctx, pendingRequest(u.ID, "analyst")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("request for a deleted role = %v, want ErrNotFound", err)
	}
	g.Roles = nil
	if err := s.UpdateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRole(ctx, "trader"); err != nil {
		t.Errorf("DeleteRole(trader) after the group dropped it: %v", err)
	}
}

// Hard delete leaves no row of the user in any table but the audit log:
// every column of every table is searched for the user's id, so a table a
// later migration adds is covered too.
func TestDeleteUserLeavesNoRow(t *testing.T) {
	s, dbURL := newStore(t)
	f := seed(t, s)
	ctx := t.Context()
	now := time.Now()
	other := newUser(t, s, "bob")
	u := f.user
	u.Roles = []string{"user"}
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	g := store.Group{ID: uuid.NewString(), Name: "desk", Roles: []string{"viewer"}, CreatedAt: now, UpdatedAt: now}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateGroup(ctx, g))
	must(s.AddGroupMember(ctx, g.ID, u.ID))
	must(s.AddGroupMember(ctx, g.ID, other.ID))
	must(s.CreateAccessRequest(ctx, pendingRequest(u.ID, "user")))
	must(s.CreateAPIToken(ctx, store.APIToken{ID: uuid.NewString(), Name: "ci", Kind: store.TokenPersonal,
		UserID: u.ID, SecretHash: []byte("digest-1"), CreatedBy: "user:" + u.ID, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour)}))
	must(s.CreateLoginSession(ctx, store.LoginSession{ID: "sess", UserID: u.ID, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now}))
	tok := f.token(store.KindRefreshToken, "refresh-sig", "req-1")
	tok.LoginSessionID = "sess"
	must(s.CreateToken(ctx, tok))
	must(s.SaveConsent(ctx, store.Consent{UserID: u.ID, ClientID: f.client.ID, Scopes: []string{"openid"}, GrantedAt: now}))
	if _, err := s.RecordLoginFailure(ctx, u.ID, now, 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordSignInFailure(ctx, u.ID, "192.0.2.1", now, now.Add(-time.Hour), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEntry{At: now, ActorType: store.ActorCLI, Action: "user.delete",
		TargetType: "user", TargetID: u.ID}); err != nil {
		t.Fatal(err)
	}

	conn := connect(t, dbURL)
	mentions := func() map[string]int64 {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND data_type IN ('uuid', 'text')
			ORDER BY table_name, column_name`)
		if err != nil {
			t.Fatal(err)
		}
		type column struct{ table, name string }
		cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (column, error) {
			var c column
			return c, r.Scan(&c.table, &c.name)
		})
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]int64{}
		for _, c := range cols {
			sql := `SELECT count(*) FROM ` + pgx.Identifier{c.table}.Sanitize() +
				` WHERE ` + pgx.Identifier{c.name}.Sanitize() + `::text = $1`
			var n int64
			if err := conn.QueryRow(ctx, sql, u.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				found[c.table] += n
			}
		}
		return found
	}
	before := mentions()
	for _, table := range []string{"users", "user_roles", "group_members", "access_requests", "api_tokens",
		"login_sessions", "grants", "consents", "audit_log", "sign_in_failures"} {
		if before[table] == 0 {
			t.Errorf("before the delete, no row of %s names the user: the test does not cover it", table)
		}
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	after := mentions()
	if after["audit_log"] != 1 {
		t.Errorf("audit entries naming the user after the delete = %d, want 1 (kept)", after["audit_log"])
	}
	delete(after, "audit_log")
	if len(after) != 0 {
		t.Errorf("rows naming the deleted user, by table: %v", after)
	}
	if n := countRows(t, conn, `SELECT count(*) FROM oauth_tokens`); n != 0 {
		t.Errorf("tokens of the deleted user's grants = %d, want 0", n)
	}
	if members, err := s.ListGroupMembers(ctx, g.ID); err != nil || !slices.Equal(members, []string{other.ID}) {
		t.Errorf("group members after the delete = %v, %v; want only %s", members, err, other.ID)
	}
}

// Concurrent failed sign-ins each count, and exactly one in every
// maxFailures of them locks the user: the UPDATE reads and writes the count
// in one step.
func TestRecordLoginFailureIsAtomic(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	u := newUser(t, s, "pat")
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const n, maxFailures = 12, 4
	results := make([]store.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = s.RecordLoginFailure(ctx, u.ID, at, maxFailures, time.Minute) })
	}
	wg.Wait()
	var counts []int
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("RecordLoginFailure: %v", errs[i])
		}
		counts = append(counts, results[i].FailedLogins)
	}
	slices.Sort(counts)
	// Three rounds of 1, 2, 3 and a lock (count reset to 0).
	want := []int{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}
	if !slices.Equal(counts, want) {
		t.Errorf("FailedLogins returned = %v, want %v", counts, want)
	}
	got, err := s.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FailedLogins != 0 || got.LockedUntil == nil || !got.LockedUntil.Equal(at.Add(time.Minute)) {
		t.Errorf("after %d failures: FailedLogins %d, LockedUntil %v; want 0 and %s", n, got.FailedLogins, got.LockedUntil, at.Add(time.Minute))
	}
	if got.Status != store.StatusPending || !got.UpdatedAt.Equal(u.UpdatedAt.Truncate(time.Microsecond)) {
		t.Errorf("sign-in bookkeeping changed status %s or UpdatedAt %s", got.Status, got.UpdatedAt)
	}
}

// ListAudit's action prefix is a LIKE whose own wildcards are quoted.
func TestListAuditActionPrefixEscapesWildcards(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for _, action := range []string{"user.create", "user.update", "users.list", "a_b.x", "axb.x", "a%.y", "ab.y"} {
		if _, err := s.AppendAudit(ctx, store.AuditEntry{At: time.Now(), ActorType: store.ActorSystem, Action: action}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		action string
		want   []string
	}{
		{"user.", []string{"user.update", "user.create"}},
		{"user.create", []string{"user.create"}},
		{"user", nil},
		{"a_b.", []string{"a_b.x"}},
		{"a%.", []string{"a%.y"}},
	}
	for _, tc := range tests {
		got, err := s.ListAudit(ctx, store.AuditFilter{Action: tc.action})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range got {
			actions = append(actions, e.Action)
		}
		if !slices.Equal(actions, tc.want) {
			t.Errorf("ListAudit(Action %q) = %q, want %q", tc.action, actions, tc.want)
		}
	}
}

// Access requests created in the same instant page by id, newest first,
// with no request lost or repeated across pages.
func TestListAccessRequestsKeysetTies(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var requests []store.AccessRequest
	for i := range 7 {
		u := newUser(t, s, "user"+string(rune('a'+i)))
		r := pendingRequest(u.ID, "user")
		r.CreatedAt = at.Add(time.Duration(i/3) * time.Second) // runs of equal times
		if err := s.CreateAccessRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		requests = append(requests, r)
	}
	slices.SortFunc(requests, func(a, b store.AccessRequest) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var want []string
	for _, r := range requests {
		want = append(want, r.ID)
	}
	var got []string
	before := ""
	for range 10 {
		page, err := s.ListAccessRequests(ctx, store.AccessRequestFilter{Before: before, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			got = append(got, r.ID)
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged ids\n got %v\nwant %v", got, want)
	}
}

// The database refuses an API token whose principal does not match its
// kind, whatever the Go code above it checks.
func TestAPITokenPrincipalMatchesKind(t *testing.T) {
	s, _ := newStore(t)
	f := seed(t, s)
	ctx := t.Context()
	now := time.Now()
	tests := []struct {
		name             string
		kind             store.APITokenKind
		userID, clientID string
	}{
		{"personal without user", store.TokenPersonal, "", f.client.ID},
		{"user with both", store.TokenUser, f.user.ID, f.client.ID},
		{"system with a user", store.TokenSystem, f.user.ID, ""},
		{"unknown kind", "robot", f.user.ID, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateAPIToken(ctx, store.APIToken{ID: uuid.NewString(), Name: "t", Kind: tc.kind,
				UserID: tc.userID, ClientID: tc.clientID, SecretHash: []byte{byte(i)}, CreatedAt: now, ExpiresAt: now})
			if code := sqlState(err); code != "23514" || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				t.Errorf("CreateAPIToken = %v (SQLSTATE %q), want a check violation", err, code)
			}
		})
	}
}

// Migration 00002 applies on top of a database that has 00001 and data,
// from several instances at once: each version is recorded once and the
// existing user gets the new columns' defaults.
func TestMigration00002OnTopOf00001Concurrently(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)

	initial, err := os.ReadFile("../../migrations/00001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db,
		fstest.MapFS{"00001_initial.sql": {Data: initial}}, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("apply 00001: %v", err)
	}
	conn := connect(t, dbURL)
	const uid = "00000000-0000-0000-0000-000000000001"
	if _, err := conn.Exec(ctx, `INSERT INTO users (id, username, email, status, created_at, updated_at)
		VALUES ($1, 'alice', 'alice@example.com', 'active', now(), now())`, uid); err != nil {
		t.Fatal(err)
	}

	const instances = 4
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { errs[i] = migrations.Up(ctx, dbURL) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Up: %v", i, err)
		}
	}
	rows, err := conn.Query(ctx, `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) < 2 || versions[0] != 1 || versions[1] != 2 || len(slices.Compact(slices.Clone(versions))) != len(versions) {
		t.Errorf("applied versions = %v, want 1, 2, ... each once", versions)
	}

	s, err := postgres.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.GetUser(ctx, uid)
	if err != nil || u.FailedLogins != 0 || u.LockedUntil != nil {
		t.Errorf("existing user after 00002 = %+v, %v; want FailedLogins 0, LockedUntil nil", u, err)
	}
}

func countRows(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
