package formbody

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type countingBody struct {
	io.Reader
	reads int
}

func (c *countingBody) Read(p []byte) (int, error) { c.reads++; return c.Reader.Read(p) }
func (c *countingBody) Close() error               { return nil }

func TestReadOnceAndPutBack(t *testing.T) {
	const body = "a=1&b=2&b=3"
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	cb := &countingBody{Reader: strings.NewReader(body)}
	r.Body = cb
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, v, err := Read(r, 0)
	if err != nil || v.Get("a") != "1" || len(v["b"]) != 2 {
		t.Fatalf("Read = %v, %v", v, err)
	}
	reads := cb.reads
	// A second reader down the chain gets the same values without reading.
	_, v2, err := Read(r, 1<<20)
	if err != nil || len(v2["b"]) != 2 || cb.reads != reads {
		t.Fatalf("second Read = %v, %v after %d more reads", v2, err, cb.reads-reads)
	}
	// The handler still reads every byte.
	if rest, _ := io.ReadAll(r.Body); string(rest) != body {
		t.Errorf("body for the handler %q, want %q", rest, body)
	}
	// A limit below what the first reader parsed still refuses.
	if _, _, err := Read(r, 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read with a smaller limit = %v, want ErrTooLarge", err)
	}
}

func TestReadLimitsAndFailures(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("a="+strings.Repeat("x", 100)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r2, _, err := Read(r, 10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if rest, _ := io.ReadAll(r2.Body); len(rest) != 102 {
		t.Errorf("body for the handler is %d bytes, want all 102", len(rest))
	}

	w := httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("a=1&padding=xxxxxxxx"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Body = http.MaxBytesReader(w, r.Body, 5)
	var tooBig *http.MaxBytesError
	if _, _, err := Read(r, 0); !errors.As(err, &tooBig) {
		t.Errorf("a failing body: %v, want its read error", err)
	}

	for _, tc := range []struct{ method, ct string }{{http.MethodGet, "application/x-www-form-urlencoded"}, {http.MethodPost, "application/json"}} {
		r := httptest.NewRequest(tc.method, "/x", strings.NewReader("a=1"))
		r.Header.Set("Content-Type", tc.ct)
		if _, v, err := Read(r, 0); err != nil || v != nil {
			t.Errorf("%s %s: %v %v, want no form", tc.method, tc.ct, v, err)
		}
	}

	r = httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--zz--\r\n"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=zz")
	if _, v, err := Read(r, 0); err != nil || v.Get("a") != "1" {
		t.Errorf("multipart: %v %v", v, err)
	}
}

func TestQuotable(t *testing.T) {
	for name, want := range map[string]bool{"client_id": true, "a.b:c-d": true, "": false, "a b": false, "x\"y": false, strings.Repeat("a", 65): false} {
		if Quotable(name) != want {
			t.Errorf("Quotable(%q) = %v", name, !want)
		}
	}
}
