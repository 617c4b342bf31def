package domain

import (
	"encoding/json"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/store"
)

// Grant types, token endpoint authentication methods and response types a
// client may be registered with. Anything else (the implicit and password
// grants in particular) is refused.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	// GrantDeviceCode: the device authorization grant (RFC 8628).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	AuthNone              = "none"

	ResponseTypeCode = "code"

	// ID-token signing algorithms a client may register; keys.Manager keeps
	// a live key of each.
	IDTokenAlgRS256 = "RS256"
	IDTokenAlgES256 = "ES256"
)

// ClientGrantTypes returns the grant types a client may use.
func ClientGrantTypes() []string {
	return []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantJWTBearer,
		GrantTokenExchange, GrantDeviceCode}
}

// ClientAuthMethods returns the token endpoint authentication methods.
func ClientAuthMethods() []string {
	return []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone}
}

// DefaultClientScopes are the scopes a client may request when its
// registration names none.
func DefaultClientScopes() []string { return []string{"openid", "profile", "email", "offline_access"} }

// WithClientDefaults fills what a registration left out, the same for every
// way of registering a client (the CLI, POST /api/v1/clients, dev
// seeding). A nil list is "not given" and takes its default; an empty,
// non-nil one is "none" and stays empty.
//
//   - GrantTypes: authorization_code and refresh_token.
//   - ResponseTypes: code, when the authorization_code grant is among
//     them (a client without that grant has none).
//   - TokenEndpointAuthMethod: none for a public client (it cannot keep a
//     secret), client_secret_basic otherwise.
//   - Scopes: DefaultClientScopes.
func WithClientDefaults(c store.Client) store.Client {
	if c.GrantTypes == nil {
		c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	if c.ResponseTypes == nil && slices.Contains(c.GrantTypes, GrantAuthorizationCode) {
		c.ResponseTypes = []string{ResponseTypeCode}
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = AuthClientSecretBasic
		if c.Public {
			c.TokenEndpointAuthMethod = AuthNone
		}
	}
	if c.Scopes == nil {
		c.Scopes = DefaultClientScopes()
	}
	return c
}

// ClientUsesSecret reports whether the client authenticates with a shared
// secret, and so must be given one when it is registered.
func ClientUsesSecret(c store.Client) bool {
	return c.TokenEndpointAuthMethod == AuthClientSecretBasic || c.TokenEndpointAuthMethod == AuthClientSecretPost
}

var (
	clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
	scopeTokenPattern = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
)

const maxClientNameLength = 200

// ValidateClient checks a client registration against the rules every entry
// point (CLI, resource API) applies, returning a *ValidationError naming the
// first field that breaks one. Field names are those of the JSON view
// (client_id, redirect_uris, ...). It does not look at SecretHash: callers
// validate before they generate a secret.
func ValidateClient(c store.Client) error {
	for _, check := range []func(store.Client) *ValidationError{
		validateClientIdentity,
		validateClientAuth,
		validateClientGrants,
		validateClientURIs,
		validateClientScopes,
		validateClientTokens,
		validateClientBackchannel,
		validateClientRegistered,
	} {
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

func validateClientIdentity(c store.Client) *ValidationError {
	if !clientIDPattern.MatchString(c.ID) {
		return invalid("client_id", "must be 1-100 characters of letters, digits, '.', '_' or '-'")
	}
	if len([]rune(c.Name)) > maxClientNameLength {
		return invalid("client_name", "must be at most %d characters", maxClientNameLength)
	}
	return nil
}

func validateClientAuth(c store.Client) *ValidationError {
	const field = "token_endpoint_auth_method"
	if !slices.Contains(ClientAuthMethods(), c.TokenEndpointAuthMethod) {
		return invalid(field, "must be one of %s, got %q", strings.Join(ClientAuthMethods(), ", "), c.TokenEndpointAuthMethod)
	}
	// A public client cannot keep a credential, and a confidential one must
	// present one: the two flags must agree or the token endpoint would
	// accept an unauthenticated confidential client.
	if c.Public && c.TokenEndpointAuthMethod != AuthNone {
		return invalid(field, "must be none for a public client")
	}
	if !c.Public && c.TokenEndpointAuthMethod == AuthNone {
		return invalid(field, "must not be none for a confidential client (make it public instead)")
	}
	if c.TokenEndpointAuthMethod == AuthPrivateKeyJWT {
		if len(c.JWKS) == 0 {
			return invalid("jwks", "is required for private_key_jwt")
		}
	}
	if len(c.JWKS) > 0 {
		if err := validateJWKS(c.JWKS); err != nil {
			return err
		}
	}
	return nil
}

// validateJWKS checks the shape of a JWK set. The keys themselves are parsed
// where they are used; here it matters that no private key material is
// stored where public keys are expected.
func validateJWKS(raw json.RawMessage) *ValidationError {
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return invalid("jwks", "must be a JSON Web Key Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return invalid("jwks", "must contain at least one key")
	}
	for i, k := range set.Keys {
		if _, ok := k["kty"]; !ok {
			return invalid("jwks", "key %d has no kty", i)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				return invalid("jwks", "key %d contains private or symmetric key material (%q); register public keys only", i, private)
			}
		}
	}
	return nil
}

func validateClientGrants(c store.Client) *ValidationError {
	if len(c.GrantTypes) == 0 {
		return invalid("grant_types", "must list at least one grant type")
	}
	for _, g := range c.GrantTypes {
		if !slices.Contains(ClientGrantTypes(), g) {
			return invalid("grant_types", "%q is not supported (use %s)", g, strings.Join(ClientGrantTypes(), ", "))
		}
	}
	if c.Public && slices.Contains(c.GrantTypes, GrantClientCredentials) {
		return invalid("grant_types", "client_credentials is not allowed for a public client")
	}
	hasCode := slices.Contains(c.GrantTypes, GrantAuthorizationCode)
	for _, r := range c.ResponseTypes {
		if r != ResponseTypeCode {
			return invalid("response_types", "%q is not supported (only code)", r)
		}
	}
	if hasCode && !slices.Contains(c.ResponseTypes, ResponseTypeCode) {
		return invalid("response_types", "must include code for the authorization_code grant")
	}
	if !hasCode && len(c.ResponseTypes) > 0 {
		return invalid("response_types", "must be empty without the authorization_code grant")
	}
	if hasCode && len(c.RedirectURIs) == 0 {
		return invalid("redirect_uris", "must list at least one URI for the authorization_code grant")
	}
	return nil
}

func validateClientURIs(c store.Client) *ValidationError {
	for _, u := range c.RedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			return invalid("redirect_uris", "%q %s", u, msg)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			return invalid("post_logout_redirect_uris", "%q %s", u, msg)
		}
	}
	for _, o := range c.AllowedOrigins {
		if msg := checkOrigin(o); msg != "" {
			return invalid("allowed_origins", "%q %s", o, msg)
		}
	}
	return nil
}

