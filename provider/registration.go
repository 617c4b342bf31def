package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// Dynamic client registration (RFC 7591) at <issuer>/oauth2/register and
// its management (RFC 7592) at <issuer>/oauth2/register/{client_id}.
//
// The policy: anyone may register a public client (token endpoint auth
// method none, so PKCE is enforced) when OpenPublic is on; any other
// registration needs an initial access token. Redirect URIs are https, or
// http on a loopback host. Registered clients are third-party (the person
// is always asked), get only the allowed scopes, and have no roles.

// Registrar is what registration needs of the identity model
// (domain.Service).
type Registrar interface {
	RegisterClient(ctx context.Context, ip string, c store.Client) (domain.Registration, error)
	RegisteredClient(ctx context.Context, id, token string) (store.Client, error)
	UpdateRegisteredClient(ctx context.Context, ip, id, token string, c store.Client) (store.Client, error)
	DeleteRegisteredClient(ctx context.Context, ip, id, token string) error
}

// RegistrationPolicy turns registration on (Options.Registration; nil:
// off, the endpoint is not mounted and discovery does not list it).
type RegistrationPolicy struct {
	Registrar Registrar
	// OpenPublic admits public clients without an initial access token.
	OpenPublic bool
	// InitialAccessTokens are the SHA-256 digests of the tokens that admit
	// any registration.
	InitialAccessTokens [][]byte
	// AllowedScopes are the scopes a registered client may hold.
	AllowedScopes []string
	// MaxOpenClients: past this many registered clients, registration
	// without an initial access token is refused; 0: no bound.
	MaxOpenClients int
}

const (
	registrationPath = "/oauth2/register"
	// maxRegistrationBody bounds a registration request: metadata is a few
	// hundred bytes; a JWKS a few kilobytes.
	maxRegistrationBody = 64 << 10
	maxRedirectURIs     = 20
	maxContacts         = 10
	maxURILength        = 2000
)

func (p *Provider) mountRegistration(r *mux.Router) {
	if p.opts.Registration == nil {
		return
	}
	r.HandleFunc(registrationPath, p.handleRegister).Methods(http.MethodPost)
	r.HandleFunc(registrationPath+"/{client_id}", p.handleRegistration).
		Methods(http.MethodGet, http.MethodPut, http.MethodDelete)
}

// registrationEndpoint is discovery's registration_endpoint: "" (left out)
// when registration is off.
func (p *Provider) registrationEndpoint() string {
	if p.opts.Registration == nil {
		return ""
	}
	return p.issuer + registrationPath
}

// clientMetadata is the RFC 7591 §2 metadata gatehouse reads; unknown
// members are ignored, as §2 asks.
type clientMetadata struct {
	RedirectURIs             []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod  string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes               []string        `json:"grant_types,omitempty"`
	ResponseTypes            []string        `json:"response_types,omitempty"`
	ClientName               string          `json:"client_name,omitempty"`
	ClientURI                string          `json:"client_uri,omitempty"`
	LogoURI                  string          `json:"logo_uri,omitempty"`
	Scope                    string          `json:"scope,omitempty"`
	Contacts                 []string        `json:"contacts,omitempty"`
	JWKS                     json.RawMessage `json:"jwks,omitempty"`
	PostLogoutRedirectURIs   []string        `json:"post_logout_redirect_uris,omitempty"`
	IDTokenSignedResponseAlg string          `json:"id_token_signed_response_alg,omitempty"`
}

