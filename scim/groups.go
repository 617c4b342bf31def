package scim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// groupSchema: the Group attributes a filter may name.
var groupSchema = attrSchema{
	"id": kindExactString, "externalid": kindExactString, "displayname": kindString,
	"members": kindComplex, "members.value": kindExactString, "members.display": kindString,
	"members.type": kindString,
	"meta":         kindComplex, "meta.created": kindDate, "meta.lastmodified": kindDate, "meta.resourcetype": kindString,
	"meta.version": kindExactString, "meta.location": kindExactString,
}

// member is one user of a group as the resource shows it.
type member struct{ id, username string }

// groupVersion is a group's version: its record and its members, so that
// a membership change is a new version too.
func groupVersion(g store.Group, members []member) string {
	h := sha256.New()
	h.Write([]byte(g.ID + "\x00" + g.Name + "\x00" + g.Description + "\x00" + strings.Join(g.Roles, ",") + "\x00" + g.ExternalID + "\x00" +
		g.UpdatedAt.UTC().Format("2006-01-02T15:04:05.000000Z")))
	for _, m := range members {
		h.Write([]byte("\x00" + m.id))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

func (h *Handler) groupResource(g store.Group, members []member) map[string]any {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m.id, "display": m.username, "type": "User", "$ref": h.location("Users", m.id)})
	}
	res := map[string]any{
		"schemas":     []any{schemaGroup},
		"id":          g.ID,
		"displayName": g.Name,
		"members":     ms,
		"meta": map[string]any{
			"resourceType": "Group",
			"created":      timestamp(g.CreatedAt),
			"lastModified": timestamp(g.UpdatedAt),
			"location":     h.location("Groups", g.ID),
			"version":      weakETag(groupVersion(g, members)),
		},
	}
	if g.ExternalID != "" {
		res["externalId"] = g.ExternalID
	}
	return res
}

// members reads a group's members, by id (the version's order).
func (h *Handler) members(ctx context.Context, groupID string) ([]member, error) {
	var out []member
	f := store.UserFilter{Group: groupID, Now: h.now(), Limit: scanPage}
	for {
		users, err := h.dir.ListUsers(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			out = append(out, member{id: u.ID, username: u.Username})
		}
		if len(users) < scanPage {
			break
		}
		last := users[len(users)-1]
		f.After = &store.UserKey{Username: last.Username, CreatedAt: last.CreatedAt, ID: last.ID}
	}
	slices.SortFunc(out, func(a, b member) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

func (h *Handler) loadGroup(ctx context.Context, id string) (store.Group, []member, map[string]any, error) {
	g, _, err := h.dir.GetGroup(ctx, id)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return store.Group{}, nil, nil, errorf(http.StatusNotFound, "", "group %s not found", id)
		}
		return store.Group{}, nil, nil, err
	}
	ms, err := h.members(ctx, g.ID)
	if err != nil {
		return store.Group{}, nil, nil, err
	}
	return g, ms, h.groupResource(g, ms), nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	g, ms, res, err := h.loadGroup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	version := groupVersion(g, ms)
	if ok, _ := matchTags(r, "If-None-Match", version); ok {
		w.Header().Set("ETag", weakETag(version))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	q := r.URL.Query()
	writeResource(w, http.StatusOK, project(res, attrList(q.Get("attributes")), attrList(q.Get("excludedAttributes"))))
	return nil
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	lp, err := parseList(r, groupSchema)
	if err != nil {
		return err
	}
	ctx := r.Context()
	groups, err := h.dir.ListGroups(ctx)
	if err != nil {
		return err
	}
	pg := &page{lp: lp}
	for _, g := range groups {
		if name, ok := equalsValue(lp.filter, "displayname", ""); ok && !strings.EqualFold(name, g.Name) {
			continue
		}
		ms, err := h.members(ctx, g.ID)
		if err != nil {
			return err
		}
		res := h.groupResource(g, ms)
		if lp.filter == nil || groupSchema.match(lp.filter, res, "") {
			pg.offer(res)
		}
	}
	writeJSON(w, http.StatusOK, pg.response())
	return nil
}

// groupInput is what a Group body sets.
type groupInput struct {
	displayName *string
	externalID  *string
	members     []string // nil: absent
}

func readGroup(m map[string]any) (groupInput, error) {
	var in groupInput
	if v, ok := get(m, "schemas"); ok && !hasSchema(v, schemaGroup) {
		return groupInput{}, badRequest("invalidSyntax", "schemas must include %s", schemaGroup)
	}
	if v, ok := get(m, "displayName"); ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			return groupInput{}, badRequest("invalidValue", "displayName must be a string")
		}
		in.displayName = &s
	}
	if v, ok := get(m, "externalId"); ok {
		s, isStr := v.(string)
		if v != nil && !isStr {
			return groupInput{}, badRequest("invalidValue", "externalId must be a string")
		}
		in.externalID = &s
	}
	if v, ok := get(m, "members"); ok {
		in.members = []string{}
		for _, el := range elements(v) {
			mm, isObj := el.(map[string]any)
			val, _ := get(mm, "value")
			s, isStr := val.(string)
			if !isObj || !isStr || s == "" {
				return groupInput{}, badRequest("invalidValue", "members must be a list of objects with a user id as value")
			}
			if !slices.Contains(in.members, s) {
				in.members = append(in.members, s)
			}
		}
	}
	return in, nil
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	in, err := readGroup(body)
	if err != nil {
		return err
	}
	if in.displayName == nil || strings.TrimSpace(*in.displayName) == "" {
		return badRequest("invalidValue", "displayName is required")
	}
	ctx := r.Context()
	var id string
	err = h.dir.Atomically(ctx, func(ctx context.Context) error {
		g, err := h.dir.CreateGroup(ctx, p.Actor, domain.NewGroup{Name: *in.displayName, ExternalID: orEmpty(in.externalID)})
		if err != nil {
			return uniqueness(err)
		}
		id = g.ID
		return h.setMembers(ctx, p, g.ID, nil, in.members)
	})
	if err != nil {
		return err
	}
	_, _, res, err := h.loadGroup(ctx, id)
	if err != nil {
		return err
	}
	writeResource(w, http.StatusCreated, res)
	return nil
}

