package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/store"
)

// Supported signing algorithms.
const (
	RS256 = "RS256" // RSA-2048, the default
	ES256 = "ES256" // ECDSA P-256
)

// rsaBits is fixed at 2048: DESIGN.md weighs RSA-4096's eightfold signing
// cost against no practical gain for tokens that live an hour.
const rsaBits = 2048

func generatePrivate(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
}

// newStoredKey generates a key pair of alg and returns it as a store row in state.
// The kid is the RFC 7638 thumbprint of the public key: opaque to relying
// parties, unique without coordination between instances, and checkable
// against the key it names.
func newStoredKey(m *Manager, alg string, state store.KeyState) (store.SigningKey, error) {
	priv, err := generatePrivate(alg)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return store.SigningKey{}, err
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keys: marshal public key %s: %w", kid, err)
	}
	privJSON, err := json.Marshal(jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("keys: marshal private key %s: %w", kid, err)
	}
	sealed, err := seal(m.aead, kid, privJSON)
	clear(privJSON)
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{
		ID:         kid,
		Algorithm:  alg,
		State:      state,
		PrivateKey: sealed,
		PublicKey:  pub,
		// Truncated to microseconds so the in-memory and PostgreSQL stores
		// hold the same value.
		CreatedAt: m.now().UTC().Truncate(time.Microsecond),
	}, nil
}

func thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("keys: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
