package domain_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func webClient() store.Client {
	return store.Client{
		ID:                      "web-app_1.0",
		Name:                    "Web app",
		TokenEndpointAuthMethod: domain.AuthClientSecretBasic,
		RedirectURIs:            []string{"https://app.example/cb"},
		GrantTypes:              []string{domain.GrantAuthorizationCode, domain.GrantRefreshToken},
		ResponseTypes:           []string{domain.ResponseTypeCode},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
	}
}

const publicJWKS = `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`

func TestValidateClient(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(c *store.Client)
		wantField string // "" means valid
	}{
		{"confidential web client", func(c *store.Client) {}, ""},
		{"client_secret_post", func(c *store.Client) { c.TokenEndpointAuthMethod = domain.AuthClientSecretPost }, ""},
		{"public spa", func(c *store.Client) {
			c.Public = true
			c.TokenEndpointAuthMethod = domain.AuthNone
			c.AllowedOrigins = []string{"https://spa.example", "http://localhost:5173"}
		}, ""},
		{"machine client", func(c *store.Client) {
			c.GrantTypes = []string{domain.GrantClientCredentials}
			c.ResponseTypes = nil
			c.RedirectURIs = nil
			c.Roles = []string{"admin"}
		}, ""},
		{"public device client", func(c *store.Client) {
			c.Public = true
			c.TokenEndpointAuthMethod = domain.AuthNone
			c.GrantTypes = []string{domain.GrantDeviceCode, domain.GrantRefreshToken}
			c.ResponseTypes = nil
			c.RedirectURIs = nil
		}, ""},
		{"private_key_jwt with public keys", func(c *store.Client) {
			c.TokenEndpointAuthMethod = domain.AuthPrivateKeyJWT
			c.JWKS = json.RawMessage(publicJWKS)
		}, ""},
		{"loopback redirects", func(c *store.Client) {
			c.RedirectURIs = []string{"http://localhost:3000/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb"}
		}, ""},
		{"redirect on another loopback address", func(c *store.Client) { c.RedirectURIs = []string{"http://127.0.0.2:8080/cb"} }, ""},
		{"origin on another loopback address", func(c *store.Client) { c.AllowedOrigins = []string{"http://127.1.2.3:5173"} }, ""},
		{"native app scheme", func(c *store.Client) { c.RedirectURIs = []string{"com.example.app:/cb"} }, ""},
		{"jwt access tokens and lifetimes", func(c *store.Client) {
			c.AccessTokenFormat = store.FormatJWT
			c.Lifetimes = store.Lifetimes{AccessToken: 5 * time.Minute}
		}, ""},

		{"empty id", func(c *store.Client) { c.ID = "" }, "client_id"},
		{"id with space", func(c *store.Client) { c.ID = "my app" }, "client_id"},
		{"id with slash", func(c *store.Client) { c.ID = "a/b" }, "client_id"},
		{"id of 101 characters", func(c *store.Client) { c.ID = strings.Repeat("a", 101) }, "client_id"},
		{"long name", func(c *store.Client) { c.Name = strings.Repeat("a", 201) }, "client_name"},

		{"unknown auth method", func(c *store.Client) { c.TokenEndpointAuthMethod = "tls_client_auth" }, "token_endpoint_auth_method"},
		{"empty auth method", func(c *store.Client) { c.TokenEndpointAuthMethod = "" }, "token_endpoint_auth_method"},
		{"public with secret method", func(c *store.Client) { c.Public = true }, "token_endpoint_auth_method"},
		{"confidential with none", func(c *store.Client) { c.TokenEndpointAuthMethod = domain.AuthNone }, "token_endpoint_auth_method"},
		{"private_key_jwt without jwks", func(c *store.Client) { c.TokenEndpointAuthMethod = domain.AuthPrivateKeyJWT }, "jwks"},
		{"jwks not json", func(c *store.Client) { c.JWKS = json.RawMessage(`{`) }, "jwks"},
		{"jwks without keys", func(c *store.Client) { c.JWKS = json.RawMessage(`{"keys":[]}`) }, "jwks"},
		{"jwks with private key", func(c *store.Client) {
			c.JWKS = json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}`)
		}, "jwks"},
		{"jwks with symmetric key", func(c *store.Client) { c.JWKS = json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }, "jwks"},

		{"no grant types", func(c *store.Client) { c.GrantTypes = nil }, "grant_types"},
		{"implicit grant", func(c *store.Client) { c.GrantTypes = []string{"implicit"} }, "grant_types"},
		{"password grant", func(c *store.Client) { c.GrantTypes = []string{"password"} }, "grant_types"},
		{"public client_credentials", func(c *store.Client) {
			c.Public = true
			c.TokenEndpointAuthMethod = domain.AuthNone
			c.GrantTypes = append(c.GrantTypes, domain.GrantClientCredentials)
		}, "grant_types"},
		{"token response type", func(c *store.Client) { c.ResponseTypes = []string{"code", "token"} }, "response_types"},
		{"code grant without code response", func(c *store.Client) { c.ResponseTypes = nil }, "response_types"},
		{"code response without code grant", func(c *store.Client) { c.GrantTypes = []string{domain.GrantClientCredentials} }, "response_types"},
		{"code grant without redirect", func(c *store.Client) { c.RedirectURIs = nil }, "redirect_uris"},

		{"relative redirect", func(c *store.Client) { c.RedirectURIs = []string{"/cb"} }, "redirect_uris"},
		{"redirect with fragment", func(c *store.Client) { c.RedirectURIs = []string{"https://app.example/cb#x"} }, "redirect_uris"},
		{"redirect with empty fragment", func(c *store.Client) { c.RedirectURIs = []string{"https://app.example/cb#"} }, "redirect_uris"},
		{"plain http redirect", func(c *store.Client) { c.RedirectURIs = []string{"http://app.example/cb"} }, "redirect_uris"},
		{"http localhost lookalike", func(c *store.Client) { c.RedirectURIs = []string{"http://localhost.evil.example/cb"} }, "redirect_uris"},
		{"http just past the loopback range", func(c *store.Client) { c.RedirectURIs = []string{"http://128.0.0.1/cb"} }, "redirect_uris"},
		{"javascript redirect", func(c *store.Client) { c.RedirectURIs = []string{"javascript:alert(1)"} }, "redirect_uris"},
		{"https without host", func(c *store.Client) { c.RedirectURIs = []string{"https:/cb"} }, "redirect_uris"},
		{"redirect with user info", func(c *store.Client) { c.RedirectURIs = []string{"https://u:p@app.example/cb"} }, "redirect_uris"},
		{"bad post logout redirect", func(c *store.Client) { c.PostLogoutRedirectURIs = []string{"http://app.example/bye"} }, "post_logout_redirect_uris"},

		{"origin with path", func(c *store.Client) { c.AllowedOrigins = []string{"https://spa.example/"} }, "allowed_origins"},
		{"origin with query", func(c *store.Client) { c.AllowedOrigins = []string{"https://spa.example?x"} }, "allowed_origins"},
		{"origin without scheme", func(c *store.Client) { c.AllowedOrigins = []string{"spa.example"} }, "allowed_origins"},
		{"plain http origin", func(c *store.Client) { c.AllowedOrigins = []string{"http://spa.example"} }, "allowed_origins"},

		{"scope with space", func(c *store.Client) { c.Scopes = []string{"openid profile"} }, "scope"},
		{"scope with quote", func(c *store.Client) { c.Scopes = []string{`a"b`} }, "scope"},
		{"empty scope", func(c *store.Client) { c.Scopes = []string{""} }, "scope"},
		{"empty audience", func(c *store.Client) { c.Audience = []string{" "} }, "audience"},
		{"empty role", func(c *store.Client) { c.Roles = []string{""} }, "roles"},

		{"unknown token format", func(c *store.Client) { c.AccessTokenFormat = "paseto" }, "access_token_format"},
		{"id token ES256", func(c *store.Client) { c.IDTokenSignedResponseAlg = "ES256" }, ""},
		{"id token RS256", func(c *store.Client) { c.IDTokenSignedResponseAlg = "RS256" }, ""},
		{"id token HS256", func(c *store.Client) { c.IDTokenSignedResponseAlg = "HS256" }, "id_token_signed_response_alg"},
		{"id token none", func(c *store.Client) { c.IDTokenSignedResponseAlg = "none" }, "id_token_signed_response_alg"},
		{"id token lowercase", func(c *store.Client) { c.IDTokenSignedResponseAlg = "es256" }, "id_token_signed_response_alg"},
		{"negative lifetime", func(c *store.Client) { c.Lifetimes.RefreshToken = -time.Hour }, "lifetimes.refresh_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webClient()
			tt.mutate(&c)
			err := domain.ValidateClient(c)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("ValidateClient = %v, want nil", err)
				}
				return
			}
			v, ok := domain.AsValidation(err)
			if !ok {
				t.Fatalf("ValidateClient = %v (%T), want *domain.ValidationError on %s", err, err, tt.wantField)
			}
			if len(v.Fields) != 1 || v.Field(tt.wantField) == "" {
				t.Fatalf("ValidateClient = %v, want one message on %q", v, tt.wantField)
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped, still the loopback interface
		{"", false},
		{"128.0.0.1", false},
		{"126.255.255.255", false},
		{"0.0.0.0", false}, // every interface, not the loopback one
		{"::", false},
		{"10.0.0.1", false},
		{"id.example.com", false},
		{"localhost.example.com", false},
		{"127.0.0.1.example.com", false},
		{"[::1]", false}, // Hostname() strips the brackets; a bracketed host is not an address
	}
	for _, tt := range tests {
		if got := domain.IsLoopbackHost(tt.host); got != tt.want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
