package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/internal/dpop"
	"github.com/gatehouse/gatehouse/store"
)

// Server defaults for token lifetimes (DESIGN.md section 2).
const (
	DefaultAuthorizationCodeLifetime = 10 * time.Minute
	DefaultAccessTokenLifetime       = 60 * time.Minute
	DefaultIDTokenLifetime           = 60 * time.Minute
	DefaultRefreshTokenLifetime      = 1440 * time.Hour
)

const (
	// parLifetime is how long a pushed authorization request may wait for
	// its authorize call (RFC 9126 suggests a short life).
	parLifetime = 10 * time.Minute
	// parURIPrefix is the request_uri prefix RFC 9126 registers.
	parURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// jwtBearerMaxAge bounds how far in the future a jwt-bearer assertion
	// may expire: the used-jti records it leaves live that long.
	jwtBearerMaxAge = time.Hour

	grantTypeJWTBearer = string(fosite.GrantTypeJWTBearer)
)

// Options configure a Provider.
type Options struct {
	// Issuer is the OpenID Connect issuer, e.g. https://id.example.com (no
	// trailing slash). Every endpoint lives under it.
	Issuer string
	// GlobalSecret keys fosite's HMAC token strategy; 32 bytes
	// (keys.Derive(secret, "fosite-global-secret", 32)).
	GlobalSecret []byte
	// Lifetimes are the server defaults; zero fields take the Default*
	// constants. Clients may override them.
	Lifetimes store.Lifetimes
	// AccessTokenFormat is the default for clients that set none: opaque
	// (the default) or jwt.
	AccessTokenFormat store.AccessTokenFormat
	// CacheTTL bounds how long a cached client (and the set of allowed
	// origins) is used without an invalidation (default cache.DefaultTTL):
	// a safety net, since Invalidate is how changes arrive.
	CacheTTL time.Duration
	// RefreshReuseInterval is how long after a refresh a client may present
	// the refresh token it used again, once, and get a fresh pair instead
	// of having the grant revoked for reuse: the retry of an answer that
	// was lost (refresh.go). 0 disables it; the server's default is
	// config's refresh_token.reuse_interval.
	RefreshReuseInterval time.Duration
	Now                  func() time.Time
	Logger               *slog.Logger
	// Tokens counts the token endpoint's successes by grant type (nil:
	// not counted).
	Tokens TokenRecorder
	// CacheRecorder is told of every lookup of the client cache
	// ("clients") and the introspection cache ("introspection"); nil:
	// nobody.
	CacheRecorder cache.Recorder
	// IntrospectionCacheEntries bounds the introspection cache of active
	// access tokens (introcache.go); 0 turns it off. It is off too when
	// the store does not report its revocations (store.TokenObserver).
	IntrospectionCacheEntries int
	// SharedStore: other instances share the store, and the server feeds
	// their changes to Invalidate from the store's change feed. The
	// introspection cache then serves nothing until the feed has
	// connected (store.ChangeAll) nor while it is lost, and holds this
	// instance's revocations out of the cache until their commit has
	// surely been announced.
	SharedStore bool

	// Registration turns on dynamic client registration (RFC 7591/7592,
	// registration.go) under this policy; nil: off.
	Registration *RegistrationPolicy
	// The device authorization grant (device.go): how long a device code
	// waits for the user (default DefaultDeviceCodeLifetime) and the
	// least time between polls (default DefaultDeviceCodeInterval, whole
	// seconds).
	DeviceCodeLifetime time.Duration
	DeviceCodeInterval time.Duration
	// DPoP configures the checks of DPoP proofs (dpop.go).
	DPoP DPoPOptions

	// Usage counts, for the usage analytics, the authorizations granted
	// to each client and the token responses by grant type (nil: not
	// counted). It must not touch the database per call: the token
	// endpoint answers thousands a second.
	Usage UsageCounter
}

// UsageCounter counts usage events in memory (usage.Recorder implements
// it).
type UsageCounter interface {
	Count(metric, key string)
}

type noUsageCounter struct{}

func (noUsageCounter) Count(string, string) {}

// TokenRecorder counts issued tokens (telemetry implements it).
type TokenRecorder interface {
	TokenIssued(grantType string)
}

type noTokenRecorder struct{}

func (noTokenRecorder) TokenIssued(string) {}

