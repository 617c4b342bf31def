package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment variable gatehouse reads.
const EnvPrefix = "GATEHOUSE_"

// Load builds a Config from the defaults, then the YAML file at path (if path
// is not empty), then the GATEHOUSE_* variables env reports (os.LookupEnv in
// production). It does not validate: the CLI applies its flags first and then
// calls Validate. Malformed environment values are all reported at once as a
// *ValidationError naming the variables.
func Load(path string, env func(string) (string, bool)) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := loadFile(&cfg, path); err != nil {
			return Config{}, err
		}
	}
	if env != nil {
		if err := applyEnv(&cfg, env); err != nil {
			return Config{}, err
		}
	}
	return cfg, nil
}

func loadFile(cfg *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: read %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file sets nothing
		}
		return fmt.Errorf("config: parse %s: %w", path, err)
	}
	changed, problems := fixDurations(&doc, durationPaths(cfg))
	if len(problems) > 0 {
		return fmt.Errorf("config: parse %s: %w", path, &ValidationError{Problems: problems})
	}
	if changed {
		// Only a Decoder rejects unknown fields, so the fixed tree goes
		// through one as text. (Line numbers in later errors may then be
		// off by the blank lines the round trip drops.)
		if data, err = yaml.Marshal(&doc); err != nil {
			return fmt.Errorf("config: parse %s: %w", path, err)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// A misspelt key would otherwise be ignored and its default used, which
	// for a security setting is worse than refusing to start.
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: parse %s: %w", path, err)
	}
	return nil
}

func durationPaths(cfg *Config) map[string]bool {
	paths := map[string]bool{}
	for _, f := range fields(cfg) {
		if f.value.Type() == durationType {
			paths[f.path] = true
		}
	}
	return paths
}

// fixDurations lets a bare 0 stand for a zero duration (lifetimes.consent: 0
// reads naturally) and names the field of any other number without a unit,
// which yaml.v3 would reject with only a line number.
func fixDurations(doc *yaml.Node, durations map[string]bool) (changed bool, problems []Problem) {
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(prefix, c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				path := prefix + key.Value
				if val.Kind == yaml.MappingNode {
					walk(path+".", val)
					continue
				}
				if !durations[path] || val.Kind != yaml.ScalarNode || (val.Tag != "!!int" && val.Tag != "!!float") {
					continue
				}
				if val.Value == "0" {
					val.Tag, val.Value = "!!str", "0s"
					changed = true
					continue
				}
				problems = append(problems, Problem{Field: path,
					Message: fmt.Sprintf("must be a duration with a unit such as 90s, 10m or 1440h, got %s (line %d)", val.Value, val.Line)})
			}
		}
	}
	walk("", doc)
	return changed, problems
}

// field is one settable leaf of Config, found by walking the yaml tags, so
// that the YAML keys and the environment variable names cannot drift apart.
type field struct {
	path  string // YAML path, e.g. lifetimes.access_token
	value reflect.Value
}

func (f field) envName() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.path, ".", "_"))
}

func fields(cfg *Config) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := prefix + name
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walk(path+".", fv)
				continue
			}
			out = append(out, field{path: path, value: fv})
		}
	}
	walk("", reflect.ValueOf(cfg).Elem())
	return out
}

func applyEnv(cfg *Config, env func(string) (string, bool)) error {
	var problems []Problem
	// These may also be read from the file named by <VAR>_FILE, so that
	// secrets can be mounted (Docker, Kubernetes) rather than placed in the
	// environment, where they leak into process listings and crash reports.
	isFileSecret := map[string]bool{"secret": true, "database_url": true, "smtp.password": true}
	for _, f := range fields(cfg) {
		name := f.envName()
		raw, ok := env(name)
		if isFileSecret[f.path] {
			fromFile, fileOK, err := readSecretFile(name+"_FILE", env)
			switch {
			case err != nil:
				problems = append(problems, Problem{Field: name + "_FILE", Message: err.Error()})
				continue
			case fileOK && ok:
				// Two sources for one secret: refusing is safer than
				// guessing which one the operator meant.
				problems = append(problems, Problem{Field: name + "_FILE", Message: "must not be set together with " + name})
				continue
			case fileOK:
				raw, ok = fromFile, true
			}
		}
		if !ok {
			continue
		}
		if err := setValue(f.value, raw); err != nil {
			problems = append(problems, Problem{Field: name, Message: err.Error()})
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

// readSecretFile returns the trimmed contents of the file named by the
// variable, and whether the variable was set. The error never includes the
// file's contents.
func readSecretFile(name string, env func(string) (string, bool)) (string, bool, error) {
	path, ok := env(name)
	if !ok {
		return "", false, nil
	}
	if path == "" {
		return "", false, errors.New("must name a file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false, fmt.Errorf("cannot read file: %w", err)
	}
	return strings.TrimSpace(string(b)), true, nil
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	stringsType  = reflect.TypeOf([]string(nil))
)

func setValue(v reflect.Value, raw string) error {
	raw = strings.TrimSpace(raw)
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("must be a duration such as 90s, 10m or 1440h, got %q", raw)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("must be true or false, got %q", raw)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		// A comma-separated list; empty items (a trailing comma) go.
		var items []string
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items))
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", raw)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		// A list: comma-separated, blanks dropped ("" is the empty list).
		var items []string
		for _, item := range strings.Split(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
	default:
		// Only reachable if Config gains a field of a new kind.
		return fmt.Errorf("cannot be set from the environment (type %s)", v.Type())
	}
	return nil
}
