package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// defaultUserLimit is ListUsers' page size when the filter names none.
const defaultUserLimit = 100

const userColumns = `u.id, u.username, u.email, u.password_hash, u.full_name, u.department, u.goals,
	u.preferences, u.status, u.email_verified, u.created_at, u.updated_at, u.last_login_at, u.expires_at,
	u.failed_logins, u.locked_until, u.ip_allow, u.ip_deny, u.session_limit,
	u.phone_number, u.phone_number_verified, u.given_name, u.family_name, u.locale, u.zoneinfo,
	u.picture, u.break_glass, u.external_id`

// userGrants are the columns scanUser reads withRoles: the sorted roles,
// the expiries of the time-boxed ones (a JSON object, NULL when none) and
// the denied permissions.
const userGrants = `ARRAY(SELECT r.role_name FROM user_roles r WHERE r.user_id = u.id ORDER BY r.role_name),
	(SELECT jsonb_object_agg(r.role_name, r.expires_at) FROM user_roles r
		WHERE r.user_id = u.id AND r.expires_at IS NOT NULL),
	ARRAY(SELECT d.permission FROM user_denied_permissions d WHERE d.user_id = u.id ORDER BY d.permission)`

// userWithRoles reads one user and its sorted roles in one round trip.
const userWithRoles = `SELECT ` + userColumns + `, ` + userGrants + `
	FROM users u`

func scanUser(row pgx.Row, withRoles bool) (store.User, error) {
	var u store.User
	var status string
	dest := []any{&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.FullName, &u.Department, &u.Goals,
		&u.Preferences, &status, &u.EmailVerified, &u.CreatedAt, &u.UpdatedAt, &u.LastLoginAt, &u.ExpiresAt,
		&u.FailedLogins, &u.LockedUntil, &u.IPAllow, &u.IPDeny, &u.SessionLimit,
		&u.PhoneNumber, &u.PhoneNumberVerified, &u.GivenName, &u.FamilyName, &u.Locale, &u.Zoneinfo,
		&u.Picture, &u.BreakGlass, &u.ExternalID}
	var expiry []byte
	if withRoles {
		dest = append(dest, &u.Roles, &expiry, &u.DeniedPermissions)
	}
	if err := row.Scan(dest...); err != nil {
		return store.User{}, err
	}
	if err := scanRoleExpiry(&u, expiry); err != nil {
		return store.User{}, err
	}
	u.DeniedPermissions = list(u.DeniedPermissions)
	u.Status = store.UserStatus(status)
	u.Goals, u.Roles = list(u.Goals), list(u.Roles)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	u.LastLoginAt, u.ExpiresAt = utcPtr(u.LastLoginAt), utcPtr(u.ExpiresAt)
	u.LockedUntil = utcPtr(u.LockedUntil)
	u.IPAllow, u.IPDeny = prefixes(u.IPAllow), prefixes(u.IPDeny)
	return u, nil
}

// CreateUser inserts the user and its roles in one statement: a role that
// does not exist fails the foreign key and nothing is stored.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	id, ok := parseUUID(u.ID)
	if !ok {
		return fmt.Errorf("postgres: create user %q: id %q is not a UUID", u.Username, u.ID)
	}
	_, err := s.db(ctx).Exec(ctx, `
		WITH u AS (
			INSERT INTO users (id, username, email, password_hash, full_name, department, goals,
				preferences, status, email_verified, created_at, updated_at, last_login_at, expires_at,
				failed_logins, locked_until, ip_allow, ip_deny, session_limit,
				phone_number, phone_number_verified, given_name, family_name, locale, zoneinfo,
				picture, break_glass, external_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $16, $17, $18, $19, $20,
				$21, $22, $23, $24, $25, $26, $27, $28, $31)
			RETURNING id
		), denied AS (
			INSERT INTO user_denied_permissions (user_id, permission)
			SELECT u.id, d.permission FROM u CROSS JOIN (SELECT DISTINCT unnest($30::text[]) AS permission) d
		)
		INSERT INTO user_roles (user_id, role_name, expires_at)
		SELECT u.id, r.name, r.expires_at FROM u CROSS JOIN (
			SELECT DISTINCT ON (name) name, expires_at FROM unnest($15::text[], $29::timestamptz[]) AS g(name, expires_at)
		) r`,
		id, u.Username, u.Email, u.PasswordHash, u.FullName, u.Department, list(u.Goals),
		jsonObject(u.Preferences), string(u.Status), u.EmailVerified, u.CreatedAt, u.UpdatedAt,
		u.LastLoginAt, u.ExpiresAt, list(u.Roles), u.FailedLogins, u.LockedUntil,
		prefixArray(u.IPAllow), prefixArray(u.IPDeny), u.SessionLimit,
		u.PhoneNumber, u.PhoneNumberVerified, u.GivenName, u.FamilyName, u.Locale, u.Zoneinfo,
		u.Picture, u.BreakGlass, roleExpiries(u, list(u.Roles)), list(u.DeniedPermissions), u.ExternalID)
	if err != nil {
		return fmt.Errorf("postgres: create user %q: %w", u.Username, classify(err, store.ErrNotFound))
	}
	return nil
}

