package server

import (
	"net/http"
	"net/url"
)

// hstsValue is the Strict-Transport-Security policy of an https issuer:
// two years, subdomains included (what the HSTS preload list asks for,
// without opting into it).
const hstsValue = "max-age=63072000; includeSubDomains"

// defaultCSP is the Content-Security-Policy of every answer whose handler
// sets none: JSON, metrics text, redirects, the edge's refusals. Nothing in
// them may load, run, frame or be framed; a page that renders sets its own
// (consent.setPageHeaders, the console), which replaces this one.
const defaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets, before next runs, the headers every answer
// carries whatever produced it (a page, the API, the protocol endpoints,
// a 404 or 405, a panic's 500, a refusal of the edge):
//
//   - X-Content-Type-Options: nosniff, so that no JSON or text answer is
//     sniffed into HTML by a browser;
//   - X-Frame-Options: DENY and a CSP with frame-ancestors 'none', so that
//     nothing can be framed for clickjacking (the header for browsers that
//     predate frame-ancestors);
//   - Referrer-Policy: no-referrer, since our URLs carry codes, states and
//     ids that must not leak to another site through a link;
//   - defaultCSP, which a handler replaces by setting its own;
//   - Strict-Transport-Security when the issuer is https, so that browsers
//     never try plain HTTP for the host and a network attacker cannot strip
//     TLS from the login page. It is set whether this process terminates
//     TLS or a proxy in front of it does: the issuer says how clients reach
//     the server. For an http issuer (local development) it is left out:
//     it would be ignored over HTTP, and pinning a development host to
//     HTTPS would break it.
//
// Set before next rather than after, so that they are on answers whose
// handler writes the header itself, hijacks or panics.
func securityHeaders(issuer string, next http.Handler) http.Handler {
	https := false
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "https" {
		https = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", defaultCSP)
		if https {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}
