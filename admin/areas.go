package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Areas (areas): the tree of organizational units, its members, and roles
// granted within an area, whose holders manage the users of that area's
// subtree (authorizeInArea).

// AreaView is an area as the API shows it; parent is the parent's code,
// null for a root.
type AreaView struct {
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	Parent    *string   `json:"parent"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AreaViews shows areas with their parents' codes, read from all (every
// area, or at least every parent of these). The CLI prints the same.
func AreaViews(areas, all []store.Area) []AreaView {
	byID := map[string]store.Area{}
	for _, x := range all {
		byID[x.ID] = x
	}
	return areaViews(areas, byID)
}

func areaViews(areas []store.Area, byID map[string]store.Area) []AreaView {
	out := make([]AreaView, len(areas))
	for i, a := range areas {
		out[i] = AreaView{Code: a.Code, Name: a.Name, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
		if p, ok := byID[a.ParentID]; ok {
			code := p.Code
			out[i].Parent = &code
		}
	}
	return out
}

// writeArea answers with the area's view.
func (a *API) writeArea(w http.ResponseWriter, r *http.Request, status int, area store.Area) error {
	all, err := a.svc.ListAreas(r.Context())
	if err != nil {
		return err
	}
	byID := map[string]store.Area{}
	for _, x := range all {
		byID[x.ID] = x
	}
	v := areaViews([]store.Area{area}, byID)[0]
	if status == http.StatusCreated {
		writeCreated(w, r, area.Code, v)
		return nil
	}
	writeJSON(w, status, v)
	return nil
}

// listAreas lists every area by code, or with ?under=<code> that area's
// subtree.
func (a *API) listAreas(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	all, err := a.svc.ListAreas(ctx)
	if err != nil {
		return err
	}
	byID := map[string]store.Area{}
	for _, x := range all {
		byID[x.ID] = x
	}
	areas := all
	if under := r.URL.Query().Get("under"); under != "" {
		if areas, err = a.svc.ListSubtree(ctx, under); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return invalidField("under", fmt.Sprintf("no area has the code %q", under))
			}
			return err
		}
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, areaViews(areas, byID), func(v AreaView) string { return v.Code }))
	return nil
}

func (a *API) createArea(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Code   string `json:"code"`
		Name   string `json:"name"`
		Parent string `json:"parent"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	area, err := a.svc.CreateArea(r.Context(), p.Actor, domain.NewArea{Code: in.Code, Name: in.Name, Parent: in.Parent})
	if err != nil {
		return err
	}
	return a.writeArea(w, r, http.StatusCreated, area)
}

func (a *API) getArea(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	area, err := a.svc.GetArea(r.Context(), mux.Vars(r)["code"])
	if err != nil {
		return err
	}
	return a.writeArea(w, r, http.StatusOK, area)
}

// patchArea renames the area or moves it (with its subtree) under another
// parent; "parent": null makes it a root.
func (a *API) patchArea(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	ap := domain.AreaPatch{Name: f.str("name", false), Parent: f.str("parent", true)}
	f.readOnly("is read-only (an area is renamed by its name; its code stays)", "code")
	f.readOnly("is read-only", "created_at", "updated_at")
	if err := f.done(); err != nil {
		return err
	}
	area, err := a.svc.UpdateArea(r.Context(), p.Actor, mux.Vars(r)["code"], ap)
	if err != nil {
		return err
	}
	return a.writeArea(w, r, http.StatusOK, area)
}

func (a *API) deleteArea(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.DeleteArea(r.Context(), p.Actor, mux.Vars(r)["code"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) addAreaMember(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	v := mux.Vars(r)
	if err := a.svc.AddAreaMember(r.Context(), p.Actor, v["code"], v["user_id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) removeAreaMember(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	v := mux.Vars(r)
	if err := a.svc.RemoveAreaMember(r.Context(), p.Actor, v["code"], v["user_id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// AreaRoleList is the user's roles granted within areas.
type AreaRoleList struct {
	Items []domain.AreaRole `json:"items"`
}

func (a *API) listAreaRoles(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	ctx := r.Context()
	u, err := a.svc.GetUser(ctx, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	roles, err := a.svc.AreaRoles(ctx, u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, AreaRoleList{Items: roles})
	return nil
}

func (a *API) grantAreaRole(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	v := mux.Vars(r)
	if err := a.svc.GrantAreaRole(r.Context(), *p, v["id"], v["area"], v["role"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) revokeAreaRole(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	v := mux.Vars(r)
	if err := a.svc.RevokeAreaRole(r.Context(), *p, v["id"], v["area"], v["role"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// errOutOfReach answers a delegated administrator asking for a user
// outside its areas as a user that does not exist is answered: 404, so
// that it learns nothing of people it may not see.
var errOutOfReach = fmt.Errorf("admin: user outside the caller's areas: %w", store.ErrNotFound)

// authorizeInArea lets a principal without the route's permission act
// through a role granted within an area: on the listing, confined to the
// users of its areas' subtrees (Principal.AreaScope); on one user, only if
// that user is in such a subtree, and 404 for anyone else. ok is false,
// with no error, for a principal without any such grant (the route's 403
// stands).
func (a *API) authorizeInArea(rt route, r *http.Request, p *domain.Principal) (bool, error) {
	ctx := r.Context()
	reach, ok, err := a.svc.AreaReach(ctx, *p, rt.Permissions)
	if err != nil || !ok {
		return false, err
	}
	id, one := mux.Vars(r)["id"]
	if !one {
		*p = reach
		return true, nil
	}
	over, ok, err := a.svc.AreaReachOver(ctx, *p, rt.Permissions, id)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, errOutOfReach
	}
	*p = over
	return true, nil
}
