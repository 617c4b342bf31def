package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakePage struct{}

func (fakePage) RenderError(w http.ResponseWriter, _ *http.Request, status int, title, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte("<title>" + title + "</title><p>" + message))
}

// TestMiddlewareAnswersInTheSurfacesFormat: a panic or an oversized body is
// answered as problem+json on the API, RFC 6749 JSON on the OAuth
// endpoints and an HTML page elsewhere, under the issuer's path.
func TestMiddlewareAnswersInTheSurfacesFormat(t *testing.T) {
	faces := surfaces{base: "/auth", pages: fakePage{}}
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	panicky := faces.recoverPanics(slog.New(slog.DiscardHandler), boom)
	limited := faces.limitBody(10, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		path, contentType, oauthCode string
	}{
		{"/auth/api/v1/users", "application/problem+json", ""},
		{"/auth/api/v1", "application/problem+json", ""},
		{"/auth/oauth2/token", "application/json", "invalid_request"},
		{"/auth/oauth2/introspect", "application/json", "invalid_request"},
		{"/auth/.well-known/openid-configuration", "application/json", "invalid_request"},
		{"/auth/oauth2/auth", "text/html; charset=utf-8", ""},
		{"/auth/oauth2/logout", "text/html; charset=utf-8", ""},
		{"/auth/login", "text/html; charset=utf-8", ""},
		{"/api/v1/users", "text/html; charset=utf-8", ""}, // outside the issuer: not the API
		// SCIM 2.0 provisioning: RFC 7644 error objects.
		{"/auth/scim/v2/Users", "application/scim+json", ""},
		{"/auth/scim/v2", "application/scim+json", ""},
	} {
		rec := httptest.NewRecorder()
		limited.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(strings.Repeat("x", 11))))
		if rec.Code != http.StatusRequestEntityTooLarge || rec.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("oversized POST %s: %d %q, want 413 %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.contentType)
		}
		checkBody(t, "oversized POST "+tc.path, rec, tc.oauthCode, http.StatusRequestEntityTooLarge)

		rec = httptest.NewRecorder()
		panicky.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("panic at %s: %d %q, want 500 %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.contentType)
		}
		if strings.Contains(rec.Body.String(), "boom") {
			t.Errorf("panic at %s: the answer shows the panic: %s", tc.path, rec.Body)
		}
		code := ""
		if tc.oauthCode != "" {
			code = "server_error"
		}
		checkBody(t, "panic at "+tc.path, rec, code, http.StatusInternalServerError)
	}
}

func checkBody(t *testing.T, what string, rec *httptest.ResponseRecorder, oauthCode string, status int) {
	t.Helper()
	var body map[string]any
	switch ct := rec.Header().Get("Content-Type"); {
	case ct == "application/problem+json":
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != float64(status) || body["title"] == "" {
			t.Errorf("%s: problem %s (%v), want status %d and a title", what, rec.Body, err, status)
		}
	case ct == "application/scim+json":
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != fmt.Sprint(status) || body["detail"] == "" ||
			fmt.Sprint(body["schemas"]) != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
			t.Errorf("%s: SCIM error %s (%v), want status %q, the Error schema and a detail", what, rec.Body, err, fmt.Sprint(status))
		}
	case ct == "application/json":
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != oauthCode || body["error_description"] == "" {
			t.Errorf("%s: %s (%v), want error %q with a description", what, rec.Body, err, oauthCode)
		}
	default:
		if !strings.Contains(rec.Body.String(), "<title>") {
			t.Errorf("%s: %s, want an HTML page", what, rec.Body)
		}
	}
}

// TestEvery503SaysWhenToComeBack: whichever handler answers 503, the
// client is told when to retry; a handler's own Retry-After stands, and
// other statuses get none.
func TestEvery503SaysWhenToComeBack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		status int
		want   string
	}{
		{"503", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, 503, retryAfterSeconds},
		{"503 with its own", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, 503, "30"},
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, 500, ""},
		{"200 by Write", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }, 200, ""},
	} {
		rec := httptest.NewRecorder()
		retryAfter(tc.h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.want {
			t.Errorf("%s: %d Retry-After %q, want %d %q", tc.name, rec.Code, rec.Header().Get("Retry-After"), tc.status, tc.want)
		}
	}
	var w http.ResponseWriter = &retryAfterWriter{ResponseWriter: httptest.NewRecorder()}
	if _, ok := serverWriter(w).(*httptest.ResponseRecorder); !ok {
		t.Error("serverWriter does not unwrap the Retry-After writer")
	}
}
