package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/store"
)

// defaultUserLimit is what UserFilter's zero Limit means.
const defaultUserLimit = 100

func copyUser(u store.User) store.User {
	u.Goals = list(u.Goals)
	if len(u.Preferences) == 0 {
		u.Preferences = json.RawMessage(`{}`)
	} else {
		u.Preferences = rawJSON(u.Preferences)
	}
	// Roles are a set, as rows of a join table are: sorted, no repeats.
	u.Roles = list(u.Roles)
	slices.Sort(u.Roles)
	u.Roles = slices.Compact(u.Roles)
	// Expiries are a column of those rows: kept only for roles held.
	var expiry map[string]time.Time
	for role, at := range u.RoleExpiry {
		if slices.Contains(u.Roles, role) {
			if expiry == nil {
				expiry = map[string]time.Time{}
			}
			expiry[role] = stamp(at)
		}
	}
	u.RoleExpiry = expiry
	u.DeniedPermissions = list(u.DeniedPermissions)
	slices.Sort(u.DeniedPermissions)
	u.DeniedPermissions = slices.Compact(u.DeniedPermissions)
	u.CreatedAt = stamp(u.CreatedAt)
	u.UpdatedAt = stamp(u.UpdatedAt)
	u.LastLoginAt = stampPtr(u.LastLoginAt)
	u.ExpiresAt = stampPtr(u.ExpiresAt)
	u.LockedUntil = stampPtr(u.LockedUntil)
	// Empty lists read back as nil, as PostgreSQL's empty arrays do here.
	u.IPAllow, u.IPDeny = prefixList(u.IPAllow), prefixList(u.IPDeny)
	if u.SessionLimit != nil {
		n := *u.SessionLimit
		u.SessionLimit = &n
	}
	return u
}

func prefixList(in []netip.Prefix) []netip.Prefix {
	if len(in) == 0 {
		return nil
	}
	return slices.Clone(in)
}

// checkUser applies the rules shared by create and update, other than the
// uniqueness of the id.
func (s *Store) checkUser(u store.User) error {
	if err := checkJSON("preferences", u.Preferences); err != nil {
		return err
	}
	// The column's CHECK (migrations/00025_scim.sql).
	if utf8.RuneCountInString(u.ExternalID) > 255 {
		return fmt.Errorf("external id of %d characters: at most 255", utf8.RuneCountInString(u.ExternalID))
	}
	for _, key := range []struct {
		index map[string]string
		value string
	}{{s.usernames, u.Username}, {s.emails, u.Email}} {
		if owner, ok := key.index[strings.ToLower(key.value)]; ok && owner != u.ID {
			return store.ErrConflict
		}
	}
	for _, r := range u.Roles {
		if _, ok := s.roles[r]; !ok {
			return fmt.Errorf("role %q: %w", r, store.ErrNotFound)
		}
	}
	return nil
}

func (s *Store) putUser(o op, u store.User) {
	put(o, s.users, u.ID, copyUser(u))
	put(o, s.usernames, strings.ToLower(u.Username), u.ID)
	put(o, s.emails, strings.ToLower(u.Email), u.ID)
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return s.do(ctx, "create user", func(o op) error {
		id, ok := canonicalUUID(u.ID)
		if !ok {
			return fmt.Errorf("id %q is not a UUID", u.ID)
		}
		u.ID = id
		if _, ok := s.users[id]; ok {
			return store.ErrConflict
		}
		if err := s.checkUser(u); err != nil {
			return err
		}
		s.putUser(o, u)
		return nil
	})
}

func (s *Store) getUser(ctx context.Context, what string, find func() (string, bool)) (store.User, error) {
	var out store.User
	err := s.do(ctx, what, func(op) error {
		id, ok := find()
		if !ok {
			return store.ErrNotFound
		}
		u, ok := s.users[id]
		if !ok {
			return store.ErrNotFound
		}
		out = copyUser(u)
		return nil
	})
	return out, err
}

