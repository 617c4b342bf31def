package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// The reuse interval of refresh tokens on PostgreSQL: a refresh whose
// answer is lost after the rotation committed can be retried with the same
// token (provider/refresh.go). The rules around it (too late, a second
// retry, another client) are driven with a fake clock in the provider's
// tests; here they run once more against the real store.

// errAnswerLost is what lostAnswer reports instead of the answer.
var errAnswerLost = errors.New("answer lost: connection closed by the network")

// lostAnswer is a RoundTripper whose answers never reach the caller. It
// sends the request on a connection of its own and waits for the server's
// answer before it closes the connection, so the server has done (and
// committed) everything the request asked for: that is the failure to
// reproduce — the server killed or stalled, or a proxy giving up, after the
// rotation. (Hanging up before the server has answered is another failure,
// and not a deterministic one: Go's server cancels the request's context
// when the client goes, and the rotation is rolled back or not depending on
// how far it got.) The answers are kept as evidence for the test, never
// handed to the client.
type lostAnswer struct {
	mu   sync.Mutex
	lost []map[string]any
}

func (l *lostAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	answer := map[string]any{"status": float64(resp.StatusCode)}
	_ = json.Unmarshal(raw, &answer)
	l.mu.Lock()
	l.lost = append(l.lost, answer)
	l.mu.Unlock()
	return nil, errAnswerLost
}

// only returns the one answer that was lost, failing unless there was one.
func (l *lostAnswer) only(t *testing.T) map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lost) != 1 {
		t.Fatalf("%d answers lost, want 1", len(l.lost))
	}
	return l.lost[0]
}

// refreshLosingTheAnswer refreshes rt through x/oauth2 over lostAnswer and
// returns the pair the server issued and the client never saw.
func (rp *relyingParty) refreshLosingTheAnswer(t *testing.T, rt string) (access, refresh string) {
	t.Helper()
	lossy := &lostAnswer{}
	ctx := context.WithValue(ctxT(t), oauth2.HTTPClient, &http.Client{Transport: lossy, Timeout: requestTimeout})
	_, err := rp.OAuth2.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
	if !errors.Is(err, errAnswerLost) {
		t.Fatalf("refresh over the lossy transport: %v, want the answer lost", err)
	}
	answer := lossy.only(t)
	access, _ = answer["access_token"].(string)
	refresh, _ = answer["refresh_token"].(string)
	if answer["status"] != float64(http.StatusOK) || access == "" || refresh == "" {
		t.Fatalf("the lost answer was no new pair: %v", answer)
	}
	rp.ts.secret(access, refresh)
	return access, refresh
}

// refreshAsClient refreshes rt through x/oauth2, as a relying party does.
func (rp *relyingParty) refreshAsClient(t *testing.T, rt string) *oauth2.Token {
	t.Helper()
	tok, err := rp.OAuth2.TokenSource(ctxT(t), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	rp.ts.secret(tok.AccessToken, tok.RefreshToken)
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.RefreshToken == rt {
		t.Fatalf("refresh did not rotate the pair")
	}
	return tok
}

func (ts *testServer) wantActive(t *testing.T, what string, auth clientAuth, want bool, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if got := ts.isActive(t, tok, auth); got != want {
			t.Errorf("%s: token %.12s... active = %v, want %v", what, tok, got, want)
		}
	}
}

