package memory

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/store"
)

// LookupUsers reads the users by username or email through the indexes.
func (s *Store) LookupUsers(ctx context.Context, usernames, emails []string) ([]store.User, error) {
	var out []store.User
	err := s.do(ctx, "lookup users", func(op) error {
		seen := map[string]bool{}
		add := func(id string, ok bool) {
			if ok && !seen[id] {
				seen[id] = true
				out = append(out, copyUser(s.users[id]))
			}
		}
		for _, n := range usernames {
			id, ok := s.usernames[strings.ToLower(n)]
			add(id, ok)
		}
		for _, e := range emails {
			id, ok := s.emails[strings.ToLower(e)]
			add(id, ok)
		}
		return nil
	})
	return out, err
}

// PutUsers writes the users one by one in a transaction of its own (nested
// in the caller's), so that a failure of any undoes them all, as the one
// statement of PostgreSQL does.
func (s *Store) PutUsers(ctx context.Context, users []store.BulkUser) error {
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		for _, b := range users {
			u := b.User
			id, ok := canonicalUUID(u.ID)
			if !ok {
				return fmt.Errorf("id %q is not a UUID", u.ID)
			}
			u.ID = id
			var exists bool
			if err := s.do(ctx, "put users", func(op) error { _, exists = s.users[id]; return nil }); err != nil {
				return err
			}
			put := s.CreateUser
			if exists {
				put = s.UpdateUser
			}
			if err := put(ctx, u); err != nil {
				return err
			}
			if b.Groups != nil {
				if err := s.setUserGroups(ctx, id, b.Groups); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("memory: put users: %w", err)
	}
	return nil
}

// setUserGroups makes the user a member of exactly groups.
func (s *Store) setUserGroups(ctx context.Context, userID string, groups []string) error {
	return s.principalChanged(s.putUserGroups(ctx, userID, groups), store.ChangeUser, userID)
}

func (s *Store) putUserGroups(ctx context.Context, userID string, groups []string) error {
	return s.do(ctx, "set user groups", func(o op) error {
		want := map[string]bool{}
		for _, g := range groups {
			gid, ok := canonicalUUID(g)
			if _, exists := s.groups[gid]; !ok || !exists {
				return fmt.Errorf("group %q: %w", g, store.ErrNotFound)
			}
			want[gid] = true
		}
		for k := range s.members {
			if k.userID == userID && !want[k.groupID] {
				del(o, s.members, k)
			}
		}
		for gid := range want {
			if k := (memberKey{gid, userID}); !hasKey(s.members, k) {
				put(o, s.members, k, struct{}{})
			}
		}
		return nil
	})
}

func hasKey[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}
