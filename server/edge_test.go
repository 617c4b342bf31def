package server

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestPlainTextRefusesWhatIsNotText: NUL, invalid UTF-8 and control
// characters in the path, the query or a form body (URL-encoded or
// multipart) are answered 400 in each surface's format before any handler
// runs; text, newlines in values included, reaches the handler with its body
// intact.
func TestPlainTextRefusesWhatIsNotText(t *testing.T) {
	faces := surfaces{base: "/auth", pages: fakePage{}}
	var got string
	h := faces.plainText(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			t.Errorf("parse the form after plainText: %v", err)
		}
		got = r.PostForm.Get("v")
		w.WriteHeader(http.StatusNoContent)
	}))
	multipartBody := func(value string) (string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		_ = mw.WriteField("v", value)
		_ = mw.Close()
		return buf.String(), mw.FormDataContentType()
	}
	form := "application/x-www-form-urlencoded"
	surfacesOf := []struct{ prefix, contentType, oauthCode string }{
		{"/auth/api/v1/users", "application/problem+json", ""},
		{"/auth/oauth2/token", "application/json", "invalid_request"},
		{"/auth/login", "text/html; charset=utf-8", ""},
	}
	cases := []struct {
		name                    string
		suffix, query           string
		body, contentType, want string // want: the value the handler sees; "" when refused
	}{
		{name: "NUL in the path", suffix: "/%00"},
		{name: "invalid UTF-8 in the path", suffix: "/%ff"},
		{name: "newline in the path", suffix: "/a%0ab"},
		{name: "NUL in a query value", query: "q=%00"},
		{name: "invalid UTF-8 in a query value", query: "client_id=%c3"},
		{name: "NUL in a query name", query: "%00=x"},
		{name: "NUL in a form value", body: "v=%00", contentType: form},
		{name: "invalid UTF-8 in a form value", body: "v=a%ffb", contentType: form},
		{name: "control character in a form value", body: "v=a%01b", contentType: form},
		{name: "NUL in a multipart value", body: "\x00", contentType: "multipart"},
		{name: "text", query: "q=caf%C3%A9", body: "v=one%0D%0Atwo%09three", contentType: form, want: "one\r\ntwo\tthree"},
		{name: "text, multipart", body: "été", contentType: "multipart", want: "été"},
	}
	for _, s := range surfacesOf {
		for _, tc := range cases {
			t.Run(s.prefix+": "+tc.name, func(t *testing.T) {
				body, ct := tc.body, tc.contentType
				if ct == "multipart" {
					body, ct = multipartBody(tc.body)
				}
				target := s.prefix + tc.suffix
				if tc.query != "" {
					target += "?" + tc.query
				}
				req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				got = ""
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if tc.want != "" {
					if rec.Code != http.StatusNoContent || got != tc.want {
						t.Fatalf("status %d, handler saw %q; want 204 and %q\n%s", rec.Code, got, tc.want, rec.Body)
					}
					return
				}
				if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != s.contentType {
					t.Fatalf("status %d %q, want 400 %q\n%s", rec.Code, rec.Header().Get("Content-Type"), s.contentType, rec.Body)
				}
				checkBody(t, tc.name, rec, s.oauthCode, http.StatusBadRequest)
			})
		}
	}
}

// timeoutBody fails as a connection past its read deadline does.
type timeoutBody struct{}

func (timeoutBody) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }
func (timeoutBody) Close() error             { return nil }

// TestPlainTextAnswersABodyThatDoesNotArrive: a form body cut by the read
// timeout is 408 (with the connection closed), one that fails otherwise
// 400, one over the limit 413, each in the surface's format: never a
// handler's guess at a truncated form.
func TestPlainTextAnswersABodyThatDoesNotArrive(t *testing.T) {
	faces := surfaces{base: "", pages: fakePage{}}
	reached := false
	h := faces.limitBody(64, faces.plainText(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached = true
	})))
	for _, tc := range []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"read timeout", timeoutBody{}, http.StatusRequestTimeout},
		{"broken body", io.MultiReader(strings.NewReader("grant_type="), errReader{}), http.StatusBadRequest},
		{"too large, undeclared", strings.NewReader(strings.Repeat("a", 65)), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached = false
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", tc.body)
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || reached {
				t.Fatalf("status %d (handler reached: %v), want %d\n%s", rec.Code, reached, tc.status, rec.Body)
			}
			checkBody(t, tc.name, rec, "invalid_request", tc.status)
			if tc.status == http.StatusRequestTimeout && rec.Header().Get("Connection") != "close" {
				t.Errorf("Connection = %q, want close", rec.Header().Get("Connection"))
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
