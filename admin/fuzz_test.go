package admin

// Fuzz targets for what the resource API decodes from a request: JSON
// bodies (decode.go), merge patches and cursors (pagination.go). They call
// the decoders as the handlers do, with httptest requests.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse/gatehouse/domain"
)

// apiStatus returns the status of an *apiError, failing on any other error.
func apiStatus(t *testing.T, err error, allowed ...int) *apiError {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("%T %v, want an *apiError", err, err)
	}
	if !slices.Contains(allowed, ae.problem.Status) {
		t.Fatalf("status %d (%v), want one of %v", ae.problem.Status, err, allowed)
	}
	return ae
}

func jsonRequest(contentType string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/x", bytes.NewReader(body))
	if httpguts.ValidHeaderFieldValue(contentType) {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// FuzzDecodeBody decodes bodies into the inputs of the create endpoints: a
// body is refused with 400, 413 or 415, or decodes to a value that survives
// a round trip.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","email":"a@example.com","password":"x","goals":["a"],"preferences":{"theme":"dark"},"expires_at":"2030-01-02T03:04:05Z"}`,
		`{"client_id":"web","redirect_uris":["https://rp.example/cb"],"scope":"openid","jwks":{"keys":[]},"lifetimes":{"access_token":"1h"},"created_at":"2030-01-02T03:04:05Z"}`,
		`{"roles":null}`, `{"roles":["a","b"]}`, `{"lifetimes":{"access_token":"-1h"}}`, `{"lifetimes":{"id_token":"9999999999h"}}`,
		`{"username":1}`, `{"goals":"a"}`, `{"preferences":[1]}`, `{"nope":1}`, `{"username":"a"} {}`, `{"username":"a"`,
		`{"username":"\u0000\ud800"}`, "{\"username\":\"\xff\"}", `[]`, `null`, ` `, `{"created_at":"yesterday"}`,
	} {
		f.Add(mediaJSON, []byte(s))
	}
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/json; charset=utf-8", []byte(`{}`))
	f.Add("application/json; =", []byte(`{}`))
	f.Add(mediaJSON, bytes.Repeat([]byte(" "), maxBodyBytes+1))
	targets := []func() any{
		func() any { return &userInput{} },
		func() any { return &ClientView{} },
		func() any {
			return &struct {
				Roles *[]string `json:"roles"`
			}{}
		},
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		for _, target := range targets {
			v := target()
			err := decodeBody(httptest.NewRecorder(), jsonRequest(contentType, body), v)
			if err != nil {
				apiStatus(t, err, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
				continue
			}
			data, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T decoded from %q does not encode: %v", v, body, err)
			}
			again := target()
			if err := decodeStrict(data, again, ""); err != nil {
				t.Fatalf("%T: its own encoding %s is refused: %v", v, data, err)
			}
			if data2, _ := json.Marshal(again); !bytes.Equal(data, data2) {
				t.Fatalf("%T: round trip changed %s into %s", v, data, data2)
			}
			if cv, ok := v.(*ClientView); ok {
				// The domain's validation vocabulary: a 422 naming the field.
				if _, err := cv.ToClient(); err != nil {
					if _, ok := domain.AsValidation(err); !ok {
						t.Fatalf("ToClient: %T %v, want a validation error", err, err)
					}
				}
			}
		}
	})
}

