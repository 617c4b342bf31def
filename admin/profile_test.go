package admin_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestProfileFieldsValidation: a bad value of each profile field, on POST
// and PATCH /users and on PATCH /users/me, is a 422 problem naming the
// field, and nothing is stored.
func TestProfileFieldsValidation(t *testing.T) {
	e := newMemoryEnv(t)
	adm := e.createUser(t, "admin")
	tok := e.signIn(t, adm)
	target := e.createUser(t, "user")
	self := e.signIn(t, target)

	bad := map[string][]any{
		"phone_number": {"14155550123", "+04155550123", "+1415555", "+1234567890123456", "+1 415 555 0123"},
		"locale":       {"en_US", "english", "en-US-x-private"},
		"zoneinfo":     {"Mars/Olympus_Mons", "Local", "../../etc/passwd"},
		"picture":      {"http://example.com/a.png", "javascript:alert(1)", "https://example.com/" + strings.Repeat("a", domain.MaxPictureLength)},
		"given_name":   {"two\nlines"},
		"family_name":  {strings.Repeat("f", 201)},
	}
	for field, values := range bad {
		for _, v := range values {
			name := "p-" + randomHex(t, 4)
			for _, c := range []struct {
				what, method, path, token string
				body                      map[string]any
			}{
				{"create", "POST", "/users", tok, map[string]any{"username": name, "email": name + "@example.com", "password": "Long-Enough-Passphrase-1", field: v}},
				{"admin patch", "PATCH", "/users/" + target.ID, tok, map[string]any{field: v}},
				{"self patch", "PATCH", "/users/me", self, map[string]any{field: v}},
			} {
				r := e.do(t, c.method, c.path, c.token, c.body)
				if r.Status != 422 {
					t.Errorf("%s with %s %.40q: status %d, want 422; body %s", c.what, field, v, r.Status, r.Raw)
					continue
				}
				if p := r.problem(t); !slices.Contains(p.fields(), field) {
					t.Errorf("%s with %s %.40q: problem names %v, want %s", c.what, field, v, p.fields(), field)
				}
			}
		}
	}
	users, err := e.Store.ListUsers(ctxT(t), store.UserFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 {
		t.Errorf("%d users after refused creates, want 2", len(users))
	}
	stored, err := e.Store.GetUser(ctxT(t), target.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.PhoneNumber != "" || stored.Locale != "" || stored.Zoneinfo != "" || stored.Picture != "" {
		t.Errorf("refused patches changed the user: %+v", stored)
	}
}

// TestProfileFieldsRoundTrip: an admin creates a user with every profile
// field; GET shows them; the user's own edit of its phone number resets
// phone_number_verified, and it may not set the flag, nor break_glass.
func TestProfileFieldsRoundTrip(t *testing.T) {
	e := newMemoryEnv(t)
	adm := e.createUser(t, "admin")
	tok := e.signIn(t, adm)

	name := "p-" + randomHex(t, 4)
	password := "Long-Enough-Passphrase-1"
	r := e.do(t, "POST", "/users", tok, map[string]any{
		"username": name, "email": name + "@example.com", "password": password, "roles": []string{"user"},
		"phone_number": "+14155550123", "phone_number_verified": true, "given_name": "Grace", "family_name": "Hopper",
		"locale": "en-US", "zoneinfo": "America/New_York", "picture": "https://example.com/g.png",
	})
	want(t, r, 201, "create with profile fields")
	var v admin.UserView
	r.decode(t, &v)
	if v.PhoneNumber != "+14155550123" || !v.PhoneNumberVerified || v.GivenName != "Grace" || v.FamilyName != "Hopper" ||
		v.Locale != "en-US" || v.Zoneinfo != "America/New_York" || v.Picture != "https://example.com/g.png" || v.BreakGlass {
		t.Fatalf("created user %+v", v)
	}
	r = e.do(t, "GET", "/users/"+v.ID, tok, nil)
	want(t, r, 200, "get")
	var got admin.UserView
	r.decode(t, &got)
	if got.PhoneNumber != v.PhoneNumber || got.Zoneinfo != v.Zoneinfo || !got.PhoneNumberVerified {
		t.Fatalf("GET shows %+v", got)
	}

	u := &testUser{Password: password}
	u.User, _ = e.Store.GetUser(ctxT(t), v.ID)
	self := e.signIn(t, u)
	for _, field := range []string{"phone_number_verified", "break_glass"} {
		r := e.do(t, "PATCH", "/users/me", self, map[string]any{field: true})
		if r.Status != 422 || !slices.Contains(r.problem(t).fields(), field) {
			t.Errorf("self patch of %s: status %d %s, want 422 naming it", field, r.Status, r.Raw)
		}
	}
	// Another field leaves the mark alone; a new number drops it.
	r = e.do(t, "PATCH", "/users/me", self, map[string]any{"locale": "fr-CA", "phone_number": "+14155550123"})
	want(t, r, 200, "self patch of the locale")
	r.decode(t, &got)
	if !got.PhoneNumberVerified || got.Locale != "fr-CA" {
		t.Fatalf("after the locale edit: %+v", got)
	}
	r = e.do(t, "PATCH", "/users/me", self, map[string]any{"phone_number": "+14155550199"})
	want(t, r, 200, "self patch of the phone")
	r.decode(t, &got)
	if got.PhoneNumber != "+14155550199" || got.PhoneNumberVerified {
		t.Fatalf("after the user changed its number: %+v, want it unverified", got)
	}
	stored, _ := e.Store.GetUser(ctxT(t), v.ID)
	if stored.PhoneNumberVerified {
		t.Fatal("the store still has the new number verified")
	}
	// The administrator verifies it; null clears text fields.
	r = e.do(t, "PATCH", "/users/"+v.ID, tok, map[string]any{"phone_number_verified": true, "picture": nil})
	want(t, r, 200, "admin verifies")
	r.decode(t, &got)
	if !got.PhoneNumberVerified || got.Picture != "" {
		t.Fatalf("after the admin's patch: %+v", got)
	}
}

// TestBreakGlassFlag: setting break_glass needs settings:write (users:write
// alone is refused, 403, and changes nothing); an admin's change is
// audited as a user.update with the flag's before and after.
func TestBreakGlassFlag(t *testing.T) {
	e := newMemoryEnv(t)
	adm := e.createUser(t, "admin")
	tok := e.signIn(t, adm)
	role, err := e.Svc.CreateRole(ctxT(t), domain.CLIActor(), store.Role{Name: "editor-" + randomHex(t, 3), Parent: "user",
		Permissions: []string{store.PermUsersWrite, store.PermUsersRead}})
	if err != nil {
		t.Fatal(err)
	}
	editor := e.createUser(t, role.Name)
	etok := e.signIn(t, editor)
	target := e.createUser(t, "user")

	r := e.do(t, "PATCH", "/users/"+target.ID, etok, map[string]any{"break_glass": true})
	want(t, r, 403, "users:write alone sets break_glass")
	name := "bg-" + randomHex(t, 4)
	r = e.do(t, "POST", "/users", etok, map[string]any{"username": name, "email": name + "@example.com", "password": "Long-Enough-Passphrase-1", "break_glass": true})
	want(t, r, 403, "users:write alone creates a break-glass account")
	// The editor may still edit other fields, and send the flag unchanged.
	r = e.do(t, "PATCH", "/users/"+target.ID, etok, map[string]any{"given_name": "Ada", "break_glass": false})
	want(t, r, 200, "editor's patch without a change of the flag")

	before := e.lastAuditID(t)
	r = e.do(t, "PATCH", "/users/"+target.ID, tok, map[string]any{"break_glass": true})
	want(t, r, 200, "admin sets break_glass")
	var v admin.UserView
	r.decode(t, &v)
	if !v.BreakGlass {
		t.Fatalf("after the admin's patch: %+v", v)
	}
	entries := e.auditSince(t, before)
	if len(entries) != 1 || entries[0].Action != "user.update" || entries[0].TargetID != target.ID {
		t.Fatalf("audit after setting break_glass: %+v", entries)
	}
	var c map[string]struct{ Before, After any }
	if err := json.Unmarshal(entries[0].Changes, &c); err != nil {
		t.Fatal(err)
	}
	if c["break_glass"].Before != false || c["break_glass"].After != true {
		t.Errorf("audit changes %s, want break_glass false -> true", entries[0].Changes)
	}
}
