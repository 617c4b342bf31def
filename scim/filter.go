package scim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filters (RFC 7644 section 3.4.2.2):
//
//	FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//	valuePath = attrPath "[" valFilter "]"
//	attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//	logExp    = FILTER SP ("and" / "or") SP FILTER
//
// "not" binds tighter than "and", which binds tighter than "or". Operators,
// keywords and attribute names are case-insensitive (RFC 7643 section
// 2.1). A filter is parsed whole before anything is read, so a malformed
// one is always a 400 invalidFilter, never a partial answer.

const (
	// MaxFilterLength bounds a filter in bytes: what identity providers
	// send is a few dozen; anything far longer is a probe.
	MaxFilterLength = 1024
	// maxFilterDepth bounds nesting (parentheses, not, brackets), so that
	// a filter within the length cannot exhaust the parser's stack.
	maxFilterDepth = 16
)

// filter is a parsed filter expression.
type filter interface{ isFilter() }

// attrPath names an attribute: [schema URN ":"] name ["." sub], the name
// and sub lowercased. The core schemas' URNs are dropped; an extension's
// is kept (lowercased) in urn.
type attrPath struct {
	urn  string
	name string
	sub  string
}

func (p attrPath) String() string {
	s := p.name
	if p.sub != "" {
		s += "." + p.sub
	}
	if p.urn != "" {
		s = p.urn + ":" + s
	}
	return s
}

// compare is attrPath op value, or attrPath pr (value unused).
type compare struct {
	path  attrPath
	op    string // eq ne co sw ew gt ge lt le pr
	value any    // string, float64, bool or nil (null)
}

// logical is and/or of two filters.
type logical struct {
	op          string // and, or
	left, right filter
}

// not negates a filter.
type not struct{ f filter }

// valuePath is attr[filter]: some element of the multi-valued attr matches
// the inner filter, whose paths are relative to the element.
type valuePath struct {
	path  attrPath
	inner filter
}

func (compare) isFilter()   {}
func (logical) isFilter()   {}
func (not) isFilter()       {}
func (valuePath) isFilter() {}

// filterError is a filter that could not be parsed.
type filterError struct{ msg string }

func (e *filterError) Error() string { return "invalid filter: " + e.msg }

func filterErrorf(format string, args ...any) error {
	return &filterError{msg: fmt.Sprintf(format, args...)}
}

// parseFilter parses a whole filter.
func parseFilter(s string) (filter, error) {
	if len(s) > MaxFilterLength {
		return nil, filterErrorf("the filter is %d bytes long; at most %d are accepted", len(s), MaxFilterLength)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 { // only the end
		return nil, filterErrorf("the filter is empty")
	}
	p := &parser{toks: toks}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, filterErrorf("unexpected %s at offset %d", t, t.pos)
	}
	return f, nil
}

// parsePath parses a PATCH path (RFC 7644 section 3.5.2): attrPath, or
// attrPath "[" valFilter "]" ["." subAttr]. The filter of the brackets is
// returned as inner, nil when there is none.
func parsePath(s string) (path attrPath, inner filter, sub string, err error) {
	if len(s) > MaxFilterLength {
		return attrPath{}, nil, "", filterErrorf("the path is %d bytes long; at most %d are accepted", len(s), MaxFilterLength)
	}
	toks, err := lex(s)
	if err != nil {
		return attrPath{}, nil, "", err
	}
	p := &parser{toks: toks}
	t := p.next()
	if t.kind != tokWord {
		return attrPath{}, nil, "", filterErrorf("a path starts with an attribute name, not %s", t)
	}
	if path, err = splitPath(t.text); err != nil {
		return attrPath{}, nil, "", err
	}
	if p.peek().kind == tokLBracket {
		if path.sub != "" {
			return attrPath{}, nil, "", filterErrorf("%s: a value filter follows an attribute, not a sub-attribute", t.text)
		}
		p.next()
		if inner, err = p.or(1); err != nil {
			return attrPath{}, nil, "", err
		}
		if t := p.next(); t.kind != tokRBracket {
			return attrPath{}, nil, "", filterErrorf("expected ] at offset %d, found %s", t.pos, t)
		}
		if t := p.peek(); t.kind == tokWord && strings.HasPrefix(t.text, ".") {
			p.next()
			sub = strings.ToLower(strings.TrimPrefix(t.text, "."))
			if !validName(sub) {
				return attrPath{}, nil, "", filterErrorf("%q is not a sub-attribute name", t.text)
			}
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		return attrPath{}, nil, "", filterErrorf("unexpected %s at offset %d", t, t.pos)
	}
	return path, inner, sub, nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tokWord && strings.EqualFold(t.text, word) {
		p.i++
		return true
	}
	return false
}

func (p *parser) or(depth int) (filter, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = logical{op: "or", left: left, right: right}
	}
	return left, nil
}

