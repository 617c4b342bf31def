package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func newClientsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "Register, inspect and delete OAuth 2.0 clients",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(
		newClientsCreateCmd(a),
		newClientsListCmd(a),
		newClientsGetCmd(a),
		newClientsDeleteCmd(a),
		newClientsUpdateCmd(a),
	)
	return cmd
}

type clientCreateFlags struct {
	id, name, scope, authMethod, jwksFile, accessTokenFormat string
	idTokenAlg                                               string
	redirectURIs, postLogoutRedirectURIs, allowedOrigins     []string
	grantTypes, responseTypes, audience, roles               []string
	// App access rules (appaccess).
	accessRoles, accessGroups, accessAreas []string
	public, firstParty                     bool
	dpopBound                              bool
	lifetimes                              store.Lifetimes

	// Back-channel logout.
	backchannelLogoutURI             string
	backchannelLogoutSessionRequired bool
}

func newClientsCreateCmd(a *app) *cobra.Command {
	var f clientCreateFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Register a client and print it, with its secret (shown only this once)",
		Example: "  gatehouse clients create --id web --redirect-uri https://app.example/cb\n" +
			"  gatehouse clients create --id spa --public --redirect-uri https://spa.example/cb --allowed-origin https://spa.example\n" +
			"  gatehouse clients create --id fast --redirect-uri https://app.example/cb --id-token-alg ES256\n" +
			"  gatehouse clients create --id batch --grant-type client_credentials --scope gatehouse:api --role admin",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return fmt.Errorf("clients create: %w", err)
			}
			return a.createClient(cmd.Context(), c)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.id, "id", "", "client id: 1-100 letters, digits, '.', '_' or '-' (required)")
	fl.StringVar(&f.name, "name", "", "human-readable name shown on the consent page")
	fl.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "redirect URI (repeatable)")
	fl.StringArrayVar(&f.postLogoutRedirectURIs, "post-logout-redirect-uri", nil, "post-logout redirect URI (repeatable)")
	fl.StringArrayVar(&f.allowedOrigins, "allowed-origin", nil, "CORS origin scheme://host[:port] (repeatable)")
	fl.StringArrayVar(&f.grantTypes, "grant-type", nil, "grant type (repeatable; default authorization_code and refresh_token)")
	fl.StringArrayVar(&f.responseTypes, "response-type", nil, "response type (repeatable; default code with the authorization_code grant)")
	fl.StringVar(&f.scope, "scope", strings.Join(domain.DefaultClientScopes(), " "), "space-separated scopes the client may request")
	fl.StringArrayVar(&f.audience, "audience", nil, "audience the client may request (repeatable)")
	fl.BoolVar(&f.public, "public", false, "public client (SPA, native app): no secret, PKCE required")
	fl.BoolVar(&f.firstParty, "first-party", false, "first-party client: skips the consent page")
	fl.StringVar(&f.authMethod, "auth-method", "", "token endpoint auth method: client_secret_basic (default), client_secret_post, private_key_jwt, none (default with --public)")
	fl.StringVar(&f.jwksFile, "jwks-file", "", "file holding the client's public JWK set (required for private_key_jwt)")
	fl.StringVar(&f.accessTokenFormat, "access-token-format", "", "opaque or jwt (default: the server's)")
	fl.StringVar(&f.idTokenAlg, "id-token-alg", "", "ID token signing algorithm, RS256 or ES256 (default RS256, the OIDC default;\n"+
		"ES256 signs far cheaper, for relying parties that accept it)")
	fl.BoolVar(&f.dpopBound, "dpop-bound-access-tokens", false, "require a DPoP proof (RFC 9449) with every token request, so that all\n"+
		"the client's access tokens are bound to its key")
	fl.DurationVar(&f.lifetimes.AccessToken, "access-token-lifetime", 0, "access token lifetime (default: the server's)")
	fl.DurationVar(&f.lifetimes.IDToken, "id-token-lifetime", 0, "ID token lifetime (default: the server's)")
	fl.DurationVar(&f.lifetimes.RefreshToken, "refresh-token-lifetime", 0, "refresh token lifetime (default: the server's)")
	fl.DurationVar(&f.lifetimes.AuthorizationCode, "authorization-code-lifetime", 0, "authorization code lifetime (default: the server's)")
	fl.StringArrayVar(&f.roles, "role", nil, "role of the client's service account (repeatable): a client_credentials client with roles\n"+
		"calls the resource API with those roles' permissions (its token needs the gatehouse:api scope)")
	addBackchannelFlags(fl, &f.backchannelLogoutURI, &f.backchannelLogoutSessionRequired)
	fl.StringArrayVar(&f.accessRoles, "access-role", nil, "only users holding this role (effectively) may use the client (repeatable)")
	fl.StringArrayVar(&f.accessGroups, "access-group", nil, "only members of this group (by id) may use the client (repeatable)")
	fl.StringArrayVar(&f.accessAreas, "access-area", nil, "only members of this area (by code) or of an area below it may use the client (repeatable)")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

