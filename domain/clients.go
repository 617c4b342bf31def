package domain

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ClientPatch is a partial update of a client; nil fields are left alone.
type ClientPatch struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	AllowedOrigins         *[]string
	GrantTypes             *[]string
	Scopes                 *[]string
	Audience               *[]string
	Roles                  *[]string
	FirstParty             *bool
	AccessTokenFormat      *store.AccessTokenFormat
	// IDTokenSignedResponseAlg: "" (the RS256 default), RS256 or ES256.
	IDTokenSignedResponseAlg *string
	Lifetimes                *store.Lifetimes

	// Back-channel logout.
	BackchannelLogoutURI             *string
	BackchannelLogoutSessionRequired *bool
	// DPoP (RFC 9449): every token request must carry a proof.
	DPoPBoundAccessTokens *bool
	// App access rules (appaccess): the whole rule is replaced.
	Access *store.ClientAccess
}

// clientFields are the audited fields of a client: never its secret or its
// digest. The JWKS holds public keys only, but is recorded as present or
// not: its bulk says nothing a reader of the log needs.
func clientFields(c store.Client) fields {
	return fields{
		"client_name":                  c.Name,
		"token_endpoint_auth_method":   c.TokenEndpointAuthMethod,
		"redirect_uris":                auditList(c.RedirectURIs),
		"post_logout_redirect_uris":    auditList(c.PostLogoutRedirectURIs),
		"allowed_origins":              auditList(c.AllowedOrigins),
		"grant_types":                  auditList(c.GrantTypes),
		"response_types":               auditList(c.ResponseTypes),
		"scope":                        auditList(c.Scopes),
		"audience":                     auditList(c.Audience),
		"public":                       c.Public,
		"first_party":                  c.FirstParty,
		"jwks":                         len(c.JWKS) > 0,
		"access_token_format":          string(c.AccessTokenFormat),
		"id_token_signed_response_alg": c.IDTokenSignedResponseAlg,
		"lifetimes":                    lifetimeFields(c.Lifetimes),
		"roles":                        auditList(set(c.Roles)),

		"backchannel_logout_uri":              c.BackchannelLogoutURI,
		"backchannel_logout_session_required": c.BackchannelLogoutSessionRequired,
		"dpop_bound_access_tokens":            c.DPoPBoundAccessTokens,
		// App access rules (appaccess).
		"access_roles":  auditList(set(c.Access.Roles)),
		"access_groups": auditList(set(c.Access.Groups)),
		"access_areas":  auditList(set(c.Access.Areas)),
	}
}

func lifetimeFields(l store.Lifetimes) map[string]string {
	out := map[string]string{}
	for k, d := range map[string]time.Duration{
		"authorization_code": l.AuthorizationCode,
		"access_token":       l.AccessToken,
		"id_token":           l.IDToken,
		"refresh_token":      l.RefreshToken,
	} {
		if d != 0 {
			out[k] = d.String()
		}
	}
	return out
}

// ConsoleClientID is the client of the admin console (package console
// registers it at start): a public PKCE client, first-party so that the
// console signs in without a consent page.
const ConsoleClientID = "gatehouse-console"

// checkConsoleClient keeps the console's client what the console needs: a
// confidential one would ask the browser for a secret it cannot keep, and
// a third-party one would put a consent page before every administrator's
// sign-in. Every create and update of a client checks it.
func checkConsoleClient(c store.Client) *ValidationError {
	if c.ID != ConsoleClientID {
		return nil
	}
	if !c.Public || c.TokenEndpointAuthMethod != AuthNone {
		return invalid("public", "the console's client %s must stay a public client", ConsoleClientID)
	}
	if !c.FirstParty {
		return invalid("first_party", "the console's client %s must stay first-party", ConsoleClientID)
	}
	return nil
}

