package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func copyClient(c store.Client) store.Client {
	c.SecretHash = blob(c.SecretHash)
	c.RedirectURIs = list(c.RedirectURIs)
	c.PostLogoutRedirectURIs = list(c.PostLogoutRedirectURIs)
	c.AllowedOrigins = list(c.AllowedOrigins)
	c.GrantTypes = list(c.GrantTypes)
	c.ResponseTypes = list(c.ResponseTypes)
	c.Scopes = list(c.Scopes)
	c.Audience = list(c.Audience)
	c.JWKS = rawJSON(c.JWKS)
	c.Roles = list(c.Roles)
	c.CreatedAt = stamp(c.CreatedAt)
	c.UpdatedAt = stamp(c.UpdatedAt)
	c.RegistrationTokenHash = blob(c.RegistrationTokenHash)
	c.LastUsedAt = stampPtr(c.LastUsedAt)
	c.Contacts = list(c.Contacts)
	c.Access.Roles, c.Access.Groups, c.Access.Areas = list(c.Access.Roles), list(c.Access.Groups), list(c.Access.Areas)
	return c
}

func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	return s.do(ctx, "create client", func(o op) error {
		if err := checkJSON("jwks", c.JWKS); err != nil {
			return err
		}
		if _, ok := s.clients[c.ID]; ok {
			return store.ErrConflict
		}
		put(o, s.clients, c.ID, copyClient(c))
		return nil
	})
}

// GetClientForUpdate is GetClient: a transaction holds the whole store.
func (s *Store) GetClientForUpdate(ctx context.Context, id string) (store.Client, error) {
	return s.GetClient(ctx, id)
}

func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	var out store.Client
	err := s.do(ctx, "get client", func(op) error {
		c, ok := s.clients[id]
		if !ok {
			return store.ErrNotFound
		}
		out = copyClient(c)
		return nil
	})
	return out, err
}

func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	return s.do(ctx, "update client", func(o op) error {
		if err := checkJSON("jwks", c.JWKS); err != nil {
			return err
		}
		old, ok := s.clients[c.ID]
		if !ok {
			return store.ErrNotFound
		}
		c.CreatedAt = old.CreatedAt
		put(o, s.clients, c.ID, copyClient(c))
		return nil
	})
}

// DeleteClient removes what a foreign key with ON DELETE CASCADE would:
// the client's grants and tokens, consents, PAR requests, system API
// tokens and queued back-channel logouts.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.do(ctx, "delete client", func(o op) error {
		if _, ok := s.clients[id]; !ok {
			return store.ErrNotFound
		}
		s.deleteClient(o, id)
		return nil
	})
}

// deleteClient is DeleteClient's cascade, inside a transaction.
func (s *Store) deleteClient(o op, id string) {
	s.deleteGrantsWhere(o, func(g store.Grant) bool { return g.ClientID == id })
	for k, t := range s.tokens {
		if t.ClientID == id {
			del(o, s.tokens, k)
		}
	}
	for k := range s.consents {
		if k.clientID == id {
			del(o, s.consents, k)
		}
	}
	for k, p := range s.pars {
		if p.ClientID == id {
			del(o, s.pars, k)
		}
	}
	s.deleteAPITokensWhere(o, func(t store.APIToken) bool { return t.ClientID == id })
	s.deleteDeviceCodesWhere(o, func(d store.DeviceCode) bool { return d.ClientID == id })
	for k, l := range s.logouts {
		if l.ClientID == id {
			del(o, s.logouts, k)
		}
	}
	del(o, s.clients, id)
}

func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	var out []store.Client
	err := s.do(ctx, "list clients", func(op) error {
		for _, c := range s.clients {
			out = append(out, copyClient(c))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) TouchClient(ctx context.Context, id string, at, notBefore time.Time) error {
	return s.do(ctx, "touch client", func(o op) error {
		c, ok := s.clients[id]
		if !ok || !c.Registered || (c.LastUsedAt != nil && c.LastUsedAt.After(notBefore)) {
			return nil
		}
		c.LastUsedAt = stampPtr(&at)
		put(o, s.clients, id, c)
		return nil
	})
}

func (s *Store) DeleteUnusedRegisteredClients(ctx context.Context, before time.Time, limit int) (int, error) {
	n := 0
	err := s.do(ctx, "delete unused registered clients", func(o op) error {
		var ids []string
		for id, c := range s.clients {
			used := c.CreatedAt
			if c.LastUsedAt != nil {
				used = *c.LastUsedAt
			}
			if c.Registered && used.Before(before) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		if len(ids) > limit {
			ids = ids[:limit]
		}
		for _, id := range ids {
			s.deleteClient(o, id)
		}
		n = len(ids)
		return nil
	})
	return n, err
}

func (s *Store) CountRegisteredClients(ctx context.Context) (int, error) {
	n := 0
	err := s.do(ctx, "count registered clients", func(op) error {
		for _, c := range s.clients {
			if c.Registered {
				n++
			}
		}
		return nil
	})
	return n, err
}
