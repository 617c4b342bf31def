package consent

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pquerna/otp"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// Messages of the second step.
const (
	msgMFACode  = "Invalid authentication code."
	msgMFAEnded = "Your sign-in attempt ended (too many wrong codes, or it took too long). Please sign in again."
	// maxCodeInput bounds what a code field may make us process.
	maxCodeInput = 64
)

// requestChallengeID is the store id named by the request's second-step
// cookie, or "".
func (p *Pages) requestChallengeID(r *http.Request) string {
	v := p.jar().Get(r, mfaCookie())
	if !validCookieValue(v) {
		return ""
	}
	return sessionID(v)
}

func (p *Pages) setMFACookie(w http.ResponseWriter, value string) {
	p.jar().Set(w, mfaCookie(), value)
}

func (p *Pages) clearMFACookie(w http.ResponseWriter) {
	p.jar().Clear(w, mfaCookie())
}

// wantsAAL2 reports whether the sign-in continues to an authorization
// request asking for acr aal2 (acr_values): then a user without a factor
// must set one up, as policy would make it, or the request would send
// them back here forever. return_to is one of our own paths (safeReturnTo).
func wantsAAL2(returnTo string) bool {
	u, err := url.Parse(returnTo)
	if err != nil {
		return false
	}
	return slices.Contains(strings.Fields(u.Query().Get("acr_values")), domain.ACRMultiFactor)
}

// afterPassword continues a sign-in whose password was right: a user with
// a second factor, or whom policy (or the client's acr_values) requires to
// have one, gets a pending second step and goes to /login/mfa; anyone else
// gets the login session at once.
func (p *Pages) afterPassword(w http.ResponseWriter, r *http.Request, u store.User, returnTo string) {
	p.afterFirstFactor(w, r, u, returnTo, nil)
}

// afterFirstFactor is afterPassword for any first step: amr are its
// methods (nil: the password; an upstream sign-in's "fed").
func (p *Pages) afterFirstFactor(w http.ResponseWriter, r *http.Request, u store.User, returnTo string, amr []string) {
	st, err := p.svc.MFAState(r.Context(), u)
	if err != nil {
		p.internalError(w, r, "login: MFA state", err)
		return
	}
	enrol := !st.Enrolled() && u.Status != store.StatusPending && (st.Required || wantsAAL2(returnTo))
	if st.Enrolled() || enrol {
		value, err := randomValue()
		if err != nil {
			p.internalError(w, r, "login: MFA challenge", err)
			return
		}
		if _, err := p.svc.StartMFAChallenge(r.Context(), domain.NewMFAChallenge{
			ID: sessionID(value), User: u, ReturnTo: returnTo, Enrol: enrol, AMR: amr,
		}); err != nil {
			p.internalError(w, r, "login: MFA challenge", err)
			return
		}
		p.setMFACookie(w, value)
		p.log.Info("consent: first step right, second step pending", "user_id", u.ID, "ip", clientaddr.IP(r))
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.path("/login/mfa"), http.StatusSeeOther)
		return
	}
	p.signedIn(w, r, u, returnTo, amr)
}

