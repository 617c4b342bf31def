package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// handleAuthorize is the authorization endpoint: it validates the request
// (fosite), makes sure the right person is signed in, asks for consent when
// needed, and answers the client with a code.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ar, err := p.oauth.NewAuthorizeRequest(r.Context(), r)
	if err == nil {
		err = checkAuthorizeRequest(ar)
	}
	if err == nil {
		err = applyResources(ar)
	}
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	sess, ok := p.signedIn(w, r, ar)
	if !ok {
		return
	}
	if !p.admitted(w, r, ar, sess) {
		return
	}
	needed, err := p.consentNeeded(r.Context(), sess, ar)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	if needed {
		if promptsOf(ar).Has("none") {
			p.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented to this request."))
			return
		}
		p.renderConsent(w, r, ar, sess)
		return
	}
	p.issue(w, r, ar, sess)
}

// handleConsent receives the consent form: the pages check it and say what
// it decided; the request it carries is validated again from scratch.
func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	d, ok := p.pages.ReadConsent(w, r)
	if !ok {
		return
	}
	if d.Session == nil {
		// Signed out meanwhile: start the authorization over after login.
		params, _ := url.ParseQuery(d.Request)
		p.pages.RedirectToLogin(w, r, p.prefix+"/oauth2/auth?"+params.Encode())
		return
	}
	ar, synth, err := p.replayAuthorize(r, d.Request)
	if err != nil {
		p.authorizeError(w, synth, ar, err)
		return
	}
	// The login rules (prompt, max_age) apply again: time has passed on
	// the consent page.
	sess, ok := p.signedIn(w, synth, ar)
	if !ok {
		return
	}
	if !d.Allow {
		p.authorizeError(w, synth, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}
	if !p.admitted(w, synth, ar, sess) {
		return
	}
	if err := p.svc.GrantConsent(r.Context(), sess.User.ID, ar.GetClient().GetID(), ar.GetRequestedScopes()); err != nil {
		p.authorizeError(w, synth, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	p.issue(w, synth, ar, sess)
}

// replayAuthorize re-validates the authorization request carried by the
// consent form, as fosite would a fresh GET of the authorization endpoint:
// nothing from the first validation is trusted across the round trip.
func (p *Provider) replayAuthorize(r *http.Request, request string) (fosite.AuthorizeRequester, *http.Request, error) {
	synth := r.Clone(r.Context())
	synth.Method = http.MethodGet
	synth.URL = &url.URL{Path: p.prefix + "/oauth2/auth", RawQuery: request}
	synth.RequestURI = synth.URL.RequestURI()
	synth.Body = http.NoBody
	synth.ContentLength = 0
	synth.Form, synth.PostForm, synth.MultipartForm = nil, nil, nil
	synth.Header.Del("Content-Type")
	ar, err := p.oauth.NewAuthorizeRequest(synth.Context(), synth)
	if err == nil {
		err = checkAuthorizeRequest(ar)
	}
	if err == nil {
		err = applyResources(ar)
	}
	return ar, synth, err
}

// checkAuthorizeRequest refuses what fosite lets through at the
// authorization endpoint but gatehouse does not offer: request objects
// (discovery says request_parameter_supported false), and codes for clients
// that may not redeem them.
func checkAuthorizeRequest(ar fosite.AuthorizeRequester) error {
	if ar.GetRequestForm().Get("request") != "" {
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported; send the parameters directly or push them to the pushed authorization request endpoint.")
	}
	if !ar.GetClient().GetGrantTypes().Has("authorization_code") {
		return fosite.ErrUnauthorizedClient.WithHint("The OAuth 2.0 Client is not allowed to use the authorization code grant.")
	}
	// fosite's PKCE handler enforces these only when the code is issued,
	// after the person has signed in and consented for nothing; refuse the
	// request before anyone is asked anything.
	form := ar.GetRequestForm()
	if ar.GetClient().IsPublic() && form.Get("code_challenge") == "" {
		return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
	}
	if form.Get("code_challenge") != "" && form.Get("code_challenge_method") != "S256" {
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256.")
	}
	// OpenID Connect Core 3.1.2.1: max_age is a number of seconds. One we
	// cannot read would otherwise mean no limit at all.
	if raw := form.Get("max_age"); raw != "" {
		if n, err := strconv.ParseInt(raw, 10, 64); err != nil || n < 0 {
			return fosite.ErrInvalidRequest.WithHint("The max_age parameter must be a non-negative number of seconds.")
		}
	}
	return nil
}

// signedIn returns the login session the request may use, or answers the
// request itself (login page, login_required, or the request-access page
// for a pending user) and returns false. A session it returns belongs to an
// active user.
func (p *Provider) signedIn(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester) (*consent.Session, bool) {
	return p.signedInTo(w, r, ar, p.returnTo(ar))
}

// signedInTo is signedIn with where the login (or the request-access page)
// sends the browser back to: the device page has its own (devicepage.go).
func (p *Provider) signedInTo(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, returnTo string) (*consent.Session, bool) {
	prompts := promptsOf(ar)
	// The remembered consent to the client comes with the session, in the
	// same round trip, for consentNeeded (none for the device page's
	// request, which names no client).
	clientID := ""
	if c := ar.GetClient(); c != nil {
		clientID = c.GetID()
	}
	sess, err := p.pages.CurrentSessionFor(r, clientID)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return nil, false
	}
	var reason string
	switch {
	case sess == nil:
		reason = "The user is not signed in."
	case prompts.Has("login"):
		reason = "The client asked for the user to sign in again."
	case maxAgeExceeded(ar, sess.AuthTime):
		reason = "The user's sign-in is older than max_age allows."
	case !acrSatisfied(ar, sess.ACR):
		// Step-up: the client asked for two factors (acr_values=aal2);
		// the login sends the user through the second step (or enrolment).
		reason = "The client asked for a higher authentication level than the user's sign-in has."
	}
	if reason == "" && sess.ACR != domain.ACRMultiFactor && sess.User.Status != store.StatusPending {
		// A session from before the user's role came to require MFA (or
		// from before MFA) does not let them skip it.
		required, err := p.svc.MFARequired(r.Context(), sess.User)
		if err != nil {
			p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return nil, false
		}
		if required {
			reason = "The user's roles require a second factor, which their sign-in lacks."
		}
	}
	if reason == "" && sess.User.Status == store.StatusPending {
		// Signed in, but no access yet: never a code. The browser goes to
		// the request-access page and comes back here once approved.
		if prompts.Has("none") {
			p.authorizeError(w, r, ar, fosite.ErrInteractionRequired.WithHint("The user has to request access first."))
			return nil, false
		}
		p.pages.RedirectToAccessRequest(w, r, returnTo)
		return nil, false
	}
	if reason == "" {
		return sess, true
	}
	if prompts.Has("none") {
		p.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint(reason))
		return nil, false
	}
	p.pages.RedirectToLogin(w, r, returnTo)
	return nil, false
}