// TokenInfo describes a valid access token.
type TokenInfo struct {
	// Subject is the user id, or the client id for client_credentials.
	Subject  string
	ClientID string
	// UserID is set when the subject is a user of the directory.
	UserID    string
	Scopes    []string
	ExpiresAt time.Time
	// Act is who acts through the token (domain.Actor.String) when it was
	// made by token exchange; "" otherwise.
	Act string
	// Audience is the token's aud: the resources it was issued for (RFC
	// 8707), or the issuer when its grant named none (the aud a JWT access
	// token carries then).
	Audience []string
	// JKT is the thumbprint of the DPoP key the token is bound to; empty
	// for a bearer token.
	JKT string
}

// ErrInvalidToken is returned by IntrospectAccessToken for a token that is
// not an active access token (unknown, expired, revoked, or of another kind).
var ErrInvalidToken = errors.New("provider: invalid access token")

// Provider serves the OAuth 2.0 and OpenID Connect endpoints.
type Provider struct {
	store store.Store
	svc   Directory
	keys  SigningKeys
	pages Pages
	oauth fosite.OAuth2Provider
	// byGrant holds, for each grant type the token endpoint offers, a
	// fosite over the same config, storage and handlers that runs only
	// that grant's token handlers (see dispatchByGrant).
	byGrant map[string]fosite.OAuth2Provider
	scopes  fosite.ScopeStrategy
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	issuer  string
	prefix  string // the issuer's path, under which the routes are mounted
	origins *originSet
	clients *cache.Cache[string, *client]
	// tokens is the introspection cache; nil: off.
	tokens *cache.Tokens[*cachedAccess]

	// deviceKey keys the digests of device and user codes (device.go).
	deviceKey []byte
	// dpop verifies DPoP proofs (dpop.go).
	dpop *dpop.Verifier
}

