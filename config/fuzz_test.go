package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds Load a YAML file and GATEHOUSE_* variables ("NAME=value"
// lines). It must answer with a Config or an error that says it is the
// configuration's ("config: ..." or a *ValidationError), a variable must win
// over the file, and Validate must neither panic nor show a secret.
func FuzzLoad(f *testing.F) {
	full := `issuer: https://id.example.com
addr: 127.0.0.1:9000
database_url: postgres://u@db/gh
secret: 0123456789abcdef0123456789abcdef
log: {level: debug, format: text}
lifetimes: {authorization_code: 5m, access_token: 15m, id_token: 30m, refresh_token: 720h, login_session: 8h, consent: 0}
access_token_format: jwt
signing_algorithm: ES256
password: {min_length: 12, bcrypt_cost: 10}
http: {read_header_timeout: 2s, max_body_bytes: 2048}
login: {max_failures: 3, lockout: 30m}
registration: {enabled: true}
smtp: {host: mail.example.com, port: 2525, username: mailer, password: mail-password, from: id@example.com, require_tls: true}
janitor: {interval: 1m, batch_size: 500}
`
	for _, s := range [][2]string{
		{full, ""},
		{full, "GATEHOUSE_ISSUER=https://env.example.com\nGATEHOUSE_LIFETIMES_ACCESS_TOKEN=1h\nGATEHOUSE_LOGIN_MAX_FAILURES=9"},
		{"", "GATEHOUSE_SECRET_FILE=from-a-file-0123456789abcdef0123456789\nGATEHOUSE_SMTP_PASSWORD=hunter2-hunter2"},
		{"secret: x\n", "GATEHOUSE_SECRET=y\nGATEHOUSE_SECRET_FILE=z"},
		{"lifetimes:\n  access_token: 90\n", ""},
		{"lifetimes:\n  access_token: 1.5\n", "GATEHOUSE_HTTP_MAX_BODY_BYTES=99999999999999999999"},
		{"unknown_key: 1\n", "GATEHOUSE_DEV=maybe"},
		{"issuer: [1, 2]\n", ""},
		{"lifetimes: 5m\n", ""},
		{"a: &a [*a]\n", ""},
		{"--- \n...\n", ""},
		{"\x00\xff", "GATEHOUSE_ADDR=\x00"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, doc, envLines string) {
		dir := t.TempDir()
		path := filepath.Join(dir, "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{}
		for i, line := range strings.Split(envLines, "\n") {
			name, value, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(name, EnvPrefix) {
				continue
			}
			if strings.HasSuffix(name, "_FILE") {
				// A file of the test's own with the value as contents:
				// never a path the fuzzer names.
				file := filepath.Join(dir, fmt.Sprintf("secret-%d", i))
				if err := os.WriteFile(file, []byte(value), 0o600); err != nil {
					t.Fatal(err)
				}
				value = file
			}
			vars[name] = value
		}
		env := func(name string) (string, bool) { v, ok := vars[name]; return v, ok }

		cfg, err := Load(path, env)
		var ve *ValidationError
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") && !errors.As(err, &ve) {
				t.Fatalf("Load: an error that does not say it is the configuration's: %v", err)
			}
			return
		}
		for _, fl := range fields(&cfg) {
			raw, ok := vars[fl.envName()]
			if _, viaFile := vars[fl.envName()+"_FILE"]; !ok || viaFile || fl.value.Kind() != reflect.String {
				continue
			}
			if got := fl.value.String(); got != strings.TrimSpace(raw) {
				t.Fatalf("%s=%q, but %s is %q", fl.envName(), raw, fl.path, got)
			}
		}
		err = cfg.Validate()
		if err == nil {
			return
		}
		if !errors.As(err, &ve) {
			t.Fatalf("Validate: %T %v, want a *ValidationError", err, err)
		}
		// A secret is shown if the message changes with it: the same
		// configuration with the secrets' letters and digits rotated (same
		// length, same control characters, so the same verdicts) must
		// not still contain them.
		msg := err.Error()
		rotated := cfg
		rotated.Secret, rotated.SMTP.Password = rotate(cfg.Secret), rotate(cfg.SMTP.Password)
		var other string
		if err := rotated.Validate(); err != nil {
			other = err.Error()
		}
		for _, secret := range []string{cfg.Secret, cfg.SMTP.Password} {
			if len(secret) >= 4 && rotate(secret) != secret && strings.Contains(msg, secret) && !strings.Contains(other, secret) {
				t.Fatalf("Validate shows a secret: %v", err)
			}
		}
	})
}

// rotate maps letters and digits to others (ROT13, digits by 5).
func rotate(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		case r >= '0' && r <= '9':
			return '0' + (r-'0'+5)%10
		}
		return r
	}, s)
}
