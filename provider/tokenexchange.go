package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// Token exchange (RFC 8693). The client presents an access token as
// subject_token and gets a new access token for it:
//
//   - delegation (no requested_subject): the same subject, with the
//     subject token's scopes or fewer, for another audience the client is
//     registered for; act names the client;
//   - impersonation ("su", requested_subject=<user id or username>, the
//     Keycloak pattern, since the point is to act as someone whose token
//     the caller does not hold): the subject token is the caller's own,
//     the new token's subject is the named user and act names the caller.
//
// Neither ever comes with a refresh token: an exchanged token lives at most
// as long as the token it came from (and impersonation at most
// domain.MaxImpersonationLifetime).
const (
	grantTypeTokenExchange = domain.GrantTokenExchange
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// ActClaim is RFC 8693 §4.1's act claim: who acts on the subject's behalf,
// and, nested, who acted before it when a token is exchanged again.
type ActClaim struct {
	Subject string    `json:"sub"`
	Act     *ActClaim `json:"act,omitempty"`
}

// tokenExchange is the token endpoint handler of the token-exchange grant,
// composed beside fosite's own handlers and found by dispatchByGrant like
// them.
type tokenExchange struct {
	p *Provider
	*oauth2.HandleHelper
}

var _ fosite.TokenEndpointHandler = (*tokenExchange)(nil)

// tokenExchangeFactory is a compose factory: storage and strategy are the
// ones every other handler gets.
func (p *Provider) tokenExchangeFactory(config fosite.Configurator, storage, strategy interface{}) interface{} {
	return &tokenExchange{p: p, HandleHelper: &oauth2.HandleHelper{
		AccessTokenStrategy: strategy.(oauth2.AccessTokenStrategy),
		AccessTokenStorage:  storage.(oauth2.AccessTokenStorage),
		Config:              config,
	}}
}

func (h *tokenExchange) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(grantTypeTokenExchange)
}