func (p *parser) and(depth int) (filter, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = logical{op: "and", left: left, right: right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (filter, error) {
	if depth > maxFilterDepth {
		return nil, filterErrorf("the filter nests deeper than %d levels", maxFilterDepth)
	}
	t := p.peek()
	switch {
	case t.kind == tokLParen:
		p.next()
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, filterErrorf("expected ) at offset %d, found %s", t.pos, t)
		}
		return f, nil
	case t.kind == tokWord && strings.EqualFold(t.text, "not"):
		p.next()
		if p.peek().kind != tokLParen {
			return nil, filterErrorf("not is followed by a parenthesised filter (offset %d)", p.peek().pos)
		}
		f, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return not{f: f}, nil
	case t.kind == tokWord:
		return p.attrExp(depth)
	case t.kind == tokEOF:
		return nil, filterErrorf("the filter ends where an expression was expected")
	}
	return nil, filterErrorf("unexpected %s at offset %d", t, t.pos)
}

var compareOps = map[string]bool{"eq": true, "ne": true, "co": true, "sw": true, "ew": true,
	"gt": true, "ge": true, "lt": true, "le": true}

func (p *parser) attrExp(depth int) (filter, error) {
	t := p.next()
	path, err := splitPath(t.text)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokLBracket {
		if path.sub != "" {
			return nil, filterErrorf("%s: a value filter follows an attribute, not a sub-attribute", t.text)
		}
		if depth > 0 && p.inBrackets() {
			return nil, filterErrorf("value filters do not nest (offset %d)", p.peek().pos)
		}
		p.next()
		inner, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRBracket {
			return nil, filterErrorf("expected ] at offset %d, found %s", t.pos, t)
		}
		return valuePath{path: path, inner: inner}, nil
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != tokWord || (op != "pr" && !compareOps[op]) {
		return nil, filterErrorf("%s is followed by an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr), not %s", t.text, opTok)
	}
	if op == "pr" {
		return compare{path: path, op: op}, nil
	}
	v := p.next()
	var value any
	switch v.kind {
	case tokString:
		value = v.value
	case tokNumber:
		value = v.value
	case tokWord:
		switch strings.ToLower(v.text) {
		case "true":
			value = true
		case "false":
			value = false
		case "null":
			value = nil
		default:
			return nil, filterErrorf("%s %s takes a string, number, true, false or null, not %s (strings are in double quotes)", t.text, op, v)
		}
	default:
		return nil, filterErrorf("%s %s takes a value, not %s", t.text, op, v)
	}
	if op != "eq" && op != "ne" {
		if _, isBool := value.(bool); isBool || value == nil {
			return nil, filterErrorf("%s compares strings, numbers and dates only", op)
		}
	}
	return compare{path: path, op: op, value: value}, nil
}

// inBrackets reports whether the parser is inside a value filter: an
// unclosed [ before the current token.
func (p *parser) inBrackets() bool {
	open := 0
	for _, t := range p.toks[:p.i] {
		switch t.kind {
		case tokLBracket:
			open++
		case tokRBracket:
			open--
		}
	}
	return open > 0
}

// splitPath reads [URN ":"] attr ["." sub].
func splitPath(s string) (attrPath, error) {
	var p attrPath
	rest := s
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		i := strings.LastIndexByte(s, ':')
		p.urn, rest = strings.ToLower(s[:i]), s[i+1:]
		if p.urn == strings.ToLower(schemaUser) || p.urn == strings.ToLower(schemaGroup) {
			p.urn = ""
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	p.name, p.sub = strings.ToLower(name), strings.ToLower(sub)
	if !validName(p.name) || (hasSub && !validName(p.sub)) {
		return attrPath{}, filterErrorf("%q is not an attribute path", s)
	}
	return p, nil
}

// validName is ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT
// / ALPHA; "$ref" is the one name with a "$".
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" {
		return false
	}
	for i, c := range s {
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_')) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Lexer

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
)

type token struct {
	kind  tokKind
	text  string
	value any
	pos   int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "the end of the filter"
	case tokString:
		return "a string"
	}
	return strconv.Quote(t.text)
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == '[' || c == ']':
			kind := map[byte]tokKind{'(': tokLParen, ')': tokRParen, '[': tokLBracket, ']': tokRBracket}[c]
			out = append(out, token{kind: kind, text: string(c), pos: i})
			i++
		case c == '"':
			end, err := stringEnd(s, i)
			if err != nil {
				return nil, err
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:end]), &v); err != nil {
				return nil, filterErrorf("the string at offset %d is not a valid JSON string", i)
			}
			out = append(out, token{kind: tokString, text: s[i:end], value: v, pos: i})
			i = end
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789.eE+-", s[j]) >= 0 {
				j++
			}
			f, err := strconv.ParseFloat(s[i:j], 64)
			if err != nil {
				return nil, filterErrorf("%q at offset %d is not a number", s[i:j], i)
			}
			out = append(out, token{kind: tokNumber, text: s[i:j], value: f, pos: i})
			i = j
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, token{kind: tokWord, text: s[i:j], pos: i})
			i = j
		default:
			return nil, filterErrorf("unexpected character %q at offset %d", c, i)
		}
	}
	return append(out, token{kind: tokEOF, pos: len(s)}), nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '_' || c == '-' || c == '$'
}

