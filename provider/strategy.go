package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	jose3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// Opaque token prefixes. They let secret scanners (and people) recognise a
// leaked gatehouse credential and its kind at a glance.
const (
	prefixAccessToken   = "gh_at_"
	prefixRefreshToken  = "gh_rt_"
	prefixAuthorizeCode = "gh_ac_"
)

// prefixedHMAC is fosite's HMAC strategy with gatehouse's prefixes; fosite's
// own prefixed strategy hard-codes "ory_". A token without the expected
// prefix is refused, so a refresh token is never accepted as an access token
// even before the store is asked.
type prefixedHMAC struct {
	*oauth2.HMACSHAStrategyUnPrefixed
}

var _ oauth2.CoreStrategy = prefixedHMAC{}

func withPrefix(prefix, token string, sig string, err error) (string, string, error) {
	if err != nil {
		return "", "", err
	}
	return prefix + token, sig, nil
}

func withoutPrefix(prefix, token string) (string, error) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return "", fosite.ErrInvalidTokenFormat.WithDebug("The token does not carry the prefix of its kind.")
	}
	return rest, nil
}

func (h prefixedHMAC) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	t, s, err := h.HMACSHAStrategyUnPrefixed.GenerateAccessToken(ctx, r)
	return withPrefix(prefixAccessToken, t, s, err)
}

func (h prefixedHMAC) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	t, err := withoutPrefix(prefixAccessToken, token)
	if err != nil {
		return err
	}
	return h.HMACSHAStrategyUnPrefixed.ValidateAccessToken(ctx, r, t)
}

func (h prefixedHMAC) GenerateRefreshToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	t, s, err := h.HMACSHAStrategyUnPrefixed.GenerateRefreshToken(ctx, r)
	return withPrefix(prefixRefreshToken, t, s, err)
}

func (h prefixedHMAC) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	t, err := withoutPrefix(prefixRefreshToken, token)
	if err != nil {
		return err
	}
	return h.HMACSHAStrategyUnPrefixed.ValidateRefreshToken(ctx, r, t)
}

func (h prefixedHMAC) GenerateAuthorizeCode(ctx context.Context, r fosite.Requester) (string, string, error) {
	t, s, err := h.HMACSHAStrategyUnPrefixed.GenerateAuthorizeCode(ctx, r)
	return withPrefix(prefixAuthorizeCode, t, s, err)
}

func (h prefixedHMAC) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	t, err := withoutPrefix(prefixAuthorizeCode, token)
	if err != nil {
		return err
	}
	return h.HMACSHAStrategyUnPrefixed.ValidateAuthorizeCode(ctx, r, t)
}

// tokenStrategy mints access tokens opaque or as JWTs, per client (its
// AccessTokenFormat) or else per server default; refresh tokens and codes
// are always opaque. Both kinds of access token are stored, so validation
// stays stateful (revocation works for JWTs too) and only the signature
// check differs: a JWT is recognised by its shape.
type tokenStrategy struct {
	prefixedHMAC
	jwt           *oauth2.DefaultJWTStrategy
	defaultFormat store.AccessTokenFormat
	// defaultAudience is the aud of a JWT access token whose grant names no
	// audience: RFC 9068 requires one.
	defaultAudience fosite.Arguments
}

var _ oauth2.CoreStrategy = (*tokenStrategy)(nil)

// isJWT: a JWS in compact form has exactly two dots; an opaque token has
// one.
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

func (s *tokenStrategy) formatFor(r fosite.Requester) store.AccessTokenFormat {
	if c, ok := r.GetClient().(*client); ok && c.AccessTokenFormat != store.FormatDefault {
		return c.AccessTokenFormat
	}
	return s.defaultFormat
}

func (s *tokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return s.jwt.AccessTokenSignature(ctx, token)
	}
	return s.prefixedHMAC.AccessTokenSignature(ctx, token)
}

func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	if s.formatFor(r) != store.FormatJWT {
		return s.prefixedHMAC.GenerateAccessToken(ctx, r)
	}
	if len(r.GetGrantedAudience()) == 0 {
		r = audienceDefaulted{Requester: r, audience: s.defaultAudience}
	}
	return s.jwt.GenerateAccessToken(ctx, r)
}

