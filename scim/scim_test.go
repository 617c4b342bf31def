package scim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func newUserBody(userName, email string) map[string]any {
	return map[string]any{
		"schemas":    []string{userSchema},
		"userName":   userName,
		"externalId": "ext-" + userName,
		"name":       map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":     []any{map[string]any{"value": email, "type": "work", "primary": true}},
		"active":     true,
	}
}

func patch(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

// TestUsers walks a user through every operation on both stores: create,
// duplicate, read, conditional reads, filters, pages, replace, Okta's and
// Entra ID's PATCH forms, a stale If-Match and delete; and checks what the
// store holds and what the audit log says after each change.
func TestUsers(t *testing.T) {
	bothStores(t, func(t *testing.T, e *env) {
		tok, sa := e.systemToken(t, []string{"admin"}, store.PermSCIMProvision)
		before := e.lastAuditID(t)

		// Create: 201, Location, ETag, the mapping.
		r := e.call(t, http.MethodPost, "/Users", tok, newUserBody("BJensen", "bjensen@example.com"))
		want(t, r, http.StatusCreated, "create")
		id := str(r.Body, "id")
		if loc := r.Header.Get("Location"); loc != e.URL+"/scim/v2/Users/"+id || str(r.Body, "meta.location") != loc {
			t.Errorf("Location %q, meta.location %q", loc, str(r.Body, "meta.location"))
		}
		etag := r.Header.Get("ETag")
		if !strings.HasPrefix(etag, `W/"`) || etag != str(r.Body, "meta.version") {
			t.Errorf("ETag %q, meta.version %q: want the same weak tag", etag, str(r.Body, "meta.version"))
		}
		if r.Header.Get("Content-Type") != "application/scim+json" {
			t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		if str(r.Body, "userName") != "bjensen" || str(r.Body, "externalId") != "ext-BJensen" ||
			str(r.Body, "displayName") != "Barbara Jensen" || str(r.Body, "name.givenName") != "Barbara" ||
			r.Body["active"] != true || str(r.Body, "meta.resourceType") != "User" {
			t.Errorf("created user: %s", r.Raw)
		}
		u, err := e.Store.GetUser(ctxT(t), id)
		if err != nil || u.Username != "bjensen" || u.Email != "bjensen@example.com" || u.ExternalID != "ext-BJensen" ||
			u.Status != store.StatusActive || u.GivenName != "Barbara" || u.FullName != "" {
			t.Fatalf("stored user %+v (%v)", u, err)
		}
		entries := e.auditSince(t, before)
		if len(entries) != 1 || entries[0].Action != "user.create" || entries[0].ActorType != store.ActorClient ||
			entries[0].ActorID != sa.ID || entries[0].TargetID != id || !strings.Contains(string(entries[0].Changes), "ext-BJensen") {
			t.Fatalf("audit after create: %+v", entries)
		}

		// A duplicate userName, in another case: 409 uniqueness.
		r = e.call(t, http.MethodPost, "/Users", tok, newUserBody("bjensen", "other@example.com"))
		wantError(t, r, http.StatusConflict, "uniqueness", "duplicate userName")
		// A userName gatehouse refuses: 400 invalidValue naming it.
		r = e.call(t, http.MethodPost, "/Users", tok, newUserBody("b@d", "bad@example.com"))
		wantError(t, r, http.StatusBadRequest, "invalidValue", "invalid userName")
		if !strings.Contains(str(r.Body, "detail"), "userName") {
			t.Errorf("detail %q does not name userName", str(r.Body, "detail"))
		}

		// Read, and the conditional read.
		r = e.call(t, http.MethodGet, "/Users/"+id, tok, nil)
		want(t, r, http.StatusOK, "get")
		if r.Header.Get("ETag") != etag {
			t.Errorf("GET ETag %q, want %q", r.Header.Get("ETag"), etag)
		}
		r = e.call(t, http.MethodGet, "/Users/"+id, tok, nil, "If-None-Match", etag)
		want(t, r, http.StatusNotModified, "If-None-Match current")
		r = e.call(t, http.MethodGet, "/Users/"+id, tok, nil, "If-None-Match", `W/"other"`)
		want(t, r, http.StatusOK, "If-None-Match other")

		// More users for lists and pages.
		for i := range 4 {
			name := fmt.Sprintf("page-%d", i)
			want(t, e.call(t, http.MethodPost, "/Users", tok, newUserBody(name, name+"@example.org")), http.StatusCreated, "create "+name)
		}
		list := func(query string) reply {
			t.Helper()
			r := e.call(t, http.MethodGet, "/Users?"+query, tok, nil)
			want(t, r, http.StatusOK, "list "+query)
			return r
		}
		names := func(r reply) []string {
			var out []string
			for _, res := range r.Body["Resources"].([]any) {
				out = append(out, str(res.(map[string]any), "userName"))
			}
			return out
		}
		q := func(f string) string { return "filter=" + strings.ReplaceAll(f, " ", "%20") }
		r = list(q(`userName eq "BJENSEN"`))
		if r.Body["totalResults"] != float64(1) || !slices.Equal(names(r), []string{"bjensen"}) {
			t.Errorf("userName eq: %s", r.Raw)
		}
		r = list(q(`externalId eq "ext-BJensen"`))
		if !slices.Equal(names(r), []string{"bjensen"}) {
			t.Errorf("externalId eq: %s", r.Raw)
		}
		r = list(q(`emails.value co "@example.org"`))
		if r.Body["totalResults"] != float64(4) {
			t.Errorf("emails.value co: %s", r.Raw)
		}
		r = list(q(`userName sw "page-" and not (userName eq "page-0")`))
		if !slices.Equal(names(r), []string{"page-1", "page-2", "page-3"}) {
			t.Errorf("sw and not: %v", names(r))
		}
		r = list(q(`id eq "` + id + `" or userName eq "page-3"`))
		if !slices.Equal(names(r), []string{"bjensen", "page-3"}) {
			t.Errorf("id or: %v", names(r))
		}
		r = list(q(`id eq "` + id + `"`))
		if !slices.Equal(names(r), []string{"bjensen"}) {
			t.Errorf("id eq: %v", names(r))
		}
		r = list(q(`meta.lastModified gt "2000-01-01T00:00:00Z" and active eq true and displayName co "jensen"`) + "&count=2&startIndex=2")
		// Five users, by username: bjensen, page-0 ... page-3.
		if r.Body["totalResults"] != float64(5) || r.Body["startIndex"] != float64(2) || r.Body["itemsPerPage"] != float64(2) ||
			!slices.Equal(names(r), []string{"page-0", "page-1"}) {
			t.Errorf("page 2 of 2: %s", r.Raw)
		}
		r = list("startIndex=5&count=10")
		if r.Body["totalResults"] != float64(5) || !slices.Equal(names(r), []string{"page-3"}) {
			t.Errorf("last page: %s", r.Raw)
		}
		r = list("count=0")
		if r.Body["totalResults"] != float64(5) || len(r.Body["Resources"].([]any)) != 0 {
			t.Errorf("count=0: %s", r.Raw)
		}
		r = list("count=100000&attributes=userName")
		if len(r.Body["Resources"].([]any)) != 5 {
			t.Errorf("count above the bound: %s", r.Raw)
		}
		if first := r.Body["Resources"].([]any)[0].(map[string]any); first["emails"] != nil || first["id"] == nil {
			t.Errorf("attributes=userName kept %v", first)
		}

		// PUT replaces: what is left out is cleared, active is kept.
		r = e.call(t, http.MethodPut, "/Users/"+id, tok, map[string]any{
			"schemas": []string{userSchema}, "userName": "bjensen", "displayName": "Babs Jensen",
			"emails":       []any{map[string]any{"value": "babs@example.com", "primary": true}},
			"phoneNumbers": []any{map[string]any{"value": "+14155550123", "type": "work"}},
		}, "If-Match", etag)
		want(t, r, http.StatusOK, "put")
		u, _ = e.Store.GetUser(ctxT(t), id)
		if u.FullName != "Babs Jensen" || u.Email != "babs@example.com" || u.ExternalID != "" || u.GivenName != "" ||
			u.PhoneNumber != "+14155550123" || u.Status != store.StatusActive {
			t.Errorf("after PUT: %+v", u)
		}
		if r.Header.Get("ETag") == etag {
			t.Errorf("the ETag did not change with the user")
		}
		// The old version is stale now: 412, and nothing changes.
		r = e.call(t, http.MethodPut, "/Users/"+id, tok, newUserBody("bjensen", "x@example.com"), "If-Match", etag)
		wantError(t, r, http.StatusPreconditionFailed, "", "stale If-Match on PUT")
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace", "path": "displayName", "value": "x"}),
			"If-Match", etag)
		wantError(t, r, http.StatusPreconditionFailed, "", "stale If-Match on PATCH")
		if u2, _ := e.Store.GetUser(ctxT(t), id); u2.Email != "babs@example.com" || u2.FullName != "Babs Jensen" {
			t.Errorf("a stale write changed the user: %+v", u2)
		}

		// Okta deactivates with a PATCH without path.
		before = e.lastAuditID(t)
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
		want(t, r, http.StatusOK, "okta deactivate")
		if r.Body["active"] != false {
			t.Errorf("after deactivation: %s", r.Raw)
		}
		if u, _ = e.Store.GetUser(ctxT(t), id); u.Status != store.StatusDisabled || u.FullName != "Babs Jensen" {
			t.Errorf("after deactivation: %+v", u)
		}
		entries = e.auditSince(t, before)
		if len(entries) != 1 || entries[0].Action != "user.status" || entries[0].ActorID != sa.ID {
			t.Errorf("audit after deactivation: %+v", entries)
		}

		// Entra ID: capitalised ops, booleans as strings, value filters,
		// a dotted name and an extension attribute.
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(
			map[string]any{"op": "Replace", "path": "active", "value": "True"},
			map[string]any{"op": "Replace", "path": "name.givenName", "value": "Barbara"},
			map[string]any{"op": "Add", "path": "name.familyName", "value": "Jensen"},
			map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "barbara@example.com"},
			map[string]any{"op": "Add", "path": "externalId", "value": "entra-1"},
			map[string]any{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tours"},
			map[string]any{"op": "Remove", "path": `phoneNumbers[type eq "work"]`},
		))
		want(t, r, http.StatusOK, "entra patch")
		u, _ = e.Store.GetUser(ctxT(t), id)
		if u.Status != store.StatusActive || u.GivenName != "Barbara" || u.FamilyName != "Jensen" || u.Email != "barbara@example.com" ||
			u.ExternalID != "entra-1" || u.Department != "Tours" || u.PhoneNumber != "" || u.FullName != "Babs Jensen" {
			t.Errorf("after Entra's PATCH: %+v", u)
		}
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace",
			"value": map[string]any{"name.givenName": "Babs", "displayName": "B. Jensen"}}))
		want(t, r, http.StatusOK, "patch with dotted keys in the value")
		if u, _ = e.Store.GetUser(ctxT(t), id); u.GivenName != "Babs" || u.FullName != "B. Jensen" {
			t.Errorf("after dotted keys: %+v", u)
		}
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "remove", "path": "displayName"}))
		want(t, r, http.StatusOK, "remove displayName")
		if u, _ = e.Store.GetUser(ctxT(t), id); u.FullName != "" || str(r.Body, "displayName") != "Babs Jensen" {
			t.Errorf("after removing displayName: %+v, shown %q", u, str(r.Body, "displayName"))
		}
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace", "path": "userName[", "value": "x"}))
		wantError(t, r, http.StatusBadRequest, "invalidPath", "bad path")
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "remove"}))
		wantError(t, r, http.StatusBadRequest, "noTarget", "remove without path")
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "move", "path": "userName"}))
		wantError(t, r, http.StatusBadRequest, "invalidSyntax", "unknown op")
		r = e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace", "path": "phoneNumbers", "value": []any{map[string]any{"value": "555"}}}))
		wantError(t, r, http.StatusBadRequest, "invalidValue", "bad phone number")

		// Delete: gone for GET, audited with the actor.
		before = e.lastAuditID(t)
		r = e.call(t, http.MethodDelete, "/Users/"+id, tok, nil, "If-Match", `W/"stale"`)
		wantError(t, r, http.StatusPreconditionFailed, "", "stale If-Match on DELETE")
		r = e.call(t, http.MethodDelete, "/Users/"+id, tok, nil)
		want(t, r, http.StatusNoContent, "delete")
		wantError(t, e.call(t, http.MethodGet, "/Users/"+id, tok, nil), http.StatusNotFound, "", "get after delete")
		if _, err := e.Store.GetUser(ctxT(t), id); err == nil {
			t.Errorf("the user is still stored")
		}
		entries = e.auditSince(t, before)
		if len(entries) != 1 || entries[0].Action != "user.delete" || entries[0].ActorID != sa.ID || entries[0].TargetID != id {
			t.Errorf("audit after delete: %+v", entries)
		}
		wantError(t, e.call(t, http.MethodDelete, "/Users/"+id, tok, nil), http.StatusNotFound, "", "delete again")
	})
}