// CanSkipClientAuth is false: the client the new token is for must be
// known (and public clients authenticate by their id, as for the code
// grant).
func (h *tokenExchange) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// HandleTokenEndpointRequest checks the exchange and fills the request's
// session. Every refusal comes before impersonation is audited, so a
// refused request leaves no entry; what follows it can fail only with a
// server error, which rolls the entry back (handleToken's transaction).
func (h *tokenExchange) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	c := r.GetClient()
	if !c.GetGrantTypes().Has(grantTypeTokenExchange) {
		return fosite.ErrUnauthorizedClient.WithHintf("The OAuth 2.0 Client is not allowed to use authorization grant '%s'.", grantTypeTokenExchange)
	}
	form := r.GetRequestForm()
	if err := checkExchangeForm(form); err != nil {
		return err
	}
	subject, sub, err := h.p.subjectToken(ctx, form.Get("subject_token"))
	if err != nil {
		return err
	}
	if !holds(c.GetID(), subject) {
		return fosite.ErrInvalidGrant.WithHint("The subject token was not issued to this client, nor is the client in its audience.")
	}
	if sub.UserID == "" && sub.Subject != subject.GetClient().GetID() {
		// A jwt-bearer grant's subject is neither a user nor a service
		// account that the resource API would know.
		return fosite.ErrInvalidGrant.WithHint("The subject token must be a user's or a service account's.")
	}
	now := h.p.now().UTC()
	subjectExp := sub.GetExpiresAt(fosite.AccessToken)
	lifetime := fosite.GetEffectiveLifespan(c, fosite.GrantType(grantTypeTokenExchange), fosite.AccessToken, h.Config.GetAccessTokenLifespan(ctx))
	if !subjectExp.IsZero() {
		lifetime = min(lifetime, subjectExp.Sub(now))
	}
	scopes, err := h.exchangeScopes(c, r.GetRequestedScopes(), subject.GetGrantedScopes())
	if err != nil {
		return err
	}
	audience, err := exchangeAudience(c, r.GetRequestedAudience(), form["resource"])
	if err != nil {
		return err
	}

	sess, ok := r.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithDebugf("unexpected session type %T", r.GetSession())
	}
	var user store.User
	if target := form.Get("requested_subject"); target != "" {
		if sub.Act != nil {
			return fosite.ErrInvalidGrant.WithHint("A token that already acts for someone cannot impersonate.")
		}
		lifetime = min(lifetime, domain.ImpersonationLifetime(now, subjectExp))
		if lifetime <= 0 {
			return fosite.ErrInvalidGrant.WithHint("The subject token has expired.")
		}
		req := domain.ImpersonationRequest{Target: target, ClientID: c.GetID(), Scopes: scopes}
		if sub.UserID != "" {
			req.CallerUserID = sub.UserID
		} else {
			req.CallerClientID = sub.Subject
		}
		req.IP, _ = clientaddr.FromContext(ctx)
		// Last: it audits the impersonation.
		imp, err := h.p.svc.Impersonate(ctx, req)
		if err != nil {
			return impersonationError(err)
		}
		user = imp.Target
		sess.Act = &ActClaim{Subject: sub.Subject}
		sess.ActBy = imp.Caller.String()
		// Ending the caller's browser session ends what it started.
		sess.LoginSessionID = sub.LoginSessionID
	} else {
		if lifetime <= 0 {
			return fosite.ErrInvalidGrant.WithHint("The subject token has expired.")
		}
		if sub.UserID != "" {
			u, err := h.p.svc.ActiveUser(ctx, sub.UserID)
			if errors.Is(err, domain.ErrUnauthenticated) {
				return fosite.ErrInvalidGrant.WithHint("The subject token's user is gone or no longer active.").WithDebug(err.Error())
			}
			if err != nil {
				return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
			}
			if err := h.p.admitsUser(ctx, c, u); err != nil {
				return err
			}
			user = u
		}
		sess.Act = &ActClaim{Subject: c.GetID(), Act: sub.Act}
		// The audit names whoever acts: an impersonator stays named
		// through any delegation of its token.
		sess.ActBy = sub.ActBy
		if sess.ActBy == "" {
			sess.ActBy = domain.Actor{Type: store.ActorClient, ID: c.GetID()}.String()
		}
		sess.LoginSessionID = sub.LoginSessionID
		sess.Subject = sub.Subject
	}
	sess.ClientID = c.GetID()
	if user.ID != "" {
		claims, err := h.p.userClaims(ctx, user, scopes)
		if err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		sess.Subject = user.ID
		sess.UserID = user.ID
		sess.Username = user.Username
		sess.IDTokenClaims().Subject = user.ID
		sess.IDTokenClaims().Extra = claims
	}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(lifetime))
	for _, s := range scopes {
		r.GrantScope(s)
	}
	for _, a := range audience {
		r.GrantAudience(a)
	}
	return nil
}

// PopulateTokenEndpointResponse issues the access token, and nothing else:
// no refresh token, whatever the scopes.
func (h *tokenExchange) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	lifetime := r.GetSession().GetExpiresAt(fosite.AccessToken).Sub(h.p.now())
	if _, err := h.IssueAccessToken(ctx, lifetime, r, resp); err != nil {
		return err
	}
	resp.SetExtra("issued_token_type", tokenTypeAccessToken)
	return nil
}

// checkExchangeForm refuses what RFC 8693 §2.1 makes malformed and what
// gatehouse does not offer: only access tokens are exchanged and issued,
// and the caller is the subject token (an actor_token has no role here).
// A repeated parameter never gets here (onceParams).
func checkExchangeForm(form url.Values) error {
	switch {
	case form.Get("subject_token") == "":
		return fosite.ErrInvalidRequest.WithHint("The parameter 'subject_token' is required.")
	case form.Get("subject_token_type") == "":
		return fosite.ErrInvalidRequest.WithHint("The parameter 'subject_token_type' is required.")
	case form.Get("subject_token_type") != tokenTypeAccessToken:
		return fosite.ErrInvalidRequest.WithHintf("The subject_token_type '%s' is not supported; use '%s'.", form.Get("subject_token_type"), tokenTypeAccessToken)
	case form.Get("actor_token") != "" || form.Get("actor_token_type") != "":
		return fosite.ErrInvalidRequest.WithHint("actor_token is not supported: present your own token as subject_token and name the user to act as with requested_subject.")
	case form.Get("requested_token_type") != "" && form.Get("requested_token_type") != tokenTypeAccessToken:
		return fosite.ErrInvalidRequest.WithHintf("The requested_token_type '%s' is not supported; use '%s'.", form.Get("requested_token_type"), tokenTypeAccessToken)
	}
	return nil
}

