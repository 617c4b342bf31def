package admin

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Optimistic concurrency for user edits (RFC 9110 sections 8.8.3 and
// 13.1.1): every answer that shows one user carries its version as a
// strong ETag, and PATCH honours If-Match. The comparison itself happens
// in the domain, inside the update's transaction, against the user as it
// reads it there; an HTTP-level check before it would leave a window for
// another edit.

// userETag is the ETag of u.
func userETag(u store.User) string { return `"` + domain.UserVersion(u) + `"` }

// ifMatch reads If-Match: the entity tags as the domain compares them (a
// weak tag keeps its W/ and so never matches, since If-Match compares
// strongly), or none when the request is not conditional. Absent and "*"
// are not: "*" asks only that the user exist, which the route's own 404
// answers. A value that is not a list of entity tags is a 400 naming the
// header.
func ifMatch(r *http.Request) ([]string, error) {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return nil, nil
	}
	raw := strings.TrimSpace(strings.Join(values, ","))
	if raw == "*" {
		return nil, nil
	}
	tags, ok := parseETags(raw)
	if !ok {
		return nil, badField("If-Match", `must be * or a list of entity tags such as "abc" (the ETag of a GET)`)
	}
	return tags, nil
}

// parseETags splits #entity-tag: [W/] DQUOTE *etagc DQUOTE, separated by
// commas and optional whitespace (empty elements allowed, as in any HTTP
// list). Opaque tags are returned without their quotes; weak ones as
// "W/" + opaque tag.
func parseETags(s string) ([]string, bool) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, len(out) > 0
		}
		weak := strings.HasPrefix(s, "W/")
		if weak {
			s = s[2:]
		}
		if !strings.HasPrefix(s, `"`) {
			return nil, false
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, false
		}
		tag := s[1 : 1+end]
		for i := range len(tag) {
			// etagc: %x21 / %x23-7E / obs-text.
			if c := tag[i]; c < 0x21 || c == 0x7f {
				return nil, false
			}
		}
		if weak {
			tag = "W/" + tag
		}
		out = append(out, tag)
		s = strings.TrimLeft(s[2+end:], " \t")
		if s != "" && s[0] != ',' {
			return nil, false
		}
	}
}
