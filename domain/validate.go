package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits of the free-text fields. They keep one record small enough to list
// a page of them cheaply and to render on a card.
const (
	maxTextLength        = 200 // full_name, department, names
	maxGoals             = 20
	maxGoalLength        = 200
	maxPreferencesBytes  = 16 << 10
	maxDescriptionLength = 500
	maxPurposeLength     = 1000
	maxCommentLength     = 1000
)

// problems collects field problems, so that one call reports every
// problem at once as a single *ValidationError.
type problems []FieldError

// add appends a problem with field.
func (v *problems) add(field, format string, args ...any) {
	*v = append(*v, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// addErr appends the field problems err carries, and reports whether it
// carried any (an error of another kind is not the caller's input's fault).
func (v *problems) addErr(err error) bool {
	one, ok := AsValidation(err)
	if ok {
		*v = append(*v, one.Fields...)
	}
	return ok
}

// err is nil when there is no problem, so that an empty list is never
// returned as a non-nil error.
func (v problems) err() error {
	if len(v) == 0 {
		return nil
	}
	return &ValidationError{Fields: v}
}

// checkText trims s and checks its length and characters (TextProblem);
// singleLine refuses newlines too, in names shown on one line.
func (v *problems) checkText(field, s string, maxLen int, singleLine bool) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxLen {
		v.add(field, "must be at most %d characters", maxLen)
	}
	if msg := TextProblem(s, !singleLine); msg != "" {
		v.add(field, "%s", msg)
	}
	return s
}

// checkGoals trims each goal and checks the count and lengths.
func (v *problems) checkGoals(field string, goals []string) []string {
	if len(goals) > maxGoals {
		v.add(field, "must list at most %d goals", maxGoals)
	}
	out := make([]string, 0, len(goals))
	for i, g := range goals {
		g = strings.TrimSpace(g)
		switch {
		case g == "":
			v.add(field, "goal %d is empty", i+1)
		case utf8.RuneCountInString(g) > maxGoalLength:
			v.add(field, "goal %d must be at most %d characters", i+1, maxGoalLength)
		case TextProblem(g, false) != "":
			v.add(field, "goal %d %s", i+1, TextProblem(g, false))
		}
		out = append(out, g)
	}
	return out
}

// checkPreferences accepts a JSON object (nil, empty and null mean {}) and
// returns it compacted.
func (v *problems) checkPreferences(raw json.RawMessage) json.RawMessage {
	const field = "preferences"
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return json.RawMessage(`{}`)
	}
	if len(trimmed) > maxPreferencesBytes {
		v.add(field, "must be at most %d bytes", maxPreferencesBytes)
		return nil
	}
	var obj map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &obj) != nil {
		v.add(field, "must be a JSON object")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		v.add(field, "must be a JSON object")
		return nil
	}
	if msg := checkJSONText(buf.Bytes()); msg != "" {
		v.add(field, "%s", msg)
		return nil
	}
	return buf.Bytes()
}

// checkFuture refuses an expiry that has passed already: it would create
// something unusable, which is a mistake rather than an intention.
func (v *problems) checkFuture(field string, t *time.Time, now time.Time) {
	if t != nil && !t.After(now) {
		v.add(field, "must be in the future")
	}
}

// set returns the distinct values of in, sorted: role names, permissions
// and scopes are sets, and comparing them needs one spelling.
func set(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// notFoundID refuses ids that cannot name a record (not a UUID) as the
// store would, without a round trip.
func notFoundID(what, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return notFound("%s %q not found", what, id)
	}
	return nil
}
