package main

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// TestUsersExpiredStatus: the CLI prints the effective status, as the API
// does, and filters on it.
func TestUsersExpiredStatus(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	for _, name := range []string{"carol", "dan"} {
		e.ok(nil, "users", "create", "--username", name, "--email", name+"@example.com",
			"--password", "correct horse battery", "--role", "viewer")
	}
	carol, err := st.GetUserByUsername(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	carol.ExpiresAt = &past
	if err := st.UpdateUser(ctx, carol); err != nil {
		t.Fatal(err)
	}

	var got admin.UserView
	e.ok(&got, "users", "get", "carol")
	if got.Status != "expired" {
		t.Errorf("users get of a user past expires_at: status %q, want expired", got.Status)
	}
	var list []admin.UserView
	for _, tt := range []struct{ status, want string }{{"expired", "carol"}, {"active", "dan"}} {
		e.ok(&list, "users", "list", "--status", tt.status)
		if u := usernames(list); u != tt.want {
			t.Errorf("users list --status %s = %q, want %q", tt.status, u, tt.want)
		}
		for _, v := range list {
			if v.Status != tt.status {
				t.Errorf("users list --status %s printed %s as %s", tt.status, v.Username, v.Status)
			}
		}
	}
	e.fails([]string{"status", "expired"}, "users", "list", "--status", "gone")
}
