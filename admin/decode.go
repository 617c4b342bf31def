package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxBodyBytes bounds every JSON body of the API; the server's own limit is
// larger because it also covers the OAuth endpoints.
const maxBodyBytes = 64 << 10

const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

// readBody reads the bounded body after checking its media type. An empty
// body is returned as nil whatever the Content-Type.
func readBody(w http.ResponseWriter, r *http.Request, accept ...string) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, problemf(http.StatusRequestEntityTooLarge, "the body exceeds %d bytes", maxBodyBytes)
		}
		return nil, badField("", "the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	// Requiring a JSON media type also keeps out cross-site form posts, which
	// cannot send one without a CORS preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(accept, mt) {
		return nil, problemf(http.StatusUnsupportedMediaType, "the body must be %s", strings.Join(accept, " or "))
	}
	return body, nil
}

// decodeBody decodes a required JSON object body into v, refusing unknown
// fields, wrong types and trailing data with a 400 that names the field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r, mediaJSON)
	if err != nil {
		return err
	}
	if body == nil {
		return badField("", "a JSON body is required")
	}
	return decodeStrict(body, v, "")
}

// decodeOptionalBody is decodeBody for routes whose body may be omitted.
func decodeOptionalBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r, mediaJSON)
	if err != nil || body == nil {
		return err
	}
	return decodeStrict(body, v, "")
}

// decodeStrict decodes data into v; prefix names the enclosing field in
// error messages ("" at the top level).
func decodeStrict(data []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if dec.More() {
		return badField(prefix, "unexpected data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return badField(prefix, "unexpected data after the JSON value")
	}
	return nil
}

// jsonError names the field a decoding error is about, where it can.
func jsonError(err error, prefix string) error {
	join := func(field string) string {
		switch {
		case prefix == "":
			return field
		case field == "":
			return prefix
		}
		return prefix + "." + field
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var perr *time.ParseError
	switch {
	case errors.As(err, &syntax):
		return badField(prefix, fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return badField(prefix, "malformed JSON: unexpected end of input")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badField(prefix, "must be a JSON "+jsonKind(typ.Type.Kind().String()))
		}
		return badField(join(field), "must be a JSON "+jsonKind(typ.Type.Kind().String()))
	case errors.As(err, &perr):
		return badField(prefix, "must be an RFC 3339 date-time")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badField(join(strings.Trim(name, `"`)), "unknown field")
	}
	return badField(prefix, "malformed JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	}
	return "value of another type"
}

// mergePatch is a JSON merge patch (RFC 7396) object: its members, each
// either a value or null (remove / reset).
type mergePatch map[string]json.RawMessage

// decodeMergePatch reads a merge patch body (application/merge-patch+json,
// or application/json as many clients send).
func decodeMergePatch(w http.ResponseWriter, r *http.Request) (mergePatch, error) {
	body, err := readBody(w, r, mediaMergePatch, mediaJSON)
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, badField("", "a JSON merge patch body is required")
	}
	var m mergePatch
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, badField("", fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
		}
		return nil, badField("", "a merge patch must be a JSON object")
	}
	return m, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// fieldPatcher applies the members of a merge patch to typed fields. It
// remembers the first problem; fields it does not know are reported by
// unknown.
type fieldPatcher struct {
	m    mergePatch
	seen map[string]bool
	err  error
}

func newPatcher(m mergePatch) *fieldPatcher { return &fieldPatcher{m: m, seen: map[string]bool{}} }

// get returns the member's value, whether it is present, and whether it is
// null.
func (f *fieldPatcher) get(name string) (raw json.RawMessage, present, null bool) {
	raw, present = f.m[name]
	f.seen[name] = true
	return raw, present, present && isNull(raw)
}

func (f *fieldPatcher) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// str patches a string; null sets it to "" when clearable and is refused
// otherwise.
func (f *fieldPatcher) str(name string, clearable bool) *string {
	raw, present, null := f.get(name)
	switch {
	case !present:
		return nil
	case null && clearable:
		s := ""
		return &s
	case null:
		f.fail(invalidField(name, "must not be null"))
		return nil
	}
	var s string
	if err := decodeStrict(raw, &s, name); err != nil {
		f.fail(err)
		return nil
	}
	return &s
}

// strings patches a list; null empties it.
func (f *fieldPatcher) strings(name string) *[]string {
	raw, present, null := f.get(name)
	if !present {
		return nil
	}
	list := []string{}
	if !null {
		if err := decodeStrict(raw, &list, name); err != nil {
			f.fail(err)
			return nil
		}
		if list == nil {
			list = []string{}
		}
	}
	return &list
}

// boolean patches a boolean; null is refused.
func (f *fieldPatcher) boolean(name string) *bool {
	raw, present, null := f.get(name)
	switch {
	case !present:
		return nil
	case null:
		f.fail(invalidField(name, "must not be null"))
		return nil
	}
	var b bool
	if err := decodeStrict(raw, &b, name); err != nil {
		f.fail(err)
		return nil
	}
	return &b
}

// timestamp patches an optional RFC 3339 time: null clears it.
func (f *fieldPatcher) timestamp(name string) **time.Time {
	raw, present, null := f.get(name)
	if !present {
		return nil
	}
	var t *time.Time
	if !null {
		var s string
		if err := decodeStrict(raw, &s, name); err != nil {
			f.fail(err)
			return nil
		}
		parsed, err := parseTime(name, s)
		if err != nil {
			f.fail(err)
			return nil
		}
		t = &parsed
	}
	return &t
}

// optionalInt patches an optional integer: null clears it.
func (f *fieldPatcher) optionalInt(name string) **int {
	raw, present, null := f.get(name)
	if !present {
		return nil
	}
	var n *int
	if !null {
		var v int
		if err := decodeStrict(raw, &v, name); err != nil {
			f.fail(err)
			return nil
		}
		n = &v
	}
	return &n
}

// object merges the member into current per RFC 7396 (recursively); null
// resets it to {}.
func (f *fieldPatcher) object(name string, current json.RawMessage) *json.RawMessage {
	raw, present, null := f.get(name)
	if !present {
		return nil
	}
	out := json.RawMessage(`{}`)
	if !null {
		if !isObject(raw) {
			f.fail(badField(name, "must be a JSON object"))
			return nil
		}
		merged, err := mergeJSON(current, raw)
		if err != nil {
			f.fail(badField(name, "must be a JSON object"))
			return nil
		}
		out = merged
	}
	return &out
}

// readOnly refuses members the representation shows but a patch cannot
// change, saying where they are changed instead.
func (f *fieldPatcher) readOnly(why string, names ...string) {
	for _, name := range names {
		if _, present, _ := f.get(name); present {
			f.fail(invalidField(name, why))
		}
	}
}

// done reports the first problem, or a 400 for members nobody asked about.
func (f *fieldPatcher) done() error {
	if f.err != nil {
		return f.err
	}
	for name := range f.m {
		if !f.seen[name] {
			return badField(name, "unknown field")
		}
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// mergeJSON applies the merge patch patch to target (RFC 7396 section 2).
func mergeJSON(target, patch json.RawMessage) (json.RawMessage, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	var t any
	if len(bytes.TrimSpace(target)) > 0 {
		if err := json.Unmarshal(target, &t); err != nil {
			return nil, err
		}
	}
	return json.Marshal(mergeValue(t, p))
}

func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalidField(field, "must be an RFC 3339 date-time such as 2030-01-02T15:04:05Z")
	}
	return t, nil
}
