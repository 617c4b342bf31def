package consent

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
)

// Messages shown on the login page. One message for every failed sign-in,
// so the page does not tell which accounts exist or what state they are in.
const (
	msgInvalidLogin = "Invalid username or password."
	msgCSRF         = "Your session expired, please try again."
)

// maxUsernameInput bounds the lookup key; emails are at most 254 characters.
const maxUsernameInput = 254

type loginView struct {
	layout
	Error    string
	Username string
	ReturnTo string
	// Register is true when self-registration is on (a link to /register).
	Register bool
	// Passkeys offers "Sign in with a passkey".
	Passkeys bool
	// Upstreams are the "Sign in with <name>" links (idp).
	Upstreams []upstreamButton
}

// RedirectToLogin answers 303 See Other to /login?return_to=<returnTo>;
// returnTo must be a relative path ("/oauth2/auth?..."), anything else
// becomes "/".
func (p *Pages) RedirectToLogin(w http.ResponseWriter, r *http.Request, returnTo string) {
	target := p.path("/login") + "?" + url.Values{"return_to": {p.safeReturnTo(returnTo)}}.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeReturnTo keeps return_to only if it is a path on this origin. Browsers
// read "//host" and "/\host" as another host and drop tabs and newlines
// before doing so, hence the checks beyond url.Parse.
//
// It must also lie under the issuer's path: everything a sign-in can return
// to is ours, and nothing outside that path is.
func (p *Pages) safeReturnTo(s string) string {
	home := p.path("/")
	if s == "" || s[0] != '/' || len(s) > 4096 {
		return home
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return home
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return home
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if clean := path.Clean(u.Path); p.base != "" && clean != p.base && !strings.HasPrefix(clean, p.base+"/") {
		return home
	}
	return s
}

func (p *Pages) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	p.renderLogin(w, r, http.StatusOK, "", "", p.safeReturnTo(r.URL.Query().Get("return_to")))
}

func (p *Pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, username, returnTo string) {
	token, err := p.ensureCSRF(w, r)
	if err != nil {
		p.internalError(w, r, "login: csrf", err)
		return
	}
	p.render(w, status, "login", loginView{
		layout:   layout{Title: "Sign in", CSRFToken: token},
		Error:    msg,
		Username: username,
		ReturnTo: returnTo,
		Register: p.opts.RegistrationEnabled,
		Passkeys: p.passkeysEnabled(),

		Upstreams: p.upstreamButtons(r, returnTo),
	})
}

func (p *Pages) handleLogin(w http.ResponseWriter, r *http.Request) {
	limitBody(w, r)
	if err := r.ParseForm(); err != nil {
		p.RenderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Please go back and try again.")
		return
	}
	returnTo := p.safeReturnTo(r.PostForm.Get("return_to"))
	username := strings.TrimSpace(r.PostForm.Get("username"))
	if len(username) > maxUsernameInput {
		username = username[:maxUsernameInput]
	}
	password := r.PostForm.Get("password")

	if err := p.VerifyCSRF(r); err != nil {
		p.renderLogin(w, r, http.StatusForbidden, msgCSRF, username, returnTo)
		return
	}

	// The domain decides, counts failures toward the lockout, re-hashes old
	// hashes and writes the audit entry; every refusal looks the same.
	u, err := p.svc.Authenticate(r.Context(), username, password, clientaddr.IP(r))
	if errors.Is(err, domain.ErrInvalidCredentials) {
		p.log.Info("consent: sign-in refused", "ip", clientaddr.IP(r))
		p.renderLogin(w, r, http.StatusUnauthorized, msgInvalidLogin, username, returnTo)
		return
	}
	if err != nil {
		p.internalError(w, r, "login: authenticate", err)
		return
	}
	// A second factor, if the user has one or must set one up, comes
	// before the login session.
	p.afterPassword(w, r, u, returnTo)
}
