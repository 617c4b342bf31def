package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Time-boxed role grants, denied permissions and custom permissions.

// RoleGrantView is one role assigned to a user directly, with the instant
// a time-boxed assignment stops counting (null: until removed).
type RoleGrantView struct {
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// roleGrantViews are u's direct roles that count at now, by name.
func roleGrantViews(u store.User, now time.Time) []RoleGrantView {
	out := []RoleGrantView{}
	for _, r := range u.Roles {
		if !domain.RoleHeld(u, r, now) {
			continue
		}
		v := RoleGrantView{Role: r}
		if at, ok := u.RoleExpiry[r]; ok {
			v.ExpiresAt = &at
		}
		out = append(out, v)
	}
	return out
}

// heldRoles are the names of roleGrantViews: the roles list keeps its shape
// and leaves out an expired assignment the janitor has not removed yet.
func heldRoles(u store.User, now time.Time) []string {
	out := []string{}
	for _, r := range u.Roles {
		if domain.RoleHeld(u, r, now) {
			out = append(out, r)
		}
	}
	return out
}

// roleGrantsBody is PUT /users/{id}/roles: roles (names, as before: a
// time-boxed role listed there keeps its expiry) and role_grants (each
// role with its expiry, null for none), together or alone.
type roleGrantsBody struct {
	Roles      *[]string `json:"roles"`
	RoleGrants *[]struct {
		Role      string     `json:"role"`
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"role_grants"`
}

func (b roleGrantsBody) grants() ([]domain.RoleGrant, error) {
	if b.Roles == nil && b.RoleGrants == nil {
		return nil, invalidField("roles", "is required (an empty list removes every role), or role_grants")
	}
	var out []domain.RoleGrant
	explicit := map[string]bool{}
	if b.RoleGrants != nil {
		for i, g := range *b.RoleGrants {
			if g.Role == "" {
				return nil, invalidField(fmt.Sprintf("role_grants[%d].role", i), "is required")
			}
			explicit[g.Role] = true
			out = append(out, domain.RoleGrant{Role: g.Role, ExpiresAt: g.ExpiresAt, Permanent: g.ExpiresAt == nil})
		}
	}
	if b.Roles != nil {
		for _, r := range *b.Roles {
			if !explicit[r] {
				out = append(out, domain.RoleGrant{Role: r})
			}
		}
	}
	return out, nil
}

// approveExpiry reads the approval's "for N days" (expires_in_days) or
// "until" (expires_at); at most one of them.
func approveExpiry(days *int, at *time.Time, now time.Time) (*time.Time, error) {
	switch {
	case days != nil && at != nil:
		return nil, invalidField("expires_in_days", "give expires_in_days or expires_at, not both")
	case days != nil:
		if *days < 1 || *days > maxGrantDays {
			return nil, invalidField("expires_in_days", fmt.Sprintf("must be 1 to %d", maxGrantDays))
		}
		t := now.Add(time.Duration(*days) * 24 * time.Hour)
		return &t, nil
	}
	return at, nil
}

// maxGrantDays bounds a time-boxed approval: ten years is for good.
const maxGrantDays = 3650

func (a *API) setDeniedPermissions(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Permissions *[]string `json:"permissions"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Permissions == nil {
		return invalidField("permissions", "is required (an empty list denies nothing)")
	}
	u, err := a.svc.SetDeniedPermissions(r.Context(), *p, mux.Vars(r)["id"], *in.Permissions)
	if err != nil {
		return err
	}
	return a.writeUser(w, r, u)
}

// PermissionSourceView is one way a user holds a permission.
type PermissionSourceView struct {
	Role string `json:"role"`
	// InheritedFrom is the ancestor of role that carries the permission;
	// omitted when role carries it itself.
	InheritedFrom string `json:"inherited_from,omitempty"`
	// Group is the group holding role; omitted when the user holds it.
	Group     string     `json:"group,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Source says the same for people: "users:read from role admin
	// (inherits manager) via group ops".
	Source string `json:"source"`
}

// EffectivePermissionView is one permission of GET /users/{id}/permissions.
type EffectivePermissionView struct {
	Permission string                 `json:"permission"`
	Granted    bool                   `json:"granted"`
	Denied     bool                   `json:"denied"`
	Reason     string                 `json:"reason,omitempty"`
	Sources    []PermissionSourceView `json:"sources"`
}

// EffectivePermissionsView is GET /users/{id}/permissions.
type EffectivePermissionsView struct {
	UserID         string                    `json:"user_id"`
	EffectiveRoles []string                  `json:"effective_roles"`
	Permissions    []EffectivePermissionView `json:"permissions"`
}

// NewEffectivePermissionsView shows acc, the access of the user with id.
func NewEffectivePermissionsView(id string, acc domain.Access) EffectivePermissionsView {
	out := EffectivePermissionsView{UserID: id, EffectiveRoles: orEmpty(acc.Roles), Permissions: []EffectivePermissionView{}}
	for _, g := range acc.Grants {
		v := EffectivePermissionView{Permission: g.Permission, Granted: g.Granted(), Denied: g.Denied,
			Sources: []PermissionSourceView{}}
		for _, src := range g.Sources {
			v.Sources = append(v.Sources, PermissionSourceView{Role: src.Role, InheritedFrom: src.Inherits,
				Group: src.Group, ExpiresAt: src.ExpiresAt, Source: g.Permission + " " + src.String()})
		}
		if g.Denied {
			v.Reason = "denied: on the user's deny list, which wins over every role and group"
			if len(g.Sources) == 0 {
				v.Reason += " (no role grants it either)"
			}
		}
		out.Permissions = append(out.Permissions, v)
	}
	return out
}

func (a *API) getUserPermissions(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	u, acc, err := a.svc.UserAccess(r.Context(), *p, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewEffectivePermissionsView(u.ID, acc))
	return nil
}

// PermissionView is a permission as GET /permissions shows it: the
// built-in ones (built_in true, no timestamps) and the custom ones.
type PermissionView struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	BuiltIn     bool       `json:"built_in"`
	CreatedAt   *time.Time `json:"created_at,omitempty"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
}

// NewPermissionView shows a custom permission.
func NewPermissionView(p store.Permission) PermissionView {
	return PermissionView{Name: p.Name, Description: p.Description, CreatedAt: &p.CreatedAt, UpdatedAt: &p.UpdatedAt}
}

func (a *API) listPermissions(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	custom, err := a.svc.ListPermissions(r.Context())
	if err != nil {
		return err
	}
	views := make([]PermissionView, 0, len(custom)+len(domain.KnownPermissions()))
	for _, name := range domain.KnownPermissions() {
		views = append(views, PermissionView{Name: name, BuiltIn: true})
	}
	for _, p := range custom {
		views = append(views, NewPermissionView(p))
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v PermissionView) string { return v.Name }))
	return nil
}

