package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

// TestTokensValidation: the tokens section's values and bounds.
func TestTokensValidation(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(c *config.Tokens)
		wantField string // "" means valid
	}{
		{"defaults", func(c *config.Tokens) {}, ""},
		{"async", func(c *config.Tokens) { c.AccessTokenCommit = "async" }, ""},
		{"unknown commit mode", func(c *config.Tokens) { c.AccessTokenCommit = "fast" }, "tokens.access_token_commit"},
		{"empty commit mode", func(c *config.Tokens) { c.AccessTokenCommit = "" }, "tokens.access_token_commit"},
		{"commit mode in capitals", func(c *config.Tokens) { c.AccessTokenCommit = "ASYNC" }, "tokens.access_token_commit"},
		{"group commit off", func(c *config.Tokens) { c.GroupCommit.MaxBatch = 1 }, ""},
		{"largest batch", func(c *config.Tokens) { c.GroupCommit.MaxBatch = config.MaxGroupCommitBatch }, ""},
		{"zero batch", func(c *config.Tokens) { c.GroupCommit.MaxBatch = 0 }, "tokens.group_commit.max_batch"},
		{"batch too large", func(c *config.Tokens) { c.GroupCommit.MaxBatch = config.MaxGroupCommitBatch + 1 }, "tokens.group_commit.max_batch"},
		{"no window", func(c *config.Tokens) { c.GroupCommit.Window = 0 }, ""},
		{"longest window", func(c *config.Tokens) { c.GroupCommit.Window = config.MaxGroupCommitWindow }, ""},
		{"negative window", func(c *config.Tokens) { c.GroupCommit.Window = -time.Microsecond }, "tokens.group_commit.window"},
		{"window too long", func(c *config.Tokens) { c.GroupCommit.Window = config.MaxGroupCommitWindow + 1 }, "tokens.group_commit.window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c.Tokens)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			assertProblemFields(t, err, tt.wantField)
		})
	}
}

// TestTokensLoad: the section from YAML and from the environment, which
// wins.
func TestTokensLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	yaml := "tokens:\n  access_token_commit: async\n  group_commit:\n    max_batch: 16\n    window: 500us\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := config.Tokens{AccessTokenCommit: "async", GroupCommit: config.GroupCommit{MaxBatch: 16, Window: 500 * time.Microsecond}}
	if c.Tokens != want {
		t.Errorf("from YAML: tokens = %+v, want %+v", c.Tokens, want)
	}

	env := map[string]string{
		"GATEHOUSE_TOKENS_ACCESS_TOKEN_COMMIT":    "sync",
		"GATEHOUSE_TOKENS_GROUP_COMMIT_MAX_BATCH": "1",
		"GATEHOUSE_TOKENS_GROUP_COMMIT_WINDOW":    "0s",
	}
	c, err = config.Load(path, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Load with env: %v", err)
	}
	want = config.Tokens{AccessTokenCommit: "sync", GroupCommit: config.GroupCommit{MaxBatch: 1}}
	if c.Tokens != want {
		t.Errorf("from the environment: tokens = %+v, want %+v", c.Tokens, want)
	}

	if err := os.WriteFile(path, []byte("tokens:\n  access_token_comit: async\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, nil); err == nil {
		t.Errorf("Load of a misspelt tokens key succeeded")
	}
}
