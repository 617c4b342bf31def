package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a running server writes to while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// servingAddr is the listen address in the text log line serve writes once
// it accepts connections.
var servingAddr = regexp.MustCompile(`msg="gatehouse serving" addr=(\S+)`)

// serving runs `gatehouse serve` with args in the background until it
// listens, checks that it answers discovery for wantIssuer, then stops it as
// SIGTERM would and returns the whole run.
func (e *env) serving(wantIssuer string, args ...string) result {
	e.t.Helper()
	var stdout, stderr lockedBuffer
	a := &app{
		lookupEnv: func(k string) (string, bool) { v, ok := e.vars[k]; return v, ok },
		stdin:     strings.NewReader(""),
		stdout:    &stdout,
		stderr:    &stderr,
		now:       time.Now,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- execute(ctx, a, append([]string{"--config", e.configPath, "serve", "--addr", "127.0.0.1:0"}, args...))
	}()

	var addr string
	deadline := time.After(30 * time.Second)
	for addr == "" {
		select {
		case code := <-exited:
			e.t.Fatalf("gatehouse serve %s exited %d before serving\nstderr: %s", strings.Join(args, " "), code, stderr.String())
		case <-deadline:
			e.t.Fatalf("gatehouse serve %s did not start in 30 s\nstderr: %s", strings.Join(args, " "), stderr.String())
		case <-time.After(20 * time.Millisecond):
			if m := servingAddr.FindStringSubmatch(stderr.String()); m != nil {
				addr = m[1]
			}
		}
	}

	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/.well-known/openid-configuration")
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	var disc struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || disc.Issuer != wantIssuer {
		e.t.Errorf("discovery: status %d, issuer %q (%v); want 200 and %q", resp.StatusCode, disc.Issuer, err, wantIssuer)
	}

	cancel()
	select {
	case code := <-exited:
		return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	case <-time.After(30 * time.Second):
		e.t.Fatalf("gatehouse serve did not stop within 30 s of its context ending")
		return result{}
	}
}

// Dev mode on an address others can reach would hand them a server whose
// admin password and client secrets were printed to a terminal and whose
// state vanishes on exit: it takes a second flag to mean it.
func TestServeDevRefusesPublicIssuer(t *testing.T) {
	why := []string{
		"dev mode refuses the issuer http://id.example.com:8080",
		"not a loopback address (localhost, 127.0.0.0/8 or [::1])",
		"lost on exit",
		"prints the admin password and client secrets to the terminal",
		"--dev-public-issuer",
	}
	tests := []struct {
		name  string
		setup func(e *env)
		args  []string
		want  []string
	}{
		{
			name:  "--dev with a public http issuer",
			setup: func(e *env) { e.vars["GATEHOUSE_ISSUER"] = "http://id.example.com:8080" },
			args:  []string{"serve", "--dev"},
			want:  why,
		},
		{
			name:  "--dev with a public https issuer",
			setup: func(e *env) { e.vars["GATEHOUSE_ISSUER"] = "https://id.example.com" },
			args:  []string{"serve", "--dev"},
			want:  []string{"refuses the issuer https://id.example.com", "--dev-public-issuer"},
		},
		{
			name: "dev mode from the environment",
			setup: func(e *env) {
				e.vars["GATEHOUSE_ISSUER"] = "http://id.example.com:8080"
				e.vars["GATEHOUSE_DEV"] = "true"
			},
			args: []string{"serve"},
			want: why,
		},
		{
			name: "the second word cannot come from the environment",
			setup: func(e *env) {
				e.vars["GATEHOUSE_ISSUER"] = "http://id.example.com:8080"
				e.vars["GATEHOUSE_DEV_PUBLIC_ISSUER"] = "true"
			},
			args: []string{"serve", "--dev"},
			want: why,
		},
		{
			name: "nor from the config file",
			setup: func(e *env) {
				writeConfig(e.t, e.configPath, "issuer: http://id.example.com:8080\ndev_public_issuer: true\n")
			},
			args: []string{"serve", "--dev"},
			want: []string{"dev_public_issuer"},
		},
		{
			name:  "--dev-public-issuer without dev mode",
			setup: func(e *env) {},
			args:  []string{"serve", "--dev-public-issuer"},
			want:  []string{"--dev-public-issuer is only meaningful with --dev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(e)
			// fails also checks that nothing (no banner, no secret) reached stdout.
			r := e.fails(tt.want, tt.args...)
			if r.code != 1 {
				t.Errorf("exit status %d, want 1", r.code)
			}
			if strings.Contains(r.stderr, "gatehouse serving") {
				t.Errorf("the server started:\n%s", r.stderr)
			}
		})
	}
}

// The issuer is https, as behind a TLS-terminating proxy: an http one on a
// public host would still stop at the demo client, whose redirect URI the
// domain refuses (plain http only to loopback hosts).
func TestServeDevStartsWhenToldTwice(t *testing.T) {
	e := newEnv(t)
	e.vars["GATEHOUSE_ISSUER"] = "https://id.example.com"
	r := e.serving("https://id.example.com", "--dev", "--dev-public-issuer")
	if r.code != 0 {
		t.Fatalf("exit status %d after shutdown, want 0\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "gatehouse is running in dev mode at https://id.example.com") {
		t.Errorf("no dev banner:\n%s", r.stdout)
	}
}

// Every address of 127.0.0.0/8 is the machine itself, not only 127.0.0.1.
func TestServeDevStartsOnAnyLoopbackAddress(t *testing.T) {
	e := newEnv(t)
	e.vars["GATEHOUSE_ISSUER"] = "http://127.0.0.2:8080"
	r := e.serving("http://127.0.0.2:8080", "--dev")
	if r.code != 0 {
		t.Fatalf("exit status %d after shutdown, want 0\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "gatehouse is running in dev mode at http://127.0.0.2:8080") {
		t.Errorf("no dev banner:\n%s", r.stdout)
	}
}
