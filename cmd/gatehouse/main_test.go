package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// testSecret is exactly the minimum length.
const testSecret = "0123456789abcdef0123456789abcdef"

// result is one in-process run of the CLI.
type result struct {
	stdout, stderr string
	code           int
}

// env is the environment of a test run: the configuration file and the
// GATEHOUSE_* variables the command sees (nothing from the real process).
type env struct {
	t          *testing.T
	configPath string
	vars       map[string]string
	stdin      string
}

// newEnv returns an environment whose config file sets a test secret and
// bcrypt's minimum cost, so password hashing does not dominate the tests.
func newEnv(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	cfg := "secret: " + testSecret + "\npassword:\n  bcrypt_cost: 4\nlog:\n  format: text\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, configPath: path, vars: map[string]string{}}
}

// newDBEnv is newEnv plus a fresh, migrated database, reached through
// GATEHOUSE_DATABASE_URL as an operator would.
func newDBEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	url := pgtest.NewDatabase(t)
	e.vars["GATEHOUSE_DATABASE_URL"] = url
	return e, url
}

// newApp is the app a run of the CLI in e uses.
func (e *env) newApp(stdout, stderr io.Writer) *app {
	return &app{
		configPath: e.configPath,
		lookupEnv:  func(k string) (string, bool) { v, ok := e.vars[k]; return v, ok },
		stdin:      strings.NewReader(e.stdin),
		stdout:     stdout,
		stderr:     stderr,
		now:        time.Now,
	}
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	a := e.newApp(&stdout, &stderr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := execute(ctx, a, append([]string{"--config", e.configPath}, args...))
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ok runs args, fails the test unless they succeed, and decodes stdout
// into out (if not nil).
func (e *env) ok(out any, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("gatehouse %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
			e.t.Fatalf("gatehouse %s: stdout is not the expected JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
		}
	}
	return r
}

// fails runs args and fails the test unless they exit non-zero with
// nothing on stdout and a message on stderr containing every want.
func (e *env) fails(want []string, args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code == 0 {
		e.t.Fatalf("gatehouse %s succeeded, want failure\nstdout: %s", strings.Join(args, " "), r.stdout)
	}
	if r.stdout != "" {
		e.t.Errorf("gatehouse %s: failure printed to stdout: %s", strings.Join(args, " "), r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			e.t.Errorf("gatehouse %s: stderr %q does not contain %q", strings.Join(args, " "), r.stderr, w)
		}
	}
	// An operator reads the domain's message, not the chain of packages
	// the error passed through.
	for _, internal := range []string{"domain: ", "store: "} {
		if strings.Contains(r.stderr, internal) {
			e.t.Errorf("gatehouse %s: stderr %q carries the wrapped chain (%q)", strings.Join(args, " "), r.stderr, internal)
		}
	}
	return r
}

// openTestStore opens the test database directly, to check what the
// commands stored.
func openTestStore(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := postgres.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	// version must work even when the configuration is broken.
	e.vars["GATEHOUSE_LOG_LEVEL"] = "loud"
	r := e.ok(nil, "version")
	want := "gatehouse dev " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if r.stdout != want {
		t.Fatalf("version printed %q, want %q", r.stdout, want)
	}
}

func TestCommandsThatIgnoreABrokenConfig(t *testing.T) {
	tests := []struct {
		args   []string
		stdout string
	}{
		{[]string{"version"}, "gatehouse dev"},
		{[]string{"help", "users"}, "Create, list, change and delete users"},
		{[]string{"users", "--help"}, "Create, list, change and delete users"},
		{[]string{"completion", "bash"}, "bash completion"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := newEnv(t)
			e.vars["GATEHOUSE_LOG_LEVEL"] = "loud"
			if r := e.ok(nil, tt.args...); !strings.Contains(r.stdout, tt.stdout) {
				t.Fatalf("stdout %q does not contain %q", r.stdout, tt.stdout)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(e *env)
		args   []string
		stderr []string
	}{
		{
			name:   "invalid log level in the environment",
			setup:  func(e *env) { e.vars["GATEHOUSE_LOG_LEVEL"] = "loud" },
			args:   []string{"users", "list"},
			stderr: []string{"log.level", "loud"},
		},
		{
			name:   "unparseable environment value",
			setup:  func(e *env) { e.vars["GATEHOUSE_PASSWORD_BCRYPT_COST"] = "high" },
			args:   []string{"users", "list"},
			stderr: []string{"GATEHOUSE_PASSWORD_BCRYPT_COST"},
		},
		{
			name:   "unknown field in the config file",
			setup:  func(e *env) { writeConfig(e.t, e.configPath, "secert: x\n") },
			args:   []string{"clients", "list"},
			stderr: []string{"secert"},
		},
		{
			name:   "missing config file",
			setup:  func(e *env) { e.configPath = filepath.Join(e.t.TempDir(), "absent.yaml") },
			args:   []string{"clients", "list"},
			stderr: []string{"absent.yaml"},
		},
		{
			name:   "no database url",
			setup:  func(e *env) {},
			args:   []string{"migrate", "status"},
			stderr: []string{"database_url is not set", "GATEHOUSE_DATABASE_URL"},
		},
		{
			name:   "keys without a secret",
			setup:  func(e *env) { writeConfig(e.t, e.configPath, "database_url: postgres://unused/db\n") },
			args:   []string{"keys", "list"},
			stderr: []string{"secret: must be at least 32 bytes"},
		},
		{
			name:   "users create with a weak password policy",
			setup:  func(e *env) { e.vars["GATEHOUSE_PASSWORD_MIN_LENGTH"] = "4" },
			args:   []string{"users", "create", "--username", "alice", "--email", "alice@example.com", "--password", "long enough"},
			stderr: []string{"password.min_length"},
		},
		{
			name:   "unknown flag",
			setup:  func(e *env) {},
			args:   []string{"clients", "create", "--id", "x", "--colour", "blue"},
			stderr: []string{"colour", "gatehouse clients create --help"},
		},
		{
			name:   "missing required flag",
			setup:  func(e *env) {},
			args:   []string{"users", "create", "--email", "a@example.com", "--password", "x"},
			stderr: []string{"username"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(e)
			e.fails(tt.stderr, tt.args...)
		})
	}
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
