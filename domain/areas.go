package domain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// Areas (areas): organizational units in a tree, their members, and roles
// granted within an area. A role granted within an area gives its
// permissions over the users of that area's subtree only: a manager of
// emea manages the people of emea and of every area below it, and no one
// else, whatever the route.

// TargetArea is the audit target type of areas.
const TargetArea = "area"

// NewArea is the input of CreateArea. Parent is the parent's code, ""
// for a root.
type NewArea struct {
	Code   string
	Name   string
	Parent string
}

// AreaPatch is a partial update of an area. A Parent (a code; "" makes the
// area a root) moves the area with its whole subtree.
type AreaPatch struct {
	Name   *string
	Parent *string
}

// areaCode is a slug: lowercase letters, digits and inner hyphens, what a
// URL path and a token claim carry without escaping.
var areaCode = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

// areaFields are an area's audited fields; the parent by code, as people
// name it.
func areaFields(a store.Area, parentCode string) fields {
	return fields{"code": a.Code, "name": a.Name, "parent": parentCode}
}

func (v *problems) checkAreaName(name string) string {
	name = v.checkText("name", name, maxTextLength, true)
	if name == "" {
		v.add("name", "is required")
	}
	return name
}

// areaByCode returns the area with code; a CodeNotFound error naming it
// otherwise.
func (s *Service) areaByCode(ctx context.Context, code string) (store.Area, error) {
	a, err := s.store.GetAreaByCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return store.Area{}, notFound("area %q not found", code)
	}
	if err != nil {
		return store.Area{}, fmt.Errorf("domain: get area: %w", err)
	}
	return a, nil
}

// parentRef resolves a parent code for the field "parent": "" is none.
func (s *Service) parentRef(ctx context.Context, code string) (store.Area, error) {
	if code == "" {
		return store.Area{}, nil
	}
	p, err := s.store.GetAreaByCode(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return store.Area{}, invalid("parent", "no area has the code %q", code)
	}
	return p, err
}

// CreateArea validates and stores an area ("area.create").
func (s *Service) CreateArea(ctx context.Context, a Actor, in NewArea) (store.Area, error) {
	var v problems
	if !areaCode.MatchString(in.Code) {
		v.add("code", "must be 1 to 64 lowercase letters, digits and inner hyphens")
	}
	name := v.checkAreaName(in.Name)
	if err := v.err(); err != nil {
		return store.Area{}, err
	}
	var out store.Area
	err := s.inTx(ctx, "create area", func(ctx context.Context) error {
		parent, err := s.parentRef(ctx, in.Parent)
		if err != nil {
			return err
		}
		now := s.now()
		area := store.Area{ID: uuid.NewString(), Code: in.Code, Name: name, ParentID: parent.ID, CreatedAt: now, UpdatedAt: now}
		if err := s.store.CreateArea(ctx, area); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return conflict("an area with the code %q exists", in.Code)
			}
			return err
		}
		if err := s.audit(ctx, a, "area.create", TargetArea, area.ID, onCreate(areaFields(area, parent.Code))); err != nil {
			return err
		}
		out, err = s.store.GetArea(ctx, area.ID)
		return err
	})
	if err != nil {
		return store.Area{}, err
	}
	return out, nil
}

// GetArea returns the area with code.
func (s *Service) GetArea(ctx context.Context, code string) (store.Area, error) {
	return s.areaByCode(ctx, code)
}

// ListAreas returns every area by code.
func (s *Service) ListAreas(ctx context.Context) ([]store.Area, error) {
	out, err := s.store.ListAreas(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list areas: %w", err)
	}
	return out, nil
}

// ListSubtree returns the area with code and every area below it, by code.
func (s *Service) ListSubtree(ctx context.Context, code string) ([]store.Area, error) {
	a, err := s.areaByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	out, err := s.store.ListSubtree(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("domain: list subtree: %w", err)
	}
	return out, nil
}

