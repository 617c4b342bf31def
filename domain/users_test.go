package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func validNewUser() domain.NewUser {
	return domain.NewUser{
		Username:   "alice",
		Email:      "Alice@Example.com",
		Password:   goodPassword,
		FullName:   "Alice Liddell",
		Department: "Research",
		Goals:      []string{"ship it"},
	}
}

func TestCreateUserValidation(t *testing.T) {
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		mutate func(u *domain.NewUser)
		want   []string // fields, in report order; nil means valid
	}{
		{"valid", func(u *domain.NewUser) {}, nil},
		{"no password is allowed", func(u *domain.NewUser) { u.Password = "" }, nil},
		{"username too short", func(u *domain.NewUser) { u.Username = "al" }, []string{"username"}},
		{"username too long", func(u *domain.NewUser) { u.Username = strings.Repeat("a", 51) }, []string{"username"}},
		{"username uppercase", func(u *domain.NewUser) { u.Username = "Alice" }, []string{"username"}},
		{"username space", func(u *domain.NewUser) { u.Username = "al ice" }, []string{"username"}},
		{"username 50 chars", func(u *domain.NewUser) { u.Username = strings.Repeat("a", 50) }, nil},
		{"email invalid", func(u *domain.NewUser) { u.Email = "not-an-email" }, []string{"email"}},
		{"email with display name", func(u *domain.NewUser) { u.Email = "Al <al@example.com>" }, []string{"email"}},
		{"email without dot in domain", func(u *domain.NewUser) { u.Email = "al@localhost" }, []string{"email"}},
		{"password too short", func(u *domain.NewUser) { u.Password = "short1" }, []string{"password"}},
		{"password contains username", func(u *domain.NewUser) { u.Password = "xxalicexx99" }, []string{"password"}},
		{"password contains email local part", func(u *domain.NewUser) {
			u.Email = "wonderland@example.com"
			u.Password = "my-wonderland-1"
		}, []string{"password"}},
		{"password contains full name", func(u *domain.NewUser) { u.Password = "liddell-rules" }, []string{"password"}},
		{"password over 72 bytes", func(u *domain.NewUser) { u.Password = strings.Repeat("x", 73) }, []string{"password"}},
		{"full name too long", func(u *domain.NewUser) { u.FullName = strings.Repeat("n", 201) }, []string{"full_name"}},
		{"full name with newline", func(u *domain.NewUser) { u.FullName = "Alice\nLiddell" }, []string{"full_name"}},
		{"department too long", func(u *domain.NewUser) { u.Department = strings.Repeat("d", 201) }, []string{"department"}},
		{"too many goals", func(u *domain.NewUser) { u.Goals = make([]string, 21); fillGoals(u.Goals) }, []string{"goals"}},
		{"goal too long", func(u *domain.NewUser) { u.Goals = []string{strings.Repeat("g", 201)} }, []string{"goals"}},
		{"empty goal", func(u *domain.NewUser) { u.Goals = []string{"ok", "  "} }, []string{"goals"}},
		{"preferences not an object", func(u *domain.NewUser) { u.Preferences = json.RawMessage(`[1,2]`) }, []string{"preferences"}},
		{"preferences not JSON", func(u *domain.NewUser) { u.Preferences = json.RawMessage(`{"a":`) }, []string{"preferences"}},
		{"preferences too big", func(u *domain.NewUser) {
			u.Preferences = json.RawMessage(`{"a":"` + strings.Repeat("x", 16<<10) + `"}`)
		}, []string{"preferences"}},
		{"unknown status", func(u *domain.NewUser) { u.Status = "sleeping" }, []string{"status"}},
		{"unknown role", func(u *domain.NewUser) { u.Roles = []string{"user", "wizard"} }, []string{"roles"}},
		{"expiry in the past", func(u *domain.NewUser) { u.ExpiresAt = &past }, []string{"expires_at"}},
		{"every problem at once", func(u *domain.NewUser) {
			u.Username = "A"
			u.Email = "nope"
			u.Password = "short"
			u.FullName = strings.Repeat("n", 201)
			u.Department = strings.Repeat("d", 201)
			u.Goals = []string{""}
			u.Preferences = json.RawMessage(`"x"`)
			u.Status = "bogus"
			u.ExpiresAt = &past
			u.Roles = []string{"wizard"}
		}, []string{"username", "email", "full_name", "department", "goals", "preferences", "password", "status", "expires_at", "roles"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			in := validNewUser()
			tc.mutate(&in)
			u, err := e.svc.CreateUser(e.ctx, admin, in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if u.ID == "" {
					t.Fatal("no id")
				}
				return
			}
			if got := fieldsOf(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v (%v)", got, tc.want, err)
			}
			if n := len(e.audit()); n != 0 {
				t.Fatalf("a refused create left %d audit entries", n)
			}
			users, _ := e.svc.ListUsers(e.ctx, store.UserFilter{})
			if len(users) != 0 {
				t.Fatalf("a refused create stored %d users", len(users))
			}
		})
	}
}

