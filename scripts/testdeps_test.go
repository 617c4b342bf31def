package scripts_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fake system commands test-deps.sh calls. Each records its command
// line in $FAKE_DIR/calls; what they do is steered by FAKE_* variables and
// by the file $FAKE_DIR/pg-up, whose presence means PostgreSQL accepts
// connections.
var fakes = map[string]string{
	"id": `[ "$1" = -u ] && echo "$FAKE_UID"`,
	"apt-get": `echo "apt-get DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >>"$FAKE_DIR/calls"
echo "Reading package lists... (noise that must not be shown)"
case " $* " in *" install "*)
	if [ -n "$FAKE_APT_FAILS" ]; then echo "E: Unable to locate package chromium" >&2; exit 100; fi
	if [ -n "$FAKE_APT_INSTALLS" ]; then printf '#!/bin/sh\n' >"$CHROMIUM"; chmod +x "$CHROMIUM"; fi
esac`,
	"pg_isready":    `echo "pg_isready $*" >>"$FAKE_DIR/calls"; [ -e "$FAKE_DIR/pg-up" ]`,
	"pg_lsclusters": `printf "$FAKE_CLUSTERS"`,
	"pg_ctlcluster": `echo "pg_ctlcluster $*" >>"$FAKE_DIR/calls"
if [ -n "$FAKE_PG_STARTS" ]; then : >"$FAKE_DIR/pg-up"; else echo "Error: could not start server" >&2; exit 1; fi`,
	"sleep": `echo "sleep $*" >>"$FAKE_DIR/calls"`,
}

// The real commands the script itself needs; nothing else is on its PATH,
// so a missing fake shows as a command not found rather than reaching the
// machine's own apt-get or pg_ctlcluster.
var realTools = []string{"bash", "sed", "awk", "sort", "tail", "seq", "chmod", "cat"}

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

const (
	aptUpdate  = "apt-get DEBIAN_FRONTEND=noninteractive -qq -o DPkg::Lock::Timeout=300 update"
	aptInstall = "apt-get DEBIAN_FRONTEND=noninteractive -qq -o DPkg::Lock::Timeout=300 install -y chromium"
	pgStart15  = "pg_ctlcluster --skip-systemctl-redirect 15 main start"
)

// machine is the state the script finds.
type machine struct {
	root          bool
	chromium      bool   // the browser is installed
	aptInstalls   bool   // apt-get install puts the browser in place
	aptFails      bool   // apt-get install fails
	pgUp          bool   // PostgreSQL accepts connections
	pgStarts      bool   // pg_ctlcluster start makes it accept them
	clusters      string // what pg_lsclusters -h prints
	noPgIsready   bool   // the PostgreSQL client is not installed
	databaseURL   string // GATEHOUSE_TEST_DATABASE_URL; defaultURL if empty
	unsetChromium bool   // leave CHROMIUM unset (the script's default path)
}

type outcome struct {
	code           int
	stdout, stderr string
	calls          []string // apt-get, pg_ctlcluster and sleep command lines, in order
	chromium       bool     // the browser is there afterwards
}

