package scim

import (
	"strings"
)

// PATCH (RFC 7644 section 3.5.2). The operations are applied, in order, to
// the resource as gatehouse shows it; the result is then written like a
// replacement of what the operations touched. So every form of path works
// the same on users and groups: none (the value is an object of
// attributes), attr, attr.sub, urn:...:attr, attr[filter] and
// attr[filter].sub. Operation names are case-insensitive ("Replace", as
// Entra ID sends them).

type patchOp struct {
	op    string // add, replace, remove
	path  string // "" for none
	value any
	hasV  bool
}

func readPatch(body map[string]any) ([]patchOp, error) {
	if v, ok := get(body, "schemas"); !ok || !hasSchema(v, schemaPatchOp) {
		return nil, badRequest("invalidSyntax", "schemas must be [%q]", schemaPatchOp)
	}
	raw, ok := get(body, "Operations")
	list, isList := raw.([]any)
	if !ok || !isList || len(list) == 0 {
		return nil, badRequest("invalidSyntax", "Operations must be a non-empty list")
	}
	if len(list) > maxOperations {
		return nil, badRequest("invalidSyntax", "at most %d operations are accepted", maxOperations)
	}
	ops := make([]patchOp, 0, len(list))
	for i, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, badRequest("invalidSyntax", "Operations[%d] must be an object", i)
		}
		var o patchOp
		name, _ := get(m, "op")
		s, _ := name.(string)
		o.op = strings.ToLower(s)
		switch o.op {
		case "add", "replace", "remove":
		default:
			return nil, badRequest("invalidSyntax", "Operations[%d].op must be add, replace or remove", i)
		}
		if p, ok := get(m, "path"); ok && p != nil {
			ps, isStr := p.(string)
			if !isStr {
				return nil, badRequest("invalidPath", "Operations[%d].path must be a string", i)
			}
			o.path = strings.TrimSpace(ps)
		}
		o.value, o.hasV = get(m, "value")
		switch {
		case o.op == "remove" && o.path == "":
			return nil, badRequest("noTarget", "Operations[%d]: remove needs a path", i)
		case o.op != "remove" && !o.hasV:
			return nil, badRequest("invalidValue", "Operations[%d]: %s needs a value", i, o.op)
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// applyPatch applies ops to res and returns the top-level attributes they
// touched (lowercased; an extension by its URN).
func applyPatch(res map[string]any, ops []patchOp, sc attrSchema) (map[string]bool, error) {
	touched := map[string]bool{}
	for _, o := range ops {
		if o.path == "" {
			obj, ok := o.value.(map[string]any)
			if !ok {
				return nil, badRequest("invalidValue", "%s without a path takes an object of attributes", o.op)
			}
			for k, v := range obj {
				if strings.EqualFold(k, "schemas") {
					continue
				}
				if ext, ok := v.(map[string]any); ok && strings.HasPrefix(strings.ToLower(k), "urn:") {
					// An extension's attributes as one object.
					for ek, ev := range ext {
						if err := applyAt(res, patchOp{op: o.op, path: k + ":" + ek, value: ev, hasV: true}, sc, touched); err != nil {
							return nil, err
						}
					}
					continue
				}
				if err := applyAt(res, patchOp{op: o.op, path: k, value: v, hasV: true}, sc, touched); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := applyAt(res, o, sc, touched); err != nil {
			return nil, err
		}
	}
	return touched, nil
}

func applyAt(res map[string]any, o patchOp, sc attrSchema, touched map[string]bool) error {
	path, inner, sub, err := parsePath(o.path)
	if err != nil {
		return badRequest("invalidPath", "%s", err.Error())
	}
	top := path.name
	if path.urn != "" {
		top = path.urn
	}
	touched[top] = true
	// The object the attribute lives in: the resource, or an extension's.
	obj := res
	if path.urn != "" {
		ext, _ := getKey(res, path.urn)
		m, ok := ext.(map[string]any)
		if !ok {
			if o.op == "remove" {
				return nil
			}
			m = map[string]any{}
			setKey(res, path.urn, m)
		}
		obj = m
	}
	if inner != nil {
		if err := sc.check(inner, path.String()+"."); err != nil {
			return badRequest("invalidFilter", "%s", err.Error())
		}
		return applyFiltered(obj, path, inner, sub, o, sc)
	}
	if path.sub != "" {
		return applySub(obj, path.name, path.sub, o)
	}
	cur, exists := getKey(obj, path.name)
	switch o.op {
	case "remove":
		if !exists {
			return nil
		}
		if list, isList := cur.([]any); isList && o.hasV {
			// remove members with a value of [{"value": id}]: only those
			// elements go (Entra ID's form).
			setKey(obj, path.name, removeValues(list, o.value))
			return nil
		}
		deleteKey(obj, path.name)
	case "add":
		if list, isList := cur.([]any); isList {
			setKey(obj, path.name, appendNew(list, elements(o.value)))
			return nil
		}
		if m, isMap := cur.(map[string]any); isMap {
			if v, ok := o.value.(map[string]any); ok {
				merge(m, v)
				return nil
			}
		}
		setKey(obj, path.name, o.value)
	case "replace":
		if m, isMap := cur.(map[string]any); isMap {
			if v, ok := o.value.(map[string]any); ok {
				merge(m, v)
				return nil
			}
		}
		if _, isList := cur.([]any); isList || sc[path.String()] == kindComplex && isMulti(path.name) {
			setKey(obj, path.name, elements(o.value))
			return nil
		}
		setKey(obj, path.name, o.value)
	}
	return nil
}

// isMulti names the multi-valued attributes.
func isMulti(name string) bool {
	switch name {
	case "emails", "phonenumbers", "groups", "members":
		return true
	}
	return false
}

// applySub applies an op to attr.sub: a sub-attribute of a complex
// attribute, or of every element of a multi-valued one.
func applySub(obj map[string]any, name, sub string, o patchOp) error {
	cur, _ := getKey(obj, name)
	switch c := cur.(type) {
	case []any:
		if len(c) == 0 && o.op != "remove" {
			setKey(obj, name, []any{map[string]any{sub: o.value}})
			return nil
		}
		for _, el := range c {
			if m, ok := el.(map[string]any); ok {
				setSub(m, sub, o)
			}
		}
	case map[string]any:
		setSub(c, sub, o)
	default:
		if o.op == "remove" {
			return nil
		}
		m := map[string]any{}
		setSub(m, sub, o)
		if isMulti(name) {
			setKey(obj, name, []any{m})
		} else {
			setKey(obj, name, m)
		}
	}
	return nil
}

func setSub(m map[string]any, sub string, o patchOp) {
	if o.op == "remove" {
		deleteKey(m, sub)
		return
	}
	setKey(m, sub, o.value)
}

// applyFiltered applies an op to the elements of a multi-valued attribute
// that match the value filter.
func applyFiltered(obj map[string]any, path attrPath, inner filter, sub string, o patchOp, sc attrSchema) error {
	cur, _ := getKey(obj, path.name)
	list := elements(cur)
	prefix := path.String() + "."
	var kept []any
	matched := 0
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok || !sc.match(inner, m, prefix) {
			kept = append(kept, el)
			continue
		}
		matched++
		switch {
		case o.op == "remove" && sub == "":
			continue // dropped
		case sub != "":
			setSub(m, sub, o)
		case o.op == "replace":
			if v, ok := o.value.(map[string]any); ok {
				merge(m, v)
			}
		case o.op == "add":
			if v, ok := o.value.(map[string]any); ok {
				merge(m, v)
			}
		}
		kept = append(kept, m)
	}
	if matched == 0 {
		if o.op == "remove" {
			return nil
		}
		// add or replace of an element that is not there yet (Entra ID
		// adds emails[type eq "work"].value so): a new element made of
		// the filter's equalities and the value.
		el := map[string]any{}
		collectEqualities(inner, el)
		if sub != "" {
			el[sub] = o.value
		} else if v, ok := o.value.(map[string]any); ok {
			merge(el, v)
		}
		kept = append(kept, el)
	}
	if kept == nil {
		kept = []any{}
	}
	setKey(obj, path.name, kept)
	return nil
}

func collectEqualities(f filter, el map[string]any) {
	switch f := f.(type) {
	case compare:
		if f.op == "eq" && f.path.sub == "" {
			el[f.path.name] = f.value
		}
	case logical:
		if f.op == "and" {
			collectEqualities(f.left, el)
			collectEqualities(f.right, el)
		}
	}
}

// removeValues drops the elements whose value is one of those listed.
func removeValues(list []any, v any) []any {
	drop := map[string]bool{}
	for _, el := range elements(v) {
		if m, ok := el.(map[string]any); ok {
			if s, ok := m["value"].(string); ok {
				drop[s] = true
			}
		}
	}
	out := []any{}
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			if s, ok := m["value"].(string); ok && drop[s] {
				continue
			}
		}
		out = append(out, el)
	}
	return out
}

// appendNew appends the elements not there yet (by value, when they have
// one).
func appendNew(list []any, add []any) []any {
	seen := map[string]bool{}
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			if s, ok := m["value"].(string); ok {
				seen[s] = true
			}
		}
	}
	out := append([]any{}, list...)
	for _, el := range add {
		if m, ok := el.(map[string]any); ok {
			if s, ok := m["value"].(string); ok {
				if seen[s] {
					continue
				}
				seen[s] = true
			}
		}
		out = append(out, el)
	}
	return out
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		setKey(dst, k, v)
	}
}

// getKey, setKey and deleteKey address a key case-insensitively, keeping
// the spelling the resource has.
func getKey(m map[string]any, key string) (any, bool) { return get(m, key) }

func setKey(m map[string]any, key string, v any) {
	for k := range m {
		if strings.EqualFold(k, key) {
			m[k] = v
			return
		}
	}
	m[key] = v
}

func deleteKey(m map[string]any, key string) {
	for k := range m {
		if strings.EqualFold(k, key) {
			delete(m, k)
		}
	}
}
