package dpop_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/dpop"
	"github.com/gatehouse/gatehouse/internal/dpoptest"
	"github.com/gatehouse/gatehouse/store/memory"
)

const tokenURL = "https://id.example/oauth2/token"

func newVerifier(t *testing.T, now time.Time) *dpop.Verifier {
	t.Helper()
	v, err := dpop.New(memory.New(), dpop.Options{NonceKey: make([]byte, 32), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	k := dpoptest.MustES256()
	other := dpoptest.MustES256()
	v := newVerifier(t, now)
	post := dpop.Request{Method: "POST", URL: tokenURL}
	withToken := dpop.Request{Method: "GET", URL: "https://id.example/api/v1/users/me", AccessToken: "gh_at_x.y"}
	c := func(m func(*dpoptest.Claims)) dpoptest.Claims {
		cl := dpoptest.Claims{Method: "POST", URL: tokenURL, IssuedAt: now}
		if m != nil {
			m(&cl)
		}
		return cl
	}
	cases := []struct {
		name  string
		proof string
		req   dpop.Request
		want  error // nil: accepted
	}{
		{"valid", k.Sign(c(nil)), post, nil},
		{"htu ignores query and default port", k.Sign(c(func(c *dpoptest.Claims) { c.URL = "HTTPS://ID.example:443/oauth2/token?x=1#f" })), post, nil},
		{"valid with ath", k.Sign(dpoptest.Claims{Method: "GET", URL: withToken.URL, AccessToken: withToken.AccessToken, IssuedAt: now}), withToken, nil},
		{"iat at the window's edge", k.Sign(c(func(c *dpoptest.Claims) { c.IssuedAt = now.Add(-time.Minute) })), post, nil},
		{"wrong typ", k.SignWith(c(nil), map[jose.HeaderKey]any{"typ": "JWT"}, true), post, dpop.ErrInvalidProof},
		{"no jwk", k.SignWith(c(nil), map[jose.HeaderKey]any{"typ": "dpop+jwt"}, false), post, dpop.ErrInvalidProof},
		{"private jwk", k.SignWithPrivateJWK(c(nil)), post, dpop.ErrInvalidProof},
		{"HS256", k.SignHS256(c(nil), []byte("0123456789abcdef0123456789abcdef")), post, dpop.ErrInvalidProof},
		{"none", k.SignNone(c(nil)), post, dpop.ErrInvalidProof},
		{"signed by another key", swapKey(k.Sign(c(nil)), other.Sign(c(nil))), post, dpop.ErrInvalidProof},
		{"other method", k.Sign(c(func(c *dpoptest.Claims) { c.Method = "GET" })), post, dpop.ErrInvalidProof},
		{"other URL", k.Sign(c(func(c *dpoptest.Claims) { c.URL = "https://id.example/oauth2/revoke" })), post, dpop.ErrInvalidProof},
		{"other host", k.Sign(c(func(c *dpoptest.Claims) { c.URL = "https://evil.example/oauth2/token" })), post, dpop.ErrInvalidProof},
		{"old iat", k.Sign(c(func(c *dpoptest.Claims) { c.IssuedAt = now.Add(-2 * time.Minute) })), post, dpop.ErrInvalidProof},
		{"future iat", k.Sign(c(func(c *dpoptest.Claims) { c.IssuedAt = now.Add(2 * time.Minute) })), post, dpop.ErrInvalidProof},
		{"huge iat", k.Sign(c(func(c *dpoptest.Claims) { c.Extra = map[string]any{"iat": 1e300} })), post, dpop.ErrInvalidProof},
		{"no iat", k.Sign(c(func(c *dpoptest.Claims) { c.Extra = map[string]any{"iat": nil} })), post, dpop.ErrInvalidProof},
		{"no jti", k.Sign(c(func(c *dpoptest.Claims) { c.Extra = map[string]any{"jti": nil} })), post, dpop.ErrInvalidProof},
		{"long jti", k.Sign(c(func(c *dpoptest.Claims) { c.JTI = strings.Repeat("j", 257) })), post, dpop.ErrInvalidProof},
		{"wrong ath", k.Sign(dpoptest.Claims{Method: "GET", URL: withToken.URL, AccessToken: "another", IssuedAt: now}), withToken, dpop.ErrInvalidProof},
		{"missing ath", k.Sign(dpoptest.Claims{Method: "GET", URL: withToken.URL, IssuedAt: now}), withToken, dpop.ErrInvalidProof},
		{"no nonce when required", k.Sign(c(nil)), dpop.Request{Method: "POST", URL: tokenURL, RequireNonce: true}, dpop.ErrUseNonce},
		{"stale nonce", k.Sign(c(func(c *dpoptest.Claims) { c.Nonce = "c3RhbGU" })), dpop.Request{Method: "POST", URL: tokenURL, RequireNonce: true}, dpop.ErrUseNonce},
		{"current nonce", k.Sign(c(func(c *dpoptest.Claims) { c.Nonce = v.Nonce() })), dpop.Request{Method: "POST", URL: tokenURL, RequireNonce: true}, nil},
		{"not a JWS", "not-a-jws", post, dpop.ErrInvalidProof},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Parse([]string{tc.proof}, tc.req)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if p.JKT != k.JKT() {
					t.Fatalf("JKT %q, want %q", p.JKT, k.JKT())
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("two headers", func(t *testing.T) {
		if _, err := v.Parse([]string{k.Sign(c(nil)), k.Sign(c(nil))}, post); !errors.Is(err, dpop.ErrInvalidProof) {
			t.Fatalf("Parse = %v, want ErrInvalidProof", err)
		}
	})
}

// swapKey returns a's header and claims with b's signature: a proof whose
// signature is not the jwk header's key's.
func swapKey(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return pa[0] + "." + pa[1] + "." + pb[2]
}

func TestAlgorithms(t *testing.T) {
	now := time.Now()
	v := newVerifier(t, now)
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA} {
		k, err := dpoptest.NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), []string{k.Proof("POST", tokenURL, "")}, dpop.Request{Method: "POST", URL: tokenURL}); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

func TestReplay(t *testing.T) {
	now := time.Now()
	v := newVerifier(t, now)
	k := dpoptest.MustES256()
	proof := k.Proof("POST", tokenURL, "")
	req := dpop.Request{Method: "POST", URL: tokenURL}
	if _, err := v.Verify(context.Background(), []string{proof}, req); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), []string{proof}, req); !errors.Is(err, dpop.ErrInvalidProof) {
		t.Fatalf("replay: %v, want ErrInvalidProof", err)
	}
	// Another proof with the same jti but another key is another proof.
	other := dpoptest.MustES256()
	if _, err := v.Verify(context.Background(), []string{other.Sign(dpoptest.Claims{Method: "POST", URL: tokenURL, JTI: "same"})}, req); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), []string{k.Sign(dpoptest.Claims{Method: "POST", URL: tokenURL, JTI: "same"})}, req); err != nil {
		t.Fatalf("same jti, other key: %v", err)
	}
}

