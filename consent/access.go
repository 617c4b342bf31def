package consent

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// The access-request pages: a pending user (signed in, no access yet) asks
// for a role and then waits for a manager's decision. The rules (who may
// ask, for which role, how often) are the domain's.

const (
	accessRequestPath = "/access/request"
	accessPendingPath = "/access/pending"
	// adminRole is never offered: it is granted by an admin, not asked for.
	adminRole = "admin"
)

// RedirectToAccessRequest answers 303 See Other to
// /access/request?return_to=<returnTo>, where a pending user asks for
// access; returnTo must be a relative path, anything else becomes "/".
func (p *Pages) RedirectToAccessRequest(w http.ResponseWriter, r *http.Request, returnTo string) {
	p.redirectWithReturn(w, r, p.path(accessRequestPath), returnTo)
}

func (p *Pages) redirectWithReturn(w http.ResponseWriter, r *http.Request, path, returnTo string) {
	target := path + "?" + url.Values{"return_to": {p.safeReturnTo(returnTo)}}.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

type roleOption struct {
	Name, Description string
	Selected          bool
}

type accessRequestView struct {
	layout
	Username string
	Roles    []roleOption
	Purpose  string
	ReturnTo string
	// Errors maps a field (role, purpose) to what is wrong with it.
	Errors map[string]string
	// Error is a message about the whole form.
	Error string
	// Denied is the user's last request when it was denied, so the page
	// can say so.
	Denied *store.AccessRequest
	// MustVerify: the user must verify its email address first
	// (registration.require_verified_email); Email is that address.
	MustVerify bool
	Email      string
}

type accessPendingView struct {
	layout
	// Active: the request was approved; the user may continue.
	Active   bool
	Role     string
	ReturnTo string
	// Email: the decision will be emailed, so the page may say so.
	Email bool
}

// pendingSession returns the request's session, or answers the request
// itself (login page, or the waiting page for a user who is no longer
// pending) and returns nil.
func (p *Pages) pendingSession(w http.ResponseWriter, r *http.Request, here, returnTo string) *Session {
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "access request: current session", err)
		return nil
	}
	if sess == nil {
		p.RedirectToLogin(w, r, here+"?"+url.Values{"return_to": {returnTo}}.Encode())
		return nil
	}
	if sess.User.Status != store.StatusPending {
		p.redirectWithReturn(w, r, p.path(accessPendingPath), returnTo)
		return nil
	}
	return sess
}

func (p *Pages) handleAccessRequestForm(w http.ResponseWriter, r *http.Request) {
	returnTo := p.safeReturnTo(r.URL.Query().Get("return_to"))
	sess := p.pendingSession(w, r, p.path(accessRequestPath), returnTo)
	if sess == nil {
		return
	}
	pending, err := p.svc.PendingAccessRequest(r.Context(), sess.User.ID)
	if err != nil {
		p.internalError(w, r, "access request: pending request", err)
		return
	}
	if pending != nil {
		p.renderAccessPending(w, accessPendingView{Role: pending.RequestedRole, ReturnTo: returnTo})
		return
	}
	p.renderAccessRequest(w, r, http.StatusOK, sess, accessRequestView{ReturnTo: returnTo})
}

func (p *Pages) handleAccessRequest(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	returnTo := p.safeReturnTo(r.PostForm.Get("return_to"))
	role := strings.TrimSpace(r.PostForm.Get("role"))
	purpose := strings.TrimSpace(r.PostForm.Get("purpose"))
	sess := p.pendingSession(w, r, p.path(accessRequestPath), returnTo)
	if sess == nil {
		return
	}
	v := accessRequestView{ReturnTo: returnTo, Purpose: purpose}
	if err := p.VerifyCSRF(r); err != nil {
		v.Error = msgCSRF
		p.renderAccessRequest(w, r, http.StatusForbidden, sess, v, role)
		return
	}
	roles, err := p.requestableRoles(r)
	if err != nil {
		p.internalError(w, r, "access request: list roles", err)
		return
	}
	if !hasRole(roles, role) {
		// Only what the form offers; the domain would refuse the rest too,
		// but this names the field for any unknown role.
		v.Errors = map[string]string{"role": "Choose one of the roles in the list."}
		p.renderAccessRequest(w, r, http.StatusUnprocessableEntity, sess, v, role)
		return
	}
	actor := domain.Actor{Type: store.ActorUser, ID: sess.User.ID, IP: clientaddr.IP(r)}
	_, err = p.svc.SubmitAccessRequest(r.Context(), actor, sess.User.ID, role, purpose)
	switch {
	case err == nil, errors.Is(err, store.ErrConflict):
		// A conflict is a request already waiting (another tab, a double
		// click): the waiting page is the right answer either way.
		p.redirectWithReturn(w, r, p.path(accessPendingPath), returnTo)
		return
	case errors.Is(err, store.ErrNotFound):
		v.Errors = map[string]string{"role": "Choose one of the roles in the list."}
	case errors.Is(err, domain.ErrEmailUnverified):
		p.renderAccessRequest(w, r, http.StatusForbidden, sess, v, role)
		return
	case errors.Is(err, domain.ErrForbidden):
		p.redirectWithReturn(w, r, p.path(accessPendingPath), returnTo)
		return
	default:
		fields, ok := fieldErrors(err)
		if !ok {
			p.internalError(w, r, "access request: submit", err)
			return
		}
		v.Errors = map[string]string{}
		for f, msg := range fields {
			if f == "role" || f == "purpose" {
				v.Errors[f] = msg
			} else if v.Error == "" {
				v.Error = msg
			}
		}
	}
	p.renderAccessRequest(w, r, http.StatusUnprocessableEntity, sess, v, role)
}

