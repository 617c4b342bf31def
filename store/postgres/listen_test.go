package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// eventTimeout bounds every wait for a notification, so that a missing one
// fails the test rather than hanging it.
const eventTimeout = 10 * time.Second

// listening is one Listen call running in the background.
type listening struct {
	events chan store.ChangeEvent
	cancel context.CancelFunc
	done   chan error
}

func startListening(t *testing.T, s *postgres.Store) *listening {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listening{events: make(chan store.ChangeEvent, 64), cancel: cancel, done: make(chan error, 1)}
	go func() { l.done <- s.Listen(ctx, func(e store.ChangeEvent) { l.events <- e }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.done:
		case <-time.After(eventTimeout):
			t.Error("Listen did not return after its context was canceled")
		}
	})
	return l
}

func (l *listening) next(t *testing.T) store.ChangeEvent {
	t.Helper()
	select {
	case e := <-l.events:
		return e
	case <-time.After(eventTimeout):
		t.Fatalf("no change event within %v", eventTimeout)
		return store.ChangeEvent{}
	}
}

// nextN returns n events sorted, for writes whose notifications come in
// an order the test does not care about.
func (l *listening) nextN(t *testing.T, n int) []store.ChangeEvent {
	t.Helper()
	out := make([]store.ChangeEvent, 0, n)
	for range n {
		out = append(out, l.next(t))
	}
	sortEvents(out)
	return out
}

func sortEvents(es []store.ChangeEvent) {
	slices.SortFunc(es, func(a, b store.ChangeEvent) int {
		return strings.Compare(string(a.Kind)+"\x00"+a.ID, string(b.Kind)+"\x00"+b.ID)
	})
}

func client(id string) store.Client {
	now := time.Now()
	return store.Client{ID: id, TokenEndpointAuthMethod: "none", Public: true, CreatedAt: now, UpdatedAt: now}
}

func signingKey(id string, state store.KeyState) store.SigningKey {
	return store.SigningKey{ID: id, Algorithm: "RS256", State: state, PrivateKey: []byte{1},
		PublicKey: json.RawMessage(`{}`), CreatedAt: time.Now()}
}

// Every write to clients, roles and signing keys is delivered once
// committed, with its kind and id; other tables and rolled-back writes are
// not.
func TestListenDeliversChanges(t *testing.T) {
	s, dbURL := newStore(t)
	ctx := t.Context()
	l := startListening(t, s)
	if e := l.next(t); e.Kind != store.ChangeAll {
		t.Fatalf("first event = %+v, want ChangeAll on connecting", e)
	}
	conn := connect(t, dbURL)
	longID := strings.Repeat("x", 2000)

	tests := []struct {
		name  string
		write func() error
		want  []store.ChangeEvent
	}{
		{"client created", func() error { return s.CreateClient(ctx, client("web")) },
			[]store.ChangeEvent{{Kind: store.ChangeClient, ID: "web"}}},
		{"client updated", func() error {
			c := client("web")
			c.Name = "Web"
			return s.UpdateClient(ctx, c)
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: "web"}}},
		{"client deleted", func() error { return s.DeleteClient(ctx, "web") },
			[]store.ChangeEvent{{Kind: store.ChangeClient, ID: "web"}}},
		{"role created", func() error {
			return s.CreateRole(ctx, store.Role{Name: "trader", Parent: "user", CreatedAt: time.Now(), UpdatedAt: time.Now()})
		}, []store.ChangeEvent{{Kind: store.ChangeRole, ID: "trader"}}},
		{"role updated", func() error {
			return s.UpdateRole(ctx, store.Role{Name: "trader", Description: "Trades", Parent: "user", UpdatedAt: time.Now()})
		}, []store.ChangeEvent{{Kind: store.ChangeRole, ID: "trader"}}},
		{"role deleted", func() error { return s.DeleteRole(ctx, "trader") },
			[]store.ChangeEvent{{Kind: store.ChangeRole, ID: "trader"}}},
		{"active key added", func() error { return s.AddSigningKey(ctx, signingKey("k1", store.KeyActive)) },
			[]store.ChangeEvent{{Kind: store.ChangeSigningKey, ID: "k1"}}},
		{"next key added", func() error { return s.AddSigningKey(ctx, signingKey("k2", store.KeyNext)) },
			[]store.ChangeEvent{{Kind: store.ChangeSigningKey, ID: "k2"}}},
		{"keys rotated", func() error {
			return s.RotateSigningKeys(ctx, "k1", "k2", signingKey("k3", store.KeyNext), time.Now().Add(time.Hour))
		}, []store.ChangeEvent{
			{Kind: store.ChangeSigningKey, ID: "k1"}, {Kind: store.ChangeSigningKey, ID: "k2"},
			{Kind: store.ChangeSigningKey, ID: "k3"},
		}},
		{"retired key deleted", func() error {
			_, err := s.DeleteRetiredSigningKeys(ctx, time.Now().Add(2*time.Hour))
			return err
		}, []store.ChangeEvent{{Kind: store.ChangeSigningKey, ID: "k1"}}},
		{"two writes in one transaction", func() error {
			return store.InTx(ctx, s, func(ctx context.Context) error {
				if err := s.CreateClient(ctx, client("a")); err != nil {
					return err
				}
				return s.CreateClient(ctx, client("b"))
			})
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: "a"}, {Kind: store.ChangeClient, ID: "b"}}},
		{"a rolled-back write is not delivered", func() error {
			txCtx, err := s.BeginTx(ctx)
			if err != nil {
				return err
			}
			if err := s.CreateClient(txCtx, client("ghost")); err != nil {
				return err
			}
			if err := s.Rollback(txCtx); err != nil {
				return err
			}
			// The next event must be this one, not the ghost's.
			return s.CreateClient(ctx, client("real"))
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: "real"}}},
		{"other tables are not reported", func() error {
			now := time.Now()
			if err := s.CreateUser(ctx, store.User{ID: uuid.NewString(), Username: "alice", Email: "alice@example.com",
				Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return s.CreateClient(ctx, client("after-user"))
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: "after-user"}}},
		{"an id too long for a notification names the whole kind", func() error {
			return s.CreateClient(ctx, client(longID))
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: ""}}},
		{"a change made outside gatehouse", func() error {
			_, err := conn.Exec(ctx, `UPDATE roles SET description = 'edited in psql' WHERE name = 'viewer'`)
			return err
		}, []store.ChangeEvent{{Kind: store.ChangeRole, ID: "viewer"}}},
		{"truncate names the whole kind", func() error {
			_, err := conn.Exec(ctx, `TRUNCATE signing_keys`)
			return err
		}, []store.ChangeEvent{{Kind: store.ChangeSigningKey, ID: ""}}},
	}
	for _, tc := range tests {
		if err := tc.write(); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		got := l.nextN(t, len(tc.want))
		sortEvents(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: events %+v, want %+v", tc.name, got, tc.want)
		}
	}
	select {
	case e := <-l.events:
		t.Errorf("unexpected extra event %+v", e)
	default:
	}
}