// signedIn starts the login session of a completed sign-in (amr nil: the
// password alone) and sends the browser on.
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, u store.User, returnTo string, amr []string) {
	if err := p.startSessionAMR(w, r, u, amr); err != nil {
		p.internalError(w, r, "login: start session", err)
		return
	}
	p.log.Info("consent: signed in", "user_id", u.ID, "ip", clientaddr.IP(r))
	if u.Status == store.StatusPending {
		// Signed in, but with no access yet: the only thing to do is ask.
		p.RedirectToAccessRequest(w, r, returnTo)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

// mfaView is the second-step page. Kinds are the factor kinds the user
// can answer with; each kind has its block in mfa.html. Codes post to
// handleMFA; a passkey is answered by the script (passkeyfactor.go).
type mfaView struct {
	layout
	Error    string
	Kinds    []string
	Recovery bool // show the recovery code form
	// HasRecovery: the user has unused recovery codes to offer.
	HasRecovery bool
	ReturnTo    string
}

// Offers reports whether the page offers kind.
func (v mfaView) Offers(kind string) bool { return slices.Contains(v.Kinds, kind) }

// runsScript: the page loads the passkey script (and its CSP allows it)
// only when it shows the passkey button.
func (v mfaView) runsScript() bool { return !v.Recovery && v.Offers(string(store.FactorPasskey)) }

// totpSetupView sets up an authenticator app: a QR code (PNG, inlined as a
// data: URL, which the page's CSP allows for this page only) and the key
// as text for typing in.
type totpSetupView struct {
	layout
	Error    string
	Required bool   // policy (or the client) demands it to finish signing in
	Action   string // where the confirming form posts
	FactorID string
	Secret   string
	QR       template.URL
}

func (totpSetupView) inlineImages() bool { return true }

type recoveryCodesView struct {
	layout
	Codes    []string
	Continue string
}

// qrDataURL renders the otpauth URI as a PNG QR code in a data: URL.
func qrDataURL(uri string) (template.URL, error) {
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return "", fmt.Errorf("consent: totp key: %w", err)
	}
	img, err := k.Image(200, 200)
	if err != nil {
		return "", fmt.Errorf("consent: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("consent: qr code: %w", err)
	}
	// The value is ours (base64 of our own PNG), never the request's.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// mfaEnded sends someone whose second step is gone back to the password,
// with the cookie cleared.
func (p *Pages) mfaEnded(w http.ResponseWriter, r *http.Request, returnTo string) {
	p.clearMFACookie(w)
	p.renderLogin(w, r, http.StatusUnauthorized, msgMFAEnded, "", p.safeReturnTo(returnTo))
}

func (p *Pages) handleMFAForm(w http.ResponseWriter, r *http.Request) {
	c, u, err := p.svc.MFAChallenge(r.Context(), p.requestChallengeID(r))
	if errors.Is(err, domain.ErrMFAChallengeEnded) {
		p.clearMFACookie(w)
		p.RedirectToLogin(w, r, "")
		return
	}
	if err != nil {
		p.internalError(w, r, "mfa: challenge", err)
		return
	}
	if c.Enrol {
		p.renderTOTPSetup(w, r, http.StatusOK, u, "", true, p.path("/login/mfa"))
		return
	}
	p.renderMFA(w, r, http.StatusOK, u, c.ReturnTo, "", r.URL.Query().Get("recovery") != "")
}

func (p *Pages) renderMFA(w http.ResponseWriter, r *http.Request, status int, u store.User, returnTo, msg string, recovery bool) {
	st, err := p.svc.MFAState(r.Context(), u)
	if err != nil {
		p.internalError(w, r, "mfa: state", err)
		return
	}
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "mfa: csrf", err)
		return
	}
	v := mfaView{layout: layout{Title: "Two-step verification", CSRFToken: token}, Error: msg,
		Recovery: recovery || len(st.Kinds) == 0, HasRecovery: st.RecoveryCodes > 0, ReturnTo: returnTo}
	for _, k := range st.Kinds {
		v.Kinds = append(v.Kinds, string(k))
	}
	p.render(w, status, "mfa", v)
}

// renderTOTPSetup starts a new pending TOTP factor for u and shows it.
func (p *Pages) renderTOTPSetup(w http.ResponseWriter, r *http.Request, status int, u store.User, msg string, required bool, action string) {
	en, err := p.svc.BeginTOTPEnrolment(r.Context(), u)
	if domain.ErrorCode(err) == domain.CodeConflict {
		p.RenderError(w, r, http.StatusConflict, "Already set up", "An authenticator app is already set up for this account.")
		return
	}
	if err != nil {
		p.internalError(w, r, "mfa: begin enrolment", err)
		return
	}
	qr, err := qrDataURL(en.URI)
	if err != nil {
		p.internalError(w, r, "mfa: qr code", err)
		return
	}
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "mfa: csrf", err)
		return
	}
	p.render(w, status, "totpsetup", totpSetupView{
		layout: layout{Title: "Set up an authenticator app", CSRFToken: token}, Error: msg, Required: required,
		Action: action, FactorID: en.FactorID, Secret: en.Secret, QR: qr,
	})
}

// formCode reads a code field, bounded.
func formCode(r *http.Request, name string) string {
	v := r.PostForm.Get(name)
	if len(v) > maxCodeInput {
		v = v[:maxCodeInput]
	}
	return v
}

