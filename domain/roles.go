package domain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/store"
)

// RolePatch is a partial update of a role.
type RolePatch struct {
	Description    *string
	Parent         *string
	Permissions    *[]string
	SuggestedGoals *[]string
}

var roleNamePattern = regexp.MustCompile(`^[a-z0-9_-]{2,50}$`)

// AdminRole is the built-in role that can do everything; nobody may ask for
// it through an access request.
const AdminRole = "admin"

// roleFields are the audited fields of a role.
func roleFields(r store.Role) fields {
	return fields{
		"description":     r.Description,
		"parent":          r.Parent,
		"permissions":     auditList(set(r.Permissions)),
		"suggested_goals": auditList(r.SuggestedGoals),
	}
}

// CreateRole validates (name 2–50 of [a-z0-9_-], parent exists, no cycle,
// known permissions) and stores the role ("role.create"). A custom role is
// never built in, whatever r.BuiltIn says; a taken name is
// store.ErrConflict.
func (s *Service) CreateRole(ctx context.Context, a Actor, r store.Role) (store.Role, error) {
	var out store.Role
	err := s.inTx(ctx, "create role", func(ctx context.Context) error {
		all, err := s.lockedRoleMap(ctx)
		if err != nil {
			return err
		}
		known, err := s.knownPermissions(ctx)
		if err != nil {
			return err
		}
		var v problems
		r = v.checkRole("", r, all, known, true)
		if err := v.err(); err != nil {
			return err
		}
		if _, taken := all[r.Name]; taken {
			return conflict("role %q already exists", r.Name)
		}
		out, err = s.createRole(ctx, a, r)
		return err
	})
	if err != nil {
		return store.Role{}, err
	}
	s.changed(store.ChangeRole, out.Name)
	return out, nil
}

func (s *Service) createRole(ctx context.Context, a Actor, r store.Role) (store.Role, error) {
	now := s.now()
	r.BuiltIn, r.CreatedAt, r.UpdatedAt = false, now, now
	if err := s.store.CreateRole(ctx, r); err != nil {
		return store.Role{}, err
	}
	if err := s.audit(ctx, a, "role.create", TargetRole, r.Name, onCreate(roleFields(r))); err != nil {
		return store.Role{}, err
	}
	return s.store.GetRole(ctx, r.Name)
}

// checkRole validates r against the other roles and returns it normalized.
// prefix goes before the field names (for the entries of an import).
// known is every permission name a role may carry (knownPermissions).
func (v *problems) checkRole(prefix string, r store.Role, all map[string]store.Role, known map[string]bool, isNew bool) store.Role {
	if isNew && !roleNamePattern.MatchString(r.Name) {
		v.add(prefix+"name", "must be 2-50 characters of lowercase letters, digits, '_' or '-'")
	}
	r.Description = v.checkText(prefix+"description", r.Description, maxDescriptionLength, false)
	switch _, exists := all[r.Parent]; {
	case r.Parent == "":
	case r.Parent == r.Name:
		v.add(prefix+"parent", "must not be the role itself")
	case !exists:
		v.add(prefix+"parent", "%q is not a role", r.Parent)
	case slices.Contains(ancestry(all, r.Parent), r.Name):
		v.add(prefix+"parent", "%q inherits from %q already: that would make a cycle", r.Parent, r.Name)
	}
	r.Permissions = set(r.Permissions)
	for _, p := range r.Permissions {
		if !known[p] {
			v.add(prefix+"permissions", "%q is not a permission (neither built in nor defined with POST /api/v1/permissions)", p)
		}
	}
	r.SuggestedGoals = v.checkGoals(prefix+"suggested_goals", r.SuggestedGoals)
	return r
}

// GetRole returns store.ErrNotFound if absent.
func (s *Service) GetRole(ctx context.Context, name string) (store.Role, error) {
	if err := notFoundKey("role", name); err != nil {
		return store.Role{}, err
	}
	r, err := s.store.GetRole(ctx, name)
	if err != nil {
		return store.Role{}, fmt.Errorf("domain: get role: %w", err)
	}
	return r, nil
}

// ListRoles returns every role by name.
func (s *Service) ListRoles(ctx context.Context) ([]store.Role, error) {
	out, err := s.store.ListRoles(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list roles: %w", err)
	}
	return out, nil
}

