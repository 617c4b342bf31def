package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/rfc7523"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/store"
)

// Session is gatehouse's one fosite session. It travels with every code and
// token (serialized as JSON in store.Token.Request), so everything a later
// request needs (who, through which browser session, for which client) is in
// it. ID token claims live in the embedded openid.DefaultSession; JWT access
// token claims are derived from it when a token is minted.
type Session struct {
	openid.DefaultSession
	// UserID is set when the subject is a user of the directory (empty for
	// client_credentials and jwt-bearer grants).
	UserID string `json:"user_id,omitempty"`
	// LoginSessionID is the consent.Session the grant was made in, so that
	// ending that browser session ends the grant's tokens.
	LoginSessionID string `json:"login_session_id,omitempty"`
	// ClientID is the client the grant was issued to (the client_id claim of
	// JWT access tokens).
	ClientID string `json:"client_id,omitempty"`

	// Token exchange (tokenexchange.go).
	// Act is the act claim of a token made by token exchange: the
	// impersonating caller, or the client a token was delegated to. nil
	// for every other token.
	Act *ActClaim `json:"act,omitempty"`
	// ActBy is who acts through the token, as the audit log names it
	// (domain.Actor.String): the resource API records it as the act of
	// everything done with the token.
	ActBy string `json:"act_by,omitempty"`
	// DPoPJKT is the thumbprint of the DPoP key (RFC 9449) the grant's
	// access tokens are bound to; for a public client its refresh token
	// too. Empty: bearer tokens.
	DPoPJKT string `json:"dpop_jkt,omitempty"`

	// Break-glass token lifetimes (breakglass.go).
	// NotAfter, when set, is the instant no token of the grant may
	// outlive: the end of a break-glass account's login session.
	NotAfter time.Time `json:"not_after,omitempty"`
}

var (
	_ openid.Session             = (*Session)(nil)
	_ oauth2.JWTSessionContainer = (*Session)(nil)
	_ rfc7523.Session            = (*Session)(nil)
	_ fosite.ExtraClaimsSession  = (*Session)(nil)
)

// NewSession returns an empty session ready for fosite.
func NewSession() *Session {
	return &Session{DefaultSession: openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{},
		Headers: &jwt.Headers{},
	}}
}

// Clone is overridden because the embedded DefaultSession's Clone would
// return a *DefaultSession and lose our fields; fosite clones the session on
// every refresh.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(*Session)
}

// GetJWTClaims builds the claims of a JWT access token (RFC 9068) afresh for
// every token: fosite's JWT strategy writes iat, exp, scope and aud into the
// container it is given, and a container kept in the session would carry the
// first token's iat into every refreshed one.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	extra := map[string]interface{}{"client_id": s.ClientID}
	if at := s.IDTokenClaims().AuthTime; !at.IsZero() && s.UserID != "" {
		extra["auth_time"] = at.Unix()
	}
	// The roles claim is in the session's claims only when the roles scope
	// was granted (scopeClaims); a resource server reading a JWT access
	// token sees the same roles as the ID token.
	if roles, ok := s.IDTokenClaims().Extra["roles"]; ok && s.UserID != "" {
		extra["roles"] = roles
	}
	// So is the permissions claim, under the permissions scope.
	if perms, ok := s.IDTokenClaims().Extra[PermissionsClaim]; ok && s.UserID != "" {
		extra[PermissionsClaim] = perms
	}
	if s.Act != nil {
		extra["act"] = s.Act
	}
	if s.DPoPJKT != "" {
		extra["cnf"] = map[string]interface{}{"jkt": s.DPoPJKT}
	}
	return &jwt.JWTClaims{Subject: s.Subject, Extra: extra}
}

// GetExtraClaims are the members introspection (RFC 7662) adds to its
// answer (fosite.ExtraClaimsSession): the act claim of an exchanged token
// (RFC 8693 §4.1) and a DPoP-bound token's confirmation and type (RFC 9449
// §6.2); nothing for others.
func (s *Session) GetExtraClaims() map[string]interface{} {
	perms, hasPerms := s.IDTokenClaims().Extra[PermissionsClaim]
	hasPerms = hasPerms && s.UserID != ""
	if s.Act == nil && s.DPoPJKT == "" && !hasPerms {
		return nil
	}
	extra := map[string]interface{}{}
	// The user's effective permissions as of the token's issue (or last
	// refresh), under the permissions scope, as in the JWT access token.
	if hasPerms {
		extra[PermissionsClaim] = perms
	}
	if s.Act != nil {
		extra["act"] = s.Act
	}
	if s.DPoPJKT != "" {
		extra["cnf"] = map[string]interface{}{"jkt": s.DPoPJKT}
		extra["token_type"] = "DPoP"
	}
	return extra
}