// setMembers changes the group's members from have to want (nil: leave
// them) through the domain, which applies the power rule to each.
func (h *Handler) setMembers(ctx context.Context, p *domain.Principal, groupID string, have []member, want []string) error {
	if want == nil {
		return nil
	}
	for _, id := range want {
		if slices.ContainsFunc(have, func(m member) bool { return strings.EqualFold(m.id, id) }) {
			continue
		}
		if err := h.dir.AddGroupMemberAs(ctx, *p, groupID, id); err != nil {
			if domain.ErrorCode(err) == domain.CodeNotFound {
				return badRequest("invalidValue", "members: %s is not a user", id)
			}
			return err
		}
	}
	for _, m := range have {
		if slices.ContainsFunc(want, func(id string) bool { return strings.EqualFold(m.id, id) }) {
			continue
		}
		if err := h.dir.RemoveGroupMemberAs(ctx, *p, groupID, m.id); err != nil {
			return err
		}
	}
	return nil
}

func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	in, err := readGroup(body)
	if err != nil {
		return err
	}
	if in.displayName == nil || strings.TrimSpace(*in.displayName) == "" {
		return badRequest("invalidValue", "displayName is required")
	}
	if in.members == nil {
		// A replacement without members has none.
		in.members = []string{}
	}
	if in.externalID == nil {
		in.externalID = new(string)
	}
	return h.applyGroup(w, r, p, in)
}

func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	ops, err := readPatch(body)
	if err != nil {
		return err
	}
	_, _, res, err := h.loadGroup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	touched, err := applyPatch(res, ops, groupSchema)
	if err != nil {
		return err
	}
	in, err := readGroup(res)
	if err != nil {
		return err
	}
	if !touched["displayname"] {
		in.displayName = nil
	}
	if !touched["externalid"] {
		in.externalID = nil
	} else if in.externalID == nil {
		in.externalID = new(string)
	}
	if !touched["members"] {
		in.members = nil
	} else if in.members == nil {
		in.members = []string{}
	}
	return h.applyGroup(w, r, p, in)
}

// applyGroup writes in in one transaction, after checking If-Match against
// the group as that transaction reads it.
func (h *Handler) applyGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal, in groupInput) error {
	ctx := r.Context()
	id := mux.Vars(r)["id"]
	err := h.dir.Atomically(ctx, func(ctx context.Context) error {
		g, have, _, err := h.loadGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(r, groupVersion(g, have)); err != nil {
			return err
		}
		gp := domain.GroupPatch{ExternalID: in.externalID}
		if in.displayName != nil && *in.displayName != g.Name {
			gp.Name = in.displayName
		}
		if gp.Name != nil || (gp.ExternalID != nil && *gp.ExternalID != g.ExternalID) {
			if _, err := h.dir.UpdateGroup(ctx, p.Actor, g.ID, gp); err != nil {
				return uniqueness(err)
			}
		}
		return h.setMembers(ctx, p, g.ID, have, in.members)
	})
	if err != nil {
		return err
	}
	_, _, res, err := h.loadGroup(ctx, id)
	if err != nil {
		return err
	}
	writeResource(w, http.StatusOK, res)
	return nil
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	g, ms, _, err := h.loadGroup(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, groupVersion(g, ms)); err != nil {
		return err
	}
	if err := h.dir.DeleteGroupAs(r.Context(), *p, g.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
