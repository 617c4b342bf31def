package domain_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// Two edits that each keep the hierarchy acyclic can make a cycle together
// (a -> b and b -> a): the cycle check must see the other edit, whichever
// store holds the roles.
func TestConcurrentParentEditsKeepTheHierarchyAcyclic(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"memory", func(t *testing.T) store.Store { return memory.New() }},
		{"postgres", func(t *testing.T) store.Store {
			st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatalf("postgres.New: %v", err)
			}
			t.Cleanup(st.Close)
			return st
		}},
	}
	// The two edits of a round, by the way each reaches the store.
	edits := []struct {
		name string
		a, b func(ctx context.Context, svc *domain.Service, a, b string) error
	}{
		{"update and update", updateParent, updateParent},
		{"update and import", updateParent, importParent},
	}
	const rounds = 40
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			st := be.open(t)
			svc := domain.NewService(st, domain.Options{Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost}})
			ctx := context.Background()
			for k, ed := range edits {
				t.Run(ed.name, func(t *testing.T) {
					for round := range rounds {
						a, b := fmt.Sprintf("ra-%d-%d", k, round), fmt.Sprintf("rb-%d-%d", k, round)
						for _, n := range []string{a, b} {
							if _, err := svc.CreateRole(ctx, admin, store.Role{Name: n}); err != nil {
								t.Fatal(err)
							}
						}
						errs := race(
							func() error { return ed.a(ctx, svc, a, b) },
							func() error { return ed.b(ctx, svc, b, a) },
						)
						won := 0
						for i, err := range errs {
							if err == nil {
								won++
								continue
							}
							if _, ok := domain.AsValidation(err); !ok {
								t.Fatalf("round %d: edit %d failed with %v, want a validation error", round, i, err)
							}
						}
						if won != 1 {
							t.Fatalf("round %d: %d of 2 edits succeeded (%v), want exactly 1", round, won, errs)
						}
						roles, err := svc.ListRoles(ctx)
						if err != nil {
							t.Fatal(err)
						}
						if c := cycle(roles); c != nil {
							t.Fatalf("round %d: the hierarchy has a cycle: %v", round, c)
						}
					}
				})
			}
		})
	}
}

func updateParent(ctx context.Context, svc *domain.Service, role, parent string) error {
	_, err := svc.UpdateRole(ctx, admin, role, domain.RolePatch{Parent: &parent})
	return err
}

func importParent(ctx context.Context, svc *domain.Service, role, parent string) error {
	doc := fmt.Sprintf("roles:\n  - name: %s\n    parent: %s\n", role, parent)
	_, _, err := svc.ImportRoles(ctx, admin, []byte(doc))
	return err
}

// race runs the functions at once, as close together as goroutines allow,
// and returns their errors in order.
func race(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i, fn := range fns {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn()
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// cycle returns the roles of a cycle in the hierarchy, or nil.
func cycle(roles []store.Role) []string {
	parent := map[string]string{}
	for _, r := range roles {
		parent[r.Name] = r.Parent
	}
	for _, r := range roles {
		var path []string
		for n := r.Name; n != ""; n = parent[n] {
			if slices.Contains(path, n) {
				return append(path, n)
			}
			path = append(path, n)
		}
	}
	return nil
}