// scanRoleExpiry reads the JSON object of userGrants into u.RoleExpiry.
func scanRoleExpiry(u *store.User, expiry []byte) error {
	u.RoleExpiry = nil
	if len(expiry) == 0 {
		return nil
	}
	var m map[string]time.Time
	if err := json.Unmarshal(expiry, &m); err != nil {
		return fmt.Errorf("role expiry: %w", err)
	}
	for role, at := range m {
		setRoleExpiry(u, role, at)
	}
	return nil
}

func setRoleExpiry(u *store.User, role string, at time.Time) {
	if u.RoleExpiry == nil {
		u.RoleExpiry = map[string]time.Time{}
	}
	u.RoleExpiry[role] = at.UTC()
}

// roleExpiries is, for each of roles, its expiry or NULL, as the
// timestamptz[] beside the roles' text[] that CreateUser and UpdateUser
// unnest together.
func roleExpiries(u store.User, roles []string) []*time.Time {
	out := make([]*time.Time, len(roles))
	for i, r := range roles {
		if at, ok := u.RoleExpiry[r]; ok {
			at := at
			out[i] = &at
		}
	}
	return out
}

// GetUser returns ErrNotFound if there is no such user.
func (s *Store) GetUser(ctx context.Context, id string) (store.User, error) {
	uid, ok := parseUUID(id)
	if !ok {
		return store.User{}, fmt.Errorf("postgres: get user %q: %w", id, store.ErrNotFound)
	}
	u, err := scanUser(s.db(ctx).QueryRow(ctx, userWithRoles+` WHERE u.id = $1`, uid), true)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: get user %q: %w", id, classify(err, nil))
	}
	return u, nil
}

// GetUserForUpdate, in a transaction, locks the user's row until the
// transaction ends, then reads the user in a statement of its own. One
// statement would not do: having waited for the lock, READ COMMITTED
// re-reads the locked row but not the roles, which are in another table
// and would come from the snapshot taken before the wait, without what the
// holder before committed. Outside a transaction a lock would end with its
// statement, so there is none: it is GetUser.
func (s *Store) GetUserForUpdate(ctx context.Context, id string) (store.User, error) {
	uid, ok := parseUUID(id)
	if !ok {
		return store.User{}, fmt.Errorf("postgres: get user for update %q: %w", id, store.ErrNotFound)
	}
	if _, inTx := s.tx(ctx); inTx {
		var locked bool
		err := s.db(ctx).QueryRow(ctx, `SELECT true FROM users WHERE id = $1 FOR UPDATE`, uid).Scan(&locked)
		if err != nil {
			return store.User{}, fmt.Errorf("postgres: lock user %q: %w", id, classify(err, nil))
		}
	}
	u, err := scanUser(s.db(ctx).QueryRow(ctx, userWithRoles+` WHERE u.id = $1`, uid), true)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: get user for update %q: %w", id, classify(err, nil))
	}
	return u, nil
}

