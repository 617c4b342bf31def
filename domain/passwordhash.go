package domain

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Hashes brought from another system (the bulk import) are kept as they
// are, so that their users sign in with the password they had: bcrypt in
// any of its version prefixes, and argon2id in the PHC string format. A
// sign-in with one re-hashes the password with the configured bcrypt cost
// (Verify's needsRehash).

// Bounds of an accepted hash's parameters. A sign-in pays for the
// parameters the stored hash names, so an imported hash with a bcrypt cost
// of 31 or a gigabyte of argon2 memory would let one login stall the
// server; these are above what any deployment uses.
const (
	minImportBcryptCost = 4
	maxImportBcryptCost = 16
	maxArgon2Memory     = 256 << 10 // KiB: 256 MiB
	maxArgon2Time       = 16
	maxArgon2Threads    = 16
)

var bcryptHashPattern = regexp.MustCompile(`^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$`)

// ValidatePasswordHash checks that hash is a bcrypt ($2a$, $2b$, $2y$) or
// argon2id ($argon2id$v=19$m=..,t=..,p=..$salt$hash) hash with bounded
// parameters. Its messages never repeat the hash.
func ValidatePasswordHash(hash string) error {
	const field = "password_hash"
	if m := bcryptHashPattern.FindStringSubmatch(hash); m != nil {
		cost, _ := strconv.Atoi(m[1])
		if cost < minImportBcryptCost || cost > maxImportBcryptCost {
			return invalid(field, "bcrypt cost must be between %d and %d", minImportBcryptCost, maxImportBcryptCost)
		}
		return nil
	}
	if strings.HasPrefix(hash, "$argon2id$") {
		if _, err := parseArgon2id(hash); err != nil {
			return invalid(field, "%s", err)
		}
		return nil
	}
	return invalid(field, "must be a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$v=19$m=..,t=..,p=..$salt$hash) hash")
}

// argon2idHash is a parsed PHC string.
type argon2idHash struct {
	memory     uint32
	time       uint32
	threads    uint8
	salt, hash []byte
}

func parseArgon2id(s string) (argon2idHash, error) {
	var h argon2idHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, fmt.Errorf("argon2id hash must be $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[2] != "v=19" {
		return h, fmt.Errorf("argon2id hash must be version 19 (v=19)")
	}
	var m, t, p uint64
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, fmt.Errorf("argon2id parameters must be m=..,t=..,p=..")
	}
	for i, want := range []struct {
		key string
		dst *uint64
		max uint64
	}{{"m", &m, maxArgon2Memory}, {"t", &t, maxArgon2Time}, {"p", &p, maxArgon2Threads}} {
		k, v, ok := strings.Cut(params[i], "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || k != want.key || err != nil {
			return h, fmt.Errorf("argon2id parameters must be m=..,t=..,p=.. (numbers)")
		}
		if n < 1 || n > want.max {
			return h, fmt.Errorf("argon2id %s must be between 1 and %d", want.key, want.max)
		}
		*want.dst = n
	}
	if m < 8*p {
		return h, fmt.Errorf("argon2id m must be at least 8 times p")
	}
	// PHC strings carry standard base64 without padding; some writers pad.
	dec := func(s string) ([]byte, error) { return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")) }
	salt, err := dec(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return h, fmt.Errorf("argon2id salt must be 8 to 64 bytes of base64")
	}
	sum, err := dec(parts[5])
	if err != nil || len(sum) < 16 || len(sum) > 64 {
		return h, fmt.Errorf("argon2id hash must be 16 to 64 bytes of base64")
	}
	return argon2idHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, hash: sum}, nil
}

// isArgon2id tells Verify which algorithm a stored hash is of.
func isArgon2id(hash string) bool { return strings.HasPrefix(hash, "$argon2id$") }

// verifyArgon2id compares in constant time. A malformed or out-of-bounds
// hash matches no password (ValidatePasswordHash keeps them out).
func verifyArgon2id(hash, password string) bool {
	h, err := parseArgon2id(hash)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.hash)))
	return subtle.ConstantTimeCompare(got, h.hash) == 1
}
