package e2e

import (
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/store"
)

// TestAppAccessRule: a client restricted to a role answers access_denied
// (with the state) to a user without it, lets a user with it through, and
// refuses that user's refresh once the role is taken away.
func TestAppAccessRule(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Access = store.ClientAccess{Roles: []string{"manager"}}
	})
	rp := ts.newRP(t, client, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)

	outsider := ts.createUser(t, "user")
	ar := rp.newAuthRequest(t, false)
	res := rp.authorize(t, ts.newBrowser(t), ar, &outsider)
	if got := res.Query.Get("error"); got != "access_denied" || res.Query.Get("code") != "" {
		t.Fatalf("outsider: error=%q code=%q, want access_denied and no code", got, res.Query.Get("code"))
	}

	// admin inherits manager: admitted through the hierarchy.
	insider := ts.createUser(t, "admin")
	tok, _, _ := rp.signIn(t, insider)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	insider.Roles = []string{"user"}
	if err := ts.Store.UpdateUser(ctxT(t), insider.User); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, ts.refresh(t, tok.RefreshToken, authOf(client)), http.StatusBadRequest, "invalid_grant")
}
