package e2e

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// TestConcurrentRefresh: eight requests racing with one refresh token get
// exactly one new token pair; the others are invalid_grant, never a 5xx.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	tok, _, _ := ts.newRP(t, client).signIn(t, user)

	const n = 8
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = ts.newFormRequest(t, "/oauth2/token",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, authOf(client))
	}
	// Every request is built and its connection ready before any is sent,
	// so that they really race at the server.
	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n}, Timeout: requestTimeout}
	defer c.CloseIdleConnections()
	results := make([]oauthResponse, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = doJSONNoFatal(c, reqs[i])
		})
	}
	close(start)
	wg.Wait()

	ok := 0
	for i, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("request %d: %v", i, r.Err)
		case r.Status == http.StatusOK:
			ok++
			ts.secret(r.str("access_token"), r.str("refresh_token"))
		case r.Status == http.StatusBadRequest && r.str("error") == "invalid_grant":
		default:
			t.Errorf("request %d: status %d error %q, want 200 or 400 invalid_grant\n%s", i, r.Status, r.str("error"), snippet(r.Raw))
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent refreshes succeeded, want exactly 1", ok, n)
	}
}
