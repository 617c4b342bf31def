package domain

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TargetPermission is the audit target type of a custom permission.
const TargetPermission = "permission"

// customPermissionPattern is the resource:action form of a custom
// permission: lowercase, as the built-in ones are.
var customPermissionPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,49}:[a-z][a-z0-9_-]{0,49}$`)

// PermissionSource is one way a user comes to hold a permission: a role it
// holds (directly, or through Group), which carries the permission itself
// or inherits it from Inherits.
type PermissionSource struct {
	// Role is the role the user or its group holds.
	Role string
	// Inherits is the ancestor of Role that carries the permission; ""
	// when Role carries it itself.
	Inherits string
	// Group is the name of the group that holds Role; "" when the user
	// holds it directly.
	Group string
	// ExpiresAt is when a time-boxed direct assignment of Role stops
	// counting; nil when it does not (and for group roles).
	ExpiresAt *time.Time
}

// String says where the permission comes from, for people:
// "from role admin (inherits manager) via group ops".
func (src PermissionSource) String() string {
	var b strings.Builder
	b.WriteString("from role " + src.Role)
	if src.Inherits != "" {
		b.WriteString(" (inherits " + src.Inherits + ")")
	}
	if src.Group != "" {
		b.WriteString(" via group " + src.Group)
	}
	if src.ExpiresAt != nil {
		b.WriteString(" until " + src.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return b.String()
}

// PermissionGrant is one permission of a user's effective-permissions
// view: where it would come from, and whether the deny list takes it away.
type PermissionGrant struct {
	Permission string
	Sources    []PermissionSource
	// Denied: the permission is on the user's deny list, which wins over
	// every source (there may be none).
	Denied bool
}

// Granted reports whether the user holds the permission.
func (g PermissionGrant) Granted() bool { return !g.Denied && len(g.Sources) > 0 }

// Access is a user's effective access at one instant.
type Access struct {
	// Roles are the effective role names (own unexpired roles, groups'
	// roles, and every ancestor), sorted.
	Roles []string
	// Permissions are the permissions the user holds: those of Roles less
	// the deny list.
	Permissions map[string]bool
	// Grants explain every permission a role would give and every denied
	// one, by name.
	Grants []PermissionGrant
}

// Sorted returns the permissions held, sorted (the permissions claim).
func (a Access) Sorted() []string {
	out := make([]string, 0, len(a.Permissions))
	for p := range a.Permissions {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// RoleHeld reports whether the direct assignment of role to u counts at
// now: it is among u's roles and, if time-boxed, has not expired. This is
// the one statement of the expiry rule: an assignment stops counting at
// its ExpiresAt, whether or not the janitor has deleted it yet.
func RoleHeld(u store.User, role string, now time.Time) bool {
	if !slices.Contains(u.Roles, role) {
		return false
	}
	at, boxed := u.RoleExpiry[role]
	return !boxed || now.Before(at)
}

// HeldRoles are u's direct roles that count at the service's now.
func (s *Service) HeldRoles(u store.User) []string {
	now := s.now()
	out := []string{}
	for _, r := range u.Roles {
		if RoleHeld(u, r, now) {
			out = append(out, r)
		}
	}
	return out
}

// access is the one computation of a user's effective roles and
// permissions: every sign-in, token, claim and API principal goes through
// it. It costs one query whatever the depth of the hierarchy (the user's
// groups; the roles come from the cache), and reads the clock itself, so
// an expired grant stops counting at once, whatever a cache holds: the
// caches hold role definitions, never a user's assignments.
func (s *Service) access(ctx context.Context, u store.User) (Access, error) {
	var groups []store.Group
	if u.ID != "" {
		var err error
		if groups, err = s.store.ListUserGroups(ctx, u.ID); err != nil {
			return Access{}, fmt.Errorf("domain: effective roles: %w", err)
		}
	}
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return Access{}, fmt.Errorf("domain: effective roles: %w", err)
	}
	return accessOf(u, groups, all, s.now()), nil
}

// accessOf is access with the user's groups and the role definitions read:
// Memberships calls it for a page of users read at once.
func accessOf(u store.User, groups []store.Group, all map[string]store.Role, now time.Time) Access {
	type hold struct {
		role, group string
		expires     *time.Time
	}
	var holds []hold
	for _, r := range u.Roles {
		if !RoleHeld(u, r, now) {
			continue
		}
		h := hold{role: r}
		if at, boxed := u.RoleExpiry[r]; boxed {
			h.expires = &at
		}
		holds = append(holds, h)
	}
	for _, g := range groups {
		for _, r := range g.Roles {
			holds = append(holds, hold{role: r, group: g.Name})
		}
	}
	roles := []string{}
	sources := map[string][]PermissionSource{}
	for _, h := range holds {
		// Names of roles that no longer exist are dropped by ancestry.
		for _, r := range ancestry(all, h.role) {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
			src := PermissionSource{Role: h.role, Group: h.group, ExpiresAt: h.expires}
			if r != h.role {
				src.Inherits = r
			}
			for _, p := range all[r].Permissions {
				sources[p] = append(sources[p], src)
			}
		}
	}
	slices.Sort(roles)
	out := Access{Roles: roles, Permissions: map[string]bool{}}
	names := make([]string, 0, len(sources)+len(u.DeniedPermissions))
	for p := range sources {
		names = append(names, p)
	}
	names = append(names, u.DeniedPermissions...)
	slices.Sort(names)
	for _, p := range slices.Compact(names) {
		g := PermissionGrant{Permission: p, Sources: sources[p], Denied: slices.Contains(u.DeniedPermissions, p)}
		if g.Granted() {
			out.Permissions[p] = true
		}
		out.Grants = append(out.Grants, g)
	}
	return out
}

// UserAccess returns u's effective roles and permissions with where each
// permission comes from (GET /users/{id}/permissions). p needs users:read,
// or is u.
func (s *Service) UserAccess(ctx context.Context, p Principal, id string) (store.User, Access, error) {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return store.User{}, Access{}, err
	}
	if !p.Can(store.PermUsersRead) && !p.isOrActsFor(u.ID) && !p.operator {
		return store.User{}, Access{}, forbidden("reading a user's permissions needs %s", store.PermUsersRead)
	}
	a, err := s.access(ctx, u)
	return u, a, err
}

// EffectivePermissions returns the permissions u holds now, sorted: its
// roles' and groups' roles' with every ancestor's, expired grants ignored,
// less its deny list (the permissions claim).
func (s *Service) EffectivePermissions(ctx context.Context, u store.User) ([]string, error) {
	a, err := s.access(ctx, u)
	if err != nil {
		return nil, err
	}
	return a.Sorted(), nil
}

// ---------------------------------------------------------------------------
// Time-boxed role grants

// RoleGrant is one role to assign, until ExpiresAt when it is set.
type RoleGrant struct {
	Role string
	// ExpiresAt: nil keeps the expiry the user's assignment has now (none
	// for a new one) unless Permanent is set.
	ExpiresAt *time.Time
	// Permanent clears an expiry the assignment has.
	Permanent bool
}

// grantFields are the audited fields of a change of roles or of the deny
// list: the user's fields and the expiries of its time-boxed roles.
func grantFields(u store.User) fields {
	f := userFields(u)
	var grants []string
	for _, r := range set(u.Roles) {
		if at, ok := u.RoleExpiry[r]; ok {
			grants = append(grants, r+" until "+at.UTC().Format(time.RFC3339))
		}
	}
	f["role_expiry"] = auditList(grants)
	f["denied_permissions"] = auditList(set(u.DeniedPermissions))
	return f
}

func (s *Service) grantRecord(what string) record[store.User] {
	r := s.userRecord(what)
	r.fields = grantFields
	return r
}

// SetUserRoleGrants replaces the user's roles as SetUserRoles does
// ("user.roles"), each until its ExpiresAt when one is given. A role given
// without an expiry keeps the one its assignment has (so that a client
// that knows nothing of expiries, reading the roles and writing them back
// with one more, does not make a time-boxed grant permanent); Permanent
// clears it. An expiry must be in the future.
func (s *Service) SetUserRoleGrants(ctx context.Context, p Principal, id string, grants []RoleGrant) (store.User, error) {
	if err := notFoundID("user", id); err != nil {
		return store.User{}, err
	}
	now := s.now()
	var v problems
	for i, g := range grants {
		if g.ExpiresAt != nil && !g.ExpiresAt.After(now) {
			v.add(fmt.Sprintf("role_grants[%d].expires_at", i), "must be in the future")
		}
	}
	if err := v.err(); err != nil {
		return store.User{}, err
	}
	return update(ctx, s, p.Actor, s.grantRecord("set user roles"), id, "user.roles", func(ctx context.Context, cur store.User) (store.User, error) {
		if err := s.mayActOn(ctx, p, cur); err != nil {
			return store.User{}, err
		}
		all, err := s.roleMap(ctx)
		if err != nil {
			return store.User{}, err
		}
		next := cur
		next.Roles, next.RoleExpiry = nil, nil
		names := make([]string, 0, len(grants))
		for _, g := range grants {
			names = append(names, g.Role)
		}
		var v problems
		v.checkRoleNames("roles", set(names), all)
		if err := v.err(); err != nil {
			return store.User{}, err
		}
		for _, g := range grants {
			r := strings.TrimSpace(g.Role)
			if r == "" {
				continue
			}
			if !slices.Contains(next.Roles, r) {
				next.Roles = append(next.Roles, r)
			}
			at, had := cur.RoleExpiry[r]
			switch {
			case g.Permanent:
				continue
			case g.ExpiresAt != nil:
				at = g.ExpiresAt.UTC()
			case !had || !slices.Contains(cur.Roles, r):
				continue
			}
			if next.RoleExpiry == nil {
				next.RoleExpiry = map[string]time.Time{}
			}
			next.RoleExpiry[r] = at
		}
		next.Roles = set(next.Roles)
		// Power over cur was checked above; what the new roles carry for
		// relying parties is the granter's to give, or not (mayConfer).
		if granted := grantedRoles(cur, next, now); len(granted) > 0 {
			_, perms := closeRoles(all, granted)
			if err := mayConfer(p, perms, "granting "+strings.Join(granted, ", ")); err != nil {
				return store.User{}, err
			}
		}
		return next, s.keepAnAdmin(ctx, cur, &next)
	}, nil)
}

// ExpireRoleGrants deletes up to limit role assignments that have expired
// by now and audits each ("user.role.expire", by the system), in one
// transaction: the janitor's batch. They stopped counting at their expiry
// already (access); this only tidies the rows away.
func (s *Service) ExpireRoleGrants(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.inTx(ctx, "expire role grants", func(ctx context.Context) error {
		gone, err := s.store.DeleteExpiredRoleGrants(ctx, now, limit)
		if err != nil {
			return err
		}
		for _, g := range gone {
			at := g.ExpiresAt
			c := changes{
				"roles":      {Before: []string{g.Role}, After: []string{}},
				"expires_at": {Before: auditTime(&at), After: nil},
			}
			if err := s.audit(ctx, Actor{Type: store.ActorSystem}, "user.role.expire", TargetUser, g.UserID, c); err != nil {
				return err
			}
		}
		n = len(gone)
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// Denied permissions

// SetDeniedPermissions replaces the user's deny list ("user.denied_permissions"):
// permissions it never holds, whatever its roles and groups grant. Each must
// be a built-in or defined custom permission. p must be able to act on the
// user (the rule of mayActOn); denying takes power away, so the caller need
// not hold the permissions it denies.
func (s *Service) SetDeniedPermissions(ctx context.Context, p Principal, id string, perms []string) (store.User, error) {
	if err := notFoundID("user", id); err != nil {
		return store.User{}, err
	}
	perms = set(perms)
	return update(ctx, s, p.Actor, s.grantRecord("set denied permissions"), id, "user.denied_permissions", func(ctx context.Context, cur store.User) (store.User, error) {
		if err := s.mayActOn(ctx, p, cur); err != nil {
			return store.User{}, err
		}
		known, err := s.knownPermissions(ctx)
		if err != nil {
			return store.User{}, err
		}
		var v problems
		for _, name := range perms {
			if !known[name] {
				v.add("permissions", "%q is not a permission", name)
			}
		}
		if err := v.err(); err != nil {
			return store.User{}, err
		}
		next := cur
		next.DeniedPermissions = perms
		return next, s.keepAnAdmin(ctx, cur, &next)
	}, nil)
}

// ---------------------------------------------------------------------------
// Custom permissions

// PermissionPatch is a partial update of a custom permission.
type PermissionPatch struct {
	Description *string
}

// IsBuiltInPermission reports whether name is one of KnownPermissions.
func IsBuiltInPermission(name string) bool { return slices.Contains(KnownPermissions(), name) }

// knownPermissions is every name a role may carry: the built-in ones and
// the defined custom ones, read in the caller's transaction.
func (s *Service) knownPermissions(ctx context.Context) (map[string]bool, error) {
	custom, err := s.store.ListPermissions(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list permissions: %w", err)
	}
	out := make(map[string]bool, len(custom)+len(KnownPermissions()))
	for _, p := range KnownPermissions() {
		out[p] = true
	}
	for _, p := range custom {
		out[p.Name] = true
	}
	return out, nil
}

func permissionFields(p store.Permission) fields {
	return fields{"description": p.Description}
}

// CreatePermission defines a custom permission ("permission.create"): a
// resource:action name of lowercase letters, digits, '_' and '-' that is
// not a built-in one; a taken name is store.ErrConflict.
func (s *Service) CreatePermission(ctx context.Context, a Actor, p store.Permission) (store.Permission, error) {
	var v problems
	switch {
	case IsBuiltInPermission(p.Name):
		v.add("name", "%q is a built-in permission", p.Name)
	case !customPermissionPattern.MatchString(p.Name):
		v.add("name", "must be resource:action, each 1-50 lowercase letters, digits, '_' or '-' starting with a letter")
	}
	p.Description = v.checkText("description", p.Description, maxDescriptionLength, false)
	if err := v.err(); err != nil {
		return store.Permission{}, err
	}
	now := s.now()
	p.CreatedAt, p.UpdatedAt = now, now
	var out store.Permission
	err := s.inTx(ctx, "create permission", func(ctx context.Context) error {
		if _, err := s.store.GetPermission(ctx, p.Name); err == nil {
			return conflict("permission %q already exists", p.Name)
		}
		// A concurrent create that wins the race is the store's ErrConflict.
		if err := s.store.CreatePermission(ctx, p); err != nil {
			return err
		}
		if err := s.audit(ctx, a, "permission.create", TargetPermission, p.Name, onCreate(permissionFields(p))); err != nil {
			return err
		}
		var err error
		out, err = s.store.GetPermission(ctx, p.Name)
		return err
	})
	return out, err
}

// GetPermission returns store.ErrNotFound if no custom permission has the
// name.
func (s *Service) GetPermission(ctx context.Context, name string) (store.Permission, error) {
	if err := notFoundKey("permission", name); err != nil {
		return store.Permission{}, err
	}
	p, err := s.store.GetPermission(ctx, name)
	if err != nil {
		return store.Permission{}, fmt.Errorf("domain: get permission: %w", err)
	}
	return p, nil
}

// ListPermissions returns the custom permissions by name.
func (s *Service) ListPermissions(ctx context.Context) ([]store.Permission, error) {
	out, err := s.store.ListPermissions(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list permissions: %w", err)
	}
	return out, nil
}

// UpdatePermission applies p ("permission.update"); a patch that changes
// nothing records nothing.
func (s *Service) UpdatePermission(ctx context.Context, a Actor, name string, patch PermissionPatch) (store.Permission, error) {
	if err := notFoundKey("permission", name); err != nil {
		return store.Permission{}, err
	}
	var out store.Permission
	err := s.inTx(ctx, "update permission", func(ctx context.Context) error {
		cur, err := s.store.GetPermission(ctx, name)
		if err != nil {
			return err
		}
		next := cur
		var v problems
		if patch.Description != nil {
			next.Description = v.checkText("description", *patch.Description, maxDescriptionLength, false)
		}
		if err := v.err(); err != nil {
			return err
		}
		c := diff(permissionFields(cur), permissionFields(next))
		if len(c) == 0 {
			out = cur
			return nil
		}
		next.UpdatedAt = s.now()
		if err := s.store.UpdatePermission(ctx, next); err != nil {
			return err
		}
		if err := s.audit(ctx, a, "permission.update", TargetPermission, name, c); err != nil {
			return err
		}
		out, err = s.store.GetPermission(ctx, name)
		return err
	})
	return out, err
}

// DeletePermission removes a custom permission ("permission.delete"). It
// is refused (store.ErrConflict, naming the roles) while a role carries
// it: taking a permission from people is a change of those roles, made
// and audited as such, not a side effect. Deny lists naming it are left
// as they are: a name denied stays denied should it be defined again.
func (s *Service) DeletePermission(ctx context.Context, a Actor, name string) error {
	if err := notFoundKey("permission", name); err != nil {
		return err
	}
	return s.inTx(ctx, "delete permission", func(ctx context.Context) error {
		// The role lock orders this check against a role write that
		// would add the name at the same time.
		all, err := s.lockedRoleMap(ctx)
		if err != nil {
			return err
		}
		cur, err := s.store.GetPermission(ctx, name)
		if err != nil {
			return err
		}
		var holders []string
		for _, r := range all {
			if slices.Contains(r.Permissions, name) {
				holders = append(holders, r.Name)
			}
		}
		if len(holders) > 0 {
			slices.Sort(holders)
			return conflict("permission %q is carried by the roles %s: take it from them first", name, strings.Join(holders, ", "))
		}
		if err := s.store.DeletePermission(ctx, name); err != nil {
			return err
		}
		return s.audit(ctx, a, "permission.delete", TargetPermission, name, onRemove(permissionFields(cur)))
	})
}