// listenerPIDs returns the backends of the database's listener connections.
func listenerPIDs(t *testing.T, conn *pgx.Conn) []int32 {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'gatehouse-listener' ORDER BY pid`)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// A listener whose connection is killed reconnects, says that everything
// may have changed (it missed whatever happened meanwhile), and goes on
// delivering.
func TestListenReconnects(t *testing.T) {
	s, dbURL := newStore(t)
	ctx := t.Context()
	conn := connect(t, dbURL)
	l := startListening(t, s)
	if e := l.next(t); e.Kind != store.ChangeAll {
		t.Fatalf("first event = %+v, want ChangeAll", e)
	}

	for round := 1; round <= 2; round++ {
		pids := listenerPIDs(t, conn)
		if len(pids) != 1 {
			t.Fatalf("round %d: %d listener connections %v, want 1", round, len(pids), pids)
		}
		var killed bool
		if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pids[0]).Scan(&killed); err != nil || !killed {
			t.Fatalf("round %d: pg_terminate_backend: %v, %v", round, killed, err)
		}
		// The loss is announced first: the introspection cache stops
		// serving until the reconnection's ChangeAll.
		if e := l.next(t); e.Kind != store.ChangeFeedLost {
			t.Fatalf("round %d: after the connection was killed: %+v, want ChangeFeedLost", round, e)
		}
		if e := l.next(t); e.Kind != store.ChangeAll {
			t.Fatalf("round %d: after the loss: %+v, want ChangeAll", round, e)
		}
		id := fmt.Sprintf("after-reconnect-%d", round)
		if err := s.CreateClient(ctx, client(id)); err != nil {
			t.Fatal(err)
		}
		if e := l.next(t); e != (store.ChangeEvent{Kind: store.ChangeClient, ID: id}) {
			t.Errorf("round %d: after reconnecting: %+v, want client %s", round, e, id)
		}
		if now := listenerPIDs(t, conn); len(now) != 1 || now[0] == pids[0] {
			t.Errorf("round %d: listener connections %v after reconnecting, want one new one (was %d)", round, now, pids[0])
		}
	}
}

// Canceling the context ends Listen and its connection, whether it is
// listening or has not started.
func TestListenStopsWhenCanceled(t *testing.T) {
	s, dbURL := newStore(t)
	conn := connect(t, dbURL)

	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan store.ChangeEvent, 8)
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, func(e store.ChangeEvent) { events <- e }) }()
	select {
	case e := <-events:
		if e.Kind != store.ChangeAll {
			t.Fatalf("first event = %+v, want ChangeAll", e)
		}
	case <-time.After(eventTimeout):
		t.Fatal("Listen did not connect")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Listen after cancel = %v, want nil", err)
		}
	case <-time.After(eventTimeout):
		t.Fatal("Listen did not return after its context was canceled")
	}
	// The backend ends a moment after the client hangs up.
	deadline := time.Now().Add(eventTimeout)
	for len(listenerPIDs(t, conn)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("listener connection %v still open after Listen returned", listenerPIDs(t, conn))
		}
		time.Sleep(10 * time.Millisecond)
	}

	t.Run("already canceled", func(t *testing.T) {
		called := false
		if err := s.Listen(ctx, func(store.ChangeEvent) { called = true }); err != nil {
			t.Errorf("Listen = %v, want nil", err)
		}
		if called {
			t.Error("Listen with a canceled context delivered an event")
		}
	})
}
