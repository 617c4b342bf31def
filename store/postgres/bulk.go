package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// LookupUsers reads the users in one query through the unique indexes on
// lower(username) and lower(email), then their roles.
func (s *Store) LookupUsers(ctx context.Context, usernames, emails []string) ([]store.User, error) {
	lower := func(in []string) []string {
		out := make([]string, len(in))
		for i, v := range in {
			out[i] = strings.ToLower(v)
		}
		return out
	}
	rows, err := s.db(ctx).Query(ctx, userWithRoles+`
		WHERE lower(u.username) = ANY($1::text[]) OR lower(u.email) = ANY($2::text[])`,
		lower(usernames), lower(emails))
	if err != nil {
		return nil, fmt.Errorf("postgres: lookup users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows, true)
		if err != nil {
			return nil, fmt.Errorf("postgres: lookup users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: lookup users: %w", classify(err, nil))
	}
	return out, nil
}

// bulkUserColumns are PutUsers' users as column arrays, which unnest turns
// back into rows: one INSERT ... ON CONFLICT for the whole batch. Lists of
// unequal length (goals, address rules) cannot be rows of a two-dimensional
// array, so they travel as JSON arrays.
type bulkUserColumns struct {
	ids, usernames, emails, hashes, fullNames, departments, goals, prefs, statuses []string
	verified                                                                       []bool
	created, updated                                                               []time.Time
	lastLogin, expires, lockedUntil                                                []*time.Time
	failed                                                                         []int
	ipAllow, ipDeny                                                                []string
	sessionLimit                                                                   []*int
	// The roles and memberships, as (user, role) and (user, group) pairs;
	// groupUsers are the users whose memberships are replaced.
	roleUsers, roleNames, groupUsers, memberUsers, memberGroups []string
}

func jsonList[T any](in []T) string {
	if in == nil {
		in = []T{}
	}
	b, _ := json.Marshal(in)
	return string(b)
}

func (c *bulkUserColumns) add(b store.BulkUser) error {
	u := b.User
	id, ok := parseUUID(u.ID)
	if !ok {
		return fmt.Errorf("id %q is not a UUID", u.ID)
	}
	c.ids = append(c.ids, id)
	c.usernames = append(c.usernames, u.Username)
	c.emails = append(c.emails, u.Email)
	c.hashes = append(c.hashes, u.PasswordHash)
	c.fullNames = append(c.fullNames, u.FullName)
	c.departments = append(c.departments, u.Department)
	c.goals = append(c.goals, jsonList(u.Goals))
	c.prefs = append(c.prefs, string(jsonObject(u.Preferences)))
	c.statuses = append(c.statuses, string(u.Status))
	c.verified = append(c.verified, u.EmailVerified)
	c.created = append(c.created, u.CreatedAt)
	c.updated = append(c.updated, u.UpdatedAt)
	c.lastLogin = append(c.lastLogin, u.LastLoginAt)
	c.expires = append(c.expires, u.ExpiresAt)
	c.lockedUntil = append(c.lockedUntil, u.LockedUntil)
	c.failed = append(c.failed, u.FailedLogins)
	c.ipAllow = append(c.ipAllow, jsonList(prefixStrings(u.IPAllow)))
	c.ipDeny = append(c.ipDeny, jsonList(prefixStrings(u.IPDeny)))
	c.sessionLimit = append(c.sessionLimit, u.SessionLimit)
	for _, r := range u.Roles {
		c.roleUsers, c.roleNames = append(c.roleUsers, id), append(c.roleNames, r)
	}
	if b.Groups != nil {
		c.groupUsers = append(c.groupUsers, id)
		for _, g := range b.Groups {
			gid, ok := parseUUID(g)
			if !ok {
				return fmt.Errorf("group %q: %w", g, store.ErrNotFound)
			}
			c.memberUsers, c.memberGroups = append(c.memberUsers, id), append(c.memberGroups, gid)
		}
	}
	return nil
}

func prefixStrings(in []netip.Prefix) []string {
	out := make([]string, len(in))
	for i, p := range in {
		out[i] = p.String()
	}
	return out
}

// PutUsers upserts the batch in one statement, then brings the roles and
// memberships to the given sets in four more: rows already right are left
// alone rather than deleted and inserted again, so that what other
// features keep beside a role assignment survives an unchanged role.
func (s *Store) PutUsers(ctx context.Context, users []store.BulkUser) error {
	if len(users) == 0 {
		return nil
	}
	var c bulkUserColumns
	for _, b := range users {
		if err := c.add(b); err != nil {
			return fmt.Errorf("postgres: put users: %w", err)
		}
	}
	err := s.inTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		if _, err := db.Exec(ctx, `
			INSERT INTO users (id, username, email, password_hash, full_name, department, goals,
				preferences, status, email_verified, created_at, updated_at, last_login_at, expires_at,
				failed_logins, locked_until, ip_allow, ip_deny, session_limit)
			SELECT x.id, x.username, x.email, x.hash, x.full_name, x.department,
				ARRAY(SELECT jsonb_array_elements_text(x.goals::jsonb)), x.prefs::jsonb, x.status,
				x.verified, x.created_at, x.updated_at, x.last_login_at, x.expires_at, x.failed,
				x.locked_until, ARRAY(SELECT jsonb_array_elements_text(x.ip_allow::jsonb)::cidr),
				ARRAY(SELECT jsonb_array_elements_text(x.ip_deny::jsonb)::cidr), x.session_limit
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
				$7::text[], $8::text[], $9::text[], $10::boolean[], $11::timestamptz[],
				$12::timestamptz[], $13::timestamptz[], $14::timestamptz[], $15::integer[],
				$16::timestamptz[], $17::text[], $18::text[], $19::integer[])
				AS x(id, username, email, hash, full_name, department, goals, prefs, status, verified,
					created_at, updated_at, last_login_at, expires_at, failed, locked_until,
					ip_allow, ip_deny, session_limit)
			ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, email = EXCLUDED.email,
				password_hash = EXCLUDED.password_hash, full_name = EXCLUDED.full_name,
				department = EXCLUDED.department, goals = EXCLUDED.goals,
				preferences = EXCLUDED.preferences, status = EXCLUDED.status,
				email_verified = EXCLUDED.email_verified, updated_at = EXCLUDED.updated_at,
				last_login_at = EXCLUDED.last_login_at, expires_at = EXCLUDED.expires_at,
				failed_logins = EXCLUDED.failed_logins, locked_until = EXCLUDED.locked_until,
				ip_allow = EXCLUDED.ip_allow, ip_deny = EXCLUDED.ip_deny,
				session_limit = EXCLUDED.session_limit`,
			c.ids, c.usernames, c.emails, c.hashes, c.fullNames, c.departments, c.goals, c.prefs,
			c.statuses, c.verified, c.created, c.updated, c.lastLogin, c.expires, c.failed,
			c.lockedUntil, c.ipAllow, c.ipDeny, c.sessionLimit); err != nil {
			return err
		}
		if _, err := db.Exec(ctx, `
			DELETE FROM user_roles d WHERE d.user_id = ANY($1::uuid[])
			AND NOT EXISTS (SELECT 1 FROM unnest($2::uuid[], $3::text[]) AS n(user_id, role_name)
				WHERE n.user_id = d.user_id AND n.role_name = d.role_name)`,
			c.ids, c.roleUsers, c.roleNames); err != nil {
			return err
		}
		if _, err := db.Exec(ctx, `
			INSERT INTO user_roles (user_id, role_name)
			SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING`,
			c.roleUsers, c.roleNames); err != nil {
			return err
		}
		// Every user of the batch may have changed: one announcement for
		// all of them (principalchanges.go), not one per user.
		if err := s.principalChanged(ctx, store.ChangeUser, ""); err != nil {
			return err
		}
		if len(c.groupUsers) == 0 {
			return nil
		}
		if _, err := db.Exec(ctx, `
			DELETE FROM group_members d WHERE d.user_id = ANY($1::uuid[])
			AND NOT EXISTS (SELECT 1 FROM unnest($2::uuid[], $3::uuid[]) AS n(user_id, group_id)
				WHERE n.user_id = d.user_id AND n.group_id = d.group_id)`,
			c.groupUsers, c.memberUsers, c.memberGroups); err != nil {
			return err
		}
		_, err := db.Exec(ctx, `
			INSERT INTO group_members (user_id, group_id)
			SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING`,
			c.memberUsers, c.memberGroups)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: put users: %w", classify(err, store.ErrNotFound))
	}
	return nil
}