// maxAgeExceeded applies max_age (OpenID Connect Core 3.1.2.1); max_age=0
// asks for a fresh login like prompt=login. It compares with the request
// time fosite recorded, as fosite's own check does.
func maxAgeExceeded(ar fosite.AuthorizeRequester, authTime time.Time) bool {
	raw := ar.GetRequestForm().Get("max_age")
	if raw == "" {
		return false
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return false
	}
	if n == 0 {
		return true
	}
	return authTime.UTC().Truncate(time.Second).Add(time.Duration(n) * time.Second).Before(ar.GetRequestedAt())
}

// acrSatisfied reports whether a session of level acr meets the
// request's acr_values (OpenID Connect Core 3.1.2.1): any one of them will
// do, as the parameter lists them in order of preference.
func acrSatisfied(ar fosite.AuthorizeRequester, acr string) bool {
	wanted := strings.Fields(ar.GetRequestForm().Get("acr_values"))
	if len(wanted) == 0 {
		return true
	}
	for _, w := range wanted {
		if domain.ACRSatisfies(acr, w) {
			return true
		}
	}
	return false
}

func promptsOf(ar fosite.AuthorizeRequester) fosite.Arguments {
	return fosite.RemoveEmpty(strings.Split(ar.GetRequestForm().Get("prompt"), " "))
}

// authorizeParams are the parameters that recreate ar at the authorization
// endpoint. A pushed request's request_uri is one-use and already spent, so
// its parameters are written out from the loaded request instead.
func authorizeParams(ar fosite.AuthorizeRequester) url.Values {
	v := url.Values{}
	for k, vals := range ar.GetRequestForm() {
		v[k] = append([]string(nil), vals...)
	}
	v.Del("request_uri")
	v.Del("client_assertion_type")
	for _, k := range secretParameters {
		v.Del(k)
	}
	return v
}

// returnTo is where the login page sends the browser back: the same
// authorization request, minus what made us send it to the login page
// (prompt=login, max_age=0), or the round trip would never end.
func (p *Provider) returnTo(ar fosite.AuthorizeRequester) string {
	v := authorizeParams(ar)
	var keep []string
	for _, pr := range promptsOf(ar) {
		if pr != "login" {
			keep = append(keep, pr)
		}
	}
	if len(keep) == 0 {
		v.Del("prompt")
	} else {
		v.Set("prompt", strings.Join(keep, " "))
	}
	if v.Get("max_age") == "0" {
		v.Del("max_age")
	}
	return p.prefix + "/oauth2/auth?" + v.Encode()
}

