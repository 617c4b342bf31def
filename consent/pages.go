package consent

import (
	"bytes"
	"crypto/cipher"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// DefaultSessionLifetime is the login session lifetime when Options leaves it zero.
const DefaultSessionLifetime = 24 * time.Hour

// Options configures the pages.
type Options struct {
	// Issuer is the OpenID Connect issuer; an id_token_hint at logout must
	// carry it as "iss". With no issuer every hint is rejected.
	Issuer string
	// CookieSecure is true when the issuer is https; cookies then use the
	// __Host- prefix and Secure.
	CookieSecure bool
	// SessionLifetime is the login session lifetime (default 24h).
	SessionLifetime time.Duration
	// CSRFKey keys the CSRF tokens; at least 32 bytes, derived from the
	// server secret so that every instance accepts every other's tokens.
	CSRFKey []byte
	// BindingKey keys the HMAC that binds a consent form to its
	// authorization request and login session; at least 32 bytes.
	BindingKey []byte
	// RegistrationEnabled serves the self-service sign-up page /register
	// (and links to it from the login page); otherwise /register is 404.
	RegistrationEnabled bool
	// EmailNotifications is true when access decisions are emailed (SMTP
	// is configured): only then does the waiting page promise an email.
	EmailNotifications bool
	Now                func() time.Time
	Logger             *slog.Logger

	// FederationKey (32 bytes, derived from the server secret) seals the
	// upstream sign-in's flow cookie; without it, and without a directory
	// that is a Federation, no upstream provider is offered (idp).
	FederationKey []byte
}

// Pages serves the browser-facing pages and owns login sessions and CSRF.
// Every rule of the identity model (sign-in, lockout, registration, access
// requests) is the domain Service's; the pages only ask it.
type Pages struct {
	svc  Directory
	keys PublicKeys
	opts Options
	base string // the issuer's path, under which the pages are mounted
	log  *slog.Logger
	now  func() time.Time

	tmpl map[string]*template.Template
	css  []byte

	// passkeys is the domain's passkeys (nil: none); passkeysJS the
	// script of the pages that use them.
	passkeys   Passkeys
	passkeysJS []byte

	// fed is the domain's upstream sign-in (nil: none), upstreams the
	// discovered providers, flowAEAD the flow cookie's cipher (idp).
	fed       Federation
	upstreams *upstreams
	flowAEAD  cipher.AEAD
}

// New returns the pages. dir and k are required; opts.CSRFKey and
// opts.BindingKey must be at least 32 bytes.
func New(dir Directory, k PublicKeys, opts Options) (*Pages, error) {
	if dir == nil {
		return nil, errors.New("consent: directory is required")
	}
	if k == nil {
		return nil, errors.New("consent: keys are required")
	}
	if len(opts.CSRFKey) < 32 {
		return nil, errors.New("consent: CSRF key must be at least 32 bytes")
	}
	if len(opts.BindingKey) < 32 {
		return nil, errors.New("consent: binding key must be at least 32 bytes")
	}
	if opts.SessionLifetime < 0 {
		return nil, errors.New("consent: session lifetime must not be negative")
	}
	if opts.SessionLifetime == 0 {
		opts.SessionLifetime = DefaultSessionLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Copy the key so a caller reusing its slice cannot change ours.
	opts.CSRFKey = append([]byte(nil), opts.CSRFKey...)
	opts.BindingKey = append([]byte(nil), opts.BindingKey...)

	iss, err := url.Parse(opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("consent: issuer: %w", err)
	}
	p := &Pages{svc: dir, keys: k, opts: opts, base: strings.TrimRight(iss.Path, "/"),
		log: opts.Logger, now: opts.Now, tmpl: map[string]*template.Template{}}
	funcs := template.FuncMap{"scopeText": scopeText, "path": p.path, "pathWithReturn": p.pathWithReturn}
	// Each page is its own template set with base.html, so that every page
	// can define "content" without clashing.
	for _, name := range []string{"login", "consent", "error", "logout", "signedout", "endsession", "home",
		"accessrequest", "accesspending", "register", "mfa", "totpsetup", "recoverycodes", "security"} {
		t, err := template.New(name).Funcs(funcs).
			ParseFS(assets, "templates/base.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("consent: parse template %s: %w", name, err)
		}
		p.tmpl[name] = t
	}
	if err := p.initPasskeys(dir, funcs); err != nil {
		return nil, err
	}
	if fed, ok := dir.(Federation); ok {
		if p.flowAEAD, err = newFlowAEAD(opts.FederationKey); err != nil {
			return nil, err
		}
		p.fed, p.upstreams = fed, newUpstreams()
	}
	for _, name := range append(append(recoveryPages(), devicePages()...), noAccessPages()...) {
		t, err := template.New(name).Funcs(funcs).
			ParseFS(assets, "templates/base.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("consent: parse template %s: %w", name, err)
		}
		p.tmpl[name] = t
	}
	css, err := fs.ReadFile(assets, "static/style.css")
	if err != nil {
		return nil, fmt.Errorf("consent: read stylesheet: %w", err)
	}
	p.css = css
	if opts.Issuer == "" {
		p.log.Warn("consent: no issuer configured; every id_token_hint will be rejected")
	}
	return p, nil
}

// path is route, one of the pages' paths, as the browser must ask for it:
// under the issuer's path.
func (p *Pages) path(route string) string { return p.base + route }

// pathWithReturn is route with a return_to parameter, for links between the
// sign-in pages that keep where the user was going.
func (p *Pages) pathWithReturn(route, returnTo string) string {
	return p.path(route) + "?" + url.Values{"return_to": {returnTo}}.Encode()
}

// NotFound is the page for a path nothing is served at.
func (p *Pages) NotFound(w http.ResponseWriter, r *http.Request) {
	p.RenderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address. Check the link, or start again from the start page.")
}

// Mount registers the pages' routes on r, the issuer's path.
func (p *Pages) Mount(r *mux.Router) {
	r.HandleFunc("/", p.handleHome).Methods(http.MethodGet)
	r.HandleFunc("/login", p.handleLoginForm).Methods(http.MethodGet)
	r.HandleFunc("/login", p.handleLogin).Methods(http.MethodPost)
	r.HandleFunc("/logout", p.handleLogoutForm).Methods(http.MethodGet)
	r.HandleFunc("/logout", p.handleLogout).Methods(http.MethodPost)
	r.HandleFunc("/oauth2/logout", p.handleEndSession).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/access/request", p.handleAccessRequestForm).Methods(http.MethodGet)
	r.HandleFunc("/access/request", p.handleAccessRequest).Methods(http.MethodPost)
	r.HandleFunc("/access/pending", p.handleAccessPending).Methods(http.MethodGet)
	r.HandleFunc("/register", p.handleRegisterForm).Methods(http.MethodGet)
	r.HandleFunc("/register", p.handleRegister).Methods(http.MethodPost)
	r.HandleFunc("/static/style.css", p.handleStyle).Methods(http.MethodGet)
	r.HandleFunc("/login/mfa", p.handleMFAForm).Methods(http.MethodGet)
	r.HandleFunc("/login/mfa", p.handleMFA).Methods(http.MethodPost)
	r.HandleFunc("/security", p.handleSecurity).Methods(http.MethodGet)
	r.HandleFunc("/security/totp", p.handleTOTPBegin).Methods(http.MethodPost)
	r.HandleFunc("/security/totp/confirm", p.handleTOTPConfirm).Methods(http.MethodPost)
	r.HandleFunc("/security/totp/disable", p.handleTOTPDisable).Methods(http.MethodPost)
	p.mountPasskeys(r)
	p.mountRecovery(r)
	p.mountFederation(r)
}

// layout is what base.html needs; every page's data embeds it.
type layout struct {
	Title     string
	CSRFToken string
}

// setPageHeaders makes every page unframeable, uncached and referrer-free.
// The CSP has no form-action: a form POST may legitimately end, after
// redirects, at a client's redirect URI of any scheme (Chrome applies
// form-action to the whole redirect chain), and every such target is
// validated on the server before we redirect to it.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}

// render executes the page into a buffer first, so that a template failure
// becomes a clean 500 instead of half a page.
func (p *Pages) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, "base", data); err != nil {
		p.log.Error("consent: render page", "page", name, "err", err)
		setPageHeaders(w.Header())
		w.Header().Del("Location")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<!doctype html><html lang=\"en\"><head><title>Error</title></head><body><p>Something went wrong.</p></body></html>"))
		return
	}
	setPageHeaders(w.Header())
	if v, ok := data.(interface{ inlineImages() bool }); ok && v.inlineImages() {
		// This page's images (the authenticator QR code) are data: URLs.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
	} else if p.scripted(name, data) {
		w.Header().Set("Content-Security-Policy", scriptCSP)
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorView struct {
	layout
	Message string
}

// RenderError renders a fixed, safe error page with the status (a status
// outside 400-599 becomes 500). It never redirects: an error must not send
// the browser anywhere a request named.
func (p *Pages) RenderError(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	w.Header().Del("Location")
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	p.render(w, status, "error", errorView{layout: layout{Title: title}, Message: message})
}

// maxFormBytes bounds what a form POST may make us read; our largest field
// is an id_token_hint of a few kilobytes.
const maxFormBytes = 64 << 10

func limitBody(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
}

// internalError logs err and shows a page that reveals nothing about it:
// 503 when the database could not be reached (the server adds
// Retry-After), 500 otherwise.
func (p *Pages) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if domain.ErrorCode(err) == domain.CodeUnavailable {
		p.log.Warn("consent: "+what+": database unavailable", "err", err, "path", r.URL.Path)
		p.RenderError(w, r, http.StatusServiceUnavailable, "Temporarily unavailable",
			"This page cannot be shown right now. Please try again in a moment.")
		return
	}
	p.log.Error("consent: "+what, "err", err, "path", r.URL.Path)
	p.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again in a moment.")
}

func (p *Pages) handleStyle(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(p.css)
}

type homeView struct {
	layout
	Username string
	Pending  bool
}

func (p *Pages) handleHome(w http.ResponseWriter, r *http.Request) {
	sess, err := p.CurrentSession(r)
	if err != nil {
		p.internalError(w, r, "home: current session", err)
		return
	}
	v := homeView{layout: layout{Title: "Welcome"}}
	if sess != nil {
		v.Username = sess.User.Username
		v.Pending = sess.User.Status == store.StatusPending
	}
	p.render(w, http.StatusOK, "home", v)
}
