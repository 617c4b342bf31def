package storetest

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var areaTests = []subtest{
	{"CreateGet", testAreaCreateGet},
	{"CycleRefused", testAreaCycleRefused},
	{"MoveSubtree", testAreaMoveSubtree},
	{"ConcurrentMovesMakeNoCycle", testAreaConcurrentMoves},
	{"Delete", testAreaDelete},
	{"Members", testAreaMembers},
	{"ListUsersByArea", testListUsersByArea},
	{"RoleGrants", testAreaRoleGrants},
}

func (f *fixture) createArea(code, parentID string) store.Area {
	f.t.Helper()
	a := store.Area{ID: uuid.NewString(), Code: code, Name: strings.ToUpper(code), ParentID: parentID,
		CreatedAt: f.at(-time.Hour), UpdatedAt: f.at(-time.Hour)}
	f.must(f.s.CreateArea(f.ctx, a), "CreateArea %s", code)
	return a
}

// codes returns the areas' codes in order.
func codes(areas []store.Area) []string {
	out := []string{}
	for _, a := range areas {
		out = append(out, a.Code)
	}
	return out
}

func testAreaCreateGet(f *fixture) {
	emea := f.createArea("emea", "")
	de := f.createArea("emea-de", emea.ID)
	got, err := f.s.GetArea(f.ctx, strings.ToUpper(de.ID))
	f.must(err, "GetArea")
	f.equal("GetArea", got, de)
	got, err = f.s.GetAreaByCode(f.ctx, "emea")
	f.must(err, "GetAreaByCode")
	f.equal("GetAreaByCode", got, emea)

	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		_, err := f.s.GetArea(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetArea %q", id)
	}
	_, err = f.s.GetAreaByCode(f.ctx, "nowhere")
	f.wantErr(err, store.ErrNotFound, "GetAreaByCode of an unknown code")

	dup := store.Area{ID: uuid.NewString(), Code: "emea", Name: "again", CreatedAt: f.now, UpdatedAt: f.now}
	f.wantErr(f.s.CreateArea(f.ctx, dup), store.ErrConflict, "CreateArea with a taken code")
	dup.Code, dup.ID = "other", emea.ID
	f.wantErr(f.s.CreateArea(f.ctx, dup), store.ErrConflict, "CreateArea with a taken id")
	dup.ID, dup.ParentID = uuid.NewString(), uuid.NewString()
	f.wantErr(f.s.CreateArea(f.ctx, dup), store.ErrNotFound, "CreateArea under an unknown parent")

	all, err := f.s.ListAreas(f.ctx)
	f.must(err, "ListAreas")
	f.equal("ListAreas", codes(all), []string{"emea", "emea-de"})
}

func testAreaCycleRefused(f *fixture) {
	emea := f.createArea("emea", "")
	de := f.createArea("de", emea.ID)
	berlin := f.createArea("berlin", de.ID)
	for _, parent := range []store.Area{emea, de, berlin} {
		move := emea
		move.ParentID = parent.ID
		f.wantErr(f.s.UpdateArea(f.ctx, move), store.ErrConflict, "moving emea under %s", parent.Code)
	}
	got, err := f.s.GetArea(f.ctx, emea.ID)
	f.must(err, "GetArea")
	f.equal("emea after the refused moves", got, emea)
	move := de
	move.ParentID = uuid.NewString()
	f.wantErr(f.s.UpdateArea(f.ctx, move), store.ErrNotFound, "moving under an unknown parent")
	move.ID = uuid.NewString()
	move.ParentID = ""
	f.wantErr(f.s.UpdateArea(f.ctx, move), store.ErrNotFound, "UpdateArea of an unknown area")
}

