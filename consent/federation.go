package consent

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/mux"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/internal/cookies"
	"github.com/gatehouse/gatehouse/store"
)

// Sign-in at an upstream OpenID Connect provider: the login page links to
// /login/upstream/{id}, which sends the browser to the upstream's
// authorization endpoint with state, nonce and PKCE (S256); the upstream
// sends it back to /login/upstream/{id}/callback, which exchanges the code,
// verifies the ID token (go-oidc: signature, issuer, audience, expiry; then
// the nonce) and asks the domain who that upstream account is here.
//
// The flow's secrets (state, nonce, verifier) and where the sign-in
// resumes (return_to: the pending authorization request) ride in one
// AES-GCM sealed, short-lived cookie; the callback clears it before
// anything else, so a callback can be used once per start.

// Federation is what the pages need of the domain for upstream sign-in.
type Federation interface {
	EnabledIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error)
	GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error)
	IdentityProviderSecret(p store.IdentityProvider) (string, error)
	SignInUpstream(ctx context.Context, id domain.UpstreamIdentity, ip string) (domain.FederatedSignIn, error)
	ListLinkedIdentities(ctx context.Context, userID string) ([]store.LinkedIdentity, error)
	UnlinkIdentity(ctx context.Context, a domain.Actor, userID, linkID string) error
}

var _ Federation = (*domain.Service)(nil)

// upstreamFlowLifetime bounds a sign-in at an upstream: long enough to
// type a password and a code there.
const upstreamFlowLifetime = 10 * time.Minute

// upstreamTimeout bounds every request to an upstream (discovery, keys,
// token, userinfo).
const upstreamTimeout = 10 * time.Second

// maxUpstreams bounds the discovered providers kept in memory.
const maxUpstreams = 64

// Fixed messages of the callback's error page: nothing the upstream or the
// address said is shown.
const (
	msgUpstreamExpired  = "This sign-in attempt expired or was started in another browser. Please start again from the sign-in page."
	msgUpstreamFailed   = "Signing in with the other service did not complete. Please start again from the sign-in page."
	msgUpstreamDown     = "The other sign-in service cannot be reached right now. Please try again in a moment, or sign in another way."
	msgUpstreamRefused  = "Signing in that way was refused. Please sign in another way, or contact an administrator."
	msgUpstreamEmail    = "This account cannot be signed in that way: its email address is missing, not verified, or belongs to another account here. Sign in with your password, or contact an administrator."
	msgUpstreamNotFound = "This sign-in option is not available."
)

// upstreamCookie carries the flow from start to callback. SameSite=Lax:
// the callback is the upstream's top-level redirect, a cross-site GET.
func upstreamCookie() cookies.Spec {
	return cookies.Spec{Name: "gatehouse_upstream", SameSite: http.SameSiteLaxMode, MaxAge: upstreamFlowLifetime}
}