// validateClientRoles checks the roles a service account is given exist.
func (s *Service) validateClientRoles(ctx context.Context, c store.Client) error {
	if len(c.Roles) == 0 && !c.Access.Restricted() {
		return nil
	}
	all, err := s.roleMap(ctx)
	if err != nil {
		return err
	}
	var v problems
	v.checkRoleNames("roles", c.Roles, all)
	// App access rules (appaccess): the rule names roles and groups that exist.
	if err := s.checkClientAccess(ctx, &v, c.Access, all); err != nil {
		return err
	}
	return v.err()
}

// CreateClient fills what c leaves out (WithClientDefaults), validates
// (ValidateClient) and stores it with a generated secret unless it is
// public or uses private_key_jwt ("client.create"). The secret is returned
// once; only its digest is stored. Roles must exist (they make a
// client_credentials client a service account); a taken id is
// store.ErrConflict.
func (s *Service) CreateClient(ctx context.Context, a Actor, c store.Client) (store.Client, string, error) {
	c = WithClientDefaults(c)
	c.Roles = set(c.Roles)
	c.Access = normalAccess(c.Access)
	if err := ValidateClient(c); err != nil {
		return store.Client{}, "", err
	}
	if v := checkConsoleClient(c); v != nil {
		return store.Client{}, "", v
	}
	var secret string
	c.SecretHash = nil
	if ClientUsesSecret(c) {
		sec, digest, err := NewClientSecret()
		if err != nil {
			return store.Client{}, "", err
		}
		secret, c.SecretHash = sec, digest
	}
	now := s.now()
	c.CreatedAt, c.UpdatedAt = now, now
	var out store.Client
	err := s.inTx(ctx, "create client", func(ctx context.Context) error {
		if err := s.validateClientRoles(ctx, c); err != nil {
			return err
		}
		if err := s.store.CreateClient(ctx, c); err != nil {
			return err
		}
		if err := s.audit(ctx, a, "client.create", TargetClient, c.ID, onCreate(clientFields(c))); err != nil {
			return err
		}
		var err error
		out, err = s.store.GetClient(ctx, c.ID)
		return err
	})
	if err != nil {
		return store.Client{}, "", err
	}
	// A new client is in nobody's cache, but the allowed origins (the
	// union over every client) may have grown.
	s.changed(store.ChangeClient, out.ID)
	return out, secret, nil
}

// GetClient returns store.ErrNotFound if absent.
func (s *Service) GetClient(ctx context.Context, id string) (store.Client, error) {
	if err := notFoundKey("client", id); err != nil {
		return store.Client{}, err
	}
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return store.Client{}, fmt.Errorf("domain: get client: %w", err)
	}
	return c, nil
}

// ListClients returns every client by id.
func (s *Service) ListClients(ctx context.Context) ([]store.Client, error) {
	out, err := s.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list clients: %w", err)
	}
	return out, nil
}

// UpdateClient applies p after validating the result ("client.update"). A
// patch of GrantTypes sets ResponseTypes to match (code with the
// authorization_code grant, none without). A patch that changes nothing
// records nothing; the secret is never changed here.
func (s *Service) UpdateClient(ctx context.Context, a Actor, id string, p ClientPatch) (store.Client, error) {
	return s.updateClient(ctx, a, id, p, nil)
}

// UpdateClientUnchangedSince is UpdateClient on condition that the client
// was last updated at updatedAt, as the caller read it (ErrStale if not):
// a patch computed from that read (a list merged with what it held) must
// not overwrite a change made since.
func (s *Service) UpdateClientUnchangedSince(ctx context.Context, a Actor, id string, updatedAt time.Time, p ClientPatch) (store.Client, error) {
	return s.updateClient(ctx, a, id, p, func(cur store.Client) error {
		if cur.UpdatedAt.Equal(updatedAt) {
			return nil
		}
		return newError(CodeStale, "the client changed since you read it: read it again and reapply your change")
	})
}

