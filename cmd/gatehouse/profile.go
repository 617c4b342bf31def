package main

import (
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/domain"
)

// Profile fields and the break-glass flag on users create and users
// update. The domain validates them (domain/profile.go); the CLI acts as
// an administrator, so it may set phone_number_verified and break_glass.

type profileFlags struct {
	phone, givenName, familyName, locale, zoneinfo, picture string
	phoneVerified, breakGlass                               bool
}

// register adds the flags; update says "new" and how to clear.
func (f *profileFlags) register(cmd *cobra.Command, update bool) {
	fl := cmd.Flags()
	clear := ""
	if update {
		clear = ` ("" to remove)`
	}
	fl.StringVar(&f.phone, "phone-number", "", "phone number in E.164 form, e.g. +14155550123"+clear)
	fl.BoolVar(&f.phoneVerified, "phone-number-verified", false, "mark the phone number verified (a new number is unverified unless this is given)")
	fl.StringVar(&f.givenName, "given-name", "", "given (first) name"+clear)
	fl.StringVar(&f.familyName, "family-name", "", "family (last) name"+clear)
	fl.StringVar(&f.locale, "locale", "", "BCP 47 language tag, e.g. en-US"+clear)
	fl.StringVar(&f.zoneinfo, "zoneinfo", "", "IANA time zone, e.g. Europe/Paris"+clear)
	fl.StringVar(&f.picture, "picture", "", "https URL of a picture"+clear)
	fl.BoolVar(&f.breakGlass, "break-glass", false,
		"emergency account: signs in without the MFA enrolment its roles demand, for sessions of at most an hour; every admin is mailed (--break-glass=false to unmark)")
}

func (f profileFlags) create(nu *domain.NewUser) {
	nu.PhoneNumber, nu.PhoneNumberVerified = f.phone, f.phoneVerified
	nu.GivenName, nu.FamilyName = f.givenName, f.familyName
	nu.Locale, nu.Zoneinfo, nu.Picture = f.locale, f.zoneinfo, f.picture
	nu.BreakGlass = f.breakGlass
}

// patch sets the fields of p whose flags were given.
func (f *profileFlags) patch(cmd *cobra.Command, p *domain.UserPatch) {
	changed := cmd.Flags().Changed
	for _, s := range []struct {
		flag string
		v    *string
		to   **string
	}{
		{"phone-number", &f.phone, &p.PhoneNumber},
		{"given-name", &f.givenName, &p.GivenName},
		{"family-name", &f.familyName, &p.FamilyName},
		{"locale", &f.locale, &p.Locale},
		{"zoneinfo", &f.zoneinfo, &p.Zoneinfo},
		{"picture", &f.picture, &p.Picture},
	} {
		if changed(s.flag) {
			*s.to = s.v
		}
	}
	if changed("phone-number-verified") {
		p.PhoneNumberVerified = &f.phoneVerified
	}
	if changed("break-glass") {
		p.BreakGlass = &f.breakGlass
	}
}
