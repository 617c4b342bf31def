package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/dpop"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// handleToken is the token endpoint. Redeeming a code or a refresh token runs
// in one store transaction begun before fosite reads anything: inside it the
// store locks the code or refresh token row on read, so concurrent
// redemptions of one credential serialize and the losers see it inactive
// (invalid_grant, with fosite's reuse handling) instead of failing on a
// conflict. fosite's own MaybeBeginTx nests as a savepoint, except in the
// refresh handler (rotation.go).
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p.offerDPoPNonce(w)
	// fosite parses the form again; this only peeks at the grant type. A
	// parse error is fosite's to report.
	_ = r.ParseForm()
	grant := r.PostForm.Get("grant_type")

	// fosite answers both of these with invalid_request; RFC 6749 §5.2 names
	// them precisely, and clients branch on the code.
	if grant != "" && !supportedGrantTypes[grant] {
		p.writeToken(ctx, w, nil, nil, fosite.ErrUnsupportedGrantType.WithHintf("The grant type %q is not supported.", grant))
		return
	}
	// Without even a grant type the request is malformed (invalid_request,
	// fosite's answer) before it is unauthenticated.
	if grant != "" && !presentsClient(r) {
		p.writeToken(ctx, w, nil, nil, errNoClientAuth)
		return
	}

	// fosite bounds a jwt-bearer assertion's lifetime from its own iat, so
	// one "issued" years ahead passes, and its jti is kept until it
	// expires: bound it from now, before fosite stores anything.
	if grant == grantTypeJWTBearer && expiresTooLate(r.PostForm.Get("assertion"), p.now(), jwtBearerMaxAge) {
		p.writeToken(ctx, w, nil, nil, fosite.ErrInvalidGrant.WithHintf("The assertion must expire within %s.", jwtBearerMaxAge))
		return
	}

	active, err := p.keys.Active(ctx)
	var k keys.SigningKey
	if err == nil {
		k, err = active.Default()
	}
	if err != nil {
		p.writeToken(ctx, w, nil, nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	ctx = withActiveKeys(withSigningKey(ctx, k), active)

	if !needsTransaction(r) {
		ar, resp, err := p.exchange(ctx, r)
		p.writeToken(ctx, w, ar, resp, err)
		return
	}

	if grant == "authorization_code" {
		// The code with its records and user in one read, its
		// redemption in one write (codeflow.go).
		ctx = withCodeRedemption(withGrantUsers(ctx))
	}
	if grant == "refresh_token" {
		// The grant's user, read with the refresh token (rotation.go).
		ctx = withGrantUsers(ctx)
	}
	txCtx, err := p.store.BeginTx(ctx)
	if err != nil {
		p.writeToken(ctx, w, nil, nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	ar, resp, err := p.exchange(txCtx, r)
	if err != nil && (isServerError(err) || unavailable(err)) {
		if rbErr := p.store.Rollback(txCtx); rbErr != nil {
			p.log.ErrorContext(ctx, "token: rollback", "err", rbErr)
		}
	} else if cErr := p.store.Commit(txCtx); cErr != nil {
		// Nothing the response would report was stored: tokens must not
		// go out, and a refusal's revocations did not happen either.
		err = fosite.ErrServerError.WithWrap(cErr).WithDebug(cErr.Error())
		resp = nil
	}
	p.writeToken(ctx, w, ar, resp, err)
}

// needsTransaction reports whether a token request writes more than one
// thing that must commit together (call after ParseForm):
//   - redeeming a code or a refresh token (see handleToken);
//   - an impersonation: its audit entry and its token;
//   - a device code: its poll record, its redemption and its tokens
//     (device.go);
//   - a DPoP proof's replay record with the tokens it bound, so that a
//     request failing on the server's side burns no proof; except for
//     client_credentials, whose one write, the access token, records the
//     proof in the same statement (bindDPoP).
//
// A delegation or a client_credentials grant writes only its token.
func needsTransaction(r *http.Request) bool {
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "authorization_code", "refresh_token", grantTypeDeviceCode:
		return true
	case grantTypeTokenExchange:
		return r.PostForm.Get("requested_subject") != "" || len(r.Header.Values(dpop.Header)) > 0
	case "client_credentials":
		return false
	default:
		return len(r.Header.Values(dpop.Header)) > 0
	}
}

// supportedGrantTypes are the grants discovery lists.
var supportedGrantTypes = map[string]bool{
	"authorization_code": true, "refresh_token": true, "client_credentials": true, grantTypeJWTBearer: true,
	grantTypeTokenExchange: true,
	grantTypeDeviceCode:    true,
}

// errNoClientAuth answers a token or revocation request that names no client
// at all (RFC 6749 §5.2: invalid_client, 401).
var errNoClientAuth = fosite.ErrInvalidClient.WithHint("Client authentication is required: use HTTP Basic, client_secret_post, private_key_jwt, or client_id for public clients.")

// presentsClient reports whether the request names a client in any of the
// ways the endpoints accept (call after ParseForm).
func presentsClient(r *http.Request) bool {
	if _, _, ok := r.BasicAuth(); ok {
		return true
	}
	return r.PostForm.Get("client_id") != "" || r.PostForm.Get("client_assertion") != ""
}

// exchange runs fosite's token request and response, with the handlers of
// the request's grant type only (call after ParseForm).
func (p *Provider) exchange(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error) {
	sess := NewSession()
	oauth := p.tokenOAuth(r.PostForm.Get("grant_type"))
	proof, err := p.tokenProof(r)
	if err != nil {
		return nil, nil, err
	}
	ar, err := oauth.NewAccessRequest(ctx, r, sess)
	if err != nil {
		return ar, nil, err
	}
	switch {
	case ar.GetGrantTypes().ExactOne("client_credentials"):
		// fosite checked the client may ask for these; it does not grant
		// them itself. The client acts as itself: the subject is its id.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
		sess.Subject = ar.GetClient().GetID()
		sess.ClientID = ar.GetClient().GetID()
		// Its access token is its grant's only token (clienttokens.go).
		ctx = withClientCredentials(ctx)
	case ar.GetGrantTypes().ExactOne(grantTypeJWTBearer):
		// The rfc7523 handler set the subject to the assertion's.
		sess.ClientID = ar.GetClient().GetID()
	}
	if err := p.checkTokenResources(ar); err != nil {
		return ar, nil, err
	}
	if ctx, err = p.bindDPoP(ctx, ar, proof); err != nil {
		return ar, nil, err
	}
	resp, err := oauth.NewAccessResponse(ctx, ar)
	if errors.Is(err, store.ErrDPoPProofUsed) {
		return ar, nil, dpopTokenError(dpop.UseError(err))
	}
	if err != nil {
		return ar, nil, err
	}
	if proof != nil {
		resp.SetTokenType(dpopTokenType)
	}
	return ar, resp, nil
}

func (p *Provider) writeToken(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, resp fosite.AccessResponder, err error) {
	if err != nil {
		err = assertionGrantError(ar, asUnavailable(err))
		p.logOAuthError(ctx, "token", err)
		p.oauth.WriteAccessError(ctx, w, ar, err)
		return
	}
	// Counted before the write: the tokens exist (stored, committed) even
	// if the client hangs up before reading them. handleToken let only
	// supported grant types this far, so the label stays bounded.
	grantType := strings.Join(ar.GetGrantTypes(), " ")
	p.opts.Tokens.TokenIssued(grantType)
	p.opts.Usage.Count(store.UsageTokens, grantType)
	p.touchRegistered(ctx, ar.GetClient())
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

// assertionGrantError maps a JWT-bearer assertion presented again — in
// sequence (jti_known) or concurrently (the store's conflict, which fosite
// reports as a server error) — to invalid_grant (RFC 7523 §3.1). A replayed
// client assertion is invalid_client already and stays so.
func assertionGrantError(ar fosite.AccessRequester, err error) error {
	if ar == nil || !ar.GetGrantTypes().ExactOne(grantTypeJWTBearer) || !errors.Is(err, fosite.ErrJTIKnown) {
		return err
	}
	if fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrInvalidClient.ErrorField {
		return err
	}
	return fosite.ErrInvalidGrant.WithHint("The assertion has been used before.").WithWrap(err).WithDebug(err.Error())
}

// handleIntrospect is RFC 7662 token introspection for authenticated
// clients (resource servers). fosite would also accept any access token as
// the caller's credential (in the Authorization header or an access_token
// parameter), which would let every token holder inspect every other token;
// only HTTP Basic client credentials are accepted.
func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := introspecting(r.Context())
	_ = r.ParseForm()
	if _, _, ok := r.BasicAuth(); !ok || r.Form.Has("access_token") {
		err := fosite.ErrInvalidClient.WithHint("Authenticate the client with HTTP Basic authentication.")
		p.logOAuthError(ctx, "introspect", err)
		p.writeIntrospectionError(ctx, w, err)
		return
	}
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, NewSession())
	if err != nil && unavailable(err) {
		// fosite would answer {"active": false}: the token is not known to
		// be inactive, it could not be looked up.
		p.writeUnavailable(ctx, w, "introspect", err)
		return
	}
	if err != nil {
		err = introspectionClientError(err)
		// An inactive token is an answer ({"active": false}), not a
		// failure worth a log line.
		if !errors.Is(err, fosite.ErrInactiveToken) {
			p.logOAuthError(ctx, "introspect", err)
		}
		p.writeIntrospectionError(ctx, w, err)
		return
	}
	p.oauth.WriteIntrospectionResponse(ctx, w, ir)
}

// handleRevoke is RFC 7009 token revocation: revoking either token of a
// grant revokes the grant's refresh and access tokens.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_ = r.ParseForm()
	if !presentsClient(r) {
		p.logOAuthError(ctx, "revoke", errNoClientAuth)
		p.oauth.WriteRevocationResponse(ctx, w, errNoClientAuth)
		return
	}
	err := p.oauth.NewRevocationRequest(ctx, r)
	if err != nil && (unavailable(err) || fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrTemporarilyUnavailable.ErrorField) {
		// fosite answers 200 to both (its own temporarily_unavailable,
		// for a token it could not look up, drops the cause): nothing was
		// revoked, and the client must try again (RFC 7009 §2.2.1).
		p.writeUnavailable(ctx, w, "revoke", err)
		return
	}
	if err != nil {
		p.logOAuthError(ctx, "revoke", err)
	}
	p.oauth.WriteRevocationResponse(ctx, w, err)
}

