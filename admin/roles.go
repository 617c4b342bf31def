package admin

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func (a *API) listRoles(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	roles, err := a.svc.ListRoles(r.Context())
	if err != nil {
		return err
	}
	views := make([]RoleView, len(roles))
	for i, role := range roles {
		views[i] = NewRoleView(role)
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v RoleView) string { return v.Name }))
	return nil
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Name           string   `json:"name"`
		Description    string   `json:"description"`
		Parent         string   `json:"parent"`
		Permissions    []string `json:"permissions"`
		SuggestedGoals []string `json:"suggested_goals"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	role, err := a.svc.CreateRole(r.Context(), p.Actor, store.Role{
		Name:           in.Name,
		Description:    in.Description,
		Parent:         in.Parent,
		Permissions:    in.Permissions,
		SuggestedGoals: in.SuggestedGoals,
	})
	if err != nil {
		return conflict(err, "a role of that name exists")
	}
	writeCreated(w, r, role.Name, NewRoleView(role))
	return nil
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	role, err := a.svc.GetRole(r.Context(), mux.Vars(r)["name"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewRoleView(role))
	return nil
}

func (a *API) patchRole(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	rp := domain.RolePatch{
		Description:    f.str("description", true),
		Parent:         f.str("parent", true),
		Permissions:    f.strings("permissions"),
		SuggestedGoals: f.strings("suggested_goals"),
	}
	f.readOnly("is read-only (a role is renamed by creating another)", "name")
	f.readOnly("is read-only", "built_in", "created_at", "updated_at")
	if err := f.done(); err != nil {
		return err
	}
	role, err := a.svc.UpdateRole(r.Context(), p.Actor, mux.Vars(r)["name"], rp)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewRoleView(role))
	return nil
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.DeleteRole(r.Context(), p.Actor, mux.Vars(r)["name"]); err != nil {
		return conflict(err, "the role is built in, held by someone, or the parent of another role")
	}
	noContent(w)
	return nil
}

// Groups.

func (a *API) listGroups(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	groups, err := a.svc.ListGroups(r.Context())
	if err != nil {
		return err
	}
	views := make([]GroupView, len(groups))
	for i, g := range groups {
		views[i] = NewGroupView(g, nil)
	}
	// Names are unique; the id breaks no tie but keeps the key total.
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v GroupView) string { return v.Name + "\x00" + v.ID }))
	return nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Roles       []string `json:"roles"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	g, err := a.svc.CreateGroupBy(r.Context(), *p, domain.NewGroup{Name: in.Name, Description: in.Description, Roles: in.Roles})
	if err != nil {
		return conflict(err, "a group of that name exists")
	}
	writeCreated(w, r, g.ID, NewGroupView(g, []string{}))
	return nil
}

func (a *API) getGroup(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	g, members, err := a.svc.GetGroup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewGroupView(g, orEmpty(members)))
	return nil
}

func (a *API) patchGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	gp := domain.GroupPatch{
		Name:        f.str("name", false),
		Description: f.str("description", true),
		Roles:       f.strings("roles"),
	}
	f.readOnly("is changed with PUT and DELETE /groups/{id}/members/{user_id}", "members")
	f.readOnly("is read-only", "id", "created_at", "updated_at")
	if err := f.done(); err != nil {
		return err
	}
	ctx := r.Context()
	id := mux.Vars(r)["id"]
	if _, err := a.svc.UpdateGroupBy(ctx, *p, id, gp); err != nil {
		return conflict(err, "a group of that name exists")
	}
	g, members, err := a.svc.GetGroup(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewGroupView(g, orEmpty(members)))
	return nil
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.DeleteGroup(r.Context(), p.Actor, mux.Vars(r)["id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) addGroupMember(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	v := mux.Vars(r)
	if err := a.svc.AddGroupMemberBy(r.Context(), *p, v["id"], v["user_id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) removeGroupMember(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	v := mux.Vars(r)
	if err := a.svc.RemoveGroupMember(r.Context(), p.Actor, v["id"], v["user_id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}