func TestRefreshAnswerLostAfterCommit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)
	first, _, _ := rp.signIn(t, user)
	// The same user's other grant with the same client (another device).
	other, _, _ := rp.signIn(t, user)

	lostAccess, lostRefresh := rp.refreshLosingTheAnswer(t, first.RefreshToken)
	// The rotation committed: the token the client holds is used up.
	if row := ts.storedToken(t, store.KindRefreshToken, first.RefreshToken, "gh_rt_"); row.Active || row.RotatedAt == nil {
		t.Fatalf("after the lost answer the sent token is active %v, rotated at %v; want rotated", row.Active, row.RotatedAt)
	}

	// The client retries with the only token it has, and gets a whole answer.
	retry := rp.refreshAsClient(t, first.RefreshToken)
	if retry.AccessToken == lostAccess || retry.RefreshToken == lostRefresh {
		t.Fatalf("the retry returned the lost pair")
	}
	if raw, _ := retry.Extra("id_token").(string); raw == "" {
		t.Error("the retry's answer has no ID token")
	} else if _, err := rp.Verifier.Verify(ctxT(t), raw); err != nil {
		t.Errorf("the retry's ID token: %v", err)
	}
	if ui := ts.userinfo(t, retry.AccessToken); ui.Status != http.StatusOK || ui.str("sub") != user.ID {
		t.Errorf("userinfo with the retry's access token: %d %s", ui.Status, ui.Raw)
	}

	ts.wantActive(t, "the retry's pair", rs, true, retry.AccessToken, retry.RefreshToken)
	ts.wantActive(t, "the lost answer's pair", rs, false, lostAccess, lostRefresh)
	ts.wantActive(t, "the first pair", rs, false, first.AccessToken, first.RefreshToken)
	// Nothing else of the family, and nothing of the user's other grant.
	ts.wantActive(t, "the other grant", rs, true, other.AccessToken, other.RefreshToken)
	lost := ts.storedToken(t, store.KindRefreshToken, lostRefresh, "gh_rt_")
	retried := ts.storedToken(t, store.KindRefreshToken, retry.RefreshToken, "gh_rt_")
	firstRow := ts.storedToken(t, store.KindRefreshToken, first.RefreshToken, "gh_rt_")
	if lost.RequestID != firstRow.RequestID || retried.RequestID != firstRow.RequestID {
		t.Errorf("grants: first %s, lost %s, retry %s; want one", firstRow.RequestID, lost.RequestID, retried.RequestID)
	}
	want := tokenSignature(t, first.RefreshToken, "gh_rt_")
	if lost.Predecessor != want || retried.Predecessor != want {
		t.Errorf("predecessors: lost %q, retry %q; want both %q", lost.Predecessor, retried.Predecessor, want)
	}
	if firstRow.RewoundAt == nil {
		t.Error("the retried token's row does not record the rewind")
	}
	if !strings.Contains(ts.logs.String(), "within the reuse interval") {
		t.Error("no log line tells operators of the retry")
	}

	// The family goes on: the retry's refresh token rotates as usual.
	next := rp.refreshAsClient(t, retry.RefreshToken)
	ts.wantActive(t, "the next pair", rs, true, next.AccessToken, next.RefreshToken)
	ts.wantActive(t, "the other grant at the end", rs, true, other.AccessToken, other.RefreshToken)
}

