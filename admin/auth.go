package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// authenticate turns the request's bearer token into a principal. Every
// failure is a 401 carrying WWW-Authenticate (RFC 6750), except a valid
// token without the API scope, which is a 403 insufficient_scope.
func (a *API) authenticate(r *http.Request) (domain.Principal, error) {
	ctx := r.Context()
	token, isDPoP, ok := presentedToken(r)
	if !ok {
		return domain.Principal{}, invalidToken("a bearer access token is required")
	}
	ip := clientaddr.IP(r)

	// API tokens carry their own prefix so that they are never sent to the
	// OAuth introspection (which would only say "invalid") and are found by
	// secret scanners. They imply the API scope: they exist for nothing else.
	if strings.HasPrefix(token, domain.APITokenPrefix) {
		if isDPoP {
			return domain.Principal{}, dpopChallenge("invalid_token", "API tokens are bearer tokens, not bound to a DPoP key")
		}
		p, err := a.svc.AuthenticateAPIToken(ctx, token, ip)
		if err != nil {
			if errors.Is(err, domain.ErrUnauthenticated) || errors.Is(err, store.ErrNotFound) {
				return domain.Principal{}, invalidToken("the API token is unknown, expired or revoked")
			}
			return domain.Principal{}, err
		}
		p.Actor.IP = ip
		return p, nil
	}

	at, err := a.introspect(ctx, token)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			return domain.Principal{}, fmt.Errorf("admin: introspect access token: %w", err)
		}
		a.log.DebugContext(ctx, "api: access token refused", "error", err)
		return domain.Principal{}, invalidToken("the access token is invalid, expired or revoked")
	}
	if !at.ExpiresAt.IsZero() && !a.now().Before(at.ExpiresAt) {
		return domain.Principal{}, invalidToken("the access token has expired")
	}
	// RFC 8707: a token issued for another resource is not for this API.
	if len(a.audiences) > 0 && !slices.ContainsFunc(at.Audience, func(aud string) bool { return slices.Contains(a.audiences, aud) }) {
		return domain.Principal{}, invalidToken("the access token was not issued for this API")
	}
	if err := a.checkDPoP(r, token, isDPoP, at.JKT); err != nil {
		return domain.Principal{}, err
	}
	if !slices.Contains(at.Scopes, APIScope) {
		return domain.Principal{}, insufficientScope()
	}

	p, err := a.tokenPrincipal(ctx, token, at, ip)
	if err != nil {
		return domain.Principal{}, err
	}
	// An impersonation ends with its caller's right to act, not only with
	// its own expiry (the rule introspection applies too).
	if _, err := a.svc.ActorMayAct(ctx, at.Act, at.UserID, at.ClientID); err != nil {
		if errors.Is(err, domain.ErrUnauthenticated) {
			return domain.Principal{}, invalidToken("the one acting through the token may no longer act")
		}
		return domain.Principal{}, err
	}
	p.Actor.IP = ip
	// A token made by token exchange acts for its subject on behalf of
	// someone else: the audit log records both (RFC 8693's act).
	p.Actor.Act = at.Act
	p.Exchanged = at.Act != ""
	return p, nil
}

func principalError(err error) error {
	if errors.Is(err, domain.ErrUnauthenticated) {
		return invalidToken("the token's principal is not active")
	}
	return err
}

// presentedToken reads "Authorization: Bearer <token>" or "Authorization:
// DPoP <token>" (schemes case-insensitive, RFC 7235); isDPoP says which.
func presentedToken(r *http.Request) (token string, isDPoP, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	switch {
	case !ok:
		return "", false, false
	case strings.EqualFold(scheme, "DPoP"):
		isDPoP = true
	case !strings.EqualFold(scheme, "Bearer"):
		return "", false, false
	}
	token = strings.TrimSpace(token)
	return token, isDPoP, token != ""
}
