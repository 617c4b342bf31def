package scim

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// The discovery endpoints (RFC 7644 section 4) say what this service
// provider does, truthfully: a client reads them to decide what to send.
// They need no token.

func (h *Handler) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{schemaServiceConfig},
		"documentationUri": "https://github.com/gatehouse/gatehouse#scim-20-provisioning",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": true},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A gatehouse access token with the scope gatehouse:api, or an API token (gh_pat_), whose principal holds scim:provision.",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": h.base + "/ServiceProviderConfig"},
	})
	return nil
}

func (h *Handler) resourceTypes() []map[string]any {
	return []map[string]any{
		{
			"schemas": []string{schemaResourceType}, "id": "User", "name": "User", "endpoint": "/Users",
			"description": "A person in gatehouse's directory", "schema": schemaUser,
			"schemaExtensions": []any{map[string]any{"schema": schemaEnterprise, "required": false}},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": h.base + "/ResourceTypes/User"},
		},
		{
			"schemas": []string{schemaResourceType}, "id": "Group", "name": "Group", "endpoint": "/Groups",
			"description": "A group of users (its roles are managed in gatehouse, not through SCIM)", "schema": schemaGroup,
			"meta": map[string]any{"resourceType": "ResourceType", "location": h.base + "/ResourceTypes/Group"},
		},
	}
}

func (h *Handler) listResourceTypes(w http.ResponseWriter, _ *http.Request) error {
	return writeList(w, h.resourceTypes())
}

func (h *Handler) getResourceType(w http.ResponseWriter, r *http.Request) error {
	for _, rt := range h.resourceTypes() {
		if strings.EqualFold(rt["id"].(string), mux.Vars(r)["id"]) {
			writeJSON(w, http.StatusOK, rt)
			return nil
		}
	}
	return errorf(http.StatusNotFound, "", "no resource type %s", mux.Vars(r)["id"])
}

func writeList(w http.ResponseWriter, items []map[string]any) error {
	res := make([]any, len(items))
	for i, it := range items {
		res[i] = it
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{schemaListResponse}, "totalResults": len(res), "startIndex": 1,
		"itemsPerPage": len(res), "Resources": res,
	})
	return nil
}

// attr describes one attribute (RFC 7643 section 7).
func attr(name, typ string, multi, required bool, mutability, returned, uniqueness string, caseExact bool, desc string, subs ...map[string]any) map[string]any {
	a := map[string]any{
		"name": name, "type": typ, "multiValued": multi, "required": required, "caseExact": caseExact,
		"mutability": mutability, "returned": returned, "uniqueness": uniqueness, "description": desc,
	}
	if len(subs) > 0 {
		a["subAttributes"] = subs
	}
	return a
}

func (h *Handler) schemas() []map[string]any {
	rw, ro, def, none := "readWrite", "readOnly", "default", "none"
	multi := func(name, desc string) map[string]any {
		return attr(name, "complex", true, false, rw, def, none, false, desc,
			attr("value", "string", false, false, rw, def, none, false, "The value; gatehouse keeps one, the primary"),
			attr("type", "string", false, false, rw, def, none, false, "Shown as work"),
			attr("primary", "boolean", false, false, rw, def, none, false, "Shown as true"))
	}
	user := []map[string]any{
		attr("userName", "string", false, true, rw, def, "server", false,
			"gatehouse's username: 3-50 characters of lowercase letters, digits, '.', '_' and '-'; sent in any case and kept lowercase"),
		attr("name", "complex", false, false, rw, def, none, false, "The user's name",
			attr("formatted", "string", false, false, rw, def, none, false, "The full name (as displayName)"),
			attr("givenName", "string", false, false, rw, def, none, false, "The given name"),
			attr("familyName", "string", false, false, rw, def, none, false, "The family name")),
		attr("displayName", "string", false, false, rw, def, none, false, "The full name"),
		multi("emails", "The user's email address (required, unique in gatehouse)"),
		multi("phoneNumbers", "The user's phone number, E.164"),
		attr("active", "boolean", false, false, rw, def, none, false, "true: status active; false: status disabled"),
		attr("password", "string", false, false, "writeOnly", "never", none, false, "Checked against gatehouse's password policy"),
		attr("groups", "complex", true, false, ro, def, none, false, "The groups the user belongs to; changed through Groups",
			attr("value", "string", false, false, ro, def, none, true, "The group's id"),
			attr("display", "string", false, false, ro, def, none, false, "The group's name")),
	}
	group := []map[string]any{
		attr("displayName", "string", false, true, rw, def, "server", false, "The group's name, unique"),
		attr("members", "complex", true, false, rw, def, none, false, "The group's users",
			attr("value", "string", false, false, "immutable", def, none, true, "The user's id"),
			attr("display", "string", false, false, ro, def, none, false, "The user's username")),
	}
	enterprise := []map[string]any{
		attr("department", "string", false, false, rw, def, none, false, "The user's department"),
	}
	mk := func(id, name, desc string, attrs []map[string]any) map[string]any {
		return map[string]any{"schemas": []string{schemaSchemaResource}, "id": id, "name": name, "description": desc,
			"attributes": attrs, "meta": map[string]any{"resourceType": "Schema", "location": h.base + "/Schemas/" + id}}
	}
	return []map[string]any{
		mk(schemaUser, "User", "User Account", user),
		mk(schemaGroup, "Group", "Group", group),
		mk(schemaEnterprise, "EnterpriseUser", "Enterprise User", enterprise),
	}
}

func (h *Handler) listSchemas(w http.ResponseWriter, _ *http.Request) error {
	return writeList(w, h.schemas())
}

func (h *Handler) getSchema(w http.ResponseWriter, r *http.Request) error {
	for _, s := range h.schemas() {
		if strings.EqualFold(s["id"].(string), mux.Vars(r)["id"]) {
			writeJSON(w, http.StatusOK, s)
			return nil
		}
	}
	return errorf(http.StatusNotFound, "", "no schema %s", mux.Vars(r)["id"])
}