func (p *Pages) handleMFA(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	id := p.requestChallengeID(r)
	c, u, err := p.svc.MFAChallenge(r.Context(), id)
	if errors.Is(err, domain.ErrMFAChallengeEnded) {
		p.mfaEnded(w, r, "")
		return
	}
	if err != nil {
		p.internalError(w, r, "mfa: challenge", err)
		return
	}
	recovery := r.PostForm.Has("recovery_code")
	if err := p.VerifyCSRF(r); err != nil {
		if c.Enrol {
			p.renderTOTPSetup(w, r, http.StatusForbidden, u, msgCSRF, true, p.path("/login/mfa"))
			return
		}
		p.renderMFA(w, r, http.StatusForbidden, u, c.ReturnTo, msgCSRF, recovery)
		return
	}
	ip := clientaddr.IP(r)
	var res domain.MFAResult
	var codes []string
	switch {
	case c.Enrol:
		res, codes, err = p.svc.CompleteTOTPEnrolmentChallenge(r.Context(), id, r.PostForm.Get("factor_id"), formCode(r, "code"), ip)
	case recovery:
		res, err = p.svc.VerifyRecoveryChallenge(r.Context(), id, formCode(r, "recovery_code"), ip)
	default:
		res, err = p.svc.VerifyTOTPChallenge(r.Context(), id, formCode(r, "code"), ip)
	}
	switch {
	case errors.Is(err, domain.ErrMFACode):
		p.log.Info("consent: second step refused", "user_id", u.ID, "ip", ip)
		if c.Enrol {
			p.renderTOTPSetup(w, r, http.StatusUnauthorized, u, msgMFACode, true, p.path("/login/mfa"))
			return
		}
		p.renderMFA(w, r, http.StatusUnauthorized, u, c.ReturnTo, msgMFACode, recovery)
		return
	case errors.Is(err, domain.ErrMFAChallengeEnded), domain.ErrorCode(err) == domain.CodeNotFound:
		p.mfaEnded(w, r, c.ReturnTo)
		return
	case err != nil:
		p.internalError(w, r, "mfa: verify", err)
		return
	}
	p.clearMFACookie(w)
	if codes == nil {
		p.signedIn(w, r, res.User, p.safeReturnTo(res.ReturnTo), res.AMR)
		return
	}
	// Enrolled while signing in: the session starts now, and the recovery
	// codes are shown once before the sign-in continues.
	if err := p.startSessionAMR(w, r, res.User, res.AMR); err != nil {
		p.internalError(w, r, "mfa: start session", err)
		return
	}
	p.log.Info("consent: signed in after enrolment", "user_id", u.ID, "ip", ip)
	p.render(w, http.StatusOK, "recoverycodes", recoveryCodesView{
		layout: layout{Title: "Save your recovery codes"}, Codes: codes, Continue: p.safeReturnTo(res.ReturnTo),
	})
}

// ---------------------------------------------------------------------------
// The account security page: /security (the console owns /account/).

type securityView struct {
	layout
	Message       string
	Error         string
	Username      string
	TOTP          bool
	TOTPSince     string
	RecoveryCodes int
	Required      bool
	// Fresh: the sign-in is recent enough to turn the app off without the
	// password, or to remove a passkey; ReauthURL signs in again and comes
	// back here.
	Fresh     bool
	ReauthURL string
	// PasskeysEnabled and Passkeys: the passkeys section.
	PasskeysEnabled bool
	Passkeys        []passkeyRow
	// Identities are the linked upstream accounts (idp).
	Identities []identityRow
}

// securitySession returns the signed-in session, or redirects to the login
// page (back to /security) and returns nil.
func (p *Pages) securitySession(w http.ResponseWriter, r *http.Request) *Session {
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "security: current session", err)
		return nil
	}
	if sess == nil {
		p.RedirectToLogin(w, r, p.path("/security"))
		return nil
	}
	return sess
}

func (p *Pages) handleSecurity(w http.ResponseWriter, r *http.Request) {
	sess := p.securitySession(w, r)
	if sess == nil {
		return
	}
	p.renderSecurity(w, r, http.StatusOK, sess, securityNotices[r.URL.Query().Get("notice")], "")
}

