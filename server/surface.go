package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/internal/logbound"
	"github.com/gatehouse/gatehouse/scim"
)

// surface is which of gatehouse's faces a request is for; an answer the
// middleware gives itself (a body too large, a panic) must be in that
// face's own error format, or its clients cannot read it.
type surface int

const (
	surfacePages surface = iota // HTML for a person
	surfaceOAuth                // RFC 6749 JSON for OAuth clients
	surfaceAPI                  // RFC 9457 problem+json for the resource API
	// SCIM 2.0 provisioning.
	surfaceSCIM // RFC 7644 error objects (application/scim+json)
)

// errorPage renders a styled HTML error page (consent.Pages.RenderError).
type errorPage interface {
	RenderError(w http.ResponseWriter, r *http.Request, status int, title, message string)
}

// surfaces tells a request's surface from its path under the issuer's
// path and answers errors in its format.
type surfaces struct {
	base  string // the issuer's path
	pages errorPage
}

func (s surfaces) of(r *http.Request) surface {
	rest, ok := strings.CutPrefix(r.URL.Path, s.base)
	switch {
	case !ok:
		return surfacePages
	case rest == admin.Prefix || strings.HasPrefix(rest, admin.Prefix+"/"):
		return surfaceAPI
	case rest == scim.Prefix || strings.HasPrefix(rest, scim.Prefix+"/"):
		return surfaceSCIM
	case strings.HasPrefix(rest, "/oauth2/") && rest != "/oauth2/auth" && rest != "/oauth2/auth/consent" && rest != "/oauth2/logout":
		// The authorization, consent and logout endpoints are visited by
		// a browser; the rest of /oauth2 by clients.
		return surfaceOAuth
	case strings.HasPrefix(rest, "/.well-known/"):
		return surfaceOAuth
	}
	return surfacePages
}

// fail answers status with message, in the request's surface's format.
// oauthCode is the RFC 6749 error code for the OAuth surface.
func (s surfaces) fail(w http.ResponseWriter, r *http.Request, status int, oauthCode, title, message string) {
	switch s.of(r) {
	case surfaceAPI:
		admin.WriteProblem(w, status, message)
	case surfaceSCIM:
		scim.WriteError(w, status, "", message)
	case surfaceOAuth:
		writeJSON(w, status, map[string]string{"error": oauthCode, "error_description": message})
	default:
		s.pages.RenderError(w, r, status, title, message)
	}
}

// limitBody refuses a declared oversized body at once and caps an undeclared
// one, so no handler reads more than max bytes.
func (s surfaces) limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "invalid_request", "Request too large",
				fmt.Sprintf("The request body exceeds %d bytes.", max))
			return
		}
		r.Body = http.MaxBytesReader(serverWriter(w), r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a handler panic into a logged 500 with no detail.
// A handler that had written its header already cannot be answered again;
// the client then sees a truncated response, as net/http would do.
func (s surfaces) recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			logger.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", logbound.Whole(debug.Stack()))
			s.fail(w, r, http.StatusInternalServerError, "server_error", "Something went wrong",
				"Something went wrong on our side. Please try again in a moment.")
		}()
		next.ServeHTTP(w, r)
	})
}

// retryAfterSeconds is the Retry-After of a 503: a request answered so
// could not reach the database, and the server notices the database's
// return within a couple of seconds (README "Failure behaviour").
const retryAfterSeconds = "1"

// retryAfter gives every 503 that lacks one a Retry-After, whichever part
// of the server answered it: the API, an OAuth endpoint, a page.
func retryAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&retryAfterWriter{ResponseWriter: w}, r)
	})
}

type retryAfterWriter struct {
	http.ResponseWriter
}

func (w *retryAfterWriter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and serverWriter reach the
// connection's writer.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serverWriter unwraps the middleware's writers down to net/http's own.
// http.MaxBytesReader needs that one (it uses it for nothing else): only
// then does the server, once the limit is hit, stop reading the body and
// close the connection instead of waiting for the rest.
func serverWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
