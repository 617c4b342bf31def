package config

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// IdentityProvider is an upstream OpenID Connect provider offered on the
// login page ("Sign in with <display_name>"). Providers of the file are
// written to the store at every start (the file wins over changes made
// through the API to a provider of the same id); providers made through
// the API and absent from the file stay. Not settable from the
// environment: it is a list of records.
type IdentityProvider struct {
	// ID is a slug: lowercase letters, digits and '-'. The callback is
	// <issuer>/login/upstream/<id>/callback.
	ID          string `yaml:"id"`
	DisplayName string `yaml:"display_name"`
	// Issuer is the upstream's issuer URL (https; http for loopback).
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is sealed before it is stored; empty for a public
	// client (PKCE only).
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// Claims map upstream claims to a new user's fields (defaults
	// preferred_username, email, name).
	Claims IdentityProviderClaims `yaml:"claims"`
	// LinkByVerifiedEmail links a first sign-in to the user with the same
	// email when the upstream says email_verified=true.
	LinkByVerifiedEmail bool `yaml:"link_by_verified_email"`
	// NewUserStatus (pending or active; default pending) and NewUserRoles
	// (default none) are what a user made by a first sign-in gets.
	NewUserStatus string   `yaml:"new_user_status"`
	NewUserRoles  []string `yaml:"new_user_roles"`
	// Disabled hides the provider from the login page and refuses its
	// sign-ins.
	Disabled bool `yaml:"disabled"`
}

// IdentityProviderClaims names the upstream claims of a new user's fields.
type IdentityProviderClaims struct {
	Username string `yaml:"username"`
	Email    string `yaml:"email"`
	Name     string `yaml:"name"`
}

// IdentityProviderInputs are the configured providers as the domain takes
// them.
func (c Config) IdentityProviderInputs() []domain.IdentityProviderInput {
	out := make([]domain.IdentityProviderInput, 0, len(c.IdentityProviders))
	for _, p := range c.IdentityProviders {
		enabled := !p.Disabled
		out = append(out, domain.IdentityProviderInput{
			ID: p.ID, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			Scopes: append([]string(nil), p.Scopes...), UsernameClaim: p.Claims.Username, EmailClaim: p.Claims.Email,
			NameClaim: p.Claims.Name, LinkByVerifiedEmail: p.LinkByVerifiedEmail,
			NewUserStatus: store.UserStatus(p.NewUserStatus), NewUserRoles: append([]string(nil), p.NewUserRoles...),
			Enabled: &enabled,
		})
	}
	return out
}

// checkIdentityProviders checks what can be checked without the store
// (roles are checked against it at start): ids, issuers, client ids and
// statuses. Messages never quote a client secret.
func checkIdentityProviders(c Config) string {
	var msgs []string
	seen := map[string]bool{}
	for i, p := range c.IdentityProviders {
		name := fmt.Sprintf("[%d]", i)
		if p.ID != "" {
			name = fmt.Sprintf("[%d] (%q)", i, p.ID)
		}
		switch {
		case !domain.ValidProviderID(p.ID):
			msgs = append(msgs, name+": id must be 1-63 characters of lowercase letters, digits and '-'")
		case seen[p.ID]:
			msgs = append(msgs, name+": id is listed twice")
		}
		seen[p.ID] = true
		if strings.TrimSpace(p.DisplayName) == "" {
			msgs = append(msgs, name+": display_name is required")
		}
		if msg := domain.ValidIssuerURL(p.Issuer); msg != "" {
			msgs = append(msgs, name+": issuer "+msg)
		}
		if strings.TrimSpace(p.ClientID) == "" {
			msgs = append(msgs, name+": client_id is required")
		}
		if s := p.NewUserStatus; s != "" && s != string(store.StatusPending) && s != string(store.StatusActive) {
			msgs = append(msgs, name+": new_user_status must be pending or active")
		}
	}
	return strings.Join(msgs, "; ")
}