// UpdateRole applies p ("role.update"); a change of parent may not make a
// cycle; built-in roles keep their parent and permissions (a patch that
// would change them is a ValidationErrors entry for that field). A patch
// that changes nothing records nothing.
func (s *Service) UpdateRole(ctx context.Context, a Actor, name string, p RolePatch) (store.Role, error) {
	var out store.Role
	err := s.inTx(ctx, "update role", func(ctx context.Context) error {
		all, err := s.lockedRoleMap(ctx)
		if err != nil {
			return err
		}
		cur, ok := all[name]
		if !ok {
			return notFound("role %q not found", name)
		}
		next := cur
		if p.Description != nil {
			next.Description = *p.Description
		}
		if p.Parent != nil {
			next.Parent = *p.Parent
		}
		if p.Permissions != nil {
			next.Permissions = *p.Permissions
		}
		if p.SuggestedGoals != nil {
			next.SuggestedGoals = *p.SuggestedGoals
		}
		known, err := s.knownPermissions(ctx)
		if err != nil {
			return err
		}
		var v problems
		next = v.checkRole("", next, all, known, false)
		v.checkBuiltIn("", cur, next)
		if err := v.err(); err != nil {
			return err
		}
		out, err = s.updateRole(ctx, a, cur, next)
		return err
	})
	if err != nil {
		return store.Role{}, err
	}
	s.changed(store.ChangeRole, name)
	return out, nil
}

// checkBuiltIn keeps the matrix of DESIGN.md section 3 what it says: the
// built-in roles' places in the hierarchy and their permissions are fixed,
// only their descriptions and suggested goals may be edited.
func (v *problems) checkBuiltIn(prefix string, cur, next store.Role) {
	if !cur.BuiltIn {
		return
	}
	if next.Parent != cur.Parent {
		v.add(prefix+"parent", "cannot be changed on the built-in role %q", cur.Name)
	}
	if !slices.Equal(set(next.Permissions), set(cur.Permissions)) {
		v.add(prefix+"permissions", "cannot be changed on the built-in role %q", cur.Name)
	}
}

// updateRole writes next and its audit entry if it differs from cur.
func (s *Service) updateRole(ctx context.Context, a Actor, cur, next store.Role) (store.Role, error) {
	c := diff(roleFields(cur), roleFields(next))
	if len(c) == 0 {
		return cur, nil
	}
	next.UpdatedAt = s.now()
	if err := s.store.UpdateRole(ctx, next); err != nil {
		return store.Role{}, err
	}
	if err := s.audit(ctx, a, "role.update", TargetRole, next.Name, c); err != nil {
		return store.Role{}, err
	}
	return s.store.GetRole(ctx, next.Name)
}

// DeleteRole removes a custom role that nobody holds and no role inherits
// ("role.delete"); store.ErrConflict otherwise (built-in, a parent, held by
// a user, a client or a group, or asked for by an access request).
func (s *Service) DeleteRole(ctx context.Context, a Actor, name string) error {
	if err := notFoundKey("role", name); err != nil {
		return err
	}
	err := s.inTx(ctx, "delete role", func(ctx context.Context) error {
		cur, err := s.store.GetRole(ctx, name)
		if err != nil {
			return err
		}
		if cur.BuiltIn {
			return conflict("role %q is built in", name)
		}
		groups, err := s.store.ListGroups(ctx)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if slices.Contains(g.Roles, name) {
				return conflict("role %q is held by group %q", name, g.Name)
			}
		}
		if err := s.store.DeleteRole(ctx, name); err != nil {
			return err
		}
		return s.audit(ctx, a, "role.delete", TargetRole, name, onRemove(roleFields(cur)))
	})
	if err != nil {
		return err
	}
	s.changed(store.ChangeRole, name)
	return nil
}

// roleImport is one entry of an import document. Absent fields leave an
// existing role's value alone; present ones replace it.
type roleImport struct {
	Name           string    `yaml:"name"`
	Description    *string   `yaml:"description"`
	Parent         *string   `yaml:"parent"`
	Permissions    *[]string `yaml:"permissions"`
	SuggestedGoals *[]string `yaml:"suggested_goals"`
}

