package memory

import (
	"context"
	"slices"
	"strings"

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
// the client's grants and tokens, consents, PAR requests and system API
// tokens.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.do(ctx, "delete client", func(o op) error {
		if _, ok := s.clients[id]; !ok {
			return store.ErrNotFound
		}
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
		del(o, s.clients, id)
		return nil
	})
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
