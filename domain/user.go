package domain

import (
	"net/mail"
	"regexp"
	"strings"
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9._-]{3,50}$`)

// ValidateUsername enforces 3–50 characters of lowercase letters, digits,
// '.', '_' and '-'.
func ValidateUsername(username string) error {
	if !usernamePattern.MatchString(username) {
		return invalid("username", "must be 3-50 characters of lowercase letters, digits, '.', '_' or '-'")
	}
	return nil
}

// ValidateEmail accepts a bare address (no display name) of at most 254
// characters with a dot in its domain.
func ValidateEmail(email string) error {
	bad := invalid("email", "must be a valid email address")
	if len(email) > 254 {
		return bad
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return bad
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !strings.Contains(email[at+1:], ".") {
		return bad
	}
	return nil
}

// NormalizeEmail lowercases the address; uniqueness is case-insensitive.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