func TestNonceAcrossVerifiers(t *testing.T) {
	now := time.Now()
	key := []byte("0123456789abcdef0123456789abcdef")
	clock := now
	mk := func() *dpop.Verifier {
		v, err := dpop.New(memory.New(), dpop.Options{NonceKey: key, NonceLifetime: time.Minute, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, b := mk(), mk()
	n := a.Nonce()
	if b.Nonce() != n {
		t.Fatal("two verifiers with one key derive different nonces")
	}
	k := dpoptest.MustES256()
	req := dpop.Request{Method: "POST", URL: tokenURL, RequireNonce: true}
	at := func(d time.Duration) error {
		clock = now.Add(d)
		_, err := b.Parse([]string{k.Sign(dpoptest.Claims{Method: "POST", URL: tokenURL, Nonce: n, IssuedAt: clock})}, req)
		return err
	}
	if err := at(0); err != nil {
		t.Fatalf("fresh nonce on the other verifier: %v", err)
	}
	if err := at(3 * time.Minute); !errors.Is(err, dpop.ErrUseNonce) {
		t.Fatalf("nonce three lifetimes later: %v, want ErrUseNonce", err)
	}
}

// TestWeakRSAKey: an RSA key under 2048 bits does not prove anything.
func TestWeakRSAKey(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: weak},
		&jose.SignerOptions{EmbedJWK: true, ExtraHeaders: map[jose.HeaderKey]any{"typ": "dpop+jwt"}})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"jti": "j", "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix()})
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := jws.CompactSerialize()
	if _, err := newVerifier(t, time.Now()).Parse([]string{proof}, dpop.Request{Method: "POST", URL: tokenURL}); !errors.Is(err, dpop.ErrInvalidProof) {
		t.Fatalf("RSA-1024 proof: %v, want ErrInvalidProof", err)
	}
}
