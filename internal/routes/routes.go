// Package routes holds what gatehouse needs of its router beyond matching:
// telling a wrong method from an unknown path.
package routes

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// methods are the methods a route of ours may take.
var methods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Allowed lists, comma-separated, the methods some route of r accepts at
// req's path; "" if none does. mux cannot say so itself once routes share
// a subrouter's path prefix: a later route whose prefix matches clears the
// method mismatch an earlier one found, and the request reads as unknown.
func Allowed(r *mux.Router, req *http.Request) string {
	var allowed []string
	for _, m := range methods {
		if m == req.Method {
			continue
		}
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if r.Match(probe, &match) && match.MatchErr == nil {
			allowed = append(allowed, m)
		}
	}
	return strings.Join(allowed, ", ")
}