// stringEnd returns the index after the closing quote of the string at i.
func stringEnd(s string, i int) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, filterErrorf("the string at offset %d is not closed", i)
}

// ---------------------------------------------------------------------------
// Evaluation

// attrSchema says which attribute paths a resource type may be filtered on
// and how each compares: caseExact strings compare as given, the others
// case-insensitively; dates compare as instants.
type attrSchema map[string]attrKind

type attrKind int

const (
	kindString attrKind = iota
	kindExactString
	kindBool
	kindDate
	kindComplex // has sub-attributes, filtered through them
)

// check reports a path the schema does not have, including inside value
// filters.
func (sc attrSchema) check(f filter, prefix string) error {
	switch f := f.(type) {
	case compare:
		key := prefix + f.path.String()
		kind, ok := sc[key]
		if !ok {
			return filterErrorf("%s is not an attribute that can be filtered on", key)
		}
		if kind == kindComplex && f.op != "pr" {
			if _, ok := sc[key+".value"]; !ok {
				return filterErrorf("%s is complex: filter on one of its sub-attributes", key)
			}
		}
		return nil
	case logical:
		if err := sc.check(f.left, prefix); err != nil {
			return err
		}
		return sc.check(f.right, prefix)
	case not:
		return sc.check(f.f, prefix)
	case valuePath:
		key := prefix + f.path.String()
		if sc[key] != kindComplex {
			return filterErrorf("%s has no sub-attributes to filter", key)
		}
		return sc.check(f.inner, key+".")
	}
	return nil
}

// match evaluates f against a resource as its JSON object (decoded into
// maps, slices, strings, float64s and bools).
func (sc attrSchema) match(f filter, res map[string]any, prefix string) bool {
	switch f := f.(type) {
	case logical:
		if f.op == "and" {
			return sc.match(f.left, res, prefix) && sc.match(f.right, res, prefix)
		}
		return sc.match(f.left, res, prefix) || sc.match(f.right, res, prefix)
	case not:
		return !sc.match(f.f, res, prefix)
	case valuePath:
		key := prefix + f.path.String()
		for _, el := range elements(lookup(res, f.path.urn, f.path.name)) {
			if m, ok := el.(map[string]any); ok && sc.match(f.inner, m, key+".") {
				return true
			}
		}
		return false
	case compare:
		key := prefix + f.path.String()
		kind := sc[key]
		values := values(res, f.path)
		if kind == kindComplex {
			// "emails eq x" compares the value sub-attribute.
			kind = sc[key+".value"]
			values = values[:0:0]
			for _, el := range elements(lookup(res, f.path.urn, f.path.name)) {
				if m, ok := el.(map[string]any); ok {
					if v, ok := get(m, "value"); ok {
						values = append(values, v)
					}
				}
			}
		}
		if f.op == "pr" {
			for _, v := range values {
				if present(v) {
					return true
				}
			}
			return false
		}
		if f.op == "ne" {
			return !matchAny(values, "eq", f.value, kind)
		}
		return matchAny(values, f.op, f.value, kind)
	}
	return false
}

// values are the values at path: one for a singular attribute, every
// element's for a multi-valued one (emails.value).
func values(res map[string]any, p attrPath) []any {
	v := lookup(res, p.urn, p.name)
	if p.sub == "" {
		return elements(v)
	}
	var out []any
	for _, el := range elements(v) {
		if m, ok := el.(map[string]any); ok {
			if sv, ok := get(m, p.sub); ok {
				out = append(out, elements(sv)...)
			}
		}
	}
	return out
}

func lookup(res map[string]any, urn, name string) any {
	obj := res
	if urn != "" {
		ext, ok := get(res, urn)
		if !ok {
			return nil
		}
		if obj, ok = ext.(map[string]any); !ok {
			return nil
		}
	}
	v, _ := get(obj, name)
	return v
}

// get reads key from m case-insensitively.
func get(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func elements(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

func matchAny(vals []any, op string, want any, kind attrKind) bool {
	if want == nil {
		// eq null: the attribute is absent (RFC 7644 section 3.4.2.2).
		return !slices.ContainsFunc(vals, present)
	}
	for _, v := range vals {
		if compareValue(v, op, want, kind) {
			return true
		}
	}
	return false
}

func compareValue(have any, op string, want any, kind attrKind) bool {
	switch h := have.(type) {
	case bool:
		w, ok := want.(bool)
		return ok && op == "eq" && h == w
	case float64:
		w, ok := want.(float64)
		if !ok {
			return false
		}
		return ordered(op, cmpFloat(h, w))
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		if kind == kindDate {
			ht, err1 := time.Parse(time.RFC3339Nano, h)
			wt, err2 := time.Parse(time.RFC3339Nano, w)
			if err1 == nil && err2 == nil {
				return ordered(op, ht.Compare(wt))
			}
			return false
		}
		if kind != kindExactString {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		}
		return ordered(op, strings.Compare(h, w))
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ordered(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}
