package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

const clientColumns = `id, name, secret_hash, token_endpoint_auth_method, redirect_uris,
	post_logout_redirect_uris, allowed_origins, grant_types, response_types, scopes, audience,
	public, first_party, jwks, access_token_format, authorization_code_lifetime,
	access_token_lifetime, id_token_lifetime, refresh_token_lifetime, roles, created_at, updated_at,
	id_token_signed_response_alg, backchannel_logout_uri, backchannel_logout_session_required,
	registered, registration_token_hash, last_used_at, client_uri, logo_uri, contacts,
	dpop_bound_access_tokens, access_roles, access_groups, access_areas`

// clientArgs lists c in the order of clientColumns.
func clientArgs(c store.Client) []any {
	return []any{c.ID, c.Name, c.SecretHash, c.TokenEndpointAuthMethod, list(c.RedirectURIs),
		list(c.PostLogoutRedirectURIs), list(c.AllowedOrigins), list(c.GrantTypes), list(c.ResponseTypes),
		list(c.Scopes), list(c.Audience), c.Public, c.FirstParty, jsonArg(c.JWKS), string(c.AccessTokenFormat),
		c.Lifetimes.AuthorizationCode, c.Lifetimes.AccessToken, c.Lifetimes.IDToken, c.Lifetimes.RefreshToken,
		list(c.Roles), c.CreatedAt, c.UpdatedAt, c.IDTokenSignedResponseAlg,
		c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired,
		c.Registered, blobArg(c.RegistrationTokenHash), c.LastUsedAt, c.ClientURI, c.LogoURI, list(c.Contacts),
		c.DPoPBoundAccessTokens, list(c.Access.Roles), list(c.Access.Groups), list(c.Access.Areas)}
}

func scanClient(row pgx.Row) (store.Client, error) {
	var c store.Client
	var format string
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.TokenEndpointAuthMethod, &c.RedirectURIs,
		&c.PostLogoutRedirectURIs, &c.AllowedOrigins, &c.GrantTypes, &c.ResponseTypes, &c.Scopes, &c.Audience,
		&c.Public, &c.FirstParty, &c.JWKS, &format, &c.Lifetimes.AuthorizationCode,
		&c.Lifetimes.AccessToken, &c.Lifetimes.IDToken, &c.Lifetimes.RefreshToken, &c.Roles,
		&c.CreatedAt, &c.UpdatedAt, &c.IDTokenSignedResponseAlg,
		&c.BackchannelLogoutURI, &c.BackchannelLogoutSessionRequired,
		&c.Registered, &c.RegistrationTokenHash, &c.LastUsedAt, &c.ClientURI, &c.LogoURI, &c.Contacts,
		&c.DPoPBoundAccessTokens, &c.Access.Roles, &c.Access.Groups, &c.Access.Areas)
	if err != nil {
		return store.Client{}, err
	}
	c.AccessTokenFormat = store.AccessTokenFormat(format)
	c.RedirectURIs, c.PostLogoutRedirectURIs = list(c.RedirectURIs), list(c.PostLogoutRedirectURIs)
	c.AllowedOrigins, c.GrantTypes, c.ResponseTypes = list(c.AllowedOrigins), list(c.GrantTypes), list(c.ResponseTypes)
	c.Scopes, c.Audience, c.Roles = list(c.Scopes), list(c.Audience), list(c.Roles)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	c.LastUsedAt = utcPtr(c.LastUsedAt)
	c.Contacts = list(c.Contacts)
	c.Access.Roles, c.Access.Groups, c.Access.Areas = list(c.Access.Roles), list(c.Access.Groups), list(c.Access.Areas)
	return c, nil
}

// CreateClient stores c; ErrConflict if the id is taken.
func (s *Store) CreateClient(ctx context.Context, c store.Client) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)`,
		clientArgs(c)...)
	if err != nil {
		return fmt.Errorf("postgres: create client %q: %w", c.ID, classify(err, nil))
	}
	return nil
}

// GetClient returns ErrNotFound if there is no such client.
func (s *Store) GetClient(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.db(ctx).QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return store.Client{}, fmt.Errorf("postgres: get client %q: %w", id, classify(err, nil))
	}
	return c, nil
}

// GetClientForUpdate locks the row (FOR UPDATE) inside a transaction.
func (s *Store) GetClientForUpdate(ctx context.Context, id string) (store.Client, error) {
	c, err := scanClient(s.db(ctx).QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return store.Client{}, fmt.Errorf("postgres: get client %q for update: %w", id, classify(err, nil))
	}
	return c, nil
}

// UpdateClient replaces every field but ID and CreatedAt.
func (s *Store) UpdateClient(ctx context.Context, c store.Client) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE clients SET name = $2, secret_hash = $3,
			token_endpoint_auth_method = $4, redirect_uris = $5, post_logout_redirect_uris = $6,
			allowed_origins = $7, grant_types = $8, response_types = $9, scopes = $10, audience = $11,
			public = $12, first_party = $13, jwks = $14, access_token_format = $15,
			authorization_code_lifetime = $16, access_token_lifetime = $17, id_token_lifetime = $18,
			refresh_token_lifetime = $19, roles = $20, updated_at = $21,
			id_token_signed_response_alg = $22,
			backchannel_logout_uri = $23, backchannel_logout_session_required = $24,
			registered = $25, registration_token_hash = $26,
			last_used_at = $27, client_uri = $28, logo_uri = $29, contacts = $30,
			dpop_bound_access_tokens = $31, access_roles = $32, access_groups = $33, access_areas = $34
		WHERE id = $1`,
		append(clientArgs(c)[:20:20], c.UpdatedAt, c.IDTokenSignedResponseAlg,
			c.BackchannelLogoutURI, c.BackchannelLogoutSessionRequired,
			c.Registered, blobArg(c.RegistrationTokenHash), c.LastUsedAt, c.ClientURI, c.LogoURI, list(c.Contacts),
			c.DPoPBoundAccessTokens, list(c.Access.Roles), list(c.Access.Groups), list(c.Access.Areas))...)
	if err != nil {
		return fmt.Errorf("postgres: update client %q: %w", c.ID, classify(err, nil))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update client %q: %w", c.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteClient removes the client; its grants, tokens, consents and PAR
// requests go with it through ON DELETE CASCADE.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete client %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete client %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// ListClients returns every client ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	clients, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Client, error) { return scanClient(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return clients, nil
}

// blobArg passes bytes to a bytea column; empty is NULL, as the memory
// store reads it back.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// TouchClient sets a registered client's last_used_at unless it is after
// notBefore already: most calls match no row and write nothing.
func (s *Store) TouchClient(ctx context.Context, id string, at, notBefore time.Time) error {
	_, err := s.db(ctx).Exec(ctx, `UPDATE clients SET last_used_at = $2
		WHERE id = $1 AND registered AND (last_used_at IS NULL OR last_used_at <= $3)`, id, at, notBefore)
	if err != nil {
		return fmt.Errorf("postgres: touch client %q: %w", id, err)
	}
	return nil
}

// DeleteUnusedRegisteredClients deletes a batch of registered clients
// unused since before; what belongs to them goes through ON DELETE CASCADE.
func (s *Store) DeleteUnusedRegisteredClients(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM clients WHERE id IN (
		SELECT id FROM clients WHERE registered AND coalesce(last_used_at, created_at) < $1
		ORDER BY coalesce(last_used_at, created_at) LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete unused registered clients: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// CountRegisteredClients counts the registered clients.
func (s *Store) CountRegisteredClients(ctx context.Context) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM clients WHERE registered`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count registered clients: %w", err)
	}
	return n, nil
}
