package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func copyAPIToken(t store.APIToken) store.APIToken {
	t.Scopes = list(t.Scopes)
	t.SecretHash = blob(t.SecretHash)
	t.CreatedAt = stamp(t.CreatedAt)
	t.ExpiresAt = stamp(t.ExpiresAt)
	t.LastUsedAt = stampPtr(t.LastUsedAt)
	t.RevokedAt = stampPtr(t.RevokedAt)
	return t
}

// checkAPITokenOwner enforces what a CHECK constraint would: personal and
// user tokens act as a user, system tokens as a client, never both.
func checkAPITokenOwner(t store.APIToken) error {
	switch t.Kind {
	case store.TokenPersonal, store.TokenUser:
		if t.UserID == "" || t.ClientID != "" {
			return fmt.Errorf("a %s token acts as a user and no client", t.Kind)
		}
	case store.TokenSystem:
		if t.ClientID == "" || t.UserID != "" {
			return fmt.Errorf("a system token acts as a client and no user")
		}
	default:
		return fmt.Errorf("unknown API token kind %q", t.Kind)
	}
	return nil
}

func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	return s.do(ctx, "create API token", func(o op) error {
		id, ok := canonicalUUID(t.ID)
		if !ok {
			return fmt.Errorf("id %q is not a UUID", t.ID)
		}
		t.ID = id
		if err := checkAPITokenOwner(t); err != nil {
			return err
		}
		if _, ok := s.apiTokens[id]; ok {
			return store.ErrConflict
		}
		if _, ok := s.apiHashes[string(t.SecretHash)]; ok {
			return fmt.Errorf("secret digest: %w", store.ErrConflict)
		}
		if t.UserID != "" {
			uid, _ := canonicalUUID(t.UserID)
			if _, ok := s.users[uid]; !ok {
				return fmt.Errorf("user %q: %w", t.UserID, store.ErrNotFound)
			}
			t.UserID = uid
		}
		if t.ClientID != "" {
			if _, ok := s.clients[t.ClientID]; !ok {
				return fmt.Errorf("client %q: %w", t.ClientID, store.ErrNotFound)
			}
		}
		put(o, s.apiTokens, id, copyAPIToken(t))
		put(o, s.apiHashes, string(t.SecretHash), id)
		return nil
	})
}

func (s *Store) GetAPIToken(ctx context.Context, id string) (store.APIToken, error) {
	var out store.APIToken
	err := s.do(ctx, "get API token", func(op) error {
		tid, _ := canonicalUUID(id)
		t, ok := s.apiTokens[tid]
		if !ok {
			return store.ErrNotFound
		}
		out = copyAPIToken(t)
		return nil
	})
	return out, err
}

func (s *Store) GetAPITokenBySecretHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	var out store.APIToken
	err := s.do(ctx, "get API token by secret", func(op) error {
		id, ok := s.apiHashes[string(hash)]
		if !ok {
			return store.ErrNotFound
		}
		out = copyAPIToken(s.apiTokens[id])
		return nil
	})
	return out, err
}

// ListAPITokens orders by CreatedAt descending, then ID descending, as
// ListAccessRequests does.
func (s *Store) ListAPITokens(ctx context.Context, userID, clientID string) ([]store.APIToken, error) {
	var out []store.APIToken
	err := s.do(ctx, "list API tokens", func(op) error {
		uid := ""
		if userID != "" {
			id, ok := canonicalUUID(userID)
			if !ok {
				return nil
			}
			uid = id
		}
		for _, t := range s.apiTokens {
			if uid != "" && t.UserID != uid {
				continue
			}
			if clientID != "" && t.ClientID != clientID {
				continue
			}
			out = append(out, copyAPIToken(t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.APIToken) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

func (s *Store) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "revoke API token", func(o op) error {
		tid, _ := canonicalUUID(id)
		t, ok := s.apiTokens[tid]
		if !ok || t.RevokedAt != nil {
			return store.ErrNotFound
		}
		t.RevokedAt = &at
		put(o, s.apiTokens, tid, copyAPIToken(t))
		return nil
	})
}

func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "touch API token", func(o op) error {
		tid, _ := canonicalUUID(id)
		t, ok := s.apiTokens[tid]
		if !ok {
			return store.ErrNotFound
		}
		t.LastUsedAt = &at
		put(o, s.apiTokens, tid, copyAPIToken(t))
		return nil
	})
}

// deleteAPITokensWhere removes the API tokens that match, with their
// digests.
func (s *Store) deleteAPITokensWhere(o op, match func(store.APIToken) bool) {
	for id, t := range s.apiTokens {
		if match(t) {
			del(o, s.apiHashes, string(t.SecretHash))
			del(o, s.apiTokens, id)
		}
	}
}
