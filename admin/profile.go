package admin

import "github.com/gatehouse/gatehouse/domain"

// Profile fields and the break-glass flag on the user routes. The domain
// validates them (domain/profile.go); here they are only read.

// profileInput is the profile part of the body of POST /users.
type profileInput struct {
	PhoneNumber         string `json:"phone_number"`
	PhoneNumberVerified bool   `json:"phone_number_verified"`
	GivenName           string `json:"given_name"`
	FamilyName          string `json:"family_name"`
	Locale              string `json:"locale"`
	Zoneinfo            string `json:"zoneinfo"`
	Picture             string `json:"picture"`
	BreakGlass          bool   `json:"break_glass"`
}

func (in profileInput) apply(nu *domain.NewUser) {
	nu.PhoneNumber, nu.PhoneNumberVerified = in.PhoneNumber, in.PhoneNumberVerified
	nu.GivenName, nu.FamilyName = in.GivenName, in.FamilyName
	nu.Locale, nu.Zoneinfo, nu.Picture = in.Locale, in.Zoneinfo, in.Picture
	nu.BreakGlass = in.BreakGlass
}

// profile reads the profile members of a user patch; null clears a text
// field. Only an administrator's patch (admin) may carry
// phone_number_verified and break_glass: a person's own patch lists them
// as read-only, and its new phone number is unverified.
func (f *fieldPatcher) profile(up *domain.UserPatch, admin bool) {
	up.PhoneNumber = f.str("phone_number", true)
	up.GivenName = f.str("given_name", true)
	up.FamilyName = f.str("family_name", true)
	up.Locale = f.str("locale", true)
	up.Zoneinfo = f.str("zoneinfo", true)
	up.Picture = f.str("picture", true)
	if admin {
		up.PhoneNumberVerified = f.boolean("phone_number_verified")
		up.BreakGlass = f.boolean("break_glass")
	}
}
