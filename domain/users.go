package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

const maxUserLimit = 200

// NewUser is the input of CreateUser.
type NewUser struct {
	Username      string
	Email         string
	Password      string // "" for none (upstream sign-in only, later)
	FullName      string
	Department    string
	Goals         []string
	Preferences   json.RawMessage
	Status        store.UserStatus // "" means pending without roles, active with roles
	Roles         []string
	EmailVerified bool
	ExpiresAt     *time.Time

	// Profile fields and break-glass access (profile.go, breakglass.go);
	// "" and false for none.
	PhoneNumber         string
	PhoneNumberVerified bool
	GivenName           string
	FamilyName          string
	Locale              string
	Zoneinfo            string
	Picture             string
	BreakGlass          bool

	// SCIM 2.0 provisioning (scim.go): the provisioning client's id of
	// the user, "" for none.
	ExternalID string
}

// UserPatch is a partial update; nil fields are left alone. ExpiresAt set
// to a pointer to nil clears the expiry.
type UserPatch struct {
	Username      *string
	Email         *string
	FullName      *string
	Department    *string
	Goals         *[]string
	Preferences   *json.RawMessage
	EmailVerified *bool
	ExpiresAt     **time.Time
	// SessionLimit set to a pointer to nil returns the user to the
	// server's default limit (sessions.limit); 0 is no limit.
	SessionLimit **int

	// Profile fields and break-glass access (profile.go). A new
	// PhoneNumber is unverified unless PhoneNumberVerified is set too.
	PhoneNumber         *string
	PhoneNumberVerified *bool
	GivenName           *string
	FamilyName          *string
	Locale              *string
	Zoneinfo            *string
	Picture             *string
	BreakGlass          *bool

	// SCIM 2.0 provisioning (scim.go).
	ExternalID *string
}

// userFields are the audited fields of a user: never the password hash.
func userFields(u store.User) fields {
	return scimFields(u, profileFields(u, fields{
		"username":       u.Username,
		"email":          u.Email,
		"full_name":      u.FullName,
		"department":     u.Department,
		"goals":          auditList(u.Goals),
		"preferences":    auditJSON(u.Preferences),
		"status":         string(u.Status),
		"roles":          auditList(set(u.Roles)),
		"email_verified": u.EmailVerified,
		"expires_at":     auditTime(u.ExpiresAt),
		"locked_until":   auditTime(u.LockedUntil),
		"session_limit":  auditInt(u.SessionLimit),
	}))
}