// UpdateArea applies p in one transaction: "area.move" when the parent
// changes (the whole subtree moves with it), "area.update" otherwise; a
// patch that changes nothing records nothing. A parent that is the area
// itself or below it is a ValidationError on "parent". The tree's lock is
// taken before the check, so two moves that would together make a cycle
// are ordered and the second is refused.
func (s *Service) UpdateArea(ctx context.Context, a Actor, code string, p AreaPatch) (store.Area, error) {
	var out store.Area
	err := s.inTx(ctx, "update area", func(ctx context.Context) error {
		if err := s.store.LockAreas(ctx); err != nil {
			return err
		}
		cur, err := s.areaByCode(ctx, code)
		if err != nil {
			return err
		}
		curParent, err := s.areaCodeOf(ctx, cur.ParentID)
		if err != nil {
			return err
		}
		next, nextParent := cur, curParent
		var v problems
		if p.Name != nil {
			next.Name = v.checkAreaName(*p.Name)
		}
		if p.Parent != nil {
			parent, err := s.parentRef(ctx, *p.Parent)
			if err != nil {
				return err
			}
			if parent.ID != "" {
				sub, err := s.store.ListSubtree(ctx, cur.ID)
				if err != nil {
					return err
				}
				if slices.ContainsFunc(sub, func(x store.Area) bool { return x.ID == parent.ID }) {
					v.add("parent", "%q is %q or below it: the move would make a cycle", parent.Code, cur.Code)
				}
			}
			next.ParentID, nextParent = parent.ID, parent.Code
		}
		if err := v.err(); err != nil {
			return err
		}
		c := diff(areaFields(cur, curParent), areaFields(next, nextParent))
		if len(c) == 0 {
			out = cur
			return nil
		}
		next.UpdatedAt = s.now()
		if err := s.store.UpdateArea(ctx, next); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return invalid("parent", "the move would make a cycle")
			}
			return err
		}
		action := "area.update"
		if _, moved := c["parent"]; moved {
			action = "area.move"
		}
		if err := s.audit(ctx, a, action, TargetArea, cur.ID, c); err != nil {
			return err
		}
		out, err = s.store.GetArea(ctx, cur.ID)
		return err
	})
	if err != nil {
		return store.Area{}, err
	}
	return out, nil
}

// areaCodeOf returns the code of the area with id, "" for "".
func (s *Service) areaCodeOf(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	a, err := s.store.GetArea(ctx, id)
	if err != nil {
		return "", err
	}
	return a.Code, nil
}

// DeleteArea removes an area ("area.delete"). An area with child areas,
// members or role grants is refused (a conflict): they are moved or
// removed first, so that no one loses a membership or a delegation as a
// side effect.
func (s *Service) DeleteArea(ctx context.Context, a Actor, code string) error {
	return s.inTx(ctx, "delete area", func(ctx context.Context) error {
		if err := s.store.LockAreas(ctx); err != nil {
			return err
		}
		cur, err := s.areaByCode(ctx, code)
		if err != nil {
			return err
		}
		parent, err := s.areaCodeOf(ctx, cur.ParentID)
		if err != nil {
			return err
		}
		if err := s.store.DeleteArea(ctx, cur.ID); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return conflict("area %q has child areas, members or role grants: move or remove them first", code)
			}
			return err
		}
		return s.audit(ctx, a, "area.delete", TargetArea, cur.ID, onRemove(areaFields(cur, parent)))
	})
}

// AddAreaMember makes the user a member of the area ("area.member.add");
// adding a member again changes nothing and records nothing.
func (s *Service) AddAreaMember(ctx context.Context, a Actor, code, userID string) error {
	return s.changeAreaMember(ctx, a, code, userID, true)
}

// RemoveAreaMember ends the membership ("area.member.remove"); a user who
// is not a member is not found. A removed default area leaves none.
func (s *Service) RemoveAreaMember(ctx context.Context, a Actor, code, userID string) error {
	return s.changeAreaMember(ctx, a, code, userID, false)
}