// New composes fosite over s and returns the provider. svc answers for the
// identity model (who may hold tokens, their roles, consent); k signs ID
// tokens and JWT access tokens; pages decides who is signed in and renders
// the consent and error pages.
func New(s store.Store, svc Directory, k SigningKeys, pages Pages, opts Options) (*Provider, error) {
	switch {
	case s == nil:
		return nil, errors.New("provider: store is required")
	case svc == nil:
		return nil, errors.New("provider: domain service is required")
	case k == nil:
		return nil, errors.New("provider: key manager is required")
	case pages == nil:
		return nil, errors.New("provider: consent pages are required")
	case len(opts.GlobalSecret) < 32:
		return nil, errors.New("provider: global secret must be at least 32 bytes")
	case opts.CacheTTL < 0:
		return nil, errors.New("provider: cache TTL must not be negative")
	case opts.RefreshReuseInterval < 0:
		return nil, errors.New("provider: refresh reuse interval must not be negative")
	case opts.DeviceCodeLifetime < 0, opts.DeviceCodeInterval < 0, opts.DeviceCodeInterval%time.Second != 0:
		return nil, errors.New("provider: the device code lifetime and interval must not be negative, the interval whole seconds")
	}
	iss, err := url.Parse(opts.Issuer)
	if err != nil || iss.Scheme == "" || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" || strings.HasSuffix(opts.Issuer, "/") {
		return nil, fmt.Errorf("provider: issuer %q must be an absolute URL without query, fragment or trailing slash", opts.Issuer)
	}
	switch opts.AccessTokenFormat {
	case store.FormatDefault:
		opts.AccessTokenFormat = store.FormatOpaque
	case store.FormatOpaque, store.FormatJWT:
	default:
		return nil, fmt.Errorf("provider: unknown access token format %q", opts.AccessTokenFormat)
	}
	lt := &opts.Lifetimes
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&lt.AuthorizationCode, DefaultAuthorizationCodeLifetime},
		{&lt.AccessToken, DefaultAccessTokenLifetime},
		{&lt.IDToken, DefaultIDTokenLifetime},
		{&lt.RefreshToken, DefaultRefreshTokenLifetime},
	} {
		if *d.v < 0 {
			return nil, errors.New("provider: lifetimes must not be negative")
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = cache.DefaultTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Tokens == nil {
		opts.Tokens = noTokenRecorder{}
	}
	if opts.Usage == nil {
		opts.Usage = noUsageCounter{}
	}
	if opts.DeviceCodeLifetime == 0 {
		opts.DeviceCodeLifetime = DefaultDeviceCodeLifetime
	}
	if opts.DeviceCodeInterval == 0 {
		opts.DeviceCodeInterval = DefaultDeviceCodeInterval
	}
	// Copy the keys so a caller reusing its slices cannot change ours.
	opts.GlobalSecret = append([]byte(nil), opts.GlobalSecret...)

	p := &Provider{
		store:  s,
		svc:    svc,
		keys:   k,
		pages:  pages,
		scopes: fosite.ExactScopeStrategy,
		opts:   opts,
		log:    opts.Logger,
		now:    opts.Now,
		issuer: opts.Issuer,
		prefix: strings.TrimRight(iss.Path, "/"),

		deviceKey: deviceKey(opts.GlobalSecret),
	}
	p.origins = newOriginSet(s, opts.CacheTTL, opts.Now, opts.Logger)
	p.clients = cache.New[string, *client](cache.Options{TTL: opts.CacheTTL, Now: opts.Now, Name: "clients", Recorder: opts.CacheRecorder})
	if o, ok := s.(store.TokenObserver); ok && opts.IntrospectionCacheEntries > 0 {
		p.tokens = cache.NewTokens[*cachedAccess](cache.TokenOptions{
			Max: opts.IntrospectionCacheEntries, TTL: opts.CacheTTL, Live: !opts.SharedStore,
			Now: opts.Now, Name: "introspection", Recorder: opts.CacheRecorder,
		})
		tokens, hold := p.tokens, opts.SharedStore
		o.ObserveTokenChanges(func(e store.ChangeEvent) { invalidateTokens(tokens, e, hold) })
	}
	if p.dpop, err = newDPoPVerifier(s, opts); err != nil {
		return nil, err
	}
	p.oauth = p.compose()
	p.byGrant = dispatchByGrant(p.oauth.(*fosite.Fosite))
	return p, nil
}

// compose builds fosite with exactly the grants gatehouse offers: never the
// implicit, hybrid or password flows.
func (p *Provider) compose() fosite.OAuth2Provider {
	cfg := &fosite.Config{
		AuthorizeCodeLifespan: p.opts.Lifetimes.AuthorizationCode,
		AccessTokenLifespan:   p.opts.Lifetimes.AccessToken,
		IDTokenLifespan:       p.opts.Lifetimes.IDToken,
		RefreshTokenLifespan:  p.opts.Lifetimes.RefreshToken,

		IDTokenIssuer:     p.issuer,
		AccessTokenIssuer: p.issuer,
		// The audience private_key_jwt and jwt-bearer assertions must name.
		TokenURL: p.issuer + "/oauth2/token",

		GlobalSecret:        p.opts.GlobalSecret,
		ClientSecretsHasher: secretHasher{},

		ScopeStrategy:            p.scopes,
		AudienceMatchingStrategy: fosite.ExactAudienceMatchingStrategy,
		// Refresh tokens only for grants that asked for offline access.
		RefreshTokenScopes: []string{"offline_access", "offline"},
		JWTScopeClaimKey:   jwt.JWTScopeFieldString,

		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		AllowedPromptValues:            []string{"login", "none", "consent"},

		PushedAuthorizeRequestURIPrefix: parURIPrefix,
		PushedAuthorizeContextLifespan:  parLifetime,

		GrantTypeJWTBearerCanSkipClientAuth:  false,
		GrantTypeJWTBearerIDOptional:         false,
		GrantTypeJWTBearerIssuedDateOptional: true,
		GrantTypeJWTBearerMaxDuration:        jwtBearerMaxAge,

		SendDebugMessagesToClients: false,
	}

	sgn := newSigner(p.keys)
	opaque := prefixedHMAC{oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: cfg}, cfg)}
	tokens := &tokenStrategy{
		prefixedHMAC:    opaque,
		jwt:             &oauth2.DefaultJWTStrategy{Signer: sgn, HMACSHAStrategy: opaque, Config: cfg},
		defaultFormat:   p.opts.AccessTokenFormat,
		defaultAudience: fosite.Arguments{p.issuer},
	}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               tokens,
		OpenIDConnectTokenStrategy: &idTokenStrategy{DefaultStrategy: &openid.DefaultStrategy{Signer: sgn, Config: cfg}, keys: p.keys},
		Signer:                     sgn,
	}
	fs := &fositeStore{
		store:         p.store,
		resourceAPI:   p.ResourceAPI(),
		clients:       p.clients,
		tokens:        p.tokens,
		codeSignature: tokens.AuthorizeCodeSignature,
		lifetimes:     p.opts.Lifetimes,
		reuseInterval: p.opts.RefreshReuseInterval,
		now:           p.now,
		log:           p.log,
		actors:        p.svc.ActorMayAct,
	}
	device := &deviceGrant{p: p, storage: fs, tokens: tokens, cfg: cfg,
		idTokens: &openid.IDTokenHandleHelper{IDTokenStrategy: strategy.OpenIDConnectTokenStrategy}}
	// Order matters: the OpenID Connect and PKCE handlers need the code the
	// authorize-code handler issued, and grantGuard must run after the
	// handlers that load a grant's session.
	oauth := compose.Compose(cfg, fs, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		func(c fosite.Configurator, _, st interface{}) interface{} {
			// Its storage writes a rotation in one statement (rotation.go).
			return refreshGrant{compose.OAuth2RefreshTokenGrantFactory(c, rotationStore{fs}, st).(*oauth2.RefreshTokenGrantHandler)}
		},
		compose.RFC7523AssertionGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.PushedAuthorizeHandlerFactory,
		p.tokenExchangeFactory,
		func(fosite.Configurator, interface{}, interface{}) interface{} { return device },
		func(fosite.Configurator, interface{}, interface{}) interface{} { return &grantGuard{p: p} },
	)
	// fosite's own strategy lets some failures of a client assertion through
	// unmapped (an expired one reads as a 500, a replayed one as the
	// unregistered code jti_known); RFC 7523 §3.2 wants invalid_client.
	f := oauth.(*fosite.Fosite)
	cfg.ClientAuthenticationStrategy = func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if err := checkAssertionLifetime(form.Get("client_assertion"), p.now()); err != nil {
			return nil, err
		}
		c, err := f.DefaultClientAuthenticationStrategy(ctx, r, form)
		return c, clientAuthError(err)
	}
	return oauth
}

