package domain

import (
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/store"
)

// Profile fields: the OpenID Connect standard claims (Core 5.1) a user
// record carries beyond name and email. This is the one place they are
// validated; the API, the CLI and the account pages all come through
// CreateUser and UpdateUser.

const (
	// maxLocaleLength bounds a BCP 47 tag as localePattern accepts it
	// (language-script-region is at most 3+1+4+1+3 characters).
	maxLocaleLength = 12
	// maxZoneinfoLength bounds an IANA name (the longest is well under).
	maxZoneinfoLength = 64
	// MaxPictureLength bounds the picture URL: it lands in every ID token
	// with the profile scope.
	MaxPictureLength = 2048
)

// phonePattern is E.164: "+", a country code that does not start with 0,
// and 8 to 15 digits in all.
var phonePattern = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// localePattern is the common subset of BCP 47 that relying parties read:
// a language (2-3 letters), an optional script (4 letters) and an optional
// region (2 letters or 3 digits), joined by "-". Private-use and
// extension subtags are refused: no claim consumer needs them, and each is
// more to get wrong.
var localePattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?$`)

// ValidatePhoneNumber accepts "" (none) or an E.164 number.
func ValidatePhoneNumber(phone string) error {
	if phone != "" && !phonePattern.MatchString(phone) {
		return invalid("phone_number", "must be an E.164 number: '+' and 8-15 digits, the first not 0 (e.g. +14155550123)")
	}
	return nil
}

// ValidateLocale accepts "" (none) or a BCP 47 tag such as en, en-US,
// zh-Hant-TW or es-419.
func ValidateLocale(locale string) error {
	if locale != "" && (len(locale) > maxLocaleLength || !localePattern.MatchString(locale)) {
		return invalid("locale", "must be a BCP 47 language tag such as en, en-US or zh-Hant-TW")
	}
	return nil
}

// ValidateZoneinfo accepts "" (none) or an IANA time zone name the server
// knows (time.LoadLocation). "Local" is the server's own zone, not a name.
func ValidateZoneinfo(zone string) error {
	if zone == "" {
		return nil
	}
	bad := invalid("zoneinfo", "must be an IANA time zone name such as Europe/Paris")
	if len(zone) > maxZoneinfoLength || zone == "Local" || strings.ContainsAny(zone, "\\ ") || strings.HasPrefix(zone, "/") {
		return bad
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return bad
	}
	return nil
}

// ValidatePicture accepts "" (none) or an absolute https URL with a host
// and no user information, of at most MaxPictureLength bytes: the relying
// party fetches it, so it must not be a plain-text or a local link.
func ValidatePicture(picture string) error {
	if picture == "" {
		return nil
	}
	if len(picture) > MaxPictureLength {
		return invalid("picture", "must be at most %d characters", MaxPictureLength)
	}
	u, err := url.Parse(picture)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || !utf8.ValidString(picture) ||
		strings.ContainsAny(picture, " \t\r\n") {
		return invalid("picture", "must be an https URL")
	}
	return nil
}

// DisplayName is the user's name as the name claim gives it: the full
// name, or else the given and family names joined by a space ("" if
// neither is set).
func DisplayName(u store.User) string {
	if u.FullName != "" {
		return u.FullName
	}
	return strings.TrimSpace(u.GivenName + " " + u.FamilyName)
}

// profileInput is the profile part of NewUser and UserPatch, validated in
// one place.
type profileInput struct {
	PhoneNumber         *string
	PhoneNumberVerified *bool
	GivenName           *string
	FamilyName          *string
	Locale              *string
	Zoneinfo            *string
	Picture             *string
	BreakGlass          *bool
}

// applyProfile validates and applies in to u. A changed phone number is
// unverified unless in sets PhoneNumberVerified too: the proof was for the
// old number (only administrators can set it; a user editing its own
// number so loses the mark).
func (v *problems) applyProfile(u *store.User, in profileInput) {
	if in.PhoneNumber != nil {
		phone := strings.TrimSpace(*in.PhoneNumber)
		v.addErr(ValidatePhoneNumber(phone))
		if phone != u.PhoneNumber {
			u.PhoneNumberVerified = false
		}
		u.PhoneNumber = phone
	}
	if in.PhoneNumberVerified != nil {
		u.PhoneNumberVerified = *in.PhoneNumberVerified
	}
	if u.PhoneNumberVerified && u.PhoneNumber == "" {
		v.add("phone_number_verified", "needs a phone_number")
	}
	if in.GivenName != nil {
		u.GivenName = v.checkText("given_name", *in.GivenName, maxTextLength, true)
	}
	if in.FamilyName != nil {
		u.FamilyName = v.checkText("family_name", *in.FamilyName, maxTextLength, true)
	}
	if in.Locale != nil {
		u.Locale = strings.TrimSpace(*in.Locale)
		v.addErr(ValidateLocale(u.Locale))
	}
	if in.Zoneinfo != nil {
		u.Zoneinfo = strings.TrimSpace(*in.Zoneinfo)
		v.addErr(ValidateZoneinfo(u.Zoneinfo))
	}
	if in.Picture != nil {
		u.Picture = strings.TrimSpace(*in.Picture)
		v.addErr(ValidatePicture(u.Picture))
	}
	if in.BreakGlass != nil {
		u.BreakGlass = *in.BreakGlass
	}
}

// profileFields are the audited profile fields, added to userFields'.
func profileFields(u store.User, f fields) fields {
	f["phone_number"] = u.PhoneNumber
	f["phone_number_verified"] = u.PhoneNumberVerified
	f["given_name"] = u.GivenName
	f["family_name"] = u.FamilyName
	f["locale"] = u.Locale
	f["zoneinfo"] = u.Zoneinfo
	f["picture"] = u.Picture
	f["break_glass"] = u.BreakGlass
	return f
}
