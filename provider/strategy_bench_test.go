package provider

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/consent"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// The benchmarks of this package measure the token hot paths through the
// strategies and handlers the provider actually composes (found inside the
// composed fosite, not built again here), on store/memory and PostgreSQL.
// This file holds the shared setup and the minting and validation of each
// token type; endpoints_bench_test.go drives the HTTP handlers.

const benchIssuer = "https://id.example.com"

// benchEnv is a provider wired as the server wires it, with its fosite
// parts exposed.
type benchEnv struct {
	p      *Provider
	st     store.Store
	keys   *keys.Manager
	router *mux.Router

	fs       *fositeStore
	tokens   *tokenStrategy
	idTokens *idTokenStrategy
	signer   *signer

	user store.User
	// secrets are the client secrets by client id.
	secrets map[string]string
}

// benchOptions vary a benchEnv.
type benchOptions struct {
	// alg is the algorithm of the key manager's keys (RS256: RSA-2048).
	alg string
	// beforeEnsure runs on the store before the key manager creates its
	// keys (to publish an extra key).
	beforeEnsure func(tb testing.TB, st store.Store)
}

func newBenchEnv(tb testing.TB, st store.Store, o benchOptions) *benchEnv {
	tb.Helper()
	ctx := context.Background()
	secret := make([]byte, keys.MinSecretLen)
	if _, err := rand.Read(secret); err != nil {
		tb.Fatal(err)
	}
	if o.beforeEnsure != nil {
		o.beforeEnsure(tb, st)
	}
	km, err := keys.NewManager(st, secret, keys.Options{Algorithm: o.alg})
	if err != nil {
		tb.Fatalf("keys.NewManager: %v", err)
	}
	if err := km.Ensure(ctx); err != nil {
		tb.Fatalf("keys Ensure: %v", err)
	}
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
	})
	pages, err := consent.New(svc, km, consent.Options{Issuer: benchIssuer,
		CSRFKey: keys.Derive(secret, "csrf", 32), BindingKey: keys.Derive(secret, "consent-binding", 32)})
	if err != nil {
		tb.Fatalf("consent.New: %v", err)
	}
	p, err := New(st, svc, km, pages, Options{
		Issuer:       benchIssuer,
		GlobalSecret: keys.Derive(secret, "fosite-global-secret", 32),
	})
	if err != nil {
		tb.Fatalf("provider.New: %v", err)
	}
	r := mux.NewRouter()
	p.Mount(r)
	e := &benchEnv{p: p, st: st, keys: km, router: r, secrets: map[string]string{}}
	e.findFositeParts(tb)

	now := time.Now().UTC().Truncate(time.Microsecond)
	e.user = store.User{
		ID:            uuid.NewString(),
		Username:      "alice",
		Email:         "alice@example.com",
		PasswordHash:  "unused: nobody signs in",
		FullName:      "Alice Example",
		Status:        store.StatusActive,
		Roles:         []string{"user"},
		EmailVerified: true,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := st.CreateUser(ctx, e.user); err != nil {
		tb.Fatalf("create user: %v", err)
	}
	for _, c := range []store.Client{
		// Machine clients, one per access token format.
		{ID: "svc", GrantTypes: []string{"client_credentials", grantTypeTokenExchange}, Scopes: []string{"api:read"}, AccessTokenFormat: store.FormatOpaque},
		{ID: "svc-jwt", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}, AccessTokenFormat: store.FormatJWT},
		// A relying party that refreshes.
		{ID: "web", GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"https://app.example/callback"},
			Scopes:       []string{"openid", "profile", "email", "offline_access"}},
		// The same relying party registered for ES256 ID tokens.
		{ID: "web-es", GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"https://app.example/callback"}, IDTokenSignedResponseAlg: keys.ES256,
			Scopes: []string{"openid", "profile", "email", "offline_access"}},
		// A resource server that introspects.
		{ID: "rs", GrantTypes: []string{"client_credentials"}, Scopes: []string{}},
	} {
		s, digest, err := domain.NewClientSecret()
		if err != nil {
			tb.Fatal(err)
		}
		c.Name, c.SecretHash, c.TokenEndpointAuthMethod = "Client "+c.ID, digest, "client_secret_basic"
		c.CreatedAt, c.UpdatedAt = now, now
		if err := st.CreateClient(ctx, c); err != nil {
			tb.Fatalf("create client %s: %v", c.ID, err)
		}
		e.secrets[c.ID] = s
	}
	return e
}