// client builds the registration from the flags, filling the defaults.
func (f clientCreateFlags) client() (store.Client, error) {
	c := store.Client{
		ID:                       f.id,
		Name:                     f.name,
		TokenEndpointAuthMethod:  f.authMethod,
		RedirectURIs:             f.redirectURIs,
		PostLogoutRedirectURIs:   f.postLogoutRedirectURIs,
		AllowedOrigins:           f.allowedOrigins,
		GrantTypes:               f.grantTypes,
		ResponseTypes:            f.responseTypes,
		Scopes:                   strings.Fields(f.scope),
		Audience:                 f.audience,
		Public:                   f.public,
		FirstParty:               f.firstParty,
		AccessTokenFormat:        store.AccessTokenFormat(f.accessTokenFormat),
		IDTokenSignedResponseAlg: f.idTokenAlg,
		Lifetimes:                f.lifetimes,
		Roles:                    f.roles,

		BackchannelLogoutURI:             f.backchannelLogoutURI,
		BackchannelLogoutSessionRequired: f.backchannelLogoutSessionRequired,
		DPoPBoundAccessTokens:            f.dpopBound,

		Access: store.ClientAccess{Roles: f.accessRoles, Groups: f.accessGroups, Areas: f.accessAreas},
	}
	// Absent flags leave their fields nil (or ""): the domain fills them
	// (domain.WithClientDefaults), as it does for POST /api/v1/clients.
	if f.jwksFile != "" {
		b, err := os.ReadFile(f.jwksFile)
		if err != nil {
			return store.Client{}, fmt.Errorf("--jwks-file: %w", err)
		}
		if !json.Valid(b) {
			return store.Client{}, fmt.Errorf("--jwks-file: %s is not JSON", f.jwksFile)
		}
		c.JWKS = json.RawMessage(b)
	}
	return c, nil
}

func (a *app) createClient(ctx context.Context, c store.Client) error {
	return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
		created, secret, err := svc.CreateClient(ctx, domain.CLIActor(), c)
		if err != nil {
			return failure("clients create", err, "a role in --role", fmt.Sprintf("a client with id %q already exists", c.ID))
		}
		v := admin.NewClientView(created)
		v.ClientSecret = secret
		return a.printJSON(v)
	})
}

func newClientsListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List clients ordered by id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				clients, err := svc.ListClients(ctx)
				if err != nil {
					return failure("clients list", err, "", "")
				}
				return a.printJSON(views(clients, admin.NewClientView))
			})
		},
	}
}

func newClientsGetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Print one client",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				c, err := svc.GetClient(ctx, args[0])
				if err != nil {
					return failure("clients get", err, fmt.Sprintf("client %q", args[0]), "")
				}
				return a.printJSON(admin.NewClientView(c))
			})
		},
	}
}

func newClientsDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client and every grant, token and consent of it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withService(ctx, func(svc *domain.Service, _ store.Store) error {
				if err := svc.DeleteClient(ctx, domain.CLIActor(), args[0]); err != nil {
					return failure("clients delete", err, fmt.Sprintf("client %q", args[0]), "")
				}
				return a.printJSON(map[string]string{"deleted": args[0]})
			})
		},
	}
}
