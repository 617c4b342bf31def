package provider

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/store"
)

// DevicePages is what the device authorization grant needs of the pages
// (consent/device.go): the code entry page, the consent step and the
// page that sends the person back to their device.
type DevicePages interface {
	RenderDeviceEntry(w http.ResponseWriter, r *http.Request, status int, e consent.DeviceEntry)
	ReadDeviceEntry(w http.ResponseWriter, r *http.Request) (string, bool)
	RenderDeviceConsent(w http.ResponseWriter, r *http.Request, req consent.DeviceConsentRequest)
	ReadDeviceConsent(w http.ResponseWriter, r *http.Request) (consent.DeviceDecision, bool)
	RenderDeviceDone(w http.ResponseWriter, r *http.Request, allowed bool, clientName string)
}

// Fixed messages of the code entry page.
const (
	deviceCodeMalformed = "Enter the code exactly as your device shows it: eight letters, such as BCDF-GHJK."
	deviceCodeUnknown   = "That code is not valid, has expired or has been used. Check the code on your device, or start again there."
)

// mountDevicePages registers the /device page and its forms. Guessing user
// codes is held to the sign-in rate limit (server/ratelimit.go).
func (p *Provider) mountDevicePages(route func(path string, h http.HandlerFunc, methods ...string)) {
	route("/device", p.handleDevicePage, http.MethodGet)
	route("/device", p.handleDeviceEntry, http.MethodPost)
	route("/device/consent", p.handleDeviceConsent, http.MethodPost)
}

// handleDevicePage shows the code entry form, filled in from
// verification_uri_complete's user_code: a link alone never decides
// anything, the person still confirms the code.
func (p *Provider) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	if norm, ok := normalizeUserCode(code); ok {
		code = formatUserCode(norm)
	} else {
		code = ""
	}
	p.pages.RenderDeviceEntry(w, r, http.StatusOK, consent.DeviceEntry{UserCode: code})
}

// handleDeviceEntry takes the code the person typed and, once they are
// signed in, asks them about the device's request.
func (p *Provider) handleDeviceEntry(w http.ResponseWriter, r *http.Request) {
	typed, ok := p.pages.ReadDeviceEntry(w, r)
	if !ok {
		return
	}
	d, code, ok := p.pendingDeviceCode(w, r, typed)
	if !ok {
		return
	}
	sess, ok := p.deviceSignedIn(w, r, code)
	if !ok {
		return
	}
	c, ok := p.deviceClient(w, r, d.ClientID)
	if !ok {
		return
	}
	p.pages.RenderDeviceConsent(w, r, consent.DeviceConsentRequest{
		ClientID: c.ID, ClientName: c.Name, Scopes: d.Scopes, Session: sess, UserCode: formatUserCode(code),
	})
}

// handleDeviceConsent records the person's answer for the device.
func (p *Provider) handleDeviceConsent(w http.ResponseWriter, r *http.Request) {
	dec, ok := p.pages.ReadDeviceConsent(w, r)
	if !ok {
		return
	}
	d, code, ok := p.pendingDeviceCode(w, r, dec.UserCode)
	if !ok {
		return
	}
	if dec.Session == nil {
		// Signed out meanwhile: the code is asked about again after login.
		p.pages.RedirectToLogin(w, r, p.deviceReturnTo(code))
		return
	}
	// The sign-in rules apply again: time has passed on the consent page.
	sess, ok := p.deviceSignedIn(w, r, code)
	if !ok {
		return
	}
	c, ok := p.deviceClient(w, r, d.ClientID)
	if !ok {
		return
	}
	ctx := r.Context()
	status, raw := store.DeviceDenied, json.RawMessage(nil)
	if dec.Allow {
		ar := fosite.NewAuthorizeRequest()
		ar.Client = c
		ar.RequestedAt = p.now().UTC()
		ar.SetRequestedScopes(fosite.Arguments(d.Scopes))
		for _, s := range d.Scopes {
			if grantable(sess.User, s) {
				ar.GrantScope(s)
			}
		}
		session, err := p.userSession(ctx, sess.User, sess.ID, sess.AuthTime, sess.AMR, sess.ACR, ar)
		if err == nil {
			raw, err = json.Marshal(session)
		}
		if err != nil {
			p.deviceError(w, r, err)
			return
		}
		status = store.DeviceApproved
	}
	err := p.store.DecideDeviceCode(ctx, p.userCodeDigest(code), status, sess.User.ID, raw, p.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		// Answered (or expired) meanwhile, in another tab or browser.
		p.pages.RenderDeviceEntry(w, r, http.StatusBadRequest, consent.DeviceEntry{Problem: deviceCodeUnknown})
		return
	}
	if err != nil {
		p.deviceError(w, r, err)
		return
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	p.pages.RenderDeviceDone(w, r, dec.Allow, name)
}

// pendingDeviceCode looks up the pending device code of what the person
// typed, or re-renders the entry page saying why there is none.
func (p *Provider) pendingDeviceCode(w http.ResponseWriter, r *http.Request, typed string) (store.DeviceCode, string, bool) {
	code, ok := normalizeUserCode(typed)
	if !ok {
		p.pages.RenderDeviceEntry(w, r, http.StatusBadRequest, consent.DeviceEntry{UserCode: typed, Problem: deviceCodeMalformed})
		return store.DeviceCode{}, "", false
	}
	d, err := p.store.GetDeviceCodeByUserCode(r.Context(), p.userCodeDigest(code), p.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		p.log.InfoContext(r.Context(), "device: unknown or expired user code entered")
		p.pages.RenderDeviceEntry(w, r, http.StatusBadRequest, consent.DeviceEntry{UserCode: formatUserCode(code), Problem: deviceCodeUnknown})
		return store.DeviceCode{}, "", false
	}
	if err != nil {
		p.deviceError(w, r, err)
		return store.DeviceCode{}, "", false
	}
	return d, code, true
}

// deviceSignedIn applies the authorization endpoint's sign-in rules (a
// session, a second factor where the roles demand one, no pending user)
// with the /device page to come back to.
func (p *Provider) deviceSignedIn(w http.ResponseWriter, r *http.Request, code string) (*consent.Session, bool) {
	ar := fosite.NewAuthorizeRequest()
	ar.RequestedAt = p.now().UTC()
	return p.signedInTo(w, r, ar, p.deviceReturnTo(code))
}

func (p *Provider) deviceReturnTo(code string) string {
	return p.prefix + "/device?" + url.Values{"user_code": {formatUserCode(code)}}.Encode()
}

func (p *Provider) deviceClient(w http.ResponseWriter, r *http.Request, id string) (*client, bool) {
	fc, err := p.oauth.(*fosite.Fosite).Store.GetClient(r.Context(), id)
	if err != nil {
		p.deviceError(w, r, err)
		return nil, false
	}
	c, ok := fc.(*client)
	if !ok {
		p.deviceError(w, r, errors.New("provider: unexpected client type"))
		return nil, false
	}
	return c, true
}

// deviceError shows a page that reveals nothing of err.
func (p *Provider) deviceError(w http.ResponseWriter, r *http.Request, err error) {
	if unavailable(err) {
		p.log.WarnContext(r.Context(), "device page: store unavailable", "err", err)
		p.pages.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"The device cannot be connected right now. Please try again in a moment.")
		return
	}
	p.log.ErrorContext(r.Context(), "device page", "err", err)
	p.pages.RenderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"The device could not be connected. Please try again later.")
}
