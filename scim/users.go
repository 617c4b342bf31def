package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// userSchema: the User attributes a filter may name, and how each compares
// (RFC 7643 section 4.1: id and externalId are caseExact, the rest not).
var userSchema = attrSchema{
	"id": kindExactString, "externalid": kindExactString, "username": kindString, "displayname": kindString,
	"name": kindComplex, "name.formatted": kindString, "name.givenname": kindString, "name.familyname": kindString,
	"emails": kindComplex, "emails.value": kindString, "emails.type": kindString, "emails.primary": kindBool,
	"phonenumbers": kindComplex, "phonenumbers.value": kindString, "phonenumbers.type": kindString,
	"phonenumbers.primary": kindBool,
	"active":               kindBool, "groups": kindComplex, "groups.value": kindExactString, "groups.display": kindString,
	"meta": kindComplex, "meta.created": kindDate, "meta.lastmodified": kindDate, "meta.resourcetype": kindString,
	"meta.version": kindExactString, "meta.location": kindExactString,
	strings.ToLower(schemaEnterprise) + ":department": kindString,
}

// userResource is u as a SCIM User (RFC 7643 section 4.1), a JSON object
// that filters are evaluated on as it is shown.
func (h *Handler) userResource(u store.User, groups []store.Group, now time.Time) map[string]any {
	schemas := []any{schemaUser}
	res := map[string]any{
		"id":       u.ID,
		"userName": u.Username,
		"emails":   []any{map[string]any{"value": u.Email, "type": "work", "primary": true}},
		"active":   u.EffectiveStatus(now) == store.StatusActive,
		"meta": map[string]any{
			"resourceType": "User",
			"created":      timestamp(u.CreatedAt),
			"lastModified": timestamp(u.UpdatedAt),
			"location":     h.location("Users", u.ID),
			"version":      weakETag(domain.UserVersion(u)),
		},
	}
	name := map[string]any{}
	if d := domain.DisplayName(u); d != "" {
		res["displayName"] = d
		name["formatted"] = d
	}
	if u.GivenName != "" {
		name["givenName"] = u.GivenName
	}
	if u.FamilyName != "" {
		name["familyName"] = u.FamilyName
	}
	if len(name) > 0 {
		res["name"] = name
	}
	if u.ExternalID != "" {
		res["externalId"] = u.ExternalID
	}
	if u.PhoneNumber != "" {
		res["phoneNumbers"] = []any{map[string]any{"value": u.PhoneNumber, "type": "work", "primary": true}}
	}
	if u.Department != "" {
		schemas = append(schemas, schemaEnterprise)
		res[schemaEnterprise] = map[string]any{"department": u.Department}
	}
	gs := []any{}
	for _, g := range groups {
		gs = append(gs, map[string]any{"value": g.ID, "display": g.Name, "$ref": h.location("Groups", g.ID), "type": "direct"})
	}
	res["groups"] = gs
	res["schemas"] = schemas
	return res
}

// userInput is what a User body sets; nil fields are absent.
type userInput struct {
	userName, externalID, displayName, formatted *string
	givenName, familyName                        *string
	email, phone, department, password           *string
	active                                       *bool
}