// GetUserByUsername looks the username up case-insensitively, through the
// unique index on lower(username).
func (s *Store) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx, userWithRoles+` WHERE lower(u.username) = lower($1)`, username), true)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: get user by username %q: %w", username, classify(err, nil))
	}
	return u, nil
}

// GetUserByEmail looks the email up case-insensitively, through the unique
// index on lower(email).
func (s *Store) GetUserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(s.db(ctx).QueryRow(ctx, userWithRoles+` WHERE lower(u.email) = lower($1)`, email), true)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: get user by email: %w", classify(err, nil))
	}
	return u, nil
}

// userOrderBy adds the cursor condition of f's order through add and
// returns the ORDER BY list. Row comparison, (a, b) > (x, y), is what the
// two-column index can seek to.
func userOrderBy(f store.UserFilter, add func(cond string, arg ...any)) (string, error) {
	op, dir := ">", "ASC"
	switch f.Order {
	case "", store.OrderAsc:
	case store.OrderDesc:
		op, dir = "<", "DESC"
	default:
		return "", fmt.Errorf("unknown order %q", f.Order)
	}
	switch f.Sort {
	case "", store.SortByUsername:
		if f.After != nil {
			add(`u.username `+op+` $?`, f.After.Username)
		}
		return "u.username " + dir, nil
	case store.SortByCreatedAt:
		if f.After != nil {
			id, ok := parseUUID(f.After.ID)
			if !ok {
				return "", fmt.Errorf("cursor id %q is not a UUID", f.After.ID)
			}
			add(`(u.created_at, u.id) `+op+` ($?, $?::uuid)`, f.After.CreatedAt, id)
		}
		return "u.created_at " + dir + ", u.id " + dir, nil
	}
	return "", fmt.Errorf("unknown sort %q", f.Sort)
}

// userAccessChanged is store.UserAccessChanged in SQL, for UpdateUser's
// statement: whether the row of $1 as the statement found it (its
// snapshot, taken after the row lock) differs from the parameters in what
// a cached API principal reads: status ($9), expires_at ($13), ip_allow
// ($17), ip_deny ($18), the roles with their expiries ($14, $28) and the
// deny list ($29). Lists compare as sets (EXCEPT treats NULLs as equal),
// the IP rules as the ordered arrays they are stored as.
const userAccessChanged = `SELECT o.status IS DISTINCT FROM $9
		OR o.expires_at IS DISTINCT FROM $13
		OR o.ip_allow IS DISTINCT FROM $17
		OR o.ip_deny IS DISTINCT FROM $18
		OR EXISTS (SELECT r.role_name, r.expires_at FROM user_roles r WHERE r.user_id = $1
			EXCEPT SELECT DISTINCT ON (name) name, expires_at FROM unnest($14::text[], $28::timestamptz[]) AS g(name, expires_at))
		OR EXISTS (SELECT DISTINCT ON (name) name, expires_at FROM unnest($14::text[], $28::timestamptz[]) AS g(name, expires_at)
			EXCEPT SELECT r.role_name, r.expires_at FROM user_roles r WHERE r.user_id = $1)
		OR EXISTS (SELECT d.permission FROM user_denied_permissions d WHERE d.user_id = $1
			EXCEPT SELECT unnest($29::text[]))
		OR EXISTS (SELECT unnest($29::text[])
			EXCEPT SELECT d.permission FROM user_denied_permissions d WHERE d.user_id = $1)
		AS changed
	FROM users o WHERE o.id = $1`

