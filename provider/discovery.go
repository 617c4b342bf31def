package provider

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/dpop"
)

// discoveryDoc is the OpenID Provider Metadata / OAuth 2.0 Authorization Server
// Metadata (RFC 8414) document. Both well-known URLs serve the same one; it
// lists only what gatehouse actually does.
type discoveryDoc struct {
	Issuer                                    string   `json:"issuer"`
	AuthorizationEndpoint                     string   `json:"authorization_endpoint"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	UserinfoEndpoint                          string   `json:"userinfo_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	PushedAuthorizationRequestEndpoint        string   `json:"pushed_authorization_request_endpoint"`
	EndSessionEndpoint                        string   `json:"end_session_endpoint"`
	ScopesSupported                           []string `json:"scopes_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	ResponseModesSupported                    []string `json:"response_modes_supported"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	SubjectTypesSupported                     []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported          []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValues         []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationEndpointAuthSigningAlgValues    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported             []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported                     []string `json:"prompt_values_supported"`
	ClaimsSupported                           []string `json:"claims_supported"`
	ACRValuesSupported                        []string `json:"acr_values_supported"`
	RequirePushedAuthorizationRequests        bool     `json:"require_pushed_authorization_requests"`
	RequestParameterSupported                 bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported              bool     `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported                  bool     `json:"claims_parameter_supported"`

	// Back-channel logout (OpenID Connect Back-Channel Logout 1.0).
	BackchannelLogoutSupported        bool `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool `json:"backchannel_logout_session_supported"`
	// Dynamic client registration (RFC 7591): listed only when it is on.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
	// The device authorization grant (RFC 8628 §4).
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
	// DPoP (RFC 9449 §5.1).
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
}

// clientAssertionAlgs are the private_key_jwt signature algorithms fosite
// verifies.
var clientAssertionAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// discovery builds the document; idTokenAlgs are the algorithms that have
// an active key, any of which a client may register for its ID tokens.
func (p *Provider) discovery(idTokenAlgs []string) discoveryDoc {
	u := func(path string) string { return p.issuer + path }
	clientAuth := []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
	return discoveryDoc{
		Issuer:                             p.issuer,
		AuthorizationEndpoint:              u("/oauth2/auth"),
		TokenEndpoint:                      u("/oauth2/token"),
		UserinfoEndpoint:                   u("/oauth2/userinfo"),
		JWKSURI:                            u("/.well-known/jwks.json"),
		IntrospectionEndpoint:              u("/oauth2/introspect"),
		RevocationEndpoint:                 u("/oauth2/revoke"),
		PushedAuthorizationRequestEndpoint: u("/oauth2/par"),
		EndSessionEndpoint:                 u("/oauth2/logout"),
		ScopesSupported:                    []string{"openid", "profile", "email", "offline_access", "roles", ScopeArea, PermissionsScope, "phone"},
		ResponseTypesSupported:             []string{"code"},
		ResponseModesSupported:             []string{"query", "form_post"},
		GrantTypesSupported: []string{"authorization_code", "refresh_token", "client_credentials",
			grantTypeJWTBearer, grantTypeTokenExchange, grantTypeDeviceCode},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  idTokenAlgs,
		TokenEndpointAuthMethodsSupported: clientAuth,
		TokenEndpointAuthSigningAlgValues: clientAssertionAlgs,
		// fosite's introspection authenticates clients by HTTP Basic only
		// (or by a bearer access token, which is not a client auth method).
		IntrospectionEndpointAuthMethodsSupported: []string{"client_secret_basic"},
		RevocationEndpointAuthMethodsSupported:    clientAuth,
		RevocationEndpointAuthSigningAlgValues:    clientAssertionAlgs,
		CodeChallengeMethodsSupported:             []string{"S256"},
		PromptValuesSupported:                     []string{"none", "login", "consent"},
		ClaimsSupported: []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
			"name", "preferred_username", "updated_at", "email", "email_verified", "roles", "amr", "acr", "sid",
			ClaimArea, PermissionsClaim,
			// Profile fields (profileClaims).
			"given_name", "family_name", "locale", "zoneinfo", "picture", "phone_number", "phone_number_verified"},
		ACRValuesSupported:                 []string{domain.ACRPassword, domain.ACRMultiFactor},
		RequirePushedAuthorizationRequests: false,
		RequestParameterSupported:          false,
		RequestURIParameterSupported:       false,
		ClaimsParameterSupported:           false,

		// Back-channel logout: every logout token carries sid, and ID
		// tokens of grants made in a browser session carry it too.
		BackchannelLogoutSupported:        true,
		BackchannelLogoutSessionSupported: true,
		RegistrationEndpoint:              p.registrationEndpoint(),
		DeviceAuthorizationEndpoint:       u("/oauth2/device/auth"),
		DPoPSigningAlgValuesSupported:     dpop.Algorithms(),
	}
}

func (p *Provider) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	active, err := p.keys.Active(r.Context())
	if err == nil {
		_, err = active.Default()
	}
	if err != nil && unavailable(err) {
		p.writeUnavailable(r.Context(), w, "discovery", err)
		return
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "discovery: signing key", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, p.discovery(active.Algorithms()))
}

// handleJWKS publishes the public keys (next, active and retired): relying
// parties may cache them for a minute.
func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := p.keys.JWKS(r.Context())
	if err != nil && unavailable(err) {
		p.writeUnavailable(r.Context(), w, "jwks", err)
		return
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "jwks", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, set)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
