package consent

import (
	"crypto/hmac"
	"net/http"
)

// The pages of the device authorization grant (RFC 8628): where a person
// types the code a device shows, the consent step for that device, and
// the page that sends them back to it. The provider serves the routes
// (what a code means and what a decision does are the protocol's); these
// render the pages and read their forms.

// devicePath and deviceConsentPath are where the device forms post.
const (
	devicePath        = "/device"
	deviceConsentPath = "/device/consent"
)

func devicePages() []string { return []string{"device", "deviceconsent", "devicedone"} }

// DeviceEntry is the code entry page: the code as typed or as the link
// carried it (never decided on from the link alone), and what was wrong
// with the last one tried.
type DeviceEntry struct {
	UserCode string
	Problem  string
}

type deviceEntryView struct {
	layout
	DeviceEntry
	Action string
}

// RenderDeviceEntry renders the code entry page with status (200, or 400
// for a code that was not accepted).
func (p *Pages) RenderDeviceEntry(w http.ResponseWriter, r *http.Request, status int, e DeviceEntry) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "device: csrf", err)
		return
	}
	p.render(w, status, "device", deviceEntryView{
		layout:      layout{Title: "Connect a device", CSRFToken: token},
		DeviceEntry: e,
		Action:      p.path(devicePath),
	})
}

// readDeviceForm parses a device form post and checks its CSRF token;
// otherwise it answers with an error page and returns false.
func (p *Pages) readDeviceForm(w http.ResponseWriter, r *http.Request) bool {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read. Please enter the code again.")
		return false
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.log.DebugContext(r.Context(), "device form refused", "reason", "csrf", "err", err)
		p.RenderError(w, r, http.StatusForbidden, "Form expired", "The form was not accepted. Please enter the code again.")
		return false
	}
	return true
}

// ReadDeviceEntry reads the code entry form: the code as typed.
func (p *Pages) ReadDeviceEntry(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !p.readDeviceForm(w, r) {
		return "", false
	}
	return r.PostForm.Get("user_code"), true
}

// DeviceConsentRequest is a device authorization awaiting the person's
// decision.
type DeviceConsentRequest struct {
	ClientID   string
	ClientName string
	Scopes     []string
	Session    *Session
	// UserCode is the code the person entered, normalized; the form
	// carries it back bound (an HMAC) to Session.
	UserCode string
}

// DeviceDecision is what a device consent form post decided.
type DeviceDecision struct {
	UserCode string
	Allow    bool
	// Session is nil when the browser signed out meanwhile.
	Session *Session
}

type deviceConsentView struct {
	consentView
	UserCode string
}

// deviceBinding binds a device consent form to the code and the sign-in.
// The "device" line keeps it apart from the authorization requests'
// bindings, whose requests are form-encoded and never hold a line break.
func (p *Pages) deviceBinding(loginSessionID, userCode string) string {
	return p.binding(loginSessionID, "device\n"+userCode)
}

// RenderDeviceConsent renders the consent step for a device.
func (p *Pages) RenderDeviceConsent(w http.ResponseWriter, r *http.Request, req DeviceConsentRequest) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "device consent: csrf", err)
		return
	}
	name := req.ClientName
	if name == "" {
		name = req.ClientID
	}
	p.render(w, http.StatusOK, "deviceconsent", deviceConsentView{
		consentView: consentView{
			layout:     layout{Title: "Allow " + name + " on your device?", CSRFToken: token},
			ClientID:   req.ClientID,
			ClientName: name,
			Scopes:     req.Scopes,
			Username:   req.Session.User.Username,
			Email:      req.Session.User.Email,
			Action:     p.path(deviceConsentPath),
			Hidden: hiddenFields(map[string]string{
				"user_code": req.UserCode,
				"binding":   p.deviceBinding(req.Session.ID, req.UserCode),
			}, csrfFormField, "decision"),
		},
		UserCode: req.UserCode,
	})
}

// ReadDeviceConsent reads a device consent form post, as ReadConsent
// reads the authorization one.
func (p *Pages) ReadDeviceConsent(w http.ResponseWriter, r *http.Request) (DeviceDecision, bool) {
	if !p.readDeviceForm(w, r) {
		return DeviceDecision{}, false
	}
	d := DeviceDecision{UserCode: r.PostForm.Get("user_code")}
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "device consent: current session", err)
		return DeviceDecision{}, false
	}
	if sess == nil {
		return d, true
	}
	if !hmac.Equal([]byte(r.PostForm.Get("binding")), []byte(p.deviceBinding(sess.ID, d.UserCode))) {
		p.log.WarnContext(r.Context(), "device consent form refused", "reason", "binding mismatch")
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "This form does not belong to your current sign-in. Please enter the code again.")
		return DeviceDecision{}, false
	}
	switch r.PostForm.Get("decision") {
	case "allow":
		d.Allow = true
	case "deny":
	default:
		p.RenderError(w, r, http.StatusBadRequest, "Invalid request", "Please choose to allow or deny the request.")
		return DeviceDecision{}, false
	}
	d.Session = sess
	return d, true
}

type deviceDoneView struct {
	layout
	Allowed    bool
	ClientName string
}

// RenderDeviceDone tells the person the answer went to the device.
func (p *Pages) RenderDeviceDone(w http.ResponseWriter, r *http.Request, allowed bool, clientName string) {
	title := "Device connected"
	if !allowed {
		title = "Device not connected"
	}
	p.render(w, http.StatusOK, "devicedone", deviceDoneView{
		layout: layout{Title: title}, Allowed: allowed, ClientName: clientName,
	})
}
