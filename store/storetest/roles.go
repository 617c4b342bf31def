package storetest

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var roleTests = []subtest{
	{"BuiltIn", testRolesBuiltIn},
	{"CreateGet", testRoleCreateGet},
	{"Update", testRoleUpdate},
	{"Delete", testRoleDelete},
	{"Lock", testRoleLock},
}

// sortedPermissions makes the comparison of built-in roles independent of
// the order the migration lists permissions in.
func sortedPermissions(r store.Role) store.Role {
	r.Permissions = slices.Sorted(slices.Values(r.Permissions))
	return r
}

func testRolesBuiltIn(f *fixture) {
	want := store.BuiltInRoles()
	slices.SortFunc(want, func(a, b store.Role) int { return strings.Compare(a.Name, b.Name) })

	got, err := f.s.ListRoles(f.ctx)
	f.must(err, "ListRoles")
	if len(got) != len(want) {
		f.t.Fatalf("ListRoles returned %d roles, want the %d built-in ones", len(got), len(want))
	}
	for i := range want {
		f.equal("built-in role "+want[i].Name, sortedPermissions(got[i]), sortedPermissions(want[i]), "CreatedAt", "UpdatedAt")
		one, err := f.s.GetRole(f.ctx, want[i].Name)
		f.must(err, "GetRole %s", want[i].Name)
		f.equal("GetRole "+want[i].Name, sortedPermissions(one), sortedPermissions(want[i]), "CreatedAt", "UpdatedAt")
		if one.CreatedAt.IsZero() || one.UpdatedAt.IsZero() {
			f.t.Errorf("built-in role %s has no CreatedAt/UpdatedAt", one.Name)
		}
	}
}

func (f *fixture) newRole(name, parent string) store.Role {
	return store.Role{
		Name:           name,
		Description:    "Trades things.",
		Parent:         parent,
		Permissions:    []string{"trades:write", "trades:read"},
		SuggestedGoals: []string{"close the quarter", "learn the desk"},
		CreatedAt:      f.at(-time.Hour),
		UpdatedAt:      f.at(-time.Minute),
	}
}

func testRoleCreateGet(f *fixture) {
	r := f.newRole("trader", "user")
	f.must(f.s.CreateRole(f.ctx, r), "CreateRole")
	got, err := f.s.GetRole(f.ctx, "trader")
	f.must(err, "GetRole")
	f.equal("role", got, r)

	bare := store.Role{Name: "bare", CreatedAt: f.now, UpdatedAt: f.now}
	f.must(f.s.CreateRole(f.ctx, bare), "CreateRole without parent and lists")
	got, err = f.s.GetRole(f.ctx, "bare")
	f.must(err, "GetRole")
	f.equal("bare role", got, bare)

	f.wantErr(f.s.CreateRole(f.ctx, f.newRole("trader", "")), store.ErrConflict, "CreateRole with a taken name")
	f.wantErr(f.s.CreateRole(f.ctx, f.newRole("admin", "")), store.ErrConflict, "CreateRole with a built-in name")
	f.wantErr(f.s.CreateRole(f.ctx, f.newRole("orphan", "no-such-role")), store.ErrNotFound, "CreateRole with an unknown parent")
	_, err = f.s.GetRole(f.ctx, "orphan")
	f.wantErr(err, store.ErrNotFound, "GetRole of the refused role")
	_, err = f.s.GetRole(f.ctx, "no-such-role")
	f.wantErr(err, store.ErrNotFound, "GetRole unknown")

	list, err := f.s.ListRoles(f.ctx)
	f.must(err, "ListRoles")
	var names []string
	for _, r := range list {
		names = append(names, r.Name)
	}
	f.equal("ListRoles names", names, []string{"admin", "bare", "manager", "trader", "user", "viewer"})
}

func testRoleUpdate(f *fixture) {
	r := f.newRole("trader", "user")
	f.must(f.s.CreateRole(f.ctx, r), "CreateRole")
	f.must(f.s.CreateRole(f.ctx, f.newRole("desk", "")), "CreateRole")

	upd := store.Role{
		Name:           "trader",
		Description:    "Trades more things.",
		Parent:         "desk",
		Permissions:    []string{"trades:read"},
		SuggestedGoals: nil,
		UpdatedAt:      f.now,
	}
	f.must(f.s.UpdateRole(f.ctx, upd), "UpdateRole")
	got, err := f.s.GetRole(f.ctx, "trader")
	f.must(err, "GetRole")
	want := upd
	want.CreatedAt = r.CreatedAt
	f.equal("updated role", got, want, "UpdatedAt")

	// Dropping the parent.
	upd.Parent = ""
	f.must(f.s.UpdateRole(f.ctx, upd), "UpdateRole without parent")
	got, err = f.s.GetRole(f.ctx, "trader")
	f.must(err, "GetRole")
	if got.Parent != "" {
		f.t.Errorf("Parent = %q after removing it", got.Parent)
	}

	before := got
	bad := upd
	bad.Parent = "no-such-role"
	bad.Description = "must not be stored"
	f.wantErr(f.s.UpdateRole(f.ctx, bad), store.ErrNotFound, "UpdateRole with an unknown parent")
	got, err = f.s.GetRole(f.ctx, "trader")
	f.must(err, "GetRole")
	f.equal("role after a refused update", got, before)

	f.wantErr(f.s.UpdateRole(f.ctx, f.newRole("no-such-role", "")), store.ErrNotFound, "UpdateRole unknown")
	_, err = f.s.GetRole(f.ctx, "no-such-role")
	f.wantErr(err, store.ErrNotFound, "UpdateRole of an unknown role created it")

	// A built-in role stays built in when updated.
	admin, err := f.s.GetRole(f.ctx, "admin")
	f.must(err, "GetRole admin")
	admin.Description = "Changed."
	f.must(f.s.UpdateRole(f.ctx, admin), "UpdateRole admin")
	got, err = f.s.GetRole(f.ctx, "admin")
	f.must(err, "GetRole admin")
	if !got.BuiltIn || got.Description != "Changed." {
		f.t.Errorf("admin after update: BuiltIn=%v Description=%q", got.BuiltIn, got.Description)
	}
}

