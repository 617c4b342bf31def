package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
)

// ClientSecretBytes is the entropy of generated client secrets. Because they
// are high-entropy, a plain SHA-256 digest protects them at rest and is
// checked in microseconds; only human passwords need bcrypt.
const ClientSecretBytes = 32

// NewClientSecret returns a fresh client secret and its digest. The secret is
// shown once; only the digest is stored.
func NewClientSecret() (secret string, digest []byte, err error) {
	b := make([]byte, ClientSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("domain: client secret: %w", err)
	}
	secret = "ghs_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashClientSecret(secret), nil
}

// HashClientSecret returns the SHA-256 digest of a client secret.
func HashClientSecret(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// ClientSecretMatches compares in constant time.
func ClientSecretMatches(digest []byte, secret string) bool {
	got := HashClientSecret(secret)
	return len(digest) == len(got) && subtle.ConstantTimeCompare(digest, got) == 1
}
