package examples_test

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/examples"
	"github.com/gatehouse/gatehouse/store"
)

type roleDoc struct {
	Name           string   `yaml:"name"`
	Description    string   `yaml:"description"`
	Parent         string   `yaml:"parent"`
	Permissions    []string `yaml:"permissions"`
	SuggestedGoals []string `yaml:"suggested_goals"`
}

// TestPersonaRoles checks the shipped personas against the rules the import
// applies and the ones the README promises, so a careless edit of the file
// fails here rather than at `serve --dev`.
func TestPersonaRoles(t *testing.T) {
	var doc struct {
		Roles []roleDoc `yaml:"roles"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(examples.Roles()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("roles.yaml does not decode: %v", err)
	}

	var names []string
	for _, r := range doc.Roles {
		names = append(names, r.Name)
	}
	want := []string{"executive", "trader", "investor", "analyst", "team-manager", "sales", "operations", "finance", "agent"}
	if !slices.Equal(names, want) {
		t.Fatalf("persona names = %v, want %v", names, want)
	}

	namePattern := regexp.MustCompile(`^[a-z0-9_-]{2,50}$`)
	builtIn := map[string]bool{}
	for _, r := range store.BuiltInRoles() {
		builtIn[r.Name] = true
	}
	known := domain.KnownPermissions()
	for _, r := range doc.Roles {
		t.Run(r.Name, func(t *testing.T) {
			if !namePattern.MatchString(r.Name) {
				t.Errorf("name %q is not 2-50 of [a-z0-9_-]", r.Name)
			}
			if builtIn[r.Name] {
				t.Errorf("name %q is a built-in role: importing it would change the built-in", r.Name)
			}
			if r.Description == "" {
				t.Error("no description")
			}
			if r.Parent != "viewer" && r.Parent != "user" && r.Parent != "manager" {
				t.Errorf("parent %q, want viewer, user or manager (never admin)", r.Parent)
			}
			for _, p := range r.Permissions {
				if !slices.Contains(known, p) {
					t.Errorf("unknown permission %q", p)
				}
			}
			if n := len(r.SuggestedGoals); n < 3 || n > 6 {
				t.Errorf("%d suggested goals, want 3-6", n)
			}
			seen := map[string]bool{}
			for _, g := range r.SuggestedGoals {
				if g == "" || seen[g] {
					t.Errorf("empty or repeated goal %q", g)
				}
				seen[g] = true
			}
		})
	}
}

func TestRolesReturnsACopy(t *testing.T) {
	b := examples.Roles()
	b[0] = 'X'
	if examples.Roles()[0] == 'X' {
		t.Fatal("Roles returned the embedded bytes themselves; a caller changed them for everyone")
	}
}
