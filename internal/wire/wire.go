// Package wire is a compact binary encoding of the values a stored token
// request holds (strings, lists, times, JSON-like values), written and read
// without reflection. It exists because the request row is read and
// written on every token, refresh and introspection miss: encoding/json
// spent a fifth of a refresh's CPU on it, and PostgreSQL more again parsing
// jsonb.
//
// Lengths and counts are uvarints. A "nilable" count is 0 for nil and n+1
// for n elements, so that nil and empty survive the round trip as JSON's
// null and [] do. A Reader never panics on its input: the first malformed
// or truncated field sets its error, and every later read returns zero
// values.
package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Writer appends encoded fields to a buffer.
type Writer struct {
	buf []byte
	err error
}

// NewWriter returns a Writer whose buffer starts with capacity n.
func NewWriter(n int) *Writer { return &Writer{buf: make([]byte, 0, n)} }

// Bytes returns the encoding, or the first error a value could not be
// encoded with.
func (w *Writer) Bytes() ([]byte, error) { return w.buf, w.err }

// Byte writes one byte.
func (w *Writer) Byte(b byte) { w.buf = append(w.buf, b) }

// Uvarint writes n.
func (w *Writer) Uvarint(n uint64) { w.buf = binary.AppendUvarint(w.buf, n) }

// Varint writes n.
func (w *Writer) Varint(n int64) { w.buf = binary.AppendVarint(w.buf, n) }

// String writes s with its length.
func (w *Writer) String(s string) {
	w.Uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// Blob writes b with its length.
func (w *Writer) Blob(b []byte) {
	w.Uvarint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

// Strings writes a list, nil and empty told apart.
func (w *Writer) Strings(ss []string) {
	if ss == nil {
		w.Uvarint(0)
		return
	}
	w.Uvarint(uint64(len(ss)) + 1)
	for _, s := range ss {
		w.String(s)
	}
}

// Nilable writes the nilable count of a collection of n elements.
func (w *Writer) Nilable(isNil bool, n int) {
	if isNil {
		w.Uvarint(0)
		return
	}
	w.Uvarint(uint64(n) + 1)
}

// Time writes t to the nanosecond with its zone's offset (its monotonic
// reading and zone name are dropped, as JSON drops them). The zero time is
// one byte.
func (w *Writer) Time(t time.Time) {
	if t.IsZero() {
		w.Byte(0)
		return
	}
	_, offset := t.Zone()
	w.Byte(1)
	w.Varint(t.Unix())
	w.Uvarint(uint64(t.Nanosecond()))
	w.Varint(int64(offset))
}

// Value kinds, the tags of Writer.Value.
const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagString
	tagNumber
	tagArray
	tagObject
	// tagJSON is a value of any other Go type, as encoding/json writes
	// it: it is read back as encoding/json would read it.
	tagJSON
)

// maxDepth bounds how deeply values nest, writing and reading.
const maxDepth = 32

// Value writes v so that Reader.Value returns what encoding/json would
// return for v marshalled and unmarshalled into an interface{}: numbers
// become float64, lists []interface{}, objects map[string]interface{}.
func (w *Writer) Value(v any) { w.value(v, 0) }

func (w *Writer) value(v any, depth int) {
	if depth > maxDepth {
		w.fail(errors.New("wire: value nested too deeply"))
		return
	}
	switch v := v.(type) {
	case nil:
		w.Byte(tagNull)
	case bool:
		if v {
			w.Byte(tagTrue)
		} else {
			w.Byte(tagFalse)
		}
	case string:
		w.Byte(tagString)
		w.String(v)
	case float64:
		w.number(v)
	case int:
		w.number(float64(v))
	case int64:
		w.number(float64(v))
	case int32:
		w.number(float64(v))
	case uint64:
		w.number(float64(v))
	case uint32:
		w.number(float64(v))
	case []string:
		if v == nil {
			w.Byte(tagNull)
			return
		}
		w.Byte(tagArray)
		w.Uvarint(uint64(len(v)))
		for _, s := range v {
			w.Byte(tagString)
			w.String(s)
		}
	case []any:
		if v == nil {
			w.Byte(tagNull)
			return
		}
		w.Byte(tagArray)
		w.Uvarint(uint64(len(v)))
		for _, e := range v {
			w.value(e, depth+1)
		}
	case map[string]any:
		if v == nil {
			w.Byte(tagNull)
			return
		}
		w.Byte(tagObject)
		w.Uvarint(uint64(len(v)))
		for k, e := range v {
			w.String(k)
			w.value(e, depth+1)
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			w.fail(fmt.Errorf("wire: value of type %T: %w", v, err))
			return
		}
		w.Byte(tagJSON)
		w.Blob(b)
	}
}

// number writes f as JSON would, which refuses NaN and the infinities.
func (w *Writer) number(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.fail(fmt.Errorf("wire: unsupported number %v", f))
		return
	}
	w.Byte(tagNumber)
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(f))
}