// IsLoopbackHost reports whether host (as url.URL.Hostname returns it, an
// IPv6 address without brackets) names the local machine: localhost or any
// loopback address, 127.0.0.0/8 or ::1. Plain http to it never leaves the
// machine, so it cannot be intercepted on the network. It is the one
// definition: client URIs, the issuer check of config and the dev-mode
// guard of serve all use it.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackHosts is how messages name the hosts IsLoopbackHost accepts.
const LoopbackHosts = "localhost, 127.0.0.0/8 or [::1]"

// checkRedirectURI applies RFC 6749 section 3.1.2 and RFC 8252: an absolute
// URI without a fragment; https, or http on a loopback host, or a
// private-use scheme in reverse domain notation for native apps. It returns
// why the URI is refused, or "".
func checkRedirectURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a fragment"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "must name a host"
		}
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return "must use https unless the host is a loopback address (" + LoopbackHosts + ")"
		}
	default:
		// RFC 8252 section 7.1: a private-use scheme is a reverse domain
		// name, which also keeps out javascript:, data: and the like.
		if !strings.Contains(u.Scheme, ".") {
			return "must use https, http on a loopback host, or a reverse-domain scheme such as com.example.app"
		}
	}
	if u.User != nil {
		return "must not contain user information"
	}
	return ""
}

// checkOrigin accepts exactly scheme://host[:port], as browsers send it in
// the Origin header, so that the CORS check can compare strings.
func checkOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "must be an http(s) origin, scheme://host[:port]"
	}
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return "must be scheme://host[:port] only, without path, query or fragment"
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return "must use https unless the host is a loopback address (" + LoopbackHosts + ")"
	}
	return ""
}

func validateClientScopes(c store.Client) *ValidationError {
	for _, s := range c.Scopes {
		if !scopeTokenPattern.MatchString(s) {
			return invalid("scope", "%q is not a valid scope token", s)
		}
	}
	for _, a := range c.Audience {
		if strings.TrimSpace(a) == "" {
			return invalid("audience", "must not contain empty values")
		}
	}
	for _, r := range c.Roles {
		if strings.TrimSpace(r) == "" {
			return invalid("roles", "must not contain empty values")
		}
	}
	return nil
}

func validateClientTokens(c store.Client) *ValidationError {
	switch c.AccessTokenFormat {
	case store.FormatDefault, store.FormatOpaque, store.FormatJWT:
	default:
		return invalid("access_token_format", "must be opaque or jwt, got %q", c.AccessTokenFormat)
	}
	// "" leaves the client on RS256, the default OIDC Registration requires
	// of a client that registers no algorithm.
	switch c.IDTokenSignedResponseAlg {
	case "", IDTokenAlgRS256, IDTokenAlgES256:
	default:
		return invalid("id_token_signed_response_alg", "must be RS256 or ES256, got %q", c.IDTokenSignedResponseAlg)
	}
	for _, l := range []struct {
		field string
		value int64
	}{
		{"lifetimes.authorization_code", int64(c.Lifetimes.AuthorizationCode)},
		{"lifetimes.access_token", int64(c.Lifetimes.AccessToken)},
		{"lifetimes.id_token", int64(c.Lifetimes.IDToken)},
		{"lifetimes.refresh_token", int64(c.Lifetimes.RefreshToken)},
	} {
		if l.value < 0 {
			return invalid(l.field, "must not be negative (0 uses the server default)")
		}
	}
	return nil
}
