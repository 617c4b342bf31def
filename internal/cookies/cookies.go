// Package cookies is the one place gatehouse sets a cookie: the login
// session, the CSRF token of the pages, the dev-mode demo's flow state. A
// test fails if http.SetCookie, a Set-Cookie header or an http.Cookie
// literal appears anywhere else in the code, so every cookie gets the same
// attributes:
//
//   - HttpOnly always: no script of ours reads a cookie, and none injected
//     may.
//   - Secure when the issuer is https. Over plain http (loopback
//     development) the browser would drop a Secure cookie.
//   - Host-wide cookies (Path=/) take the __Host- prefix when Secure: the
//     browser then refuses one set without Secure, with a Domain or for
//     another path, so a sibling subdomain or a plain-http page cannot
//     plant or shadow it. Path-scoped cookies (the demo's) take __Secure-,
//     which __Host- does not allow.
//   - SameSite is chosen per cookie, Lax or Strict; never None.
//   - No Domain: the cookie belongs to the issuer's host only.
package cookies

import (
	"net/http"
	"time"
)

// Spec is one cookie as the code names it.
type Spec struct {
	// Name is the name without its prefix.
	Name string
	// SameSite is http.SameSiteLaxMode or http.SameSiteStrictMode; any
	// other value is taken as Lax.
	SameSite http.SameSite
	// Path scopes the cookie to a path of the host ("/auth/demo"); "" is
	// the whole host (Path=/, the __Host- prefix when Secure).
	Path string
	// MaxAge is the cookie's lifetime; 0 makes it end with the browser
	// session.
	MaxAge time.Duration
}

// Jar sets and reads cookies by Spec.
type Jar struct{ secure bool }

// New returns the jar of an issuer that is https (secure) or not.
func New(secure bool) Jar { return Jar{secure: secure} }

// Name is the cookie's name as sent, with its prefix.
func (j Jar) Name(s Spec) string {
	switch {
	case !j.secure:
		return s.Name
	case s.Path == "" || s.Path == "/":
		return "__Host-" + s.Name
	default:
		return "__Secure-" + s.Name
	}
}

func (j Jar) cookie(s Spec, value string) *http.Cookie {
	path := s.Path
	if path == "" {
		path = "/"
	}
	site := http.SameSiteLaxMode
	if s.SameSite == http.SameSiteStrictMode {
		site = http.SameSiteStrictMode
	}
	return &http.Cookie{
		Name:     j.Name(s),
		Value:    value,
		Path:     path,
		HttpOnly: true,
		Secure:   j.secure,
		SameSite: site,
	}
}

// Set sets the cookie to value.
func (j Jar) Set(w http.ResponseWriter, s Spec, value string) {
	c := j.cookie(s, value)
	if s.MaxAge > 0 {
		c.MaxAge = max(int(s.MaxAge/time.Second), 1)
	}
	http.SetCookie(w, c)
}

// Clear deletes the cookie (Max-Age=0), with the attributes it was set
// with: a browser only replaces a cookie of the same name, path and prefix.
func (j Jar) Clear(w http.ResponseWriter, s Spec) {
	c := j.cookie(s, "")
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// Get returns the request's value of the cookie, "" if it has none.
func (j Jar) Get(r *http.Request, s Spec) string {
	c, err := r.Cookie(j.Name(s))
	if err != nil {
		return ""
	}
	return c.Value
}
