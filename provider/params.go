package provider

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/formbody"
)

// maxParamsBody bounds the form body read to look for repeated parameters
// (the server's default body limit; no OAuth request comes near it).
const maxParamsBody = 1 << 20

// repeatable reports whether a parameter may appear more than once. RFC
// 6749 §3.1 forbids repeating its parameters; extensions may define
// repeatable ones:
//   - resource (RFC 8707 §2: "may be used multiple times"), each one an
//     audience of the token (resource.go);
//   - audience (fosite's, as in RFC 8693), which fosite reads as one value
//     per audience when repeated.
func repeatable(name string) bool {
	switch name {
	case "resource", "audience":
		return true
	}
	return false
}

// deliversAuthorizeError reports whether a parameter decides where and how
// the authorization endpoint answers: when one of them is repeated, the
// answer cannot go to the client, since which client and which redirect
// URI (or which pushed request) is not known.
func deliversAuthorizeError(name string) bool {
	switch name {
	case "client_id", "redirect_uri", "request_uri", "response_type", "response_mode":
		return true
	}
	return false
}

// refuseFunc answers a request refused before its handler ran. repeated
// names the repeated parameters, none when the body could not be checked.
type refuseFunc func(w http.ResponseWriter, r *http.Request, err error, repeated []string)

// onceParams refuses, with invalid_request, a request that carries a
// parameter more than once (RFC 6749 §3.1) — counting the query string and
// the form body together, empty values included — before h sees it: fosite
// reads only the first value of a parameter, so a repeated one would mean
// whatever the first copy says, which a client, a proxy and gatehouse may
// not agree on. The body is read (at most maxParamsBody bytes) and put back
// for h.
func (p *Provider) onceParams(h http.HandlerFunc, refuse refuseFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r, repeated, err := repeatedParams(r)
		if err != nil {
			refuse(w, r, err, nil)
			return
		}
		if len(repeated) > 0 {
			refuse(w, r, repeatedParamError(repeated[0]), repeated)
			return
		}
		h(w, r)
	}
}

func repeatedParamError(name string) error {
	if !formbody.Quotable(name) {
		return fosite.ErrInvalidRequest.WithHint("A request parameter is included more than once.")
	}
	return fosite.ErrInvalidRequest.WithHintf("The request parameter '%s' is included more than once.", name)
}

// errParamsBodyTooLarge refuses a form body too large to be checked.
func errParamsBodyTooLarge() error {
	err := fosite.ErrInvalidRequest.WithHintf("The request body exceeds %d bytes.", maxParamsBody)
	err.CodeField = http.StatusRequestEntityTooLarge
	return err
}

// repeatedParams returns, sorted, the parameters that r carries more than
// once and may not, and the request to pass on (its body put back). A body
// that cannot be read (or a multipart body that cannot be parsed) is left
// to the handler, whose parser fails on it as well; a body larger than
// maxParamsBody is an error. Behind the server's edge check the body was
// parsed already, and is not read again.
func repeatedParams(r *http.Request) (*http.Request, []string, error) {
	counts := map[string]int{}
	// A malformed query still yields the pairs that parsed; the handler's
	// own parsing reports the rest.
	query, _ := url.ParseQuery(r.URL.RawQuery)
	for k, vs := range query {
		counts[k] += len(vs)
	}
	r, body, err := formbody.Read(r, maxParamsBody)
	switch {
	case errors.Is(err, formbody.ErrTooLarge):
		return r, nil, errParamsBodyTooLarge()
	case err != nil:
		body = nil // the handler meets the same failure
	}
	for k, vs := range body {
		counts[k] += len(vs)
	}
	var repeated []string
	for k, n := range counts {
		if n > 1 && !repeatable(k) {
			repeated = append(repeated, k)
		}
	}
	sort.Strings(repeated)
	return r, repeated, nil
}

// refuseJSON answers with an RFC 6749 §5.2 JSON error, as the token,
// introspection, revocation and PAR endpoints do.
func (p *Provider) refuseJSON(endpoint string) refuseFunc {
	return func(w http.ResponseWriter, r *http.Request, err error, _ []string) {
		p.logOAuthError(r.Context(), endpoint, err)
		p.oauth.WriteAccessError(r.Context(), w, nil, err)
	}
}

// refuseAuthorize answers at the authorization endpoint as fosite answers
// its own invalid_request errors: to the client's redirect URI when the
// client and the redirect URI are known and valid (RFC 6749 §4.1.2.1),
// else on an error page. fosite's validation of the request says whether
// they are, unless a repeated parameter is one of those that decide it.
func (p *Provider) refuseAuthorize(w http.ResponseWriter, r *http.Request, err error, repeated []string) {
	var ar fosite.AuthorizeRequester
	if len(repeated) > 0 && !slices.ContainsFunc(repeated, deliversAuthorizeError) {
		// The request is refused whatever fosite finds wrong with it; only
		// its verdict on the redirect URI is used.
		ar, _ = p.oauth.NewAuthorizeRequest(r.Context(), r)
	}
	p.authorizeError(w, r, ar, err)
}