// grantConfig is fosite's config with the token endpoint handlers of one
// grant type only.
type grantConfig struct {
	*fosite.Config
	handlers fosite.TokenEndpointHandlers
}

func (c grantConfig) GetTokenEndpointHandlers(context.Context) fosite.TokenEndpointHandlers {
	return c.handlers
}

// dispatchByGrant returns, for each supported grant type, a fosite that
// shares f's storage, config and handler instances but runs only the
// token endpoint handlers that handle that grant. fosite offers a token
// request to every handler, and NewAccessResponse calls each one's
// PopulateTokenEndpointResponse, which for another grant answers
// errorsx.WithStack(ErrUnknownRequest): a stack captured per handler and
// request, a sixth of the server's CPU on client_credentials. Every
// handler composed decides CanHandleTokenEndpointRequest by the grant type
// alone (ExactOne) and answers a request it cannot handle with
// ErrUnknownRequest, or nil (PKCE's Populate), without side effects, so
// the handlers left out are exactly those that would have done nothing;
// the order of the rest is kept.
func dispatchByGrant(f *fosite.Fosite) map[string]fosite.OAuth2Provider {
	cfg := f.Config.(*fosite.Config)
	ctx := context.Background()
	out := make(map[string]fosite.OAuth2Provider, len(supportedGrantTypes))
	for grant := range supportedGrantTypes {
		probe := fosite.NewAccessRequest(nil)
		probe.GrantTypes = fosite.Arguments{grant}
		var hs fosite.TokenEndpointHandlers
		for _, h := range cfg.TokenEndpointHandlers {
			if h.CanHandleTokenEndpointRequest(ctx, probe) {
				hs = append(hs, h)
			}
		}
		out[grant] = &fosite.Fosite{Store: f.Store, Config: grantConfig{Config: cfg, handlers: hs}}
	}
	return out
}

// tokenOAuth is the fosite that serves a token request of grant type
// grant: its grant's handlers only, or, for a grant type that is not
// exactly one supported value (which fosite refuses before any handler
// runs, or a multipart body the peek could not read), every handler.
func (p *Provider) tokenOAuth(grant string) fosite.OAuth2Provider {
	if o, ok := p.byGrant[grant]; ok {
		return o
	}
	return p.oauth
}

