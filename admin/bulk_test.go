package admin_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/store"
)

// TestExportUsersStreamsEveryUser: GET /users/export answers JSON lines,
// one view per user across several of the export's pages, in username
// order, without a password hash; users:read is needed.
func TestExportUsersStreamsEveryUser(t *testing.T) {
	e := newPostgresEnv(t)
	manager := e.createUser(t, "manager")
	viewer := e.createUser(t, "viewer")
	now := time.Now()
	hash, err := e.Passwords.Hash("a shared password")
	if err != nil {
		t.Fatal(err)
	}
	var bulk []store.BulkUser
	for i := range 2*200 + 37 {
		name := fmt.Sprintf("bulk-%04d", i)
		bulk = append(bulk, store.BulkUser{User: store.User{
			ID: uuid.NewString(), Username: name, Email: name + "@example.com", PasswordHash: hash,
			FullName: "Bulk " + name, Status: store.StatusActive, Roles: []string{"user"},
			CreatedAt: now, UpdatedAt: now,
		}})
	}
	if err := e.Store.PutUsers(ctxT(t), bulk); err != nil {
		t.Fatal(err)
	}
	stored, err := e.Store.ListUsers(ctxT(t), store.UserFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}

	r := e.do(t, http.MethodGet, "/users/export", e.signIn(t, manager, "gatehouse:api"), nil)
	want(t, r, http.StatusOK, "export as a manager")
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q, want application/x-ndjson", ct)
	}
	if bytes.Contains(r.Raw, []byte(hash)) || bytes.Contains(r.Raw, []byte("password_hash")) || bytes.Contains(r.Raw, []byte("$2a$")) {
		t.Fatal("the export shows a password hash")
	}
	sc := bufio.NewScanner(bytes.NewReader(r.Raw))
	var names []string
	for sc.Scan() {
		var v admin.UserView
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %d is no user view: %v: %s", len(names)+1, err, sc.Text())
		}
		if v.ID == "" || v.Email == "" {
			t.Fatalf("line %d: %+v", len(names)+1, v)
		}
		if n := len(names); n > 0 && names[n-1] >= v.Username {
			t.Fatalf("line %d: %q after %q, want username order without repeats", n+1, v.Username, names[n-1])
		}
		names = append(names, v.Username)
	}
	if len(names) != len(stored) || len(names) < 437 {
		t.Fatalf("the export has %d lines, the store %d users", len(names), len(stored))
	}

	r = e.do(t, http.MethodGet, "/users/export", e.signIn(t, viewer, "gatehouse:api"), nil)
	want(t, r, http.StatusForbidden, "export as a viewer")
	r.problem(t)
}
