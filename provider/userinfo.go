package provider

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/domain"
)

// handleUserinfo is the OpenID Connect UserInfo endpoint. The claims come
// from the current user record (not from the grant), limited to what the
// token's scopes allow; the token must have been granted openid.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token, isDPoP := presentedToken(r)
	if !isDPoP {
		token = fosite.AccessTokenFromRequest(r)
	}
	if token == "" {
		// RFC 6750 section 3.1: no error code when no credentials came.
		bearerError(w, http.StatusUnauthorized, `Bearer realm="`+p.issuer+`"`)
		return
	}
	tu, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, NewSession())
	if err != nil && unavailable(err) {
		p.writeUnavailable(ctx, w, "userinfo", err)
		return
	}
	if err != nil || tu != fosite.AccessToken {
		if err != nil {
			p.logOAuthError(ctx, "userinfo", err)
		}
		bearerError(w, http.StatusUnauthorized, `Bearer error="invalid_token"`)
		return
	}
	if s, ok := ar.GetSession().(*Session); ok {
		challenge, err := p.checkPresentation(r, token, isDPoP, s.DPoPJKT)
		if err != nil && unavailable(err) {
			p.writeUnavailable(ctx, w, "userinfo", err)
			return
		}
		if err != nil {
			p.log.ErrorContext(ctx, "userinfo: DPoP proof", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		if challenge != "" {
			bearerError(w, http.StatusUnauthorized, challenge)
			return
		}
	}
	if !ar.GetGrantedScopes().Has("openid") {
		bearerError(w, http.StatusForbidden, `Bearer error="insufficient_scope", scope="openid"`)
		return
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.UserID == "" {
		// Not a token of a user (client_credentials, jwt-bearer).
		bearerError(w, http.StatusUnauthorized, `Bearer error="invalid_token"`)
		return
	}
	u, err := p.svc.ActiveUser(ctx, sess.UserID)
	if errors.Is(err, domain.ErrUnauthenticated) {
		bearerError(w, http.StatusUnauthorized, `Bearer error="invalid_token"`)
		return
	}
	if err != nil && unavailable(err) {
		p.writeUnavailable(ctx, w, "userinfo", err)
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "userinfo: get user", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	// An impersonation ends with its impersonator's right to act, here as
	// at introspection and the resource API.
	if _, err := p.svc.ActorMayAct(ctx, sess.ActBy, sess.UserID, ar.GetClient().GetID()); errors.Is(err, domain.ErrUnauthenticated) {
		bearerError(w, http.StatusUnauthorized, `Bearer error="invalid_token"`)
		return
	} else if err != nil && unavailable(err) {
		p.writeUnavailable(ctx, w, "userinfo", err)
		return
	} else if err != nil {
		p.log.ErrorContext(ctx, "userinfo: acting principal", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	claims, err := p.userClaims(ctx, u, ar.GetGrantedScopes())
	if err != nil && unavailable(err) {
		p.writeUnavailable(ctx, w, "userinfo", err)
		return
	}
	if err != nil {
		p.log.ErrorContext(ctx, "userinfo: claims", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	claims["sub"] = sess.GetSubject()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, claims)
}

func bearerError(w http.ResponseWriter, status int, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}