// readUser reads the attributes gatehouse keeps from a User object.
// Read-only attributes (id, meta, groups) and attributes it does not keep
// are ignored, as RFC 7644 section 3.3 allows.
func readUser(m map[string]any) (userInput, error) {
	var in userInput
	var err error
	str := func(v any, attr string) *string {
		if err != nil || v == nil {
			return nil
		}
		s, ok := v.(string)
		if !ok {
			err = badRequest("invalidValue", "%s must be a string", attr)
			return nil
		}
		return &s
	}
	if v, ok := get(m, "schemas"); ok {
		if !hasSchema(v, schemaUser) {
			return userInput{}, badRequest("invalidSyntax", "schemas must include %s", schemaUser)
		}
	}
	if v, ok := get(m, "userName"); ok {
		in.userName = str(v, "userName")
	}
	if v, ok := get(m, "externalId"); ok {
		in.externalID = str(v, "externalId")
		if in.externalID == nil && err == nil {
			in.externalID = new(string)
		}
	}
	if v, ok := get(m, "displayName"); ok {
		in.displayName = str(v, "displayName")
	}
	if v, ok := get(m, "name"); ok && v != nil {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return userInput{}, badRequest("invalidValue", "name must be an object")
		}
		if v, ok := get(obj, "formatted"); ok {
			in.formatted = str(v, "name.formatted")
		}
		if v, ok := get(obj, "givenName"); ok {
			in.givenName = str(v, "name.givenName")
		}
		if v, ok := get(obj, "familyName"); ok {
			in.familyName = str(v, "name.familyName")
		}
	}
	if v, ok := get(m, "emails"); ok {
		in.email = primaryValue(v, "emails", &err)
	}
	if v, ok := get(m, "phoneNumbers"); ok {
		in.phone = primaryValue(v, "phoneNumbers", &err)
	}
	if v, ok := get(m, "password"); ok {
		in.password = str(v, "password")
	}
	if v, ok := get(m, "active"); ok && v != nil {
		b, ok := boolean(v)
		if !ok {
			return userInput{}, badRequest("invalidValue", "active must be true or false")
		}
		in.active = &b
	}
	if v, ok := get(m, schemaEnterprise); ok && v != nil {
		if obj, isObj := v.(map[string]any); isObj {
			if v, ok := get(obj, "department"); ok {
				in.department = str(v, schemaEnterprise+":department")
			}
		}
	}
	return in, err
}

// boolean reads a boolean, also as the strings "True" and "False" that
// Entra ID sends in PATCH values.
func boolean(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func hasSchema(v any, urn string) bool {
	for _, s := range elements(v) {
		if str, ok := s.(string); ok && strings.EqualFold(str, urn) {
			return true
		}
	}
	return false
}

// primaryValue picks the one value gatehouse keeps of a multi-valued
// attribute: the primary element's, else the work one's, else the first's;
// "" for none (an empty list clears it).
func primaryValue(v any, attr string, err *error) *string {
	els := elements(v)
	none := ""
	if len(els) == 0 {
		return &none
	}
	var chosen map[string]any
	for _, pass := range []func(map[string]any) bool{
		func(m map[string]any) bool { p, _ := get(m, "primary"); b, _ := boolean(p); return b },
		func(m map[string]any) bool {
			t, _ := get(m, "type")
			s, _ := t.(string)
			return strings.EqualFold(s, "work")
		},
		func(map[string]any) bool { return true },
	} {
		for _, el := range els {
			if m, ok := el.(map[string]any); ok && chosen == nil && pass(m) {
				chosen = m
			}
		}
	}
	if chosen == nil {
		*err = badRequest("invalidValue", "%s must be a list of objects with a value", attr)
		return nil
	}
	val, _ := get(chosen, "value")
	if val == nil {
		return &none
	}
	s, ok := val.(string)
	if !ok {
		*err = badRequest("invalidValue", "%s value must be a string", attr)
		return nil
	}
	return &s
}

// fullName is the full name a body sets: displayName, else name.formatted.
// A name that only repeats the given and family names (as gatehouse shows
// a user without a full name) leaves the full name empty, so that a read
// and a write back change nothing.
func (in userInput) fullName(cur store.User) string {
	var name string
	switch {
	case in.displayName != nil:
		name = *in.displayName
	case in.formatted != nil:
		name = *in.formatted
	}
	given, family := cur.GivenName, cur.FamilyName
	if in.givenName != nil {
		given = *in.givenName
	}
	if in.familyName != nil {
		family = *in.familyName
	}
	if cur.FullName == "" && (name == strings.TrimSpace(given+" "+family) || name == domain.DisplayName(cur)) {
		return ""
	}
	return name
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// canonicalUserName is the username for a SCIM userName: SCIM compares
// userName case-insensitively and gatehouse's are lowercase, so the
// client's spelling is lowercased; the domain validates the rest.
func canonicalUserName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ---------------------------------------------------------------------------
// Operations

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	u, res, err := h.loadUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	if ok, _ := matchTags(r, "If-None-Match", domain.UserVersion(u)); ok {
		w.Header().Set("ETag", weakETag(domain.UserVersion(u)))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	q := r.URL.Query()
	writeResource(w, http.StatusOK, project(res, attrList(q.Get("attributes")), attrList(q.Get("excludedAttributes"))))
	return nil
}

// loadUser reads a user and its resource; a user that does not exist is a
// 404 in SCIM's words.
func (h *Handler) loadUser(ctx context.Context, id string) (store.User, map[string]any, error) {
	u, err := h.dir.GetUser(ctx, id)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return store.User{}, nil, errorf(http.StatusNotFound, "", "user %s not found", id)
		}
		return store.User{}, nil, err
	}
	groups, err := h.dir.GroupsOfUsers(ctx, u)
	if err != nil {
		return store.User{}, nil, err
	}
	return u, h.userResource(u, groups[u.ID], h.now()), nil
}