// findFositeParts takes the store adapter, token strategy, ID token
// strategy and signer out of the composed fosite, so that the benchmarks
// measure exactly what compose built.
func (e *benchEnv) findFositeParts(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	f, ok := e.p.oauth.(*fosite.Fosite)
	if !ok {
		tb.Fatalf("provider's OAuth2Provider is %T, not *fosite.Fosite", e.p.oauth)
	}
	if e.fs, ok = f.Store.(*fositeStore); !ok {
		tb.Fatalf("fosite storage is %T, not *fositeStore", f.Store)
	}
	// compose hands every factory its CommonStrategy, which embeds ours.
	for _, h := range f.Config.GetTokenIntrospectionHandlers(ctx) {
		if v, ok := h.(*oauth2.CoreValidator); ok {
			if cs, ok := v.CoreStrategy.(*compose.CommonStrategy); ok {
				e.tokens, _ = cs.CoreStrategy.(*tokenStrategy)
			}
		}
	}
	for _, h := range f.Config.GetTokenEndpointHandlers(ctx) {
		if v, ok := h.(*openid.OpenIDConnectExplicitHandler); ok && v.IDTokenHandleHelper != nil {
			if cs, ok := v.IDTokenStrategy.(*compose.CommonStrategy); ok {
				e.idTokens, _ = cs.OpenIDConnectTokenStrategy.(*idTokenStrategy)
			}
		}
	}
	if e.tokens == nil || e.idTokens == nil {
		tb.Fatalf("composed fosite has no *tokenStrategy (%v) or no *idTokenStrategy (%v)", e.tokens != nil, e.idTokens != nil)
	}
	if e.signer, ok = e.idTokens.Signer.(*signer); !ok {
		tb.Fatalf("ID token signer is %T, not *signer", e.idTokens.Signer)
	}
}

// client returns the fosite client of a stored client.
func (e *benchEnv) client(tb testing.TB, id string) *client {
	tb.Helper()
	c, err := e.fs.GetClient(context.Background(), id)
	if err != nil {
		tb.Fatalf("get client %s: %v", id, err)
	}
	return c.(*client)
}

// request is what the token endpoint holds when it mints the tokens of an
// authorization of alice's: the session carries her profile and email
// claims and every token's expiry.
func (e *benchEnv) request(c *client, scopes ...string) *fosite.Request {
	now := time.Now().UTC()
	s := NewSession()
	s.Subject, s.UserID, s.Username, s.ClientID = e.user.ID, e.user.ID, e.user.Username, c.ID
	claims := s.IDTokenClaims()
	claims.Subject = e.user.ID
	claims.AuthTime = now.Truncate(time.Second)
	claims.RequestedAt = now
	claims.Extra = map[string]interface{}{
		"name": e.user.FullName, "preferred_username": e.user.Username, "updated_at": e.user.UpdatedAt.Unix(),
		"email": e.user.Email, "email_verified": e.user.EmailVerified,
	}
	s.SetExpiresAt(fosite.AuthorizeCode, now.Add(DefaultAuthorizationCodeLifetime))
	s.SetExpiresAt(fosite.AccessToken, now.Add(DefaultAccessTokenLifetime))
	s.SetExpiresAt(fosite.RefreshToken, now.Add(DefaultRefreshTokenLifetime))

	r := fosite.NewRequest()
	r.ID = uuid.NewString()
	r.RequestedAt = now
	r.Client = c
	r.Session = s
	r.Form = url.Values{"nonce": {"n-0S6_WzA2Mj"}}
	for _, sc := range scopes {
		r.AppendRequestedScope(sc)
		r.GrantScope(sc)
	}
	return r
}