// FuzzMergePatch reads a merge patch and applies it as PATCH /users/{id}
// does, over a current preferences object: a refusal is a 400, 415 or 422,
// and merged preferences are an object that the same patch leaves as it is
// (RFC 7396 patches are idempotent).
func FuzzMergePatch(f *testing.F) {
	for _, s := range [][2]string{
		{`{"full_name":"A","goals":["x"],"preferences":{"theme":"dark","lang":null},"email_verified":true,"expires_at":null}`, `{"theme":"light","lang":"en"}`},
		{`{"preferences":{"a":{"b":{"c":null}}}}`, `{"a":{"b":{"c":1,"d":2}}}`},
		{`{"preferences":null}`, `{"a":1}`},
		{`{"preferences":[1]}`, `{}`},
		{`{"preferences":{"n":1e400}}`, `{}`},
		{`{"preferences":{"n":12345678901234567890}}`, `{"n":1}`},
		{`{"username":null}`, `{}`},
		{`{"expires_at":"2030-01-02T03:04:05+02:00"}`, `{}`},
		{`{"expires_at":"soon"}`, `{}`},
		{`{"status":"active","id":"x"}`, `{}`},
		{`{"goals":null,"department":null}`, `{}`},
		{`{"unknown":1}`, `{}`},
		{`[]`, `{}`}, {`null`, `{}`}, {`{`, `{}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, body, current []byte) {
		if !isObject(current) {
			current = []byte(`{}`) // the store keeps an object
		}
		m, err := decodeMergePatch(httptest.NewRecorder(), jsonRequest(mediaMergePatch, body))
		if err != nil {
			apiStatus(t, err, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
			return
		}
		p := newPatcher(m)
		p.str("username", false)
		p.str("full_name", true)
		p.strings("goals")
		prefs := p.object("preferences", current)
		p.boolean("email_verified")
		p.timestamp("expires_at")
		p.readOnly("is changed with PUT /users/{id}/status", "status")
		p.readOnly("is read-only", userReadOnly()...)
		if err := p.done(); err != nil {
			apiStatus(t, err, http.StatusBadRequest, http.StatusUnprocessableEntity)
			return
		}
		if prefs == nil {
			return
		}
		if !isObject(*prefs) {
			t.Fatalf("merged preferences are no object: %s", *prefs)
		}
		patch := m["preferences"]
		if isNull(patch) {
			return
		}
		twice, err := mergeJSON(*prefs, patch)
		if err != nil || !bytes.Equal(twice, *prefs) {
			t.Fatalf("the patch applied twice gives %s (%v), once %s", twice, err, *prefs)
		}
	})
}

// FuzzCursor reads ?limit= and ?cursor= and pages a list of keys with them,
// both in memory and as a keyset query would: a page never holds more than
// the limit nor a key at or before the cursor, its cursor names its last
// key, and following the cursors from the first page visits every key once.
func FuzzCursor(f *testing.F) {
	for _, s := range [][2]string{
		{"limit=2&cursor=" + encodeCursor("b"), "a,b,c,d,e"},
		{"limit=1", "x"},
		{"limit=200&cursor=" + encodeCursor("\x00"), "a"},
		{"limit=0", ""}, {"limit=201", ""}, {"limit=-1", ""}, {"limit=1e3", ""}, {"limit=%00", ""},
		{"cursor=", "a"}, {"cursor=***", "a"}, {"cursor=YQ==", "a"}, {"cursor=" + strings.Repeat("A", 5000), "a"},
		{"cursor=" + encodeCursor("\xff\xfe"), "\xff,\xfe,a"},
		{"limit=1&limit=2&cursor=a&cursor=b", "a,b"},
		{"%zz&limit=3", "c,b,a,c"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rawQuery, keyList string) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/x", nil)
		r.URL = &url.URL{Path: "/api/v1/x", RawQuery: rawQuery}
		p, err := pageParams(r)
		if err != nil {
			ae := apiStatus(t, err, http.StatusUnprocessableEntity)
			if len(ae.problem.Errors) != 1 || (ae.problem.Errors[0].Field != "limit" && ae.problem.Errors[0].Field != "cursor") {
				t.Fatalf("refusal names %v, want limit or cursor", ae.problem.Errors)
			}
			return
		}
		if p.Limit < 1 || p.Limit > maxLimit {
			t.Fatalf("limit %d", p.Limit)
		}
		if p.Cursor != "" {
			back, err := pageParams(httptest.NewRequest(http.MethodGet, "/api/v1/x?cursor="+encodeCursor(p.Cursor), nil))
			if err != nil || back.Cursor != p.Cursor {
				t.Fatalf("cursor %q does not come back from its encoding: %q, %v", p.Cursor, back.Cursor, err)
			}
		}
		// Keys are unique and never empty (ids and names).
		var keys []string
		for _, k := range strings.Split(keyList, ",") {
			if k != "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		id := func(s string) string { return s }
		keyset := func(p page) List[string] {
			var after []string
			for _, k := range keys {
				if k > p.Cursor {
					after = append(after, k)
				}
			}
			slices.Sort(after)
			return finish(p, after[:min(len(after), p.fetchLimit())], id)
		}
		inMemory := func(p page) List[string] { return pageInMemory(p, keys, id) }
		for name, pageOf := range map[string]func(page) List[string]{"keyset": keyset, "in memory": inMemory} {
			checkPage(t, name, p, pageOf(p))
			// From the first page on, the cursors visit every key once.
			var seen []string
			next := page{Limit: p.Limit}
			for range len(keys) + 2 {
				l := pageOf(next)
				checkPage(t, name, next, l)
				seen = append(seen, l.Items...)
				if l.NextCursor == "" {
					break
				}
				b, _ := base64.RawURLEncoding.DecodeString(l.NextCursor)
				next.Cursor = string(b)
			}
			want := slices.Sorted(slices.Values(keys))
			if !slices.Equal(seen, want) && !(len(seen) == 0 && len(want) == 0) {
				t.Fatalf("%s: paging by %d visits %q, want %q", name, p.Limit, seen, want)
			}
		}
	})
}

func checkPage(t *testing.T, name string, p page, l List[string]) {
	t.Helper()
	if l.Items == nil || len(l.Items) > p.Limit {
		t.Fatalf("%s: %d items for limit %d", name, len(l.Items), p.Limit)
	}
	if !slices.IsSorted(l.Items) {
		t.Fatalf("%s: items out of order: %q", name, l.Items)
	}
	if len(l.Items) > 0 && p.Cursor != "" && l.Items[0] <= p.Cursor {
		t.Fatalf("%s: item %q at or before the cursor %q", name, l.Items[0], p.Cursor)
	}
	if l.NextCursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(l.NextCursor)
		if err != nil || len(l.Items) == 0 || string(b) != l.Items[len(l.Items)-1] {
			t.Fatalf("%s: next cursor %q does not name the last item of %q", name, l.NextCursor, l.Items)
		}
	}
}