// scanPage is how many users a list reads at a time.
const scanPage = 200

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	lp, err := parseList(r, userSchema)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := h.now()
	pg := &page{lp: lp}
	// The common filters, userName eq and emails.value eq, narrow the
	// directory's own search first (a substring search, so the filter is
	// still evaluated on what it finds); id eq reads one user.
	if id, ok := equalsValue(lp.filter, "id", ""); ok {
		_, res, err := h.loadUser(ctx, id)
		if err != nil && !isNotFound(err) {
			return err
		}
		if err == nil && userSchema.match(lp.filter, res, "") {
			pg.offer(res)
		}
		writeJSON(w, http.StatusOK, pg.response())
		return nil
	}
	query := ""
	for _, k := range [][2]string{{"username", ""}, {"emails", "value"}} {
		if v, ok := equalsValue(lp.filter, k[0], k[1]); ok && utf8.RuneCountInString(v) <= 100 {
			query = strings.ToLower(v)
			break
		}
	}
	f := store.UserFilter{Query: query, Now: now, Limit: scanPage}
	// Only the page's window is built in full: a user outside it is
	// counted (and, with a filter, matched on its resource without the
	// groups, unless the filter names them).
	needGroups := lp.filter != nil && refersTo(lp.filter, "groups")
	for {
		users, err := h.dir.ListUsers(ctx, f)
		if err != nil {
			return err
		}
		var groups map[string][]store.Group
		if needGroups || (lp.filter == nil && pg.windowMeets(len(users))) {
			if groups, err = h.dir.GroupsOfUsers(ctx, users...); err != nil {
				return err
			}
		}
		for _, u := range users {
			if lp.filter == nil {
				if !pg.keepsNext() {
					pg.total++
					continue
				}
				pg.offer(h.userResource(u, groups[u.ID], now))
				continue
			}
			res := h.userResource(u, groups[u.ID], now)
			if !userSchema.match(lp.filter, res, "") {
				continue
			}
			if !needGroups && pg.keepsNext() {
				one, err := h.dir.GroupsOfUsers(ctx, u)
				if err != nil {
					return err
				}
				res = h.userResource(u, one[u.ID], now)
			}
			pg.offer(res)
		}
		if len(users) < scanPage {
			break
		}
		last := users[len(users)-1]
		f.After = &store.UserKey{Username: last.Username, CreatedAt: last.CreatedAt, ID: last.ID}
	}
	writeJSON(w, http.StatusOK, pg.response())
	return nil
}

func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	in, err := readUser(body)
	if err != nil {
		return err
	}
	if in.userName == nil || strings.TrimSpace(*in.userName) == "" {
		return badRequest("invalidValue", "userName is required")
	}
	nu := domain.NewUser{
		Username:    canonicalUserName(*in.userName),
		Email:       orEmpty(in.email),
		Password:    orEmpty(in.password),
		FullName:    in.fullName(store.User{}),
		Department:  orEmpty(in.department),
		GivenName:   orEmpty(in.givenName),
		FamilyName:  orEmpty(in.familyName),
		PhoneNumber: orEmpty(in.phone),
		ExternalID:  orEmpty(in.externalID),
		// A provisioned user may sign in at once unless the client says
		// it is inactive: it has no access request to make.
		Status: store.StatusActive,
	}
	if in.active != nil && !*in.active {
		nu.Status = store.StatusDisabled
	}
	u, err := h.dir.CreateUser(r.Context(), p.Actor, nu)
	if err != nil {
		return uniqueness(err)
	}
	res := h.userResource(u, nil, h.now())
	writeResource(w, http.StatusCreated, res)
	return nil
}

