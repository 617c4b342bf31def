package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCodeFlowAuthorizeTouch: the authorize endpoint of a browser whose
// session was last seen longer ago than the touch interval (five minutes,
// domain/sessions.go) still records it, as one round trip between the
// reads and the code's write; the next authorization, fresh again, costs
// maxAuthorizeRoundTrips.
func TestCodeFlowAuthorizeTouch(t *testing.T) {
	t.Parallel()
	proxy, ts := startCountedServer(t)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)
	_, _, browser := rp.signIn(t, user)
	for range 2 {
		ar := rp.newAuthRequest(t, false)
		code, _ := rp.code(t, browser, ar, nil)
		rp.exchange(t, code, ar)
	}

	// The user's one session was last seen ten minutes ago (written
	// through the proxy, outside the count).
	conn, err := pgx.Connect(ctxT(t), proxy.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var stale time.Time
	err = conn.QueryRow(ctxT(t), `UPDATE login_sessions SET last_seen_at = now() - interval '10 minutes'
		WHERE user_id = $1 RETURNING last_seen_at`, user.ID).Scan(&stale)
	if err != nil {
		t.Fatalf("age the session: %v", err)
	}

	ar := rp.newAuthRequest(t, false)
	proxy.reset()
	code, res := rp.code(t, browser, ar, nil)
	pool, listener, log := proxy.counts()
	if res.SawLogin || res.SawConsent {
		t.Fatal("the signed-in browser saw the login or consent page")
	}
	t.Logf("stale session: authorize, %d round trips\n%s", pool+listener, log)
	// The touch is a statement of its own, as before the reads were one:
	// on a connection that has not run it yet, pgx prepares it first (one
	// round trip more, once per connection), which is not counted here.
	var trips, touches int
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "pool: prepare ") {
			continue
		}
		trips++
		if strings.Contains(line, "UPDATE login_sessions SET last_seen_at") {
			touches++
		}
	}
	if trips != maxAuthorizeRoundTrips+1 || touches != 1 {
		t.Errorf("authorize with a stale session: %d round trips besides preparing, %d touches; want %d (the reads, the touch, the code), one:\n%s",
			trips, touches, maxAuthorizeRoundTrips+1, log)
	}
	var seen time.Time
	if err := conn.QueryRow(ctxT(t), `SELECT last_seen_at FROM login_sessions WHERE user_id = $1`, user.ID).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if !seen.After(stale.Add(9 * time.Minute)) {
		t.Errorf("last_seen_at = %v after the authorization, want it touched (was %v)", seen, stale)
	}
	rp.exchange(t, code, ar)

	ar = rp.newAuthRequest(t, false)
	proxy.reset()
	code, _ = rp.code(t, browser, ar, nil)
	pool, listener, log = proxy.counts()
	if pool+listener > maxAuthorizeRoundTrips {
		t.Errorf("authorize after the touch took %d round trips, want at most %d:\n%s", pool+listener, maxAuthorizeRoundTrips, log)
	}
	rp.exchange(t, code, ar)
}