// TestGroups: groups with members, filters on them, PATCH in Okta's and
// Entra ID's forms, and the power rule on a group that carries roles.
func TestGroups(t *testing.T) {
	bothStores(t, func(t *testing.T, e *env) {
		tok, sa := e.systemToken(t, []string{"admin"}, store.PermSCIMProvision)
		var ids []string
		for _, n := range []string{"ann", "bob", "cat"} {
			r := e.call(t, http.MethodPost, "/Users", tok, newUserBody(n, n+"@example.com"))
			want(t, r, http.StatusCreated, "create "+n)
			ids = append(ids, str(r.Body, "id"))
		}
		before := e.lastAuditID(t)
		r := e.call(t, http.MethodPost, "/Groups", tok, map[string]any{"schemas": []string{groupSchema}, "displayName": "Engineering",
			"externalId": "entra-eng", "members": []any{map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}}})
		want(t, r, http.StatusCreated, "create group")
		gid := str(r.Body, "id")
		if str(r.Body, "externalId") != "entra-eng" {
			t.Errorf("group externalId: %s", r.Raw)
		}
		if r := e.call(t, http.MethodGet, `/Groups?filter=externalId%20eq%20%22entra-eng%22`, tok, nil); r.Body["totalResults"] != float64(1) {
			t.Errorf("groups by externalId: %s", r.Raw)
		}
		if r.Header.Get("Location") != e.URL+"/scim/v2/Groups/"+gid || len(r.Body["members"].([]any)) != 2 {
			t.Fatalf("created group: %s", r.Raw)
		}
		entries := e.auditSince(t, before)
		var actions []string
		for _, a := range entries {
			actions = append(actions, a.Action)
			if a.ActorID != sa.ID {
				t.Errorf("audit %s by %s, want %s", a.Action, a.ActorID, sa.ID)
			}
		}
		if !slices.Equal(actions, []string{"group.create", "group.member.add", "group.member.add"}) {
			t.Errorf("audit actions %v", actions)
		}
		wantError(t, e.call(t, http.MethodPost, "/Groups", tok, map[string]any{"displayName": "Engineering"}),
			http.StatusConflict, "uniqueness", "duplicate group")
		wantError(t, e.call(t, http.MethodPost, "/Groups", tok, map[string]any{"displayName": "X",
			"members": []any{map[string]any{"value": "00000000-0000-4000-8000-000000000000"}}}),
			http.StatusBadRequest, "invalidValue", "member that is no user")
		if _, err := e.Svc.ListGroups(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if groups, _ := e.Store.ListGroups(ctxT(t)); len(groups) != 1 {
			t.Errorf("a refused create left %d groups", len(groups))
		}

		// The user shows its groups (read-only).
		r = e.call(t, http.MethodGet, "/Users/"+ids[0], tok, nil)
		if gs := r.Body["groups"].([]any); len(gs) != 1 || str(gs[0].(map[string]any), "value") != gid ||
			str(gs[0].(map[string]any), "display") != "Engineering" {
			t.Errorf("user groups: %s", r.Raw)
		}
		r = e.call(t, http.MethodGet, `/Users?filter=groups.value%20eq%20%22`+gid+`%22`, tok, nil)
		if r.Body["totalResults"] != float64(2) {
			t.Errorf("users by group: %s", r.Raw)
		}

		// Filters.
		r = e.call(t, http.MethodGet, `/Groups?filter=displayName%20eq%20%22engineering%22&excludedAttributes=members`, tok, nil)
		want(t, r, http.StatusOK, "groups by name")
		if res := r.Body["Resources"].([]any); len(res) != 1 || res[0].(map[string]any)["members"] != nil {
			t.Errorf("groups by name without members: %s", r.Raw)
		}
		r = e.call(t, http.MethodGet, `/Groups?filter=members%5Bvalue%20eq%20%22`+ids[1]+`%22%5D`, tok, nil)
		if r.Body["totalResults"] != float64(1) {
			t.Errorf("groups by member: %s", r.Raw)
		}
		r = e.call(t, http.MethodGet, `/Groups?filter=members.value%20eq%20%22`+ids[2]+`%22`, tok, nil)
		if r.Body["totalResults"] != float64(0) {
			t.Errorf("groups by non-member: %s", r.Raw)
		}

		members := func() []string {
			t.Helper()
			m, err := e.Store.ListGroupMembers(ctxT(t), gid)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(m)
			return m
		}
		sorted := func(s ...string) []string { slices.Sort(s); return s }

		// Okta: add members, then remove one by a value filter.
		r = e.call(t, http.MethodPatch, "/Groups/"+gid, tok, patch(map[string]any{"op": "add", "path": "members",
			"value": []any{map[string]any{"value": ids[2], "display": "cat"}}}))
		want(t, r, http.StatusOK, "add member")
		if got := members(); !slices.Equal(got, sorted(ids...)) {
			t.Errorf("members after add: %v", got)
		}
		r = e.call(t, http.MethodPatch, "/Groups/"+gid, tok, patch(map[string]any{"op": "remove",
			"path": `members[value eq "` + ids[0] + `"]`}))
		want(t, r, http.StatusOK, "remove member by filter")
		if got := members(); !slices.Equal(got, sorted(ids[1], ids[2])) {
			t.Errorf("members after filtered remove: %v", got)
		}
		// Entra ID: Remove with a value list, Replace of displayName.
		etag := r.Header.Get("ETag")
		r = e.call(t, http.MethodPatch, "/Groups/"+gid, tok, patch(
			map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"value": ids[1]}}},
			map[string]any{"op": "Replace", "path": "displayName", "value": "Platform"},
		), "If-Match", etag)
		want(t, r, http.StatusOK, "entra group patch")
		if got := members(); !slices.Equal(got, []string{ids[2]}) || str(r.Body, "displayName") != "Platform" {
			t.Errorf("after Entra's patch: members %v, %s", got, r.Raw)
		}
		wantError(t, e.call(t, http.MethodPatch, "/Groups/"+gid, tok, patch(map[string]any{"op": "add", "path": "members",
			"value": []any{map[string]any{"value": ids[0]}}}), "If-Match", etag), http.StatusPreconditionFailed, "", "stale group If-Match")
		if got := members(); !slices.Equal(got, []string{ids[2]}) {
			t.Errorf("a stale patch changed the members: %v", got)
		}
		r = e.call(t, http.MethodGet, "/Groups/"+gid, tok, nil, "If-None-Match", r.Header.Get("ETag"))
		want(t, r, http.StatusNotModified, "group If-None-Match")

		// PUT replaces the members.
		r = e.call(t, http.MethodPut, "/Groups/"+gid, tok, map[string]any{"schemas": []string{groupSchema}, "displayName": "Platform",
			"members": []any{map[string]any{"value": ids[0]}}})
		want(t, r, http.StatusOK, "put group")
		if got := members(); !slices.Equal(got, []string{ids[0]}) {
			t.Errorf("members after PUT: %v", got)
		}
		if g, _ := e.Store.GetGroup(ctxT(t), gid); g.ExternalID != "" {
			t.Errorf("a PUT without externalId kept %q", g.ExternalID)
		}

		// A group carrying admin: a provisioner without admin's power may
		// not add to it, and nothing changes.
		if _, err := e.Svc.UpdateGroup(ctxT(t), domain.Actor{Type: store.ActorCLI}, gid, domain.GroupPatch{Roles: &[]string{"admin"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Svc.CreateRole(ctxT(t), domain.Actor{Type: store.ActorCLI},
			store.Role{Name: "provisioner", Parent: "user", Permissions: []string{store.PermSCIMProvision}}); err != nil {
			t.Fatal(err)
		}
		weak, _ := e.systemToken(t, []string{"provisioner"})
		r = e.call(t, http.MethodPatch, "/Groups/"+gid, weak, patch(map[string]any{"op": "add", "path": "members",
			"value": []any{map[string]any{"value": ids[1]}}}))
		wantError(t, r, http.StatusForbidden, "", "member of a group with more power")
		if got := members(); !slices.Equal(got, []string{ids[0]}) {
			t.Errorf("a refused add changed the members: %v", got)
		}
		wantError(t, e.call(t, http.MethodDelete, "/Groups/"+gid, weak, nil), http.StatusForbidden, "", "delete a group with more power")

		want(t, e.call(t, http.MethodDelete, "/Groups/"+gid, tok, nil), http.StatusNoContent, "delete group")
		wantError(t, e.call(t, http.MethodGet, "/Groups/"+gid, tok, nil), http.StatusNotFound, "", "group after delete")
	})
}

