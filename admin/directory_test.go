package admin_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// TestListItemEqualsSingleView: a user in a list is shown exactly as GET
// /users/{id} shows it, effective roles included (they come from the
// user's own roles, its groups' roles and the hierarchy).
func TestListItemEqualsSingleView(t *testing.T) {
	for name, newEnv := range map[string]func(*testing.T) *env{"memory": newMemoryEnv, "postgres": newPostgresEnv} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.signIn(t, e.createUser(t, "admin"))
			u := e.createUser(t, "viewer")
			other := e.createUser(t)
			grp := e.do(t, http.MethodPost, "/groups", tok, map[string]any{"name": "desk", "roles": []string{"manager"}})
			want(t, grp, http.StatusCreated, "POST /groups")
			for _, id := range []string{u.ID, other.ID} {
				want(t, e.do(t, http.MethodPut, "/groups/"+grp.str("id")+"/members/"+id, tok, nil), http.StatusNoContent, "add member")
			}

			single := e.do(t, http.MethodGet, "/users/"+u.ID, tok, nil)
			want(t, single, http.StatusOK, "GET /users/{id}")
			var one map[string]any
			single.decode(t, &one)
			roles, _ := json.Marshal(one["effective_roles"])
			if string(roles) != `["manager","user","viewer"]` {
				t.Errorf("single view effective_roles %s, want [manager user viewer]", roles)
			}

			list := e.do(t, http.MethodGet, "/users?group=desk", tok, nil)
			want(t, list, http.StatusOK, "GET /users?group=desk")
			var l struct {
				Items []map[string]any `json:"items"`
			}
			list.decode(t, &l)
			if len(l.Items) != 2 {
				t.Fatalf("group desk lists %d users, want 2: %s", len(l.Items), list.Raw)
			}
			for _, it := range l.Items {
				if it["id"] != u.ID {
					continue
				}
				if !reflect.DeepEqual(it, one) {
					t.Errorf("list item differs from the single view:\nlist   %v\nsingle %v", it, one)
				}
				return
			}
			t.Fatalf("user %s not in the list %s", u.ID, list.Raw)
		})
	}
}