// handlePAR is RFC 9126 pushed authorization requests.
func (p *Provider) handlePAR(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := p.oauth.NewPushedAuthorizeRequest(ctx, r)
	if err == nil && ar.GetRequestForm().Get("request") != "" {
		err = fosite.ErrRequestNotSupported.WithHint("Request objects are not supported; push the parameters themselves.")
	}
	if err == nil {
		// Refused now rather than when the browser arrives (RFC 8707).
		_, err = requestedResources(ar.GetRequestForm(), ar.GetClient())
	}
	if err != nil {
		err = asUnavailable(err)
		p.logOAuthError(ctx, "par", err)
		p.oauth.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	resp, err := p.oauth.NewPushedAuthorizeResponse(ctx, ar, NewSession())
	if err != nil {
		err = asUnavailable(err)
		p.logOAuthError(ctx, "par", err)
		p.oauth.WritePushedAuthorizeError(ctx, w, ar, err)
		return
	}
	p.oauth.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

// grantGuard is a token endpoint handler of our own, run after fosite's
// grant handlers have loaded the grant's session:
//   - authorization_code and refresh_token: the grant's user must still
//     exist and be active, a refresh must come from an address the user's
//     IP rules admit, and it re-reads the user's claims so that a new ID
//     token reflects the current directory;
//   - jwt-bearer: the requested scopes must be allowed to the client too,
//     not only to the trusted issuer's key (fosite checks only the latter).
type grantGuard struct {
	p *Provider
}

var _ fosite.TokenEndpointHandler = (*grantGuard)(nil)

func (g *grantGuard) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	gt := r.GetGrantTypes()
	return gt.ExactOne("authorization_code") || gt.ExactOne("refresh_token") || gt.ExactOne(grantTypeJWTBearer)
}

func (g *grantGuard) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (g *grantGuard) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	if r.GetGrantTypes().ExactOne(grantTypeJWTBearer) {
		for _, s := range r.GetRequestedScopes() {
			if !g.p.scopes(r.GetClient().GetScopes(), s) {
				return fosite.ErrInvalidScope.WithHintf("The OAuth 2.0 Client is not allowed to request scope '%s'.", s)
			}
		}
		return nil
	}
	sess, ok := r.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithDebugf("unexpected session type %T", r.GetSession())
	}
	if sess.UserID == "" {
		return nil
	}
	u, err := g.p.grantUser(ctx, sess.UserID)
	if errors.Is(err, domain.ErrUnauthenticated) {
		return fosite.ErrInvalidGrant.WithHint("The user of this grant is gone or no longer active.").WithDebug(err.Error())
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(fmt.Sprintf("provider: get grant user: %v", err))
	}
	// The client's app access rule, checked again at every redemption and
	// refresh: a user removed from the role loses the app at the next
	// refresh, before fosite rotates anything.
	if err := g.p.admitsUser(ctx, r.GetClient(), u); err != nil {
		return err
	}
	// Break-glass: fosite has just set the access token's expiry; no token
	// of the grant outlives its emergency session (breakglass.go).
	if err := capAccessToken(sess, g.p.now()); err != nil {
		return err
	}
	if r.GetGrantTypes().ExactOne("refresh_token") {
		// Checked here, before fosite rotates anything: a refused refresh
		// leaves the token as it was, usable from an allowed address.
		ip, _ := clientaddr.FromContext(ctx)
		switch err := g.p.svc.AdmitAddress(ctx, u, ip, "refresh"); {
		case errors.Is(err, domain.ErrAddressRefused):
			return fosite.ErrInvalidGrant.WithDebug(err.Error())
		case err != nil:
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		claims, err := g.p.userClaims(ctx, u, r.GetGrantedScopes())
		if err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		sess.IDTokenClaims().Extra = withSID(claims, sess.LoginSessionID)
		sess.Username = u.Username
	}
	return nil
}

func (g *grantGuard) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	return fosite.ErrUnknownRequest
}

// admitsUser applies the client's app access rule (domain.MayUseClient) at
// the token endpoint, for every grant that carries a user: invalid_grant
// for a user the rule no longer admits.
func (p *Provider) admitsUser(ctx context.Context, fc fosite.Client, u store.User) error {
	c, ok := fc.(*client)
	if !ok {
		return fosite.ErrServerError.WithDebugf("unexpected client type %T", fc)
	}
	allowed, err := p.svc.MayUseClient(ctx, u, c.Client)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if !allowed {
		return fosite.ErrInvalidGrant.WithHint("The user may not use this client.")
	}
	return nil
}