// maxAssertionLifetime bounds how far ahead a client assertion may expire:
// its jti is stored until then, so an unbounded exp would let a client pin
// rows for years (RFC 7523 §3 lets the server refuse such assertions).
const maxAssertionLifetime = time.Hour

// checkAssertionLifetime refuses a client assertion whose exp is more than
// maxAssertionLifetime away.
func checkAssertionLifetime(assertion string, now time.Time) error {
	if expiresTooLate(assertion, now, maxAssertionLifetime) {
		return fosite.ErrInvalidClient.WithHintf("The client assertion must expire within %s.", maxAssertionLifetime)
	}
	return nil
}

// expiresTooLate reports whether a JWS's exp is more than max (and a minute
// of clock skew) after now. It reads the claims without verifying them:
// fosite verifies the signature next, and a forged exp can only make the
// request fail sooner. What is not a JWS with a numeric exp is fosite's to
// refuse. exp is compared as the number it is, so that no value overflows
// into the past.
func expiresTooLate(assertion string, now time.Time, max time.Duration) bool {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == nil {
		return false
	}
	return *claims.Exp > float64(now.Add(max+time.Minute).Unix())
}

// clientAuthError maps a failed client authentication to invalid_client,
// keeping server errors (the store failed) as they are.
func clientAuthError(err error) error {
	if err == nil {
		return nil
	}
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) && !errors.Is(err, fosite.ErrJTIKnown) &&
		(rfc.CodeField >= http.StatusInternalServerError || rfc.ErrorField == fosite.ErrInvalidClient.ErrorField) {
		return err
	}
	hint := "The client assertion is invalid, expired or not yet valid."
	if errors.Is(err, fosite.ErrJTIKnown) {
		hint = "The client assertion has been used before."
	} else if errors.As(err, &rfc) {
		hint = rfc.GetDescription()
	}
	return fosite.ErrInvalidClient.WithHint(hint).WithWrap(err).WithDebug(err.Error())
}

// Mount registers every endpoint on r, under the issuer's path.
func (p *Provider) Mount(r *mux.Router) {
	get, post, opts := http.MethodGet, http.MethodPost, http.MethodOptions
	route := func(path string, h http.HandlerFunc, methods ...string) {
		r.Handle(path, h).Methods(methods...)
	}
	withCORS := func(path string, h http.HandlerFunc, methods ...string) {
		r.Handle(path, p.cors(h, methods)).Methods(append(methods, opts)...)
	}
	route("/oauth2/auth", p.onceParams(p.handleAuthorize, p.refuseAuthorize), get, post)
	route("/oauth2/auth/consent", p.handleConsent, post)
	route("/oauth2/device/auth", p.basicChallenge(p.onceParams(p.handleDeviceAuthorization, p.refuseJSON("device_authorization"))), post)
	p.mountDevicePages(route)
	route("/oauth2/par", p.basicChallenge(p.onceParams(p.handlePAR, p.refuseJSON("par"))), post)
	withCORS("/oauth2/token", p.basicChallenge(p.onceParams(p.handleToken, p.refuseJSON("token"))), post)
	withCORS("/oauth2/introspect", p.basicChallenge(p.onceParams(p.handleIntrospect, p.refuseJSON("introspect"))), post)
	withCORS("/oauth2/revoke", p.basicChallenge(p.onceParams(p.handleRevoke, p.refuseJSON("revoke"))), post)
	withCORS("/oauth2/userinfo", p.handleUserinfo, get, post)
	withCORS("/oauth2/jwks", p.handleJWKS, get)
	withCORS("/.well-known/jwks.json", p.handleJWKS, get)
	withCORS("/.well-known/openid-configuration", p.handleDiscovery, get)
	withCORS("/.well-known/oauth-authorization-server", p.handleDiscovery, get)
	// RFC 9728 metadata and RFC 7591/7592 registration (resource.go, registration.go).
	p.mountProtectedResource(r, nil)
	p.mountRegistration(r)
	// App access rules (appaccess): the no-access page's form (noaccess.go).
	route("/oauth2/auth/noaccess", p.handleNoAccess, post)
}

