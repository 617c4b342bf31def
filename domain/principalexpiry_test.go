package domain_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// PrincipalChangesAt is the earliest future moment at which the clock alone
// changes what the user may do: the account's expiry or a held time-boxed
// grant's, never one already past or a role the user does not hold.
func TestPrincipalChangesAt(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	ptr := func(d time.Duration) *time.Time { v := at(d); return &v }
	for _, tc := range []struct {
		name string
		user store.User
		want time.Time
	}{
		{"nothing time-boxed", store.User{Roles: []string{"user"}}, time.Time{}},
		{"account expiry", store.User{Roles: []string{"user"}, ExpiresAt: ptr(3 * time.Hour)}, at(3 * time.Hour)},
		{"earliest grant", store.User{Roles: []string{"user", "manager", "admin"},
			RoleExpiry: map[string]time.Time{"manager": at(2 * time.Hour), "admin": at(time.Hour)}}, at(time.Hour)},
		{"grant before the account's expiry", store.User{Roles: []string{"manager"}, ExpiresAt: ptr(3 * time.Hour),
			RoleExpiry: map[string]time.Time{"manager": at(2 * time.Hour)}}, at(2 * time.Hour)},
		{"expired grant ignored", store.User{Roles: []string{"manager", "admin"},
			RoleExpiry: map[string]time.Time{"manager": at(-time.Minute), "admin": at(time.Hour)}}, at(time.Hour)},
		{"expiry of a role not held ignored", store.User{Roles: []string{"user"},
			RoleExpiry: map[string]time.Time{"manager": at(time.Minute)}}, time.Time{}},
		{"account already expired", store.User{ExpiresAt: ptr(-time.Hour)}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.PrincipalChangesAt(tc.user, now); !got.Equal(tc.want) {
				t.Errorf("PrincipalChangesAt = %v, want %v", got, tc.want)
			}
		})
	}
}
