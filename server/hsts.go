package server

import (
	"net/http"
	"net/url"
)

// hstsValue is the Strict-Transport-Security policy of an https issuer:
// two years, subdomains included (what the HSTS preload list asks for,
// without opting into it).
const hstsValue = "max-age=63072000; includeSubDomains"

// strictTransport sets Strict-Transport-Security on every answer when the
// issuer is https: browsers then never try plain HTTP for the host, so a
// network attacker cannot strip TLS from the login page. The header is set
// whether this process terminates TLS or a proxy in front of it does; the
// issuer says how clients reach the server. For an http issuer (local
// development) next is returned as it is: the header would be ignored over
// HTTP, and pinning a development host to HTTPS would break it.
//
// Every answer, whatever the issuer, also carries X-Content-Type-Options:
// nosniff: the pages set it themselves, but JSON from the API and the
// protocol endpoints, the metrics text and the edge's refusals must not be
// sniffed into HTML by a browser either.
func strictTransport(issuer string, next http.Handler) http.Handler {
	https := false
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "https" {
		https = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if https {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}
