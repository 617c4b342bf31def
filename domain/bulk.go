package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// ImportRow is one row of a bulk import of users. Username names the user;
// every other field is nil when the row does not give it, and an existing
// user keeps what it has there. An empty PasswordHash is no password for a
// new user and leaves an existing user's alone: an import never removes a
// password.
type ImportRow struct {
	// Row is the row's number in the file, for the report.
	Row          int
	Username     string
	Email        *string
	FullName     *string
	Department   *string
	Roles        *[]string
	Groups       *[]string // group names or ids
	Goals        *[]string
	PasswordHash *string
	Status       *store.UserStatus
}

// ImportProblem is one refused field of one row. It never holds a password
// hash.
type ImportProblem struct {
	Row      int    `json:"row"`
	Username string `json:"username,omitempty"`
	Field    string `json:"field"`
	Message  string `json:"message"`
}

// ImportReport counts the rows of one batch, or of a whole import by Add.
// Failed counts rows, Problems their problems (a row may have several).
type ImportReport struct {
	Created   int             `json:"created"`
	Updated   int             `json:"updated"`
	Unchanged int             `json:"unchanged"`
	Failed    int             `json:"failed"`
	Problems  []ImportProblem `json:"-"`
}

// Add adds o's counts and problems to r.
func (r *ImportReport) Add(o ImportReport) {
	r.Created += o.Created
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
	r.Failed += o.Failed
	r.Problems = append(r.Problems, o.Problems...)
}

// UserImport is one import run, fed batch by batch (Batch), so that a file
// of any size is never held in memory. It remembers the usernames and
// emails of the rows seen, a few bytes each: a name given twice in a file
// is a mistake in the file, and the second row is refused rather than
// silently winning.
type UserImport struct {
	s         *Service
	actor     Actor
	dryRun    bool
	usernames map[string]int // username -> first row
	emails    map[string]int
}

// NewUserImport starts an import made by a. A dry run validates every row
// against the directory as it is and writes nothing.
func (s *Service) NewUserImport(a Actor, dryRun bool) *UserImport {
	return &UserImport{s: s, actor: a, dryRun: dryRun, usernames: map[string]int{}, emails: map[string]int{}}
}

// plannedRow is a valid row and what writing it changes.
type plannedRow struct {
	row     ImportRow
	user    store.User
	groups  []string // nil: memberships left alone
	created bool
	changed []string // the fields an update changes
}