func (s *Service) changeAreaMember(ctx context.Context, a Actor, code, userID string, add bool) error {
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	return s.inTx(ctx, "change area member", func(ctx context.Context) error {
		area, err := s.areaByCode(ctx, code)
		if err != nil {
			return err
		}
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		ua, err := s.store.AreasOfUsers(ctx, []string{u.ID})
		if err != nil {
			return err
		}
		isMember := slices.ContainsFunc(ua[u.ID].Areas, func(x store.Area) bool { return x.ID == area.ID })
		if add {
			if isMember {
				return nil
			}
			if err := s.store.AddAreaMember(ctx, area.ID, u.ID); err != nil {
				return err
			}
			return s.audit(ctx, a, "area.member.add", TargetArea, area.ID, changes{"member": {After: u.ID}})
		}
		if !isMember {
			return notFound("user %s is not a member of area %q", u.ID, code)
		}
		if err := s.store.RemoveAreaMember(ctx, area.ID, u.ID); err != nil {
			return err
		}
		c := changes{"member": {Before: u.ID}}
		if ua[u.ID].DefaultID == area.ID {
			c["default_area_of"] = store.Change{Before: u.ID}
		}
		return s.audit(ctx, a, "area.member.remove", TargetArea, area.ID, c)
	})
}

// UserAreaView is what a user's view shows of its areas: their codes
// (sorted), its default area's code ("" for none) and its role grants
// within areas.
type UserAreaView struct {
	Areas       []string
	DefaultArea string
}

// AreasOfUsers answers for a whole page of users with one store query;
// every given user has an entry, keyed by its id.
func (s *Service) AreasOfUsers(ctx context.Context, users ...store.User) (map[string]UserAreaView, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	got, err := s.store.AreasOfUsers(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("domain: areas of users: %w", err)
	}
	out := make(map[string]UserAreaView, len(users))
	for _, u := range users {
		v := UserAreaView{Areas: []string{}}
		for _, a := range got[u.ID].Areas {
			v.Areas = append(v.Areas, a.Code)
			if a.ID == got[u.ID].DefaultID {
				v.DefaultArea = a.Code
			}
		}
		out[u.ID] = v
	}
	return out, nil
}

// DefaultAreaCode is the code of the user's default area, "" for none:
// the area claim of the area scope.
func (s *Service) DefaultAreaCode(ctx context.Context, userID string) (string, error) {
	v, err := s.AreasOfUsers(ctx, store.User{ID: userID})
	if err != nil {
		return "", err
	}
	return v[userID].DefaultArea, nil
}