// withActiveKey fixes the signing key in ctx, as the token endpoint does
// before it mints.
func (e *benchEnv) withActiveKey(tb testing.TB, ctx context.Context) context.Context {
	tb.Helper()
	k, err := e.keys.Signer(ctx)
	if err != nil {
		tb.Fatalf("Signer: %v", err)
	}
	return withSigningKey(ctx, k)
}

// publishRSA4096 stores the public half of an RSA-4096 key as the next key,
// so that ID tokens signed with it (the key handed to the signer through
// the context, as the token endpoint hands the active key) verify through
// the provider's own key lookup. package keys makes only RSA-2048 keys
// (DESIGN.md: RSA-4096 costs eight times as much per signature); this key
// exists to show that cost.
func publishRSA4096(tb testing.TB, st store.Store) keys.SigningKey {
	tb.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		tb.Fatalf("generate RSA-4096 key: %v", err)
	}
	tp, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: keys.RS256, Use: "sig"})
	if err != nil {
		tb.Fatal(err)
	}
	err = st.AddSigningKey(context.Background(), store.SigningKey{
		ID:        kid,
		Algorithm: keys.RS256,
		State:     store.KeyNext,
		// Only the active key's private half is ever decrypted.
		PrivateKey: []byte("not a key"),
		PublicKey:  pub,
		CreatedAt:  time.Now().UTC().Truncate(time.Microsecond),
	})
	if err != nil {
		tb.Fatalf("add RSA-4096 key: %v", err)
	}
	return keys.SigningKey{ID: kid, Algorithm: keys.RS256, Private: priv}
}

// tokenCase is one token type: mint returns a new token; validate checks
// one minted by mint; shape says whether a token is of the expected form,
// so that a benchmark cannot silently measure another format.
type tokenCase struct {
	name string
	// env's active key signs (unless mint picks another).
	env      *benchEnv
	mint     func(ctx context.Context) (string, error)
	validate func(ctx context.Context, token string) error
	shape    func(token string) bool
}