// Map writes a JSON-like object (nil kept apart from empty).
func (w *Writer) Map(m map[string]any) {
	if m == nil {
		w.Uvarint(0)
		return
	}
	w.Uvarint(uint64(len(m)) + 1)
	for k, v := range m {
		w.String(k)
		w.value(v, 1)
	}
}

// Fail records err (what the caller cannot encode) unless an error is
// recorded: Bytes returns it.
func (w *Writer) Fail(err error) { w.fail(err) }

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Reader reads fields in the order they were written.
type Reader struct {
	buf []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// ErrMalformed is wrapped by every error of a Reader.
var ErrMalformed = errors.New("wire: malformed encoding")

// Err returns the first error so far.
func (r *Reader) Err() error { return r.err }

// End returns the first error, or, if the whole input was not read, that.
func (r *Reader) End() error {
	if r.err == nil && len(r.buf) != 0 {
		return fmt.Errorf("%w: %d bytes left over", ErrMalformed, len(r.buf))
	}
	return r.err
}

// Fail sets the error (what is wrong with the input) unless one is set:
// for checks of the caller's, on what it has read.
func (r *Reader) Fail(what string) { r.fail(what) }

func (r *Reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, what)
		r.buf = nil
	}
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.buf) < 1 {
		r.fail("truncated")
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

// Uvarint reads an unsigned number.
func (r *Reader) Uvarint() uint64 {
	n, k := binary.Uvarint(r.buf)
	if k <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.buf = r.buf[k:]
	return n
}

// Varint reads a signed number.
func (r *Reader) Varint() int64 {
	n, k := binary.Varint(r.buf)
	if k <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[k:]
	return n
}

// Count reads a count of elements that what follows must be able to
// hold, each taking at least one byte.
func (r *Reader) Count() int { return r.count() }

func (r *Reader) count() int {
	n := r.Uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("count beyond the input")
		return 0
	}
	return int(n)
}

// Nilable reads a nilable count: isNil for nil, else the number of
// elements.
func (r *Reader) Nilable() (n int, isNil bool) {
	c := r.Uvarint()
	if c == 0 {
		return 0, r.err == nil
	}
	if c-1 > uint64(len(r.buf)) {
		r.fail("count beyond the input")
		return 0, false
	}
	return int(c - 1), false
}

// String reads a string.
func (r *Reader) String() string {
	n := r.count()
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

// Blob reads bytes (a copy).
func (r *Reader) Blob() []byte {
	n := r.count()
	b := append([]byte(nil), r.buf[:n]...)
	r.buf = r.buf[n:]
	return b
}

// Strings reads a list.
func (r *Reader) Strings() []string {
	n, isNil := r.Nilable()
	if isNil || r.err != nil {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.String()
	}
	if r.err != nil {
		return nil
	}
	return ss
}

// Time reads a time: in UTC when its offset was 0, else in a fixed zone of
// that offset, as encoding/json reads RFC 3339 times.
func (r *Reader) Time() time.Time {
	switch r.Byte() {
	case 0:
		return time.Time{}
	case 1:
	default:
		r.fail("bad time")
		return time.Time{}
	}
	sec, nsec, offset := r.Varint(), r.Uvarint(), r.Varint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 || offset <= -24*3600 || offset >= 24*3600 {
		r.fail("bad time")
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if offset == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(offset)))
}

// Value reads what Writer.Value wrote.
func (r *Reader) Value() any { return r.value(0) }

func (r *Reader) value(depth int) any {
	if depth > maxDepth {
		r.fail("value nested too deeply")
		return nil
	}
	switch r.Byte() {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagString:
		return r.String()
	case tagNumber:
		if len(r.buf) < 8 {
			r.fail("truncated number")
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.buf))
		r.buf = r.buf[8:]
		return f
	case tagArray:
		n := r.count()
		a := make([]any, 0, n)
		for range n {
			a = append(a, r.value(depth+1))
		}
		return a
	case tagObject:
		return r.object(r.count(), depth+1)
	case tagJSON:
		var v any
		if err := json.Unmarshal(r.Blob(), &v); err != nil && r.err == nil {
			r.fail("bad JSON value")
		}
		return v
	default:
		if r.err == nil {
			r.fail("unknown value tag")
		}
		return nil
	}
}

func (r *Reader) object(n, depth int) map[string]any {
	m := make(map[string]any, n)
	for range n {
		k := r.String()
		m[k] = r.value(depth)
	}
	return m
}

// Map reads what Writer.Map wrote.
func (r *Reader) Map() map[string]any {
	n, isNil := r.Nilable()
	if isNil || r.err != nil {
		return nil
	}
	m := r.object(n, 1)
	if r.err != nil {
		return nil
	}
	return m
}