func (a *API) createPermission(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	perm, err := a.svc.CreatePermission(r.Context(), p.Actor, store.Permission{Name: in.Name, Description: in.Description})
	if err != nil {
		return conflict(err, "a permission of that name exists")
	}
	writeCreated(w, r, perm.Name, NewPermissionView(perm))
	return nil
}

func (a *API) getPermission(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	name := mux.Vars(r)["name"]
	if domain.IsBuiltInPermission(name) {
		writeJSON(w, http.StatusOK, PermissionView{Name: name, BuiltIn: true})
		return nil
	}
	perm, err := a.svc.GetPermission(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewPermissionView(perm))
	return nil
}

func (a *API) patchPermission(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	pp := domain.PermissionPatch{Description: f.str("description", true)}
	f.readOnly("is read-only (a permission is renamed by defining another)", "name")
	f.readOnly("is read-only", "built_in", "created_at", "updated_at")
	if err := f.done(); err != nil {
		return err
	}
	name := mux.Vars(r)["name"]
	if domain.IsBuiltInPermission(name) {
		return problemf(http.StatusConflict, "%s is a built-in permission: it cannot be changed", name)
	}
	perm, err := a.svc.UpdatePermission(r.Context(), p.Actor, name, pp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewPermissionView(perm))
	return nil
}

func (a *API) deletePermission(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	name := mux.Vars(r)["name"]
	if domain.IsBuiltInPermission(name) {
		return problemf(http.StatusConflict, "%s is a built-in permission: it cannot be deleted", name)
	}
	if err := a.svc.DeletePermission(r.Context(), p.Actor, name); err != nil {
		return err
	}
	noContent(w)
	return nil
}