// BenchmarkToken mints and validates every token type through the
// provider's strategies. Validation here is the strategy's check alone
// (HMAC and expiry for opaque tokens, signature and claims for JWTs);
// BenchmarkIntrospectAccessToken adds the store lookup every opaque and
// JWT access token also gets.
func BenchmarkToken(b *testing.B) {
	var rsa4096 keys.SigningKey
	rs := newBenchEnv(b, memory.New(), benchOptions{alg: keys.RS256, beforeEnsure: func(tb testing.TB, st store.Store) {
		rsa4096 = publishRSA4096(tb, st)
	}})
	es := newBenchEnv(b, memory.New(), benchOptions{alg: keys.ES256})

	opaque := func(prefix string) func(string) bool {
		return func(t string) bool { return strings.HasPrefix(t, prefix) && !isJWT(t) }
	}
	// signedBy reports whether t is a JWT whose header names kid and alg.
	signedBy := func(kid func() string, alg string) func(string) bool {
		return func(t string) bool {
			h, _, ok := strings.Cut(t, ".")
			raw, err := base64.RawURLEncoding.DecodeString(h)
			var head struct{ Alg, Kid string }
			return ok && err == nil && json.Unmarshal(raw, &head) == nil && isJWT(t) && head.Alg == alg && head.Kid == kid()
		}
	}
	activeKid := func(e *benchEnv) func() string {
		return func() string {
			k, err := e.keys.Signer(context.Background())
			if err != nil {
				return ""
			}
			return k.ID
		}
	}

	// accessToken mints with the client's format, as the token endpoint.
	accessToken := func(name string, e *benchEnv, clientID string, shape func(string) bool) tokenCase {
		r := e.request(e.client(b, clientID), "api:read")
		return tokenCase{name: name, env: e, shape: shape,
			mint: func(ctx context.Context) (string, error) {
				t, _, err := e.tokens.GenerateAccessToken(ctx, r)
				return t, err
			},
			validate: func(ctx context.Context, t string) error {
				return e.tokens.ValidateAccessToken(ctx, r, t)
			},
		}
	}
	// idToken signs alice's ID token with key (nil: the active key).
	idToken := func(name string, e *benchEnv, key *keys.SigningKey, shape func(string) bool) tokenCase {
		r := e.request(e.client(b, "web"), "openid", "profile", "email", "offline_access")
		return tokenCase{name: name, env: e, shape: shape,
			mint: func(ctx context.Context) (string, error) {
				if key != nil {
					// Past the per-client choice, straight to fosite's
					// strategy with the extra key.
					return e.idTokens.DefaultStrategy.GenerateIDToken(withSigningKey(ctx, *key), DefaultIDTokenLifetime, r)
				}
				return e.idTokens.GenerateIDToken(ctx, DefaultIDTokenLifetime, r)
			},
			validate: func(ctx context.Context, t string) error {
				tok, err := e.signer.Decode(ctx, t)
				if err == nil && tok.Claims["sub"] != e.user.ID {
					err = fosite.ErrTokenClaim.WithDebugf("sub %v", tok.Claims["sub"])
				}
				return err
			},
		}
	}
	web := rs.request(rs.client(b, "web"), "openid", "offline_access")

	cases := []tokenCase{
		accessToken("access_token/opaque", rs, "svc", opaque(prefixAccessToken)),
		accessToken("access_token/jwt-RS256", rs, "svc-jwt", signedBy(activeKid(rs), keys.RS256)),
		accessToken("access_token/jwt-ES256", es, "svc-jwt", signedBy(activeKid(es), keys.ES256)),
		idToken("id_token/RS256-2048", rs, nil, signedBy(activeKid(rs), keys.RS256)),
		idToken("id_token/RS256-4096", rs, &rsa4096, signedBy(func() string { return rsa4096.ID }, keys.RS256)),
		idToken("id_token/ES256", es, nil, signedBy(activeKid(es), keys.ES256)),
		{name: "refresh_token", env: rs, shape: opaque(prefixRefreshToken),
			mint: func(ctx context.Context) (string, error) {
				t, _, err := rs.tokens.GenerateRefreshToken(ctx, web)
				return t, err
			},
			validate: func(ctx context.Context, t string) error {
				return rs.tokens.ValidateRefreshToken(ctx, web, t)
			},
		},
		{name: "authorization_code", env: rs, shape: opaque(prefixAuthorizeCode),
			mint: func(ctx context.Context) (string, error) {
				t, _, err := rs.tokens.GenerateAuthorizeCode(ctx, web)
				return t, err
			},
			validate: func(ctx context.Context, t string) error {
				return rs.tokens.ValidateAuthorizeCode(ctx, web, t)
			},
		},
	}

	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			// The active key is fixed in the context, as the token endpoint
			// fixes it before minting.
			ctx := tc.env.withActiveKey(b, context.Background())
			token, err := tc.mint(ctx)
			if err != nil {
				b.Fatalf("mint: %v", err)
			}
			if !tc.shape(token) {
				b.Fatalf("minted token %.40q... is not of the expected form", token)
			}
			b.Run("mint", func(b *testing.B) {
				b.ReportAllocs()
				cpu := startCPU()
				for i := 0; i < b.N; i++ {
					if _, err := tc.mint(ctx); err != nil {
						b.Fatalf("mint: %v", err)
					}
				}
				cpu.report(b)
			})
			b.Run("validate", func(b *testing.B) {
				b.ReportAllocs()
				cpu := startCPU()
				for i := 0; i < b.N; i++ {
					if err := tc.validate(ctx, token); err != nil {
						b.Fatalf("validate: %v", err)
					}
				}
				cpu.report(b)
			})
		})
	}
}
