package wire

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// Value reads back what encoding/json reads back, for every kind of value
// a claim may hold.
func TestValueDecodesAsJSONDoes(t *testing.T) {
	at := time.Date(2026, 12, 7, 23, 4, 5, 6, time.FixedZone("CET", 3600))
	values := []any{
		nil, true, false, "", "Zoë ✓\x00", 0.0, -0.0, 1.5, math.MaxFloat64, 42, int64(-1 << 60),
		uint64(math.MaxUint64), uint32(7), int32(-7), float32(0.1),
		[]string{}, []string(nil), []string{"a", "b"}, []any{}, []any{1, "x", nil, []any{true}},
		map[string]any{}, map[string]any(nil), map[string]any{"k": map[string]any{"n": []string{"v"}}},
		map[string]string{"a": "b"}, json.Number("12345678901234567890"), at, struct {
			A string `json:"a"`
		}{"x"},
	}
	for _, v := range values {
		w := NewWriter(0)
		w.Value(v)
		b, err := w.Bytes()
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		r := NewReader(b)
		got := r.Value()
		if err := r.End(); err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(js, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%#v read back as %#v, JSON reads %#v", v, got, want)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), func() {}} {
		w := NewWriter(0)
		w.Value(bad)
		if _, err := w.Bytes(); err == nil {
			t.Errorf("%v encoded; JSON refuses it", bad)
		}
	}
}

// Times keep their instant and offset; nil and empty lists and maps stay
// apart.
func TestFieldsRoundTrip(t *testing.T) {
	times := []time.Time{{}, time.Unix(0, 0).UTC(), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2026, 12, 7, 23, 4, 5, 999999999, time.FixedZone("", -7*3600))}
	w := NewWriter(0)
	for _, tm := range times {
		w.Time(tm)
	}
	w.Strings(nil)
	w.Strings([]string{})
	w.Map(nil)
	w.Map(map[string]any{})
	w.String("s")
	w.Blob([]byte{0, 1})
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(b)
	for _, want := range times {
		if got := r.Time(); !got.Equal(want) || got.IsZero() != want.IsZero() {
			t.Errorf("time %v read back as %v", want, got)
		} else if _, wo := want.Zone(); !want.IsZero() {
			if _, go_ := got.Zone(); go_ != wo {
				t.Errorf("time %v: offset %d, want %d", want, go_, wo)
			}
		}
	}
	if s := r.Strings(); s != nil {
		t.Errorf("nil list read back as %#v", s)
	}
	if s := r.Strings(); s == nil || len(s) != 0 {
		t.Errorf("empty list read back as %#v", s)
	}
	if m := r.Map(); m != nil {
		t.Errorf("nil map read back as %#v", m)
	}
	if m := r.Map(); m == nil || len(m) != 0 {
		t.Errorf("empty map read back as %#v", m)
	}
	if s, bl := r.String(), r.Blob(); s != "s" || len(bl) != 2 || bl[1] != 1 {
		t.Errorf("string %q, blob %x", s, bl)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
}

// Every prefix of an encoding, and counts that promise more than the input
// holds, are errors, not panics nor huge allocations.
func TestMalformedInput(t *testing.T) {
	w := NewWriter(0)
	w.Value(map[string]any{"a": []any{"b", 1.0, map[string]any{"c": true}}})
	w.Strings([]string{"x", "y"})
	w.Time(time.Now())
	b, _ := w.Bytes()
	for i := range len(b) {
		r := NewReader(b[:i])
		r.Value()
		r.Strings()
		r.Time()
		if err := r.End(); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d bytes: %v", i, err)
		}
	}
	huge := NewWriter(0)
	huge.Byte(tagArray)
	huge.Uvarint(1 << 62)
	hb, _ := huge.Bytes()
	r := NewReader(hb)
	if r.Value(); r.End() == nil {
		t.Error("a count beyond the input was read")
	}
	deep := []byte{}
	for range maxDepth + 2 {
		deep = append(deep, tagArray, 1)
	}
	deep = append(deep, tagNull)
	r = NewReader(deep)
	if r.Value(); r.End() == nil {
		t.Error("values nested beyond the bound were read")
	}
	r = NewReader([]byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0})
	if r.Time(); r.End() == nil {
		t.Error("nanoseconds beyond a second were read")
	}
}