func (s *Service) updateClient(ctx context.Context, a Actor, id string, p ClientPatch, precondition func(store.Client) error) (store.Client, error) {
	if err := notFoundKey("client", id); err != nil {
		return store.Client{}, err
	}
	r := s.clientRecord()
	r.precondition = precondition
	out, err := update(ctx, s, a, r, id, "client.update", func(ctx context.Context, cur store.Client) (store.Client, error) {
		next := applyClientPatch(cur, p)
		if err := ValidateClient(next); err != nil {
			return store.Client{}, err
		}
		if v := checkConsoleClient(next); v != nil {
			return store.Client{}, v
		}
		return next, s.validateClientRoles(ctx, next)
	}, nil)
	if err != nil {
		return store.Client{}, err
	}
	s.changed(store.ChangeClient, id)
	return out, nil
}

func (s *Service) clientRecord() record[store.Client] {
	return record[store.Client]{
		what: "update client", target: TargetClient,
		get: s.store.GetClientForUpdate, put: s.store.UpdateClient, fields: clientFields,
		touch: func(c *store.Client, now time.Time) { c.UpdatedAt = now },
	}
}

func applyClientPatch(c store.Client, p ClientPatch) store.Client {
	if p.Name != nil {
		c.Name = *p.Name
	}
	for _, f := range []struct {
		dst *[]string
		src *[]string
	}{
		{&c.RedirectURIs, p.RedirectURIs},
		{&c.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs},
		{&c.AllowedOrigins, p.AllowedOrigins},
		{&c.Scopes, p.Scopes},
		{&c.Audience, p.Audience},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if p.GrantTypes != nil {
		c.GrantTypes = *p.GrantTypes
		// code is the only response type there is, and it goes with the
		// authorization_code grant: derive it rather than make every
		// patch of grant types spell both.
		c.ResponseTypes = nil
		if slices.Contains(c.GrantTypes, GrantAuthorizationCode) {
			c.ResponseTypes = []string{ResponseTypeCode}
		}
	}
	if p.Roles != nil {
		c.Roles = set(*p.Roles)
	}
	if p.FirstParty != nil {
		c.FirstParty = *p.FirstParty
	}
	if p.AccessTokenFormat != nil {
		c.AccessTokenFormat = *p.AccessTokenFormat
	}
	if p.IDTokenSignedResponseAlg != nil {
		c.IDTokenSignedResponseAlg = *p.IDTokenSignedResponseAlg
	}
	if p.Lifetimes != nil {
		c.Lifetimes = *p.Lifetimes
	}
	if p.BackchannelLogoutURI != nil {
		c.BackchannelLogoutURI = *p.BackchannelLogoutURI
	}
	if p.BackchannelLogoutSessionRequired != nil {
		c.BackchannelLogoutSessionRequired = *p.BackchannelLogoutSessionRequired
	}
	if p.DPoPBoundAccessTokens != nil {
		c.DPoPBoundAccessTokens = *p.DPoPBoundAccessTokens
	}
	if p.Access != nil {
		c.Access = normalAccess(*p.Access)
	}
	return c
}

// DeleteClient removes the client with its grants and tokens ("client.delete").
func (s *Service) DeleteClient(ctx context.Context, a Actor, id string) error {
	if err := notFoundKey("client", id); err != nil {
		return err
	}
	err := s.inTx(ctx, "delete client", func(ctx context.Context) error {
		cur, err := s.store.GetClient(ctx, id)
		if err != nil {
			return err
		}
		if err := s.store.DeleteClient(ctx, id); err != nil {
			return err
		}
		f := clientFields(cur)
		return s.audit(ctx, a, "client.delete", TargetClient, id,
			onRemove(fields{"client_name": f["client_name"], "grant_types": f["grant_types"], "roles": f["roles"]}))
	})
	if err != nil {
		return err
	}
	s.changed(store.ChangeClient, id)
	return nil
}
