package config

import (
	"fmt"
	"time"
)

// Tokens configures how access tokens of client_credentials grants are
// committed (README "Performance", "The client_credentials write path").
type Tokens struct {
	// AccessTokenCommit is sync (the default: a token is on disk before
	// it is issued) or async: client_credentials access tokens are
	// committed with synchronous_commit off, so a crash of the database
	// server may lose those issued in its last ~3×wal_writer_delay, whose
	// clients then get 401 and fetch new ones. Codes, refresh tokens,
	// revocations and everything else stay durable.
	AccessTokenCommit string `yaml:"access_token_commit"`
	// GroupCommit gathers concurrent client_credentials tokens into one
	// transaction (PostgreSQL only).
	GroupCommit GroupCommit `yaml:"group_commit"`
}

// GroupCommit bounds the batches of the group commit.
type GroupCommit struct {
	// MaxBatch is the most tokens one commit serves; 1 turns group commit
	// off (one commit per token).
	MaxBatch int `yaml:"max_batch"`
	// Window is how long a batch waits for more tokens after its first,
	// and only while another batch is committing: an idle server commits
	// at once. 0: a batch takes just the tokens already waiting.
	Window time.Duration `yaml:"window"`
}

// Bounds of the group commit: a window of more than milliseconds adds
// latency without saving a commit more.
const (
	MaxGroupCommitBatch  = 1000
	MaxGroupCommitWindow = 10 * time.Millisecond
)

// defaultTokens is Default()'s tokens section.
func defaultTokens() Tokens {
	return Tokens{AccessTokenCommit: "sync", GroupCommit: GroupCommit{MaxBatch: 64, Window: 200 * time.Microsecond}}
}

// tokenChecks are the tokens section's rules.
func tokenChecks() []check {
	return []check{
		{"tokens.access_token_commit", func(c Config) string { return oneOf(c.Tokens.AccessTokenCommit, "sync", "async") }},
		{"tokens.group_commit.max_batch", func(c Config) string {
			if n := c.Tokens.GroupCommit.MaxBatch; n < 1 || n > MaxGroupCommitBatch {
				return fmt.Sprintf("must be between 1 (off) and %d, got %d", MaxGroupCommitBatch, n)
			}
			return ""
		}},
		{"tokens.group_commit.window", func(c Config) string {
			if d := c.Tokens.GroupCommit.Window; d < 0 || d > MaxGroupCommitWindow {
				return fmt.Sprintf("must be between 0 and %s, got %s", MaxGroupCommitWindow, d)
			}
			return ""
		}},
	}
}
