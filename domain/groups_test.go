package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestCreateGroupValidation(t *testing.T) {
	tests := []struct {
		name string
		in   domain.NewGroup
		want []string
	}{
		{"valid", domain.NewGroup{Name: "Trading desk", Description: "Front office", Roles: []string{"user"}}, nil},
		{"name missing", domain.NewGroup{Name: "  "}, []string{"name"}},
		{"name too long", domain.NewGroup{Name: strings.Repeat("g", 101)}, []string{"name"}},
		{"name with newline", domain.NewGroup{Name: "a\nb"}, []string{"name"}},
		{"description too long", domain.NewGroup{Name: "g", Description: strings.Repeat("d", 501)}, []string{"description"}},
		{"unknown role", domain.NewGroup{Name: "g", Roles: []string{"wizard"}}, []string{"roles"}},
		{"every problem", domain.NewGroup{Description: strings.Repeat("d", 501), Roles: []string{"wizard"}}, []string{"name", "description", "roles"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			g, err := e.svc.CreateGroup(e.ctx, admin, tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if g.ID == "" || g.Name != tc.in.Name {
					t.Fatalf("group = %+v", g)
				}
				return
			}
			if f := fieldsOf(t, err); !slices.Equal(f, tc.want) {
				t.Fatalf("fields = %v, want %v", f, tc.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "viewer")
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "desk", Roles: []string{"user"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "desk"})
	wantErr(t, err, store.ErrConflict)

	before := e.lastID()
	for range 2 {
		if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.since(before)); n != 1 {
		t.Fatalf("adding a member twice left %d entries, want 1", n)
	}
	_, members, err := e.svc.GetGroup(e.ctx, g.ID)
	if err != nil || !slices.Equal(members, []string{u.ID}) {
		t.Fatalf("members = %v, %v", members, err)
	}
	if p := e.principal(u); !p.Can(store.PermTokensSelf) {
		t.Fatal("the group's role does not reach its member")
	}
	wantErr(t, e.svc.AddGroupMember(e.ctx, admin, g.ID, "00000000-0000-0000-0000-000000000001"), store.ErrNotFound)

	got, err := e.svc.UpdateGroup(e.ctx, admin, g.ID, domain.GroupPatch{Roles: ptr([]string{"manager"})})
	if err != nil || !slices.Equal(got.Roles, []string{"manager"}) {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if p := e.principal(u); !p.Can(store.PermUsersRead) {
		t.Fatal("a changed group role does not reach its member")
	}

	if err := e.svc.RemoveGroupMember(e.ctx, admin, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.RemoveGroupMember(e.ctx, admin, g.ID, u.ID), store.ErrNotFound)
	if err := e.svc.DeleteGroup(e.ctx, admin, g.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.GetGroup(e.ctx, g.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, e.svc.DeleteGroup(e.ctx, admin, g.ID), store.ErrNotFound)
}
