package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// newStore opens a store on a fresh database of its own.
func newStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	s, err := postgres.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dbURL
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// waitForLockWait returns once some other session of the database is
// waiting for a row lock, so a test can order two transactions without
// sleeping.
func waitForLockWait(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no session started waiting for a lock")
}

type fixture struct {
	client store.Client
	user   store.User
}

func seed(t *testing.T, s *postgres.Store) fixture {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	c := store.Client{ID: "web", TokenEndpointAuthMethod: "none", Public: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: uuid.NewString(), Username: "alice", Email: "alice@example.com",
		Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	return fixture{client: c, user: u}
}

func (f fixture) token(kind store.TokenKind, signature, requestID string) store.Token {
	now := time.Now()
	return store.Token{Kind: kind, Signature: signature, RequestID: requestID, ClientID: f.client.ID,
		Subject: f.user.ID, UserID: f.user.ID, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Active: true,
		Request: json.RawMessage(`{"id":"` + requestID + `"}`)}
}

// Two transactions deactivate one code: the second waits for the first's
// row lock, then finds the code inactive. The order is forced by watching
// pg_stat_activity, not by timing.
func TestCodeDeactivatedFromTwoTransactionsOnce(t *testing.T) {
	s, dbURL := newStore(t)
	f := seed(t, s)
	ctx := t.Context()
	code := f.token(store.KindAuthorizeCode, "code-sig", "req-1")
	if err := s.CreateToken(ctx, code); err != nil {
		t.Fatal(err)
	}

	first, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Rollback(first) //nolint:errcheck
	if err := s.DeactivateToken(first, code.Kind, code.Signature); err != nil {
		t.Fatalf("first DeactivateToken: %v", err)
	}

	secondErr := make(chan error, 1)
	go func() {
		err := store.InTx(ctx, s, func(ctx context.Context) error {
			return s.DeactivateToken(ctx, code.Kind, code.Signature)
		})
		secondErr <- err
	}()
	waitForLockWait(t, connect(t, dbURL))
	if err := s.Commit(first); err != nil {
		t.Fatal(err)
	}
	if err := <-secondErr; !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeactivateToken = %v, want ErrNotFound", err)
	}
	got, err := s.GetToken(ctx, code.Kind, code.Signature)
	if err != nil || got.Active {
		t.Errorf("GetToken after both = active %v, %v; want inactive", got.Active, err)
	}
}

// Inside a transaction GetToken locks codes and refresh tokens: a second
// reader in another transaction waits, then reads what the first committed.
// Outside a transaction, and for other kinds, it does not wait.
func TestGetTokenLocksOneUseTokensInTx(t *testing.T) {
	s, dbURL := newStore(t)
	f := seed(t, s)
	ctx := t.Context()
	for _, kind := range []store.TokenKind{store.KindAuthorizeCode, store.KindRefreshToken} {
		t.Run(string(kind), func(t *testing.T) {
			tok := f.token(kind, "sig-"+string(kind), "req-"+string(kind))
			access := f.token(store.KindAccessToken, "access-"+string(kind), tok.RequestID)
			for _, x := range []store.Token{tok, access} {
				if err := s.CreateToken(ctx, x); err != nil {
					t.Fatal(err)
				}
			}
			first, err := s.BeginTx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Rollback(first) //nolint:errcheck
			if got, err := s.GetToken(first, kind, tok.Signature); err != nil || !got.Active {
				t.Fatalf("first GetToken = active %v, %v", got.Active, err)
			}
			if err := s.DeactivateToken(first, kind, tok.Signature); err != nil {
				t.Fatal(err)
			}

			// Not locked: a plain read and a read of another kind return at
			// once, seeing the committed (still active) state.
			if got, err := s.GetToken(ctx, kind, tok.Signature); err != nil || !got.Active {
				t.Errorf("GetToken outside a tx = active %v, %v; want active without waiting", got.Active, err)
			}
			err = store.InTx(ctx, s, func(ctx context.Context) error {
				_, err := s.GetToken(ctx, store.KindAccessToken, access.Signature)
				return err
			})
			if err != nil {
				t.Errorf("GetToken of an access token in another tx: %v", err)
			}

			type result struct {
				active bool
				err    error
			}
			second := make(chan result, 1)
			go func() {
				var r result
				r.err = store.InTx(ctx, s, func(ctx context.Context) error {
					got, err := s.GetToken(ctx, kind, tok.Signature)
					r.active = got.Active
					return err
				})
				second <- r
			}()
			waitForLockWait(t, connect(t, dbURL))
			if err := s.Commit(first); err != nil {
				t.Fatal(err)
			}
			if r := <-second; r.err != nil || r.active {
				t.Errorf("second GetToken in tx = active %v, %v; want inactive after waiting", r.active, r.err)
			}
		})
	}
}