func fillGoals(g []string) {
	for i := range g {
		g[i] = fmt.Sprintf("goal %d", i)
	}
}

func TestCreateUserStoresNormalizedRecord(t *testing.T) {
	e := newEnv(t)
	in := validNewUser()
	in.Goals = []string{"  trim me  "}
	in.Preferences = json.RawMessage(`{ "theme" : "dark" }`)
	u, err := e.svc.CreateUser(e.ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "alice@example.com" {
		t.Errorf("email = %q, want it lowercased", u.Email)
	}
	if u.Status != store.StatusPending {
		t.Errorf("status without roles = %q, want pending", u.Status)
	}
	if !slices.Equal(u.Goals, []string{"trim me"}) {
		t.Errorf("goals = %q", u.Goals)
	}
	var prefs map[string]any
	if err := json.Unmarshal(u.Preferences, &prefs); err != nil || len(prefs) != 1 || prefs["theme"] != "dark" {
		t.Errorf("preferences = %s", u.Preferences)
	}
	if u.PasswordHash == "" || strings.Contains(u.PasswordHash, goodPassword) {
		t.Errorf("password hash = %q", u.PasswordHash)
	}
	if ok, _ := e.svc.Passwords().Verify(u.PasswordHash, goodPassword); !ok {
		t.Error("the stored hash does not verify the password")
	}

	withRoles, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "bob", Email: "bob@example.com", Password: goodPassword, Roles: []string{"user", "user"}})
	if err != nil {
		t.Fatal(err)
	}
	if withRoles.Status != store.StatusActive || !slices.Equal(withRoles.Roles, []string{"user"}) {
		t.Errorf("with roles: status %q roles %v, want active [user]", withRoles.Status, withRoles.Roles)
	}
}

func TestCreateUserConflicts(t *testing.T) {
	e := newEnv(t)
	e.user("alice")
	before := e.lastID()
	for _, in := range []domain.NewUser{
		{Username: "alice", Email: "other@example.com", Password: goodPassword},
		{Username: "other", Email: "ALICE@example.com", Password: goodPassword},
	} {
		_, err := e.svc.CreateUser(e.ctx, admin, in)
		wantErr(t, err, store.ErrConflict)
	}
	if got := e.since(before); len(got) != 0 {
		t.Fatalf("refused creates left audit entries: %+v", got)
	}
}

// Twenty concurrent creates of one username: exactly one wins, the others
// are conflicts, and one row exists.
func TestCreateUserConcurrently(t *testing.T) {
	e := newEnv(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.CreateUser(e.ctx, admin, domain.NewUser{
				Username: "racer",
				Email:    fmt.Sprintf("racer%d@example.com", i),
				Password: goodPassword,
			})
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d successes and %d conflicts, want 1 and %d", ok, conflicts, n-1)
	}
	users, err := e.svc.ListUsers(e.ctx, store.UserFilter{Query: "racer"})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 {
		t.Fatalf("%d users stored, want 1", len(users))
	}
	if creates := countAction(e.audit(), "user.create"); creates != 1 {
		t.Fatalf("%d user.create entries, want 1", creates)
	}
}