func testAreaMoveSubtree(f *fixture) {
	emea := f.createArea("emea", "")
	apac := f.createArea("apac", "")
	de := f.createArea("de", emea.ID)
	berlin := f.createArea("berlin", de.ID)
	f.createArea("fr", emea.ID)

	sub, err := f.s.ListSubtree(f.ctx, emea.ID)
	f.must(err, "ListSubtree")
	f.equal("emea's subtree", codes(sub), []string{"berlin", "de", "emea", "fr"})

	// One write moves de and everything below it.
	move := de
	move.ParentID, move.Name, move.UpdatedAt = apac.ID, "Germany", f.now
	f.must(f.s.UpdateArea(f.ctx, move), "moving de under apac")
	got, err := f.s.GetArea(f.ctx, de.ID)
	f.must(err, "GetArea")
	f.equal("de after the move", got, move)
	sub, err = f.s.ListSubtree(f.ctx, apac.ID)
	f.must(err, "ListSubtree")
	f.equal("apac's subtree after the move", codes(sub), []string{"apac", "berlin", "de"})
	sub, err = f.s.ListSubtree(f.ctx, emea.ID)
	f.must(err, "ListSubtree")
	f.equal("emea's subtree after the move", codes(sub), []string{"emea", "fr"})
	sub, err = f.s.ListSubtree(f.ctx, berlin.ID)
	f.must(err, "ListSubtree")
	f.equal("a leaf's subtree", codes(sub), []string{"berlin"})
	_, err = f.s.ListSubtree(f.ctx, uuid.NewString())
	f.wantErr(err, store.ErrNotFound, "ListSubtree of an unknown area")

	// Back to a root.
	move.ParentID = ""
	f.must(f.s.UpdateArea(f.ctx, move), "making de a root")
	got, err = f.s.GetArea(f.ctx, de.ID)
	f.must(err, "GetArea")
	if got.ParentID != "" {
		f.t.Errorf("de's parent = %q, want none", got.ParentID)
	}
}

// testAreaConcurrentMoves: a under b in one transaction, b under a in
// another, each acyclic alone: the second must see the first's commit and
// be refused, never both succeed.
func testAreaConcurrentMoves(f *fixture) {
	a, b := f.createArea("a", ""), f.createArea("b", "")
	first, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	defer f.s.Rollback(first)
	moveA := a
	moveA.ParentID = b.ID
	f.must(f.s.UpdateArea(first, moveA), "moving a under b")

	ctx, cancel := context.WithTimeout(f.ctx, concurrentDeadline)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- store.InTx(ctx, f.s, func(ctx context.Context) error {
			moveB := b
			moveB.ParentID = a.ID
			return f.s.UpdateArea(ctx, moveB)
		})
	}()
	// Long enough for a backend without ordering to have written; with it
	// the second move waits for the first transaction.
	select {
	case err := <-done:
		f.t.Fatalf("the second move returned (%v) while the first transaction was open", err)
	case <-time.After(5 * holdWindow):
	}
	f.must(f.s.Commit(first), "Commit")
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrConflict) {
			f.t.Errorf("the second move: %v, want ErrConflict (a cycle)", err)
		}
	case <-ctx.Done():
		f.t.Fatal("the second move still waits after the first committed")
	}
	got, err := f.s.GetArea(f.ctx, b.ID)
	f.must(err, "GetArea")
	if got.ParentID != "" {
		f.t.Errorf("b's parent = %q, want none: the refused move changed it", got.ParentID)
	}
}

func testAreaDelete(f *fixture) {
	emea := f.createArea("emea", "")
	de := f.createArea("de", emea.ID)
	f.wantErr(f.s.DeleteArea(f.ctx, emea.ID), store.ErrConflict, "DeleteArea with a child")
	u := f.createUser()
	f.must(f.s.AddAreaMember(f.ctx, de.ID, u.ID), "AddAreaMember")
	f.wantErr(f.s.DeleteArea(f.ctx, de.ID), store.ErrConflict, "DeleteArea with a member")
	f.must(f.s.RemoveAreaMember(f.ctx, de.ID, u.ID), "RemoveAreaMember")
	f.must(f.s.GrantAreaRole(f.ctx, store.AreaRoleGrant{UserID: u.ID, Role: "manager", AreaID: de.ID, CreatedAt: f.now}), "GrantAreaRole")
	f.wantErr(f.s.DeleteArea(f.ctx, de.ID), store.ErrConflict, "DeleteArea with a role grant")
	f.must(f.s.RevokeAreaRole(f.ctx, u.ID, "manager", de.ID), "RevokeAreaRole")
	f.must(f.s.DeleteArea(f.ctx, de.ID), "DeleteArea of a bare leaf")
	f.must(f.s.DeleteArea(f.ctx, emea.ID), "DeleteArea after its child went")
	f.wantErr(f.s.DeleteArea(f.ctx, emea.ID), store.ErrNotFound, "DeleteArea again")
	_, err := f.s.GetAreaByCode(f.ctx, "emea")
	f.wantErr(err, store.ErrNotFound, "GetAreaByCode after delete")
	// The code is free again.
	f.createArea("emea", "")
}