// SetDefaultArea makes the area with code the user's default ("" clears
// it), "user.default_area". It must be one of the user's areas (a
// ValidationError on "default_area"); p must have power over the user.
func (s *Service) SetDefaultArea(ctx context.Context, p Principal, userID, code string) error {
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	return s.inTx(ctx, "set default area", func(ctx context.Context) error {
		u, err := s.store.GetUserForUpdate(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		cur, err := s.AreasOfUsers(ctx, u)
		if err != nil {
			return err
		}
		before := cur[u.ID].DefaultArea
		if before == code {
			return nil
		}
		areaID := ""
		if code != "" {
			area, err := s.store.GetAreaByCode(ctx, code)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err != nil || !slices.Contains(cur[u.ID].Areas, code) {
				return invalid("default_area", "must be one of the user's areas (%s)", strings.Join(cur[u.ID].Areas, ", "))
			}
			areaID = area.ID
		}
		if err := s.store.SetDefaultArea(ctx, u.ID, areaID); err != nil {
			return err
		}
		return s.audit(ctx, p.Actor, "user.default_area", TargetUser, u.ID,
			changes{"default_area": {Before: emptyToNil(before), After: emptyToNil(code)}})
	})
}

// AreaRole is a role granted within an area, as people name them.
type AreaRole struct {
	Area string `json:"area"`
	Role string `json:"role"`
}

// AreaRoles returns the user's grants by area code, then role.
func (s *Service) AreaRoles(ctx context.Context, userID string) ([]AreaRole, error) {
	grants, err := s.store.ListAreaRoleGrants(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("domain: area roles: %w", err)
	}
	out := []AreaRole{}
	for _, g := range grants {
		code, err := s.areaCodeOf(ctx, g.AreaID)
		if err != nil {
			return nil, fmt.Errorf("domain: area roles: %w", err)
		}
		out = append(out, AreaRole{Area: code, Role: g.Role})
	}
	slices.SortFunc(out, func(a, b AreaRole) int {
		if c := strings.Compare(a.Area, b.Area); c != 0 {
			return c
		}
		return strings.Compare(a.Role, b.Role)
	})
	return out, nil
}

// GrantAreaRole grants the user role within the area ("area.role.grant");
// granting it again changes nothing. Nobody grants power it does not
// have: p must hold every permission of the role (with its ancestors),
// and power over the user.
func (s *Service) GrantAreaRole(ctx context.Context, p Principal, userID, code, role string) error {
	return s.changeAreaRole(ctx, p, userID, code, role, true)
}

// RevokeAreaRole ends the grant ("area.role.revoke"); ErrNotFound if
// there is none.
func (s *Service) RevokeAreaRole(ctx context.Context, p Principal, userID, code, role string) error {
	return s.changeAreaRole(ctx, p, userID, code, role, false)
}

func (s *Service) changeAreaRole(ctx context.Context, p Principal, userID, code, role string, grant bool) error {
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	return s.inTx(ctx, "change area role", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		area, err := s.areaByCode(ctx, code)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		all, err := s.roleMap(ctx)
		if err != nil {
			return err
		}
		c := changes{"area_role": {After: role + "@" + code}}
		if !grant {
			c = changes{"area_role": {Before: role + "@" + code}}
			if err := s.store.RevokeAreaRole(ctx, u.ID, role, area.ID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return notFound("user %s has no role %q within area %q", u.ID, role, code)
				}
				return err
			}
			return s.audit(ctx, p.Actor, "area.role.revoke", TargetUser, u.ID, c)
		}
		if _, ok := all[role]; !ok {
			return invalid("role", "%q is not a role", role)
		}
		if !p.operator {
			_, perms := closeRoles(all, []string{role})
			if extra := outranks(perms, p.authority()); len(extra) > 0 {
				return forbidden("the role %s carries %s, which you do not hold", role, strings.Join(extra, ", "))
			}
			if err := mayConfer(p, perms, "granting "+role); err != nil {
				return err
			}
		}
		grants, err := s.store.ListAreaRoleGrants(ctx, u.ID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(grants, func(g store.AreaRoleGrant) bool { return g.AreaID == area.ID && g.Role == role }) {
			return nil
		}
		if err := s.store.GrantAreaRole(ctx, store.AreaRoleGrant{UserID: u.ID, Role: role, AreaID: area.ID, CreatedAt: s.now()}); err != nil {
			return err
		}
		return s.audit(ctx, p.Actor, "area.role.grant", TargetUser, u.ID, c)
	})
}

// ---------------------------------------------------------------------------
// Delegated administration

// areaGrant is one of the principal's grants with the permissions of its
// role (and the role's ancestors).
type areaGrant struct {
	areaID string
	perms  map[string]bool
}

// areaGrants returns the principal's grants that count. They are a
// person's own delegation: a user acting for itself (signed in, or
// through an OAuth token it was issued). API tokens, tokens made for it by
// someone else and exchanged tokens carry only their global permissions,
// so that no token reaches further than the scopes it was made with.
func (s *Service) areaGrants(ctx context.Context, p Principal) ([]areaGrant, error) {
	if p.User == nil || p.APITokenID != "" || p.Issuer != nil || p.Exchanged || p.operator {
		return nil, nil
	}
	grants, err := s.store.ListAreaRoleGrants(ctx, p.User.ID)
	if err != nil || len(grants) == 0 {
		return nil, err
	}
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]areaGrant, 0, len(grants))
	for _, g := range grants {
		_, perms := closeRoles(all, []string{g.Role})
		out = append(out, areaGrant{areaID: g.AreaID, perms: perms})
	}
	return out, nil
}