func countAction(entries []store.AuditEntry, action string) int {
	n := 0
	for _, a := range entries {
		if a.Action == action {
			n++
		}
	}
	return n
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	e.user("bob")
	if _, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{EmailVerified: ptr(true)}); err != nil {
		t.Fatal(err)
	}

	t.Run("changed fields are recorded with before and after", func(t *testing.T) {
		before := e.lastID()
		got, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{
			FullName: ptr("Alice Pleasance Liddell"),
			Email:    ptr("alice@wonderland.example"),
			Goals:    ptr([]string{"a", "b"}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.FullName != "Alice Pleasance Liddell" || got.Email != "alice@wonderland.example" {
			t.Fatalf("not updated: %+v", got)
		}
		if got.EmailVerified {
			t.Error("a new email stayed verified")
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "user.update" || entries[0].TargetID != u.ID {
			t.Fatalf("entries = %+v", entries)
		}
		c := changesOf(t, entries[0])
		if c["full_name"]["before"] != "Test Alice" || c["full_name"]["after"] != "Alice Pleasance Liddell" {
			t.Errorf("full_name change = %v", c["full_name"])
		}
		if c["email_verified"]["before"] != true || c["email_verified"]["after"] != false {
			t.Errorf("email_verified change = %v", c["email_verified"])
		}
		for _, f := range []string{"email", "goals"} {
			if _, ok := c[f]; !ok {
				t.Errorf("no change recorded for %s: %s", f, entries[0].Changes)
			}
		}
		for _, f := range []string{"username", "department", "roles", "status"} {
			if _, ok := c[f]; ok {
				t.Errorf("unchanged field %s recorded", f)
			}
		}
	})

	t.Run("a patch that changes nothing records nothing", func(t *testing.T) {
		before := e.lastID()
		if _, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{Department: ptr("")}); err != nil {
			t.Fatal(err)
		}
		if got := e.since(before); len(got) != 0 {
			t.Fatalf("entries = %+v", got)
		}
	})

	t.Run("invalid values name their fields", func(t *testing.T) {
		_, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{
			Username:    ptr("NO"),
			Email:       ptr("x"),
			Preferences: ptr(json.RawMessage(`[]`)),
			ExpiresAt:   ptr(ptr(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))),
		})
		want := []string{"username", "email", "preferences", "expires_at"}
		if got := fieldsOf(t, err); !slices.Equal(got, want) {
			t.Fatalf("fields = %v, want %v", got, want)
		}
	})

	t.Run("a taken username is a conflict", func(t *testing.T) {
		_, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{Username: ptr("bob")})
		wantErr(t, err, store.ErrConflict)
	})

	t.Run("unknown user", func(t *testing.T) {
		_, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), "00000000-0000-0000-0000-000000000001", domain.UserPatch{FullName: ptr("x")})
		wantErr(t, err, store.ErrNotFound)
		_, err = e.svc.UpdateUser(e.ctx, domain.Operator(admin), "not-a-uuid", domain.UserPatch{FullName: ptr("x")})
		wantErr(t, err, store.ErrNotFound)
	})
}

// sessionWithToken signs u in on a "browser" with a refresh token of a
// grant made in that session.
func (e *env) sessionWithToken(u store.User, id string) {
	e.t.Helper()
	now := e.clock.Now()
	if _, err := e.store.GetClient(e.ctx, "rp"); errors.Is(err, store.ErrNotFound) {
		err := e.store.CreateClient(e.ctx, store.Client{ID: "rp", TokenEndpointAuthMethod: "none", Public: true,
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"https://rp.example/cb"}, CreatedAt: now, UpdatedAt: now})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	if err := e.store.CreateLoginSession(e.ctx, store.LoginSession{ID: id, UserID: u.ID, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateToken(e.ctx, store.Token{Kind: store.KindRefreshToken, Signature: "sig-" + id,
		RequestID: "req-" + id, ClientID: "rp", Subject: u.ID, UserID: u.ID, LoginSessionID: id,
		RequestedAt: now, ExpiresAt: now.Add(24 * time.Hour), Active: true, Request: json.RawMessage(`{}`)}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) tokenActive(id string) bool {
	e.t.Helper()
	tok, err := e.store.GetToken(e.ctx, store.KindRefreshToken, "sig-"+id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Active
}

func TestSetUserStatus(t *testing.T) {
	statuses := []store.UserStatus{store.StatusPending, store.StatusActive, store.StatusLocked, store.StatusDisabled}
	for _, from := range statuses {
		for _, to := range statuses {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				e := newEnv(t)
				u, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "alice", Email: "alice@example.com",
					Password: goodPassword, Status: from, Roles: []string{"user"}})
				if err != nil {
					t.Fatal(err)
				}
				e.sessionWithToken(u, "s1")
				before := e.lastID()
				got, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), u.ID, to)
				if to == store.StatusPending {
					if f := fieldsOf(t, err); !slices.Equal(f, []string{"status"}) {
						t.Fatalf("fields = %v", f)
					}
					if len(e.since(before)) != 0 {
						t.Fatal("a refused change left an audit entry")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.Status != to {
					t.Fatalf("status = %q, want %q", got.Status, to)
				}
				entries := e.since(before)
				if from == to {
					if len(entries) != 0 {
						t.Fatalf("no change recorded %+v", entries)
					}
				} else {
					if len(entries) != 1 || entries[0].Action != "user.status" || entries[0].ActorID != admin.ID {
						t.Fatalf("entries = %+v", entries)
					}
					c := changesOf(t, entries[0])["status"]
					if c["before"] != string(from) || c["after"] != string(to) {
						t.Fatalf("status change = %v", c)
					}
				}
				sessions, err := e.svc.ListSessions(e.ctx, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				ended := (to == store.StatusLocked || to == store.StatusDisabled) && from != to
				if ended {
					if len(sessions) != 0 || e.tokenActive("s1") {
						t.Fatalf("after %s: %d sessions, token active %v; want the session ended and its tokens revoked", to, len(sessions), e.tokenActive("s1"))
					}
				} else if len(sessions) != 1 || !e.tokenActive("s1") {
					t.Fatalf("after %s: %d sessions, token active %v; want both kept", to, len(sessions), e.tokenActive("s1"))
				}
			})
		}
	}
}

func TestUnlockLiftsLockout(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	for range domain.DefaultLockoutThreshold {
		_, _ = e.svc.Authenticate(e.ctx, "alice", "wrong password", "")
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("locked out user signed in: %v", err)
	}
	got, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), u.ID, store.StatusActive)
	if err != nil {
		t.Fatal(err)
	}
	if got.LockedUntil != nil {
		t.Fatalf("LockedUntil = %v after unlock", got.LockedUntil)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); err != nil {
		t.Fatalf("sign-in after unlock: %v", err)
	}
}

