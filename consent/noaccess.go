package consent

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// The no-access page (app access rules): a signed-in user whom a client's
// access rule refuses is told so at the authorization endpoint, may ask
// for access to that application (an access request, with the domain's
// rules), and may return to the application, which then gets
// access_denied. The provider serves the form's POST, as it does the
// consent form's: what follows is the protocol's.

// noAccessPath is where the no-access form posts.
const noAccessPath = "/oauth2/auth/noaccess"

func noAccessPages() []string { return []string{"noaccess"} }

// NoAccessRequest is an authorization request whose signed-in user the
// client's access rule refuses.
type NoAccessRequest struct {
	Client  store.Client
	Session *Session
	// Request is the authorization request's parameters, form-encoded,
	// carried by the page bound to Session as the consent page's is.
	Request string
}

// NoAccessAction is what a no-access form post asked for.
type NoAccessAction struct {
	// Request is the authorization request the form carried, to be
	// validated again.
	Request string
	// Return: back to the application (with access_denied); otherwise the
	// post asks for access, with Purpose.
	Return  bool
	Purpose string
	// Session is nil when the browser signed out meanwhile (the request
	// then starts over after a new sign-in).
	Session *Session
}

type noAccessView struct {
	layout
	ClientName string
	Username   string
	Action     string
	Hidden     []hiddenField
	// Role is what a request asks for; "" offers none (the rule admits by
	// group or area only).
	Role    string
	Pending bool
	Purpose string
	Error   string
	// PurposeError is what is wrong with the purpose field.
	PurposeError string
}

// RenderNoAccess renders the page (HTTP 403): a heading saying the user
// has no access to the client, the request form (or the pending request,
// or whom to ask), and the "Return to" form.
func (p *Pages) RenderNoAccess(w http.ResponseWriter, r *http.Request, req NoAccessRequest) {
	p.renderNoAccess(w, r, http.StatusForbidden, req, noAccessView{})
}

func (p *Pages) renderNoAccess(w http.ResponseWriter, r *http.Request, status int, req NoAccessRequest, v noAccessView) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "no access: csrf", err)
		return
	}
	offer, err := p.svc.OfferAppAccess(r.Context(), req.Session.User, req.Client)
	if err != nil {
		p.internalError(w, r, "no access: offer", err)
		return
	}
	name := req.Client.Name
	if name == "" {
		name = req.Client.ID
	}
	v.layout = layout{Title: "No access to " + name, CSRFToken: token}
	v.ClientName = name
	v.Username = req.Session.User.Username
	v.Action = p.path(noAccessPath)
	v.Role = offer.Role
	v.Pending = offer.Pending != nil
	v.Hidden = hiddenFields(map[string]string{
		"request": req.Request,
		"binding": p.noAccessBinding(req.Session.ID, req.Request),
	}, csrfFormField, "action", "purpose")
	p.render(w, status, "noaccess", v)
}

// ReadNoAccess reads a no-access form post. When the form cannot be read,
// its CSRF token is wrong, it belongs to another sign-in or asks for
// nothing we know, it answers the request itself with an error page and
// returns false.
func (p *Pages) ReadNoAccess(w http.ResponseWriter, r *http.Request) (NoAccessAction, bool) {
	ctx := r.Context()
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read. Please go back to the application and try again.")
		return NoAccessAction{}, false
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.log.DebugContext(ctx, "no-access form refused", "reason", "csrf", "err", err)
		p.RenderError(w, r, http.StatusForbidden, "Form expired", "The form was not accepted. Please go back to the application and try again.")
		return NoAccessAction{}, false
	}
	d := NoAccessAction{Request: r.PostForm.Get("request"), Purpose: strings.TrimSpace(r.PostForm.Get("purpose"))}
	switch r.PostForm.Get("action") {
	case "return":
		d.Return = true
	case "request":
	default:
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "Please choose to request access or to return to the application.")
		return NoAccessAction{}, false
	}
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "no access: current session", err)
		return NoAccessAction{}, false
	}
	if sess == nil {
		return d, true
	}
	if !hmac.Equal([]byte(r.PostForm.Get("binding")), []byte(p.noAccessBinding(sess.ID, d.Request))) {
		p.log.WarnContext(ctx, "no-access form refused", "reason", "binding mismatch")
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "This form does not belong to your current sign-in. Please go back to the application and try again.")
		return NoAccessAction{}, false
	}
	d.Session = sess
	return d, true
}

// SubmitAppAccess asks, for req's user, for access to req's client with
// purpose (the domain's access-request rules). It returns true when the
// request is made or was already waiting: the caller then sends the
// browser back to the authorization request, whose page now says it is
// waiting. Otherwise it renders the page again with what was wrong.
func (p *Pages) SubmitAppAccess(w http.ResponseWriter, r *http.Request, req NoAccessRequest, purpose string) bool {
	actor := domain.Actor{Type: store.ActorUser, ID: req.Session.User.ID, IP: clientaddr.IP(r)}
	_, err := p.svc.SubmitAppAccessRequest(r.Context(), actor, req.Session.User.ID, req.Client.ID, purpose)
	v := noAccessView{Purpose: purpose}
	switch {
	case err == nil, errors.Is(err, store.ErrConflict):
		// A conflict is a request already waiting (another tab, a
		// double click): the page says so either way.
		return true
	case errors.Is(err, domain.ErrEmailUnverified):
		v.Error = "Verify your email address first: open the link we sent you. A request is accepted once the address is verified."
	case errors.Is(err, domain.ErrForbidden):
		v.Error = "Your account cannot request access right now."
	default:
		fields, ok := fieldErrors(err)
		if !ok {
			p.internalError(w, r, "no access: submit", err)
			return false
		}
		for f, msg := range fields {
			if f == "purpose" {
				v.PurposeError = msg
			} else if v.Error == "" {
				v.Error = msg
			}
		}
	}
	p.renderNoAccess(w, r, http.StatusUnprocessableEntity, req, v)
	return false
}

// noAccessBinding binds the form to the login session and the request as
// the consent form's binding does, under a label of its own, so that the
// fields of one form are no use in the other.
func (p *Pages) noAccessBinding(loginSessionID, request string) string {
	return p.binding(loginSessionID, "noaccess\n"+request)
}
