// Package formbody reads a request's form body once, for the middleware
// and handlers that look at its parameters before the handler that acts on
// them, and puts it back for that handler.
package formbody

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
)

// ErrTooLarge is Read's answer to a body longer than its limit.
var ErrTooLarge = errors.New("formbody: body too large")

type parsed struct {
	values url.Values
	size   int
	err    error
}

type key struct{}

// Read returns the parameters of r's form body (POST, PUT or PATCH,
// URL-encoded or multipart, as http.Request.ParseMultipartForm reads them)
// and the request to pass on, whose body yields the same bytes again and
// whose context remembers the parse, so that a later Read of it (a check
// further down the chain) costs nothing. Any other request has no form
// values. What does not parse is left to the handler, whose parser fails on
// it as well: malformed URL-encoded pairs are skipped, as ParseForm skips
// them, and file parts are no parameters.
//
// A body longer than limit (0: no limit of Read's own; the server's body
// limit still applies) is ErrTooLarge; a body that could not be read is
// that error, and the handler meets it again.
func Read(r *http.Request, limit int) (*http.Request, url.Values, error) {
	if p, ok := r.Context().Value(key{}).(*parsed); ok {
		if limit > 0 && p.size > limit {
			return r, nil, ErrTooLarge
		}
		return r, p.values, p.err
	}
	p := parse(r, limit)
	if p.err != nil && !errors.Is(p.err, ErrTooLarge) {
		// A failed read is not remembered: it is the reader's, and a later
		// reader should meet it itself.
		return r, nil, p.err
	}
	return r.WithContext(context.WithValue(r.Context(), key{}, p)), p.values, p.err
}

func parse(r *http.Request, limit int) *parsed {
	if r.Body == nil || r.Body == http.NoBody {
		return &parsed{}
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return &parsed{}
	}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data") {
		return &parsed{}
	}
	src := r.Body
	if limit > 0 {
		src = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(r.Body, int64(limit)+1), r.Body}
	}
	body, readErr := io.ReadAll(src)
	// What was read, then whatever is left of the original (a body over
	// the limit keeps failing for the handler as it would have).
	r.Body = replay{Reader: io.MultiReader(bytes.NewReader(body), r.Body), Closer: r.Body}
	if readErr != nil {
		return &parsed{err: readErr}
	}
	if limit > 0 && len(body) > limit {
		return &parsed{size: len(body), err: ErrTooLarge}
	}
	p := &parsed{size: len(body)}
	if ct == "application/x-www-form-urlencoded" {
		p.values, _ = url.ParseQuery(string(body))
		return p
	}
	if params["boundary"] == "" {
		return p
	}
	form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(int64(len(body)))
	if err != nil {
		return p
	}
	defer func() { _ = form.RemoveAll() }()
	p.values = url.Values(form.Value)
	return p
}

// replay is a request body read again from a buffer, closed as the
// original.
type replay struct {
	io.Reader
	io.Closer
}

var quotable = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// Quotable reports whether a parameter name is safe to quote in an error
// message, and in an OAuth error_description, whose characters RFC 6749
// §5.2 limits.
func Quotable(name string) bool { return quotable.MatchString(name) }
