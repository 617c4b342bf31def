package provider

import (
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/consent"
)

// NoAccessPages is what the provider needs of the no-access page (app
// access rules): consent.Pages renders it, reads its form and makes the
// access request; what follows for the client is the protocol's.
type NoAccessPages interface {
	RenderNoAccess(w http.ResponseWriter, r *http.Request, req consent.NoAccessRequest)
	ReadNoAccess(w http.ResponseWriter, r *http.Request) (consent.NoAccessAction, bool)
	SubmitAppAccess(w http.ResponseWriter, r *http.Request, req consent.NoAccessRequest, purpose string) bool
}

// errNoAccess is the answer to the client about a user its access rule
// refuses: access_denied (RFC 6749 §4.1.2.1), saying why.
func errNoAccess() *fosite.RFC6749Error {
	return fosite.ErrAccessDenied.WithHint("The user has no access to this application.")
}

// handleNoAccess receives the no-access form. The request it carries is
// validated again from scratch and the sign-in rules apply again, as for
// the consent form. "Return" sends access_denied with the state to the
// client's redirect URI; a request for access is made, and the browser
// goes back to the authorization request, whose page then says it is
// waiting (or, were the user admitted meanwhile, which goes on).
func (p *Provider) handleNoAccess(w http.ResponseWriter, r *http.Request) {
	d, ok := p.pages.ReadNoAccess(w, r)
	if !ok {
		return
	}
	if d.Session == nil {
		params, _ := url.ParseQuery(d.Request)
		p.pages.RedirectToLogin(w, r, p.prefix+"/oauth2/auth?"+params.Encode())
		return
	}
	ar, synth, err := p.replayAuthorize(r, d.Request)
	if err != nil {
		p.authorizeError(w, synth, ar, err)
		return
	}
	sess, ok := p.signedIn(w, synth, ar)
	if !ok {
		return
	}
	if d.Return {
		p.authorizeError(w, synth, ar, errNoAccess())
		return
	}
	c, ok := ar.GetClient().(*client)
	if !ok {
		p.authorizeError(w, synth, ar, fosite.ErrServerError.WithDebugf("unexpected client type %T", ar.GetClient()))
		return
	}
	// Approved meanwhile (another tab, a quick reviewer): nothing to ask,
	// the authorization request goes on.
	allowed, err := p.svc.MayUseClient(r.Context(), sess.User, c.Client)
	if err != nil {
		p.authorizeError(w, synth, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	req := consent.NoAccessRequest{Client: c.Client, Session: sess, Request: authorizeParams(ar).Encode()}
	if !allowed && !p.pages.SubmitAppAccess(w, r, req, d.Purpose) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.returnTo(ar), http.StatusSeeOther)
}
