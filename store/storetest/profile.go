package storetest

import "github.com/gatehouse/gatehouse/store"

// Profile fields and break-glass accounts (users table).

var profileTests = []subtest{
	{"RoundTrip", testProfileRoundTrip},
	{"InListAndLoginFailure", testProfileInListAndLoginFailure},
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
