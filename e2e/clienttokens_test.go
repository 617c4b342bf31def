package e2e

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// TestClientCredentialsGroupCommit: concurrent client_credentials requests
// through the group commit (sync, the default, and async) each get a token
// that is in client_tokens, active at once, and revocable one by one.
func TestClientCredentialsGroupCommit(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *config.Config) {
				c.Tokens.AccessTokenCommit = mode
				c.Tokens.GroupCommit = config.GroupCommit{MaxBatch: 8, Window: config.MaxGroupCommitWindow}
			})
			rs := authOf(ts.resourceServer(t))
			client := ts.createConfidentialClient(t, func(c *store.Client) {
				c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
				c.GrantTypes = []string{"client_credentials"}
				c.Scopes = []string{"reports:read"}
			})

			const n = 24
			tokens := make([]string, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}, authOf(client))
					if r.Status != http.StatusOK {
						t.Errorf("client_credentials %d: status %d\n%s", i, r.Status, r.Raw)
						return
					}
					tokens[i] = r.str("access_token")
					ts.secret(tokens[i])
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}

			conn, err := pgx.Connect(ctxT(t), ts.Config.DatabaseURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctxT(t))
			sigs := make([]string, n)
			for i, at := range tokens {
				sigs[i] = tokenSignature(t, at, "gh_at_")
			}
			var rows, grants int
			err = conn.QueryRow(ctxT(t), `SELECT (SELECT count(*) FROM client_tokens WHERE signature = ANY($1) AND client_id = $2
					AND subject = $2 AND granted_scopes = '{reports:read}' AND active),
				(SELECT count(*) FROM grants g JOIN client_tokens c ON c.request_id = g.id WHERE c.signature = ANY($1))`,
				sigs, client.ID).Scan(&rows, &grants)
			if err != nil {
				t.Fatal(err)
			}
			if rows != n || grants != 0 {
				t.Errorf("client_tokens holds %d of the %d tokens (want all) and grants %d rows of theirs (want 0)", rows, n, grants)
			}

			for i, at := range tokens {
				info := ts.introspect(t, at, rs)
				if info.JSON["active"] != true || info.str("client_id") != client.ID || info.str("scope") != "reports:read" {
					t.Errorf("token %d: introspection %s, want active for %s with reports:read", i, info.Raw, client.ID)
				}
			}
			ts.revoke(t, tokens[0], authOf(client))
			if ts.isActive(t, tokens[0], rs) {
				t.Errorf("the revoked token is still active")
			}
			if !ts.isActive(t, tokens[1], rs) {
				t.Errorf("a token beside the revoked one is inactive")
			}
		})
	}
}
