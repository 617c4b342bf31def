package store

import "context"

// BulkUser is one user of a bulk write (PutUsers) and, when Groups is not
// nil, the ids of the groups it is to belong to, exactly.
type BulkUser struct {
	User   User
	Groups []string
}

// BulkUsers reads and writes many users in few round trips, for the bulk
// import: a hundred thousand rows one statement each would take minutes.
type BulkUsers interface {
	// LookupUsers returns the users (with their roles) whose username is one
	// of usernames or whose email is one of emails, both compared
	// case-insensitively, in no particular order; a name matching nobody is
	// no error.
	LookupUsers(ctx context.Context, usernames, emails []string) ([]User, error)
	// PutUsers writes every user at once, all or nothing: a user whose ID is
	// stored has every field replaced as UpdateUser would (ID and CreatedAt
	// kept), any other is created as CreateUser would. Roles become exactly
	// u.Roles, group memberships exactly Groups when it is not nil. A
	// username or email taken by another user (or twice in users) is
	// ErrConflict, a role or group that does not exist ErrNotFound, an id
	// that is no UUID an error.
	PutUsers(ctx context.Context, users []BulkUser) error
}