// UpdateUser replaces the user's fields and roles. It locks the user row
// first, in a transaction of its own (nested in the caller's): the statement
// that replaces the roles then reads them after any concurrent update of the
// same user has committed, rather than from a snapshot taken before it, and
// so leaves exactly the roles it was given.
//
// The same statement compares the row it replaces with the new one
// (userAccessChanged, store.UserAccessChanged) and announces a ChangeUser
// (principalchanges.go: the notification, this process's observers and
// the barrier's wait for every listener) only when what the user may do
// changed. A profile or password edit announces nothing and waits for
// nobody: no cache holds what it changed.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	id, ok := parseUUID(u.ID)
	if !ok {
		return fmt.Errorf("postgres: update user %q: %w", u.ID, store.ErrNotFound)
	}
	err := s.inTx(ctx, func(ctx context.Context) error {
		var locked bool
		if err := s.db(ctx).QueryRow(ctx, `SELECT true FROM users WHERE id = $1 FOR UPDATE`, id).
			Scan(&locked); err != nil {
			return err
		}
		// Its status, expiry, roles, deny list or IP rules may have
		// changed: if so every instance's API principal cache drops the
		// user before this returns. Every CTE reads the snapshot from
		// before the statement's writes, so old is the row replaced.
		n := s.announce(store.ChangeUser, id)
		var changed bool
		err := s.db(ctx).QueryRow(ctx, `
			WITH old AS (`+userAccessChanged+`
			), u AS (
				UPDATE users SET username = $2, email = $3, password_hash = $4, full_name = $5,
					department = $6, goals = $7, preferences = $8, status = $9, email_verified = $10,
					updated_at = $11, last_login_at = $12, expires_at = $13, failed_logins = $15,
					locked_until = $16, ip_allow = $17, ip_deny = $18, session_limit = $19,
					phone_number = $20, phone_number_verified = $21, given_name = $22, family_name = $23,
					locale = $24, zoneinfo = $25, picture = $26, break_glass = $27, external_id = $30
				WHERE id = $1
				RETURNING id
			), gone AS (
				DELETE FROM user_roles WHERE user_id = $1 AND role_name <> ALL($14::text[])
			), undenied AS (
				DELETE FROM user_denied_permissions WHERE user_id = $1 AND permission <> ALL($29::text[])
			), denied AS (
				INSERT INTO user_denied_permissions (user_id, permission)
				SELECT u.id, d.permission FROM u CROSS JOIN (SELECT DISTINCT unnest($29::text[]) AS permission) d
				ON CONFLICT DO NOTHING
			), granted AS (
				INSERT INTO user_roles (user_id, role_name, expires_at)
				SELECT u.id, r.name, r.expires_at FROM u CROSS JOIN (
					SELECT DISTINCT ON (name) name, expires_at FROM unnest($14::text[], $28::timestamptz[]) AS g(name, expires_at)
				) r
				ON CONFLICT (user_id, role_name) DO UPDATE SET expires_at = EXCLUDED.expires_at
					WHERE user_roles.expires_at IS DISTINCT FROM EXCLUDED.expires_at
			), n AS (
				SELECT pg_notify('`+changeChannel+`', $31) FROM old WHERE old.changed
			)
			SELECT coalesce((SELECT old.changed FROM old), false) FROM (SELECT count(*) FROM n) AS sent`,
			id, u.Username, u.Email, u.PasswordHash, u.FullName, u.Department, list(u.Goals),
			jsonObject(u.Preferences), string(u.Status), u.EmailVerified, u.UpdatedAt, u.LastLoginAt,
			u.ExpiresAt, list(u.Roles), u.FailedLogins, u.LockedUntil,
			prefixArray(u.IPAllow), prefixArray(u.IPDeny), u.SessionLimit,
			u.PhoneNumber, u.PhoneNumberVerified, u.GivenName, u.FamilyName, u.Locale, u.Zoneinfo,
			u.Picture, u.BreakGlass, roleExpiries(u, list(u.Roles)), list(u.DeniedPermissions), u.ExternalID,
			n.payload).Scan(&changed)
		if err != nil || !changed {
			// Nothing was sent: nobody is told, nobody waits.
			s.feed.forget(n.nonce)
			return err
		}
		return n.done(ctx, nil, "")
	})
	if err != nil {
		return fmt.Errorf("postgres: update user %q: %w", u.ID, classify(err, store.ErrNotFound))
	}
	return nil
}