// TestRefusals: unauthenticated, forbidden, malformed and oversized
// requests, each answered with a SCIM error object, on both stores.
func TestRefusals(t *testing.T) {
	bothStores(t, func(t *testing.T, e *env) {
		tok, _ := e.systemToken(t, []string{"admin"}, store.PermSCIMProvision)

		r := e.call(t, http.MethodGet, "/Users", "", nil)
		wantError(t, r, http.StatusUnauthorized, "", "no token")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
		wantError(t, e.call(t, http.MethodGet, "/Users", "gh_pat_nonsense", nil), http.StatusUnauthorized, "", "unknown API token")
		wantError(t, e.call(t, http.MethodGet, "/Users", "not-a-token", nil), http.StatusUnauthorized, "", "unknown access token")

		// Authenticated without scim:provision: a manager's account, and
		// an admin's token scoped to users:read only.
		manager, _ := e.systemToken(t, []string{"manager"})
		r = e.call(t, http.MethodGet, "/Users", manager, nil)
		wantError(t, r, http.StatusForbidden, "", "manager")
		if !strings.Contains(str(r.Body, "detail"), "scim:provision") {
			t.Errorf("detail %q does not name the permission", str(r.Body, "detail"))
		}
		narrow, _ := e.systemToken(t, []string{"admin"}, store.PermUsersRead)
		wantError(t, e.call(t, http.MethodPost, "/Users", narrow, newUserBody("x1x", "x@example.com")), http.StatusForbidden, "", "narrow token")
		// An access token from client_credentials works as on the API.
		c, secret := e.serviceAccount(t, "admin")
		at := e.clientCredentials(t, c.ID, secret)
		want(t, e.call(t, http.MethodGet, "/Users", at, nil), http.StatusOK, "client_credentials token")

		// Filters.
		wantError(t, e.call(t, http.MethodGet, `/Users?filter=userName%20eq`, tok, nil), http.StatusBadRequest, "invalidFilter", "malformed filter")
		wantError(t, e.call(t, http.MethodGet, `/Users?filter=title%20pr`, tok, nil), http.StatusBadRequest, "invalidFilter", "unknown attribute")
		long := `userName%20eq%20%22` + strings.Repeat("a", 1100) + `%22`
		wantError(t, e.call(t, http.MethodGet, "/Users?filter="+long, tok, nil), http.StatusBadRequest, "invalidFilter", "too long a filter")
		wantError(t, e.call(t, http.MethodGet, "/Users?startIndex=x", tok, nil), http.StatusBadRequest, "invalidValue", "bad startIndex")
		wantError(t, e.call(t, http.MethodGet, "/Users?sortBy=userName", tok, nil), http.StatusBadRequest, "invalidValue", "sortBy")

		// Bodies.
		wantError(t, e.call(t, http.MethodPost, "/Users", tok, `{"userName":`), http.StatusBadRequest, "invalidSyntax", "broken JSON")
		wantError(t, e.call(t, http.MethodPost, "/Users", tok, `{"userName":"a1a"} {}`), http.StatusBadRequest, "invalidSyntax", "trailing data")
		wantError(t, e.call(t, http.MethodPost, "/Users", tok, map[string]any{"userName": 7}), http.StatusBadRequest, "invalidValue", "wrong type")
		wantError(t, e.call(t, http.MethodPost, "/Users", tok, map[string]any{"schemas": []string{groupSchema}, "userName": "a1a"}),
			http.StatusBadRequest, "invalidSyntax", "wrong schema")
		wantError(t, e.call(t, http.MethodPost, "/Users", tok, map[string]any{"emails": []any{}}), http.StatusBadRequest, "invalidValue", "no userName")
		big := `{"userName":"` + strings.Repeat("a", 2<<20) + `"}`
		wantError(t, e.call(t, http.MethodPost, "/Users", tok, big), http.StatusRequestEntityTooLarge, "", "oversized body")

		// Routes.
		wantError(t, e.call(t, http.MethodGet, "/Nope", tok, nil), http.StatusNotFound, "", "unknown endpoint")
		r = e.call(t, http.MethodPost, "/Users/x", tok, map[string]any{})
		wantError(t, r, http.StatusMethodNotAllowed, "", "POST on a user")
		wantError(t, e.call(t, http.MethodGet, "/Users/not-a-uuid", tok, nil), http.StatusNotFound, "", "unknown id")
	})
}