// consentNeeded asks the domain's consent rules about ar, handing them the
// remembered consent read with the session (the domain uses it only if it
// is sess's user's to ar's client).
func (p *Provider) consentNeeded(ctx context.Context, sess *consent.Session, ar fosite.AuthorizeRequester) (bool, error) {
	c, ok := ar.GetClient().(*client)
	if !ok {
		return false, fmt.Errorf("provider: unexpected client type %T", ar.GetClient())
	}
	return p.svc.ConsentNeeded(ctx, domain.ConsentQuestion{
		// A registered client is always third-party (RFC 7591 registration).
		UserID: sess.User.ID, ClientID: c.ID, FirstParty: c.FirstParty && !c.Registered,
		Prompted: promptsOf(ar).Has("consent"), Scopes: ar.GetRequestedScopes(),
		Read: sess.Consent,
	})
}

func (p *Provider) renderConsent(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, sess *consent.Session) {
	c := ar.GetClient().(*client)
	p.pages.RenderConsent(w, r, consent.ConsentRequest{
		ClientID:   c.ID,
		ClientName: c.Name,
		Scopes:     ar.GetRequestedScopes(),
		Session:    sess,
		Request:    authorizeParams(ar).Encode(),
	})
}

// issue grants what was asked and answers the client with a code. The code
// and its OpenID Connect and PKCE records are written together, all or
// none, so a code never exists without the PKCE challenge it was issued
// under.
func (p *Provider) issue(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, sess *consent.Session) {
	ctx := r.Context()
	for _, s := range ar.GetRequestedScopes() {
		if grantable(sess.User, s) {
			ar.GrantScope(s)
		}
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	session, err := p.userSession(ctx, sess.User, sess.ID, sess.AuthTime, sess.AMR, sess.ACR, ar)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	// fosite's writes (the code and its records) are kept and written
	// together once it is done (codeflow.go).
	ictx, issued := withPendingIssue(ctx)
	resp, err := p.oauth.NewAuthorizeResponse(ictx, ar, session)
	if err == nil {
		if werr := issued.write(ctx, p.store); werr != nil {
			err = fosite.ErrServerError.WithWrap(werr).WithDebug(werr.Error())
		}
	}
	if err != nil {
		p.authorizeError(w, r, ar, err)
		return
	}
	// Counted once the code is stored: a sign-in to this client.
	p.opts.Usage.Count(store.UsageClientSignIns, ar.GetClient().GetID())
	p.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// authorizeError answers a failed authorization request. Errors go back to
// the client only through a redirect URI registered for it; otherwise the
// person sees an error page and nobody is redirected anywhere.
func (p *Provider) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	ctx := r.Context()
	err = asUnavailable(err)
	p.logOAuthError(ctx, "authorize", err)
	if ar != nil && ar.IsRedirectURIValid() {
		p.oauth.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	switch {
	case rfc.ErrorField == fosite.ErrTemporarilyUnavailable.ErrorField:
		p.pages.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"The sign-in cannot be completed right now. Please try again in a moment.")
	case rfc.CodeField >= 500:
		p.pages.RenderError(w, r, http.StatusInternalServerError, "Something went wrong",
			"The request could not be completed. Please try again later.")
	case rfc.ErrorField == fosite.ErrInvalidClient.ErrorField:
		p.pages.RenderError(w, r, http.StatusBadRequest, "Unknown application",
			"The application that sent you here is not registered with this server.")
	default:
		p.pages.RenderError(w, r, http.StatusBadRequest, "Invalid request",
			"The sign-in request from the application is invalid. Please go back to the application and try again.")
	}
}

// admitted applies the client's app access rule (domain.MayUseClient) to
// the signed-in user and returns false for a user it refuses: that user
// sees the no-access page (403), which offers an access request for the
// client and a way back to it with access_denied (noaccess.go); with
// prompt=none, where no page may be shown, access_denied goes back to the
// client at once (RFC 6749 §4.1.2.1).
func (p *Provider) admitted(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, sess *consent.Session) bool {
	c, ok := ar.GetClient().(*client)
	if !ok {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithDebugf("unexpected client type %T", ar.GetClient()))
		return false
	}
	allowed, err := p.svc.MayUseClient(r.Context(), sess.User, c.Client)
	if err != nil {
		p.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return false
	}
	if !allowed {
		if promptsOf(ar).Has("none") {
			p.authorizeError(w, r, ar, errNoAccess())
			return false
		}
		p.pages.RenderNoAccess(w, r, consent.NoAccessRequest{Client: c.Client, Session: sess, Request: authorizeParams(ar).Encode()})
		return false
	}
	return true
}
