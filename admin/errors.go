package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Problem is an RFC 9457 problem details object, the body of every error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists the fields of the request that were refused and why.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one refused field of the input.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem types beyond about:blank (which means "see the status code").
const (
	ProblemValidation = "urn:gatehouse:problem:validation"
	ProblemBadRequest = "urn:gatehouse:problem:malformed-request"
)

// apiError is a response the API decided on: a problem and the headers that
// go with it.
type apiError struct {
	problem Problem
	// wwwAuthenticate is the RFC 6750 challenge of 401 and scope 403s.
	wwwAuthenticate string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("api: %d %s", e.problem.Status, e.problem.Detail)
}

func problemf(status int, format string, args ...any) *apiError {
	return &apiError{problem: Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: fmt.Sprintf(format, args...),
	}}
}

// invalidField is a 422 for one field of the input.
func invalidField(field, message string) *apiError {
	return &apiError{problem: Problem{
		Type:   ProblemValidation,
		Title:  "Invalid input",
		Status: http.StatusUnprocessableEntity,
		Detail: "the request has invalid fields",
		Errors: []FieldError{{Field: field, Message: message}},
	}}
}

// badField is a 400 for a body that does not have the API's shape (a wrong
// JSON type, an unknown field).
func badField(field, message string) *apiError {
	e := &apiError{problem: Problem{
		Type:   ProblemBadRequest,
		Title:  "Malformed request",
		Status: http.StatusBadRequest,
		Detail: message,
	}}
	if field != "" {
		e.problem.Detail = field + ": " + message
		e.problem.Errors = []FieldError{{Field: field, Message: message}}
	}
	return e
}

func invalidToken(detail string) *apiError {
	e := problemf(http.StatusUnauthorized, "%s", detail)
	e.wwwAuthenticate = `Bearer error="invalid_token"`
	return e
}

func insufficientScope() *apiError {
	e := problemf(http.StatusForbidden, "the access token lacks the scope %s", APIScope)
	e.wwwAuthenticate = `Bearer error="insufficient_scope", scope="` + APIScope + `"`
	return e
}

func forbidden(perms []string) *apiError {
	if len(perms) == 1 {
		return problemf(http.StatusForbidden, "the permission %s is required", perms[0])
	}
	return problemf(http.StatusForbidden, "one of the permissions %s is required", strings.Join(perms, ", "))
}

// conflict gives a store.ErrConflict a message that says what conflicts;
// other errors pass through.
func conflict(err error, detail string) error {
	if errors.Is(err, store.ErrConflict) {
		return problemf(http.StatusConflict, "%s", detail)
	}
	return err
}

// writeError is the one place where an error becomes a response: an
// answer the API decided on as it is, any other error by its domain code.
// An internal error's cause is logged and never shown.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = problemOf(err)
		switch {
		case e.problem.Status == http.StatusServiceUnavailable:
			// An outage, which readyz and the pool metrics report; the
			// server adds Retry-After.
			a.log.WarnContext(r.Context(), "api: database unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		case e.problem.Status >= http.StatusInternalServerError:
			a.log.ErrorContext(r.Context(), "api: internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		}
	}
	if e.wwwAuthenticate != "" {
		challenge := e.wwwAuthenticate
		if a.resourceMetadata != "" {
			// RFC 9728 §5.1: where a client learns how to get a token.
			challenge += `, resource_metadata="` + a.resourceMetadata + `"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeProblem(w, e.problem)
}

// problemOf maps a domain or store error to its problem by code.
func problemOf(err error) *apiError {
	msg := domain.ErrorMessage(err)
	switch domain.ErrorCode(err) {
	case domain.CodeInvalid:
		v, _ := domain.AsValidation(err)
		e := &apiError{problem: Problem{Type: ProblemValidation, Title: "Invalid input",
			Status: http.StatusUnprocessableEntity, Detail: "the request has invalid fields"}}
		for _, f := range v.Fields {
			e.problem.Errors = append(e.problem.Errors, FieldError{Field: f.Field, Message: f.Message})
		}
		return e
	case domain.CodeNotFound:
		return problemf(http.StatusNotFound, "%s", msg)
	case domain.CodeConflict:
		return problemf(http.StatusConflict, "%s", msg)
	case domain.CodeForbidden:
		return problemf(http.StatusForbidden, "%s", msg)
	case domain.CodeStale:
		// The only precondition the API takes is If-Match: name it as the
		// refused field, so a client shows the conflict where it belongs.
		e := problemf(http.StatusPreconditionFailed, "%s", msg)
		e.problem.Errors = []FieldError{{Field: "If-Match", Message: msg}}
		return e
	case domain.CodeUnauthenticated:
		if errors.Is(err, domain.ErrInvalidCredentials) {
			// A credential in the body (a current password), not the
			// bearer token: the caller is authenticated.
			return problemf(http.StatusForbidden, "the credentials are invalid")
		}
		return invalidToken("the credentials are invalid, expired or revoked")
	case domain.CodeUnavailable:
		return problemf(http.StatusServiceUnavailable, "%s", msg)
	}
	return problemf(http.StatusInternalServerError, "internal error")
}

// WriteProblem answers with a problem+json of status and detail: what the
// server's middleware (body limit, panic recovery, timeouts) uses to answer
// a request for the API in the API's own format.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	writeProblem(w, problemf(status, "%s", detail).problem)
}

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes a success response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeCreated answers 201 with the new resource's address: the collection
// the request was posted to (wherever the API is mounted) and id.
func writeCreated(w http.ResponseWriter, r *http.Request, id string, v any) {
	w.Header().Set("Location", strings.TrimRight(r.URL.Path, "/")+"/"+url.PathEscape(id))
	writeJSON(w, http.StatusCreated, v)
}

func noContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}