// subjectToken is the active access token presented as subject_token, and
// its session; anything else is invalid_grant (RFC 8693 §2.2.2).
func (p *Provider) subjectToken(ctx context.Context, token string) (fosite.AccessRequester, *Session, error) {
	tu, ar, err := p.oauth.IntrospectToken(introspecting(ctx), token, fosite.AccessToken, NewSession())
	if err != nil {
		if unavailable(err) || isServerError(err) {
			return nil, nil, err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, fosite.ErrServerError.WithWrap(ctxErr).WithDebug(ctxErr.Error())
		}
		return nil, nil, fosite.ErrInvalidGrant.WithHint("The subject token is invalid, expired or revoked.").WithDebug(fosite.ErrorToRFC6749Error(err).GetDescription())
	}
	if tu != fosite.AccessToken {
		return nil, nil, fosite.ErrInvalidGrant.WithHint("The subject token is not an access token.")
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return nil, nil, fosite.ErrServerError.WithDebugf("unexpected session type %T", ar.GetSession())
	}
	return ar, sess, nil
}

// holds reports whether the client may present the token: it was issued
// to the client, or names the client in its audience.
func holds(clientID string, token fosite.AccessRequester) bool {
	return token.GetClient().GetID() == clientID || slices.Contains(token.GetGrantedAudience(), clientID)
}

// exchangeScopes are the new token's scopes: those requested, or else the
// subject token's, never one the subject token lacks or the client may not
// ask for. offline_access is dropped: no refresh token is ever issued.
func (h *tokenExchange) exchangeScopes(c fosite.Client, requested, held []string) ([]string, error) {
	if len(requested) == 0 {
		requested = held
	}
	if wider := domain.NarrowerScopes(held, requested); len(wider) > 0 {
		return nil, fosite.ErrInvalidScope.WithHintf("The scope '%s' is wider than the subject token's.", strings.Join(wider, " "))
	}
	out := make([]string, 0, len(requested))
	for _, s := range requested {
		if !h.p.scopes(c.GetScopes(), s) {
			return nil, fosite.ErrInvalidScope.WithHintf("The OAuth 2.0 Client is not allowed to request scope '%s'.", s)
		}
		if s != "offline_access" && s != "offline" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// exchangeAudience is the new token's audience: the audience and resource
// parameters (RFC 8693 §2.1, RFC 8707), each one the client is registered
// for. None: the server's default audience.
func exchangeAudience(c fosite.Client, audience, resources []string) ([]string, error) {
	out := slices.Clone(audience)
	for _, r := range resources {
		if !isResourceURI(r) {
			return nil, errInvalidTarget(fmt.Sprintf("The resource '%s' must be an absolute URI without a fragment.", r))
		}
		out = append(out, r)
	}
	for _, a := range out {
		if !slices.Contains(c.GetAudience(), a) {
			return nil, errInvalidTarget(fmt.Sprintf("The OAuth 2.0 Client is not allowed the audience '%s'.", a))
		}
	}
	return out, nil
}

// impersonationError maps the domain's refusals of an impersonation to the
// token endpoint's codes. A caller without the permission, or weaker than
// its target, is unauthorized_client: RFC 6749 §5.2 (which RFC 8693 §2.2.2
// adopts) has no access_denied at the token endpoint, and what is refused
// is this grant to this caller.
func impersonationError(err error) error {
	switch {
	case errors.Is(err, domain.ErrForbidden):
		msg := err.Error()
		var de *domain.Error
		if errors.As(err, &de) {
			msg = de.Message
		}
		return fosite.ErrUnauthorizedClient.WithHintf("Impersonation refused: %s.", msg).WithDebug(err.Error())
	case errors.Is(err, domain.ErrUnauthenticated):
		return fosite.ErrInvalidGrant.WithHint("The subject token's holder may no longer act.").WithDebug(err.Error())
	}
	if v, ok := domain.AsValidation(err); ok {
		return fosite.ErrInvalidRequest.WithHintf("The parameter '%s' %s.", v.Fields[0].Field, v.Fields[0].Message)
	}
	return fosite.ErrServerError.WithWrap(err).WithDebug(fmt.Sprintf("provider: impersonate: %v", err))
}
