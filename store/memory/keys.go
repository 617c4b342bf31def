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
// Signing keys

func copyKey(k store.SigningKey) store.SigningKey {
	k.PrivateKey = blob(k.PrivateKey)
	k.PublicKey = rawJSON(k.PublicKey)
	k.CreatedAt = stamp(k.CreatedAt)
	k.VerifyUntil = stampPtr(k.VerifyUntil)
	return k
}

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	var out []store.SigningKey
	err := s.do(ctx, "list signing keys", func(op) error {
		for _, k := range s.keys {
			out = append(out, copyKey(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// keyIn returns the id of the key of alg in state, or "" if there is none.
func (s *Store) keyIn(alg string, state store.KeyState) string {
	for id, k := range s.keys {
		if k.Algorithm == alg && k.State == state {
			return id
		}
	}
	return ""
}

func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	return s.do(ctx, "add signing key", func(o op) error {
		if k.State != store.KeyActive && k.State != store.KeyNext {
			return fmt.Errorf("state %q: only an active or next key can be added", k.State)
		}
		if err := checkJSON("public key", k.PublicKey); err != nil {
			return err
		}
		if _, ok := s.keys[k.ID]; ok {
			return store.ErrConflict
		}
		if s.keyIn(k.Algorithm, k.State) != "" {
			return fmt.Errorf("a %s %s key exists: %w", k.State, k.Algorithm, store.ErrConflict)
		}
		put(o, s.keys, k.ID, copyKey(k))
		return nil
	})
}

// RotateSigningKeys compares the current active and next keys of
// newNext's algorithm (absent ones as "") with the expectations and swaps
// only if both match; keys of other algorithms are untouched.
func (s *Store) RotateSigningKeys(ctx context.Context, expectActive, expectNext string, newNext store.SigningKey, retireUntil time.Time) error {
	return s.do(ctx, "rotate signing keys", func(o op) error {
		active, next := s.keyIn(newNext.Algorithm, store.KeyActive), s.keyIn(newNext.Algorithm, store.KeyNext)
		if active != expectActive || next != expectNext {
			return fmt.Errorf("active %q and next %q, expected %q and %q: %w", active, next, expectActive, expectNext, store.ErrConflict)
		}
		if err := checkJSON("public key", newNext.PublicKey); err != nil {
			return err
		}
		if _, ok := s.keys[newNext.ID]; ok {
			return store.ErrConflict
		}
		if active != "" {
			k := s.keys[active]
			k.State = store.KeyRetired
			k.VerifyUntil = &retireUntil
			put(o, s.keys, active, copyKey(k))
		}
		if next != "" {
			k := s.keys[next]
			k.State = store.KeyActive
			put(o, s.keys, next, copyKey(k))
		}
		newNext.State = store.KeyNext
		put(o, s.keys, newNext.ID, copyKey(newNext))
		return nil
	})
}

func (s *Store) DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.do(ctx, "delete retired signing keys", func(o op) error {
		for id, k := range s.keys {
			if k.State == store.KeyRetired && k.VerifyUntil != nil && k.VerifyUntil.Before(now) {
				del(o, s.keys, id)
				n++
			}
		}
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// JWT ids

func (s *Store) MarkJWTIDUsed(ctx context.Context, jti string, expiresAt, now time.Time) error {
	return s.do(ctx, "mark JWT id used", func(o op) error {
		if exp, ok := s.jtis[jti]; ok && now.Before(exp) {
			return store.ErrConflict
		}
		put(o, s.jtis, jti, stamp(expiresAt))
		return nil
	})
}

func (s *Store) IsJWTIDUsed(ctx context.Context, jti string, now time.Time) (bool, error) {
	var used bool
	err := s.do(ctx, "is JWT id used", func(op) error {
		exp, ok := s.jtis[jti]
		used = ok && now.Before(exp)
		return nil
	})
	return used, err
}

func (s *Store) DeleteExpiredJWTIDs(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired JWT ids", func(o op) error {
		n = len(deleteExpired(o, s.jtis, func(exp time.Time) time.Time { return exp }, now, limit))
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// Trusted issuers

func copyIssuer(t store.TrustedIssuer) store.TrustedIssuer {
	t.PublicKey = rawJSON(t.PublicKey)
	t.Scopes = list(t.Scopes)
	t.ExpiresAt = stamp(t.ExpiresAt)
	t.CreatedAt = stamp(t.CreatedAt)
	return t
}

func (s *Store) CreateTrustedIssuer(ctx context.Context, t store.TrustedIssuer) error {
	return s.do(ctx, "create trusted issuer", func(o op) error {
		id, ok := canonicalUUID(t.ID)
		if !ok {
			return fmt.Errorf("id %q is not a UUID", t.ID)
		}
		t.ID = id
		if err := checkJSON("public key", t.PublicKey); err != nil {
			return err
		}
		if _, ok := s.issuers[id]; ok {
			return store.ErrConflict
		}
		for _, other := range s.issuers {
			if other.Issuer == t.Issuer && other.Subject == t.Subject && other.KeyID == t.KeyID {
				return store.ErrConflict
			}
		}
		put(o, s.issuers, id, copyIssuer(t))
		return nil
	})
}

func (s *Store) ListTrustedIssuers(ctx context.Context) ([]store.TrustedIssuer, error) {
	return s.findIssuers(ctx, "list trusted issuers", func(store.TrustedIssuer) bool { return true })
}

func (s *Store) FindTrustedIssuerKeys(ctx context.Context, issuer, subject, keyID string, now time.Time) ([]store.TrustedIssuer, error) {
	return s.findIssuers(ctx, "find trusted issuer keys", func(t store.TrustedIssuer) bool {
		return t.Issuer == issuer &&
			(t.Subject == subject || t.Subject == "") &&
			(keyID == "" || t.KeyID == keyID) &&
			now.Before(t.ExpiresAt)
	})
}

// findIssuers returns the matching relationships, oldest first.
func (s *Store) findIssuers(ctx context.Context, what string, match func(store.TrustedIssuer) bool) ([]store.TrustedIssuer, error) {
	var out []store.TrustedIssuer
	err := s.do(ctx, what, func(op) error {
		for _, t := range s.issuers {
			if match(t) {
				out = append(out, copyIssuer(t))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.TrustedIssuer) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) DeleteTrustedIssuer(ctx context.Context, id string) error {
	return s.do(ctx, "delete trusted issuer", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		if _, ok := s.issuers[uid]; !ok {
			return store.ErrNotFound
		}
		del(o, s.issuers, uid)
		return nil
	})
}
