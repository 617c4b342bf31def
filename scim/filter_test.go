package scim

import (
	"errors"
	"strings"
	"testing"
)

// sampleUser is a User resource as userResource shows one.
func sampleUser() map[string]any {
	return map[string]any{
		"schemas":     []any{schemaUser},
		"id":          "2819c223-7f76-453a-919d-413861904646",
		"externalId":  "00uExt",
		"userName":    "bjensen",
		"displayName": "Babs Jensen",
		"name":        map[string]any{"formatted": "Babs Jensen", "givenName": "Barbara", "familyName": "Jensen"},
		"emails":      []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}},
		"active":      true,
		"groups":      []any{map[string]any{"value": "g-1", "display": "Engineering"}},
		"meta": map[string]any{"resourceType": "User", "created": "2026-01-02T03:04:05Z",
			"lastModified": "2026-06-01T00:00:00.5Z", "version": `W/"abc"`},
		schemaEnterprise: map[string]any{"department": "Tour Operations"},
	}
}

func TestFilterMatches(t *testing.T) {
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`userName eq "bjensen"`, true},
		{`USERNAME EQ "BJensen"`, true}, // attribute, operator and value (caseExact false) case-insensitive
		{`userName eq "other"`, false},
		{`userName ne "other"`, true},
		{`userName co "jen"`, true},
		{`userName sw "bj"`, true},
		{`userName sw "jen"`, false},
		{`userName ew "sen"`, true},
		{`externalId eq "00uExt"`, true},
		{`externalId eq "00uext"`, false}, // caseExact
		{`id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{`emails.value eq "BJENSEN@example.com"`, true},
		{`emails eq "bjensen@example.com"`, true},
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "home"]`, false},
		{`emails.primary eq true`, true},
		{`displayName eq "Babs Jensen"`, true},
		{`name.familyName eq "jensen"`, true},
		{`active eq true`, true},
		{`active eq false`, false},
		{`title pr`, false}, // unknown in schema: rejected by check, see TestFilterCheck
		{`externalId pr`, true},
		{`phoneNumbers pr`, false},
		{`phoneNumbers.value eq null`, true},
		{`meta.lastModified gt "2026-05-31T00:00:00Z"`, true},
		{`meta.lastModified lt "2026-05-31T00:00:00Z"`, false},
		{`meta.created ge "2026-01-02T03:04:05Z"`, true},
		{`userName eq "x" or userName eq "bjensen"`, true},
		{`userName eq "bjensen" and active eq false`, false},
		{`not (active eq false)`, true},
		{`not(userName eq "bjensen")`, false},
		{`(userName eq "x" or displayName co "babs") and emails[type eq "work"]`, true},
		// and binds tighter than or: x or (bjensen and false) is false.
		{`userName eq "x" or userName eq "bjensen" and active eq false`, false},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations"`, true},
		{`groups.value eq "g-1"`, true},
		{`userName eq "with \"quote\""`, false},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			f, err := parseFilter(tc.filter)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := userSchema.match(f, sampleUser(), ""); got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterMalformed(t *testing.T) {
	for _, tc := range []struct{ filter, want string }{
		{``, "empty"},
		{`userName`, "operator"},
		{`userName eq`, "value"},
		{`userName eq bjensen`, "string, number"},
		{`userName xx "a"`, "operator"},
		{`userName eq "open`, "not closed"},
		{`(userName eq "a"`, "expected )"},
		{`userName eq "a")`, "unexpected"},
		{`userName eq "a" and`, "ends"},
		{`and userName eq "a"`, "operator"},
		{`not userName eq "a"`, "parenthesised"},
		{`emails[type eq "work"`, "expected ]"},
		{`emails[type eq "work"]]`, "unexpected"},
		{`emails[type[value eq "x"]]`, "do not nest"},
		{`userName eq "a" & x`, "unexpected character"},
		{`active gt true`, "compares strings"},
		{`1abc eq "a"`, "unexpected"},
		{`userName eq 1.2.3`, "not a number"},
		{`user..name eq "a"`, "attribute path"},
		{`userName eq "\x"`, "JSON string"},
		{strings.Repeat("(", 40) + `userName eq "a"` + strings.Repeat(")", 40), "deeper"},
		{`userName eq "` + strings.Repeat("a", MaxFilterLength) + `"`, "at most 1024"},
	} {
		t.Run(tc.filter[:min(len(tc.filter), 40)], func(t *testing.T) {
			_, err := parseFilter(tc.filter)
			var fe *filterError
			if !errors.As(err, &fe) {
				t.Fatalf("parse = %v, want a filter error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestFilterCheck: a well-formed filter on an attribute the resource type
// does not have is refused before any evaluation.
func TestFilterCheck(t *testing.T) {
	for _, tc := range []struct {
		filter string
		ok     bool
	}{
		{`userName eq "a"`, true},
		{`title pr`, false},
		{`emails[bogus eq "x"]`, false},
		{`userName[value eq "x"]`, false},
		{`name eq "x"`, false},
		{`meta.lastModified gt "2026-01-01T00:00:00Z"`, true},
	} {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: parse: %v", tc.filter, err)
		}
		if err := userSchema.check(f, ""); (err == nil) != tc.ok {
			t.Errorf("%s: check = %v, want ok %v", tc.filter, err, tc.ok)
		}
	}
	f, _ := parseFilter(`members[value eq "u-1"]`)
	if err := groupSchema.check(f, ""); err != nil {
		t.Errorf("group members filter refused: %v", err)
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path, name, sub string
		filter          bool
		bad             bool
	}{
		{path: "userName", name: "username"},
		{path: "name.givenName", name: "name"},
		{path: `emails[type eq "work"].value`, name: "emails", sub: "value", filter: true},
		{path: `members[value eq "2819c223"]`, name: "members", filter: true},
		{path: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`, name: "department"},
		{path: `emails[type eq "work"`, bad: true},
		{path: `emails[type eq "work"].`, bad: true},
		{path: `userName eq "x"`, bad: true},
	} {
		p, inner, sub, err := parsePath(tc.path)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: parsed, want an error", tc.path)
			}
			continue
		}
		if err != nil || p.name != tc.name || sub != tc.sub || (inner != nil) != tc.filter {
			t.Errorf("%s: = %+v %v %q %v", tc.path, p, inner, sub, err)
		}
	}
}