// The partial unique index allows one active and one next key, however many
// instances try at once.
func TestSigningKeyStateUniqueUnderConcurrency(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for _, state := range []store.KeyState{store.KeyActive, store.KeyNext} {
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.AddSigningKey(ctx, store.SigningKey{
					ID: uuid.NewString(), Algorithm: "RS256", State: state,
					PrivateKey: []byte{1}, PublicKey: json.RawMessage(`{}`), CreatedAt: time.Now(),
				})
			})
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
				t.Errorf("AddSigningKey %s: %v", state, err)
			}
		}
		if ok != 1 || conflicts != n-1 {
			t.Errorf("%d concurrent AddSigningKey %s: %d ok, %d ErrConflict; want 1 and %d", n, state, ok, conflicts, n-1)
		}
	}
	// A retired key is no signing key: AddSigningKey refuses it outright.
	err := s.AddSigningKey(ctx, store.SigningKey{ID: "old", Algorithm: "RS256", State: store.KeyRetired,
		PrivateKey: []byte{1}, PublicKey: json.RawMessage(`{}`), CreatedAt: time.Now()})
	if err == nil || errors.Is(err, store.ErrConflict) {
		t.Errorf("AddSigningKey retired = %v, want a non-conflict error", err)
	}
	keys, err := s.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Errorf("ListSigningKeys = %d keys, %v; want 2", len(keys), err)
	}
}

func TestRotateSigningKeysMismatchChangesNothing(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	now := time.Now()
	key := func(id string, state store.KeyState, age time.Duration) store.SigningKey {
		return store.SigningKey{ID: id, Algorithm: "RS256", State: state, PrivateKey: []byte(id),
			PublicKey: json.RawMessage(`{"kid":"` + id + `"}`), CreatedAt: now.Add(-age)}
	}
	for _, k := range []store.SigningKey{key("a", store.KeyActive, 2*time.Hour), key("n", store.KeyNext, time.Hour)} {
		if err := s.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name                     string
		expectActive, expectNext string
		newNext                  store.SigningKey
		want                     error
	}{
		{"wrong active", "x", "n", key("new1", store.KeyNext, 0), store.ErrConflict},
		{"wrong next", "a", "x", key("new2", store.KeyNext, 0), store.ErrConflict},
		{"new id taken", "a", "n", key("n", store.KeyNext, 0), store.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RotateSigningKeys(ctx, tc.expectActive, tc.expectNext, tc.newNext, now.Add(time.Hour))
			if !errors.Is(err, tc.want) {
				t.Fatalf("RotateSigningKeys = %v, want %v", err, tc.want)
			}
			keys, err := s.ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 2 || keys[0].ID != "a" || keys[0].State != store.KeyActive || keys[0].VerifyUntil != nil ||
				keys[1].ID != "n" || keys[1].State != store.KeyNext {
				t.Errorf("keys after a refused rotation: %+v", keys)
			}
		})
	}
}