// Batch validates rows with the rules CreateUser and UpdateUser apply,
// against the directory as it is, and writes the good ones in one
// transaction with one "user.import" audit entry (unless a dry run). If the
// transaction fails (a username taken meanwhile, say), each good row is
// written again in a transaction of its own, so that one conflict costs one
// row and not the batch. An error is returned only when the store fails
// otherwise; the rows' problems are in the report.
func (imp *UserImport) Batch(ctx context.Context, rows []ImportRow) (ImportReport, error) {
	var rep ImportReport
	s := imp.s
	roles, err := s.roleMap(ctx)
	if err != nil {
		return rep, fmt.Errorf("domain: import users: %w", err)
	}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return rep, fmt.Errorf("domain: import users: %w", err)
	}
	groupIDs := make(map[string]string, 2*len(groups))
	for _, g := range groups {
		groupIDs[g.Name] = g.ID
		groupIDs[strings.ToLower(g.ID)] = g.ID
	}
	fail := func(r ImportRow, v problems) {
		rep.Failed++
		for _, p := range v {
			rep.Problems = append(rep.Problems, ImportProblem{Row: r.Row, Username: r.Username, Field: p.Field, Message: p.Message})
		}
	}

	// Each row on its own first; then the directory is read once for all.
	type checked struct {
		row    ImportRow
		email  string
		fields store.User // the given fields, validated
		groups []string
	}
	var valid []checked
	var usernames, emails []string
	for _, r := range rows {
		var v problems
		c := checked{row: r}
		v.addErr(ValidateUsername(r.Username))
		if first, ok := imp.usernames[r.Username]; ok {
			v.add("username", "appears again (first in row %d)", first)
		} else {
			imp.usernames[r.Username] = r.Row
		}
		if r.Email != nil {
			c.email = NormalizeEmail(*r.Email)
			first, seen := imp.emails[c.email]
			switch {
			case v.addErr(ValidateEmail(c.email)):
			case seen:
				v.add("email", "appears again (first in row %d)", first)
			default:
				imp.emails[c.email] = r.Row
			}
		}
		if r.FullName != nil {
			c.fields.FullName = v.checkText("full_name", *r.FullName, maxTextLength, true)
		}
		if r.Department != nil {
			c.fields.Department = v.checkText("department", *r.Department, maxTextLength, true)
		}
		if r.Goals != nil {
			c.fields.Goals = v.checkGoals("goals", *r.Goals)
		}
		if r.Roles != nil {
			c.fields.Roles = set(*r.Roles)
			v.checkRoleNames("roles", c.fields.Roles, roles)
		}
		if r.Groups != nil {
			c.groups = []string{}
			for _, g := range *r.Groups {
				id, ok := groupIDs[g]
				if !ok {
					id, ok = groupIDs[strings.ToLower(g)]
				}
				if !ok {
					v.add("groups", "%q is not a group", g)
					continue
				}
				c.groups = append(c.groups, id)
			}
			c.groups = set(c.groups)
		}
		if r.PasswordHash != nil && *r.PasswordHash != "" {
			v.addErr(ValidatePasswordHash(*r.PasswordHash))
		}
		if r.Status != nil && !validStatus(*r.Status) {
			v.add("status", "must be pending, active, locked or disabled")
		}
		if len(v) > 0 {
			fail(r, v)
			continue
		}
		valid = append(valid, c)
		usernames = append(usernames, r.Username)
		if c.email != "" {
			emails = append(emails, c.email)
		}
	}
	found, err := s.store.LookupUsers(ctx, usernames, emails)
	if err != nil {
		return rep, fmt.Errorf("domain: import users: %w", err)
	}
	byUsername := make(map[string]store.User, len(found))
	byEmail := make(map[string]store.User, len(found))
	var existing []string
	for _, u := range found {
		byUsername[strings.ToLower(u.Username)] = u
		byEmail[strings.ToLower(u.Email)] = u
		existing = append(existing, u.ID)
	}
	memberOf, err := s.store.GroupsOfUsers(ctx, existing)
	if err != nil {
		return rep, fmt.Errorf("domain: import users: %w", err)
	}

	now := s.now()
	var plan []plannedRow
	for _, c := range valid {
		r := c.row
		cur, exists := byUsername[r.Username]
		var v problems
		if c.email != "" {
			if other, ok := byEmail[c.email]; ok && (!exists || other.ID != cur.ID) {
				v.add("email", "is taken by another user")
			}
		}
		p := plannedRow{row: r, groups: c.groups}
		if !exists {
			if c.email == "" {
				v.add("email", "is required for a new user")
			}
			u := store.User{
				ID: uuid.NewString(), Username: r.Username, Email: c.email,
				FullName: c.fields.FullName, Department: c.fields.Department,
				Goals: c.fields.Goals, Roles: c.fields.Roles, CreatedAt: now, UpdatedAt: now,
			}
			if r.PasswordHash != nil {
				u.PasswordHash = *r.PasswordHash
			}
			switch {
			case r.Status != nil:
				u.Status = *r.Status
			case len(u.Roles) > 0:
				u.Status = store.StatusActive
			default:
				u.Status = store.StatusPending
			}
			if c.groups == nil {
				p.groups = []string{}
			}
			p.user, p.created = u, true
		} else {
			next := cur
			change := func(name string, differs bool) {
				if differs {
					p.changed = append(p.changed, name)
				}
			}
			if r.Email != nil {
				change("email", next.Email != c.email)
				if next.Email != c.email {
					// The proof of ownership was for the old address.
					next.Email, next.EmailVerified = c.email, false
				}
			}
			if r.FullName != nil {
				change("full_name", next.FullName != c.fields.FullName)
				next.FullName = c.fields.FullName
			}
			if r.Department != nil {
				change("department", next.Department != c.fields.Department)
				next.Department = c.fields.Department
			}
			if r.Goals != nil {
				change("goals", !slices.Equal(next.Goals, c.fields.Goals))
				next.Goals = c.fields.Goals
			}
			if r.Roles != nil {
				change("roles", !slices.Equal(set(next.Roles), c.fields.Roles))
				next.Roles = c.fields.Roles
			}
			if r.PasswordHash != nil && *r.PasswordHash != "" {
				change("password", next.PasswordHash != *r.PasswordHash)
				next.PasswordHash = *r.PasswordHash
			}
			if r.Status != nil && *r.Status != cur.Status {
				// A lock or a disable ends sessions and revokes grants;
				// that is SetUserStatus's work, not a field to overwrite.
				v.add("status", "differs from the user's (%s): change an existing user's status with gatehouse users lock/unlock or the API", cur.Status)
			}
			if c.groups != nil {
				var have []string
				for _, g := range memberOf[cur.ID] {
					have = append(have, g.ID)
				}
				change("groups", !slices.Equal(set(have), c.groups))
			}
			next.UpdatedAt = now
			p.user = next
		}
		if len(v) > 0 {
			fail(r, v)
			continue
		}
		if !p.created && len(p.changed) == 0 {
			rep.Unchanged++
			continue
		}
		plan = append(plan, p)
	}
	if imp.dryRun || len(plan) == 0 {
		rep.count(plan)
		return rep, nil
	}
	if err := imp.write(ctx, plan); err == nil {
		rep.count(plan)
		return rep, nil
	} else if ctx.Err() != nil {
		return rep, fmt.Errorf("domain: import users: %w", err)
	}
	// One row at a time: the rows that fail are reported, the others kept.
	for _, p := range plan {
		err := imp.write(ctx, []plannedRow{p})
		switch {
		case err == nil:
			rep.count([]plannedRow{p})
		case errors.Is(err, store.ErrConflict):
			fail(p.row, problems{{Field: "username", Message: "the username or email was taken by another user meanwhile"}})
		case errors.Is(err, store.ErrNotFound):
			fail(p.row, problems{{Field: "roles", Message: "a role or group of the row was deleted meanwhile"}})
		default:
			return rep, fmt.Errorf("domain: import users: row %d: %w", p.row.Row, err)
		}
	}
	return rep, nil
}

