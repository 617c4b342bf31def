package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func copyToken(t store.Token) store.Token {
	t.GrantedScopes = list(t.GrantedScopes)
	t.RequestedAt = stamp(t.RequestedAt)
	t.ExpiresAt = stamp(t.ExpiresAt)
	t.Request = blob(t.Request)
	t.RotatedAt = stampPtr(t.RotatedAt)
	t.RewoundAt = stampPtr(t.RewoundAt)
	return t
}

func copyGrant(g store.Grant) store.Grant {
	g.GrantedScopes = list(g.GrantedScopes)
	g.RequestedAt = stamp(g.RequestedAt)
	return g
}

// CreateToken checks the references a foreign key would: the client, and
// the user when there is one. The login session is not checked: grants
// outlive the sessions they were made in.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	return s.do(ctx, "create token", func(o op) error {
		k := tokenKey{t.Kind, t.Signature}
		if _, ok := s.tokens[k]; ok {
			return store.ErrConflict
		}
		if _, ok := s.clients[t.ClientID]; !ok {
			return fmt.Errorf("client %q: %w", t.ClientID, store.ErrNotFound)
		}
		if t.UserID != "" {
			id, ok := canonicalUUID(t.UserID)
			if _, exists := s.users[id]; !ok || !exists {
				return fmt.Errorf("user %q: %w", t.UserID, store.ErrNotFound)
			}
			t.UserID = id
		}
		if p := t.DPoPProof; p != nil {
			if len(p.JTIHash) != 32 {
				return fmt.Errorf("DPoP proof digest of %d bytes, want 32", len(p.JTIHash))
			}
			if exp, ok := s.dpopProofs[string(p.JTIHash)]; ok && p.Now.Before(exp) {
				return store.ErrDPoPProofUsed
			}
			put(o, s.dpopProofs, string(p.JTIHash), stamp(p.ExpiresAt))
			t.DPoPProof = nil // recorded, not part of the token
		}
		if _, ok := s.grants[t.RequestID]; !ok {
			put(o, s.grants, t.RequestID, copyGrant(store.Grant{
				ID:             t.RequestID,
				ClientID:       t.ClientID,
				Subject:        t.Subject,
				UserID:         t.UserID,
				LoginSessionID: t.LoginSessionID,
				GrantedScopes:  t.GrantedScopes,
				RequestedAt:    t.RequestedAt,
			}))
		}
		put(o, s.tokens, k, copyToken(t))
		return nil
	})
}

// GetToken needs no row lock of its own: inside a transaction the store
// lock is held until the transaction ends, which serializes redemptions.
func (s *Store) GetToken(ctx context.Context, kind store.TokenKind, signature string) (store.Token, error) {
	var out store.Token
	err := s.do(ctx, "get token", func(op) error {
		t, ok := s.tokens[tokenKey{kind, signature}]
		if !ok {
			return store.ErrNotFound
		}
		out = copyToken(t)
		return nil
	})
	return out, err
}

func (s *Store) DeactivateToken(ctx context.Context, kind store.TokenKind, signature string) error {
	var requestID string
	err := s.do(ctx, "deactivate token", func(o op) error {
		k := tokenKey{kind, signature}
		t, ok := s.tokens[k]
		if !ok || !t.Active {
			return store.ErrNotFound
		}
		requestID = t.RequestID
		s.deactivate(o, k, t)
		return nil
	})
	if err == nil && kind == store.KindAccessToken {
		s.tokensChanged(store.ChangeGrantTokens, requestID)
	}
	return err
}

func (s *Store) RotateToken(ctx context.Context, kind store.TokenKind, signature string, at time.Time) error {
	return s.do(ctx, "rotate token", func(o op) error {
		k := tokenKey{kind, signature}
		t, ok := s.tokens[k]
		if !ok || !t.Active {
			return store.ErrNotFound
		}
		t.RotatedAt = stampPtr(&at)
		s.deactivate(o, k, t)
		return nil
	})
}

// RewindRotation needs no row locks of its own: the store lock is held for
// the whole call (and, inside a transaction, until it ends).
func (s *Store) RewindRotation(ctx context.Context, kind store.TokenKind, signature string, since, at time.Time) error {
	return s.do(ctx, "rewind rotation", func(o op) error {
		k := tokenKey{kind, signature}
		t, ok := s.tokens[k]
		if !ok || t.Active || t.RotatedAt == nil || t.RotatedAt.Before(stamp(since)) || t.RewoundAt != nil {
			return store.ErrNotFound
		}
		var successors []tokenKey
		live := false
		for sk, st := range s.tokens {
			if sk.kind == kind && st.Predecessor == signature {
				successors = append(successors, sk)
				live = live || st.Active
			}
		}
		if !live {
			return store.ErrNotFound
		}
		for _, sk := range successors {
			if st := s.tokens[sk]; st.Active {
				s.deactivate(o, sk, st)
			}
		}
		t.Active = true
		t.RewoundAt = stampPtr(&at)
		put(o, s.tokens, k, t)
		return nil
	})
}

// deactivate stores an inactive copy: stored values are never changed in
// place, so that the undo log can restore them.
func (s *Store) deactivate(o op, k tokenKey, t store.Token) {
	t.Active = false
	put(o, s.tokens, k, t)
}

func (s *Store) DeleteToken(ctx context.Context, kind store.TokenKind, signature string) error {
	var requestID string
	err := s.do(ctx, "delete token", func(o op) error {
		k := tokenKey{kind, signature}
		t, ok := s.tokens[k]
		if !ok {
			return store.ErrNotFound
		}
		requestID = t.RequestID
		del(o, s.tokens, k)
		s.dropClientGrant(o, requestID)
		return nil
	})
	if err == nil && kind == store.KindAccessToken {
		s.tokensChanged(store.ChangeGrantTokens, requestID)
	}
	return err
}

