package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Upstream identity providers

func copyIdentityProvider(p store.IdentityProvider) store.IdentityProvider {
	p.ClientSecretEnc = blob(p.ClientSecretEnc)
	p.Scopes = list(p.Scopes)
	p.NewUserRoles = list(p.NewUserRoles)
	p.CreatedAt, p.UpdatedAt = stamp(p.CreatedAt), stamp(p.UpdatedAt)
	return p
}

func copyLinkedIdentity(l store.LinkedIdentity) store.LinkedIdentity {
	l.CreatedAt = stamp(l.CreatedAt)
	l.LastUsedAt = stampPtr(l.LastUsedAt)
	return l
}

// checkIdentityProvider refuses what the table's constraints refuse.
func checkIdentityProvider(p store.IdentityProvider) error {
	if p.NewUserStatus != store.StatusPending && p.NewUserStatus != store.StatusActive {
		return fmt.Errorf("new user status %q violates identity_providers_new_user_status_check", p.NewUserStatus)
	}
	if p.ID == "" || len(p.ID) > 63 {
		return fmt.Errorf("id %q violates identity_providers_id_check", p.ID)
	}
	for i, c := range p.ID {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0
		if !ok {
			return fmt.Errorf("id %q violates identity_providers_id_check", p.ID)
		}
	}
	return nil
}

func (s *Store) CreateIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	return s.do(ctx, "create identity provider", func(o op) error {
		if err := checkIdentityProvider(p); err != nil {
			return err
		}
		if _, taken := s.idps[p.ID]; taken {
			return store.ErrConflict
		}
		put(o, s.idps, p.ID, copyIdentityProvider(p))
		return nil
	})
}

func (s *Store) GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error) {
	var out store.IdentityProvider
	err := s.do(ctx, "get identity provider", func(op) error {
		p, ok := s.idps[id]
		if !ok {
			return store.ErrNotFound
		}
		out = copyIdentityProvider(p)
		return nil
	})
	return out, err
}

func (s *Store) ListIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error) {
	out := []store.IdentityProvider{}
	err := s.do(ctx, "list identity providers", func(op) error {
		for _, p := range s.idps {
			out = append(out, copyIdentityProvider(p))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.IdentityProvider) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) UpdateIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	return s.do(ctx, "update identity provider", func(o op) error {
		old, ok := s.idps[p.ID]
		if !ok {
			return store.ErrNotFound
		}
		if err := checkIdentityProvider(p); err != nil {
			return err
		}
		p.CreatedAt = old.CreatedAt
		put(o, s.idps, p.ID, copyIdentityProvider(p))
		return nil
	})
}

func (s *Store) DeleteIdentityProvider(ctx context.Context, id string) error {
	return s.do(ctx, "delete identity provider", func(o op) error {
		if _, ok := s.idps[id]; !ok {
			return store.ErrNotFound
		}
		del(o, s.idps, id)
		for k, l := range s.links {
			if l.ProviderID == id {
				del(o, s.links, k)
			}
		}
		return nil
	})
}

func (s *Store) CreateLinkedIdentity(ctx context.Context, l store.LinkedIdentity) error {
	return s.do(ctx, "create linked identity", func(o op) error {
		id, ok := canonicalUUID(l.ID)
		if !ok {
			return fmt.Errorf("linked identity id %q is not a UUID", l.ID)
		}
		if l.Issuer == "" || l.Subject == "" {
			return fmt.Errorf("issuer and subject are required")
		}
		if _, taken := s.links[id]; taken {
			return store.ErrConflict
		}
		for _, other := range s.links {
			if other.Issuer == l.Issuer && other.Subject == l.Subject {
				return fmt.Errorf("linked_identities_issuer_subject_key: %w", store.ErrConflict)
			}
		}
		uid, err := s.userOf(l.UserID)
		if err != nil {
			return err
		}
		if _, ok := s.idps[l.ProviderID]; !ok {
			return fmt.Errorf("provider %q: %w", l.ProviderID, store.ErrNotFound)
		}
		l.ID, l.UserID = id, uid
		put(o, s.links, id, copyLinkedIdentity(l))
		return nil
	})
}

func (s *Store) GetLinkedIdentity(ctx context.Context, issuer, subject string) (store.LinkedIdentity, error) {
	var out store.LinkedIdentity
	err := s.do(ctx, "get linked identity", func(op) error {
		for _, l := range s.links {
			if l.Issuer == issuer && l.Subject == subject {
				out = copyLinkedIdentity(l)
				return nil
			}
		}
		return store.ErrNotFound
	})
	return out, err
}

// ListLinkedIdentities orders by link time, then id.
func (s *Store) ListLinkedIdentities(ctx context.Context, userID string) ([]store.LinkedIdentity, error) {
	out := []store.LinkedIdentity{}
	err := s.do(ctx, "list linked identities", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for _, l := range s.links {
			if l.UserID == uid {
				out = append(out, copyLinkedIdentity(l))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.LinkedIdentity) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) TouchLinkedIdentity(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "touch linked identity", func(o op) error {
		lid, ok := canonicalUUID(id)
		l, exists := s.links[lid]
		if !ok || !exists {
			return store.ErrNotFound
		}
		l.LastUsedAt = &at
		put(o, s.links, lid, copyLinkedIdentity(l))
		return nil
	})
}

func (s *Store) DeleteLinkedIdentity(ctx context.Context, userID, id string) error {
	return s.do(ctx, "delete linked identity", func(o op) error {
		lid, ok := canonicalUUID(id)
		uid, uok := canonicalUUID(userID)
		l, exists := s.links[lid]
		if !ok || !uok || !exists || l.UserID != uid {
			return store.ErrNotFound
		}
		del(o, s.links, lid)
		return nil
	})
}
