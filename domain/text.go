package domain

import (
	"maps"
	"slices"
	"unicode"
	"unicode/utf8"
)

// The one rule for text that comes from outside — a form, a query, a path,
// a JSON body — before it is stored or used to look something up.
// PostgreSQL refuses NUL and invalid UTF-8 in text and jsonb with an error
// that would otherwise surface as a 500; such input is the caller's
// mistake (or an attack), so it is refused, or names nothing, before any
// query.

// MaxKeyBytes bounds a value that only names a record (an id, a name, a
// client_id, a username or email typed at sign-in, a list filter): nothing
// stored is named by more, so a longer value names nothing.
const MaxKeyBytes = 256

// TextProblem says what is wrong with s as text, "" if nothing: it must be
// valid UTF-8 and hold no control character — except tab, newline and
// carriage return when multiline. NUL is a control character.
func TextProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if !unicode.IsControl(r) || (multiline && (r == '\t' || r == '\n' || r == '\r')) {
			continue
		}
		if r == 0 {
			return "must not contain NUL characters"
		}
		if multiline {
			return "must not contain control characters other than tab and newline"
		}
		return "must not contain control characters"
	}
	return ""
}

// ValidKey reports whether s can name a record: single-line text of at
// most MaxKeyBytes bytes. A lookup of anything else finds nothing, without
// asking the store.
func ValidKey(s string) bool {
	return len(s) <= MaxKeyBytes && TextProblem(s, false) == ""
}

// notFoundKey is notFoundID for keys that are not UUIDs (role names, client
// ids, session ids): one that cannot name a record is not found, without a
// round trip that PostgreSQL would answer with an error.
func notFoundKey(what, key string) error {
	if !ValidKey(key) {
		return notFound("%s not found", what)
	}
	return nil
}

// checkFilters refuses list filters that cannot match anything stored, as
// a ValidationError whose fields are the filters' names (the query
// parameters they came from).
func checkFilters(filters map[string]string) error {
	var v problems
	for _, field := range slices.Sorted(maps.Keys(filters)) {
		switch value := filters[field]; {
		case value == "":
		case len(value) > MaxKeyBytes:
			v.add(field, "must be at most %d bytes", MaxKeyBytes)
		case TextProblem(value, false) != "":
			v.add(field, "%s", TextProblem(value, false))
		}
	}
	return v.err()
}

// checkJSONText refuses, in a JSON document that already parsed, what jsonb
// refuses although encoding/json accepts it: invalid UTF-8, the escape
// \u0000, and a \u escape of half a surrogate pair without its other half.
func checkJSONText(raw []byte) string {
	if !utf8.Valid(raw) {
		return "must be valid UTF-8"
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(raw) && raw[i+1] != 'u' {
				i++ // a one-character escape: \" \\ \/ \b \f \n \r \t
				continue
			}
			r, ok := hex4(raw, i+2)
			if !ok {
				return "must be valid JSON"
			}
			i += 5
			switch {
			case r == 0:
				return "must not contain NUL characters (\\u0000)"
			case r >= 0xDC00 && r <= 0xDFFF:
				return "must not contain an unpaired UTF-16 surrogate"
			case r >= 0xD800 && r <= 0xDBFF:
				// A high surrogate must be followed at once by a low one.
				low, ok := hex4(raw, i+3)
				if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' || !ok || low < 0xDC00 || low > 0xDFFF {
					return "must not contain an unpaired UTF-16 surrogate"
				}
				i += 6
			}
		}
	}
	return ""
}

// hex4 decodes the four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at < 0 || at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