// MountWellKnown registers, on the host's root router, the authorization
// server metadata at the address RFC 8414 section 3.1 derives for an issuer
// with a path: "/.well-known/oauth-authorization-server" inserted before
// the path (an issuer at the root of its host needs nothing there), and the
// resource API's metadata where RFC 9728 section 3.1 puts it (resource.go).
func (p *Provider) MountWellKnown(root *mux.Router) {
	p.mountProtectedResource(nil, root)
	if p.prefix == "" {
		return
	}
	methods := []string{http.MethodGet}
	root.Handle("/.well-known/oauth-authorization-server"+p.prefix, p.cors(http.HandlerFunc(p.handleDiscovery), methods)).
		Methods(http.MethodGet, http.MethodOptions)
}

// Invalidate drops what the provider caches of a changed record: a
// client, the allowed origins (the union over every client) and the
// introspection cache's tokens (introcache.go). The
// server calls it for the domain's own writes at once and for other
// instances' writes as the store's change feed reports them.
func (p *Provider) Invalidate(c store.ChangeEvent) {
	invalidateTokens(p.tokens, c, false)
	switch c.Kind {
	case store.ChangeClient:
		if c.ID == "" {
			p.clients.InvalidateAll()
		} else {
			p.clients.Invalidate(c.ID)
		}
		p.origins.invalidate()
	case store.ChangeAll:
		p.clients.InvalidateAll()
		p.origins.invalidate()
	}
}

// IntrospectAccessToken validates a bearer access token for gatehouse's own
// resource API: it must be an access token (not a refresh token), active,
// unexpired and not revoked. Any other token yields ErrInvalidToken; a
// failure to check the token yields another error.
func (p *Provider) IntrospectAccessToken(ctx context.Context, token string) (TokenInfo, error) {
	ctx = introspecting(ctx)
	tu, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, NewSession())
	if err != nil {
		if unavailable(err) {
			// fosite calls a token it could not look up unauthorized.
			return TokenInfo{}, fmt.Errorf("provider: introspect: %w", err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return TokenInfo{}, fmt.Errorf("provider: introspect: %w", ctxErr)
		}
		rfc := fosite.ErrorToRFC6749Error(err)
		if rfc.CodeField >= http.StatusInternalServerError {
			// The token could not be checked (the store failed): that is
			// not the caller's fault and must not read as "invalid".
			return TokenInfo{}, fmt.Errorf("provider: introspect: %w", err)
		}
		return TokenInfo{}, fmt.Errorf("%w: %v", ErrInvalidToken, rfc.GetDescription())
	}
	if tu != fosite.AccessToken {
		return TokenInfo{}, fmt.Errorf("%w: not an access token", ErrInvalidToken)
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return TokenInfo{}, fmt.Errorf("provider: introspect: unexpected session type %T", ar.GetSession())
	}
	return TokenInfo{
		Subject:   sess.GetSubject(),
		ClientID:  ar.GetClient().GetID(),
		UserID:    sess.UserID,
		Scopes:    append([]string(nil), ar.GetGrantedScopes()...),
		ExpiresAt: sess.GetExpiresAt(fosite.AccessToken),
		Act:       sess.ActBy,
		Audience:  p.tokenAudience(ar),
		JKT:       sess.DPoPJKT,
	}, nil
}

// logOAuthError records an OAuth error for operators: the debug detail goes
// to the log, never to the client. Server errors are errors; refused
// credentials and grants (which may be attacks) warnings; the rest debug.
func (p *Provider) logOAuthError(ctx context.Context, endpoint string, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	level := slog.LevelDebug
	switch {
	case rfc.ErrorField == fosite.ErrTemporarilyUnavailable.ErrorField:
		// An outage: the operator hears of it from readyz and the pool
		// metrics; one error line per refused request would drown them.
		level = slog.LevelWarn
	case rfc.CodeField >= 500:
		level = slog.LevelError
	case rfc.ErrorField == fosite.ErrInvalidClient.ErrorField, rfc.ErrorField == fosite.ErrInvalidGrant.ErrorField:
		level = slog.LevelWarn
	}
	p.log.Log(ctx, level, "oauth2 request refused",
		"endpoint", endpoint, "error", rfc.ErrorField, "status", rfc.CodeField,
		"hint", rfc.HintField, "debug", rfc.DebugField)
}

func isServerError(err error) bool {
	return fosite.ErrorToRFC6749Error(err).CodeField >= 500
}