// ImportRoles creates or updates the roles of a YAML document
// (`roles: [{name, description, parent, permissions, suggested_goals}]`),
// parents before children, in one transaction. Fields an entry leaves out
// keep an existing role's values; unknown fields are refused. Problems are
// ValidationErrors with fields named "roles[i].field" (i from 0); nothing
// is written unless every entry is valid. Entries that change nothing are
// counted neither as created nor as updated, so a second import of the same
// file reports 0, 0.
func (s *Service) ImportRoles(ctx context.Context, a Actor, yamlDoc []byte) (created, updated int, err error) {
	var doc struct {
		Roles []roleImport `yaml:"roles"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(yamlDoc))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, invalid("document", "is not a roles document: %v", err)
	}
	err = s.inTx(ctx, "import roles", func(ctx context.Context) error {
		all, err := s.lockedRoleMap(ctx)
		if err != nil {
			return err
		}
		known, err := s.knownPermissions(ctx)
		if err != nil {
			return err
		}
		plan, err := planImport(doc.Roles, all, known)
		if err != nil {
			return err
		}
		for _, step := range plan {
			if step.isNew {
				if _, err := s.createRole(ctx, a, step.role); err != nil {
					return err
				}
				created++
				continue
			}
			if len(diff(roleFields(step.cur), roleFields(step.role))) == 0 {
				continue
			}
			if _, err := s.updateRole(ctx, a, step.cur, step.role); err != nil {
				return err
			}
			updated++
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if created+updated > 0 {
		s.changed(store.ChangeRole, "")
	}
	return created, updated, nil
}

type importStep struct {
	isNew bool
	cur   store.Role
	role  store.Role
}

// planImport orders the entries parents first and validates each against
// the roles as they will be when it is written.
func planImport(entries []roleImport, all map[string]store.Role, known map[string]bool) ([]importStep, error) {
	var v problems
	index := map[string]int{}
	for i, e := range entries {
		if _, dup := index[e.Name]; dup {
			v.add(fmt.Sprintf("roles[%d].name", i), "%q appears twice", e.Name)
			continue
		}
		index[e.Name] = i
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	// The planned state: the store's roles with the entries applied so far.
	planned := make(map[string]store.Role, len(all)+len(entries))
	for k, r := range all {
		planned[k] = r
	}
	done := make([]bool, len(entries))
	var plan []importStep
	for len(plan) < len(entries) {
		progress := false
		for i, e := range entries {
			if done[i] {
				continue
			}
			// Wait for a parent that this document defines and has not
			// placed yet.
			if e.Parent != nil {
				if j, inDoc := index[*e.Parent]; inDoc && j != i && !done[j] {
					continue
				}
			}
			done[i], progress = true, true
			prefix := fmt.Sprintf("roles[%d].", i)
			cur, exists := planned[e.Name]
			next := cur
			next.Name = e.Name
			if e.Description != nil {
				next.Description = *e.Description
			}
			if e.Parent != nil {
				next.Parent = *e.Parent
			}
			if e.Permissions != nil {
				next.Permissions = *e.Permissions
			}
			if e.SuggestedGoals != nil {
				next.SuggestedGoals = *e.SuggestedGoals
			}
			next = v.checkRole(prefix, next, planned, known, !exists)
			v.checkBuiltIn(prefix, cur, next)
			planned[e.Name] = next
			plan = append(plan, importStep{isNew: !exists, cur: cur, role: next})
		}
		if !progress {
			break
		}
	}
	for i, e := range entries {
		if !done[i] {
			v.add(fmt.Sprintf("roles[%d].parent", i), "%q and its parent inherit from each other: that would make a cycle", e.Name)
		}
	}
	return plan, v.err()
}

// KnownPermissions lists every built-in permission; a role may also carry
// the custom ones defined with CreatePermission.
func KnownPermissions() []string {
	return []string{
		store.PermProfileRead, store.PermDashboardsRead, store.PermProfileWrite, store.PermTokensSelf,
		store.PermUsersRead, store.PermUsersWrite, store.PermUsersStatus, store.PermUsersRoles,
		store.PermUsersDelete, store.PermRolesWrite, store.PermGroupsWrite, store.PermAccessRequestsReview,
		store.PermTokensUsers, store.PermTokensSystem, store.PermClientsWrite, store.PermAuditRead,
		store.PermSessionsRevoke, store.PermSettingsWrite, store.PermUsersImpersonate,
		// Areas (areas.go).
		store.PermAreasWrite,
		// Events and webhooks.
		store.PermWebhooksWrite,
		// SCIM 2.0 provisioning.
		store.PermSCIMProvision,
	}
}

// roleMap reads every role in one query: the hierarchy is walked in memory.
func (s *Service) roleMap(ctx context.Context) (map[string]store.Role, error) {
	roles, err := s.store.ListRoles(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.Role, len(roles))
	for _, r := range roles {
		m[r.Name] = r
	}
	return m, nil
}

// lockedRoleMap is roleMap for a writer of the hierarchy, inside its
// transaction. Two edits that each keep the hierarchy acyclic can make a
// cycle together (a -> b beside b -> a), so the check and the write must
// not interleave with another writer's: the store's role lock, taken
// before the read, orders them, and the second writer sees the first's
// commit.
func (s *Service) lockedRoleMap(ctx context.Context) (map[string]store.Role, error) {
	if err := s.store.LockRoles(ctx); err != nil {
		return nil, err
	}
	return s.roleMap(ctx)
}

// ancestry returns the role and its ancestors, nearest first. It stops at a
// role it has seen, so that a cycle in stored data cannot loop forever.
func ancestry(all map[string]store.Role, name string) []string {
	var out []string
	for name != "" && !slices.Contains(out, name) {
		r, ok := all[name]
		if !ok {
			break
		}
		out = append(out, name)
		name = r.Parent
	}
	return out
}

// closeRoles expands role names through the hierarchy: the effective roles
// (sorted) and the union of their permissions. Names of roles that no
// longer exist are dropped.
func closeRoles(all map[string]store.Role, names []string) ([]string, map[string]bool) {
	var roles []string
	perms := map[string]bool{}
	for _, n := range names {
		for _, r := range ancestry(all, n) {
			if slices.Contains(roles, r) {
				continue
			}
			roles = append(roles, r)
			for _, p := range all[r].Permissions {
				perms[p] = true
			}
		}
	}
	slices.Sort(roles)
	if roles == nil {
		roles = []string{}
	}
	return roles, perms
}

// EffectiveRoles returns the user's unexpired roles and its groups' roles,
// closed over the role hierarchy, sorted.
func (s *Service) EffectiveRoles(ctx context.Context, u store.User) ([]string, error) {
	roles, _, err := s.userRoles(ctx, u)
	return roles, err
}

// userRoles is access's roles and permissions (expired grants ignored,
// the deny list applied).
func (s *Service) userRoles(ctx context.Context, u store.User) ([]string, map[string]bool, error) {
	a, err := s.access(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	return a.Roles, a.Permissions, nil
}

// UserPrincipal builds the principal of a user who may hold tokens
// (UserCanAct); ErrUnauthenticated for anyone else.
func (s *Service) UserPrincipal(ctx context.Context, u store.User) (Principal, error) {
	if !UserCanAct(u, s.now(), ActHoldTokens) {
		return Principal{}, fmt.Errorf("domain: user %s (%s) may not act: %w", u.ID, u.Status, ErrUnauthenticated)
	}
	roles, perms, err := s.userRoles(ctx, u)
	if err != nil {
		return Principal{}, err
	}
	return Principal{
		Actor:       Actor{Type: store.ActorUser, ID: u.ID},
		User:        &u,
		Roles:       roles,
		Permissions: perms,
	}, nil
}

// ClientPrincipal builds the principal of a service account (a client acting
// for itself, with the roles the client was given; without roles it holds
// no permission).
func (s *Service) ClientPrincipal(ctx context.Context, c store.Client) (Principal, error) {
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return Principal{}, fmt.Errorf("domain: client principal: %w", err)
	}
	roles, perms := closeRoles(all, c.Roles)
	return Principal{
		Actor:       Actor{Type: store.ActorClient, ID: c.ID},
		Client:      &c,
		Roles:       roles,
		Permissions: perms,
	}, nil
}
