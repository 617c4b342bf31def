package domain_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// Two admins demoting each other at the same moment: exactly one wins, and
// an active admin remains, on both stores.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Store{
		"memory": func(*testing.T) store.Store { return memory.New() },
		"postgres": func(t *testing.T) store.Store {
			st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatalf("postgres.New: %v", err)
			}
			t.Cleanup(st.Close)
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			svc := domain.NewService(st, domain.Options{Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost}})
			ctx := context.Background()
			op := domain.Operator(domain.CLIActor())
			for round := range 10 {
				var ids [2]string
				for i := range ids {
					u, err := svc.CreateUser(ctx, admin, domain.NewUser{
						Username: fmt.Sprintf("adm-%d-%d", round, i), Email: fmt.Sprintf("adm-%d-%d@example.com", round, i),
						Password: goodPassword, Roles: []string{"admin"},
					})
					if err != nil {
						t.Fatal(err)
					}
					ids[i] = u.ID
				}
				errs := race(
					func() error { _, err := svc.SetUserRoles(ctx, op, ids[0], []string{"manager"}); return err },
					func() error { _, err := svc.SetUserRoles(ctx, op, ids[1], []string{"manager"}); return err },
				)
				won := 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case !errors.Is(err, store.ErrConflict):
						t.Fatalf("round %d: %v", round, err)
					}
				}
				if won != 1 {
					t.Fatalf("round %d: %d demotions succeeded (%v), want exactly 1", round, won, errs)
				}
				left := ids[0]
				if errs[0] == nil {
					left = ids[1]
				}
				u, err := svc.GetUser(ctx, left)
				if err != nil || len(u.Roles) != 1 || u.Roles[0] != "admin" {
					t.Fatalf("round %d: the remaining admin is %+v (%v)", round, u, err)
				}
				// Start the next round with no admin: demote the survivor
				// in the store, beneath the rule under test.
				u.Roles = []string{"manager"}
				if err := st.UpdateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
