package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// clientView is the JSON shape of a client, with RFC 7591 field names where
// one exists. It is the one place that maps store.Client to JSON and back;
// the resource API mirrors it.
type clientView struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	// ClientSecret is set only in the response that created the secret:
	// the store keeps its digest alone and cannot show it again.
	ClientSecret            string          `json:"client_secret,omitempty"`
	RedirectURIs            []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string        `json:"post_logout_redirect_uris"`
	AllowedOrigins          []string        `json:"allowed_origins"`
	GrantTypes              []string        `json:"grant_types"`
	ResponseTypes           []string        `json:"response_types"`
	Scope                   string          `json:"scope"` // space-separated, as in OAuth 2.0
	Audience                []string        `json:"audience"`
	Public                  bool            `json:"public"`
	FirstParty              bool            `json:"first_party"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	// AccessTokenFormat is omitted when the client uses the server's.
	AccessTokenFormat string        `json:"access_token_format,omitempty"`
	Lifetimes         lifetimesView `json:"lifetimes"`
	Roles             []string      `json:"roles"`
	CreatedAt         time.Time     `json:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
}

// lifetimesView holds Go duration strings ("1h0m0s"); an omitted field
// means the server default.
type lifetimesView struct {
	AuthorizationCode string `json:"authorization_code,omitempty"`
	AccessToken       string `json:"access_token,omitempty"`
	IDToken           string `json:"id_token,omitempty"`
	RefreshToken      string `json:"refresh_token,omitempty"`
}

func newClientView(c store.Client) clientView {
	return clientView{
		ClientID:                c.ID,
		ClientName:              c.Name,
		RedirectURIs:            orEmpty(c.RedirectURIs),
		PostLogoutRedirectURIs:  orEmpty(c.PostLogoutRedirectURIs),
		AllowedOrigins:          orEmpty(c.AllowedOrigins),
		GrantTypes:              orEmpty(c.GrantTypes),
		ResponseTypes:           orEmpty(c.ResponseTypes),
		Scope:                   strings.Join(c.Scopes, " "),
		Audience:                orEmpty(c.Audience),
		Public:                  c.Public,
		FirstParty:              c.FirstParty,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		JWKS:                    c.JWKS,
		AccessTokenFormat:       string(c.AccessTokenFormat),
		Lifetimes: lifetimesView{
			AuthorizationCode: formatLifetime(c.Lifetimes.AuthorizationCode),
			AccessToken:       formatLifetime(c.Lifetimes.AccessToken),
			IDToken:           formatLifetime(c.Lifetimes.IDToken),
			RefreshToken:      formatLifetime(c.Lifetimes.RefreshToken),
		},
		Roles:     orEmpty(c.Roles),
		CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt,
	}
}

func formatLifetime(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// toClient converts a view received as input into a store.Client. The
// secret, secret digest and timestamps are not taken from input; a
// malformed lifetime is reported as a *domain.ValidationError on its field.
func (v clientView) toClient() (store.Client, error) {
	c := store.Client{
		ID:                      v.ClientID,
		Name:                    v.ClientName,
		TokenEndpointAuthMethod: v.TokenEndpointAuthMethod,
		RedirectURIs:            v.RedirectURIs,
		PostLogoutRedirectURIs:  v.PostLogoutRedirectURIs,
		AllowedOrigins:          v.AllowedOrigins,
		GrantTypes:              v.GrantTypes,
		ResponseTypes:           v.ResponseTypes,
		Scopes:                  strings.Fields(v.Scope),
		Audience:                v.Audience,
		Public:                  v.Public,
		FirstParty:              v.FirstParty,
		JWKS:                    v.JWKS,
		AccessTokenFormat:       store.AccessTokenFormat(v.AccessTokenFormat),
		Roles:                   v.Roles,
	}
	for _, l := range []struct {
		field string
		in    string
		out   *time.Duration
	}{
		{"lifetimes.authorization_code", v.Lifetimes.AuthorizationCode, &c.Lifetimes.AuthorizationCode},
		{"lifetimes.access_token", v.Lifetimes.AccessToken, &c.Lifetimes.AccessToken},
		{"lifetimes.id_token", v.Lifetimes.IDToken, &c.Lifetimes.IDToken},
		{"lifetimes.refresh_token", v.Lifetimes.RefreshToken, &c.Lifetimes.RefreshToken},
	} {
		if l.in == "" {
			continue
		}
		d, err := time.ParseDuration(l.in)
		if err != nil {
			return store.Client{}, &domain.ValidationError{Field: l.field, Message: "must be a duration such as 15m or 720h"}
		}
		*l.out = d
	}
	return c, nil
}
