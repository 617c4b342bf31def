package domain

import (
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// PrincipalChangesAt is the first moment after now at which the principal
// of u changes by the clock alone, without any write: the expiry of the
// account, or of the earliest of its time-boxed role grants still held.
// The zero time means never. A cache of principals (the resource API's)
// must not serve one past it, whatever its TTL: a grant "until 17:00" is
// gone at 17:00, not when the entry happens to expire.
func PrincipalChangesAt(u store.User, now time.Time) time.Time {
	var at time.Time
	earlier := func(t time.Time) {
		if t.After(now) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if u.ExpiresAt != nil {
		earlier(*u.ExpiresAt)
	}
	for _, r := range u.Roles {
		if exp, boxed := u.RoleExpiry[r]; boxed && RoleHeld(u, r, now) {
			earlier(exp)
		}
	}
	return at
}