func testRoleDelete(f *fixture) {
	f.must(f.s.CreateRole(f.ctx, f.newRole("desk", "")), "CreateRole desk")
	f.must(f.s.CreateRole(f.ctx, f.newRole("trader", "desk")), "CreateRole trader")
	f.must(f.s.CreateRole(f.ctx, f.newRole("lonely", "viewer")), "CreateRole lonely")
	u := f.newUser()
	u.Roles = []string{"trader"}
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")

	cases := []struct {
		name, role string
		want       error
	}{
		{"unknown", "no-such-role", store.ErrNotFound},
		{"built in", "viewer", store.ErrConflict},
		{"built in without children", "admin", store.ErrConflict},
		{"parent of another", "desk", store.ErrConflict},
		{"assigned to a user", "trader", store.ErrConflict},
		{"unused", "lonely", nil},
	}
	for _, tc := range cases {
		f.wantErr(f.s.DeleteRole(f.ctx, tc.role), tc.want, "DeleteRole %s (%s)", tc.role, tc.name)
	}
	for _, name := range []string{"viewer", "admin", "desk", "trader"} {
		_, err := f.s.GetRole(f.ctx, name)
		f.wantErr(err, nil, "GetRole %s after a refused delete", name)
	}
	_, err := f.s.GetRole(f.ctx, "lonely")
	f.wantErr(err, store.ErrNotFound, "GetRole after delete")

	// Once unassigned and childless, they may go.
	u.Roles = nil
	f.must(f.s.UpdateUser(f.ctx, u), "UpdateUser")
	f.wantErr(f.s.DeleteRole(f.ctx, "trader"), nil, "DeleteRole trader once unassigned")
	f.wantErr(f.s.DeleteRole(f.ctx, "desk"), nil, "DeleteRole desk once childless")
	f.wantErr(f.s.DeleteRole(f.ctx, "desk"), store.ErrNotFound, "DeleteRole twice")

	// Deleting the user frees its roles too.
	u2 := f.newUser()
	f.must(f.s.CreateRole(f.ctx, f.newRole("temp", "")), "CreateRole temp")
	u2.Roles = []string{"temp", "viewer"}
	f.must(f.s.CreateUser(f.ctx, u2), "CreateUser")
	f.wantErr(f.s.DeleteRole(f.ctx, "temp"), store.ErrConflict, "DeleteRole temp while assigned")
	f.must(f.s.DeleteUser(f.ctx, u2.ID), "DeleteUser")
	f.wantErr(f.s.DeleteRole(f.ctx, "temp"), nil, "DeleteRole temp after its user was deleted")
}

// testRoleLock: a second transaction's LockRoles waits for the first
// transaction to end and then reads what it committed, which is what makes
// the domain's cycle check hold at the write.
func testRoleLock(f *fixture) {
	if err := f.s.LockRoles(f.ctx); err == nil {
		f.t.Error("LockRoles without a transaction succeeded")
	}
	f.must(f.s.CreateRole(f.ctx, f.newRole("desk", "")), "CreateRole")

	first, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	defer f.s.Rollback(first)
	f.must(f.s.LockRoles(first), "LockRoles")

	ctx, cancel := context.WithTimeout(f.ctx, concurrentDeadline)
	defer cancel()
	type result struct {
		parent string
		err    error
	}
	locked := make(chan result, 1)
	go func() {
		locked <- func() result {
			second, err := f.s.BeginTx(ctx)
			if err != nil {
				return result{err: err}
			}
			defer f.s.Rollback(second)
			if err := f.s.LockRoles(second); err != nil {
				return result{err: err}
			}
			r, err := f.s.GetRole(second, "desk")
			return result{parent: r.Parent, err: err}
		}()
	}()

	// Long enough for a backend without the lock to have answered; with
	// it the second transaction simply waits.
	select {
	case r := <-locked:
		f.t.Fatalf("a second LockRoles returned (%+v) while the first transaction held the lock", r)
	case <-time.After(5 * holdWindow):
	}
	desk := f.newRole("desk", "viewer")
	f.must(f.s.UpdateRole(first, desk), "UpdateRole")
	f.must(f.s.Commit(first), "Commit")

	select {
	case r := <-locked:
		f.must(r.err, "second transaction")
		if r.parent != "viewer" {
			f.t.Errorf("after the lock the second transaction read parent %q, want the committed %q", r.parent, "viewer")
		}
	case <-ctx.Done():
		f.t.Fatal("the second LockRoles still waits after the first transaction committed")
	}
}