// DeleteUser removes the user; sessions, consents, roles, group memberships,
// access requests, API tokens, grants and their tokens go with it through
// ON DELETE CASCADE. Audit entries naming it stay: they have no foreign key.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete user %q: %w", id, store.ErrNotFound)
	}
	// The user's grants go with it (ON DELETE CASCADE): the notification
	// tells the other instances' introspection caches.
	var deleted int
	nt := s.announce(store.ChangeUserTokens, uid)
	err := s.db(ctx).QueryRow(ctx, `WITH d AS (DELETE FROM users WHERE id = $1 RETURNING 1),
		n AS (SELECT pg_notify('`+changeChannel+`', $2))
		SELECT (SELECT count(*) FROM d) FROM n`, uid, nt.payload).Scan(&deleted)
	if err := nt.done(ctx, err, ""); err != nil {
		return fmt.Errorf("postgres: delete user %q: %w", id, err)
	}
	if deleted == 0 {
		return fmt.Errorf("postgres: delete user %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// ListUsers pages through users by username or by (created_at, id)
// (keyset: After is the key of the last user of the previous page), with
// the page's roles and deny lists, in one query.
//
// The username index, or the (created_at, id) one, serves the order and
// the cursor in either direction; the filters (Status among them, judged
// at f.Now) are checked row by row along it. A Query substring (ILIKE) or a rare Status or
// Role can therefore walk much of the table to fill one page: acceptable at
// 100,000 users, a trigram index is the fix if it is not.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	var where []string
	var args []any
	// add appends a condition whose $? placeholders take args in order.
	add := func(cond string, arg ...any) {
		for _, a := range arg {
			args = append(args, a)
			cond = strings.Replace(cond, "$?", fmt.Sprintf("$%d", len(args)), 1)
		}
		where = append(where, cond)
	}
	order, err := userOrderBy(f, add)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	// The effective status (store.User.EffectiveStatus) as a condition, so
	// that the page is cut after it: a filter applied to rows already read
	// would leave pages short and the cursor unsure.
	switch f.Status {
	case "":
	case store.StatusExpired:
		add(`u.status IN ('pending', 'active') AND u.expires_at <= $?`, f.Now)
	case store.StatusPending, store.StatusActive:
		add(`u.status = $? AND (u.expires_at IS NULL OR u.expires_at > $?)`, string(f.Status), f.Now)
	default:
		add(`u.status = $?`, string(f.Status))
	}
	if f.Role != "" {
		add(`EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role_name = $?)`, f.Role)
	}
	if f.Group != "" {
		groupID, ok := parseUUID(f.Group)
		if !ok {
			// Not a group id, so no group and no members.
			return []store.User{}, nil
		}
		add(`EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = $? AND m.user_id = u.id)`, groupID)
	}
	// Areas: the area's subtree, and the subtrees a delegated
	// administrator reaches (areas.go).
	if f.Area != "" {
		add(areaUserCondition, areaIDs([]string{f.Area}))
	}
	if f.WithinAreas != nil {
		add(areaUserCondition, areaIDs(f.WithinAreas))
	}
	if f.Query != "" {
		pattern := "%" + escapeLike(f.Query) + "%"
		add(`(u.username ILIKE $? OR u.email ILIKE $? OR u.full_name ILIKE $?)`, pattern, pattern, pattern)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultUserLimit
	}
	args = append(args, limit)
	// The page is cut first (the subquery with its LIMIT is not merged
	// into the outer query), then its grants are read for its rows alone,
	// in the same round trip: a query per page, not three.
	sql := `SELECT * FROM users u`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sql += fmt.Sprintf(` ORDER BY %s LIMIT $%d`, order, len(args))
	sql = `SELECT ` + userColumns + `, ` + userGrants + ` FROM (` + sql + `) u ORDER BY ` + order

	rows, err := s.db(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r, true) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return users, nil
}

// prefixArray is a rule list as the NOT NULL cidr[] column takes it.
func prefixArray(in []netip.Prefix) []netip.Prefix {
	if in == nil {
		return []netip.Prefix{}
	}
	return in
}

// prefixes reads a rule list back as the memory store keeps it: nil when
// empty.
func prefixes(in []netip.Prefix) []netip.Prefix {
	if len(in) == 0 {
		return nil
	}
	return in
}
