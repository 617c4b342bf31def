package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Passkeys (WebAuthn)

func copyCredential(c store.WebAuthnCredential) store.WebAuthnCredential {
	c.CredentialID = blob(c.CredentialID)
	c.PublicKey = blob(c.PublicKey)
	c.Transports = list(c.Transports)
	c.AAGUID = blob(c.AAGUID)
	c.CreatedAt = stamp(c.CreatedAt)
	c.LastUsedAt = stampPtr(c.LastUsedAt)
	return c
}

func (s *Store) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	return s.do(ctx, "create webauthn credential", func(o op) error {
		id, ok := canonicalUUID(c.ID)
		if !ok {
			return fmt.Errorf("credential id %q is not a UUID", c.ID)
		}
		if _, taken := s.credentials[id]; taken {
			return store.ErrConflict
		}
		for _, other := range s.credentials {
			if bytes.Equal(other.CredentialID, c.CredentialID) {
				return store.ErrConflict
			}
		}
		uid, err := s.userOf(c.UserID)
		if err != nil {
			return err
		}
		if len(c.CredentialID) == 0 || len(c.PublicKey) == 0 {
			return fmt.Errorf("credential id and public key are required")
		}
		c.ID, c.UserID = id, uid
		put(o, s.credentials, id, copyCredential(c))
		return nil
	})
}

func (s *Store) GetWebAuthnCredential(ctx context.Context, credentialID []byte) (store.WebAuthnCredential, error) {
	var out store.WebAuthnCredential
	err := s.do(ctx, "get webauthn credential", func(op) error {
		for _, c := range s.credentials {
			if len(credentialID) > 0 && bytes.Equal(c.CredentialID, credentialID) {
				out = copyCredential(c)
				return nil
			}
		}
		return store.ErrNotFound
	})
	return out, err
}

// ListWebAuthnCredentials orders by registration time, then id.
func (s *Store) ListWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	out := []store.WebAuthnCredential{}
	err := s.do(ctx, "list webauthn credentials", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for _, c := range s.credentials {
			if c.UserID == uid {
				out = append(out, copyCredential(c))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.WebAuthnCredential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) UpdateWebAuthnCredentialUse(ctx context.Context, id string, signCount int64, cloneWarning bool, flags int, at time.Time) error {
	return s.do(ctx, "update webauthn credential use", func(o op) error {
		cid, ok := canonicalUUID(id)
		c, exists := s.credentials[cid]
		if !ok || !exists {
			return store.ErrNotFound
		}
		c.SignCount, c.CloneWarning, c.Flags, c.LastUsedAt = signCount, cloneWarning, flags, &at
		put(o, s.credentials, cid, copyCredential(c))
		return nil
	})
}

func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	return s.do(ctx, "delete webauthn credential", func(o op) error {
		cid, ok := canonicalUUID(id)
		uid, uok := canonicalUUID(userID)
		c, exists := s.credentials[cid]
		if !ok || !uok || !exists || c.UserID != uid {
			return store.ErrNotFound
		}
		del(o, s.credentials, cid)
		return nil
	})
}

func copyCeremony(c store.WebAuthnCeremony) store.WebAuthnCeremony {
	c.SessionData = rawJSON(c.SessionData)
	c.ExpiresAt = stamp(c.ExpiresAt)
	return c
}

func (s *Store) CreateWebAuthnCeremony(ctx context.Context, c store.WebAuthnCeremony) error {
	return s.do(ctx, "create webauthn ceremony", func(o op) error {
		if _, ok := s.ceremonies[c.ID]; ok {
			return store.ErrConflict
		}
		if c.UserID != "" {
			uid, err := s.userOf(c.UserID)
			if err != nil {
				return err
			}
			c.UserID = uid
		}
		if len(c.SessionData) == 0 {
			return fmt.Errorf("session data is required")
		}
		if err := checkJSON("session data", c.SessionData); err != nil {
			return err
		}
		put(o, s.ceremonies, c.ID, copyCeremony(c))
		return nil
	})
}

func (s *Store) TakeWebAuthnCeremony(ctx context.Context, id, kind string, now time.Time) (store.WebAuthnCeremony, error) {
	var out store.WebAuthnCeremony
	err := s.do(ctx, "take webauthn ceremony", func(o op) error {
		c, ok := s.ceremonies[id]
		if !ok || c.Kind != kind {
			return store.ErrNotFound
		}
		del(o, s.ceremonies, id)
		if !now.Before(c.ExpiresAt) {
			return store.ErrNotFound
		}
		out = copyCeremony(c)
		return nil
	})
	return out, err
}

func (s *Store) DeleteExpiredWebAuthnCeremonies(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired webauthn ceremonies", func(o op) error {
		n = len(deleteExpired(o, s.ceremonies, func(c store.WebAuthnCeremony) time.Time { return c.ExpiresAt }, now, limit))
		return nil
	})
	return n, err
}
