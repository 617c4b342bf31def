package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
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

// add appends a problem with field; several calls report every problem at
// once.
func (v *ValidationErrors) add(field, format string, args ...any) {
	*v = append(*v, invalid(field, format, args...))
}

// addErr appends the field problems err carries, and reports whether it
// carried any (an error of another kind is not the caller's input's fault).
func (v *ValidationErrors) addErr(err error) bool {
	if err == nil {
		return false
	}
	if many, ok := err.(ValidationErrors); ok {
		*v = append(*v, many...)
		return true
	}
	if one, ok := AsValidation(err); ok {
		*v = append(*v, one)
		return true
	}
	return false
}

// err is nil when there is no problem, so that a nil ValidationErrors is
// never returned as a non-nil error.
func (v ValidationErrors) err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

// checkText trims s and checks its length; singleLine refuses control
// characters (newlines included) in names shown on one line.
func (v *ValidationErrors) checkText(field, s string, maxLen int, singleLine bool) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxLen {
		v.add(field, "must be at most %d characters", maxLen)
	}
	if !utf8.ValidString(s) {
		v.add(field, "must be valid UTF-8")
	} else if singleLine && strings.ContainsFunc(s, unicode.IsControl) {
		v.add(field, "must not contain control characters")
	}
	return s
}

// checkGoals trims each goal and checks the count and lengths.
func (v *ValidationErrors) checkGoals(field string, goals []string) []string {
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
		case strings.ContainsFunc(g, unicode.IsControl):
			v.add(field, "goal %d must not contain control characters", i+1)
		}
		out = append(out, g)
	}
	return out
}

// checkPreferences accepts a JSON object (nil, empty and null mean {}) and
// returns it compacted.
func (v *ValidationErrors) checkPreferences(raw json.RawMessage) json.RawMessage {
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
	return buf.Bytes()
}

// checkFuture refuses an expiry that has passed already: it would create
// something unusable, which is a mistake rather than an intention.
func (v *ValidationErrors) checkFuture(field string, t *time.Time, now time.Time) {
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
		return fmt.Errorf("domain: %s %q: %w", what, id, store.ErrNotFound)
	}
	return nil
}
