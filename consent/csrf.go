package consent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
)

// csrfFormField is the form field every POST form of ours carries.
const csrfFormField = "csrf_token"

// randomBytes is the entropy of cookie values (sessions and CSRF).
const randomBytes = 32

// errCSRF is returned by VerifyCSRF; the detail stays out of pages and logs
// never see the token values.
var errCSRF = errors.New("consent: CSRF token missing or invalid")

func (p *Pages) csrfCookieName() string { return p.jar().Name(csrfCookie()) }

// randomValue returns 32 random bytes, base64url encoded.
func randomValue() (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("consent: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// validCookieValue accepts only what randomValue makes, so that a forged
// cookie of another shape is treated as absent.
func validCookieValue(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == randomBytes
}

// csrfToken is the form token for a CSRF cookie value: keyed, so that a
// value planted in the cookie by someone else is useless without our key.
func (p *Pages) csrfToken(cookieValue string) string {
	m := hmac.New(sha256.New, p.opts.CSRFKey)
	m.Write([]byte(cookieValue))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ensureCSRF returns the form token for the request's CSRF cookie, setting a
// new cookie first if the request has none.
func (p *Pages) ensureCSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(p.csrfCookieName()); err == nil && validCookieValue(c.Value) {
		return p.csrfToken(c.Value), nil
	}
	v, err := randomValue()
	if err != nil {
		return "", err
	}
	p.jar().Set(w, csrfCookie(), v)
	return p.csrfToken(v), nil
}

// VerifyCSRF checks the POSTed form field csrf_token against the CSRF cookie
// (call after r.ParseForm); it returns an error if either is missing or the
// token does not match.
func (p *Pages) VerifyCSRF(r *http.Request) error {
	c, err := r.Cookie(p.csrfCookieName())
	if err != nil || !validCookieValue(c.Value) {
		return errCSRF
	}
	got := r.PostForm.Get(csrfFormField)
	if got == "" {
		return errCSRF
	}
	if !hmac.Equal([]byte(got), []byte(p.csrfToken(c.Value))) {
		return errCSRF
	}
	return nil
}
