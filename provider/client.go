package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// client adapts a store.Client to the client interfaces fosite looks for.
type client struct {
	store.Client
	// jwks is the parsed store.Client.JWKS (go-jose v3, as fosite's client
	// authentication expects); nil if the client registered none.
	jwks *jose3.JSONWebKeySet
	// resourceAPI is the resource API's identifier (resource.go): an
	// audience every client may ask for, besides its own Audience.
	resourceAPI string
}

var (
	_ fosite.Client                         = (*client)(nil)
	_ fosite.OpenIDConnectClient            = (*client)(nil)
	_ fosite.ClientWithCustomTokenLifespans = (*client)(nil)
	_ fosite.ResponseModeClient             = (*client)(nil)
)

func newClient(c store.Client) (*client, error) {
	out := &client{Client: c}
	if len(c.JWKS) == 0 {
		return out, nil
	}
	var set jose3.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &set); err != nil {
		return nil, fmt.Errorf("provider: client %q: parse jwks: %w", c.ID, err)
	}
	keys := set.Keys[:0]
	for _, k := range set.Keys {
		if !k.IsPublic() {
			// A private key registered by mistake must not be usable (or
			// kept in memory) as if it were the client's public key.
			continue
		}
		switch k.Use {
		case "sig":
		case "":
			// The set is registered for private_key_jwt, so signing is
			// its only purpose; fosite only considers keys marked "sig".
			k.Use = "sig"
		default:
			continue
		}
		keys = append(keys, k)
	}
	set.Keys = keys
	out.jwks = &set
	return out, nil
}

func (c *client) GetID() string             { return c.ID }
func (c *client) GetHashedSecret() []byte   { return c.SecretHash }
func (c *client) GetRedirectURIs() []string { return c.RedirectURIs }
func (c *client) GetScopes() fosite.Arguments {
	return fosite.Arguments(c.Scopes)
}

// GetAudience is the client's registered audiences and the resource API:
// the resources (RFC 8707) and audiences it may ask for, and what fosite
// checks a refreshed grant's audience against.
func (c *client) GetAudience() fosite.Arguments {
	if c.resourceAPI == "" || slices.Contains(c.Audience, c.resourceAPI) {
		return fosite.Arguments(c.Audience)
	}
	return append(fosite.Arguments(slices.Clone(c.Audience)), c.resourceAPI)
}

// IsPublic is true for clients marked public and for those registered with
// token_endpoint_auth_method none: both have no credentials to check.
func (c *client) IsPublic() bool {
	return c.Public || c.TokenEndpointAuthMethod == "none"
}

// GetGrantTypes defaults to authorization_code, as OpenID Connect Dynamic
// Client Registration does for an omitted grant_types.
func (c *client) GetGrantTypes() fosite.Arguments {
	if len(c.GrantTypes) == 0 {
		return fosite.Arguments{"authorization_code"}
	}
	return fosite.Arguments(c.GrantTypes)
}

func (c *client) GetResponseTypes() fosite.Arguments {
	if len(c.ResponseTypes) == 0 {
		return fosite.Arguments{"code"}
	}
	return fosite.Arguments(c.ResponseTypes)
}

// GetRequestURIs is empty: request objects by reference are not supported,
// so fosite never fetches a URL a client names.
func (c *client) GetRequestURIs() []string { return nil }

func (c *client) GetJSONWebKeys() *jose3.JSONWebKeySet { return c.jwks }

func (c *client) GetJSONWebKeysURI() string { return "" }

func (c *client) GetRequestObjectSigningAlgorithm() string { return "" }

func (c *client) GetTokenEndpointAuthMethod() string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Public:
		return "none"
	default:
		return "client_secret_basic"
	}
}

// GetTokenEndpointAuthSigningAlgorithm is the algorithm fosite insists a
// private_key_jwt assertion be signed with. store.Client has no field for
// it, so it is taken from the client's key: the key's "alg" if set, else
// the usual algorithm for its type.
func (c *client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.jwks == nil {
		return "RS256"
	}
	for _, k := range c.jwks.Keys {
		if k.Algorithm != "" {
			return k.Algorithm
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			return "RS256"
		case *ecdsa.PublicKey:
			switch pub.Curve.Params().BitSize {
			case 384:
				return "ES384"
			case 521:
				return "ES512"
			default:
				return "ES256"
			}
		}
	}
	return "RS256"
}

// GetResponseModes: query and form_post; never fragment, which only the
// implicit and hybrid flows (not offered) need.
func (c *client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeQuery, fosite.ResponseModeFormPost}
}

// GetEffectiveLifespan applies the client's own lifetimes; fallback is the
// server's lifetime for the token type.
func (c *client) GetEffectiveLifespan(_ fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	if d := lifetimeOf(c.Lifetimes, tt); d > 0 {
		return d
	}
	return fallback
}

// lifetimeOf is l's lifetime for tokens of type tt; zero when l sets none.
func lifetimeOf(l store.Lifetimes, tt fosite.TokenType) time.Duration {
	switch tt {
	case fosite.AccessToken:
		return l.AccessToken
	case fosite.RefreshToken:
		return l.RefreshToken
	case fosite.IDToken:
		return l.IDToken
	case fosite.AuthorizeCode:
		return l.AuthorizationCode
	}
	return 0
}

// secretHasher checks client secrets against their SHA-256 digest: the
// secrets gatehouse generates are high-entropy, so a slow password hash
// would only cost time (DESIGN.md section 9).
type secretHasher struct{}

var _ fosite.Hasher = secretHasher{}

var errSecretMismatch = errors.New("provider: client secret does not match")

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if !domain.ClientSecretMatches(hash, string(data)) {
		return errSecretMismatch
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return domain.HashClientSecret(string(data)), nil
}