func testAreaMembers(f *fixture) {
	emea, apac := f.createArea("emea", ""), f.createArea("apac", "")
	u, v := f.createUser(), f.createUser()
	f.must(f.s.AddAreaMember(f.ctx, emea.ID, u.ID), "AddAreaMember")
	f.must(f.s.AddAreaMember(f.ctx, emea.ID, u.ID), "AddAreaMember again")
	f.must(f.s.AddAreaMember(f.ctx, apac.ID, u.ID), "AddAreaMember")
	f.wantErr(f.s.AddAreaMember(f.ctx, uuid.NewString(), u.ID), store.ErrNotFound, "AddAreaMember of an unknown area")
	f.wantErr(f.s.AddAreaMember(f.ctx, emea.ID, uuid.NewString()), store.ErrNotFound, "AddAreaMember of an unknown user")
	f.wantErr(f.s.SetDefaultArea(f.ctx, v.ID, emea.ID), store.ErrNotFound, "SetDefaultArea of a non-member")
	f.must(f.s.SetDefaultArea(f.ctx, u.ID, emea.ID), "SetDefaultArea")
	f.must(f.s.SetDefaultArea(f.ctx, u.ID, apac.ID), "SetDefaultArea to another")

	got, err := f.s.AreasOfUsers(f.ctx, []string{u.ID, v.ID, "nope"})
	f.must(err, "AreasOfUsers")
	if _, ok := got[v.ID]; ok || len(got) != 1 {
		f.t.Fatalf("AreasOfUsers = %+v, want only %s", got, u.ID)
	}
	f.equal("u's areas", got[u.ID], store.UserAreas{Areas: []store.Area{apac, emea}, DefaultID: apac.ID})

	// Removing the default area's membership leaves no default.
	f.must(f.s.RemoveAreaMember(f.ctx, apac.ID, u.ID), "RemoveAreaMember")
	f.wantErr(f.s.RemoveAreaMember(f.ctx, apac.ID, u.ID), store.ErrNotFound, "RemoveAreaMember again")
	got, err = f.s.AreasOfUsers(f.ctx, []string{u.ID})
	f.must(err, "AreasOfUsers")
	f.equal("u's areas after the removal", got[u.ID], store.UserAreas{Areas: []store.Area{emea}})
	f.must(f.s.SetDefaultArea(f.ctx, u.ID, emea.ID), "SetDefaultArea")
	f.must(f.s.SetDefaultArea(f.ctx, u.ID, ""), "SetDefaultArea clearing")
	got, err = f.s.AreasOfUsers(f.ctx, []string{u.ID})
	f.must(err, "AreasOfUsers")
	if got[u.ID].DefaultID != "" {
		f.t.Errorf("default after clearing = %q", got[u.ID].DefaultID)
	}
	f.wantErr(f.s.SetDefaultArea(f.ctx, uuid.NewString(), ""), store.ErrNotFound, "SetDefaultArea of an unknown user")

	// Memberships go with the user.
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	f.must(f.s.DeleteArea(f.ctx, emea.ID), "DeleteArea once its member is gone")
}

