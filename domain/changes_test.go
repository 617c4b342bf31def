package domain_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// changeLog records what the service reports through OnChange.
type changeLog struct {
	mu     sync.Mutex
	events []store.ChangeEvent
}

func (l *changeLog) add(e store.ChangeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the events reported since the last take.
func (l *changeLog) take() []store.ChangeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

type cacheEnv struct {
	ctx     context.Context
	mem     *memory.Store
	st      *countingStore
	svc     *domain.Service
	changes *changeLog
}

func newCacheEnv(t *testing.T) *cacheEnv {
	t.Helper()
	mem := memory.New()
	st := &countingStore{Store: mem}
	changes := &changeLog{}
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		OnChange:  changes.add,
	})
	return &cacheEnv{ctx: context.Background(), mem: mem, st: st, svc: svc, changes: changes}
}

func (e *cacheEnv) effectiveRoles(t *testing.T, names ...string) []string {
	t.Helper()
	roles, err := e.svc.EffectiveRoles(e.ctx, store.User{Roles: names})
	if err != nil {
		t.Fatalf("EffectiveRoles: %v", err)
	}
	return roles
}

// Role definitions are read once and kept until something says they
// changed: the service's own writes at once, other writers through
// Invalidate.
func TestRoleDefinitionsAreCached(t *testing.T) {
	e := newCacheEnv(t)
	if got := e.effectiveRoles(t, "user"); !slices.Equal(got, []string{"user", "viewer"}) {
		t.Fatalf("effective roles of user = %v", got)
	}
	e.effectiveRoles(t, "manager")
	if _, err := e.svc.ClientPrincipal(e.ctx, store.Client{ID: "svc", Roles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	if n := e.st.listRoles.Load(); n != 1 {
		t.Errorf("three expansions listed the roles %d times, want 1", n)
	}

	// Another process adds a role: not seen until it is reported.
	if err := e.mem.CreateRole(e.ctx, store.Role{Name: "trader", Parent: "user"}); err != nil {
		t.Fatal(err)
	}
	if got := e.effectiveRoles(t, "trader"); len(got) != 0 {
		t.Fatalf("a role created behind the service's back was seen at once (%v): the roles are not cached", got)
	}
	e.svc.Invalidate(store.ChangeEvent{Kind: store.ChangeClient, ID: "trader"})
	if got := e.effectiveRoles(t, "trader"); len(got) != 0 {
		t.Errorf("a client change dropped the role cache: %v", got)
	}
	for _, ev := range []store.ChangeEvent{{Kind: store.ChangeRole, ID: "trader"}, {Kind: store.ChangeAll}} {
		if err := e.mem.UpdateRole(e.ctx, store.Role{Name: "trader", Description: string(ev.Kind), Parent: "user"}); err != nil {
			t.Fatal(err)
		}
		before := e.st.listRoles.Load()
		e.svc.Invalidate(ev)
		if got := e.effectiveRoles(t, "trader"); !slices.Equal(got, []string{"trader", "user", "viewer"}) {
			t.Errorf("after Invalidate(%+v): effective roles %v, want trader, user, viewer", ev, got)
		}
		if n := e.st.listRoles.Load() - before; n != 1 {
			t.Errorf("after Invalidate(%+v): %d role listings, want 1", ev, n)
		}
	}
	if got := e.changes.take(); len(got) != 0 {
		t.Errorf("OnChange reported %v for changes the service did not make", got)
	}
}

// The service's own role writes are seen by the next expansion, and
// reported once committed.
func TestRoleWritesInvalidateAtOnce(t *testing.T) {
	e := newCacheEnv(t)
	e.effectiveRoles(t, "user") // fill the cache

	steps := []struct {
		name  string
		write func() error
		roles []string // effective roles of a holder of "desk"
		want  []store.ChangeEvent
	}{
		{"create", func() error {
			_, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "desk", Parent: "viewer"})
			return err
		}, []string{"desk", "viewer"}, []store.ChangeEvent{{Kind: store.ChangeRole, ID: "desk"}}},
		{"update", func() error {
			_, err := e.svc.UpdateRole(e.ctx, admin, "desk", domain.RolePatch{Parent: ptr("user")})
			return err
		}, []string{"desk", "user", "viewer"}, []store.ChangeEvent{{Kind: store.ChangeRole, ID: "desk"}}},
		{"import", func() error {
			_, _, err := e.svc.ImportRoles(e.ctx, admin, []byte("roles:\n- name: desk\n  parent: manager\n"))
			return err
		}, []string{"desk", "manager", "user", "viewer"}, []store.ChangeEvent{{Kind: store.ChangeRole}}},
		{"delete", func() error { return e.svc.DeleteRole(e.ctx, admin, "desk") },
			[]string{}, []store.ChangeEvent{{Kind: store.ChangeRole, ID: "desk"}}},
		{"refused write reports nothing", func() error {
			if err := e.svc.DeleteRole(e.ctx, admin, "admin"); err == nil {
				t.Error("deleting a built-in role succeeded")
			}
			return nil
		}, []string{}, nil},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := e.effectiveRoles(t, "desk"); !slices.Equal(got, st.roles) {
			t.Errorf("%s: effective roles %v, want %v", st.name, got, st.roles)
		}
		if got := e.changes.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s: OnChange got %+v, want %+v", st.name, got, st.want)
		}
	}
}

// Validating a write reads the roles afresh, not from the cache: a parent
// created by another process is found.
func TestRoleValidationBypassesTheCache(t *testing.T) {
	e := newCacheEnv(t)
	e.effectiveRoles(t, "user") // fill the cache
	if err := e.mem.CreateRole(e.ctx, store.Role{Name: "desk", Parent: "viewer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "desk-lead", Parent: "desk"}); err != nil {
		t.Errorf("create a role whose parent another process created: %v", err)
	}
}

// Client writes are reported once committed, so that the provider's
// client cache drops them; failed ones are not.
func TestClientWritesAreReported(t *testing.T) {
	e := newCacheEnv(t)
	id := webClient().ID
	steps := []struct {
		name  string
		write func() error
		want  []store.ChangeEvent
	}{
		{"create", func() error {
			_, _, err := e.svc.CreateClient(e.ctx, admin, webClient())
			return err
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: id}}},
		{"update", func() error {
			_, err := e.svc.UpdateClient(e.ctx, admin, id, domain.ClientPatch{Name: ptr("Renamed")})
			return err
		}, []store.ChangeEvent{{Kind: store.ChangeClient, ID: id}}},
		{"refused update", func() error {
			if _, err := e.svc.UpdateClient(e.ctx, admin, "nobody", domain.ClientPatch{Name: ptr("x")}); err == nil {
				t.Error("updating a missing client succeeded")
			}
			return nil
		}, nil},
		{"delete", func() error { return e.svc.DeleteClient(e.ctx, admin, id) },
			[]store.ChangeEvent{{Kind: store.ChangeClient, ID: id}}},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := e.changes.take(); !slices.Equal(got, st.want) {
			t.Errorf("%s: OnChange got %+v, want %+v", st.name, got, st.want)
		}
	}
}