func TestTransactionMisuse(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.Commit(ctx); err == nil {
		t.Error("Commit without a transaction succeeded")
	}
	if err := s.Rollback(ctx); err == nil {
		t.Error("Rollback without a transaction succeeded")
	}

	// A transaction of one store is not picked up by another: it names a
	// connection of the first store's pool.
	other, _ := newStore(t)
	tx, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Rollback(tx) //nolint:errcheck
	now := time.Now()
	if err := s.CreateClient(tx, store.Client{ID: "in-tx", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(tx); err == nil {
		t.Error("another store committed this store's transaction")
	}
	if _, err := other.GetClient(tx, "in-tx"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other store sees the client of this store's tx: %v", err)
	}
}

func TestTimesComeBackInUTC(t *testing.T) {
	s, _ := newStore(t)
	f := seed(t, s)
	ctx := t.Context()
	zone := time.FixedZone("UTC+5", 5*3600)
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, zone)
	f.user.LastLoginAt, f.user.ExpiresAt, f.user.UpdatedAt = &at, &at, at
	if err := s.UpdateUser(ctx, f.user); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := at.Truncate(time.Microsecond).UTC()
	for name, v := range map[string]time.Time{"UpdatedAt": got.UpdatedAt, "LastLoginAt": *got.LastLoginAt,
		"ExpiresAt": *got.ExpiresAt, "CreatedAt": got.CreatedAt} {
		if v.Location() != time.UTC {
			t.Errorf("%s in %s, want UTC", name, v.Location())
		}
		if name != "CreatedAt" && !v.Equal(want) {
			t.Errorf("%s = %s, want %s", name, v, want)
		}
	}
}

// DeleteExpiredTokens and friends delete at most limit rows per call.
func TestExpiryDeletesAreBounded(t *testing.T) {
	s, dbURL := newStore(t)
	f := seed(t, s)
	ctx := t.Context()
	past := time.Now().Add(-time.Hour)
	for i := range 5 {
		id := uuid.NewString()
		tok := f.token(store.KindAccessToken, id, "req-"+id)
		tok.ExpiresAt = past
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		ls := store.LoginSession{ID: id, UserID: f.user.ID, AuthTime: past, ExpiresAt: past, LastSeenAt: past}
		if err := s.CreateLoginSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkJWTIDUsed(ctx, id, past.Add(time.Duration(i)*time.Second), past.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	conn := connect(t, dbURL)
	deleters := []struct {
		table string
		fn    func(limit int) (int, error)
	}{
		{"oauth_tokens", func(n int) (int, error) { return s.DeleteExpiredTokens(ctx, now, n) }},
		{"login_sessions", func(n int) (int, error) { return s.DeleteExpiredLoginSessions(ctx, now, n) }},
		{"jwt_ids", func(n int) (int, error) { return s.DeleteExpiredJWTIDs(ctx, now, n) }},
	}
	for _, d := range deleters {
		t.Run(d.table, func(t *testing.T) {
			for i, want := range []int{0, 2, 2, 1, 0} {
				limit := 2
				if i == 0 {
					limit = 0
				}
				n, err := d.fn(limit)
				if err != nil || n != want {
					t.Fatalf("round %d (limit %d) = %d, %v; want %d", i, limit, n, err, want)
				}
			}
			var left int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+d.table).Scan(&left); err != nil || left != 0 {
				t.Errorf("%s rows left = %d, %v; want 0", d.table, left, err)
			}
		})
	}
	var grants int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM grants`).Scan(&grants); err != nil || grants != 0 {
		t.Errorf("grants left without tokens = %d, %v; want 0", grants, err)
	}
}

func TestNewDoesNotLeakPassword(t *testing.T) {
	for _, dbURL := range []string{
		"postgres://gatehouse:hunter2-secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
		"postgres://gatehouse:hunter2-secret@127.0.0.1:1/none?sslmode=bogus",
	} {
		_, err := postgres.New(t.Context(), dbURL)
		if err == nil {
			t.Fatalf("New(%q) succeeded", dbURL)
		}
		if strings.Contains(err.Error(), "hunter2-secret") {
			t.Errorf("New error leaks the password: %v", err)
		}
	}
}

// ListUsers' substring search must not read the query as a LIKE pattern.
func TestListUsersEscapesWildcards(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	now := time.Now()
	for _, name := range []string{"a_b", "axb", `a\b`, "a%b"} {
		u := store.User{ID: uuid.NewString(), Username: name, Email: uuid.NewString() + "@example.com",
			Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ query, want string }{{"a_b", "a_b"}, {`a\b`, `a\b`}, {"a%b", "a%b"}, {"AX", "axb"}}
	for _, tc := range tests {
		got, err := s.ListUsers(ctx, store.UserFilter{Query: tc.query})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Username != tc.want {
			var names []string
			for _, u := range got {
				names = append(names, u.Username)
			}
			t.Errorf("ListUsers(Query %q) = %q, want [%q]", tc.query, names, tc.want)
		}
	}
}

// Two updates of one user's roles: the second waits for the first and then
// replaces the roles the first committed, leaving exactly its own set.
func TestConcurrentUpdateUserReplacesRoles(t *testing.T) {
	s, dbURL := newStore(t)
	f := seed(t, s)
	ctx := t.Context()

	first, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Rollback(first) //nolint:errcheck
	a := f.user
	a.Roles = []string{"admin"}
	if err := s.UpdateUser(first, a); err != nil {
		t.Fatal(err)
	}

	secondErr := make(chan error, 1)
	go func() {
		b := f.user
		b.Roles = []string{"viewer"}
		secondErr <- s.UpdateUser(ctx, b)
	}()
	waitForLockWait(t, connect(t, dbURL))
	if err := s.Commit(first); err != nil {
		t.Fatal(err)
	}
	if err := <-secondErr; err != nil {
		t.Fatalf("second UpdateUser: %v", err)
	}
	got, err := s.GetUser(ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Roles) != 1 || got.Roles[0] != "viewer" {
		t.Errorf("roles after two updates = %q, want [viewer]", got.Roles)
	}
}

// PoolStats reports the pool as it is: a connection held by a transaction
// is acquired, and acquisitions are counted.
func TestPoolStats(t *testing.T) {
	s, _ := newStore(t)
	before := s.PoolStats()
	if before.MaxConns() < 1 || before.AcquireCount() < 1 {
		t.Fatalf("after New: max %d, acquires %d; want a sized pool that was pinged", before.MaxConns(), before.AcquireCount())
	}
	ctx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListRoles(ctx); err != nil {
		t.Fatal(err)
	}
	during := s.PoolStats()
	if err := s.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if during.AcquiredConns() != 1 || during.AcquireCount() <= before.AcquireCount() {
		t.Errorf("inside a transaction: acquired %d (want 1), acquires %d (want more than %d)",
			during.AcquiredConns(), during.AcquireCount(), before.AcquireCount())
	}
	if after := s.PoolStats(); after.AcquiredConns() != 0 {
		t.Errorf("after the rollback: acquired %d, want 0", after.AcquiredConns())
	}
}