func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if isJWT(token) {
		return s.jwt.ValidateAccessToken(ctx, r, token)
	}
	return s.prefixedHMAC.ValidateAccessToken(ctx, r, token)
}

// audienceDefaulted stands in for a requester with no granted audience when
// a JWT access token is minted, without changing what is stored.
type audienceDefaulted struct {
	fosite.Requester
	audience fosite.Arguments
}

func (a audienceDefaulted) GetGrantedAudience() fosite.Arguments { return a.audience }

// signer is fosite's jwt.DefaultSigner fed with the active key of
// keys.Manager, plus verification by kid: fosite's own Decode only knows
// the current private key, so a token signed before a rotation would stop
// verifying although its key is still published.
type signer struct {
	jwt.DefaultSigner
	keys SigningKeys
}

var _ jwt.Signer = (*signer)(nil)

func newSigner(k SigningKeys) *signer {
	s := &signer{keys: k}
	s.DefaultSigner.GetPrivateKey = s.privateKey
	return s
}

type signingKeyKey struct{}

type activeKeysKey struct{}

// withActiveKeys fixes the active key of every algorithm for one request,
// for the ID token of a client that registered its own algorithm; read
// before the transaction, like withSigningKey.
func withActiveKeys(ctx context.Context, a keys.Active) context.Context {
	return context.WithValue(ctx, activeKeysKey{}, a)
}

// idTokenStrategy signs each ID token with the active key of the algorithm
// its client registered (id_token_signed_response_alg; "" takes the server
// default, RS256 unless configured otherwise), through fosite's own
// strategy: only the key it is handed changes. JWT access tokens keep the
// server default key, whatever the client's ID-token algorithm.
type idTokenStrategy struct {
	*openid.DefaultStrategy
	keys SigningKeys
}

var _ openid.OpenIDConnectTokenStrategy = (*idTokenStrategy)(nil)

func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	alg := ""
	if c, ok := r.GetClient().(*client); ok {
		alg = c.IDTokenSignedResponseAlg
	}
	a, ok := ctx.Value(activeKeysKey{}).(keys.Active)
	if !ok {
		var err error
		if a, err = s.keys.Active(ctx); err != nil {
			return "", fosite.ErrServerError.WithWrap(err).WithDebugf("ID token signing keys: %v", err)
		}
	}
	k, err := a.For(alg)
	if err != nil {
		return "", fosite.ErrServerError.WithWrap(err).WithDebugf("ID token signing key: %v", err)
	}
	return s.DefaultStrategy.GenerateIDToken(withSigningKey(ctx, k), lifespan, r)
}

// withSigningKey fixes the key that signs the tokens of one request. The
// token endpoint looks it up before it opens its transaction, so that key
// loading (a store read when the key cache expires) never waits on the row
// locks the transaction holds, nor holds them.
func withSigningKey(ctx context.Context, k keys.SigningKey) context.Context {
	return context.WithValue(ctx, signingKeyKey{}, k)
}

// privateKey hands fosite a go-jose v3 JWK carrying the kid, which go-jose
// then writes into every token's header.
func (s *signer) privateKey(ctx context.Context) (interface{}, error) {
	k, ok := ctx.Value(signingKeyKey{}).(keys.SigningKey)
	if !ok {
		var err error
		if k, err = s.keys.Signer(ctx); err != nil {
			return nil, fmt.Errorf("provider: signing key: %w", err)
		}
	}
	return &jose3.JSONWebKey{Key: k.Private, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}, nil
}

// keyFunc returns the published public key named by the token's kid, and
// refuses a token whose alg is not the key's.
func (s *signer) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (interface{}, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("provider: token has no kid")
		}
		k, err := s.keys.PublicKey(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("provider: verification key %q: %w", kid, err)
		}
		if k.Algorithm != "" && k.Algorithm != string(t.Method) {
			return nil, fmt.Errorf("provider: token alg %q does not match key alg %q", t.Method, k.Algorithm)
		}
		return k.Key, nil
	}
}

func (s *signer) Decode(ctx context.Context, token string) (*jwt.Token, error) {
	return jwt.ParseWithClaims(token, jwt.MapClaims{}, s.keyFunc(ctx))
}

func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}
