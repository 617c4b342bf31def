package logbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "abc", 8, "abc"},
		{"exact", "abcdefgh", 8, "abcdefgh"},
		{"long keeps head and tail", "0123456789abcdefghij", 8, "012345…(cut 12 bytes)…ij"},
		// A rune is never split: é is two bytes.
		{"runes", strings.Repeat("é", 10), 8, "ééé…(cut 12 bytes)…é"},
		{"runes, off by one", "a" + strings.Repeat("é", 10), 8, "aéé…(cut 14 bytes)…é"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Cut(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("Cut(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Cut split a rune: %q", got)
			}
		})
	}
}

// TestHandlerBoundsEveryValue: a megabyte in any kind of value, in the
// message, in With attributes or in a group never makes a long line; the
// cut is marked; numbers and short values are untouched; Whole is whole.
func TestHandlerBoundsEveryValue(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(New(slog.NewJSONHandler(&buf, nil), Max))
	huge := strings.Repeat("x", 1<<20)

	logger.With("with", huge).WithGroup("g").Info("msg "+huge,
		"string", huge,
		"error", errors.New("wrapped: "+huge),
		"list", []string{huge},
		"bytes", []byte(huge),
		"group", slog.GroupValue(slog.String("inner", huge)),
		"count", 42,
		"short", []string{"a", "b"},
		"stack", Whole(strings.Repeat("s", 1000)),
	)
	line := buf.String()
	if len(line) > 4000+1000 {
		t.Fatalf("log line of %d bytes", len(line))
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	if m := got["msg"].(string); !strings.Contains(m, "…(cut ") || len(m) > Max+40 {
		t.Errorf("msg = %q", m)
	}
	if w := got["with"].(string); !strings.Contains(w, "…(cut ") {
		t.Errorf("with = %q", w)
	}
	g := got["g"].(map[string]any)
	for _, k := range []string{"string", "error", "list", "bytes"} {
		if s, _ := g[k].(string); !strings.Contains(s, "…(cut ") || len(s) > Max+40 {
			t.Errorf("%s = %.100q (%d bytes), want it cut", k, s, len(s))
		}
	}
	if s := g["group"].(map[string]any)["inner"].(string); !strings.Contains(s, "…(cut ") {
		t.Errorf("group.inner not cut")
	}
	if !strings.HasPrefix(g["error"].(string), "wrapped: ") {
		t.Errorf("error lost its head: %.40q", g["error"])
	}
	if g["count"] != float64(42) {
		t.Errorf("count = %v", g["count"])
	}
	if s, ok := g["short"].([]any); !ok || len(s) != 2 {
		t.Errorf("short = %#v, want the list kept", g["short"])
	}
	if s := g["stack"].(string); len(s) != 1000 {
		t.Errorf("stack has %d bytes, want 1000", len(s))
	}
}

func TestNewDoesNotWrapTwice(t *testing.T) {
	h := New(slog.DiscardHandler, Max)
	if New(h, Max) != h {
		t.Errorf("New wrapped its own handler again")
	}
}
