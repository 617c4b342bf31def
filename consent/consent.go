package consent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"sort"
)

// ConsentRequest is an authorization request awaiting the person's
// decision.
type ConsentRequest struct {
	ClientID   string
	ClientName string
	Scopes     []string
	Session    *Session
	// Request is the authorization request's parameters, form-encoded. The
	// page carries it back bound (an HMAC) to Session, so that the form
	// answers this request in this sign-in only: it cannot be replayed for
	// another request or in another browser session.
	Request string
}

// ConsentDecision is what a consent form post decided.
type ConsentDecision struct {
	// Request is the authorization request the form carried, to be
	// validated again: nothing of the first validation is trusted across
	// the round trip.
	Request string
	Allow   bool
	// Session is nil when the browser signed out meanwhile; the request
	// then starts over after a new sign-in (it is unbound and untrusted,
	// but only ever reaches the authorization endpoint, which checks it).
	Session *Session
}

// consentPath is where the consent form posts; the provider serves it,
// since what follows a decision is the protocol's.
const consentPath = "/oauth2/auth/consent"

type hiddenField struct{ Name, Value string }

type consentView struct {
	layout
	ClientID   string
	ClientName string
	Scopes     []string
	Username   string
	Email      string
	Action     string
	Hidden     []hiddenField
}

// RenderConsent renders the consent page: the client's name, the requesting
// user, one line per scope in plain words, and a form with the CSRF token,
// the bound request, and the allow and deny buttons.
func (p *Pages) RenderConsent(w http.ResponseWriter, r *http.Request, req ConsentRequest) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "consent: csrf", err)
		return
	}
	name := req.ClientName
	if name == "" {
		name = req.ClientID
	}
	p.render(w, http.StatusOK, "consent", consentView{
		layout:     layout{Title: "Allow " + name + "?", CSRFToken: token},
		ClientID:   req.ClientID,
		ClientName: name,
		Scopes:     req.Scopes,
		Username:   req.Session.User.Username,
		Email:      req.Session.User.Email,
		Action:     p.path(consentPath),
		Hidden: hiddenFields(map[string]string{
			"request": req.Request,
			"binding": p.binding(req.Session.ID, req.Request),
		}, csrfFormField, "decision"),
	})
}

// ReadConsent reads a consent form post. When the form cannot be read, its
// CSRF token is wrong, it belongs to another sign-in or it decides nothing,
// ReadConsent answers the request itself with an error page and returns
// false.
func (p *Pages) ReadConsent(w http.ResponseWriter, r *http.Request) (ConsentDecision, bool) {
	ctx := r.Context()
	limitBody(w, r)
	// VerifyCSRF reads the parsed form.
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read. Please go back to the application and try again.")
		return ConsentDecision{}, false
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.log.DebugContext(ctx, "consent form refused", "reason", "csrf", "err", err)
		p.RenderError(w, r, http.StatusForbidden, "Form expired", "The form was not accepted. Please go back to the application and try again.")
		return ConsentDecision{}, false
	}
	d := ConsentDecision{Request: r.PostForm.Get("request")}
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "consent: current session", err)
		return ConsentDecision{}, false
	}
	if sess == nil {
		return d, true
	}
	if !hmac.Equal([]byte(r.PostForm.Get("binding")), []byte(p.binding(sess.ID, d.Request))) {
		p.log.WarnContext(ctx, "consent form refused", "reason", "binding mismatch")
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "This form does not belong to your current sign-in. Please go back to the application and try again.")
		return ConsentDecision{}, false
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		d.Allow = true
	case "deny":
	default:
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "Please choose to allow or deny the request.")
		return ConsentDecision{}, false
	}
	d.Session = sess
	return d, true
}

// binding is base64url(HMAC-SHA256(BindingKey, loginSessionID "\n" request)).
func (p *Pages) binding(loginSessionID, request string) string {
	m := hmac.New(sha256.New, p.opts.BindingKey)
	m.Write([]byte(loginSessionID))
	m.Write([]byte("\n"))
	m.Write([]byte(request))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// hiddenFields sorts the fields (stable pages, stable tests) and drops the
// reserved names, so a caller's map cannot shadow our own inputs.
func hiddenFields(m map[string]string, reserved ...string) []hiddenField {
	out := make([]hiddenField, 0, len(m))
next:
	for k, v := range m {
		for _, r := range reserved {
			if k == r {
				continue next
			}
		}
		out = append(out, hiddenField{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// scopeText says in plain words what granting a scope lets the client do.
// Scopes it does not know are shown by name.
func scopeText(scope string) string {
	switch scope {
	case "openid":
		return "Sign you in with your gatehouse account"
	case "profile":
		return "See your name and profile details"
	case "email":
		return "See your email address"
	case "offline_access":
		return "Keep access when you are not using it"
	case "roles":
		return "See your roles"
	case "permissions":
		return "See what your roles allow you to do"
	case "phone":
		return "See your phone number"
	case "gatehouse:api":
		return "Manage gatehouse on your behalf, within your own permissions"
	}
	return "Use the permission “" + scope + "”"
}
