package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

// TestConcurrentRefresh: eight requests racing with one refresh token are
// never a 5xx and never leave two live pairs. Without the reuse interval
// exactly one gets a new pair; with it (the default) the second counts as
// the first one's retry and replaces its pair. Either way the rest are
// reuse, which revokes the family: of the pairs handed out, none stays
// live.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		interval time.Duration
		issued   int
		live     int
	}{
		{"no reuse interval", 0, 1, 0},
		{"default reuse interval", config.Default().RefreshToken.ReuseInterval, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *config.Config) { c.RefreshToken.ReuseInterval = tc.interval })
			user := ts.createUser(t, "user")
			client := ts.createConfidentialClient(t, nil)
			rs := authOf(ts.resourceServer(t))
			tok, _, _ := ts.newRP(t, client).signIn(t, user)

			const n = 8
			issued, live := 0, 0
			for _, r := range raceRefreshes(t, ts, client, tok.RefreshToken, n) {
				if r.Status != http.StatusOK {
					continue
				}
				issued++
				if ts.isActive(t, r.str("access_token"), rs) || ts.isActive(t, r.str("refresh_token"), rs) {
					live++
				}
			}
			if issued != tc.issued || live != tc.live {
				t.Errorf("%d of %d concurrent refreshes got a pair and %d of those live, want %d and %d", issued, n, live, tc.issued, tc.live)
			}
		})
	}
}