func run(t *testing.T, m machine) outcome {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range realTools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed to run test-deps.sh: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range fakes {
		if name == "pg_isready" && m.noPgIsready {
			continue
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	chromium := filepath.Join(dir, "chromium")
	if m.chromium {
		if err := os.WriteFile(chromium, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if m.pgUp {
		if err := os.WriteFile(filepath.Join(dir, "pg-up"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	uid := "1000"
	if m.root {
		uid = "0"
	}
	url := m.databaseURL
	if url == "" {
		url = defaultURL
	}
	env := []string{
		"PATH=" + bin,
		"FAKE_DIR=" + dir,
		"FAKE_UID=" + uid,
		"FAKE_CLUSTERS=" + m.clusters,
		"GATEHOUSE_TEST_DATABASE_URL=" + url,
	}
	if !m.unsetChromium {
		env = append(env, "CHROMIUM="+chromium)
	}
	if m.aptInstalls {
		env = append(env, "FAKE_APT_INSTALLS=1")
	}
	if m.aptFails {
		env = append(env, "FAKE_APT_FAILS=1")
	}
	if m.pgStarts {
		env = append(env, "FAKE_PG_STARTS=1")
	}

	cmd := exec.Command(filepath.Join(bin, "bash"), "test-deps.sh")
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run test-deps.sh: %v", err)
	}
	o := outcome{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if b, err := os.ReadFile(filepath.Join(dir, "calls")); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.HasPrefix(line, "pg_isready") {
				o.calls = append(o.calls, line)
			}
		}
	}
	_, err = os.Stat(chromium)
	o.chromium = err == nil
	return o
}

func TestTestDeps(t *testing.T) {
	const clusters = "13 main 5433 down postgres /var/lib/postgresql/13/main log\n15 main 5432 down postgres /var/lib/postgresql/15/main log\n"
	thirtySleeps := slices.Repeat([]string{"sleep 1"}, 30)
	tests := []struct {
		name     string
		m        machine
		code     int
		calls    []string
		chromium bool
		stderr   []string // each must appear
		quiet    bool     // nothing on stderr at all
	}{
		{
			name:     "everything there: silent, nothing installed or started",
			m:        machine{root: true, chromium: true, pgUp: true, clusters: clusters},
			chromium: true, quiet: true,
		},
		{
			name:     "root without Chromium: apt-get update, then install, quietly",
			m:        machine{root: true, aptInstalls: true, pgUp: true},
			calls:    []string{aptUpdate, aptInstall},
			chromium: true,
			stderr:   []string{"installing chromium"},
		},
		{
			name:   "root, apt-get install fails: its error is shown and make stops",
			m:      machine{root: true, aptFails: true, pgUp: true},
			code:   1,
			calls:  []string{aptUpdate, aptInstall},
			stderr: []string{"E: Unable to locate package chromium", "apt-get install -y chromium failed"},
		},
		{
			name:   "root, apt-get succeeds but the browser is not at CHROMIUM",
			m:      machine{root: true, pgUp: true},
			code:   1,
			calls:  []string{aptUpdate, aptInstall},
			stderr: []string{"still missing", "set CHROMIUM"},
		},
		{
			name:   "not root without Chromium: stops with the command, installs nothing",
			m:      machine{chromium: false, pgUp: true},
			code:   1,
			stderr: []string{"Chromium is missing", "sudo sh -c 'apt-get update && apt-get install -y chromium'"},
		},
		{
			name:     "root with PostgreSQL down: starts the newest main cluster",
			m:        machine{root: true, chromium: true, pgStarts: true, clusters: clusters},
			calls:    []string{pgStart15},
			chromium: true,
			stderr:   []string{"starting PostgreSQL 15"},
		},
		{
			name:     "root, PostgreSQL never comes up: waits 30 s, then stops",
			m:        machine{root: true, chromium: true, clusters: clusters},
			code:     1,
			calls:    append([]string{pgStart15}, thirtySleeps...),
			chromium: true,
			stderr:   []string{"pg_ctlcluster failed", "not accepting connections at postgres://127.0.0.1:5432/postgres", "after 30 s"},
		},
		{
			name:     "not root with PostgreSQL down: stops with the exact command",
			m:        machine{chromium: true, clusters: clusters},
			code:     1,
			chromium: true,
			stderr:   []string{"PostgreSQL is not reachable at postgres://127.0.0.1:5432/postgres", "sudo " + pgStart15},
		},
		{
			name:   "not root, both missing: both commands at once",
			m:      machine{clusters: clusters},
			code:   1,
			stderr: []string{"apt-get install -y chromium", pgStart15},
		},
		{
			name:     "no cluster installed",
			m:        machine{root: true, chromium: true},
			code:     1,
			chromium: true,
			stderr:   []string{"no cluster is installed", "apt-get install -y postgresql"},
		},
		{
			name:     "no PostgreSQL client",
			m:        machine{root: true, chromium: true, noPgIsready: true},
			code:     1,
			chromium: true,
			stderr:   []string{"pg_isready is not installed", "apt-get install -y postgresql"},
		},
		{
			name: "a remote test database is not started here, and its password is not printed",
			m: machine{root: true, chromium: true, clusters: clusters, pgStarts: true,
				databaseURL: "postgres://ci:hunter2-secret@db.internal:5432/ci?sslmode=require"},
			code:     1,
			chromium: true,
			stderr:   []string{"not reachable at postgres://db.internal:5432/ci", "GATEHOUSE_TEST_DATABASE_URL"},
		},
		{
			name:     "localhost is local",
			m:        machine{root: true, chromium: true, clusters: clusters, pgStarts: true, databaseURL: "postgres://postgres@localhost/postgres"},
			calls:    []string{pgStart15},
			chromium: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := run(t, tt.m)
			if o.code != tt.code {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", o.code, tt.code, o.stderr)
			}
			if !slices.Equal(o.calls, tt.calls) {
				t.Errorf("commands run:\n  %s\nwant:\n  %s", strings.Join(o.calls, "\n  "), strings.Join(tt.calls, "\n  "))
			}
			if o.chromium != tt.chromium {
				t.Errorf("chromium there afterwards: %v, want %v", o.chromium, tt.chromium)
			}
			if o.stdout != "" {
				t.Errorf("printed to stdout (make shows it as test output): %q", o.stdout)
			}
			if tt.quiet && o.stderr != "" {
				t.Errorf("printed %q, want silence when there is nothing to do", o.stderr)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(o.stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, o.stderr)
				}
			}
			if strings.Contains(o.stderr, "hunter2-secret") {
				t.Errorf("stderr shows the database password:\n%s", o.stderr)
			}
			// apt-get's chatter is shown only when it failed.
			if tt.code == 0 && strings.Contains(o.stderr, "noise that must not be shown") {
				t.Errorf("stderr shows apt-get's output of a run that worked:\n%s", o.stderr)
			}
		})
	}
}

// Without CHROMIUM the script checks Debian's path, the one the browser
// tests use; on this machine that is a real browser, which must be left
// alone: the run may install nothing.
func TestTestDepsDefaultsToDebiansChromium(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("/usr/bin/chromium is missing: `make test` installs it before the tests (scripts/test-deps.sh): %v", err)
	}
	o := run(t, machine{root: true, pgUp: true, unsetChromium: true})
	if o.code != 0 || len(o.calls) != 0 || o.stderr != "" {
		t.Fatalf("with /usr/bin/chromium in place: exit %d, commands %v, stderr %q; want 0, none, silence", o.code, o.calls, o.stderr)
	}
}
