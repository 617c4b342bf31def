package demo

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed" // the page's stylesheet
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/internal/cookies"
)

// Options configure the demo relying party.
type Options struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Key signs the short-lived cookie that carries state, nonce and the PKCE
	// verifier between /demo and /demo/callback.
	Key []byte
}

// RP is the demo relying party. Discovery is fetched on first use, because
// the issuer is the very server that mounts it and is not listening yet when
// it is built.
type RP struct {
	opts Options
	base string // the issuer's path; the demo lives at base+"/demo"

	mu       sync.Mutex
	provider *oidc.Provider
}

// New returns the demo RP; mount it at /demo under the issuer's path.
func New(opts Options) *RP {
	opts.Issuer = strings.TrimRight(opts.Issuer, "/")
	base := ""
	if u, err := url.Parse(opts.Issuer); err == nil {
		base = u.Path
	}
	return &RP{opts: opts, base: base}
}

// RedirectURL is the callback the demo client must have registered.
func RedirectURL(issuer string) string { return strings.TrimRight(issuer, "/") + "/demo/callback" }

// flowCookie carries the sealed flow between /demo and /demo/callback,
// set through internal/cookies like every cookie: scoped to the demo's
// path (so __Secure-, not __Host-, for an https issuer), Lax so that the
// redirect back from the sign-in carries it, ten minutes.
func (rp *RP) flowCookie() cookies.Spec {
	return cookies.Spec{Name: "gatehouse_demo_flow", Path: rp.base + "/demo", SameSite: http.SameSiteLaxMode, MaxAge: 10 * time.Minute}
}

func (rp *RP) jar() cookies.Jar { return cookies.New(strings.HasPrefix(rp.opts.Issuer, "https://")) }

type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

// ServeHTTP answers /demo (start), /demo/callback (finish) and the page's
// stylesheet, /demo/demo.css.
func (rp *RP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, rp.base) {
	case "/demo", "/demo/":
		rp.start(w, r)
	case "/demo/callback":
		rp.callback(w, r)
	case "/demo/demo.css":
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(stylesheet)
	default:
		http.NotFound(w, r)
	}
}

func (rp *RP) discover(r *http.Request) (*oidc.Provider, oauth2.Config, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider == nil {
		p, err := oidc.NewProvider(r.Context(), rp.opts.Issuer)
		if err != nil {
			return nil, oauth2.Config{}, err
		}
		rp.provider = p
	}
	return rp.provider, oauth2.Config{
		ClientID:     rp.opts.ClientID,
		ClientSecret: rp.opts.ClientSecret,
		Endpoint:     rp.provider.Endpoint(),
		RedirectURL:  RedirectURL(rp.opts.Issuer),
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", "roles", "offline_access"},
	}, nil
}

