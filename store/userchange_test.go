package store_test

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// UserAccessChanged is true for every field a cached API principal reads
// and false for every other: a profile, email or password edit is not
// announced, a lock, a role, a deny or an IP rule is.
func TestUserAccessChanged(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	base := store.User{
		ID: "u1", Username: "alice", Email: "alice@example.com", PasswordHash: "h1", FullName: "Alice",
		Status: store.StatusActive, Roles: []string{"manager", "viewer"},
		RoleExpiry:        map[string]time.Time{"manager": exp},
		DeniedPermissions: []string{"users:delete"},
		IPAllow:           []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		ExpiresAt:         &exp,
		Preferences:       json.RawMessage(`{}`),
	}
	clone := func(u store.User) store.User {
		u.Roles = append([]string(nil), u.Roles...)
		u.DeniedPermissions = append([]string(nil), u.DeniedPermissions...)
		u.IPAllow = append([]netip.Prefix(nil), u.IPAllow...)
		m := map[string]time.Time{}
		for k, v := range u.RoleExpiry {
			m[k] = v
		}
		u.RoleExpiry = m
		return u
	}
	later := exp.Add(time.Hour)
	now := time.Now()
	tests := []struct {
		name   string
		edit   func(*store.User)
		change bool
	}{
		{"nothing", func(*store.User) {}, false},
		{"full name", func(u *store.User) { u.FullName, u.GivenName, u.FamilyName = "Alicia", "Alicia", "B" }, false},
		{"phone, locale, zoneinfo, picture", func(u *store.User) {
			u.PhoneNumber, u.PhoneNumberVerified, u.Locale, u.Zoneinfo, u.Picture = "+4915112345678", true, "de", "Europe/Berlin", "https://img.example/a.png"
		}, false},
		{"department, goals, preferences", func(u *store.User) {
			u.Department, u.Goals, u.Preferences = "ops", []string{"ship"}, json.RawMessage(`{"theme":"dark"}`)
		}, false},
		{"username and email", func(u *store.User) { u.Username, u.Email, u.EmailVerified = "alicia", "alicia@example.com", true }, false},
		{"password", func(u *store.User) { u.PasswordHash = "h2" }, false},
		{"sign-in bookkeeping", func(u *store.User) {
			u.LastLoginAt, u.FailedLogins, u.LockedUntil, u.UpdatedAt = &now, 3, &later, now
		}, false},
		{"session limit, break glass, external id", func(u *store.User) {
			n := 2
			u.SessionLimit, u.BreakGlass, u.ExternalID = &n, true, "ext-1"
		}, false},
		{"same roles in another order", func(u *store.User) { u.Roles = []string{"viewer", "manager", "viewer"} }, false},
		{"same expiry below the microsecond", func(u *store.User) {
			u.RoleExpiry["manager"] = exp.Add(500 * time.Nanosecond)
			e := exp.Add(999 * time.Nanosecond)
			u.ExpiresAt = &e
		}, false},
		{"locked", func(u *store.User) { u.Status = store.StatusLocked }, true},
		{"disabled", func(u *store.User) { u.Status = store.StatusDisabled }, true},
		{"pending", func(u *store.User) { u.Status = store.StatusPending }, true},
		{"account expiry moved", func(u *store.User) { u.ExpiresAt = &later }, true},
		{"account expiry cleared", func(u *store.User) { u.ExpiresAt = nil }, true},
		{"role added", func(u *store.User) { u.Roles = append(u.Roles, "admin") }, true},
		{"role taken away", func(u *store.User) { u.Roles = []string{"viewer"} }, true},
		{"role's expiry moved", func(u *store.User) { u.RoleExpiry["manager"] = later }, true},
		{"role no longer time-boxed", func(u *store.User) { delete(u.RoleExpiry, "manager") }, true},
		{"role time-boxed", func(u *store.User) { u.RoleExpiry["viewer"] = later }, true},
		{"permission denied", func(u *store.User) { u.DeniedPermissions = append(u.DeniedPermissions, "users:roles") }, true},
		{"deny list cleared", func(u *store.User) { u.DeniedPermissions = nil }, true},
		{"allow rule changed", func(u *store.User) { u.IPAllow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} }, true},
		{"deny rule added", func(u *store.User) { u.IPDeny = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")} }, true},
	}
	for _, tc := range tests {
		after := clone(base)
		tc.edit(&after)
		if got := store.UserAccessChanged(base, after); got != tc.change {
			t.Errorf("%s: UserAccessChanged = %v, want %v", tc.name, got, tc.change)
		}
		if got := store.UserAccessChanged(after, base); got != tc.change {
			t.Errorf("%s, undone: UserAccessChanged = %v, want %v", tc.name, got, tc.change)
		}
	}
}
