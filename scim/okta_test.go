package scim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestOktaProvisioningSequence plays what Okta's SCIM 2.0 integration
// sends over HTTP, in its order, with a client_credentials access token of
// a service account: discovery, the existence check by userName, create
// with a password, read, profile push (PUT), group push, deactivation and
// reactivation, group membership removal, and deprovisioning. After it,
// the directory holds what Okta believes, the password signs in, and the
// audit log names the service account for every change.
func TestOktaProvisioningSequence(t *testing.T) {
	e := startEnv(t, memory.New(), nil)
	c, secret := e.serviceAccount(t, "admin")
	tok := e.clientCredentials(t, c.ID, secret)
	before := e.lastAuditID(t)
	filter := func(f string) string { return "filter=" + url.QueryEscape(f) + "&startIndex=1&count=100" }

	want(t, e.call(t, http.MethodGet, "/ServiceProviderConfig", tok, nil), http.StatusOK, "discovery")
	r := e.call(t, http.MethodGet, "/Users?"+filter(`userName eq "dana.scully"`), tok, nil)
	want(t, r, http.StatusOK, "existence check")
	if r.Body["totalResults"] != float64(0) {
		t.Fatalf("existence check found %v", r.Body["totalResults"])
	}
	r = e.call(t, http.MethodPost, "/Users", tok, map[string]any{
		"schemas":  []string{userSchema},
		"userName": "dana.scully",
		"name":     map[string]any{"givenName": "Dana", "familyName": "Scully"},
		"emails":   []any{map[string]any{"primary": true, "value": "dana.scully@fbi.example", "type": "work"}},
		"password": "Trust-No-1-ever",
		"active":   true,
		"groups":   []any{},
	})
	want(t, r, http.StatusCreated, "create")
	id := str(r.Body, "id")
	r = e.call(t, http.MethodGet, "/Users/"+id, tok, nil)
	want(t, r, http.StatusOK, "read")
	r = e.call(t, http.MethodGet, "/Users?"+filter(`userName eq "dana.scully"`), tok, nil)
	if r.Body["totalResults"] != float64(1) {
		t.Fatalf("existence check after create: %s", r.Raw)
	}

	// Profile push: Okta PUTs the whole user.
	body := r.Body["Resources"].([]any)[0].(map[string]any)
	body["name"] = map[string]any{"givenName": "Dana", "familyName": "Katherine Scully"}
	body["phoneNumbers"] = []any{map[string]any{"value": "+12025550123", "type": "mobile", "primary": true}}
	want(t, e.call(t, http.MethodPut, "/Users/"+id, tok, body), http.StatusOK, "profile push")

	// Group push: create the group, then add the member with PATCH.
	r = e.call(t, http.MethodPost, "/Groups", tok, map[string]any{"schemas": []string{groupSchema}, "displayName": "X-Files", "members": []any{}})
	want(t, r, http.StatusCreated, "push group")
	gid := str(r.Body, "id")
	want(t, e.call(t, http.MethodPatch, "/Groups/"+gid, tok, patch(map[string]any{"op": "add", "path": "members",
		"value": []any{map[string]any{"value": id, "display": "dana.scully"}}})), http.StatusOK, "add member")
	r = e.call(t, http.MethodGet, "/Groups?"+filter(`displayName eq "X-Files"`), tok, nil)
	if r.Body["totalResults"] != float64(1) {
		t.Fatalf("group lookup: %s", r.Raw)
	}

	// Deactivate, reactivate.
	want(t, e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace", "value": map[string]any{"active": false}})),
		http.StatusOK, "deactivate")
	u, _ := e.Store.GetUser(ctxT(t), id)
	if u.Status != store.StatusDisabled {
		t.Fatalf("after deactivation the user is %s", u.Status)
	}
	want(t, e.call(t, http.MethodPatch, "/Users/"+id, tok, patch(map[string]any{"op": "replace", "value": map[string]any{"active": true}})),
		http.StatusOK, "reactivate")

	u, _ = e.Store.GetUser(ctxT(t), id)
	if u.Status != store.StatusActive || u.FamilyName != "Katherine Scully" || u.PhoneNumber != "+12025550123" ||
		u.Email != "dana.scully@fbi.example" {
		t.Fatalf("the directory holds %+v", u)
	}
	if ok, _ := e.Svc.Passwords().Verify(u.PasswordHash, "Trust-No-1-ever"); !ok {
		t.Errorf("the provisioned password does not verify")
	}
	if m, _ := e.Store.ListGroupMembers(ctxT(t), gid); len(m) != 1 || m[0] != id {
		t.Errorf("group members %v", m)
	}

	// Unassign from the group, then deprovision the user.
	want(t, e.call(t, http.MethodPatch, "/Groups/"+gid, tok, patch(map[string]any{"op": "remove",
		"path": `members[value eq "` + id + `"]`})), http.StatusOK, "remove member")
	want(t, e.call(t, http.MethodDelete, "/Users/"+id, tok, nil), http.StatusNoContent, "deprovision")
	want(t, e.call(t, http.MethodGet, "/Users/"+id, tok, nil), http.StatusNotFound, "after deprovisioning")

	var actions []string
	for _, a := range e.auditSince(t, before) {
		if a.ActorType != store.ActorClient || a.ActorID != c.ID {
			t.Errorf("audit %s by %s:%s, want the service account %s", a.Action, a.ActorType, a.ActorID, c.ID)
		}
		actions = append(actions, a.Action)
	}
	wantActions := "user.create user.update group.create group.member.add user.status user.status group.member.remove user.delete"
	if got := strings.Join(actions, " "); got != wantActions {
		t.Errorf("audit actions\n got %s\nwant %s", got, wantActions)
	}
}
