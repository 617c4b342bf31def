package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrDecrypt means a stored private key could not be authenticated: the
// server runs with another GATEHOUSE_SECRET than the one that stored it, or
// the stored bytes were altered (AES-GCM cannot tell the two apart).
var ErrDecrypt = errors.New("wrong GATEHOUSE_SECRET?")

// encryptionPurpose names the Derive purpose of the key-encryption key.
const encryptionPurpose = "signing-key-encryption"

// formatV1 is the first byte of every stored private key; a later format
// (another cipher, a key id for secret rotation) gets another value.
const formatV1 byte = 1

func newAEAD(secret []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(Derive(secret, encryptionPurpose, 32))
	if err != nil {
		return nil, fmt.Errorf("keys: encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keys: encryption key: %w", err)
	}
	return aead, nil
}

// seal encrypts a private JWK as version || nonce || ciphertext. The key id
// is the additional data, so a ciphertext copied onto another row (say, an
// attacker's key under the active key's id) fails to open.
func seal(aead cipher.AEAD, kid string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = formatV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("keys: encrypt signing key %s: %w", kid, err)
	}
	return aead.Seal(out, out[1:], plaintext, []byte(kid)), nil
}

func open(aead cipher.AEAD, kid string, stored []byte) ([]byte, error) {
	if len(stored) < 1+aead.NonceSize()+aead.Overhead() || stored[0] != formatV1 {
		return nil, fmt.Errorf("keys: decrypt signing key %s: unknown format", kid)
	}
	nonce := stored[1 : 1+aead.NonceSize()]
	plaintext, err := aead.Open(nil, nonce, stored[1+aead.NonceSize():], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("keys: decrypt signing key %s: %w", kid, ErrDecrypt)
	}
	return plaintext, nil
}