func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	return s.getUser(ctx, "get user", func() (string, bool) { return canonicalUUID(id) })
}

// GetUserForUpdate needs no lock of its own: a transaction holds the whole
// store until it ends.
func (s *Store) GetUserForUpdate(ctx context.Context, id string) (store.User, error) {
	return s.getUser(ctx, "get user for update", func() (string, bool) { return canonicalUUID(id) })
}

func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	return s.getUser(ctx, "get user by username", func() (string, bool) {
		id, ok := s.usernames[strings.ToLower(username)]
		return id, ok
	})
}

func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	return s.getUser(ctx, "get user by email", func() (string, bool) {
		id, ok := s.emails[strings.ToLower(email)]
		return id, ok
	})
}

// UpdateUser tells the observers of a ChangeUser only when the write
// changes what the user may do (store.UserAccessChanged), as the
// PostgreSQL store announces it: a profile or password edit tells nobody.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	changed, err := s.updateUser(ctx, u)
	if err != nil || !changed {
		return err
	}
	return s.principalChanged(nil, store.ChangeUser, u.ID)
}

// updateUser replaces the user and reports whether that changed what it
// may do.
func (s *Store) updateUser(ctx context.Context, u store.User) (changed bool, err error) {
	err = s.do(ctx, "update user", func(o op) error {
		id, ok := canonicalUUID(u.ID)
		if !ok {
			return store.ErrNotFound
		}
		u.ID = id
		old, ok := s.users[id]
		if !ok {
			return store.ErrNotFound
		}
		if err := s.checkUser(u); err != nil {
			return err
		}
		u.CreatedAt = old.CreatedAt
		del(o, s.usernames, strings.ToLower(old.Username))
		del(o, s.emails, strings.ToLower(old.Email))
		s.putUser(o, u)
		changed = store.UserAccessChanged(old, copyUser(u))
		return nil
	})
	return changed, err
}

// DeleteUser removes what ON DELETE CASCADE would: the user's login
// sessions, consents, grants with their tokens, group memberships, access
// requests and API tokens. The audit log keeps its entries: it is
// append-only and names users by id, without a reference.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := s.do(ctx, "delete user", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		u, ok := s.users[uid]
		if !ok {
			return store.ErrNotFound
		}
		s.deleteGrantsWhere(o, func(g store.Grant) bool { return g.UserID == uid })
		s.deleteDeviceCodesWhere(o, func(d store.DeviceCode) bool { return d.UserID == uid })
		for k, t := range s.tokens {
			if t.UserID == uid {
				del(o, s.tokens, k)
			}
		}
		for k, sess := range s.sessions {
			if sess.UserID == uid {
				del(o, s.sessions, k)
			}
		}
		for k, c := range s.credentials {
			if c.UserID == uid {
				del(o, s.credentials, k)
			}
		}
		for k, c := range s.ceremonies {
			if c.UserID == uid {
				del(o, s.ceremonies, k)
			}
		}
		for k, l := range s.links {
			if l.UserID == uid {
				del(o, s.links, k)
			}
		}
		for k := range s.consents {
			if k.userID == uid {
				del(o, s.consents, k)
			}
		}
		for k := range s.members {
			if k.userID == uid {
				del(o, s.members, k)
			}
		}
		for id, r := range s.requests {
			if r.UserID == uid {
				del(o, s.requests, id)
			}
		}
		s.deleteAPITokensWhere(o, func(t store.APIToken) bool { return t.UserID == uid })
		for k := range s.failures {
			if k.userID == uid {
				del(o, s.failures, k)
			}
		}
		s.deleteMFAOf(o, uid)
		s.deleteAreasOf(o, uid)
		for k, t := range s.tickets {
			if t.UserID == uid {
				del(o, s.tickets, k)
			}
		}
		del(o, s.usernames, strings.ToLower(u.Username))
		del(o, s.emails, strings.ToLower(u.Email))
		del(o, s.users, uid)
		return nil
	})
	if uid, ok := canonicalUUID(id); err == nil && ok {
		s.tokensChanged(store.ChangeUserTokens, uid)
	}
	return err
}

