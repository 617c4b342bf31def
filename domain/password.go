package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Passwords hashes and checks human passwords.
type Passwords struct {
	// BcryptCost is the cost new hashes are made with; a login with a hash of
	// another cost re-hashes it.
	BcryptCost int
	// MinLength is the minimum length in characters.
	MinLength int
	// Hasher computes the hashes; nil is golang.org/x/crypto/bcrypt. Tests
	// wrap it to count them: every check, refused or not, costs one.
	Hasher Hasher
}

// Hasher is bcrypt's two operations, each of which costs one hash (the
// expensive key setup) at the cost given or stored in the hash.
type Hasher interface {
	GenerateFromPassword(password []byte, cost int) ([]byte, error)
	CompareHashAndPassword(hash, password []byte) error
}

// xbcrypt is golang.org/x/crypto/bcrypt as a Hasher.
type xbcrypt struct{}

func (xbcrypt) GenerateFromPassword(password []byte, cost int) ([]byte, error) {
	return bcrypt.GenerateFromPassword(password, cost)
}

func (xbcrypt) CompareHashAndPassword(hash, password []byte) error {
	return bcrypt.CompareHashAndPassword(hash, password)
}

func (p Passwords) hasher() Hasher {
	if p.Hasher == nil {
		return xbcrypt{}
	}
	return p.Hasher
}

// DefaultPasswords are the defaults of the configuration.
var DefaultPasswords = Passwords{BcryptCost: 12, MinLength: 8}

// bcrypt reads at most 72 bytes; longer input would be silently truncated,
// so it is refused instead.
const maxPasswordBytes = 72

// Hash returns the bcrypt hash of password at the configured cost.
func (p Passwords) Hash(password string) (string, error) {
	if len(password) > maxPasswordBytes {
		return "", invalid("password", "must be at most %d bytes", maxPasswordBytes)
	}
	h, err := p.hasher().GenerateFromPassword([]byte(password), p.BcryptCost)
	if err != nil {
		return "", fmt.Errorf("domain: hash password: %w", err)
	}
	return string(h), nil
}

// Verify reports whether password matches hash, and whether the hash was made
// with other parameters and should be replaced by Hash(password). Every call
// costs one hash, whatever the input: a refusal that came sooner for some
// inputs (a password over bcrypt's limit, a user without a hash) would tell
// apart, by its timing, the usernames that exist.
func (p Passwords) Verify(hash, password string) (ok, needsRehash bool) {
	if hash == "" || len(password) > maxPasswordBytes {
		// No password over the limit was ever hashed, so none matches; bcrypt
		// would refuse it before hashing.
		return p.VerifyNobody(password), false
	}
	if isArgon2id(hash) {
		// An imported hash (passwordhash.go): a match is re-hashed with
		// the configured bcrypt cost.
		ok := verifyArgon2id(hash, password)
		return ok, ok
	}
	if err := p.hasher().CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		return false, false
	}
	cost, err := bcrypt.Cost([]byte(hash))
	return true, err == nil && cost != p.BcryptCost
}

// VerifyNobody spends the time of a Verify at the configured cost and returns
// false. A login naming an unknown user calls it, so that the response time
// does not tell which usernames exist.
func (p Passwords) VerifyNobody(password string) bool {
	// bcrypt refuses input over its limit without hashing: hash a cut copy,
	// whose cost is the same.
	if len(password) > maxPasswordBytes {
		password = password[:maxPasswordBytes]
	}
	_, _ = p.hasher().GenerateFromPassword([]byte(password), p.BcryptCost)
	return false
}

// Validate checks password against the policy: the minimum length, the bcrypt
// input limit, and that it does not contain the user's username, the local
// part of the email, or any word of the full name of four letters or more.
func (p Passwords) Validate(password, username, email, fullName string) error {
	if utf8.RuneCountInString(password) < p.MinLength {
		return invalid("password", "must be at least %d characters", p.MinLength)
	}
	if len(password) > maxPasswordBytes {
		return invalid("password", "must be at most %d bytes", maxPasswordBytes)
	}
	lower := strings.ToLower(password)
	personal := []string{username}
	if at := strings.IndexByte(email, '@'); at > 0 {
		personal = append(personal, email[:at])
	}
	personal = append(personal, strings.Fields(fullName)...)
	for _, word := range personal {
		word = strings.ToLower(word)
		if utf8.RuneCountInString(word) >= 4 && strings.Contains(lower, word) {
			return invalid("password", "must not contain your name, username or email")
		}
		if word != "" && len(word) < 4 && lower == word {
			return invalid("password", "must not be your name, username or email")
		}
	}
	return nil
}