func TestSetUserRoles(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice")
	before := e.lastID()
	got, err := e.svc.SetUserRoles(e.ctx, domain.Operator(admin), u.ID, []string{"manager", "viewer", "manager"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Roles, []string{"manager", "viewer"}) {
		t.Fatalf("roles = %v", got.Roles)
	}
	if got.Status != store.StatusPending {
		t.Fatalf("status = %q: roles alone must not activate", got.Status)
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "user.roles" {
		t.Fatalf("entries = %+v", entries)
	}
	_, err = e.svc.SetUserRoles(e.ctx, domain.Operator(admin), u.ID, []string{"wizard"})
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"roles"}) {
		t.Fatalf("fields = %v", f)
	}
}

func TestSetPassword(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	const next = "an entirely new secret"

	t.Run("policy", func(t *testing.T) {
		err := e.svc.SetPassword(e.ctx, domain.Operator(admin), u.ID, nil, "alice123456")
		if f := fieldsOf(t, err); !slices.Equal(f, []string{"password"}) {
			t.Fatalf("fields = %v", f)
		}
	})
	t.Run("wrong current password", func(t *testing.T) {
		err := e.svc.SetPassword(e.ctx, domain.Operator(admin), u.ID, ptr("not it at all"), next)
		if f := fieldsOf(t, err); !slices.Equal(f, []string{"current_password"}) {
			t.Fatalf("fields = %v", f)
		}
	})
	t.Run("self-service with the current password", func(t *testing.T) {
		before := e.lastID()
		self := domain.Actor{Type: store.ActorUser, ID: u.ID}
		if err := e.svc.SetPassword(e.ctx, domain.Operator(self), u.ID, ptr(goodPassword), next); err != nil {
			t.Fatal(err)
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "user.password" || entries[0].ActorID != u.ID {
			t.Fatalf("entries = %+v", entries)
		}
		if c := changesOf(t, entries[0]); len(c) != 1 || len(c["password"]) != 1 || c["password"]["after"] != "changed" {
			t.Fatalf("changes = %s, want only that the password changed", entries[0].Changes)
		}
		if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("old password still works: %v", err)
		}
		if _, err := e.svc.Authenticate(e.ctx, "alice", next, ""); err != nil {
			t.Fatalf("new password: %v", err)
		}
	})
	t.Run("self-service keeps the sessions", func(t *testing.T) {
		e.sessionWithToken(u, "own")
		self := domain.Actor{Type: store.ActorUser, ID: u.ID}
		if err := e.svc.SetPassword(e.ctx, domain.Operator(self), u.ID, ptr(next), "yet another new secret"); err != nil {
			t.Fatal(err)
		}
		if !e.tokenActive("own") {
			t.Fatal("changing one's own password ended one's own session's token")
		}
	})
	t.Run("set by an administrator ends sessions and grants", func(t *testing.T) {
		e.sessionWithToken(u, "feared-taken")
		before := e.lastID()
		if err := e.svc.SetPassword(e.ctx, domain.Operator(admin), u.ID, nil, "chosen by the admin 42"); err != nil {
			t.Fatal(err)
		}
		if e.tokenActive("feared-taken") || e.tokenActive("own") {
			t.Fatal("a refresh token survived an administrator's password change")
		}
		if _, _, err := e.svc.CurrentSession(e.ctx, "feared-taken"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session after an administrator's password change: %v, want ended", err)
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "user.password" {
			t.Fatalf("entries = %+v, want one user.password", entries)
		}
		if c := changesOf(t, entries[0]); c["grants"]["before"] != float64(2) || c["password"]["after"] != "changed" {
			t.Fatalf("changes = %s, want the two grants counted", entries[0].Changes)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	t.Run("soft delete disables and ends sessions; sign-in fails", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice", "user")
		e.sessionWithToken(u, "s1")
		before := e.lastID()
		if err := e.svc.DeleteUser(e.ctx, domain.Operator(admin), u.ID, false); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.GetUser(e.ctx, u.ID)
		if err != nil || got.Status != store.StatusDisabled {
			t.Fatalf("after soft delete: %+v, %v", got, err)
		}
		if e.tokenActive("s1") {
			t.Fatal("the session's refresh token is still active")
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "user.disable" {
			t.Fatalf("entries = %+v", entries)
		}
		if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("disabled user signed in: %v", err)
		}
	})

	t.Run("hard delete removes the user and what belongs to it", func(t *testing.T) {
		e := newEnv(t)
		u := e.user("alice", "user")
		e.sessionWithToken(u, "s1")
		g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "team"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		tok, _, err := e.svc.IssueAPIToken(e.ctx, e.principal(u), domain.NewAPIToken{Name: "script", Kind: store.TokenPersonal})
		if err != nil {
			t.Fatal(err)
		}
		before := e.lastID()
		if err := e.svc.DeleteUser(e.ctx, domain.Operator(admin), u.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.GetUser(e.ctx, u.ID)
		wantErr(t, err, store.ErrNotFound)
		_, members, err := e.svc.GetGroup(e.ctx, g.ID)
		if err != nil || len(members) != 0 {
			t.Fatalf("members after delete: %v, %v", members, err)
		}
		if _, err := e.store.GetAPIToken(e.ctx, tok.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("API token after delete: %v", err)
		}
		if _, err := e.store.GetToken(e.ctx, store.KindRefreshToken, "sig-s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refresh token after delete: %v", err)
		}
		entries := e.since(before)
		if len(entries) != 1 || entries[0].Action != "user.delete" || entries[0].TargetID != u.ID {
			t.Fatalf("entries = %+v", entries)
		}
		if c := changesOf(t, entries[0]); c["username"]["before"] != "alice" {
			t.Fatalf("the delete entry does not say who was deleted: %s", entries[0].Changes)
		}
		if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("deleted user signed in: %v", err)
		}
		wantErr(t, e.svc.DeleteUser(e.ctx, domain.Operator(admin), u.ID, true), store.ErrNotFound)
	})
}

func TestGoalSuggestions(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.UpdateRole(e.ctx, admin, "user", domain.RolePatch{SuggestedGoals: ptr([]string{"learn the tools", "shared"})}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "trader", Parent: "user",
		SuggestedGoals: []string{"beat the benchmark", "shared"}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.GoalSuggestions(e.ctx, "trader")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"beat the benchmark", "shared", "learn the tools"}; !slices.Equal(got, want) {
		t.Fatalf("goals = %q, want %q", got, want)
	}
	_, err = e.svc.GoalSuggestions(e.ctx, "nobody")
	wantErr(t, err, store.ErrNotFound)
}

func TestNoSelfLockout(t *testing.T) {
	e := newEnv(t)
	u := e.user("root", "admin")
	self := domain.Actor{Type: store.ActorUser, ID: u.ID}
	for _, status := range []store.UserStatus{store.StatusLocked, store.StatusDisabled} {
		if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(self), u.ID, status); !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("SetUserStatus(self, %s) = %v, want ErrForbidden", status, err)
		}
	}
	for _, hard := range []bool{false, true} {
		if err := e.svc.DeleteUser(e.ctx, domain.Operator(self), u.ID, hard); !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("DeleteUser(self, hard=%v) = %v, want ErrForbidden", hard, err)
		}
	}
	got, err := e.svc.GetUser(e.ctx, u.ID)
	if err != nil || got.Status != store.StatusActive {
		t.Fatalf("after refused self-lockouts: %+v, %v", got, err)
	}
	// Another administrator may, once root is not the last one.
	e.user("second", "admin")
	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), u.ID, store.StatusLocked); err != nil {
		t.Fatalf("another admin locking: %v", err)
	}
}
