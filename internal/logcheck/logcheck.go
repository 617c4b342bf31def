// Package logcheck is test support: it captures a server's log so that a
// test can print it when it fails and check that no secret the test handled
// (password, client secret, token, code) was ever written to it.
package logcheck

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// maxShown bounds how much of the log a failing test prints.
const maxShown = 20000

// Log is an io.Writer for a server's slog handler.
type Log struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	secrets []string
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Secret registers a value that must not appear in the log.
func (l *Log) Secret(s string) {
	if s == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, s)
}

// Finish fails t if a registered secret is in the log, and prints the end
// of the log if t has failed. Call it from t.Cleanup.
func (l *Log) Finish(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.buf.String()
	for _, s := range l.secrets {
		if strings.Contains(out, s) {
			t.Errorf("server log contains a secret value (%d chars, prefix %.6q)", len(s), s)
		}
	}
	if t.Failed() && out != "" {
		if len(out) > maxShown {
			out = "…" + out[len(out)-maxShown:]
		}
		t.Logf("server log (last %d bytes at most):\n%s", maxShown, out)
	}
}
