package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/store"
)

// ClientAdmits is the one rule of app access: a client with an empty
// access rule admits everyone; otherwise a user is admitted if any of its
// effective roles (own and its groups', closed over the hierarchy) is in
// the rule's roles, any of its groups (by id) is in the rule's groups, or
// any area it reaches is in the rule's areas. areaReach is the codes of
// the user's areas and of every area above them (AreaReachOf), so that a
// listed area admits the members of its whole subtree.
func ClientAdmits(rule store.ClientAccess, effectiveRoles, groupIDs, areaReach []string) bool {
	if !rule.Restricted() {
		return true
	}
	for _, a := range areaReach {
		if slices.Contains(rule.Areas, a) {
			return true
		}
	}
	for _, r := range effectiveRoles {
		if slices.Contains(rule.Roles, r) {
			return true
		}
	}
	for _, g := range groupIDs {
		if slices.Contains(rule.Groups, g) {
			return true
		}
	}
	return false
}

// MayUseClient reports whether u may use client c under c's access rule
// (ClientAdmits), with u's effective roles as every other check sees them
// (accessOf: expired grants ignored, groups and the hierarchy followed).
// An unrestricted client costs nothing; a restricted one reads the user's
// groups once (the roles come from the cache), and a rule with areas that
// roles and groups did not satisfy reads the user's areas and their
// ancestors.
func (s *Service) MayUseClient(ctx context.Context, u store.User, c store.Client) (bool, error) {
	if !c.Access.Restricted() {
		return true, nil
	}
	var groups []store.Group
	if u.ID != "" {
		var err error
		if groups, err = s.store.ListUserGroups(ctx, u.ID); err != nil {
			return false, fmt.Errorf("domain: app access: %w", err)
		}
	}
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return false, fmt.Errorf("domain: app access: %w", err)
	}
	groupIDs := make([]string, len(groups))
	for i, g := range groups {
		groupIDs[i] = g.ID
	}
	roles := accessOf(u, groups, all, s.now()).Roles
	if ClientAdmits(c.Access, roles, groupIDs, nil) || len(c.Access.Areas) == 0 || u.ID == "" {
		return ClientAdmits(c.Access, roles, groupIDs, nil), nil
	}
	reach, err := s.areaReachOf(ctx, u.ID)
	if err != nil {
		return false, fmt.Errorf("domain: app access: %w", err)
	}
	return ClientAdmits(c.Access, roles, groupIDs, reach), nil
}

// areaReachOf is the codes of the areas userID is a member of and of every
// area above them. The walk up stops at a root or at an area seen before,
// so a tree being moved meanwhile cannot make it loop.
func (s *Service) areaReachOf(ctx context.Context, userID string) ([]string, error) {
	m, err := s.store.AreasOfUsers(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range m[userID].Areas {
		for !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a.Code)
			if a.ParentID == "" {
				break
			}
			a, err = s.store.GetArea(ctx, a.ParentID)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// checkClientAccess adds a problem for each role (access.roles), group id
// (access.groups) or area code (access.areas) of the rule that does not
// exist.
func (s *Service) checkClientAccess(ctx context.Context, v *problems, a store.ClientAccess, all map[string]store.Role) error {
	for _, r := range a.Roles {
		if _, ok := all[r]; !ok {
			v.add("access.roles", "%q is not a role", r)
		}
	}
	for _, id := range a.Groups {
		if _, err := s.store.GetGroup(ctx, id); errors.Is(err, store.ErrNotFound) {
			v.add("access.groups", "%q is not a group", id)
		} else if err != nil {
			return err
		}
	}
	for _, code := range a.Areas {
		if _, err := s.store.GetAreaByCode(ctx, code); errors.Is(err, store.ErrNotFound) {
			v.add("access.areas", "%q is not an area", code)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// normalAccess trims, deduplicates and orders each list of the rule, so
// that the stored rule and its audit entry read the same.
func normalAccess(a store.ClientAccess) store.ClientAccess {
	return store.ClientAccess{Roles: set(a.Roles), Groups: set(a.Groups), Areas: set(a.Areas)}
}

// AppAccessOffer is what the page that tells a user it has no access to a
// client may offer it.
type AppAccessOffer struct {
	// Role is the role a request for the client asks for, the reviewer's
	// suggestion: the first of the rule's roles that may be requested (not
	// admin). "" when there is none: the rule admits by group or area
	// only, which approving a request (granting a role) cannot give, so no
	// request is offered.
	Role string
	// Pending is the user's pending request for the client, if any: the
	// page says so instead of offering a second.
	Pending *store.AccessRequest
}

// requestableRuleRole is the first role of the rule (they are sorted) that
// exists and may be asked for.
func requestableRuleRole(rule store.ClientAccess, all map[string]store.Role) string {
	for _, r := range rule.Roles {
		if _, ok := all[r]; ok && r != AdminRole {
			return r
		}
	}
	return ""
}

// OfferAppAccess says what u, refused by c's access rule, may ask for.
func (s *Service) OfferAppAccess(ctx context.Context, u store.User, c store.Client) (AppAccessOffer, error) {
	pending, err := s.pendingRequestFor(ctx, u.ID, c.ID)
	if err != nil {
		return AppAccessOffer{}, err
	}
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return AppAccessOffer{}, fmt.Errorf("domain: app access offer: %w", err)
	}
	return AppAccessOffer{Role: requestableRuleRole(c.Access, all), Pending: pending}, nil
}

// SubmitAppAccessRequest records a user's request for access to a client
// ("access_request.create" with client_id): an access request as
// SubmitAccessRequest makes (its rules: who may ask, the purpose, one
// pending request per user and client, store.ErrConflict), asking for the
// role OfferAppAccess suggests. The client must exist, be restricted, not
// admit the user already, and name a role that may be requested (a
// ValidationError on client_id otherwise).
func (s *Service) SubmitAppAccessRequest(ctx context.Context, a Actor, userID, clientID, purpose string) (store.AccessRequest, error) {
	if err := notFoundKey("client", clientID); err != nil {
		return store.AccessRequest{}, err
	}
	return s.submitAccessRequest(ctx, a, userID, "", purpose, func(ctx context.Context, u store.User) (string, string, error) {
		c, err := s.store.GetClient(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return "", "", notFound("client %q not found", clientID)
		}
		if err != nil {
			return "", "", err
		}
		if !c.Access.Restricted() {
			return "", "", invalid("client_id", "admits everyone; there is nothing to request")
		}
		ok, err := s.MayUseClient(ctx, u, c)
		if err != nil {
			return "", "", err
		}
		if ok {
			return "", "", invalid("client_id", "you have access to this application already")
		}
		all, err := s.roleMap(ctx)
		if err != nil {
			return "", "", err
		}
		role := requestableRuleRole(c.Access, all)
		if role == "" {
			return "", "", invalid("client_id", "admits members of some groups or areas only; ask an administrator to add you")
		}
		return c.ID, role, nil
	})
}
