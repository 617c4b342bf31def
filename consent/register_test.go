package consent_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

func TestRegistrationOff(t *testing.T) {
	e := newEnv(t, false)
	c := e.browser()
	if resp, _ := e.get(c, "/register"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /register: status %d, want 404", resp.StatusCode)
	}
	_, login := e.get(c, "/login")
	if strings.Contains(login, "/register") {
		t.Error("the login page links to registration")
	}
	resp, _ := e.post(c, "/register", url.Values{
		"csrf_token": {csrfFrom(t, login)}, "username": {"newbie"}, "email": {"newbie@example.com"}, "password": {testPassword},
	})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /register: status %d, want 404", resp.StatusCode)
	}
	if _, err := e.store.GetUserByUsername(context.Background(), "newbie"); !isNotFound(err) {
		t.Errorf("a user was created: %v", err)
	}
}

func TestRegistration(t *testing.T) {
	e := newEnvWith(t, envOptions{registration: true})
	c := e.browser()
	_, login := e.get(c, "/login?return_to="+url.QueryEscape(authorizeURL))
	m := regexp.MustCompile(`<a href="(/register\?[^"]*)">`).FindStringSubmatch(login)
	if m == nil {
		t.Fatalf("the login page does not link to /register:\n%s", login)
	}
	if link, err := url.Parse(html.UnescapeString(m[1])); err != nil || link.Query().Get("return_to") != authorizeURL {
		t.Errorf("register link %q does not carry return_to %s", m[1], authorizeURL)
	}
	resp, body := e.get(c, "/register?return_to="+url.QueryEscape(authorizeURL))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /register: status %d", resp.StatusCode)
	}
	for _, want := range []string{`<form method="post" action="/register">`, `name="username"`, `name="email" type="email"`,
		`name="full_name"`, `name="password" type="password" autocomplete="new-password"`} {
		if !strings.Contains(body, want) {
			t.Errorf("registration form lacks %q", want)
		}
	}
	resp, body = e.post(c, "/register", url.Values{
		"csrf_token": {csrfFrom(t, body)}, "return_to": {authorizeURL},
		"username": {" Newbie "}, "email": {"newbie@example.com"}, "full_name": {"New Person"}, "password": {testPassword},
	})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != accessRequestLocation {
		t.Fatalf("register: status %d Location %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	u, err := e.store.GetUserByUsername(context.Background(), "newbie")
	if err != nil {
		t.Fatalf("registered user: %v", err)
	}
	if u.Status != store.StatusPending || len(u.Roles) != 0 || u.Email != "newbie@example.com" || u.FullName != "New Person" {
		t.Errorf("registered user = %+v, want pending without roles", u)
	}
	if ok, _ := testPasswords.Verify(u.PasswordHash, testPassword); !ok {
		t.Error("password not stored as a hash of what was typed")
	}
	// Signed in: the session is the new user's, and the form is next.
	if s := e.currentSession(e.sessionCookie(c).Value); s == nil || s.User.ID != u.ID {
		t.Fatalf("session after registration = %+v", s)
	}
	if resp, _ := e.get(c, accessRequestLocation); resp.StatusCode != http.StatusOK {
		t.Errorf("request form after registration: status %d", resp.StatusCode)
	}
	created := e.audit("user.create")
	if len(created) != 1 || created[0].TargetID != u.ID || created[0].ActorType != store.ActorAnonymous {
		t.Errorf("audit = %+v", created)
	}
	if strings.Contains(string(created[0].Changes), testPassword) {
		t.Error("the audit entry holds the password")
	}
}

func TestRegistrationValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		fields []string // fields with an error next to them
		alert  string   // a message for the whole form
	}{
		{"short username", url.Values{"username": {"ab"}, "email": {"ab@example.com"}, "password": {testPassword}}, 422, []string{"username"}, ""},
		{"bad username", url.Values{"username": {"a b!"}, "email": {"ab@example.com"}, "password": {testPassword}}, 422, []string{"username"}, ""},
		{"bad email", url.Values{"username": {"newbie"}, "email": {"not-an-email"}, "password": {testPassword}}, 422, []string{"email"}, ""},
		{"short password", url.Values{"username": {"newbie"}, "email": {"newbie@example.com"}, "password": {"short"}}, 422, []string{"password"}, ""},
		{"password holds the username", url.Values{"username": {"newbie"}, "email": {"n@example.com"}, "password": {"my-newbie-pass"}}, 422, []string{"password"}, ""},
		{"no password", url.Values{"username": {"newbie"}, "email": {"newbie@example.com"}}, 422, []string{"password"}, ""},
		{"everything wrong", url.Values{"username": {"x"}, "email": {"x"}, "password": {"pw"}}, 422, []string{"username", "email", "password"}, ""},
		{"taken username", url.Values{"username": {"alice"}, "email": {"other@example.com"}, "password": {testPassword}}, 409, nil, "That username or email address is already registered."},
		{"taken email", url.Values{"username": {"other"}, "email": {"alice@example.com"}, "password": {testPassword}}, 409, nil, "That username or email address is already registered."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{registration: true})
			e.createUser("alice", "alice@example.com", store.StatusActive)
			c := e.browser()
			_, body := e.get(c, "/register")
			tc.form.Set("csrf_token", csrfFrom(t, body))
			resp, body := e.post(c, "/register", tc.form)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			for _, f := range []string{"username", "email", "full_name", "password"} {
				want := false
				for _, w := range tc.fields {
					want = want || w == f
				}
				if got := fieldError(body, f); (got != "") != want {
					t.Errorf("error next to %s = %q, want one: %v", f, got, want)
				}
			}
			if tc.alert != "" && !strings.Contains(body, tc.alert) {
				t.Errorf("no %q", tc.alert)
			}
			if pw := tc.form.Get("password"); pw != "" && strings.Contains(body, `value="`+pw+`"`) {
				t.Error("the password was echoed")
			}
			if e.sessionCookie(c) != nil {
				t.Error("signed in after a refused registration")
			}
			if username := tc.form.Get("username"); username != "alice" {
				if _, err := e.store.GetUserByUsername(context.Background(), username); !isNotFound(err) {
					t.Errorf("user %q created: %v", username, err)
				}
			}
		})
	}
}

func TestRegistrationCSRF(t *testing.T) {
	e := newEnvWith(t, envOptions{registration: true})
	c := e.browser()
	resp, body := e.post(c, "/register", url.Values{"username": {"newbie"}, "email": {"newbie@example.com"}, "password": {testPassword}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your session expired, please try again") {
		t.Fatalf("status %d\n%s", resp.StatusCode, body)
	}
	if _, err := e.store.GetUserByUsername(context.Background(), "newbie"); !isNotFound(err) {
		t.Errorf("user created without a CSRF token: %v", err)
	}
}
