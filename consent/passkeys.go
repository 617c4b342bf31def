package consent

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// Passkeys is what the pages need of the domain for passkeys.
type Passkeys interface {
	PasskeysEnabled() bool
	BeginPasskeyRegistration(ctx context.Context, u store.User) (domain.PasskeyCeremony, error)
	FinishPasskeyRegistration(ctx context.Context, a domain.Actor, userID, secret, name string, response io.Reader) (store.WebAuthnCredential, error)
	ListPasskeys(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	RemovePasskey(ctx context.Context, a domain.Actor, userID, id string) error
	BeginPasskeySignIn(ctx context.Context) (domain.PasskeyCeremony, error)
	FinishPasskeySignIn(ctx context.Context, secret string, response io.Reader, ip string) (domain.PasskeySignIn, error)
	// The second step of a password sign-in (passkeyfactor.go).
	BeginPasskeyChallenge(ctx context.Context, challengeID string) (domain.PasskeyCeremony, error)
	VerifyPasskeyChallenge(ctx context.Context, challengeID, secret string, response io.Reader, ip string) (domain.MFAResult, error)
}

// The domain service is what the server hands New as its Directory; pin
// that it offers passkeys, since New finds them by a type assertion.
var _ Passkeys = (*domain.Service)(nil)

// securityPath is the account security page; the console owns /account/.
const securityPath = "/security"

// maxPasskeyBody bounds a ceremony's JSON: an attestation of a platform
// authenticator is a few kilobytes.
const maxPasskeyBody = 64 << 10

// csrfHeader carries the page's CSRF token on the passkey JSON requests.
const csrfHeader = "X-CSRF-Token"

// scriptCSP is the page policy with our own scripts allowed: the pages
// that run a WebAuthn ceremony need navigator.credentials. Still no inline
// script, no eval, nothing from elsewhere.
const scriptCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// initPasskeys sets up the passkey pages: the domain's passkeys if dir
// offers them, the security page's templates and the script.
func (p *Pages) initPasskeys(dir Directory, funcs template.FuncMap) error {
	if pk, ok := dir.(Passkeys); ok {
		p.passkeys = pk
	}
	t, err := template.New("security").Funcs(funcs).
		ParseFS(assets, "templates/base.html", "templates/security.html", "templates/passkeys.html", "templates/identities.html")
	if err != nil {
		return fmt.Errorf("consent: parse template security: %w", err)
	}
	p.tmpl["security"] = t
	js, err := fs.ReadFile(assets, "static/passkeys.js")
	if err != nil {
		return fmt.Errorf("consent: read passkeys script: %w", err)
	}
	p.passkeysJS = js
	return nil
}

// scripted reports whether page runs our script (and so needs scriptCSP).
func (p *Pages) scripted(page string, data any) bool {
	if !p.passkeysEnabled() && page != "security" {
		return false
	}
	// A page whose view knows whether it runs the script says so: the
	// second step runs it only when it offers a passkey.
	if v, ok := data.(interface{ runsScript() bool }); ok {
		return v.runsScript()
	}
	return page == "security" || page == "login"
}

// mountPasskeys registers the passkey endpoints (the security page is
// mounted with the rest of the pages).
func (p *Pages) mountPasskeys(r *mux.Router) {
	r.HandleFunc(securityPath+"/passkeys/remove", p.handleRemovePasskey).Methods(http.MethodPost)
	r.HandleFunc("/passkeys/register/begin", p.handleRegisterBegin).Methods(http.MethodPost)
	r.HandleFunc("/passkeys/register/finish", p.handleRegisterFinish).Methods(http.MethodPost)
	r.HandleFunc("/passkeys/login/begin", p.handlePasskeyLoginBegin).Methods(http.MethodPost)
	r.HandleFunc("/passkeys/login/finish", p.handlePasskeyLoginFinish).Methods(http.MethodPost)
	r.HandleFunc("/login/mfa/passkey/begin", p.handleMFAPasskeyBegin).Methods(http.MethodPost)
	r.HandleFunc("/login/mfa/passkey/finish", p.handleMFAPasskeyFinish).Methods(http.MethodPost)
	r.HandleFunc("/static/passkeys.js", p.handlePasskeysScript).Methods(http.MethodGet)
}

func (p *Pages) passkeysEnabled() bool {
	return p.passkeys != nil && p.passkeys.PasskeysEnabled()
}

type passkeyRow struct {
	ID, Name           string
	Created, LastUsed  string
	CreatedISO, UsedAt string
	CloneWarning       bool
}

const passkeyTime = "2 Jan 2006 15:04 UTC"

// securityNotices are the messages a redirect back to the security page
// may ask for; the page never echoes text from the address.
var securityNotices = map[string]string{
	"added":   "Passkey added.",
	"removed": "Passkey removed.",
	// idp
	"unlinked": "Linked account removed.",
}

// passkeyRows are the user's passkeys as the security page lists them.
func (p *Pages) passkeyRows(ctx context.Context, userID string) ([]passkeyRow, error) {
	list, err := p.passkeys.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	var rows []passkeyRow
	for _, c := range list {
		row := passkeyRow{ID: c.ID, Name: c.Name, Created: c.CreatedAt.UTC().Format(passkeyTime),
			CreatedISO: c.CreatedAt.UTC().Format(time.RFC3339), CloneWarning: c.CloneWarning, LastUsed: "Never"}
		if c.LastUsedAt != nil {
			row.LastUsed, row.UsedAt = c.LastUsedAt.UTC().Format(passkeyTime), c.LastUsedAt.UTC().Format(time.RFC3339)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// fresh reports whether the session's sign-in is recent enough for a
// change that needs a fresh authentication (the domain's rule).
func (p *Pages) fresh(sess *Session) bool {
	return domain.FreshAuth(sess.AuthTime, p.now())
}

func (p *Pages) handleRemovePasskey(w http.ResponseWriter, r *http.Request) {
	sess := p.readSecurityForm(w, r)
	if sess == nil {
		return
	}
	if !p.passkeysEnabled() {
		p.NotFound(w, r)
		return
	}
	if !p.fresh(sess) {
		p.renderSecurity(w, r, http.StatusForbidden, sess, "", "To remove a passkey, sign in again first.")
		return
	}
	a := domain.Actor{Type: store.ActorUser, ID: sess.User.ID, IP: clientaddr.IP(r)}
	err := p.passkeys.RemovePasskey(r.Context(), a, sess.User.ID, r.PostForm.Get("id"))
	if errors.Is(err, store.ErrNotFound) {
		p.renderSecurity(w, r, http.StatusNotFound, sess, "", "That passkey does not exist (any more).")
		return
	}
	if err != nil {
		p.internalError(w, r, "remove passkey", err)
		return
	}
	p.log.Info("consent: passkey removed", "user_id", sess.User.ID)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.path(securityPath)+"?notice=removed", http.StatusSeeOther)
}

// ---------------------------------------------------------------------------
// The JSON endpoints the script calls.

// passkeyJSON answers a passkey endpoint.
func passkeyJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func passkeyError(w http.ResponseWriter, status int, msg string) {
	passkeyJSON(w, status, map[string]string{"error": msg})
}

// verifyCSRFHeader is VerifyCSRF for the script's requests: the token the
// page carries comes back in a header, which a cross-site form cannot set.
func (p *Pages) verifyCSRFHeader(r *http.Request) error {
	c, err := r.Cookie(p.csrfCookieName())
	if err != nil || !validCookieValue(c.Value) {
		return errCSRF
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || !hmac.Equal([]byte(got), []byte(p.csrfToken(c.Value))) {
		return errCSRF
	}
	return nil
}

// passkeyRequest checks what every passkey endpoint needs: passkeys on, a
// JSON body of bounded size, and the CSRF header. It answers and returns
// false when one fails.
func (p *Pages) passkeyRequest(w http.ResponseWriter, r *http.Request) bool {
	if !p.passkeysEnabled() {
		passkeyError(w, http.StatusNotFound, "Passkeys are not available.")
		return false
	}
	if err := p.verifyCSRFHeader(r); err != nil {
		passkeyError(w, http.StatusForbidden, msgCSRF)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPasskeyBody)
	return true
}

// setCeremony hands the browser the ceremony's secret: HttpOnly, so that
// only a finish from this browser can use it, and only for its lifetime.
func (p *Pages) setCeremony(w http.ResponseWriter, c domain.PasskeyCeremony) {
	spec := ceremonyCookie()
	spec.MaxAge = c.ExpiresAt.Sub(p.now())
	p.jar().Set(w, spec, c.Secret)
}

// takeCeremonyCookie returns the ceremony secret and clears the cookie:
// the domain consumes the ceremony whatever the outcome.
func (p *Pages) takeCeremonyCookie(w http.ResponseWriter, r *http.Request) string {
	v := p.jar().Get(r, ceremonyCookie())
	if v == "" {
		return ""
	}
	p.jar().Clear(w, ceremonyCookie())
	return v
}

// jsonSession is the current session of a JSON request, answering 401 when
// there is none.
func (p *Pages) jsonSession(w http.ResponseWriter, r *http.Request) *Session {
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.log.Error("consent: passkeys: current session", "err", err)
		passkeyError(w, http.StatusInternalServerError, "Something went wrong. Please try again.")
		return nil
	}
	if sess == nil {
		passkeyError(w, http.StatusUnauthorized, "Please sign in again.")
	}
	return sess
}

func (p *Pages) passkeyInternal(w http.ResponseWriter, what string, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong. Please try again."
	if domain.ErrorCode(err) == domain.CodeUnavailable {
		status, msg = http.StatusServiceUnavailable, "Temporarily unavailable. Please try again in a moment."
	}
	p.log.Error("consent: passkeys: "+what, "err", err)
	passkeyError(w, status, msg)
}

func (p *Pages) handleRegisterBegin(w http.ResponseWriter, r *http.Request) {
	if !p.passkeyRequest(w, r) {
		return
	}
	sess := p.jsonSession(w, r)
	if sess == nil {
		return
	}
	c, err := p.passkeys.BeginPasskeyRegistration(r.Context(), sess.User)
	if err != nil {
		p.passkeyInternal(w, "begin registration", err)
		return
	}
	p.setCeremony(w, c)
	passkeyJSON(w, http.StatusOK, c.Options)
}

// finishBody is what the script posts to finish a ceremony: the
// credential as the browser made it, and (registration) its name or
// (sign-in) where to go next.
type finishBody struct {
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name"`
	ReturnTo   string          `json:"return_to"`
}

func readFinish(r *http.Request) (finishBody, bool) {
	var b finishBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Credential) == 0 {
		return finishBody{}, false
	}
	return b, true
}

func (p *Pages) handleRegisterFinish(w http.ResponseWriter, r *http.Request) {
	if !p.passkeyRequest(w, r) {
		return
	}
	secret := p.takeCeremonyCookie(w, r)
	sess := p.jsonSession(w, r)
	if sess == nil {
		return
	}
	b, ok := readFinish(r)
	if !ok {
		passkeyError(w, http.StatusBadRequest, "The passkey could not be read. Please try again.")
		return
	}
	a := domain.Actor{Type: store.ActorUser, ID: sess.User.ID, IP: clientaddr.IP(r)}
	cred, err := p.passkeys.FinishPasskeyRegistration(r.Context(), a, sess.User.ID, secret, b.Name, bytes.NewReader(b.Credential))
	if v, ok := domain.AsValidation(err); ok {
		msg := "The passkey could not be verified. Please try again."
		if m := v.Field("name"); m != "" {
			msg = "Name " + m + "."
		}
		passkeyError(w, http.StatusBadRequest, msg)
		return
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		passkeyError(w, http.StatusBadRequest, "This attempt expired. Please try again.")
		return
	case errors.Is(err, store.ErrConflict):
		passkeyError(w, http.StatusConflict, "This passkey is registered already.")
		return
	case err != nil:
		p.passkeyInternal(w, "finish registration", err)
		return
	}
	p.log.Info("consent: passkey registered", "user_id", sess.User.ID, "passkey_id", cred.ID)
	passkeyJSON(w, http.StatusOK, map[string]string{"redirect": p.path(securityPath) + "?notice=added"})
}

func (p *Pages) handlePasskeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	if !p.passkeyRequest(w, r) {
		return
	}
	c, err := p.passkeys.BeginPasskeySignIn(r.Context())
	if err != nil {
		p.passkeyInternal(w, "begin sign-in", err)
		return
	}
	p.setCeremony(w, c)
	passkeyJSON(w, http.StatusOK, c.Options)
}

func (p *Pages) handlePasskeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	if !p.passkeyRequest(w, r) {
		return
	}
	secret := p.takeCeremonyCookie(w, r)
	b, ok := readFinish(r)
	if !ok {
		passkeyError(w, http.StatusBadRequest, "The passkey could not be read. Please try again.")
		return
	}
	returnTo := p.safeReturnTo(b.ReturnTo)
	res, err := p.passkeys.FinishPasskeySignIn(r.Context(), secret, bytes.NewReader(b.Credential), clientaddr.IP(r))
	if errors.Is(err, domain.ErrInvalidCredentials) {
		p.log.Info("consent: passkey sign-in refused", "ip", clientaddr.IP(r))
		passkeyError(w, http.StatusUnauthorized, "That passkey did not sign you in. Try again, or use your password.")
		return
	}
	if err != nil {
		p.passkeyInternal(w, "finish sign-in", err)
		return
	}
	// The session records that the passkey was both factors.
	p.passkeySignedIn(w, r, res.User, res.AMR, returnTo, "consent: signed in with a passkey")
}

// passkeySignedIn starts the login session of a sign-in the script
// finished (a passkey alone, or as the second step) as signedIn does for
// the forms, and answers with where the script goes next: returnTo (safe
// already), or the access request for a pending user. msg and attrs are
// the log line.
func (p *Pages) passkeySignedIn(w http.ResponseWriter, r *http.Request, u store.User, amr []string, returnTo, msg string, attrs ...any) {
	if err := p.startSessionAMR(w, r, u, amr); err != nil {
		p.passkeyInternal(w, "start session", err)
		return
	}
	p.log.Info(msg, append([]any{"user_id", u.ID, "ip", clientaddr.IP(r)}, attrs...)...)
	next := returnTo
	if u.Status == store.StatusPending {
		next = p.pathWithReturn(accessRequestPath, returnTo)
	}
	passkeyJSON(w, http.StatusOK, map[string]string{"redirect": next})
}

func (p *Pages) handlePasskeysScript(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(p.passkeysJS)
}