func (p *Pages) handleAccessPending(w http.ResponseWriter, r *http.Request) {
	returnTo := p.safeReturnTo(r.URL.Query().Get("return_to"))
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "access pending: current session", err)
		return
	}
	if sess == nil {
		p.RedirectToLogin(w, r, p.path(accessPendingPath)+"?"+url.Values{"return_to": {returnTo}}.Encode())
		return
	}
	if sess.User.Status == store.StatusActive {
		p.renderAccessPending(w, accessPendingView{Active: true, ReturnTo: returnTo})
		return
	}
	pending, err := p.svc.PendingAccessRequest(r.Context(), sess.User.ID)
	if err != nil {
		p.internalError(w, r, "access pending: pending request", err)
		return
	}
	if pending == nil {
		// Nothing waiting (never asked, or denied): back to the form.
		p.RedirectToAccessRequest(w, r, returnTo)
		return
	}
	p.renderAccessPending(w, accessPendingView{Role: pending.RequestedRole, ReturnTo: returnTo})
}

func (p *Pages) renderAccessPending(w http.ResponseWriter, v accessPendingView) {
	v.layout = layout{Title: "Your request is waiting"}
	v.Email = p.opts.EmailNotifications
	if v.Active {
		v.layout.Title = "You have access"
	}
	p.render(w, http.StatusOK, "accesspending", v)
}

// renderAccessRequest renders the form with the roles on offer, selected
// (optional) preselected, and the user's last denied request if any.
func (p *Pages) renderAccessRequest(w http.ResponseWriter, r *http.Request, status int, sess *Session, v accessRequestView, selected ...string) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "access request: csrf", err)
		return
	}
	roles, err := p.requestableRoles(r)
	if err != nil {
		p.internalError(w, r, "access request: list roles", err)
		return
	}
	for _, ro := range roles {
		v.Roles = append(v.Roles, roleOption{
			Name:        ro.Name,
			Description: ro.Description,
			Selected:    len(selected) > 0 && selected[0] == ro.Name,
		})
	}
	last, err := p.svc.ListAccessRequests(r.Context(), store.AccessRequestFilter{UserID: sess.User.ID, Limit: 1})
	if err != nil {
		p.internalError(w, r, "access request: last request", err)
		return
	}
	if len(last) == 1 && last[0].Status == store.RequestDenied {
		v.Denied = &last[0]
	}
	v.layout = layout{Title: "Request access", CSRFToken: token}
	v.Username = sess.User.Username
	v.MustVerify, v.Email = p.svc.MustVerifyEmail(sess.User), sess.User.Email
	p.render(w, status, "accessrequest", v)
}

// requestableRoles is every role but admin, by name.
func (p *Pages) requestableRoles(r *http.Request) ([]store.Role, error) {
	all, err := p.svc.ListRoles(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]store.Role, 0, len(all))
	for _, ro := range all {
		if ro.Name != adminRole {
			out = append(out, ro)
		}
	}
	return out, nil
}

func hasRole(roles []store.Role, name string) bool {
	for _, ro := range roles {
		if ro.Name == name {
			return true
		}
	}
	return false
}

// fieldErrors returns the domain's validation failures by field (the first
// message of each, as a sentence naming the field), or false if err is not
// a validation failure.
func fieldErrors(err error) (map[string]string, bool) {
	v, ok := domain.AsValidation(err)
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for _, e := range v.Fields {
		if _, seen := out[e.Field]; !seen {
			out[e.Field] = sentence(e.Field, e.Message)
		}
	}
	return out, true
}

// sentence turns the domain's "is required" into "Purpose is required.",
// so that the message reads on its own next to the field.
func sentence(field, msg string) string {
	label := fieldLabel(field)
	if label == "" || msg == "" || strings.ToLower(msg[:1]) != msg[:1] {
		return msg
	}
	msg = label + " " + msg
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// fieldLabel is the visible label of a form field ("" for fields no form
// of ours has).
func fieldLabel(field string) string {
	switch field {
	case "role":
		return "Role"
	case "purpose":
		return "Purpose"
	case "username":
		return "Username"
	case "email":
		return "Email"
	case "full_name":
		return "Full name"
	case "password":
		return "Password"
	}
	return ""
}
