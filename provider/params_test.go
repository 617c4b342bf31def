package provider

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestRepeatedParams: the query and the form body count together, empty
// values count, resource and audience may repeat, and the handler reads the
// body as it was sent.
func TestRepeatedParams(t *testing.T) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("scope", "a")
	_ = mw.WriteField("scope", "b")
	fw, _ := mw.CreateFormFile("client_id", "f.txt") // a file is no parameter
	_, _ = fw.Write([]byte("x"))
	_ = mw.WriteField("client_id", "c")
	_ = mw.Close()

	cases := []struct {
		name, method, query, contentType, body string
		want                                   []string
	}{
		{"none", "POST", "", "application/x-www-form-urlencoded", "a=1&b=2", nil},
		{"body twice", "POST", "", "application/x-www-form-urlencoded", "b=1&a=1&b=1", []string{"b"}},
		{"empty values", "POST", "", "application/x-www-form-urlencoded", "a=&a", []string{"a"}},
		{"query and body", "POST", "a=1", "application/x-www-form-urlencoded", "a=1", []string{"a"}},
		{"query twice, sorted", "GET", "z=1&y=&z=2&y=", "", "", []string{"y", "z"}},
		{"repeatable", "POST", "resource=x", "application/x-www-form-urlencoded", "resource=y&audience=a&audience=b", nil},
		{"content type with parameters", "POST", "", "application/x-www-form-urlencoded; charset=utf-8", "a=1&a=2", []string{"a"}},
		{"multipart", "POST", "", mw.FormDataContentType(), mp.String(), []string{"scope"}},
		{"body of a GET is not a form", "GET", "a=1", "application/x-www-form-urlencoded", "a=1", nil},
		{"not a form", "POST", "a=1", "application/json", `{"a":1}`, nil},
		{"malformed pairs skipped", "POST", "", "application/x-www-form-urlencoded", "a=%zz&a=1&b=1&b=2", []string{"b"}},
		{"malformed multipart left to the handler", "POST", "", "multipart/form-data; boundary=zz", "a=1&a=2", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/x?"+tc.query, strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			r, got, err := repeatedParams(r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("repeated %q, want %q", got, tc.want)
			}
			rest, err := io.ReadAll(r.Body)
			if err != nil || string(rest) != tc.body {
				t.Errorf("body after the check: %q (%v), want %q", rest, err, tc.body)
			}
		})
	}

	t.Run("too large", func(t *testing.T) {
		body := "a=" + strings.Repeat("x", maxParamsBody)
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, _, err := repeatedParams(r); err == nil {
			t.Fatal("no error for a body over the limit")
		}
	})
	t.Run("read error is the handler's", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("a=1&a=2&padding=xxxxxxxx"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Body = http.MaxBytesReader(w, r.Body, 8)
		_, got, err := repeatedParams(r)
		if err != nil || len(got) != 0 {
			t.Fatalf("repeated %q err %v, want neither", got, err)
		}
		if err := r.ParseForm(); err == nil {
			t.Error("the handler's parse succeeded on a body over the server's limit")
		}
	})
}
