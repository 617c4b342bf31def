// Package dpoptest is a DPoP client (RFC 9449) for tests and the bench: a
// key pair and the proofs it signs, well-formed or broken on purpose.
package dpoptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key is a client's proof key.
type Key struct {
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	pub  jose.JSONWebKey
	// signer signs well-formed proofs, and header is their encoded
	// protected header for ES256 keys (signed by hand, without go-jose's
	// per-signature header encoding); made once, since a load generator
	// signs thousands, as a real client would.
	once   sync.Once
	signer jose.Signer
	header string
}

// NewKey generates a key for alg: ES256, RS256, PS256 or EdDSA.
func NewKey(alg jose.SignatureAlgorithm) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("dpoptest: unsupported algorithm %s", alg)
	}
	if err != nil {
		return nil, err
	}
	return &Key{alg: alg, priv: priv, pub: jose.JSONWebKey{Key: priv.Public()}}, nil
}

// Ed25519FromSeed is an EdDSA key derived from a 32-byte seed: the same
// key in every process (a fuzz test's workers).
func Ed25519FromSeed(seed []byte) *Key {
	priv := ed25519.NewKeyFromSeed(seed)
	return &Key{alg: jose.EdDSA, priv: priv, pub: jose.JSONWebKey{Key: priv.Public()}}
}

// MustES256 is NewKey(ES256) for tests.
func MustES256() *Key {
	k, err := NewKey(jose.ES256)
	if err != nil {
		panic(err)
	}
	return k
}

// JKT is the key's RFC 7638 SHA-256 thumbprint, base64url.
func (k *Key) JKT() string {
	tp, err := k.pub.Thumbprint(crypto.SHA256)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// Claims of a proof. Zero fields take fresh values: a random jti and the
// current time.
type Claims struct {
	Method, URL string
	// AccessToken, if set, gives the proof its ath.
	AccessToken string
	Nonce       string
	JTI         string
	IssuedAt    time.Time
	// Extra claims, or overrides (a nil value removes the claim).
	Extra map[string]any
}

// Proof signs a proof for a request of method to url, with the access
// token's ath when token is not empty.
func (k *Key) Proof(method, url, token string) string {
	return k.Sign(Claims{Method: method, URL: url, AccessToken: token})
}

// Sign signs c with the key, its public half in the jwk header and typ
// dpop+jwt.
func (k *Key) Sign(c Claims) string {
	k.once.Do(func() {
		k.signer = k.newSigner(map[jose.HeaderKey]any{"typ": "dpop+jwt"}, true)
		if k.alg == jose.ES256 {
			pub, err := json.Marshal(k.pub)
			if err != nil {
				panic(err)
			}
			k.header = b64(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": json.RawMessage(pub)})
		}
	})
	if k.header != "" {
		return k.signES256(k.header, c)
	}
	return sign(k.signer, c)
}

// SignWith signs c with the given extra headers, and the jwk header only
// if withJWK.
func (k *Key) SignWith(c Claims, headers map[jose.HeaderKey]any, withJWK bool) string {
	return sign(k.newSigner(headers, withJWK), c)
}

func (k *Key) newSigner(headers map[jose.HeaderKey]any, withJWK bool) jose.Signer {
	opts := &jose.SignerOptions{ExtraHeaders: headers, EmbedJWK: withJWK}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		panic(err)
	}
	return s
}

func sign(s jose.Signer, c Claims) string {
	jws, err := s.Sign(payload(c))
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// SignWithPrivateJWK puts the private key itself in the jwk header (which
// a server must refuse).
func (k *Key) SignWithPrivateJWK(c Claims) string {
	priv, err := json.Marshal(jose.JSONWebKey{Key: k.priv})
	if err != nil {
		panic(err)
	}
	return k.signES256(b64(map[string]any{"typ": "dpop+jwt", "alg": string(k.alg), "jwk": json.RawMessage(priv)}), c)
}

// SignHS256 is a proof MACed with secret (which a server must refuse),
// the key's public half in the jwk header.
func (k *Key) SignHS256(c Claims, secret []byte) string {
	pub, _ := json.Marshal(k.pub)
	h := map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": json.RawMessage(pub)}
	input := b64(h) + "." + base64.RawURLEncoding.EncodeToString(payload(c))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SignNone is an unsigned proof (alg none).
func (k *Key) SignNone(c Claims) string {
	pub, _ := json.Marshal(k.pub)
	h := map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": json.RawMessage(pub)}
	return b64(h) + "." + base64.RawURLEncoding.EncodeToString(payload(c)) + "."
}

// signES256 signs c under the encoded protected header (RFC 7518 §3.4:
// the signature is R and S, 32 bytes each).
func (k *Key) signES256(header string, c Claims) string {
	priv, ok := k.priv.(*ecdsa.PrivateKey)
	if !ok {
		panic("dpoptest: signing by hand needs an ES256 key")
	}
	input := header + "." + base64.RawURLEncoding.EncodeToString(payload(c))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func payload(c Claims) []byte {
	m := map[string]any{"htm": c.Method, "htu": c.URL}
	m["jti"] = c.JTI
	if c.JTI == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		m["jti"] = base64.RawURLEncoding.EncodeToString(b)
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	m["iat"] = iat.Unix()
	if c.AccessToken != "" {
		sum := sha256.Sum256([]byte(c.AccessToken))
		m["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if c.Nonce != "" {
		m["nonce"] = c.Nonce
	}
	for k, v := range c.Extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
