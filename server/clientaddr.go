package server

import (
	"net/http"
	"net/netip"

	"github.com/gatehouse/gatehouse/internal/clientaddr"
)

// clientAddress resolves the client's address once per request
// (clientaddr.Resolve: X-Forwarded-For believed only as far as trusted
// proxies wrote it) and puts it in the request's context, so that the
// audit log, sessions, IP rules and rate limits all read the same value
// through clientaddr.IP, and none of them can be handed another by a
// header the client wrote.
func clientAddress(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientaddr.Resolve(r, trusted...)
		next.ServeHTTP(w, r.WithContext(clientaddr.WithIP(r.Context(), ip)))
	})
}
