package domain_test

import (
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// A field left out (nil, "") takes its default; a list given empty stays
// empty, and what is given is kept.
func TestWithClientDefaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in, out store.Client
	}{
		{"nothing given", store.Client{ID: "web"}, store.Client{ID: "web", TokenEndpointAuthMethod: "client_secret_basic",
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid", "profile", "email", "offline_access"}}},
		{"public", store.Client{ID: "spa", Public: true}, store.Client{ID: "spa", Public: true, TokenEndpointAuthMethod: "none",
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid", "profile", "email", "offline_access"}}},
		{"no code grant, no response type", store.Client{ID: "batch", GrantTypes: []string{"client_credentials"}},
			store.Client{ID: "batch", TokenEndpointAuthMethod: "client_secret_basic", GrantTypes: []string{"client_credentials"},
				Scopes: []string{"openid", "profile", "email", "offline_access"}}},
		{"empty lists stay empty", store.Client{ID: "x", TokenEndpointAuthMethod: "private_key_jwt", ResponseTypes: []string{}, Scopes: []string{}},
			store.Client{ID: "x", TokenEndpointAuthMethod: "private_key_jwt", GrantTypes: []string{"authorization_code", "refresh_token"},
				ResponseTypes: []string{}, Scopes: []string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.WithClientDefaults(tc.in); !reflect.DeepEqual(got, tc.out) {
				t.Errorf("WithClientDefaults(%+v) = %+v, want %+v", tc.in, got, tc.out)
			}
		})
	}
}