// The rules around a retry, on PostgreSQL, with a short interval.
func TestRefreshRetryRules(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	ts := startServer(t, func(c *config.Config) { c.RefreshToken.ReuseInterval = interval })
	rs := authOf(ts.resourceServer(t))
	client := ts.createConfidentialClient(t, nil)
	otherClient := ts.createConfidentialClient(t, nil)

	// lose signs a new user in and loses the answer of the first refresh:
	// it returns the relying party, the token it sent and the lost pair.
	lose := func(t *testing.T) (rp *relyingParty, sent, lostAccess, lostRefresh string) {
		t.Helper()
		rp = ts.newRP(t, client)
		tok, _, _ := rp.signIn(t, ts.createUser(t, "user"))
		lostAccess, lostRefresh = rp.refreshLosingTheAnswer(t, tok.RefreshToken)
		return rp, tok.RefreshToken, lostAccess, lostRefresh
	}

	t.Run("after the interval", func(t *testing.T) {
		t.Parallel()
		_, sent, lostAccess, lostRefresh := lose(t)
		time.Sleep(interval + 500*time.Millisecond)
		wantOAuthError(t, ts.refresh(t, sent, authOf(client)), http.StatusBadRequest, "invalid_grant")
		ts.wantActive(t, "the family after a late retry", rs, false, lostAccess, lostRefresh)
	})
	t.Run("second retry", func(t *testing.T) {
		t.Parallel()
		rp, sent, _, _ := lose(t)
		retry := rp.refreshAsClient(t, sent)
		wantOAuthError(t, ts.refresh(t, sent, authOf(client)), http.StatusBadRequest, "invalid_grant")
		ts.wantActive(t, "the first retry's pair after a second", rs, false, retry.AccessToken, retry.RefreshToken)
	})
	t.Run("another client", func(t *testing.T) {
		t.Parallel()
		_, sent, lostAccess, lostRefresh := lose(t)
		wantOAuthError(t, ts.refresh(t, sent, authOf(otherClient)), http.StatusBadRequest, "invalid_grant")
		ts.wantActive(t, "the family after another client's replay", rs, false, lostAccess, lostRefresh)
		wantOAuthError(t, ts.refresh(t, sent, authOf(client)), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("the lost refresh token replayed", func(t *testing.T) {
		t.Parallel()
		rp, sent, _, lostRefresh := lose(t)
		retry := rp.refreshAsClient(t, sent)
		wantOAuthError(t, ts.refresh(t, lostRefresh, authOf(client)), http.StatusBadRequest, "invalid_grant")
		ts.wantActive(t, "the family after the lost token was replayed", rs, false, retry.AccessToken, retry.RefreshToken)
	})
	t.Run("retry at another instance", func(t *testing.T) {
		t.Parallel()
		b := startServer(t, func(c *config.Config) { c.RefreshToken.ReuseInterval = interval })
		_, sent, lostAccess, lostRefresh := lose(t)
		retry := b.newRP(t, client).refreshAsClient(t, sent)
		ts.wantActive(t, "the retry's pair made at B, seen at A", rs, true, retry.AccessToken, retry.RefreshToken)
		ts.wantActive(t, "the lost pair", rs, false, lostAccess, lostRefresh)
	})
}

// Two retries of one lost answer at once take turns on the token's row
// lock: one is the retry, the other a second retry, which revokes the
// family. They never both leave with a live pair.
func TestRefreshRetriesRacing(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)
	first, _, _ := rp.signIn(t, ts.createUser(t, "user"))
	lostAccess, lostRefresh := rp.refreshLosingTheAnswer(t, first.RefreshToken)

	results := raceRefreshes(t, ts, client, first.RefreshToken, 2)
	var issued []oauthResponse
	for _, r := range results {
		if r.Status == http.StatusOK {
			issued = append(issued, r)
		}
	}
	if len(issued) != 1 {
		t.Fatalf("%d of 2 racing retries got a pair, want 1", len(issued))
	}
	ts.wantActive(t, "the pair of the retry that won", rs, false, issued[0].str("access_token"), issued[0].str("refresh_token"))
	ts.wantActive(t, "the lost pair", rs, false, lostAccess, lostRefresh)
}

// raceRefreshes sends n refreshes of rt at once, each on a connection made
// ready beforehand, and fails on any answer but 200 or invalid_grant.
func raceRefreshes(t *testing.T, ts *testServer, client testClient, rt string, n int) []oauthResponse {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = ts.newFormRequest(t, "/oauth2/token",
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, authOf(client))
	}
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
	for i, r := range results {
		switch {
		case r.Err != nil:
			t.Errorf("request %d: %v", i, r.Err)
		case r.Status == http.StatusOK:
			ts.secret(r.str("access_token"), r.str("refresh_token"))
		case r.Status == http.StatusBadRequest && r.str("error") == "invalid_grant":
		default:
			t.Errorf("request %d: status %d error %q, want 200 or 400 invalid_grant\n%s", i, r.Status, r.str("error"), snippet(r.Raw))
		}
	}
	return results
}