// registrationRequest is a body of POST or PUT: the metadata, and on PUT
// the client's id (and, optionally, its secret) as RFC 7592 §2.2 has it.
type registrationRequest struct {
	clientMetadata
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// registrationResponse is the client information response (RFC 7591
// §3.2.1, RFC 7592 §3).
type registrationResponse struct {
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret,omitempty"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at"`
	// ClientSecretExpiresAt is 0: secrets do not expire (RFC 7591 §3.2.1).
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	clientMetadata
}

// registrationError is an RFC 7591 §3.2.2 error.
type registrationError struct {
	status      int
	code        string
	description string
}

func (e *registrationError) Error() string { return e.code + ": " + e.description }

func invalidMetadata(format string, args ...any) *registrationError {
	return &registrationError{http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf(format, args...)}
}

func invalidRedirectURI(format string, args ...any) *registrationError {
	return &registrationError{http.StatusBadRequest, "invalid_redirect_uri", fmt.Sprintf(format, args...)}
}

// errRegistrationToken answers a missing or wrong bearer token: the
// initial access token at the registration endpoint, the registration
// access token at a client's URI (RFC 6750 §3).
func errRegistrationToken(description string) *registrationError {
	return &registrationError{http.StatusUnauthorized, "invalid_token", description}
}

func (p *Provider) writeRegistrationError(w http.ResponseWriter, r *http.Request, err error) {
	var re *registrationError
	if !errors.As(err, &re) {
		if v, ok := domain.AsValidation(err); ok && len(v.Fields) > 0 {
			f := v.Fields[0]
			re = invalidMetadata("%s: %s", f.Field, f.Message)
			if f.Field == "redirect_uris" || f.Field == "post_logout_redirect_uris" {
				re.code = "invalid_redirect_uri"
			}
		} else if errors.Is(err, domain.ErrUnauthenticated) || errors.Is(err, store.ErrNotFound) {
			// A client deleted meanwhile is one the token no longer opens.
			re = errRegistrationToken("The registration access token is invalid.")
		} else if unavailable(err) {
			p.log.WarnContext(r.Context(), "registration: store unavailable", "error", err)
			w.Header().Set("Retry-After", "1")
			re = &registrationError{http.StatusServiceUnavailable, "temporarily_unavailable", "Try again in a moment."}
		} else {
			p.log.ErrorContext(r.Context(), "registration failed", "error", err)
			re = &registrationError{http.StatusInternalServerError, "server_error", "The registration could not be completed."}
		}
	}
	level := slog.LevelDebug
	switch {
	case re.status >= 500:
		level = slog.LevelError
	case re.status == http.StatusUnauthorized:
		level = slog.LevelWarn
	}
	p.log.Log(r.Context(), level, "client registration refused", "error", re.code, "status", re.status, "hint", re.description)
	if re.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, re.status, map[string]string{"error": re.code, "error_description": re.description})
}

// handleRegister is RFC 7591 §3.1's client registration endpoint.
func (p *Provider) handleRegister(w http.ResponseWriter, r *http.Request) {
	pol := p.opts.Registration
	// An initial access token, when one is presented, must be good even
	// where none is needed: a wrong credential is never ignored, and is
	// refused before the body is read.
	token, presented := bearer(r)
	admitted := presented && pol.initialAccessTokenValid(token)
	if presented && !admitted {
		p.writeRegistrationError(w, r, errRegistrationToken("The initial access token is invalid."))
		return
	}
	req, err := readRegistration(w, r)
	if err != nil {
		p.writeRegistrationError(w, r, err)
		return
	}
	c, err := p.registeredMetadata(req.clientMetadata)
	if err != nil {
		p.writeRegistrationError(w, r, err)
		return
	}
	// Open registration: public clients only, and only if the policy says.
	if !admitted && !(c.Public && pol.OpenPublic) {
		what := "a confidential client"
		if c.Public {
			what = "a client"
		}
		p.writeRegistrationError(w, r, errRegistrationToken("An initial access token is required to register "+what+"."))
		return
	}
	if !admitted && pol.MaxOpenClients > 0 {
		// A bound, not a quota: concurrent registrations may pass it by
		// a few, and the janitor brings it back.
		n, err := p.store.CountRegisteredClients(r.Context())
		if err != nil {
			p.writeRegistrationError(w, r, err)
			return
		}
		if n >= pol.MaxOpenClients {
			p.writeRegistrationError(w, r, &registrationError{http.StatusForbidden, "access_denied",
				"Open registration is closed for now: too many clients are registered."})
			return
		}
	}
	reg, err := pol.Registrar.RegisterClient(r.Context(), clientaddr.IP(r), c)
	if err != nil {
		p.writeRegistrationError(w, r, err)
		return
	}
	resp := p.registrationResponse(reg.Client)
	resp.ClientSecret = reg.Secret
	resp.RegistrationAccessToken = reg.RegistrationToken
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Location", resp.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, resp)
}

// handleRegistration is RFC 7592's client configuration endpoint: read,
// replace or delete the client with its registration access token.
func (p *Provider) handleRegistration(w http.ResponseWriter, r *http.Request) {
	reg := p.opts.Registration.Registrar
	id := mux.Vars(r)["client_id"]
	token, ok := bearer(r)
	if !ok || !domain.ValidKey(id) {
		p.writeRegistrationError(w, r, errRegistrationToken("The registration access token is required."))
		return
	}
	ctx, ip := r.Context(), clientaddr.IP(r)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	switch r.Method {
	case http.MethodGet:
		c, err := reg.RegisteredClient(ctx, id, token)
		if err != nil {
			p.writeRegistrationError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, p.registrationResponse(c))
	case http.MethodPut:
		cur, err := reg.RegisteredClient(ctx, id, token)
		if err != nil {
			p.writeRegistrationError(w, r, err)
			return
		}
		req, err := readRegistration(w, r)
		if err == nil && req.ClientID != id {
			err = invalidMetadata("client_id must be the client's own id")
		}
		if err == nil && req.ClientSecret != "" && !domain.ClientSecretMatches(cur.SecretHash, req.ClientSecret) {
			err = invalidMetadata("client_secret does not match the client's secret")
		}
		var next store.Client
		if err == nil {
			next, err = p.registeredMetadata(req.clientMetadata)
		}
		if err != nil {
			p.writeRegistrationError(w, r, err)
			return
		}
		out, err := reg.UpdateRegisteredClient(ctx, ip, id, token, next)
		if err != nil {
			p.writeRegistrationError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, p.registrationResponse(out))
	case http.MethodDelete:
		if err := reg.DeleteRegisteredClient(ctx, ip, id, token); err != nil {
			p.writeRegistrationError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// initialAccessTokenValid compares the token's digest with every
// configured one in constant time, all of them, whatever matched.
func (pol *RegistrationPolicy) initialAccessTokenValid(token string) bool {
	ok := false
	for _, d := range pol.InitialAccessTokens {
		if domain.ClientSecretMatches(d, token) {
			ok = true
		}
	}
	return ok
}

// readRegistration decodes a bounded JSON body.
func readRegistration(w http.ResponseWriter, r *http.Request) (registrationRequest, error) {
	var req registrationRequest
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return req, invalidMetadata("the request body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, &registrationError{http.StatusRequestEntityTooLarge, "invalid_client_metadata",
				fmt.Sprintf("the request body exceeds %d bytes", maxRegistrationBody)}
		}
		return req, invalidMetadata("the request body could not be read")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return req, invalidMetadata("%s has the wrong type", typeErr.Field)
		}
		return req, invalidMetadata("the request body must be a JSON object of client metadata")
	}
	return req, nil
}

// registeredMetadata turns the metadata into the client to store,
// applying the policy's rules; domain.ValidateClient checks the rest when
// it is stored.
func (p *Provider) registeredMetadata(m clientMetadata) (store.Client, error) {
	pol := p.opts.Registration
	c := store.Client{
		Name:                     m.ClientName,
		TokenEndpointAuthMethod:  m.TokenEndpointAuthMethod,
		RedirectURIs:             m.RedirectURIs,
		PostLogoutRedirectURIs:   m.PostLogoutRedirectURIs,
		GrantTypes:               m.GrantTypes,
		ResponseTypes:            m.ResponseTypes,
		JWKS:                     m.JWKS,
		IDTokenSignedResponseAlg: m.IDTokenSignedResponseAlg,
		ClientURI:                m.ClientURI,
		LogoURI:                  m.LogoURI,
		Contacts:                 m.Contacts,
	}
	// RFC 7591 §2's defaults: client_secret_basic, authorization_code, code.
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = domain.AuthClientSecretBasic
	}
	c.Public = c.TokenEndpointAuthMethod == domain.AuthNone
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{domain.GrantAuthorizationCode}
	}
	if len(c.ResponseTypes) == 0 && slices.Contains(c.GrantTypes, domain.GrantAuthorizationCode) {
		c.ResponseTypes = []string{domain.ResponseTypeCode}
	}
	if c.ResponseTypes == nil {
		c.ResponseTypes = []string{}
	}
	if slices.Contains(c.GrantTypes, domain.GrantJWTBearer) {
		return store.Client{}, invalidMetadata("grant_types: %s is not offered to registered clients", domain.GrantJWTBearer)
	}
	if len(c.RedirectURIs) == 0 && slices.Contains(c.GrantTypes, domain.GrantAuthorizationCode) {
		return store.Client{}, invalidRedirectURI("redirect_uris are required for the authorization_code grant")
	}
	if len(c.RedirectURIs) > maxRedirectURIs || len(c.PostLogoutRedirectURIs) > maxRedirectURIs {
		return store.Client{}, invalidRedirectURI("at most %d redirect URIs", maxRedirectURIs)
	}
	for _, u := range slices.Concat(c.RedirectURIs, c.PostLogoutRedirectURIs) {
		if msg := registeredRedirectProblem(u); msg != "" {
			return store.Client{}, invalidRedirectURI("%q %s", truncate(u), msg)
		}
	}
	for name, u := range map[string]string{"client_uri": c.ClientURI, "logo_uri": c.LogoURI} {
		if u != "" && !webURL(u) {
			return store.Client{}, invalidMetadata("%s must be an absolute https (or http) URL", name)
		}
	}
	if len(c.Contacts) > maxContacts {
		return store.Client{}, invalidMetadata("contacts: at most %d", maxContacts)
	}
	for _, ct := range c.Contacts {
		if ct == "" || len(ct) > 254 || strings.ContainsFunc(ct, unicode.IsControl) {
			return store.Client{}, invalidMetadata("contacts: each must be a short line of text such as an email address")
		}
	}
	scopes := strings.Fields(m.Scope)
	if len(scopes) == 0 {
		// Not asked: the OpenID Connect defaults the policy allows (never
		// the resource API's scope, which must be asked for).
		scopes = []string{}
		for _, s := range domain.DefaultClientScopes() {
			if slices.Contains(pol.AllowedScopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	for _, s := range scopes {
		if !slices.Contains(pol.AllowedScopes, s) {
			return store.Client{}, invalidMetadata("scope: %q may not be registered", truncate(s))
		}
	}
	c.Scopes = set(scopes)
	return c, nil
}

// registeredRedirectProblem: a registered client's redirect URI is https,
// or http on a loopback host (RFC 8252 §7.3); nothing else, since nobody
// vouches for a self-registered client.
func registeredRedirectProblem(raw string) string {
	if len(raw) > maxURILength {
		return "is too long"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || strings.Contains(raw, "#") || u.User != nil {
		return "must be an absolute URL without a fragment or user information"
	}
	switch {
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && domain.IsLoopbackHost(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return "must use https unless its host is a loopback address (" + domain.LoopbackHosts + ")"
	}
	return "must use https, or http on a loopback host"
}

func webURL(raw string) bool {
	if len(raw) > maxURILength {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && !strings.Contains(raw, "#")
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

func set(in []string) []string {
	out := []string{}
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// storedMetadata is the metadata of a stored client, as GET returns it.
func storedMetadata(c store.Client) clientMetadata {
	return clientMetadata{
		RedirectURIs:             c.RedirectURIs,
		TokenEndpointAuthMethod:  c.TokenEndpointAuthMethod,
		GrantTypes:               c.GrantTypes,
		ResponseTypes:            c.ResponseTypes,
		ClientName:               c.Name,
		ClientURI:                c.ClientURI,
		LogoURI:                  c.LogoURI,
		Scope:                    strings.Join(c.Scopes, " "),
		Contacts:                 c.Contacts,
		JWKS:                     c.JWKS,
		PostLogoutRedirectURIs:   c.PostLogoutRedirectURIs,
		IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
	}
}

// registrationResponse is the client information response of c: what is
// stored, so a client sees which of its metadata was kept.
func (p *Provider) registrationResponse(c store.Client) registrationResponse {
	resp := registrationResponse{
		ClientID:              c.ID,
		ClientIDIssuedAt:      c.CreatedAt.Unix(),
		RegistrationClientURI: p.issuer + registrationPath + "/" + url.PathEscape(c.ID),
		clientMetadata:        storedMetadata(c),
	}
	return resp
}

// touchUnder is how recent a registered client's recorded last use may be
// for a token not to write it again: the janitor's clock for unused clients
// needs hours, not seconds.
const touchUnder = time.Hour

// touchRegistered records that a registered client got a token, at most
// once an hour: the cached client says when it was last recorded, and a
// write drops it from the cache so the next token reads the new time. A
// failure is logged, never the client's problem.
func (p *Provider) touchRegistered(ctx context.Context, fc fosite.Client) {
	c, ok := fc.(*client)
	if !ok || !c.Registered {
		return
	}
	now := p.now()
	if c.LastUsedAt != nil && c.LastUsedAt.After(now.Add(-touchUnder)) {
		return
	}
	if err := p.store.TouchClient(ctx, c.ID, now, now.Add(-touchUnder)); err != nil {
		p.log.WarnContext(ctx, "registration: record last use", "client_id", c.ID, "error", err)
		return
	}
	p.clients.Invalidate(c.ID)
}