func (rp *RP) start(w http.ResponseWriter, r *http.Request) {
	_, cfg, err := rp.discover(r)
	if err != nil {
		rp.render(w, r, http.StatusBadGateway, page{Error: "discovery failed: " + err.Error()})
		return
	}
	f := flow{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Expires: time.Now().Add(10 * time.Minute).Unix()}
	rp.jar().Set(w, rp.flowCookie(), rp.seal(f))
	http.Redirect(w, r, cfg.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

func (rp *RP) callback(w http.ResponseWriter, r *http.Request) {
	provider, cfg, err := rp.discover(r)
	if err != nil {
		rp.render(w, r, http.StatusBadGateway, page{Error: "discovery failed: " + err.Error()})
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		rp.render(w, r, http.StatusOK, page{Error: e + ": " + q.Get("error_description")})
		return
	}
	sealed := rp.jar().Get(r, rp.flowCookie())
	if sealed == "" {
		if code := q.Get("code"); code != "" {
			// A flow started by hand (the dev banner's steps for a user's
			// API token): the code is the person's to exchange, so show it
			// and leave it unused.
			rp.render(w, r, http.StatusOK, page{Code: code, TokenEndpoint: provider.Endpoint().TokenURL, RedirectURI: cfg.RedirectURL})
			return
		}
		rp.render(w, r, http.StatusBadRequest, page{Error: "no sign-in in progress: start again at " + rp.base + "/demo"})
		return
	}
	f, ok := rp.open(sealed)
	if !ok || !hmac.Equal([]byte(f.State), []byte(q.Get("state"))) || time.Now().Unix() > f.Expires {
		rp.render(w, r, http.StatusBadRequest, page{Error: "state mismatch or expired: start again at " + rp.base + "/demo"})
		return
	}
	rp.jar().Clear(w, rp.flowCookie())
	tok, err := cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		rp.render(w, r, http.StatusBadGateway, page{Error: "token exchange failed: " + err.Error()})
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(r.Context(), raw)
	if err != nil || idt.Nonce != f.Nonce {
		rp.render(w, r, http.StatusBadGateway, page{Error: "ID token rejected"})
		return
	}
	var idClaims, uiClaims map[string]any
	_ = idt.Claims(&idClaims)
	if ui, err := provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		_ = ui.Claims(&uiClaims)
	}
	rp.render(w, r, http.StatusOK, page{
		IDToken:      pretty(idClaims),
		UserInfo:     pretty(uiClaims),
		AccessToken:  abbreviate(tok.AccessToken),
		RefreshToken: abbreviate(tok.RefreshToken),
		Expiry:       tok.Expiry.Format(time.RFC3339),
	})
}

func (rp *RP) seal(f flow) string {
	b, _ := json.Marshal(f)
	m := hmac.New(sha256.New, rp.opts.Key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (rp *RP) open(v string) (flow, bool) {
	var f flow
	body, sig, ok := strings.Cut(v, ".")
	if !ok {
		return f, false
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	s, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return f, false
	}
	m := hmac.New(sha256.New, rp.opts.Key)
	m.Write(b)
	if !hmac.Equal(s, m.Sum(nil)) {
		return f, false
	}
	return f, json.Unmarshal(b, &f) == nil
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func pretty(v map[string]any) string {
	if v == nil {
		return ""
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// abbreviate shows enough of a token to recognise it, not to use it.
func abbreviate(t string) string {
	if len(t) <= 16 {
		return t
	}
	return t[:12] + "…"
}

type page struct {
	Error, IDToken, UserInfo, AccessToken, RefreshToken, Expiry string
	// Root leads from the page back to where the demo is mounted beside
	// gatehouse's own pages (see root).
	Root string
	// Code, TokenEndpoint and RedirectURI: an authorization code of a flow
	// the demo did not start, for the person to exchange.
	Code, TokenEndpoint, RedirectURI string
}

//go:embed static/demo.css
var stylesheet []byte

// Every URL in the page is relative, so that it keeps working when gatehouse
// is served under an issuer path (https://example.com/auth/demo/...).
var tmpl = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gatehouse demo relying party</title>
<link rel="stylesheet" href="{{.Root}}static/style.css">
<link rel="stylesheet" href="{{.Root}}demo/demo.css"></head>
<body><main class="card demo">
<h1>Demo relying party</h1>
{{if .Error}}<p role="alert" class="alert">{{.Error}}</p><p><a href="{{.Root}}demo">Try again</a></p>
{{else if .Code}}<p>This sign-in was not started by the demo app, so the authorization code is yours to exchange (once, within minutes):</p>
<pre>curl -s -u demo:DEMO_SECRET -d grant_type=authorization_code -d code={{.Code}} -d redirect_uri={{.RedirectURI}} {{.TokenEndpoint}}</pre>
{{else}}<p>You signed in through gatehouse. This is what the application received.</p>
<h2>ID token claims (verified)</h2><pre>{{.IDToken}}</pre>
<h2>Userinfo</h2><pre>{{.UserInfo}}</pre>
<h2>Tokens</h2><dl><dt>Access token</dt><dd><code>{{.AccessToken}}</code> (expires {{.Expiry}})</dd>
<dt>Refresh token</dt><dd><code>{{.RefreshToken}}</code></dd></dl>
<p><a href="{{.Root}}demo">Sign in again</a> · <a href="{{.Root}}logout">Sign out of gatehouse</a></p>{{end}}
</main></body></html>`))

// root is the relative path from the page at path to the directory the demo
// is mounted in, the one that also holds gatehouse's pages: "./" from /demo,
// "../" from /demo/ and /demo/callback.
func root(path string) string {
	if depth := strings.Count(path, "/"); depth > 1 {
		return strings.Repeat("../", depth-1)
	}
	return "./"
}

func (rp *RP) render(w http.ResponseWriter, r *http.Request, status int, p page) {
	p.Root = root(strings.TrimPrefix(r.URL.Path, rp.base))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Its own policy: the server's default would refuse the stylesheets.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = tmpl.Execute(w, p)
}
