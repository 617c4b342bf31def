package storetest

import "github.com/gatehouse/gatehouse/store"

// Profile fields and break-glass accounts (users table).

var profileTests = []subtest{
	{"RoundTrip", testProfileRoundTrip},
	{"InListAndLoginFailure", testProfileInListAndLoginFailure},
	// SCIM 2.0 provisioning.
	{"ExternalID", testExternalIDRoundTrip},
	{"GroupExternalID", testGroupExternalIDRoundTrip},
}

// testProfileRoundTrip writes every profile field and the break-glass flag
// on create and on update, reads them back by id, username and email, and
// clears them again.
func testProfileRoundTrip(f *fixture) {
	u := f.newUser()
	u.PhoneNumber, u.PhoneNumberVerified = "+14155550123", true
	u.GivenName, u.FamilyName = "Grace", "Hopper"
	u.Locale, u.Zoneinfo = "en-US", "America/New_York"
	u.Picture = "https://example.com/grace.png"
	u.BreakGlass = true
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	want := u
	want.Roles = []string{"user"}
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user with profile fields", got, want)
	got, err = f.s.GetUserByUsername(f.ctx, u.Username)
	f.must(err, "GetUserByUsername")
	f.equal("user with profile fields by username", got, want)
	got, err = f.s.GetUserByEmail(f.ctx, u.Email)
	f.must(err, "GetUserByEmail")
	f.equal("user with profile fields by email", got, want)

	upd := got
	upd.PhoneNumber, upd.PhoneNumberVerified = "+442079460000", false
	upd.GivenName, upd.FamilyName = "Ada", "Lovelace"
	upd.Locale, upd.Zoneinfo, upd.Picture = "fr-CA", "Europe/Paris", "https://example.org/a.jpg"
	upd.BreakGlass = false
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after update")
	f.equal("user with updated profile fields", got, upd)

	upd.PhoneNumber, upd.GivenName, upd.FamilyName, upd.Locale, upd.Zoneinfo, upd.Picture = "", "", "", "", "", ""
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser clearing")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after clearing")
	f.equal("user with cleared profile fields", got, upd)
}

// testProfileInListAndLoginFailure: the list and the failure counter read
// the new columns too.
func testProfileInListAndLoginFailure(f *fixture) {
	u := f.newUser()
	u.PhoneNumber, u.GivenName, u.BreakGlass = "+4930123456789", "Konrad", true
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	users, err := f.s.ListUsers(f.ctx, store.UserFilter{Query: u.Username, Now: f.now})
	f.must(err, "ListUsers")
	if len(users) != 1 || users[0].PhoneNumber != u.PhoneNumber || users[0].GivenName != "Konrad" || !users[0].BreakGlass {
		f.t.Fatalf("ListUsers = %+v, want the user with its profile fields", users)
	}
	after, err := f.s.RecordLoginFailure(f.ctx, u.ID, f.now, 0, 0)
	f.must(err, "RecordLoginFailure")
	if after.PhoneNumber != u.PhoneNumber || !after.BreakGlass {
		f.t.Errorf("RecordLoginFailure returned %+v, want the profile fields", after)
	}
}

// testExternalIDRoundTrip: the SCIM externalId is stored on create, read by
// id, username, email and in lists, replaced on update and cleared; two
// users may share one (it is the client's identifier, not ours).
func testExternalIDRoundTrip(f *fixture) {
	u := f.newUser()
	u.ExternalID = "00u1abcd-Ökta"
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	for name, get := range map[string]func() (store.User, error){
		"GetUser":           func() (store.User, error) { return f.s.GetUser(f.ctx, u.ID) },
		"GetUserByUsername": func() (store.User, error) { return f.s.GetUserByUsername(f.ctx, u.Username) },
		"GetUserByEmail":    func() (store.User, error) { return f.s.GetUserByEmail(f.ctx, u.Email) },
	} {
		got, err := get()
		f.must(err, "%s", name)
		if got.ExternalID != u.ExternalID {
			f.t.Errorf("%s: ExternalID = %q, want %q", name, got.ExternalID, u.ExternalID)
		}
	}
	users, err := f.s.ListUsers(f.ctx, store.UserFilter{Query: u.Username, Now: f.now})
	f.must(err, "ListUsers")
	if len(users) != 1 || users[0].ExternalID != u.ExternalID {
		f.t.Fatalf("ListUsers = %+v, want the user with its external id", users)
	}
	twin := f.newUser()
	twin.ExternalID = u.ExternalID
	f.must(f.s.CreateUser(f.ctx, twin), "CreateUser with the same external id")

	upd := users[0]
	upd.ExternalID = "e-2"
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser")
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after update")
	if got.ExternalID != "e-2" {
		f.t.Errorf("ExternalID after update = %q, want e-2", got.ExternalID)
	}
	upd.ExternalID = ""
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser clearing")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after clearing")
	if got.ExternalID != "" {
		f.t.Errorf("ExternalID after clearing = %q, want none", got.ExternalID)
	}
}

// testGroupExternalIDRoundTrip: a group's SCIM externalId is stored on
// create, read by id and with a user's groups, replaced and cleared.
func testGroupExternalIDRoundTrip(f *fixture) {
	g := f.newGroup("scim-pushed", "viewer")
	g.ExternalID = "entra-0f6c"
	f.must(f.iam.CreateGroup(f.ctx, g), "CreateGroup")
	got, err := f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	if got.ExternalID != g.ExternalID {
		f.t.Errorf("GetGroup: ExternalID = %q, want %q", got.ExternalID, g.ExternalID)
	}
	u := f.newUser()
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	f.must(f.iam.AddGroupMember(f.ctx, g.ID, u.ID), "AddGroupMember")
	of, err := f.iam.GroupsOfUsers(f.ctx, []string{u.ID})
	f.must(err, "GroupsOfUsers")
	if len(of[u.ID]) != 1 || of[u.ID][0].ExternalID != g.ExternalID {
		f.t.Errorf("GroupsOfUsers = %+v, want the group with its external id", of)
	}
	got.ExternalID = "e-2"
	f.must(f.iam.UpdateGroup(f.ctx, got), "UpdateGroup")
	if again, _ := f.iam.GetGroup(f.ctx, g.ID); again.ExternalID != "e-2" {
		f.t.Errorf("after update: ExternalID = %q, want e-2", again.ExternalID)
	}
	got.ExternalID = ""
	f.must(f.iam.UpdateGroup(f.ctx, got), "UpdateGroup clearing")
	if again, _ := f.iam.GetGroup(f.ctx, g.ID); again.ExternalID != "" {
		f.t.Errorf("after clearing: ExternalID = %q", again.ExternalID)
	}
}