func (s *Store) DeactivateTokensByRequest(ctx context.Context, kind store.TokenKind, requestID string) error {
	err := s.do(ctx, "deactivate tokens by request", func(o op) error {
		for k, t := range s.tokens {
			if k.kind == kind && t.RequestID == requestID && t.Active {
				s.deactivate(o, k, t)
			}
		}
		return nil
	})
	if err == nil && kind == store.KindAccessToken {
		s.tokensChanged(store.ChangeGrantTokens, requestID)
	}
	return err
}

func (s *Store) DeleteTokensByRequest(ctx context.Context, kind store.TokenKind, requestID string) error {
	err := s.do(ctx, "delete tokens by request", func(o op) error {
		for k, t := range s.tokens {
			if k.kind == kind && t.RequestID == requestID {
				del(o, s.tokens, k)
			}
		}
		s.dropClientGrant(o, requestID)
		return nil
	})
	if err == nil && kind == store.KindAccessToken {
		s.tokensChanged(store.ChangeGrantTokens, requestID)
	}
	return err
}

func (s *Store) GetGrant(ctx context.Context, requestID string) (store.Grant, error) {
	var out store.Grant
	err := s.do(ctx, "get grant", func(op) error {
		g, ok := s.grants[requestID]
		if !ok {
			return store.ErrNotFound
		}
		out = copyGrant(g)
		return nil
	})
	return out, err
}

func (s *Store) RevokeGrant(ctx context.Context, requestID string) error {
	err := s.do(ctx, "revoke grant", func(o op) error {
		if _, ok := s.grants[requestID]; !ok {
			return store.ErrNotFound
		}
		s.revokeGrants(o, map[string]bool{requestID: true})
		return nil
	})
	if err == nil {
		s.tokensChanged(store.ChangeGrantTokens, requestID)
	}
	return err
}

// revokeGrants deactivates every token of the grants in ids.
func (s *Store) revokeGrants(o op, ids map[string]bool) {
	for k, t := range s.tokens {
		if ids[t.RequestID] && t.Active {
			s.deactivate(o, k, t)
		}
	}
}

func (s *Store) RevokeGrantsBySession(ctx context.Context, loginSessionID string) (int, error) {
	var n int
	err := s.do(ctx, "revoke grants by session", func(o op) error {
		if loginSessionID == "" {
			return nil
		}
		ids := map[string]bool{}
		for id, g := range s.grants {
			if g.LoginSessionID == loginSessionID {
				ids[id] = true
			}
		}
		s.revokeGrants(o, ids)
		n = len(ids)
		return nil
	})
	if err == nil && loginSessionID != "" {
		s.tokensChanged(store.ChangeSessionTokens, loginSessionID)
	}
	return n, err
}

func (s *Store) MoveSessionGrants(ctx context.Context, from, to string) (int, error) {
	var n int
	err := s.do(ctx, "move grants of session", func(o op) error {
		if from == "" || from == to {
			return nil
		}
		for id, g := range s.grants {
			if g.LoginSessionID == from {
				if _, ok := s.sessions[to]; !ok {
					return fmt.Errorf("session %q: %w", to, store.ErrNotFound)
				}
				g.LoginSessionID = to
				put(o, s.grants, id, g)
				n++
			}
		}
		return nil
	})
	return n, err
}

func (s *Store) RevokeGrantsByUser(ctx context.Context, userID, clientID string) (int, error) {
	var n int
	err := s.do(ctx, "revoke grants by user", func(o op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		ids := map[string]bool{}
		for id, g := range s.grants {
			if g.UserID == uid && (clientID == "" || g.ClientID == clientID) {
				ids[id] = true
			}
		}
		live := map[string]bool{}
		for _, t := range s.tokens {
			if ids[t.RequestID] && t.Active {
				live[t.RequestID] = true
			}
		}
		s.revokeGrants(o, ids)
		n = len(live)
		return nil
	})
	if uid, ok := canonicalUUID(userID); err == nil && ok {
		s.tokensChanged(store.ChangeUserTokens, uid)
	}
	return n, err
}

// DeleteExpiredTokens removes the longest-expired tokens first, then the
// grants it left without any token.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired tokens", func(o op) error {
		if limit <= 0 {
			return nil
		}
		var expired []tokenKey
		for k, t := range s.tokens {
			if t.ExpiresAt.Before(now) {
				expired = append(expired, k)
			}
		}
		slices.SortFunc(expired, func(a, b tokenKey) int { return s.tokens[a].ExpiresAt.Compare(s.tokens[b].ExpiresAt) })
		expired = expired[:min(limit, len(expired))]
		touched := map[string]bool{}
		for _, k := range expired {
			touched[s.tokens[k].RequestID] = true
			del(o, s.tokens, k)
		}
		for _, t := range s.tokens {
			delete(touched, t.RequestID)
		}
		for id := range touched {
			del(o, s.grants, id)
			del(o, s.clientGrants, id)
		}
		n = len(expired)
		return nil
	})
	return n, err
}

// deleteGrantsWhere removes the grants that match and all their tokens.
func (s *Store) deleteGrantsWhere(o op, match func(store.Grant) bool) {
	ids := map[string]bool{}
	for id, g := range s.grants {
		if match(g) {
			ids[id] = true
			del(o, s.grants, id)
			del(o, s.clientGrants, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	for k, t := range s.tokens {
		if ids[t.RequestID] {
			del(o, s.tokens, k)
		}
	}
}
