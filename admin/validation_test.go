package admin_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestValidation sends one invalid input per rule and checks the status and
// that the problem names the field.
func TestValidation(t *testing.T) {
	e := newMemoryEnv(t)
	admin := e.createUser(t, "admin")
	tok := e.signIn(t, admin)
	target := e.createUser(t, "viewer")
	pending := e.createUserWith(t, store.StatusPending)
	taken := e.createUser(t, "viewer")

	newUser := func(mutate func(map[string]any)) map[string]any {
		name := "v-" + randomHex(t, 4)
		body := map[string]any{"username": name, "email": name + "@example.com", "password": "Long-Enough-Passphrase-1"}
		mutate(body)
		return body
	}
	str := func(s string) *string { return &s }
	req, err := e.Svc.SubmitAccessRequest(ctxT(t), domain.CLIActor(), pending.ID, "viewer", "Reads dashboards")
	if err != nil {
		t.Fatalf("submit: %v", err)
	}

	for _, tc := range []struct {
		name   string
		req    apiRequest
		status int
		fields []string // every field the problem must name
	}{
		// Users: every rule of DESIGN.md section 3.
		{"username too short", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["username"] = "ab" })}, 422, []string{"username"}},
		{"username too long", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["username"] = strings.Repeat("a", 51) })}, 422, []string{"username"}},
		{"username uppercase", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["username"] = "Alice" })}, 422, []string{"username"}},
		{"username space", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["username"] = "al ice" })}, 422, []string{"username"}},
		{"username symbol", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["username"] = "al+ice" })}, 422, []string{"username"}},
		{"email invalid", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["email"] = "not-an-email" })}, 422, []string{"email"}},
		{"email display name", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["email"] = "Al <al@example.com>" })}, 422, []string{"email"}},
		{"password too short", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["password"] = "Sh0rt!" })}, 422, []string{"password"}},
		{"password contains username", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) {
			b["username"] = "johnsmith"
			b["email"] = "js-" + randomHex(t, 3) + "@example.com"
			b["password"] = "xx-johnsmith-2024"
		})}, 422, []string{"password"}},
		{"every problem at once", apiRequest{Method: "POST", Path: "/users", Body: map[string]any{"username": "A", "email": "nope", "password": "short"}}, 422, []string{"username", "email", "password"}},
		{"unknown role", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["roles"] = []string{"no-such-role"} })}, 422, []string{"roles"}},
		{"unknown status", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["status"] = "sleeping" })}, 422, []string{"status"}},
		{"expires_at malformed", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["expires_at"] = "tomorrow" })}, 422, []string{"expires_at"}},
		{"expires_at in the past", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["expires_at"] = "2001-01-01T00:00:00Z" })}, 422, []string{"expires_at"}},
		{"duplicate username", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["username"] = taken.Username })}, 409, nil},
		{"duplicate email", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["email"] = strings.ToUpper(taken.Email) })}, 409, nil},

		// Body shape: 400 naming the field.
		{"unknown field", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["nickname"] = "al" })}, 400, []string{"nickname"}},
		{"wrong type", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["goals"] = "win" })}, 400, []string{"goals"}},
		{"preferences not an object", apiRequest{Method: "POST", Path: "/users", Body: newUser(func(b map[string]any) { b["preferences"] = []int{1} })}, 400, []string{"preferences"}},
		{"malformed JSON", apiRequest{Method: "POST", Path: "/users", RawBody: str(`{"username": `), ContentType: "application/json"}, 400, nil},
		{"trailing data", apiRequest{Method: "POST", Path: "/users", RawBody: str(`{} {}`), ContentType: "application/json"}, 400, nil},
		{"empty body", apiRequest{Method: "POST", Path: "/users", RawBody: str(``), ContentType: "application/json"}, 400, nil},
		{"form body", apiRequest{Method: "POST", Path: "/users", RawBody: str(`username=x`), ContentType: "application/x-www-form-urlencoded"}, 415, nil},
		{"oversized body", apiRequest{Method: "POST", Path: "/users", RawBody: str(`{"full_name": "` + strings.Repeat("x", 70<<10) + `"}`), ContentType: "application/json"}, 413, nil},

		// Patches.
		{"patch username null", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, RawBody: str(`{"username": null}`), ContentType: "application/merge-patch+json"}, 422, []string{"username"}},
		{"patch username invalid", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, Body: map[string]any{"username": "NO"}}, 422, []string{"username"}},
		{"patch email taken", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, Body: map[string]any{"email": taken.Email}}, 409, nil},
		{"patch status", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, Body: map[string]any{"status": "locked"}}, 422, []string{"status"}},
		{"patch read-only", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, Body: map[string]any{"created_at": "2020-01-01T00:00:00Z"}}, 422, []string{"created_at"}},
		{"patch unknown", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, Body: map[string]any{"shoe_size": 44}}, 400, []string{"shoe_size"}},
		{"patch not an object", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, RawBody: str(`[1]`), ContentType: "application/merge-patch+json"}, 400, nil},
		{"patch text/plain", apiRequest{Method: "PATCH", Path: "/users/" + target.ID, RawBody: str(`{}`), ContentType: "text/plain"}, 415, nil},
		{"set status unknown", apiRequest{Method: "PUT", Path: "/users/" + target.ID + "/status", Body: map[string]any{"status": "sleeping"}}, 422, []string{"status"}},
		{"set status missing", apiRequest{Method: "PUT", Path: "/users/" + target.ID + "/status", Body: map[string]any{}}, 422, []string{"status"}},
		{"set roles missing", apiRequest{Method: "PUT", Path: "/users/" + target.ID + "/roles", Body: map[string]any{}}, 422, []string{"roles"}},
		{"set roles unknown", apiRequest{Method: "PUT", Path: "/users/" + target.ID + "/roles", Body: map[string]any{"roles": []string{"nope"}}}, 422, []string{"roles"}},
		{"set password short", apiRequest{Method: "PUT", Path: "/users/" + target.ID + "/password", Body: map[string]any{"password": "short"}}, 422, []string{"password"}},
		{"set password with username", apiRequest{Method: "PUT", Path: "/users/" + target.ID + "/password", Body: map[string]any{"password": "my-" + target.Username + "-pw"}}, 422, []string{"password"}},
		{"own password wrong current", apiRequest{Method: "PUT", Path: "/users/me/password", Body: map[string]any{"current_password": "wrong-password", "password": "Long-Enough-Passphrase-2"}}, 422, []string{"current_password"}},
		{"hard not a boolean", apiRequest{Method: "DELETE", Path: "/users/" + target.ID + "?hard=maybe"}, 422, []string{"hard"}},
		{"unknown user", apiRequest{Method: "GET", Path: "/users/" + newUUID(t)}, 404, nil},
		{"malformed user id", apiRequest{Method: "GET", Path: "/users/not-a-uuid"}, 404, nil},

		// Lists.
		{"limit zero", apiRequest{Method: "GET", Path: "/users?limit=0"}, 422, []string{"limit"}},
		{"limit too large", apiRequest{Method: "GET", Path: "/users?limit=201"}, 422, []string{"limit"}},
		{"limit not a number", apiRequest{Method: "GET", Path: "/users?limit=ten"}, 422, []string{"limit"}},
		{"cursor garbage", apiRequest{Method: "GET", Path: "/users?cursor=!!!"}, 422, []string{"cursor"}},
		{"query malformed", apiRequest{Method: "GET", Path: "/users?cursor=%%%"}, 400, nil},
		{"status filter unknown", apiRequest{Method: "GET", Path: "/users?status=sleeping"}, 422, []string{"status"}},
		{"audit since malformed", apiRequest{Method: "GET", Path: "/audit?since=yesterday"}, 422, []string{"since"}},
		{"audit until malformed", apiRequest{Method: "GET", Path: "/audit?until=2020-13-01"}, 422, []string{"until"}},
		{"audit cursor not ours", apiRequest{Method: "GET", Path: "/audit?cursor=eA"}, 422, []string{"cursor"}},
		{"requests status unknown", apiRequest{Method: "GET", Path: "/access-requests?status=maybe"}, 422, []string{"status"}},
		{"goal suggestions without role", apiRequest{Method: "GET", Path: "/users/goals/suggestions"}, 422, []string{"role"}},
		{"goal suggestions unknown role", apiRequest{Method: "GET", Path: "/users/goals/suggestions?role=astronaut"}, 404, nil},

		// Roles and groups.
		{"role name invalid", apiRequest{Method: "POST", Path: "/roles", Body: map[string]any{"name": "Trader!"}}, 422, []string{"name"}},
		{"role parent unknown", apiRequest{Method: "POST", Path: "/roles", Body: map[string]any{"name": "r-" + randomHex(t, 3), "parent": "ghost"}}, 422, []string{"parent"}},
		{"role permission unknown", apiRequest{Method: "POST", Path: "/roles", Body: map[string]any{"name": "r-" + randomHex(t, 3), "permissions": []string{"rockets:launch"}}}, 422, []string{"permissions"}},
		{"role taken", apiRequest{Method: "POST", Path: "/roles", Body: map[string]any{"name": "viewer"}}, 409, nil},
		{"role cycle", apiRequest{Method: "PATCH", Path: "/roles/viewer", Body: map[string]any{"parent": "admin"}}, 422, []string{"parent"}},
		{"built-in role delete", apiRequest{Method: "DELETE", Path: "/roles/admin"}, 409, nil},
		{"group name missing", apiRequest{Method: "POST", Path: "/groups", Body: map[string]any{"description": "no name"}}, 422, []string{"name"}},
		{"group role unknown", apiRequest{Method: "POST", Path: "/groups", Body: map[string]any{"name": "g-" + randomHex(t, 3), "roles": []string{"ghost"}}}, 422, []string{"roles"}},

		// Access requests.
		{"request purpose missing", apiRequest{Method: "POST", Path: "/access-requests", Body: map[string]any{"user_id": target.ID, "role": "user", "purpose": ""}}, 422, []string{"purpose"}},
		{"request admin role", apiRequest{Method: "POST", Path: "/access-requests", Body: map[string]any{"user_id": target.ID, "role": "admin", "purpose": "please"}}, 422, []string{"role"}},
		{"deny without comment", apiRequest{Method: "POST", Path: "/access-requests/" + req.ID + "/deny", Body: map[string]any{}}, 422, []string{"comment"}},
		{"approve unknown role", apiRequest{Method: "POST", Path: "/access-requests/" + req.ID + "/approve", Body: map[string]any{"role": "ghost"}}, 422, []string{"role"}},
		{"approve unknown request", apiRequest{Method: "POST", Path: "/access-requests/" + newUUID(t) + "/approve"}, 404, nil},

		// Tokens and clients.
		{"token kind unknown", apiRequest{Method: "POST", Path: "/tokens", Body: map[string]any{"name": "x", "kind": "forever"}}, 422, []string{"kind"}},
		{"token name missing", apiRequest{Method: "POST", Path: "/tokens", Body: map[string]any{"name": ""}}, 422, []string{"name"}},
		{"token negative lifetime", apiRequest{Method: "POST", Path: "/tokens", Body: map[string]any{"name": "x", "expires_in": -5}}, 422, []string{"expires_in"}},
		{"token scope unknown", apiRequest{Method: "POST", Path: "/tokens", Body: map[string]any{"name": "x", "scopes": []string{"rockets:launch"}}}, 422, []string{"scopes"}},
		{"user token without user", apiRequest{Method: "POST", Path: "/tokens", Body: map[string]any{"name": "x", "kind": "user"}}, 422, []string{"user_id"}},
		{"client redirect not https", apiRequest{Method: "POST", Path: "/clients", Body: map[string]any{
			"client_id": "c-" + randomHex(t, 3), "token_endpoint_auth_method": "client_secret_basic",
			"grant_types": []string{"authorization_code"}, "response_types": []string{"code"},
			"redirect_uris": []string{"http://evil.example/cb"}}}, 422, []string{"redirect_uris"}},
		{"client secret chosen", apiRequest{Method: "POST", Path: "/clients", Body: map[string]any{
			"client_id": "c-" + randomHex(t, 3), "client_secret": "mine", "token_endpoint_auth_method": "client_secret_basic",
			"grant_types": []string{"client_credentials"}}}, 422, []string{"client_secret"}},
		{"client lifetime malformed", apiRequest{Method: "POST", Path: "/clients", Body: map[string]any{
			"client_id": "c-" + randomHex(t, 3), "token_endpoint_auth_method": "client_secret_basic",
			"grant_types": []string{"client_credentials"}, "lifetimes": map[string]any{"access_token": "soon"}}}, 422, []string{"lifetimes.access_token"}},
		{"client id token alg unknown", apiRequest{Method: "POST", Path: "/clients", Body: map[string]any{
			"client_id": "c-" + randomHex(t, 3), "redirect_uris": []string{"https://app.example/cb"},
			"id_token_signed_response_alg": "HS256"}}, 422, []string{"id_token_signed_response_alg"}},
		{"client id token alg none", apiRequest{Method: "POST", Path: "/clients", Body: map[string]any{
			"client_id": "c-" + randomHex(t, 3), "redirect_uris": []string{"https://app.example/cb"},
			"id_token_signed_response_alg": "none"}}, 422, []string{"id_token_signed_response_alg"}},
		{"client patch id token alg", apiRequest{Method: "PATCH", Path: "/clients/" + e.Console.ID, Body: map[string]any{"id_token_signed_response_alg": "PS256"}}, 422, []string{"id_token_signed_response_alg"}},
		{"client patch id token alg type", apiRequest{Method: "PATCH", Path: "/clients/" + e.Console.ID, Body: map[string]any{"id_token_signed_response_alg": 256}}, 400, []string{"id_token_signed_response_alg"}},
		{"client patch auth method", apiRequest{Method: "PATCH", Path: "/clients/" + e.Console.ID, Body: map[string]any{"public": true}}, 422, []string{"public"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Token = tok
			r := e.call(ctxT(t), tc.req)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.Status, tc.status, r.Raw)
			}
			p := r.problem(t)
			for _, f := range tc.fields {
				if !slices.Contains(p.fields(), f) {
					t.Errorf("problem names fields %v, want %q among them; body %s", p.fields(), f, r.Raw)
				}
			}
			if tc.status == 422 && (len(p.Errors) == 0 || p.Errors[0].Message == "") {
				t.Errorf("422 without per-field messages: %s", r.Raw)
			}
		})
	}

	// Nothing invalid was stored.
	users, err := e.Store.ListUsers(ctxT(t), store.UserFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 4 {
		t.Errorf("%d users in the store after invalid creates, want the 4 the test made", len(users))
	}
}
