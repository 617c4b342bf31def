package storetest

import (
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var permissionTests = []subtest{
	{"CustomPermissionCRUD", testCustomPermissionCRUD},
	{"RoleExpiryRoundTrip", testRoleExpiryRoundTrip},
	{"DeniedPermissionsRoundTrip", testDeniedPermissionsRoundTrip},
	{"DeleteExpiredRoleGrants", testDeleteExpiredRoleGrants},
}

func testCustomPermissionCRUD(f *fixture) {
	p := store.Permission{Name: "models:use", Description: "Calls the models.", CreatedAt: f.now, UpdatedAt: f.now}
	f.must(f.s.CreatePermission(f.ctx, p), "CreatePermission")
	f.wantErr(f.s.CreatePermission(f.ctx, p), store.ErrConflict, "CreatePermission twice")
	got, err := f.s.GetPermission(f.ctx, "models:use")
	f.must(err, "GetPermission")
	f.equal("permission", got, p)
	_, err = f.s.GetPermission(f.ctx, "reports:export")
	f.wantErr(err, store.ErrNotFound, "GetPermission unknown")

	f.must(f.s.CreatePermission(f.ctx, store.Permission{Name: "a:b", CreatedAt: f.now, UpdatedAt: f.now}), "CreatePermission a:b")
	list, err := f.s.ListPermissions(f.ctx)
	f.must(err, "ListPermissions")
	if len(list) != 2 || list[0].Name != "a:b" || list[1].Name != "models:use" {
		f.t.Errorf("ListPermissions = %+v, want a:b then models:use", list)
	}

	p.Description, p.UpdatedAt = "Changed.", f.at(time.Minute)
	f.must(f.s.UpdatePermission(f.ctx, p), "UpdatePermission")
	got, err = f.s.GetPermission(f.ctx, "models:use")
	f.must(err, "GetPermission after update")
	f.equal("permission after update", got, p)
	f.wantErr(f.s.UpdatePermission(f.ctx, store.Permission{Name: "no:such"}), store.ErrNotFound, "UpdatePermission unknown")

	f.must(f.s.DeletePermission(f.ctx, "models:use"), "DeletePermission")
	f.wantErr(f.s.DeletePermission(f.ctx, "models:use"), store.ErrNotFound, "DeletePermission twice")
	_, err = f.s.GetPermission(f.ctx, "models:use")
	f.wantErr(err, store.ErrNotFound, "GetPermission after delete")
}

// wantExpiry checks u's role expiries against want, to the microsecond.
func (f *fixture) wantExpiry(what string, u store.User, want map[string]time.Time) {
	f.t.Helper()
	if len(u.RoleExpiry) != len(want) {
		f.t.Errorf("%s: RoleExpiry = %v, want %v", what, u.RoleExpiry, want)
		return
	}
	for role, at := range want {
		got, ok := u.RoleExpiry[role]
		if !ok || !sameTime(got, at) || got.Location() != time.UTC {
			f.t.Errorf("%s: RoleExpiry[%s] = %v (present %v), want %v in UTC", what, role, got, ok, at)
		}
	}
}

func testRoleExpiryRoundTrip(f *fixture) {
	u := f.newUser()
	u.Roles = []string{"manager", "viewer"}
	u.RoleExpiry = map[string]time.Time{"manager": f.at(time.Hour), "auditor": f.at(time.Hour)}
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	// An expiry of a role not held is not stored.
	f.wantExpiry("after create", got, map[string]time.Time{"manager": f.at(time.Hour)})
	f.equal("roles", got.Roles, []string{"manager", "viewer"})

	// Update changes an expiry, adds one, and a removed role loses its own.
	got.RoleExpiry = map[string]time.Time{"viewer": f.at(2 * time.Hour)}
	f.must(f.s.UpdateUser(f.ctx, got), "UpdateUser")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after update")
	f.wantExpiry("after update", got, map[string]time.Time{"viewer": f.at(2 * time.Hour)})

	got.Roles = []string{"manager"}
	f.must(f.s.UpdateUser(f.ctx, got), "UpdateUser drop viewer")
	got.Roles = []string{"manager", "viewer"}
	got.RoleExpiry = nil
	f.must(f.s.UpdateUser(f.ctx, got), "UpdateUser viewer again, permanent")
	for _, read := range []func() (store.User, error){
		func() (store.User, error) { return f.s.GetUser(f.ctx, u.ID) },
		func() (store.User, error) { return f.s.GetUserByUsername(f.ctx, u.Username) },
		func() (store.User, error) {
			list, err := f.s.ListUsers(f.ctx, store.UserFilter{Query: u.Username})
			if err != nil || len(list) != 1 {
				f.t.Fatalf("ListUsers = %v, %v", list, err)
			}
			return list[0], nil
		},
	} {
		got, err := read()
		f.must(err, "read")
		f.wantExpiry("permanent again", got, nil)
	}

	got.RoleExpiry = map[string]time.Time{"viewer": f.at(time.Minute)}
	f.must(f.s.UpdateUser(f.ctx, got), "UpdateUser time-box viewer")
	list, err := f.s.ListUsers(f.ctx, store.UserFilter{Query: u.Username})
	f.must(err, "ListUsers")
	if len(list) != 1 {
		f.t.Fatalf("ListUsers = %d users", len(list))
	}
	f.wantExpiry("listed", list[0], map[string]time.Time{"viewer": f.at(time.Minute)})
}

func testDeniedPermissionsRoundTrip(f *fixture) {
	u := f.newUser()
	u.DeniedPermissions = []string{"users:read", "audit:read", "users:read"}
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("denied after create", got.DeniedPermissions, []string{"audit:read", "users:read"})

	got.DeniedPermissions = []string{"tokens:self", "users:read"}
	f.must(f.s.UpdateUser(f.ctx, got), "UpdateUser")
	list, err := f.s.ListUsers(f.ctx, store.UserFilter{Query: u.Username})
	f.must(err, "ListUsers")
	if len(list) != 1 {
		f.t.Fatalf("ListUsers = %d users", len(list))
	}
	f.equal("denied listed", list[0].DeniedPermissions, []string{"tokens:self", "users:read"})

	got.DeniedPermissions = nil
	f.must(f.s.UpdateUser(f.ctx, got), "UpdateUser clear")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after clear")
	if got.DeniedPermissions == nil || len(got.DeniedPermissions) != 0 {
		f.t.Errorf("denied after clear = %#v, want empty", got.DeniedPermissions)
	}
	other := f.newUser()
	f.must(f.s.CreateUser(f.ctx, other), "CreateUser other")
	o, err := f.s.GetUser(f.ctx, other.ID)
	f.must(err, "GetUser other")
	f.equal("denied of a user without", o.DeniedPermissions, []string{})
}

func testDeleteExpiredRoleGrants(f *fixture) {
	a, b := f.newUser(), f.newUser()
	a.Roles = []string{"manager", "user", "viewer"}
	a.RoleExpiry = map[string]time.Time{"manager": f.at(-2 * time.Hour), "user": f.at(-time.Hour), "viewer": f.at(time.Hour)}
	b.Roles = []string{"admin", "viewer"}
	b.RoleExpiry = map[string]time.Time{"admin": f.at(-90 * time.Minute)}
	f.must(f.s.CreateUser(f.ctx, a), "CreateUser a")
	f.must(f.s.CreateUser(f.ctx, b), "CreateUser b")

	// Bounded batches, oldest first.
	gone, err := f.s.DeleteExpiredRoleGrants(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredRoleGrants")
	if len(gone) != 2 || gone[0].UserID != a.ID || gone[0].Role != "manager" || gone[1].UserID != b.ID ||
		gone[1].Role != "admin" || !sameTime(gone[0].ExpiresAt, f.at(-2*time.Hour)) {
		f.t.Errorf("first batch = %+v, want a's manager then b's admin", gone)
	}
	gone, err = f.s.DeleteExpiredRoleGrants(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredRoleGrants again")
	if len(gone) != 1 || gone[0].UserID != a.ID || gone[0].Role != "user" {
		f.t.Errorf("second batch = %+v, want a's user", gone)
	}
	gone, err = f.s.DeleteExpiredRoleGrants(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredRoleGrants when none")
	if len(gone) != 0 {
		f.t.Errorf("third batch = %+v, want none", gone)
	}
	gotA, err := f.s.GetUser(f.ctx, a.ID)
	f.must(err, "GetUser a")
	f.equal("a's roles", gotA.Roles, []string{"viewer"})
	f.wantExpiry("a", gotA, map[string]time.Time{"viewer": f.at(time.Hour)})
	gotB, err := f.s.GetUser(f.ctx, b.ID)
	f.must(err, "GetUser b")
	if !slices.Equal(gotB.Roles, []string{"viewer"}) || gotB.RoleExpiry != nil {
		f.t.Errorf("b = roles %v expiry %v, want [viewer] and no expiry", gotB.Roles, gotB.RoleExpiry)
	}
}