func holdsAny(perms map[string]bool, want []string) bool {
	return slices.ContainsFunc(want, func(p string) bool { return perms[p] })
}

// withArea returns p also holding perms: what it may do to the users a
// check found within its grants' reach.
func (p Principal) withArea(perms map[string]bool, scope []string) Principal {
	p.Permissions = maps.Clone(p.Permissions)
	if p.Permissions == nil {
		p.Permissions = map[string]bool{}
	}
	maps.Copy(p.Permissions, perms)
	if p.Authority != nil {
		p.Authority = maps.Clone(p.Authority)
		maps.Copy(p.Authority, perms)
	}
	p.AreaScope = scope
	return p
}

// AreaReach is for a principal without any of perms globally: whether an
// area grant gives it one. If so it returns p also holding the
// permissions of those grants, with AreaScope set to their areas: what it
// lists must be kept within their subtrees (store.UserFilter.WithinAreas).
func (s *Service) AreaReach(ctx context.Context, p Principal, perms []string) (Principal, bool, error) {
	grants, err := s.areaGrants(ctx, p)
	if err != nil {
		return Principal{}, false, fmt.Errorf("domain: area reach: %w", err)
	}
	union := map[string]bool{}
	var scope []string
	for _, g := range grants {
		if holdsAny(g.perms, perms) {
			maps.Copy(union, g.perms)
			if !slices.Contains(scope, g.areaID) {
				scope = append(scope, g.areaID)
			}
		}
	}
	if len(scope) == 0 {
		return p, false, nil
	}
	return p.withArea(union, scope), true, nil
}

// AreaReachOver is AreaReach for an operation on one user: ok only when
// the user is a member of an area in the subtree of a grant that gives
// one of perms, and then p also holds the permissions of every grant
// whose subtree holds the user. A user out of reach and a user that does
// not exist are the same to the caller (ok false): it learns nothing of
// people it may not see.
func (s *Service) AreaReachOver(ctx context.Context, p Principal, perms []string, userID string) (Principal, bool, error) {
	if _, err := uuid.Parse(userID); err != nil {
		return p, false, nil
	}
	grants, err := s.areaGrants(ctx, p)
	if err != nil || len(grants) == 0 {
		return p, false, err
	}
	got, err := s.store.AreasOfUsers(ctx, []string{userID})
	if err != nil {
		return Principal{}, false, fmt.Errorf("domain: area reach: %w", err)
	}
	member := map[string]bool{}
	for _, ua := range got {
		for _, a := range ua.Areas {
			member[a.ID] = true
		}
	}
	if len(member) == 0 {
		return p, false, nil
	}
	union := map[string]bool{}
	var scope []string
	subtrees := map[string][]store.Area{}
	for _, g := range grants {
		sub, ok := subtrees[g.areaID]
		if !ok {
			if sub, err = s.store.ListSubtree(ctx, g.areaID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return Principal{}, false, fmt.Errorf("domain: area reach: %w", err)
			}
			subtrees[g.areaID] = sub
		}
		if slices.ContainsFunc(sub, func(a store.Area) bool { return member[a.ID] }) {
			maps.Copy(union, g.perms)
			scope = append(scope, g.areaID)
		}
	}
	if !holdsAny(union, perms) {
		return p, false, nil
	}
	return p.withArea(union, scope), true, nil
}

// UpdateUserAndDefaultArea is UpdateUser and, when defaultArea is not nil,
// SetDefaultArea, in one transaction: a merge patch of a user that names
// both applies both or neither.
func (s *Service) UpdateUserAndDefaultArea(ctx context.Context, by Principal, id string, p UserPatch, defaultArea *string, ifVersion ...string) (store.User, error) {
	var out store.User
	err := s.inTx(ctx, "update user", func(ctx context.Context) error {
		u, err := s.UpdateUser(ctx, by, id, p, ifVersion...)
		if err != nil {
			return err
		}
		if defaultArea != nil {
			if err := s.SetDefaultArea(ctx, by, u.ID, *defaultArea); err != nil {
				return err
			}
		}
		out = u
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	return out, nil
}
