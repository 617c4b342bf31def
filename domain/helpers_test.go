package domain_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeclock.Clock // shared by the store and the service
	store *memory.Store
	svc   *domain.Service
}

// admin is the actor of the setup steps; tests look for other actors.
var admin = domain.Actor{Type: store.ActorUser, ID: "00000000-0000-0000-0000-00000000a0a0", IP: "192.0.2.1"}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		// The lowest cost keeps the tests fast; Verify's re-hash rule is
		// tested with a hash of another cost.
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:       c.Now,
	})
	return &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
}

const goodPassword = "correct horse battery staple"

// user creates a user with a password and the given roles (status active
// with roles, pending without).
func (e *env) user(username string, roles ...string) store.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{
		Username: username,
		Email:    username + "@example.com",
		Password: goodPassword,
		FullName: "Test " + strings.ToUpper(username[:1]) + username[1:],
		Roles:    roles,
	})
	if err != nil {
		e.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func (e *env) principal(u store.User) domain.Principal {
	e.t.Helper()
	u, err := e.svc.GetUser(e.ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.UserPrincipal(e.ctx, u)
	if err != nil {
		e.t.Fatalf("principal of %s: %v", u.Username, err)
	}
	return p
}

// audit returns every entry, oldest first.
func (e *env) audit() []store.AuditEntry {
	e.t.Helper()
	out, err := e.svc.ListAudit(e.ctx, store.AuditFilter{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(out)
	return out
}

// lastID is the id of the newest audit entry (0 if none), to look at what
// one step added.
func (e *env) lastID() int64 {
	e.t.Helper()
	all := e.audit()
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].ID
}

// since returns the entries after id, oldest first.
func (e *env) since(id int64) []store.AuditEntry {
	e.t.Helper()
	var out []store.AuditEntry
	for _, a := range e.audit() {
		if a.ID > id {
			out = append(out, a)
		}
	}
	return out
}

// changes decodes an entry's Changes.
func changesOf(t *testing.T, a store.AuditEntry) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	if len(a.Changes) == 0 {
		return out
	}
	if err := json.Unmarshal(a.Changes, &out); err != nil {
		t.Fatalf("changes of %s: %v (%s)", a.Action, err, a.Changes)
	}
	return out
}

// fields returns the field names of a validation error, in order.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	v, ok := domain.AsValidation(err)
	if !ok {
		t.Fatalf("want a *domain.ValidationError, got %T: %v", err, err)
	}
	var out []string
	for _, e := range v.Fields {
		out = append(out, e.Field)
	}
	return out
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("want %v, got %v", target, err)
	}
}

func ptr[T any](v T) *T { return &v }

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// actions are the audit entries' actions, in order.
func actions(entries []store.AuditEntry) []string {
	out := make([]string, len(entries))
	for i, a := range entries {
		out[i] = a.Action
	}
	return out
}