// TestServerBodyLimitAnswersInSCIM: the server's own body limit, below
// SCIM's, refuses in SCIM's form too.
func TestServerBodyLimitAnswersInSCIM(t *testing.T) {
	e := startEnv(t, memory.New(), func(c *config.Config) { c.HTTP.MaxBodyBytes = 1024 })
	tok, _ := e.systemToken(t, []string{"admin"})
	r := e.call(t, http.MethodPost, "/Users", tok, `{"userName":"`+strings.Repeat("a", 4096)+`"}`)
	wantError(t, r, http.StatusRequestEntityTooLarge, "", "over the server's limit")
}

// TestDiscovery: the three discovery documents need no token and say what
// the service does.
func TestDiscovery(t *testing.T) {
	e := startEnv(t, memory.New(), nil)
	r := e.call(t, http.MethodGet, "/ServiceProviderConfig", "", nil)
	want(t, r, http.StatusOK, "ServiceProviderConfig")
	for key, supported := range map[string]bool{"patch": true, "filter": true, "etag": true, "bulk": false, "sort": false, "changePassword": true} {
		if r.Body[key].(map[string]any)["supported"] != supported {
			t.Errorf("%s.supported = %v, want %v", key, r.Body[key], supported)
		}
	}
	if r.Body["filter"].(map[string]any)["maxResults"] != float64(200) {
		t.Errorf("filter.maxResults %v", r.Body["filter"])
	}
	r = e.call(t, http.MethodGet, "/ResourceTypes", "", nil)
	want(t, r, http.StatusOK, "ResourceTypes")
	if r.Body["totalResults"] != float64(2) {
		t.Errorf("resource types: %s", r.Raw)
	}
	want(t, e.call(t, http.MethodGet, "/ResourceTypes/User", "", nil), http.StatusOK, "ResourceTypes/User")
	r = e.call(t, http.MethodGet, "/Schemas/"+userSchema, "", nil)
	want(t, r, http.StatusOK, "user schema")
	var attrs []string
	for _, a := range r.Body["attributes"].([]any) {
		attrs = append(attrs, a.(map[string]any)["name"].(string))
	}
	if !slices.Contains(attrs, "userName") || !slices.Contains(attrs, "active") || slices.Contains(attrs, "x509Certificates") {
		t.Errorf("user schema attributes %v", attrs)
	}
	raw, _ := json.Marshal(r.Body)
	if !strings.Contains(string(raw), `"uniqueness":"server"`) {
		t.Errorf("userName is not marked unique: %s", raw)
	}
	wantError(t, e.call(t, http.MethodGet, "/Schemas/urn:nope", "", nil), http.StatusNotFound, "", "unknown schema")
}

