package config_test

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

func TestMFARequiredRoles(t *testing.T) {
	if got := config.Default().MFA.RequiredRoles; len(got) != 0 {
		t.Fatalf("default required roles %q, want none", got)
	}
	got, err := config.Load("", envMap(map[string]string{"GATEHOUSE_MFA_REQUIRED_ROLES": " admin, ops ,"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.MFA.RequiredRoles, []string{"admin", "ops"}) {
		t.Fatalf("from the environment: %q", got.MFA.RequiredRoles)
	}
	p := writeFile(t, "gatehouse.yaml", "mfa:\n  required_roles: [admin, auditor]\n")
	got, err = config.Load(p, envMap(map[string]string{"GATEHOUSE_DATABASE_URL": "postgres://db.example/g", "GATEHOUSE_SECRET": testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.MFA.RequiredRoles, []string{"admin", "auditor"}) {
		t.Fatalf("from YAML: %q", got.MFA.RequiredRoles)
	}
	c := validConfig()
	c.MFA.RequiredRoles = []string{"admin", " "}
	assertProblemFields(t, c.Validate(), "mfa.required_roles")
}