func testListUsersByArea(f *fixture) {
	emea, apac := f.createArea("emea", ""), f.createArea("apac", "")
	de := f.createArea("de", emea.ID)
	berlin := f.createArea("berlin", de.ID)
	inEmea, inBerlin, inApac, nowhere := f.createUser(), f.createUser(), f.createUser(), f.createUser()
	_ = nowhere
	f.must(f.s.AddAreaMember(f.ctx, emea.ID, inEmea.ID), "AddAreaMember")
	f.must(f.s.AddAreaMember(f.ctx, berlin.ID, inBerlin.ID), "AddAreaMember")
	f.must(f.s.AddAreaMember(f.ctx, apac.ID, inApac.ID), "AddAreaMember")
	// A user in two areas of the subtree is listed once.
	f.must(f.s.AddAreaMember(f.ctx, de.ID, inBerlin.ID), "AddAreaMember")

	ids := func(filter store.UserFilter) []string {
		f.t.Helper()
		users, err := f.s.ListUsers(f.ctx, filter)
		f.must(err, "ListUsers")
		out := []string{}
		for _, u := range users {
			out = append(out, u.ID)
		}
		return out
	}
	sorted := func(us ...store.User) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	byName := func(a, b store.User) (store.User, store.User) {
		if a.Username < b.Username {
			return a, b
		}
		return b, a
	}
	first, second := byName(inEmea, inBerlin)
	f.equal("emea's subtree", ids(store.UserFilter{Area: emea.ID}), sorted(first, second))
	f.equal("de's subtree", ids(store.UserFilter{Area: de.ID}), sorted(inBerlin))
	f.equal("an unknown area", ids(store.UserFilter{Area: uuid.NewString()}), []string{})
	f.equal("within emea and apac", len(ids(store.UserFilter{WithinAreas: []string{emea.ID, apac.ID}})), 3)
	f.equal("within nothing", ids(store.UserFilter{WithinAreas: []string{}}), []string{})
	f.equal("area and reach together", ids(store.UserFilter{Area: emea.ID, WithinAreas: []string{de.ID}}), sorted(inBerlin))
	// The keyset cursor pages through the subtree.
	f.equal("first page", ids(store.UserFilter{Area: emea.ID, Limit: 1}), sorted(first))
	after := first.Key()
	f.equal("second page", ids(store.UserFilter{Area: emea.ID, Limit: 1, After: &after}), sorted(second))
}

func testAreaRoleGrants(f *fixture) {
	emea, apac := f.createArea("emea", ""), f.createArea("apac", "")
	u := f.createUser()
	g := store.AreaRoleGrant{UserID: u.ID, Role: "manager", AreaID: emea.ID, CreatedAt: f.now}
	f.must(f.s.GrantAreaRole(f.ctx, g), "GrantAreaRole")
	f.must(f.s.GrantAreaRole(f.ctx, g), "GrantAreaRole again")
	h := store.AreaRoleGrant{UserID: u.ID, Role: "viewer", AreaID: apac.ID, CreatedAt: f.now}
	f.must(f.s.GrantAreaRole(f.ctx, h), "GrantAreaRole")
	for name, bad := range map[string]store.AreaRoleGrant{
		"unknown role": {UserID: u.ID, Role: "no-such-role", AreaID: emea.ID, CreatedAt: f.now},
		"unknown area": {UserID: u.ID, Role: "manager", AreaID: uuid.NewString(), CreatedAt: f.now},
		"unknown user": {UserID: uuid.NewString(), Role: "manager", AreaID: emea.ID, CreatedAt: f.now},
	} {
		f.wantErr(f.s.GrantAreaRole(f.ctx, bad), store.ErrNotFound, "GrantAreaRole with an %s", name)
	}
	got, err := f.s.ListAreaRoleGrants(f.ctx, u.ID)
	f.must(err, "ListAreaRoleGrants")
	want := []store.AreaRoleGrant{g, h}
	if strings.Compare(apac.ID, emea.ID) < 0 {
		want = []store.AreaRoleGrant{h, g}
	}
	f.equal("grants", got, want)
	// A role granted within an area is in use.
	r := f.newRole("regional", "")
	f.must(f.s.CreateRole(f.ctx, r), "CreateRole")
	f.must(f.s.GrantAreaRole(f.ctx, store.AreaRoleGrant{UserID: u.ID, Role: "regional", AreaID: emea.ID, CreatedAt: f.now}), "GrantAreaRole")
	f.wantErr(f.s.DeleteRole(f.ctx, "regional"), store.ErrConflict, "DeleteRole of a role granted within an area")

	f.must(f.s.RevokeAreaRole(f.ctx, u.ID, "manager", emea.ID), "RevokeAreaRole")
	f.wantErr(f.s.RevokeAreaRole(f.ctx, u.ID, "manager", emea.ID), store.ErrNotFound, "RevokeAreaRole again")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	got, err = f.s.ListAreaRoleGrants(f.ctx, u.ID)
	f.must(err, "ListAreaRoleGrants")
	f.equal("grants of a deleted user", got, []store.AreaRoleGrant{})
}
