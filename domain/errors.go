package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/store"
)

// Code is the kind of a failure. Each surface maps codes to its own answer
// once (admin: status and problem+json; provider: an OAuth error; consent:
// a page; the CLI: a message and exit status), so a rule written here reads
// the same everywhere.
type Code string

// The codes. Anything that is none of the others is CodeInternal, whose
// detail is logged and never shown.
const (
	CodeInvalid         Code = "invalid"         // the input breaks a rule (*ValidationError)
	CodeNotFound        Code = "not_found"       // the record does not exist (store.ErrNotFound)
	CodeConflict        Code = "conflict"        // the current state forbids it (store.ErrConflict)
	CodeForbidden       Code = "forbidden"       // the actor may not do it (ErrForbidden)
	CodeStale           Code = "stale"           // the record changed since the caller read it (ErrStale)
	CodeUnauthenticated Code = "unauthenticated" // the credentials are not (or no longer) good
	CodeUnavailable     Code = "unavailable"     // the database did not answer in time (store.ErrUnavailable); retrying may work
	CodeInternal        Code = "internal"        // a fault of ours
)

// Errors the entry points map to responses; they are the causes wrapped by
// *Error, so errors.Is still finds them.
var (
	// ErrForbidden: the actor may not do this (beyond the route's permission:
	// e.g. a personal token wider than its owner's permissions).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidCredentials: a sign-in failed. Deliberately says nothing of
	// why (unknown user, wrong password, locked, disabled).
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrUnauthenticated: an API token is unknown, expired, revoked, or its
	// principal is no longer active.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrStale: an edit was made on the strength of a version of the
	// record that is no longer the current one (a failed precondition).
	ErrStale = errors.New("stale")
)

// Error is a failure with a code and a message written for whoever made the
// request: it names their input, never the internals. Err is the cause
// (one of the sentinels above or of package store, or a lower error), for
// errors.Is and for logs.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error whose cause is the code's sentinel, so callers
// that test errors.Is(err, store.ErrConflict) keep working.
func newError(code Code, format string, args ...any) *Error {
	e := &Error{Code: code, Message: fmt.Sprintf(format, args...)}
	switch code {
	case CodeNotFound:
		e.Err = store.ErrNotFound
	case CodeConflict:
		e.Err = store.ErrConflict
	case CodeForbidden:
		e.Err = ErrForbidden
	case CodeUnauthenticated:
		e.Err = ErrUnauthenticated
	case CodeStale:
		e.Err = ErrStale
	}
	return e
}

func notFound(format string, args ...any) error  { return newError(CodeNotFound, format, args...) }
func conflict(format string, args ...any) error  { return newError(CodeConflict, format, args...) }
func forbidden(format string, args ...any) error { return newError(CodeForbidden, format, args...) }

// FieldError names one refused field of the input and why.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError is refused input: every field problem found, at once, so
// a form or a client can show them all. It is the one validation type of
// the code base; a surface lists Fields as its own field errors.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// Field returns the message of the first problem with field, "" if none.
func (e *ValidationError) Field(field string) string {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// invalid is a ValidationError with one problem.
func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Fields: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// AsValidation returns the ValidationError in err's chain, if any.
func AsValidation(err error) (*ValidationError, bool) {
	var v *ValidationError
	ok := errors.As(err, &v) && v != nil && len(v.Fields) > 0
	return v, ok
}

// ErrorCode is the code of err: the first *Error or *ValidationError in its
// chain, else what its sentinel cause means. nil has no code.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if _, ok := AsValidation(err); ok {
		return CodeInvalid
	}
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, store.ErrConflict):
		return CodeConflict
	case errors.Is(err, ErrForbidden):
		return CodeForbidden
	case errors.Is(err, ErrStale):
		return CodeStale
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrInvalidCredentials):
		return CodeUnauthenticated
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable
	}
	return CodeInternal
}

// ErrorMessage is what to tell whoever made the request: the message of the
// first *Error or *ValidationError in err's chain, else a fixed text for its
// code. An internal error's detail is never in it.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if v, ok := AsValidation(err); ok {
		return v.Error()
	}
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	switch ErrorCode(err) {
	case CodeNotFound:
		return "not found"
	case CodeConflict:
		return "the request conflicts with the current state"
	case CodeForbidden:
		return "not allowed"
	case CodeStale:
		return "the record changed since it was read"
	case CodeUnauthenticated:
		return "the credentials are invalid, expired or revoked"
	case CodeUnavailable:
		return "the service is temporarily unavailable; try again shortly"
	}
	return "internal error"
}