func (p *Pages) renderSecurity(w http.ResponseWriter, r *http.Request, status int, sess *Session, msg, errMsg string) {
	st, err := p.svc.MFAState(r.Context(), sess.User)
	if err != nil {
		p.internalError(w, r, "security: MFA state", err)
		return
	}
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "security: csrf", err)
		return
	}
	v := securityView{layout: layout{Title: "Account security", CSRFToken: token}, Message: msg, Error: errMsg,
		Username: sess.User.Username, RecoveryCodes: st.RecoveryCodes, Required: st.Required,
		Fresh: p.fresh(sess), ReauthURL: p.pathWithReturn("/login", p.path(securityPath)),
		PasskeysEnabled: p.passkeysEnabled()}
	if v.PasskeysEnabled {
		if v.Passkeys, err = p.passkeyRows(r.Context(), sess.User.ID); err != nil {
			p.internalError(w, r, "security: list passkeys", err)
			return
		}
	}
	if v.Identities, err = p.identityRows(r.Context(), sess.User.ID); err != nil {
		p.internalError(w, r, "security: list linked identities", err)
		return
	}
	for _, f := range st.Factors {
		if f.Kind == store.FactorTOTP {
			v.TOTP, v.TOTPSince = true, f.CreatedAt.Format("2 January 2006")
		}
	}
	p.render(w, status, "security", v)
}

// readSecurityForm parses and checks a POST of the security page; it
// answers the request itself and returns nil when it cannot go on.
func (p *Pages) readSecurityForm(w http.ResponseWriter, r *http.Request) *Session {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return nil
	}
	sess := p.securitySession(w, r)
	if sess == nil {
		return nil
	}
	if err := p.VerifyCSRF(r); err != nil {
		p.renderSecurity(w, r, http.StatusForbidden, sess, "", msgCSRF)
		return nil
	}
	return sess
}

// handleTOTPBegin shows a new authenticator app to set up (a POST: it
// creates the pending factor).
func (p *Pages) handleTOTPBegin(w http.ResponseWriter, r *http.Request) {
	sess := p.readSecurityForm(w, r)
	if sess == nil {
		return
	}
	p.renderTOTPSetup(w, r, http.StatusOK, sess.User, "", false, p.path("/security/totp/confirm"))
}

func (p *Pages) handleTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	sess := p.readSecurityForm(w, r)
	if sess == nil {
		return
	}
	a := domain.Actor{Type: store.ActorUser, ID: sess.User.ID, IP: clientaddr.IP(r)}
	codes, err := p.svc.ConfirmTOTPEnrolment(r.Context(), a, sess.User.ID, r.PostForm.Get("factor_id"), formCode(r, "code"))
	switch {
	case errors.Is(err, domain.ErrMFACode):
		// A new key: the one shown may have been mistyped into the app.
		p.renderTOTPSetup(w, r, http.StatusUnauthorized, sess.User, msgMFACode+" Scan the new code and try again.",
			false, p.path("/security/totp/confirm"))
		return
	case domain.ErrorCode(err) == domain.CodeNotFound:
		p.renderSecurity(w, r, http.StatusConflict, sess, "", "The set-up expired. Please start again.")
		return
	case err != nil:
		p.internalError(w, r, "security: confirm TOTP", err)
		return
	}
	// The browser just proved the new factor in this signed-in session:
	// its session becomes a two-factor one, as if it had signed in so.
	amr := []string{domain.AMRPassword, domain.AMROTP}
	if err := p.startSessionAMR(w, r, sess.User, amr); err != nil {
		p.internalError(w, r, "security: start session", err)
		return
	}
	p.log.Info("consent: authenticator app set up", "user_id", sess.User.ID)
	p.render(w, http.StatusOK, "recoverycodes", recoveryCodesView{
		layout: layout{Title: "Save your recovery codes"}, Codes: codes, Continue: p.path("/security"),
	})
}

func (p *Pages) handleTOTPDisable(w http.ResponseWriter, r *http.Request) {
	sess := p.readSecurityForm(w, r)
	if sess == nil {
		return
	}
	a := domain.Actor{Type: store.ActorUser, ID: sess.User.ID, IP: clientaddr.IP(r)}
	err := p.svc.DisableTOTP(r.Context(), a, sess.User, r.PostForm.Get("password"), sess.AuthTime)
	switch {
	case errors.Is(err, domain.ErrInvalidCredentials):
		p.renderSecurity(w, r, http.StatusUnauthorized, sess, "", "Enter your current password to turn off the authenticator app.")
		return
	case domain.ErrorCode(err) == domain.CodeNotFound:
		p.renderSecurity(w, r, http.StatusOK, sess, "No authenticator app is set up.", "")
		return
	case err != nil:
		p.internalError(w, r, "security: disable TOTP", err)
		return
	}
	p.renderSecurity(w, r, http.StatusOK, sess, "The authenticator app is turned off.", "")
}
