package config_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

func TestIdentityProvidersFromYAML(t *testing.T) {
	path := writeFile(t, "gatehouse.yaml", `
database_url: postgres://db.example/gatehouse
secret: `+testSecret+`
identity_providers:
  - id: corp
    display_name: Corp SSO
    issuer: https://sso.corp.example
    client_id: gatehouse
    client_secret: top-secret-value
    scopes: [profile, email]
    claims:
      username: nickname
    link_by_verified_email: true
    new_user_roles: [viewer]
  - id: lab
    display_name: Lab
    issuer: http://127.0.0.1:9000
    client_id: lab
    new_user_status: active
    disabled: true
`)
	cfg, err := config.Load(path, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.IdentityProviderInputs()
	if len(in) != 2 {
		t.Fatalf("%d providers, want 2", len(in))
	}
	corp, lab := in[0], in[1]
	if corp.ID != "corp" || corp.ClientSecret != "top-secret-value" || corp.UsernameClaim != "nickname" ||
		!corp.LinkByVerifiedEmail || len(corp.Scopes) != 2 || len(corp.NewUserRoles) != 1 || !*corp.Enabled {
		t.Errorf("corp = %+v", corp)
	}
	if lab.NewUserStatus != store.StatusActive || *lab.Enabled {
		t.Errorf("lab = %+v", lab)
	}

	// Unknown keys are refused, as everywhere in the file.
	bad := writeFile(t, "bad.yaml", "identity_providers:\n  - id: x\n    client_secrett: typo\n")
	if _, err := config.Load(bad, envMap(nil)); err == nil || !strings.Contains(err.Error(), "client_secrett") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestIdentityProvidersValidation(t *testing.T) {
	c := validConfig()
	c.IdentityProviders = []config.IdentityProvider{
		{ID: "Bad Id", DisplayName: "X", Issuer: "https://a.example", ClientID: "c"},
		{ID: "ok", DisplayName: "", Issuer: "http://sso.example", ClientID: "", ClientSecret: "must-not-show", NewUserStatus: "locked"},
		{ID: "ok", DisplayName: "Dup", Issuer: "https://a.example", ClientID: "c"},
	}
	err := c.Validate()
	assertProblemFields(t, err, "identity_providers")
	msg := err.Error()
	for _, want := range []string{"[0]", "id must be", "display_name is required", "issuer must be an https URL",
		"client_id is required", "new_user_status must be pending or active", "id is listed twice"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "must-not-show") {
		t.Error("the message shows a client secret")
	}
	c.IdentityProviders = c.IdentityProviders[2:]
	if err := c.Validate(); err != nil {
		t.Errorf("a good provider: %v", err)
	}
}
