package store

import (
	"maps"
	"slices"
	"time"
)

// UserAccessChanged reports whether replacing before with after changes
// what the user may do, and so must be announced as a ChangeUser event
// (UpdateUser announces nothing otherwise).
//
// Two listener-fed caches read users: the resource API's principal cache
// (admin/principalcache.go), and the introspection cache for the acting
// user of an impersonation token (provider/introcache.go: whether that
// user may still act, domain.ActorMayAct, which reads Status and
// ExpiresAt only, a subset of the list below); the domain's caches ignore
// ChangeUser. A cached principal is
// domain.UserPrincipal of the user row, and what is read from it on a hit
// is:
//
//   - Status and ExpiresAt: domain.UserCanAct (active, not locked,
//     disabled, pending or expired) and domain.PrincipalChangesAt;
//   - Roles and RoleExpiry: the effective roles and permissions
//     (domain.accessOf, RoleHeld) and PrincipalChangesAt;
//   - DeniedPermissions: the deny list that wins over the roles;
//   - IPAllow and IPDeny: domain.CheckAddress, applied on every request to
//     the cached user;
//   - ID, which never changes.
//
// Nothing else of the row is: not the profile (names, department, goals,
// preferences, phone, locale, zoneinfo, picture, email_verified), not the
// username or email (the actor is recorded by id), not the password (an
// administrator's reset revokes the user's grants and sessions itself,
// announced as ChangeUserTokens), not the sign-in bookkeeping
// (last_login_at, failed_logins, locked_until: a temporary lockout after
// failed passwords ends no token, see domain.UserCanAct), not
// session_limit, break_glass (sign-in and session rules: no API decision
// reads it) or external_id. Group memberships and group roles have writes
// of their own, announced always (AddGroupMember, RemoveGroupMember,
// PutUsers, UpdateGroup, DeleteGroup); area grants are read on every
// request, not cached; deleting the user is announced as
// ChangeUserTokens. A handler must therefore not read any other field of
// the principal's cached user (it reads the user again: admin's patchMe).
//
// Times compare at the microsecond, the precision both stores keep; role
// and deny lists compare as sets, IP rules as the ordered lists they are
// stored as. store/postgres makes the same comparison in SQL, in the
// statement that writes the row (users.go, userAccessChanged).
func UserAccessChanged(before, after User) bool {
	if before.Status != after.Status || !sameInstant(before.ExpiresAt, after.ExpiresAt) {
		return true
	}
	if !slices.Equal(before.IPAllow, after.IPAllow) || !slices.Equal(before.IPDeny, after.IPDeny) {
		return true
	}
	if !maps.Equal(roleSet(before), roleSet(after)) {
		return true
	}
	return !slices.Equal(stringSet(before.DeniedPermissions), stringSet(after.DeniedPermissions))
}

// roleSet is the user's roles, each with its expiry at the microsecond
// (the zero time for a role without one).
func roleSet(u User) map[string]time.Time {
	out := make(map[string]time.Time, len(u.Roles))
	for _, r := range u.Roles {
		var at time.Time
		if exp, ok := u.RoleExpiry[r]; ok {
			at = exp.UTC().Truncate(time.Microsecond)
		}
		out[r] = at
	}
	return out
}

func stringSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func sameInstant(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}