// auditInt is an optional number as the audit log records it: nil as null.
func auditInt(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

// passwordChanged is how the audit log records a password: that it was set
// or changed, never what to.
var passwordChanged = store.Change{After: "changed"}

func validStatus(st store.UserStatus) bool {
	switch st {
	case store.StatusPending, store.StatusActive, store.StatusLocked, store.StatusDisabled:
		return true
	}
	return false
}

// checkRoleNames reports the names that are no role of all.
func (v *problems) checkRoleNames(field string, names []string, all map[string]store.Role) {
	for _, n := range names {
		if _, ok := all[n]; !ok {
			v.add(field, "%q is not a role", n)
		}
	}
}

// CreateUser validates (every problem at once, as ValidationErrors), hashes
// the password and stores the user with its audit entry "user.create". A
// taken username or email is store.ErrConflict (the message says which).
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (store.User, error) {
	now := s.now()
	var v problems
	email := NormalizeEmail(in.Email)
	v.addErr(ValidateUsername(in.Username))
	v.addErr(ValidateEmail(email))
	u := store.User{
		ID:            uuid.NewString(),
		Username:      in.Username,
		Email:         email,
		FullName:      v.checkText("full_name", in.FullName, maxTextLength, true),
		Department:    v.checkText("department", in.Department, maxTextLength, true),
		Goals:         v.checkGoals("goals", in.Goals),
		Preferences:   v.checkPreferences(in.Preferences),
		Status:        in.Status,
		Roles:         set(in.Roles),
		EmailVerified: in.EmailVerified,
		ExpiresAt:     in.ExpiresAt,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	v.applyProfile(&u, profileInput{
		PhoneNumber: &in.PhoneNumber, PhoneNumberVerified: &in.PhoneNumberVerified,
		GivenName: &in.GivenName, FamilyName: &in.FamilyName,
		Locale: &in.Locale, Zoneinfo: &in.Zoneinfo, Picture: &in.Picture, BreakGlass: &in.BreakGlass,
	})
	// SCIM 2.0 provisioning (scim.go).
	v.applyExternalID(&u, &in.ExternalID)
	if in.Password != "" {
		v.addErr(s.opts.Passwords.Validate(in.Password, in.Username, email, u.FullName))
	}
	if u.Status == "" {
		u.Status = store.StatusPending
		if len(u.Roles) > 0 {
			u.Status = store.StatusActive
		}
	} else if !validStatus(u.Status) {
		v.add("status", "must be pending, active, locked or disabled")
	}
	v.checkFuture("expires_at", u.ExpiresAt, now)
	if len(u.Roles) > 0 {
		all, err := s.roleMap(ctx)
		if err != nil {
			return store.User{}, fmt.Errorf("domain: create user: %w", err)
		}
		v.checkRoleNames("roles", u.Roles, all)
	}
	if err := v.err(); err != nil {
		return store.User{}, err
	}
	// Hashing takes a quarter of a second on purpose: do it before the
	// transaction, which must stay short.
	if in.Password != "" {
		h, err := s.opts.Passwords.Hash(in.Password)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash = h
	}
	err := s.inTx(ctx, "create user", func(ctx context.Context) error {
		if err := s.checkUnique(ctx, u.ID, u.Username, u.Email); err != nil {
			return err
		}
		if err := s.store.CreateUser(ctx, u); err != nil {
			return err
		}
		c := onCreate(userFields(u))
		if in.Password != "" {
			c["password"] = passwordChanged
		}
		if err := s.audit(ctx, a, "user.create", TargetUser, u.ID, c); err != nil {
			return err
		}
		return s.queueVerification(ctx, u)
	})
	if err != nil {
		return store.User{}, err
	}
	out, err := s.store.GetUser(ctx, u.ID)
	if err != nil {
		return store.User{}, fmt.Errorf("domain: create user: read back: %w", err)
	}
	return out, nil
}

// checkUnique names the taken field; the store's unique indexes still
// decide races between two transactions.
func (s *Service) checkUnique(ctx context.Context, id, username, email string) error {
	for _, k := range []struct {
		field, value string
		get          func(context.Context, string) (store.User, error)
	}{
		{"username", username, s.store.GetUserByUsername},
		{"email", email, s.store.GetUserByEmail},
	} {
		other, err := k.get(ctx, k.value)
		switch {
		case err == nil && other.ID != id:
			return conflict("%s %q is taken", k.field, k.value)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	return nil
}

// GetUser returns store.ErrNotFound (wrapped) if absent.
func (s *Service) GetUser(ctx context.Context, id string) (store.User, error) {
	if err := notFoundID("user", id); err != nil {
		return store.User{}, err
	}
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return store.User{}, fmt.Errorf("domain: get user: %w", err)
	}
	return u, nil
}

// maxUserQuery bounds the substring search of ListUsers.
const maxUserQuery = 100

// ListUsers lists users (limit capped at 200; a search of at most
// maxUserQuery characters, else a ValidationError on "q"; a sort other
// than username or created_at, or an order other than asc or desc, a
// ValidationError on "sort" or "order"). The status
// filter is the effective status (store.User.EffectiveStatus, so
// "expired" is one) at f.Now, the service's clock when zero: a caller that
// shows the users passes the time it shows them at, so that the filter and
// the view agree.
func (s *Service) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	var v problems
	// A substring search scans the directory; a long pattern multiplies
	// that cost for nothing a person would type.
	if utf8.RuneCountInString(f.Query) > maxUserQuery {
		v.add("q", "must be at most %d characters", maxUserQuery)
	}
	if f.Status != "" && f.Status != store.StatusExpired && !validStatus(f.Status) {
		v.add("status", "must be pending, active, locked, disabled or expired")
	}
	switch f.Sort {
	case "", store.SortByUsername, store.SortByCreatedAt:
	default:
		v.add("sort", "must be username or created_at")
	}
	switch f.Order {
	case "", store.OrderAsc, store.OrderDesc:
	default:
		v.add("order", "must be asc or desc")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if f.Now.IsZero() {
		f.Now = s.now()
	}
	filters := map[string]string{"q": f.Query, "status": string(f.Status), "role": f.Role, "group": f.Group}
	if f.After != nil {
		filters["cursor"] = f.After.Username + f.After.ID
	}
	if err := checkFilters(filters); err != nil {
		return nil, err
	}
	f.Limit = capLimit(f.Limit, maxUserLimit)
	out, err := s.store.ListUsers(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("domain: list users: %w", err)
	}
	return out, nil
}

// UpdateUser applies p ("user.update", with the before/after of each
// changed field). A new email is unverified unless p sets EmailVerified
// too. A patch that changes nothing writes nothing and records nothing.
// Given ifVersion, the versions (UserVersion) the caller's edit was based
// on, it changes nothing and fails with ErrStale unless the user is at one
// of them when the update's transaction reads it.
func (s *Service) UpdateUser(ctx context.Context, by Principal, id string, p UserPatch, ifVersion ...string) (store.User, error) {
	if err := notFoundID("user", id); err != nil {
		return store.User{}, err
	}
	rec := s.userRecord("update user")
	if len(ifVersion) > 0 {
		rec.precondition = userAt(ifVersion)
	}
	return update(ctx, s, by.Actor, rec, id, "user.update", func(ctx context.Context, cur store.User) (store.User, error) {
		if err := s.mayActOn(ctx, by, cur); err != nil {
			return store.User{}, err
		}
		next, err := s.patchUser(cur, p)
		if err != nil {
			return store.User{}, err
		}
		if err := s.checkUnique(ctx, next.ID, next.Username, next.Email); err != nil {
			return store.User{}, err
		}
		if next.Email != cur.Email {
			// A new address gets its own proof of ownership.
			if err := s.queueVerification(ctx, next); err != nil {
				return store.User{}, err
			}
		}
		return next, nil
	}, nil)
}

// userRecord is the user to the audited update. It is read held for
// update: every field is written back, so a concurrent edit read before
// this one committed would otherwise be lost.
func (s *Service) userRecord(what string) record[store.User] {
	return record[store.User]{
		what: what, target: TargetUser,
		get: s.store.GetUserForUpdate, put: s.store.UpdateUser, fields: userFields,
		touch: func(u *store.User, now time.Time) { u.UpdatedAt = now },
	}
}

func (s *Service) patchUser(u store.User, p UserPatch) (store.User, error) {
	var v problems
	if p.Username != nil {
		v.addErr(ValidateUsername(*p.Username))
		u.Username = *p.Username
	}
	if p.Email != nil {
		email := NormalizeEmail(*p.Email)
		v.addErr(ValidateEmail(email))
		if email != u.Email {
			// The proof of ownership was for the old address.
			u.EmailVerified = false
		}
		u.Email = email
	}
	if p.FullName != nil {
		u.FullName = v.checkText("full_name", *p.FullName, maxTextLength, true)
	}
	if p.Department != nil {
		u.Department = v.checkText("department", *p.Department, maxTextLength, true)
	}
	if p.Goals != nil {
		u.Goals = v.checkGoals("goals", *p.Goals)
	}
	if p.Preferences != nil {
		u.Preferences = v.checkPreferences(*p.Preferences)
	}
	if p.EmailVerified != nil {
		u.EmailVerified = *p.EmailVerified
	}
	if p.ExpiresAt != nil {
		u.ExpiresAt = *p.ExpiresAt
		v.checkFuture("expires_at", u.ExpiresAt, s.now())
	}
	if p.SessionLimit != nil {
		u.SessionLimit = *p.SessionLimit
		if n := u.SessionLimit; n != nil && (*n < 0 || *n > MaxSessionLimit) {
			v.add("session_limit", "must be between 0 (no limit) and %d, or null for the server's default", MaxSessionLimit)
		}
	}
	v.applyProfile(&u, profileInput{
		PhoneNumber: p.PhoneNumber, PhoneNumberVerified: p.PhoneNumberVerified,
		GivenName: p.GivenName, FamilyName: p.FamilyName,
		Locale: p.Locale, Zoneinfo: p.Zoneinfo, Picture: p.Picture, BreakGlass: p.BreakGlass,
	})
	// SCIM 2.0 provisioning (scim.go).
	v.applyExternalID(&u, p.ExternalID)
	return u, v.err()
}

// SetUserStatus moves the user to active, locked or disabled ("user.status";
// locking or disabling ends its login sessions and revokes its grants and
// API tokens' usability). Setting active also lifts a lockout after failed
// sign-ins, the account-wide one and every address's. Setting the status the user has already changes nothing and
// records nothing. A user may not lock or disable itself (ErrForbidden).
func (s *Service) SetUserStatus(ctx context.Context, p Principal, id string, status store.UserStatus) (store.User, error) {
	return s.changeStatus(ctx, p, id, status, "user.status")
}

func (s *Service) changeStatus(ctx context.Context, p Principal, id string, status store.UserStatus, action string) (store.User, error) {
	switch status {
	case store.StatusActive, store.StatusLocked, store.StatusDisabled:
	default:
		// pending is where users start, never where they are sent back to:
		// that would re-open the access-request flow behind their back.
		return store.User{}, invalid("status", "must be active, locked or disabled")
	}
	if status != store.StatusActive && p.Actor.isUser(id) {
		return store.User{}, errSelfLockout
	}
	if err := notFoundID("user", id); err != nil {
		return store.User{}, err
	}
	return update(ctx, s, p.Actor, s.userRecord("set user status"), id, action, func(ctx context.Context, cur store.User) (store.User, error) {
		if err := s.mayActOn(ctx, p, cur); err != nil {
			return store.User{}, err
		}
		next := cur
		next.Status = status
		if status == store.StatusActive {
			next.FailedLogins, next.LockedUntil = 0, nil
			// Every address refused for its failures gets its tries back,
			// also when the user was active already (no other field
			// changes then, and nothing is recorded: the per-address
			// refusals are not part of the user record).
			if err := s.store.ClearUserSignInFailures(ctx, cur.ID); err != nil {
				return store.User{}, err
			}
		}
		return next, s.keepAnAdmin(ctx, cur, &next)
	}, func(ctx context.Context, _, _ store.User) error {
		if status == store.StatusActive {
			return nil
		}
		return s.endSessions(ctx, id)
	})
}

// SetUserRoles replaces the user's roles ("user.roles"). The status is left
// alone: a pending user becomes active through an approval or SetUserStatus.
func (s *Service) SetUserRoles(ctx context.Context, p Principal, id string, roles []string) (store.User, error) {
	grants := make([]RoleGrant, len(roles))
	for i, r := range roles {
		grants[i] = RoleGrant{Role: r}
	}
	return s.SetUserRoleGrants(ctx, p, id, grants)
}

// SetPassword replaces the user's password after checking the policy
// ("user.password", recorded as {"password": {"after": "changed"}} only).
// When current is not nil it must match the present password (self-service);
// a mismatch is a ValidationErrors entry for the field "current_password".
// Set by someone else (an administrator, who does so when an account is
// feared taken), it also ends the user's sessions and revokes its grants,
// as a reset by mail does (the audit entry counts the grants); the owner
// changing its own keeps them, and has "sign out everywhere" for the rest.
func (s *Service) SetPassword(ctx context.Context, p Principal, id string, current *string, password string) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	var v problems
	if current != nil {
		if ok, _ := s.opts.Passwords.Verify(u.PasswordHash, *current); !ok {
			v.add("current_password", "is not the present password")
		}
	}
	v.addErr(s.opts.Passwords.Validate(password, u.Username, u.Email, u.FullName))
	if err := v.err(); err != nil {
		return err
	}
	hash, err := s.opts.Passwords.Hash(password)
	if err != nil {
		return err
	}
	return s.inTx(ctx, "set password", func(ctx context.Context) error {
		// Read again inside the transaction, held, so that an edit made
		// while the password was being hashed, or while it is written, is
		// not overwritten.
		cur, err := s.store.GetUserForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, cur); err != nil {
			return err
		}
		cur.PasswordHash = hash
		cur.UpdatedAt = s.now()
		if err := s.store.UpdateUser(ctx, cur); err != nil {
			return err
		}
		c := changes{"password": passwordChanged}
		if !p.Actor.isUser(id) {
			grants, err := s.store.RevokeGrantsByUser(ctx, id, "")
			if err != nil {
				return err
			}
			if err := s.endSessions(ctx, id); err != nil {
				return err
			}
			c["grants"] = store.Change{Before: grants, After: 0}
		}
		return s.audit(ctx, p.Actor, "user.password", TargetUser, id, c)
	})
}

// DeleteUser soft-deletes (status disabled, sessions ended: "user.disable")
// or, with hard, removes the user and everything that belongs to it
// ("user.delete"; the audit entry is the only trace left). A user may not
// delete itself (ErrForbidden).
func (s *Service) DeleteUser(ctx context.Context, p Principal, id string, hard bool) error {
	if !hard {
		_, err := s.changeStatus(ctx, p, id, store.StatusDisabled, "user.disable")
		return err
	}
	if p.Actor.isUser(id) {
		return errSelfLockout
	}
	if err := notFoundID("user", id); err != nil {
		return err
	}
	return s.inTx(ctx, "delete user", func(ctx context.Context) error {
		cur, err := s.store.GetUser(ctx, id)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, cur); err != nil {
			return err
		}
		if err := s.keepAnAdmin(ctx, cur, nil); err != nil {
			return err
		}
		// Ended, not only deleted with the user: their clients are told
		// (back-channel logout).
		if err := s.endSessions(ctx, id); err != nil {
			return err
		}
		if err := s.store.DeleteUser(ctx, id); err != nil {
			return err
		}
		f := userFields(cur)
		c := onRemove(fields{"username": f["username"], "email": f["email"], "full_name": f["full_name"],
			"status": f["status"], "roles": f["roles"]})
		return s.audit(ctx, p.Actor, "user.delete", TargetUser, id, c)
	})
}

// GoalSuggestions returns the suggested goals of the role and its ancestors,
// nearest first, without duplicates; store.ErrNotFound if no such role.
func (s *Service) GoalSuggestions(ctx context.Context, role string) ([]string, error) {
	all, err := s.roleMap(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: goal suggestions: %w", err)
	}
	if _, ok := all[role]; !ok {
		return nil, notFound("role %q not found", role)
	}
	out := []string{}
	for _, r := range ancestry(all, role) {
		for _, g := range all[r].SuggestedGoals {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out, nil
}

// errSelfLockout refuses an administrator locking, disabling or deleting its
// own account: it would end the very session making the change, and could
// leave nobody able to undo it.
var errSelfLockout = forbidden("you cannot lock, disable or delete your own account")

// isUser reports whether the actor is the user with this id.
func (a Actor) isUser(id string) bool {
	return a.Type == store.ActorUser && a.ID != "" && strings.EqualFold(a.ID, id)
}
