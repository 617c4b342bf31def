package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// Derive returns n bytes derived from the server secret for one purpose
// (HKDF-SHA256, no salt, info = "gatehouse " + purpose). Each subsystem gets
// its own key this way, so no key material is shared between purposes and
// leaking one derived key reveals neither the secret nor its siblings.
//
// Derive panics if n is not between 1 and 8160 (255 SHA-256 blocks, the HKDF
// limit): the length is fixed by the calling code, never by input, so a bad
// one is a programming error.
func Derive(secret []byte, purpose string, n int) []byte {
	if n <= 0 || n > 255*sha256.Size {
		panic(fmt.Sprintf("keys: derive %q: length %d out of range", purpose, n))
	}
	k, err := hkdf.Key(sha256.New, secret, nil, "gatehouse "+purpose, n)
	if err != nil {
		// Only reachable in FIPS-only mode with a secret shorter than
		// 112 bits, which NewManager and config already refuse.
		panic(fmt.Sprintf("keys: derive %q: %v", purpose, err))
	}
	return k
}