func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultUserLimit
	}
	order, after, err := userOrder(f)
	if err != nil {
		return nil, err
	}
	query := strings.ToLower(f.Query)
	var out []store.User
	err = s.do(ctx, "list users", func(op) error {
		groupID := ""
		if f.Group != "" {
			id, ok := canonicalUUID(f.Group)
			if !ok {
				return nil // no group has that id, so it has no members
			}
			groupID = id
		}
		// Areas: the members of the area's subtree, and of the subtrees
		// the caller reaches.
		var area, within []string
		if f.Area != "" {
			if area = s.subtreesOf([]string{f.Area}); area == nil {
				return nil
			}
		}
		if f.WithinAreas != nil {
			if within = s.subtreesOf(f.WithinAreas); within == nil {
				return nil
			}
		}
		for _, u := range s.users {
			if groupID != "" {
				if _, ok := s.members[memberKey{groupID, u.ID}]; !ok {
					continue
				}
			}
			if (area != nil && !s.inAreas(u.ID, area)) || (within != nil && !s.inAreas(u.ID, within)) {
				continue
			}
			if after != nil && order(u.Key(), *after) <= 0 {
				continue
			}
			if f.Status != "" && u.EffectiveStatus(f.Now) != f.Status {
				continue
			}
			if f.Role != "" && !slices.Contains(u.Roles, f.Role) {
				continue
			}
			if query != "" && !strings.Contains(strings.ToLower(u.Username), query) &&
				!strings.Contains(strings.ToLower(u.Email), query) &&
				!strings.Contains(strings.ToLower(u.FullName), query) {
				continue
			}
			out = append(out, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.User) int { return order(a.Key(), b.Key()) })
	out = out[:min(limit, len(out))]
	for i := range out {
		out[i] = copyUser(out[i])
	}
	return out, nil
}

// userOrder compares two users' keys in the filter's order, as PostgreSQL
// orders them: usernames in byte order (COLLATE "C"), times to the
// microsecond, canonical UUIDs as their bytes. It returns the cursor in the
// same terms.
func userOrder(f store.UserFilter) (func(a, b store.UserKey) int, *store.UserKey, error) {
	var cmp func(a, b store.UserKey) int
	after := f.After
	switch f.Sort {
	case "", store.SortByUsername:
		cmp = func(a, b store.UserKey) int { return strings.Compare(a.Username, b.Username) }
	case store.SortByCreatedAt:
		if after != nil {
			id, ok := canonicalUUID(after.ID)
			if !ok {
				return nil, nil, fmt.Errorf("memory: list users: cursor id %q is not a UUID", after.ID)
			}
			after = &store.UserKey{CreatedAt: stamp(after.CreatedAt), ID: id}
		}
		cmp = func(a, b store.UserKey) int {
			if c := stamp(a.CreatedAt).Compare(stamp(b.CreatedAt)); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		}
	default:
		return nil, nil, fmt.Errorf("memory: list users: unknown sort %q", f.Sort)
	}
	switch f.Order {
	case "", store.OrderAsc:
		return cmp, after, nil
	case store.OrderDesc:
		return func(a, b store.UserKey) int { return cmp(b, a) }, after, nil
	}
	return nil, nil, fmt.Errorf("memory: list users: unknown order %q", f.Order)
}

// ---------------------------------------------------------------------------
// Roles

func copyRole(r store.Role) store.Role {
	r.Permissions = list(r.Permissions)
	r.SuggestedGoals = list(r.SuggestedGoals)
	r.CreatedAt = stamp(r.CreatedAt)
	r.UpdatedAt = stamp(r.UpdatedAt)
	return r
}

func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	return s.do(ctx, "create role", func(o op) error {
		if _, ok := s.roles[r.Name]; ok {
			return store.ErrConflict
		}
		if _, ok := s.roles[r.Parent]; r.Parent != "" && !ok {
			return fmt.Errorf("parent %q: %w", r.Parent, store.ErrNotFound)
		}
		put(o, s.roles, r.Name, copyRole(r))
		return nil
	})
}

