package config_test

import (
	"reflect"
	"testing"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
)

func TestPasskeyConfig(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		want   domain.PasskeyConfig
	}{
		{"defaults from the issuer", func(c *config.Config) { c.Issuer = "https://id.example.com/auth" },
			domain.PasskeyConfig{RPID: "id.example.com", RPDisplayName: "gatehouse", Origins: []string{"https://id.example.com"}}},
		{"localhost with a port", func(c *config.Config) { c.Issuer = "http://localhost:8080" },
			domain.PasskeyConfig{RPID: "localhost", RPDisplayName: "gatehouse", Origins: []string{"http://localhost:8080"}}},
		{"configured", func(c *config.Config) {
			c.Issuer = "https://id.example.com"
			c.WebAuthn = config.WebAuthn{Enabled: true, RPID: "example.com", RPName: "Example", Origins: []string{"https://a.example.com"}}
		}, domain.PasskeyConfig{RPID: "example.com", RPDisplayName: "Example", Origins: []string{"https://a.example.com"}}},
		// WebAuthn needs a domain: an IP-address issuer has no passkeys.
		{"an IP address issuer", func(c *config.Config) { c.Issuer = "http://127.0.0.1:8080" }, domain.PasskeyConfig{}},
		{"off", func(c *config.Config) { c.Issuer = "https://id.example.com"; c.WebAuthn.Enabled = false }, domain.PasskeyConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(&c)
			if got := c.PasskeyConfig(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("PasskeyConfig() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWebAuthnOriginsFromEnv(t *testing.T) {
	got, err := config.Load("", envMap(map[string]string{
		"GATEHOUSE_WEBAUTHN_ORIGINS": " https://a.example.com, ,https://b.example.com ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://a.example.com", "https://b.example.com"}; !reflect.DeepEqual(got.WebAuthn.Origins, want) {
		t.Fatalf("origins = %q, want %q", got.WebAuthn.Origins, want)
	}
}
