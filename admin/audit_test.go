package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestAuditEveryMutation makes each kind of mutation through the API, as a
// user and as a service account, and checks that each leaves exactly one
// audit entry with the right action, actor, target and address, and that no
// secret appears in any entry.
func TestAuditEveryMutation(t *testing.T) {
	e := newMemoryEnv(t)
	admin := e.createUser(t, "admin")
	userTok := e.signIn(t, admin)
	sa := e.createServiceAccount(t, "admin")
	saTok := e.clientCredentials(t, sa)
	asUser := domain.Actor{Type: store.ActorUser, ID: admin.ID}
	asClient := domain.Actor{Type: store.ActorClient, ID: sa.ID}

	var secrets []string
	secret := func(s string) {
		if s != "" {
			secrets = append(secrets, s)
			e.logs.Secret(s)
		}
	}

	type step struct {
		name     string
		actor    domain.Actor
		method   string
		path     func() string
		body     any
		status   int
		action   string
		targetID func(r apiResponse) string // nil: not checked
		after    func(r apiResponse)
	}
	var (
		userID, roleName, groupID, requestID, tokenID, clientID string
		memberID                                                = e.createUser(t, "viewer").ID
		pendingID                                               = e.createUserWith(t, store.StatusPending).ID
		pending2ID                                              = e.createUserWith(t, store.StatusPending).ID
	)
	fixed := func(s string) func() string { return func() string { return s } }
	id := func(r apiResponse) string { return r.str("id") }
	pw1, pw2, pw3 := "First-Passphrase-"+randomHex(t, 4), "Second-Passphrase-"+randomHex(t, 4), "Own-Passphrase-"+randomHex(t, 4)
	secret(pw1)
	secret(pw2)
	secret(pw3)
	secret(admin.Password)

	steps := []step{
		{name: "create user", actor: asUser, method: "POST", path: fixed("/users"), status: 201, action: "user.create",
			body:     map[string]any{"username": "audited-" + randomHex(t, 3), "email": "audited-" + randomHex(t, 3) + "@example.com", "password": pw1, "roles": []string{"viewer"}},
			targetID: id, after: func(r apiResponse) { userID = r.str("id") }},
		{name: "update user", actor: asClient, method: "PATCH", path: func() string { return "/users/" + userID }, status: 200, action: "user.update",
			body: map[string]any{"department": "Audit"}, targetID: func(apiResponse) string { return userID }},
		{name: "set roles", actor: asUser, method: "PUT", path: func() string { return "/users/" + userID + "/roles" }, status: 200, action: "user.roles",
			body: map[string]any{"roles": []string{"user"}}, targetID: func(apiResponse) string { return userID }},
		{name: "set status", actor: asClient, method: "PUT", path: func() string { return "/users/" + userID + "/status" }, status: 200, action: "user.status",
			body: map[string]any{"status": "locked"}, targetID: func(apiResponse) string { return userID }},
		{name: "set password", actor: asUser, method: "PUT", path: func() string { return "/users/" + userID + "/password" }, status: 204, action: "user.password",
			body: map[string]any{"password": pw2}, targetID: func(apiResponse) string { return userID }},
		{name: "edit own profile", actor: asUser, method: "PATCH", path: fixed("/users/me"), status: 200, action: "user.update",
			body: map[string]any{"full_name": "Ada Admin"}, targetID: func(apiResponse) string { return admin.ID }},
		{name: "change own password", actor: asUser, method: "PUT", path: fixed("/users/me/password"), status: 204, action: "user.password",
			body: map[string]any{"current_password": admin.Password, "password": pw3}, targetID: func(apiResponse) string { return admin.ID }},
		{name: "create role", actor: asUser, method: "POST", path: fixed("/roles"), status: 201, action: "role.create",
			body:     map[string]any{"name": "auditor-" + randomHex(t, 3), "parent": "viewer", "suggested_goals": []string{"trace changes"}},
			targetID: func(r apiResponse) string { return r.str("name") }, after: func(r apiResponse) { roleName = r.str("name") }},
		{name: "update role", actor: asClient, method: "PATCH", path: func() string { return "/roles/" + roleName }, status: 200, action: "role.update",
			body: map[string]any{"description": "reads the log"}, targetID: func(apiResponse) string { return roleName }},
		{name: "create group", actor: asUser, method: "POST", path: fixed("/groups"), status: 201, action: "group.create",
			body: map[string]any{"name": "auditors-" + randomHex(t, 3)}, targetID: id, after: func(r apiResponse) { groupID = r.str("id") }},
		{name: "update group", actor: asClient, method: "PATCH", path: func() string { return "/groups/" + groupID }, status: 200, action: "group.update",
			body: map[string]any{"roles": []string{"viewer"}}, targetID: func(apiResponse) string { return groupID }},
		{name: "add member", actor: asUser, method: "PUT", path: func() string { return "/groups/" + groupID + "/members/" + memberID }, status: 204, action: "group.member.add"},
		{name: "remove member", actor: asClient, method: "DELETE", path: func() string { return "/groups/" + groupID + "/members/" + memberID }, status: 204, action: "group.member.remove"},
		{name: "delete group", actor: asUser, method: "DELETE", path: func() string { return "/groups/" + groupID }, status: 204, action: "group.delete",
			targetID: func(apiResponse) string { return groupID }},
		{name: "delete role", actor: asUser, method: "DELETE", path: func() string { return "/roles/" + roleName }, status: 204, action: "role.delete",
			targetID: func(apiResponse) string { return roleName }},
		{name: "submit access request", actor: asUser, method: "POST", path: fixed("/access-requests"), status: 201, action: "access_request.create",
			body: map[string]any{"user_id": pendingID, "role": "viewer", "purpose": "reads dashboards"}, targetID: id,
			after: func(r apiResponse) { requestID = r.str("id") }},
		{name: "approve", actor: asClient, method: "POST", path: func() string { return "/access-requests/" + requestID + "/approve" }, status: 200,
			action: "access_request.approve", targetID: func(apiResponse) string { return requestID }},
		{name: "submit second request", actor: asClient, method: "POST", path: fixed("/access-requests"), status: 201, action: "access_request.create",
			body: map[string]any{"user_id": pending2ID, "role": "viewer", "purpose": "reads dashboards"}, targetID: id,
			after: func(r apiResponse) { requestID = r.str("id") }},
		{name: "deny", actor: asUser, method: "POST", path: func() string { return "/access-requests/" + requestID + "/deny" }, status: 200,
			body: map[string]any{"comment": "no"}, action: "access_request.deny", targetID: func(apiResponse) string { return requestID }},
		{name: "issue token", actor: asUser, method: "POST", path: fixed("/tokens"), status: 201, action: "token.create",
			body: map[string]any{"name": "ci"}, targetID: id, after: func(r apiResponse) { tokenID = r.str("id"); secret(r.str("token")) }},
		{name: "revoke token", actor: asClient, method: "DELETE", path: func() string { return "/tokens/" + tokenID }, status: 204, action: "token.revoke",
			targetID: func(apiResponse) string { return tokenID }},
		{name: "create client", actor: asUser, method: "POST", path: fixed("/clients"), status: 201, action: "client.create",
			body: map[string]any{"client_id": "audited-" + randomHex(t, 3), "token_endpoint_auth_method": "client_secret_basic",
				"grant_types": []string{"client_credentials"}, "scope": "gatehouse:api"},
			targetID: func(r apiResponse) string { return r.str("client_id") },
			after:    func(r apiResponse) { clientID = r.str("client_id"); secret(r.str("client_secret")) }},
		{name: "update client", actor: asClient, method: "PATCH", path: func() string { return "/clients/" + clientID }, status: 200, action: "client.update",
			body: map[string]any{"roles": []string{"viewer"}}, targetID: func(apiResponse) string { return clientID }},
		{name: "delete client", actor: asUser, method: "DELETE", path: func() string { return "/clients/" + clientID }, status: 204, action: "client.delete",
			targetID: func(apiResponse) string { return clientID }},
		{name: "revoke session", actor: asClient, method: "DELETE", path: func() string { return "/sessions/" + sessionOf(t, e, memberID) }, status: 204, action: "session.revoke"},
		{name: "disable user", actor: asUser, method: "DELETE", path: func() string { return "/users/" + userID }, status: 204, action: "user.disable",
			targetID: func(apiResponse) string { return userID }},
		{name: "delete user", actor: asClient, method: "DELETE", path: func() string { return "/users/" + userID + "?hard=true" }, status: 204, action: "user.delete",
			targetID: func(apiResponse) string { return userID }},
	}
	for _, s := range steps {
		tok := userTok
		if s.actor.Type == store.ActorClient {
			tok = saTok
		}
		path := s.path()
		before := e.lastAuditID(t)
		r := e.do(t, s.method, path, tok, s.body)
		if r.Status != s.status {
			t.Fatalf("%s: %s %s: status %d, want %d; body %s", s.name, s.method, path, r.Status, s.status, r.Raw)
		}
		entries := e.auditSince(t, before)
		if len(entries) != 1 {
			var actions []string
			for _, a := range entries {
				actions = append(actions, a.Action)
			}
			t.Errorf("%s: %d audit entries %v, want exactly one", s.name, len(entries), actions)
			if len(entries) == 0 {
				continue
			}
		}
		a := entries[0]
		if a.Action != s.action {
			t.Errorf("%s: action %q, want %q", s.name, a.Action, s.action)
		}
		if a.ActorType != s.actor.Type || a.ActorID != s.actor.ID {
			t.Errorf("%s: actor %s:%s, want %s", s.name, a.ActorType, a.ActorID, s.actor)
		}
		if a.IPAddress != "127.0.0.1" {
			t.Errorf("%s: address %q, want 127.0.0.1", s.name, a.IPAddress)
		}
		if s.targetID != nil && a.TargetID != s.targetID(r) {
			t.Errorf("%s: target %q, want %q", s.name, a.TargetID, s.targetID(r))
		}
		if s.after != nil {
			s.after(r)
		}
	}

	// No entry, read back through the API as well, holds a secret.
	r := e.do(t, http.MethodGet, "/audit?limit=200", userTokAfterPasswordChange(t, e, admin, pw3), nil)
	want(t, r, http.StatusOK, "GET /audit")
	all := string(r.Raw)
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the audit log contains a secret (%d chars, prefix %.6q)", len(s), s)
		}
	}
	if strings.Contains(all, "$2a$") || strings.Contains(all, "password_hash") {
		t.Errorf("the audit log contains a password hash")
	}
	var page struct {
		Items []struct {
			Actor   string          `json:"actor"`
			Action  string          `json:"action"`
			Changes json.RawMessage `json:"changes"`
		} `json:"items"`
	}
	r.decode(t, &page)
	for _, it := range page.Items {
		if it.Action == "user.password" && !strings.Contains(string(it.Changes), "changed") {
			t.Errorf("user.password entry records %s, want only that it changed", it.Changes)
		}
	}

	// The filters: by actor (both spellings), by action prefix, by target.
	tok := userTokAfterPasswordChange(t, e, admin, pw3)
	for _, q := range []struct {
		query string
		check func(actor, action, target string) bool
	}{
		{"actor=client:" + sa.ID, func(actor, _, _ string) bool { return actor == "client:"+sa.ID }},
		{"actor=" + sa.ID, func(actor, _, _ string) bool { return actor == "client:"+sa.ID }},
		{"action=group.", func(_, action, _ string) bool { return strings.HasPrefix(action, "group.") }},
		{"target=" + userID, func(_, _, target string) bool { return target == userID }},
	} {
		r := e.do(t, http.MethodGet, "/audit?"+q.query, tok, nil)
		want(t, r, http.StatusOK, "GET /audit?"+q.query)
		var got struct {
			Items []struct {
				Actor    string `json:"actor"`
				Action   string `json:"action"`
				TargetID string `json:"target_id"`
			} `json:"items"`
		}
		r.decode(t, &got)
		if len(got.Items) == 0 {
			t.Errorf("audit?%s: no entries", q.query)
		}
		for _, it := range got.Items {
			if !q.check(it.Actor, it.Action, it.TargetID) {
				t.Errorf("audit?%s returned %+v", q.query, it)
			}
		}
	}
}

// userTokAfterPasswordChange signs the admin in again with the password it
// set for itself.
func userTokAfterPasswordChange(t *testing.T, e *env, u *testUser, password string) string {
	t.Helper()
	again := *u
	again.Password = password
	return e.signIn(t, &again)
}

func sessionOf(t *testing.T, e *env, userID string) string {
	t.Helper()
	m := &matrix{env: e}
	return m.session(t, userID)
}