// TestListPagesAcrossReads: a directory larger than one read of the
// store (200 users) is counted whole and paged in username order, with and
// without a filter.
func TestListPagesAcrossReads(t *testing.T) {
	e := startEnv(t, memory.New(), nil)
	tok, _ := e.systemToken(t, []string{"admin"}, store.PermSCIMProvision)
	now := time.Now().UTC()
	for i := range 450 {
		name := fmt.Sprintf("u%03d", i)
		if err := e.Store.CreateUser(ctxT(t), store.User{ID: uuid.NewString(), Username: name, Email: name + "@example.com",
			Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(r reply) []string {
		var out []string
		for _, res := range r.Body["Resources"].([]any) {
			out = append(out, str(res.(map[string]any), "userName"))
		}
		return out
	}
	r := e.call(t, http.MethodGet, "/Users?startIndex=199&count=4", tok, nil)
	want(t, r, http.StatusOK, "page across reads")
	if r.Body["totalResults"] != float64(450) || !slices.Equal(names(r), []string{"u198", "u199", "u200", "u201"}) {
		t.Errorf("totalResults %v, names %v", r.Body["totalResults"], names(r))
	}
	r = e.call(t, http.MethodGet, "/Users?filter=userName%20ew%20%229%22&startIndex=40&count=10", tok, nil)
	want(t, r, http.StatusOK, "filtered page across reads")
	if r.Body["totalResults"] != float64(45) || !slices.Equal(names(r), []string{"u399", "u409", "u419", "u429", "u439", "u449"}) {
		t.Errorf("totalResults %v, names %v", r.Body["totalResults"], names(r))
	}
}