func (r *ImportReport) count(plan []plannedRow) {
	for _, p := range plan {
		if p.created {
			r.Created++
		} else {
			r.Updated++
		}
	}
}

// write stores the rows with one audit entry for them all. One entry per
// batch, not per user: the audit log is a hash chain appended one entry at
// a time, and a hundred thousand entries would both be most of the
// import's time and bury everything else in the log. The entry still names
// every user created, and every user updated with the fields that changed;
// never a value of a password hash.
func (imp *UserImport) write(ctx context.Context, plan []plannedRow) error {
	bulk := make([]store.BulkUser, len(plan))
	var created, updated []string
	for i, p := range plan {
		bulk[i] = store.BulkUser{User: p.user, Groups: p.groups}
		if p.created {
			created = append(created, p.user.Username)
		} else {
			updated = append(updated, p.user.Username+": "+strings.Join(p.changed, ", "))
		}
	}
	return imp.s.inTx(ctx, "import users", func(ctx context.Context) error {
		if err := imp.s.store.PutUsers(ctx, bulk); err != nil {
			return err
		}
		c := changes{}
		if len(created) > 0 {
			c["created"] = store.Change{After: created}
		}
		if len(updated) > 0 {
			c["updated"] = store.Change{After: updated}
		}
		return imp.s.audit(ctx, imp.actor, "user.import", TargetUser, "", c)
	})
}

// ExportPage is the page size of ExportUsers: the largest ListUsers serves.
const ExportPage = maxUserLimit

// ExportUsers calls fn with every user, a page at a time in username order:
// keyset pages, so that the directory is never held in memory and a user
// created meanwhile is never shown twice. It stops at fn's first error.
func (s *Service) ExportUsers(ctx context.Context, fn func(users []store.User) error) error {
	f := store.UserFilter{Limit: ExportPage, Sort: store.SortByUsername}
	for {
		users, err := s.ListUsers(ctx, f)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		if err := fn(users); err != nil {
			return err
		}
		if len(users) < f.Limit {
			return nil
		}
		last := users[len(users)-1]
		f.After = &store.UserKey{Username: last.Username, ID: last.ID, CreatedAt: last.CreatedAt}
	}
}
