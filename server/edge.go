package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/formbody"
)

// plainText refuses, with 400 in the surface's format, a request whose path,
// query or form body holds bytes that are not text (domain.TextProblem,
// newlines allowed): invalid UTF-8, NUL or other control characters. No
// handler has a use for them, PostgreSQL refuses NUL and invalid UTF-8
// with an error that would end as a 500, and refusing them here, once, is
// surer than every handler remembering to. JSON bodies are the API's to
// check (encoding/json already turns invalid UTF-8 into U+FFFD; the
// domain refuses \u0000).
//
// A form body is read here (within the body limit, which runs first) and
// put back for the handler; one that does not arrive in time (the server's
// read timeout) is answered 408 here, as the client's fault it is, instead
// of reaching a handler as an empty or truncated form.
func (s surfaces) plainText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := domain.TextProblem(r.URL.Path, false); msg != "" {
			s.refuseText(w, r, "The path "+msg+".")
			return
		}
		// A malformed query yields the pairs that parsed; the handlers
		// refuse the rest as they did.
		query, _ := url.ParseQuery(r.URL.RawQuery)
		if msg := valuesProblem("query", query); msg != "" {
			s.refuseText(w, r, msg)
			return
		}
		r, form, err := formbody.Read(r, 0)
		if err != nil {
			s.refuseBody(w, r, err)
			return
		}
		if msg := valuesProblem("form", form); msg != "" {
			s.refuseText(w, r, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s surfaces) refuseText(w http.ResponseWriter, r *http.Request, msg string) {
	s.fail(w, r, http.StatusBadRequest, "invalid_request", "Bad request", msg)
}

// refuseBody answers a form body that could not be read.
func (s surfaces) refuseBody(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.fail(w, r, http.StatusRequestEntityTooLarge, "invalid_request", "Request too large",
			fmt.Sprintf("The request body exceeds %d bytes.", tooBig.Limit))
	case isTimeout(err):
		// The connection cannot be read any more; net/http closes it.
		w.Header().Set("Connection", "close")
		s.fail(w, r, http.StatusRequestTimeout, "invalid_request", "Request timeout",
			"The request body did not arrive in time.")
	default:
		s.fail(w, r, http.StatusBadRequest, "invalid_request", "Bad request",
			"The request body could not be read.")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// valuesProblem describes the first name or value in values that is not
// text, "" if none.
func valuesProblem(where string, values url.Values) string {
	for name, vs := range values {
		if msg := domain.TextProblem(name, false); msg != "" {
			return fmt.Sprintf("A %s parameter name %s.", where, msg)
		}
		for _, v := range vs {
			msg := domain.TextProblem(v, true)
			if msg == "" {
				continue
			}
			if formbody.Quotable(name) {
				return fmt.Sprintf("The %s parameter %s %s.", where, name, msg)
			}
			return fmt.Sprintf("A %s parameter %s.", where, msg)
		}
	}
	return ""
}