// upstreamFlow is the sealed content of the flow cookie.
type upstreamFlow struct {
	Provider string `json:"p"`
	Issuer   string `json:"i"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
}

// upstreams caches discovered providers, per provider id and issuer.
type upstreams struct {
	mu     sync.Mutex
	byID   map[string]*oidc.Provider
	client *http.Client
}

func newUpstreams() *upstreams {
	return &upstreams{byID: map[string]*oidc.Provider{}, client: &http.Client{Timeout: upstreamTimeout}}
}

func (u *upstreams) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, u.client)
}

// provider returns the discovered upstream of p, discovering it on first
// use (and again when its issuer changed).
func (u *upstreams) provider(ctx context.Context, p store.IdentityProvider) (*oidc.Provider, error) {
	key := p.ID + " " + p.Issuer
	u.mu.Lock()
	op, ok := u.byID[key]
	u.mu.Unlock()
	if ok {
		return op, nil
	}
	// Discovery outside the lock: a slow upstream must not hold up the
	// others. The ctx given is cloned by go-oidc for its key fetches,
	// keeping only the HTTP client, so a cached provider outlives it.
	op, err := oidc.NewProvider(u.context(ctx), p.Issuer)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.byID) >= maxUpstreams {
		clear(u.byID)
	}
	u.byID[key] = op
	return op, nil
}

func (p *Pages) federationEnabled() bool { return p.fed != nil && p.flowAEAD != nil }

func (p *Pages) mountFederation(r *mux.Router) {
	r.HandleFunc("/login/upstream/{id}", p.handleUpstreamStart).Methods(http.MethodGet)
	r.HandleFunc("/login/upstream/{id}/callback", p.handleUpstreamCallback).Methods(http.MethodGet)
	r.HandleFunc("/security/identities/unlink", p.handleUnlinkIdentity).Methods(http.MethodPost)
}

// upstreamButton is one "Sign in with <name>" link of the login page.
type upstreamButton struct {
	Name string
	URL  string
}

// upstreamButtons are the enabled providers' links, keeping return_to.
// A store failure hides them rather than the password form.
func (p *Pages) upstreamButtons(r *http.Request, returnTo string) []upstreamButton {
	if !p.federationEnabled() {
		return nil
	}
	list, err := p.fed.EnabledIdentityProviders(r.Context())
	if err != nil {
		p.log.Warn("consent: list identity providers", "err", err)
		return nil
	}
	out := make([]upstreamButton, 0, len(list))
	for _, ip := range list {
		out = append(out, upstreamButton{Name: ip.DisplayName,
			URL: p.pathWithReturn("/login/upstream/"+url.PathEscape(ip.ID), returnTo)})
	}
	return out
}

// callbackURL is the redirect URI registered at the upstream.
func (p *Pages) callbackURL(providerID string) string {
	return p.opts.Issuer + "/login/upstream/" + url.PathEscape(providerID) + "/callback"
}

func (p *Pages) oauth2Config(ip store.IdentityProvider, op *oidc.Provider, secret string) oauth2.Config {
	return oauth2.Config{
		ClientID:     ip.ClientID,
		ClientSecret: secret,
		Endpoint:     op.Endpoint(),
		RedirectURL:  p.callbackURL(ip.ID),
		Scopes:       append([]string{oidc.ScopeOpenID}, ip.Scopes...),
	}
}

func (p *Pages) handleUpstreamStart(w http.ResponseWriter, r *http.Request) {
	if !p.federationEnabled() {
		p.NotFound(w, r)
		return
	}
	returnTo := p.safeReturnTo(r.URL.Query().Get("return_to"))
	ip, err := p.fed.GetIdentityProvider(r.Context(), mux.Vars(r)["id"])
	if domain.ErrorCode(err) == domain.CodeNotFound || err == nil && !ip.Enabled {
		p.RenderError(w, r, http.StatusNotFound, "Sign-in option not available", msgUpstreamNotFound)
		return
	}
	if err != nil {
		p.internalError(w, r, "upstream: get provider", err)
		return
	}
	op, err := p.upstreams.provider(r.Context(), ip)
	if err != nil {
		p.log.Warn("consent: upstream discovery failed", "provider", ip.ID, "err", err)
		p.RenderError(w, r, http.StatusBadGateway, "Sign-in service unavailable", msgUpstreamDown)
		return
	}
	flow := upstreamFlow{Provider: ip.ID, Issuer: ip.Issuer, ReturnTo: returnTo,
		Verifier: oauth2.GenerateVerifier(), Expires: p.now().Add(upstreamFlowLifetime).Unix()}
	if flow.State, err = randomValue(); err == nil {
		flow.Nonce, err = randomValue()
	}
	if err != nil {
		p.internalError(w, r, "upstream: random", err)
		return
	}
	sealed, err := p.sealFlow(flow)
	if err != nil {
		p.internalError(w, r, "upstream: seal flow", err)
		return
	}
	p.jar().Set(w, upstreamCookie(), sealed)
	cfg := p.oauth2Config(ip, op, "")
	target := cfg.AuthCodeURL(flow.State, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier))
	p.log.Info("consent: upstream sign-in started", "provider", ip.ID, "ip", clientaddr.IP(r))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (p *Pages) handleUpstreamCallback(w http.ResponseWriter, r *http.Request) {
	if !p.federationEnabled() {
		p.NotFound(w, r)
		return
	}
	ctx := r.Context()
	providerID := mux.Vars(r)["id"]
	// The flow is used once: cleared before anything can fail.
	raw := p.jar().Get(r, upstreamCookie())
	p.jar().Clear(w, upstreamCookie())
	flow, ok := p.openFlow(raw)
	q := r.URL.Query()
	if !ok || flow.Provider != providerID || p.now().Unix() > flow.Expires {
		p.log.Info("consent: upstream callback without a valid flow", "provider", providerID, "ip", clientaddr.IP(r))
		p.RenderError(w, r, http.StatusBadRequest, "Sign-in expired", msgUpstreamExpired)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(flow.State)) != 1 {
		p.log.Info("consent: upstream callback with a wrong state", "provider", providerID, "ip", clientaddr.IP(r))
		p.RenderError(w, r, http.StatusBadRequest, "Sign-in expired", msgUpstreamExpired)
		return
	}
	if e := q.Get("error"); e != "" {
		// The upstream's words are not shown: only logged, bounded.
		p.log.Info("consent: upstream answered an error", "provider", providerID, "error", truncate(e, 64))
		p.RenderError(w, r, http.StatusBadRequest, "Sign-in not completed", msgUpstreamFailed)
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 4096 {
		p.RenderError(w, r, http.StatusBadRequest, "Sign-in not completed", msgUpstreamFailed)
		return
	}
	ip, err := p.fed.GetIdentityProvider(ctx, providerID)
	if domain.ErrorCode(err) == domain.CodeNotFound || err == nil && (!ip.Enabled || ip.Issuer != flow.Issuer) {
		p.RenderError(w, r, http.StatusNotFound, "Sign-in option not available", msgUpstreamNotFound)
		return
	}
	if err != nil {
		p.internalError(w, r, "upstream: get provider", err)
		return
	}
	id, ok := p.upstreamIdentity(w, r, ip, code, flow)
	if !ok {
		return
	}
	res, err := p.fed.SignInUpstream(ctx, id, clientaddr.IP(r))
	switch {
	case errors.Is(err, domain.ErrFederatedEmail):
		p.RenderError(w, r, http.StatusForbidden, "Sign-in refused", msgUpstreamEmail)
		return
	case errors.Is(err, domain.ErrInvalidCredentials):
		p.RenderError(w, r, http.StatusForbidden, "Sign-in refused", msgUpstreamRefused)
		return
	case errors.Is(err, domain.ErrProviderUnavailable):
		p.RenderError(w, r, http.StatusNotFound, "Sign-in option not available", msgUpstreamNotFound)
		return
	case err != nil:
		p.internalError(w, r, "upstream: sign in", err)
		return
	}
	p.log.Info("consent: upstream sign-in", "provider", ip.ID, "user_id", res.User.ID,
		"created", res.Created, "linked", res.Linked, "ip", clientaddr.IP(r))
	p.afterFirstFactor(w, r, res.User, flow.ReturnTo, []string{domain.AMRFederated})
}

// upstreamIdentity exchanges the code and verifies the ID token; on a
// failure it answers the request (a fixed message) and returns false.
func (p *Pages) upstreamIdentity(w http.ResponseWriter, r *http.Request, ip store.IdentityProvider, code string, flow upstreamFlow) (domain.UpstreamIdentity, bool) {
	ctx := p.upstreams.context(r.Context())
	fail := func(status int, title, msg, what string, err error) (domain.UpstreamIdentity, bool) {
		p.log.Info("consent: upstream sign-in failed: "+what, "provider", ip.ID, "err", err, "ip", clientaddr.IP(r))
		p.RenderError(w, r, status, title, msg)
		return domain.UpstreamIdentity{}, false
	}
	op, err := p.upstreams.provider(r.Context(), ip)
	if err != nil {
		return fail(http.StatusBadGateway, "Sign-in service unavailable", msgUpstreamDown, "discovery", err)
	}
	secret, err := p.fed.IdentityProviderSecret(ip)
	if err != nil {
		p.internalError(w, r, "upstream: client secret", err)
		return domain.UpstreamIdentity{}, false
	}
	cfg := p.oauth2Config(ip, op, secret)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		// The token endpoint's answer may quote the request: only its
		// error code is logged.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			err = fmt.Errorf("token endpoint: %d %s", re.Response.StatusCode, truncate(re.ErrorCode, 64))
		}
		return fail(http.StatusBadGateway, "Sign-in not completed", msgUpstreamFailed, "code exchange", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return fail(http.StatusBadGateway, "Sign-in not completed", msgUpstreamFailed, "no id_token", nil)
	}
	idt, err := op.Verifier(&oidc.Config{ClientID: ip.ClientID}).Verify(ctx, rawID)
	if err != nil {
		return fail(http.StatusBadGateway, "Sign-in not completed", msgUpstreamFailed, "id_token", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return fail(http.StatusBadRequest, "Sign-in not completed", msgUpstreamFailed, "nonce mismatch", nil)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return fail(http.StatusBadGateway, "Sign-in not completed", msgUpstreamFailed, "id_token claims", err)
	}
	// What the ID token leaves out, userinfo may say; its sub must be the
	// ID token's (OIDC Core §5.3.2), or its claims are someone else's.
	if _, ok := claims[ip.EmailClaim]; !ok && op.UserInfoEndpoint() != "" {
		if ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			extra := map[string]any{}
			if ui.Claims(&extra) == nil {
				for k, v := range extra {
					if _, have := claims[k]; !have {
						claims[k] = v
					}
				}
			}
		}
	}
	str := func(name string) string {
		s, _ := claims[name].(string)
		return s
	}
	verified, _ := claims["email_verified"].(bool)
	return domain.UpstreamIdentity{
		ProviderID: ip.ID, Issuer: idt.Issuer, Subject: idt.Subject,
		Email: str(ip.EmailClaim), EmailVerified: verified,
		Username: str(ip.UsernameClaim), Name: str(ip.NameClaim),
	}, true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// newFlowAEAD is the cipher of the flow cookie; nil without a key.
func newFlowAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) == 0 {
		return nil, nil
	}
	if len(key) != 32 {
		return nil, errors.New("consent: federation key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("consent: federation key: %w", err)
	}
	return cipher.NewGCM(block)
}

// flowAD binds a sealed flow to its cookie: no other sealed value of ours
// can be passed off as one.
var flowAD = []byte("gatehouse upstream flow v1")

func (p *Pages) sealFlow(f upstreamFlow) (string, error) {
	plain, err := json.Marshal(f)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, p.flowAEAD.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(p.flowAEAD.Seal(nonce, nonce, plain, flowAD)), nil
}

func (p *Pages) openFlow(v string) (upstreamFlow, bool) {
	if v == "" || len(v) > 4096 {
		return upstreamFlow{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	n := p.flowAEAD.NonceSize()
	if err != nil || len(b) < n+p.flowAEAD.Overhead() {
		return upstreamFlow{}, false
	}
	plain, err := p.flowAEAD.Open(nil, b[:n], b[n:], flowAD)
	if err != nil {
		return upstreamFlow{}, false
	}
	var f upstreamFlow
	if json.Unmarshal(plain, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return upstreamFlow{}, false
	}
	return f, true
}

// ---------------------------------------------------------------------------
// The security page's linked identities

type identityRow struct {
	ID, Provider, Email string
	Linked, LastUsed    string
}

func (p *Pages) identityRows(ctx context.Context, userID string) ([]identityRow, error) {
	if !p.federationEnabled() {
		return nil, nil
	}
	links, err := p.fed.ListLinkedIdentities(ctx, userID)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	if list, err := p.fed.EnabledIdentityProviders(ctx); err == nil {
		for _, ip := range list {
			names[ip.ID] = ip.DisplayName
		}
	}
	rows := make([]identityRow, 0, len(links))
	for _, l := range links {
		row := identityRow{ID: l.ID, Provider: names[l.ProviderID], Email: l.Email,
			Linked: l.CreatedAt.UTC().Format(passkeyTime), LastUsed: "Never"}
		if row.Provider == "" {
			row.Provider = l.ProviderID
		}
		if l.LastUsedAt != nil {
			row.LastUsed = l.LastUsedAt.UTC().Format(passkeyTime)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (p *Pages) handleUnlinkIdentity(w http.ResponseWriter, r *http.Request) {
	sess := p.readSecurityForm(w, r)
	if sess == nil {
		return
	}
	if !p.federationEnabled() {
		p.NotFound(w, r)
		return
	}
	if !p.fresh(sess) {
		p.renderSecurity(w, r, http.StatusForbidden, sess, "", "To unlink an account, sign in again first.")
		return
	}
	a := domain.Actor{Type: store.ActorUser, ID: sess.User.ID, IP: clientaddr.IP(r)}
	err := p.fed.UnlinkIdentity(r.Context(), a, sess.User.ID, r.PostForm.Get("id"))
	switch {
	case errors.Is(err, domain.ErrLastSignInMethod):
		p.renderSecurity(w, r, http.StatusConflict, sess, "",
			"This linked account is your only way to sign in. Set a password or add a passkey before you unlink it.")
		return
	case domain.ErrorCode(err) == domain.CodeNotFound:
		p.renderSecurity(w, r, http.StatusNotFound, sess, "", "That linked account does not exist (any more).")
		return
	case err != nil:
		p.internalError(w, r, "unlink identity", err)
		return
	}
	p.log.Info("consent: identity unlinked", "user_id", sess.User.ID)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.path(securityPath)+"?notice=unlinked", http.StatusSeeOther)
}
