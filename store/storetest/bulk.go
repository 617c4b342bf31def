package storetest

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var bulkUserTests = []subtest{
	{"LookupUsers", testLookupUsers},
	{"PutUsersCreateAndUpdate", testPutUsers},
	{"PutUsersAllOrNothing", testPutUsersAllOrNothing},
}

func testLookupUsers(f *fixture) {
	a, b, c := f.createUser(), f.createUser(), f.createUser()
	got, err := f.s.LookupUsers(f.ctx, []string{strings.ToUpper(a.Username), "nobody-here"},
		[]string{strings.ToUpper(b.Email), a.Email, "nobody@example.com"})
	f.must(err, "LookupUsers")
	slices.SortFunc(got, func(x, y store.User) int { return strings.Compare(x.Username, y.Username) })
	want := []store.User{a, b}
	slices.SortFunc(want, func(x, y store.User) int { return strings.Compare(x.Username, y.Username) })
	if len(got) != 2 {
		f.t.Fatalf("LookupUsers: got %d users, want 2 (a by username and email once, b by email; never %s)", len(got), c.Username)
	}
	for i := range want {
		want[i].Email = strings.ToLower(want[i].Email)
	}
	for i := range got {
		got[i].Email = strings.ToLower(got[i].Email)
	}
	f.equal("LookupUsers", got, want)
	none, err := f.s.LookupUsers(f.ctx, nil, nil)
	f.must(err, "LookupUsers of nothing")
	if len(none) != 0 {
		f.t.Errorf("LookupUsers of nothing: %d users", len(none))
	}
}

func testPutUsers(f *fixture) {
	g1, g2 := f.createGroup("bulk-one", "viewer"), f.createGroup("bulk-two")
	old := f.createUser()
	f.must(f.iam.AddGroupMember(f.ctx, g1.ID, old.ID), "AddGroupMember")

	fresh := f.newUser()
	fresh.Roles = []string{"viewer", "user"}
	fresh.IPAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	fresh.Goals = nil
	changed := old
	changed.Username = old.Username + "-b"
	changed.Email = "bulk." + old.Email
	changed.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
	changed.Roles = []string{"admin"}
	changed.CreatedAt = f.at(-1000 * time.Hour) // kept from the stored user
	changed.UpdatedAt = f.now
	f.must(f.s.PutUsers(f.ctx, []store.BulkUser{
		{User: fresh, Groups: []string{g2.ID, g1.ID}},
		{User: changed, Groups: []string{g2.ID}},
	}), "PutUsers")

	want := fresh
	want.Roles = []string{"user", "viewer"}
	got, err := f.s.GetUser(f.ctx, fresh.ID)
	f.must(err, "GetUser created")
	f.equal("created by PutUsers", got, want)
	want = changed
	want.CreatedAt = old.CreatedAt
	got, err = f.s.GetUser(f.ctx, old.ID)
	f.must(err, "GetUser updated")
	f.equal("updated by PutUsers", got, want)
	_, err = f.s.GetUserByUsername(f.ctx, old.Username)
	f.wantErr(err, store.ErrNotFound, "old username after PutUsers")

	groups, err := f.iam.GroupsOfUsers(f.ctx, []string{fresh.ID, old.ID})
	f.must(err, "GroupsOfUsers")
	names := func(gs []store.Group) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
		}
		return out
	}
	f.equal("groups of the created user", names(groups[fresh.ID]), []string{"bulk-one", "bulk-two"})
	f.equal("groups of the updated user", names(groups[old.ID]), []string{"bulk-two"})

	// Groups nil leaves memberships alone; the same users again change nothing.
	f.must(f.s.PutUsers(f.ctx, []store.BulkUser{{User: fresh}}), "PutUsers again")
	groups, err = f.iam.GroupsOfUsers(f.ctx, []string{fresh.ID})
	f.must(err, "GroupsOfUsers")
	f.equal("groups kept", names(groups[fresh.ID]), []string{"bulk-one", "bulk-two"})
	f.must(f.s.PutUsers(f.ctx, nil), "PutUsers of nothing")
}

func testPutUsersAllOrNothing(f *fixture) {
	taken := f.createUser()
	g := f.createGroup("bulk-g")
	good := f.newUser()
	cases := []struct {
		name string
		bad  store.BulkUser
		want error
	}{
		{"username taken", store.BulkUser{User: func() store.User {
			u := f.newUser()
			u.Username = strings.ToUpper(taken.Username)
			return u
		}()}, store.ErrConflict},
		{"email taken", store.BulkUser{User: func() store.User {
			u := f.newUser()
			u.Email = taken.Email
			return u
		}()}, store.ErrConflict},
		{"same username twice in the batch", store.BulkUser{User: func() store.User {
			u := f.newUser()
			u.Username = good.Username
			return u
		}()}, store.ErrConflict},
		{"unknown role", store.BulkUser{User: func() store.User {
			u := f.newUser()
			u.Roles = []string{"no-such-role"}
			return u
		}()}, store.ErrNotFound},
		{"unknown group", store.BulkUser{User: f.newUser(), Groups: []string{g.ID, uuid.NewString()}}, store.ErrNotFound},
	}
	for _, c := range cases {
		err := f.s.PutUsers(f.ctx, []store.BulkUser{{User: good, Groups: []string{g.ID}}, c.bad})
		f.wantErr(err, c.want, "PutUsers with %s", c.name)
		_, err = f.s.GetUser(f.ctx, good.ID)
		f.wantErr(err, store.ErrNotFound, "%s: the good user of the refused batch", c.name)
		members, err := f.iam.ListGroupMembers(f.ctx, g.ID)
		f.must(err, "ListGroupMembers")
		if len(members) != 0 {
			f.t.Errorf("%s: members left behind: %v", c.name, members)
		}
	}
}