func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	in, err := readUser(body)
	if err != nil {
		return err
	}
	if in.userName == nil || strings.TrimSpace(*in.userName) == "" {
		return badRequest("invalidValue", "userName is required")
	}
	cur, _, err := h.loadUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, domain.UserVersion(cur)); err != nil {
		return err
	}
	// A replacement: what the body leaves out is cleared, but for active
	// and password, which it leaves alone.
	for _, s := range []**string{&in.externalID, &in.givenName, &in.familyName, &in.phone, &in.department, &in.email} {
		if *s == nil {
			*s = new(string)
		}
	}
	if in.displayName == nil && in.formatted == nil {
		in.displayName = new(string)
	}
	return h.applyUser(w, r, p, cur, in)
}

// applyUser writes in to cur through the domain, in one transaction: the
// profile (UpdateUser, which checks If-Match again inside it), then the
// status and the password when in sets them.
func (h *Handler) applyUser(w http.ResponseWriter, r *http.Request, p *domain.Principal, cur store.User, in userInput) error {
	ctx := r.Context()
	full := in.fullName(cur)
	patch := domain.UserPatch{
		Email:       in.email,
		FullName:    &full,
		Department:  in.department,
		GivenName:   in.givenName,
		FamilyName:  in.familyName,
		PhoneNumber: in.phone,
		ExternalID:  in.externalID,
	}
	if in.displayName == nil && in.formatted == nil {
		patch.FullName = nil
	}
	if in.userName != nil {
		name := canonicalUserName(*in.userName)
		patch.Username = &name
	}
	versions := ifMatchVersions(r)
	err := h.dir.Atomically(ctx, func(ctx context.Context) error {
		u, err := h.dir.UpdateUser(ctx, *p, cur.ID, patch, versions...)
		if err != nil {
			return uniqueness(err)
		}
		if in.active != nil {
			switch st := u.Status; {
			case *in.active && st != store.StatusActive:
				_, err = h.dir.SetUserStatus(ctx, *p, u.ID, store.StatusActive)
			case !*in.active && (st == store.StatusActive || st == store.StatusPending):
				_, err = h.dir.SetUserStatus(ctx, *p, u.ID, store.StatusDisabled)
			}
			if err != nil {
				return err
			}
		}
		if in.password != nil {
			return h.dir.SetPassword(ctx, *p, u.ID, nil, *in.password)
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, res, err := h.loadUser(ctx, cur.ID)
	if err != nil {
		return err
	}
	writeResource(w, http.StatusOK, res)
	return nil
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	ops, err := readPatch(body)
	if err != nil {
		return err
	}
	cur, res, err := h.loadUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, domain.UserVersion(cur)); err != nil {
		return err
	}
	touched, err := applyPatch(res, ops, userSchema)
	if err != nil {
		return err
	}
	in, err := readUser(res)
	if err != nil {
		return err
	}
	// The resource shows the effective status and no password: only what
	// the operations touched is written.
	if !touched["active"] {
		in.active = nil
	}
	if !touched["password"] {
		in.password = nil
	}
	if !touched["displayname"] && !touched["name"] {
		in.displayName, in.formatted = nil, nil
	}
	if touched["displayname"] && in.displayName == nil {
		// Removed: the full name goes, whatever name.formatted still shows.
		in.displayName = new(string)
	}
	if _, ok := get(res, "emails"); !ok {
		in.email = new(string)
	}
	if _, ok := get(res, "phoneNumbers"); !ok {
		in.phone = new(string)
	}
	if _, ok := get(res, "externalId"); !ok {
		in.externalID = new(string)
	}
	if v, ok := get(res, "name"); !ok || v == nil {
		in.givenName, in.familyName = new(string), new(string)
	} else if obj, ok := v.(map[string]any); ok {
		if _, ok := get(obj, "givenName"); !ok {
			in.givenName = new(string)
		}
		if _, ok := get(obj, "familyName"); !ok {
			in.familyName = new(string)
		}
	}
	if _, ok := get(res, schemaEnterprise); !ok {
		in.department = new(string)
	}
	return h.applyUser(w, r, p, cur, in)
}

// deleteUser removes the user for good (the domain's hard delete, audited
// "user.delete"): SCIM's DELETE leaves nothing to GET. Deactivation is a
// PATCH or PUT of active.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	cur, _, err := h.loadUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, domain.UserVersion(cur)); err != nil {
		return err
	}
	if err := h.dir.DeleteUser(r.Context(), *p, cur.ID, true); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