func (s *Store) GetRole(ctx context.Context, name string) (store.Role, error) {
	var out store.Role
	err := s.do(ctx, "get role", func(op) error {
		r, ok := s.roles[name]
		if !ok {
			return store.ErrNotFound
		}
		out = copyRole(r)
		return nil
	})
	return out, err
}

func (s *Store) UpdateRole(ctx context.Context, r store.Role) error {
	return s.do(ctx, "update role", func(o op) error {
		old, ok := s.roles[r.Name]
		if !ok {
			return store.ErrNotFound
		}
		if _, ok := s.roles[r.Parent]; r.Parent != "" && !ok {
			return fmt.Errorf("parent %q: %w", r.Parent, store.ErrNotFound)
		}
		upd := old
		upd.Description = r.Description
		upd.Parent = r.Parent
		upd.Permissions = r.Permissions
		upd.SuggestedGoals = r.SuggestedGoals
		upd.UpdatedAt = r.UpdatedAt
		if upd.UpdatedAt.IsZero() {
			upd.UpdatedAt = s.now()
		}
		put(o, s.roles, r.Name, copyRole(upd))
		return nil
	})
}

// DeleteRole refuses to delete a role anything still refers to: another
// role as its parent, a user, a group, a client acting as a service account
// or a pending access request. Decided requests keep the name as history.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	return s.do(ctx, "delete role", func(o op) error {
		r, ok := s.roles[name]
		if !ok {
			return store.ErrNotFound
		}
		if r.BuiltIn {
			return fmt.Errorf("role %q is built in: %w", name, store.ErrConflict)
		}
		for _, other := range s.roles {
			if other.Parent == name {
				return fmt.Errorf("role %q is the parent of %q: %w", name, other.Name, store.ErrConflict)
			}
		}
		for _, u := range s.users {
			if slices.Contains(u.Roles, name) {
				return fmt.Errorf("role %q is assigned to users: %w", name, store.ErrConflict)
			}
		}
		for _, c := range s.clients {
			if slices.Contains(c.Roles, name) {
				return fmt.Errorf("role %q is assigned to clients: %w", name, store.ErrConflict)
			}
		}
		for _, g := range s.groups {
			if slices.Contains(g.Roles, name) {
				return fmt.Errorf("role %q is assigned to groups: %w", name, store.ErrConflict)
			}
		}
		for k := range s.areaGrants {
			if k.role == name {
				return fmt.Errorf("role %q is granted within areas: %w", name, store.ErrConflict)
			}
		}
		for _, r := range s.requests {
			if r.Status == store.RequestPending && r.RequestedRole == name {
				return fmt.Errorf("role %q is requested by a pending access request: %w", name, store.ErrConflict)
			}
		}
		del(o, s.roles, name)
		return nil
	})
}

func (s *Store) ListRoles(ctx context.Context) ([]store.Role, error) {
	var out []store.Role
	err := s.do(ctx, "list roles", func(op) error {
		for _, r := range s.roles {
			out = append(out, copyRole(r))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Role) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LockRoles has nothing to take: a transaction holds the store lock from
// BeginTx to its end, so no other transaction reads or writes roles
// meanwhile.
func (s *Store) LockRoles(ctx context.Context) error {
	t := s.txFrom(ctx)
	switch {
	case t == nil:
		return errors.New("memory: lock roles: no transaction in context")
	case t.finished():
		return fmt.Errorf("memory: lock roles: %w", errTxFinished)
	}
	return nil
}
