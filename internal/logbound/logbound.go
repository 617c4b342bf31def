package logbound

import (
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// Max is the default bound of one value, in bytes: room for an error chain
// with its ids, far less than anything worth writing to a log a thousand
// times.
const Max = 256

// Whole is a value our own code produced and that is long on purpose (a
// panic's stack trace): it is logged in full.
type Whole string

// New returns a handler that passes records to next with every attribute
// value, group member and the message cut to at most max bytes (plus the
// mark saying so). Strings, errors and values whose formatting is too long
// are cut; numbers, booleans, times and short values pass as they are.
// Wrapping a handler New made with a bound at least as tight changes nothing.
func New(next slog.Handler, max int) slog.Handler {
	if h, ok := next.(*handler); ok && h.max <= max {
		return h
	}
	return &handler{next: next, max: max}
}

type handler struct {
	next slog.Handler
	max  int
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Cut(r.Message, h.max), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	bounded := make([]slog.Attr, len(as))
	for i, a := range as {
		bounded[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(bounded), max: h.max}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(Cut(name, h.max)), max: h.max}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	a.Key = Cut(a.Key, h.max)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Cut(v.String(), h.max))
	case slog.KindGroup:
		members := v.Group()
		bounded := make([]slog.Attr, len(members))
		for i, m := range members {
			bounded[i] = h.attr(m)
		}
		a.Value = slog.GroupValue(bounded...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case Whole:
			a.Value = slog.StringValue(string(x))
		case error:
			a.Value = slog.StringValue(Cut(x.Error(), h.max))
		case []byte:
			// Formatted, bytes would grow fourfold; as text they are cut.
			if len(x) > h.max {
				a.Value = slog.StringValue(Cut(string(x), h.max))
			} else {
				a.Value = v
			}
		default:
			// Structured values keep their form unless their text is too
			// long, when the text, cut, replaces them.
			if s := fmt.Sprint(x); len(s) > h.max {
				a.Value = slog.StringValue(Cut(s, h.max))
			} else {
				a.Value = v
			}
		}
	default:
		a.Value = v
	}
	return a
}

// Cut returns s if it has at most max bytes; otherwise its beginning and
// its end (the context and the cause of an error chain) around a mark that
// says how many bytes were cut, in at most max bytes plus the mark.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head := max * 3 / 4
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - (max - head)
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return fmt.Sprintf("%s…(cut %d bytes)…%s", s[:head], tail-head, s[tail:])
}