// GetJWTHeader marks JWT access tokens as such (RFC 9068 section 2.1), so
// that one can never be mistaken for an ID token.
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]interface{}{"typ": "at+jwt"}}
}

// PermissionsScope asks for the permissions claim: the user's effective
// permissions (its roles' and groups' roles', built-in and custom, expired
// grants ignored, its deny list applied).
const (
	PermissionsScope = "permissions"
	PermissionsClaim = "permissions"
)

// scopeClaims returns the user's claims that the granted scopes allow, from
// the given user record: profile → name, preferred_username, updated_at
// and the profile fields (profileClaims); email → email, email_verified;
// phone → phone_number, phone_number_verified; roles → roles (effective
// role names); permissions → permissions (effective permission names).
// roles and perms are only consulted when their scope is granted.
func scopeClaims(u store.User, scopes fosite.Arguments, roles, perms func() ([]string, error)) (map[string]interface{}, error) {
	claims := map[string]interface{}{}
	if scopes.Has("profile") {
		if u.FullName != "" {
			claims["name"] = u.FullName
		}
		claims["preferred_username"] = u.Username
		if !u.UpdatedAt.IsZero() {
			claims["updated_at"] = u.UpdatedAt.Unix()
		}
	}
	if scopes.Has("email") {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	profileClaims(claims, u, scopes)
	if scopes.Has("roles") {
		r, err := roles()
		if err != nil {
			return nil, err
		}
		claims["roles"] = r
	}
	if scopes.Has(PermissionsScope) && perms != nil {
		ps, err := perms()
		if err != nil {
			return nil, err
		}
		claims[PermissionsClaim] = ps
	}
	return claims, nil
}

// userClaims returns the scope-allowed claims of u. The roles claim is the
// domain's effective roles (own roles, the groups' roles, and every ancestor
// of both), computed only when the roles scope asks for it.
func (p *Provider) userClaims(ctx context.Context, u store.User, scopes fosite.Arguments) (map[string]interface{}, error) {
	claims, err := scopeClaims(u, scopes, func() ([]string, error) {
		roles, err := p.svc.EffectiveRoles(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("provider: effective roles: %w", err)
		}
		if roles == nil {
			roles = []string{} // an empty claim, not null
		}
		return roles, nil
	}, func() ([]string, error) {
		perms, err := p.svc.EffectivePermissions(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("provider: effective permissions: %w", err)
		}
		if perms == nil {
			perms = []string{}
		}
		return perms, nil
	})
	if err != nil {
		return nil, err
	}
	// Areas: the area scope asks for the code of the user's default
	// area, left out when it has none (an absent claim, not an empty one).
	if scopes.Has(ScopeArea) {
		code, err := p.svc.DefaultAreaCode(ctx, u.ID)
		if err != nil {
			return nil, fmt.Errorf("provider: default area: %w", err)
		}
		if code != "" {
			claims[ClaimArea] = code
		}
	}
	return claims, nil
}

// The area scope and claim (areas): the code of the user's default area.
const (
	ScopeArea = "area"
	ClaimArea = "area"
)

// userSession builds the session of an authorization made by user u in
// browser session loginSessionID, authenticated at authTime, for the
// authorize request ar with its scopes already granted.
func (p *Provider) userSession(ctx context.Context, u store.User, loginSessionID string, authTime time.Time, amr []string, acr string, ar fosite.AuthorizeRequester) (*Session, error) {
	claims, err := p.userClaims(ctx, u, ar.GetGrantedScopes())
	if err != nil {
		return nil, err
	}
	s := NewSession()
	s.Subject = u.ID
	s.Username = u.Username
	s.UserID = u.ID
	s.LoginSessionID = loginSessionID
	s.ClientID = ar.GetClient().GetID()
	c := s.IDTokenClaims()
	c.Subject = u.ID
	c.AuthTime = authTime.UTC().Truncate(time.Second)
	// fosite compares auth_time with the request time for prompt=none and
	// max_age; both must come from the same (fosite's) clock.
	c.RequestedAt = ar.GetRequestedAt().UTC()
	// How the login session's sign-in authenticated (domain.AMR*,
	// domain.ACR*); sessions from before MFA have neither.
	if len(amr) > 0 {
		c.AuthenticationMethodsReferences = slices.Clone(amr)
	}
	c.AuthenticationContextClassReference = acr
	c.Extra = withSID(claims, loginSessionID)
	if err := p.capToBreakGlass(ctx, s, u, ar.GetClient()); err != nil {
		return nil, err
	}
	// RFC 9449 §10: the code is redeemed only with a proof of this key.
	s.DPoPJKT = ar.GetRequestForm().Get("dpop_jkt")
	return s, nil
}
