package scim

import (
	"net/http"
	"strconv"
	"strings"
)

// listParams are a list request's query (RFC 7644 section 3.4.2).
type listParams struct {
	filter   filter // nil: every resource
	start    int    // 1-based startIndex
	count    int
	attrs    []string // attributes: only these (with id and schemas)
	excluded []string // excludedAttributes
}

func parseList(r *http.Request, sc attrSchema) (listParams, error) {
	q := r.URL.Query()
	lp := listParams{start: 1, count: defaultCount}
	if s := q.Get("filter"); s != "" {
		f, err := parseFilter(s)
		if err != nil {
			return listParams{}, badRequest("invalidFilter", "%s", err.Error())
		}
		if err := sc.check(f, ""); err != nil {
			return listParams{}, badRequest("invalidFilter", "%s", err.Error())
		}
		lp.filter = f
	}
	if s := q.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return listParams{}, badRequest("invalidValue", "startIndex must be an integer")
		}
		// RFC 7644 section 3.4.2.4: a value below 1 is 1.
		lp.start = max(n, 1)
	}
	if s := q.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return listParams{}, badRequest("invalidValue", "count must be an integer")
		}
		// A negative count is 0; more than the maximum is the maximum.
		lp.count = min(max(n, 0), maxCount)
	}
	if q.Get("sortBy") != "" {
		return listParams{}, badRequest("invalidValue", "sorting is not supported (ServiceProviderConfig sort.supported is false)")
	}
	lp.attrs = attrList(q.Get("attributes"))
	lp.excluded = attrList(q.Get("excludedAttributes"))
	return lp, nil
}

// attrList splits a comma-separated attribute list into top-level names,
// lowercased, the core schemas' URNs dropped.
func attrList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if p, err := splitPath(a); err == nil {
			name := p.name
			if p.urn != "" {
				name = p.urn
			}
			out = append(out, name)
		}
	}
	return out
}

// project applies attributes / excludedAttributes to a resource at the top
// level: id, schemas and meta are always returned.
func project(res map[string]any, attrs, excluded []string) map[string]any {
	if len(attrs) == 0 && len(excluded) == 0 {
		return res
	}
	keep := func(k string) bool {
		lk := strings.ToLower(k)
		if lk == "id" || lk == "schemas" || lk == "meta" {
			return true
		}
		for _, a := range excluded {
			if a == lk {
				return false
			}
		}
		if len(attrs) == 0 {
			return true
		}
		for _, a := range attrs {
			if a == lk {
				return true
			}
		}
		return false
	}
	out := make(map[string]any, len(res))
	for k, v := range res {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

// wants reports whether a projection returns the attribute name.
func (lp listParams) wants(name string) bool {
	for _, a := range lp.excluded {
		if a == name {
			return false
		}
	}
	if len(lp.attrs) == 0 {
		return true
	}
	for _, a := range lp.attrs {
		if a == name {
			return true
		}
	}
	return false
}

// page collects one window of matches while counting them all.
type page struct {
	lp        listParams
	total     int
	resources []any
}

func (p *page) offer(res map[string]any) {
	p.total++
	if p.total >= p.lp.start && len(p.resources) < p.lp.count {
		p.resources = append(p.resources, project(res, p.lp.attrs, p.lp.excluded))
	}
}

// keepsNext reports whether the next match lands in the window.
func (p *page) keepsNext() bool {
	return p.total+1 >= p.lp.start && len(p.resources) < p.lp.count
}

// windowMeets reports whether the next n matches may reach the window.
func (p *page) windowMeets(n int) bool {
	return p.total+n >= p.lp.start && len(p.resources) < p.lp.count
}

func (p *page) response() map[string]any {
	res := p.resources
	if res == nil {
		res = []any{}
	}
	return map[string]any{
		"schemas":      []string{schemaListResponse},
		"totalResults": p.total,
		"startIndex":   p.lp.start,
		"itemsPerPage": len(res),
		"Resources":    res,
	}
}

// refersTo reports whether the filter names the attribute (top level).
func refersTo(f filter, name string) bool {
	switch f := f.(type) {
	case compare:
		return f.path.name == name && f.path.urn == ""
	case valuePath:
		return f.path.name == name && f.path.urn == ""
	case logical:
		return refersTo(f.left, name) || refersTo(f.right, name)
	case not:
		return refersTo(f.f, name)
	}
	return false
}

// equalsValue finds name eq "value" that the whole filter requires (the
// filter itself, or a conjunct of it): a list can then be narrowed before
// the filter is evaluated on what remains.
func equalsValue(f filter, name, sub string) (string, bool) {
	switch f := f.(type) {
	case compare:
		if f.op == "eq" && f.path.urn == "" && f.path.name == name && f.path.sub == sub {
			s, ok := f.value.(string)
			return s, ok
		}
	case logical:
		if f.op == "and" {
			if v, ok := equalsValue(f.left, name, sub); ok {
				return v, true
			}
			return equalsValue(f.right, name, sub)
		}
	}
	return "", false
}

// ETags: SCIM's versions are weak (RFC 7644 section 3.14), and If-Match
// and If-None-Match compare them weakly, the W/ ignored.

func weakETag(version string) string { return `W/"` + version + `"` }

// opaqueTag is a tag without W/ and quotes.
func opaqueTag(tag string) string {
	tag = strings.TrimSpace(tag)
	tag = strings.TrimPrefix(tag, "W/")
	return strings.Trim(tag, `"`)
}

// matchTags reports whether header (a list of entity tags, or "*") matches
// the version; present is false when the header is absent.
func matchTags(r *http.Request, header, version string) (matches, present bool) {
	values := r.Header.Values(header)
	if len(values) == 0 {
		return false, false
	}
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || (t != "" && opaqueTag(t) == version) {
				return true, true
			}
		}
	}
	return false, true
}

// ifMatchVersions are the versions of If-Match, for the domain's own
// check in the update's transaction; nil when absent or "*".
func ifMatchVersions(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("If-Match") {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" {
				return nil
			}
			if t != "" {
				out = append(out, opaqueTag(t))
			}
		}
	}
	return out
}

// checkIfMatch refuses with 412 when If-Match names none of version.
func checkIfMatch(r *http.Request, version string) error {
	if ok, present := matchTags(r, "If-Match", version); present && !ok {
		return errorf(http.StatusPreconditionFailed, "", "the resource changed since the version in If-Match")
	}
	return nil
}
