package postgres

import (
	"context"

	"github.com/gatehouse/gatehouse/store"
)

// principalChanged announces a write that changed what a user may do
// (store.ChangeUser, store.ChangeGroup) as a revocation of access tokens is
// announced (tokenchanges.go): to this process's observers now, to every
// instance's listener at the commit, and the outermost commit (or, outside
// a transaction, this call) returns once every listener has applied it. So
// an API principal cached on any instance is dropped before the write that
// locked the user, or took away its role, has answered. It costs the write
// one statement and the barrier's wait; reads pay nothing.
//
// Called inside the write's transaction when there is one, after its
// statements: the notification is sent if and only if they commit.
func (s *Store) principalChanged(ctx context.Context, kind store.ChangeKind, id string) error {
	n := s.announce(kind, id)
	_, err := s.db(ctx).Exec(ctx, `SELECT pg_notify('`+changeChannel+`', $1)`, n.payload)
	return n.done(ctx, err, "")
}
