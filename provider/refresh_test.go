package provider

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
)

// These tests drive the reuse interval of refresh tokens (refresh.go)
// through the token endpoint, with a fake clock for the provider.

const testReuseInterval = 10 * time.Second

// reuseEnv is a server with the reuse interval on, a first-party client
// "web", a resource server to introspect with, and a clock to step.
type reuseEnv struct {
	*testEnv
	clock          *fakeclock.Clock
	secret         string
	rsID, rsSecret string
}

func newReuseEnv(t *testing.T) *reuseEnv {
	t.Helper()
	// Near the real time: fosite stamps expiries with the wall clock, and
	// the provider compares them with its own.
	clock := fakeclock.New(time.Now().Truncate(time.Second))
	e := newTestEnv(t, func(o *Options) {
		o.Now = clock.Now
		o.RefreshReuseInterval = testReuseInterval
	})
	r := &reuseEnv{testEnv: e, clock: clock}
	r.secret = e.addClient(store.Client{ID: "web", FirstParty: true})
	r.rsID, r.rsSecret = e.resourceServer()
	return r
}

// pair is what one token answer handed out.
type pair struct{ access, refresh string }

// signIn runs the code flow as alice and returns the grant's first pair.
func (r *reuseEnv) signIn() pair {
	r.t.Helper()
	tok, _ := r.codeFlow(r.newBrowser(), r.oauthConfig("web", r.secret, "openid", "offline_access"))
	return pair{tok.AccessToken, refreshToken(r.t, tok)}
}

// refresh presents rt as clientID and returns the status and answer.
func (r *reuseEnv) refresh(rt, clientID, secret string) (int, map[string]any) {
	r.t.Helper()
	return r.postForm("/oauth2/token", refreshForm(rt), clientID, secret)
}

// mustRefresh presents rt as web and wants a new pair.
func (r *reuseEnv) mustRefresh(rt, what string) pair {
	r.t.Helper()
	status, body := r.refresh(rt, "web", r.secret)
	if status != http.StatusOK {
		r.t.Fatalf("%s: %d %v", what, status, body)
	}
	p := pair{str(body["access_token"]), str(body["refresh_token"])}
	if p.access == "" || p.refresh == "" || p.refresh == rt {
		r.t.Fatalf("%s: no new pair: %v", what, body)
	}
	return p
}

// wantRefused presents rt as web and wants invalid_grant.
func (r *reuseEnv) wantRefused(rt, what string) {
	r.t.Helper()
	status, body := r.refresh(rt, "web", r.secret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		r.t.Errorf("%s: %d %v, want 400 invalid_grant", what, status, body)
	}
}

// active introspects token.
func (r *reuseEnv) active(token string) bool {
	r.t.Helper()
	return r.introspect(token, r.rsID, r.rsSecret)["active"] == true
}

func (r *reuseEnv) wantActive(what string, want bool, tokens ...string) {
	r.t.Helper()
	for _, tok := range tokens {
		if got := r.active(tok); got != want {
			r.t.Errorf("%s: token %.12s... active = %v, want %v", what, tok, got, want)
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestRefreshRetryOfALostAnswer(t *testing.T) {
	r := newReuseEnv(t)
	first := r.signIn()
	// Another grant of the same user and client: the retry must not touch it.
	other := r.signIn()

	lost := r.mustRefresh(first.refresh, "refresh whose answer is lost")
	r.clock.Advance(3 * time.Second)
	// A resource server asking about the rotated token in between sees it
	// inactive, and that does not use up the client's retry.
	r.wantActive("the rotated token, introspected", false, first.refresh)

	retry := r.mustRefresh(first.refresh, "retry within the interval")
	if retry.refresh == lost.refresh || retry.access == lost.access {
		t.Fatalf("the retry returned the lost pair again: %+v", retry)
	}
	r.wantActive("the retry's pair", true, retry.access, retry.refresh)
	r.wantActive("the lost answer's pair", false, lost.access, lost.refresh)
	r.wantActive("the first pair", false, first.access, first.refresh)
	r.wantActive("the other grant", true, other.access, other.refresh)

	// The family goes on as usual.
	next := r.mustRefresh(retry.refresh, "refresh with the retry's token")
	r.wantActive("the next pair", true, next.access, next.refresh)

	// Whoever holds the lost answer holds a token that was never used by
	// the client: presenting it is reuse and ends the family.
	r.wantRefused(lost.refresh, "the lost answer's refresh token")
	r.wantActive("the family after the lost token was replayed", false, next.access, next.refresh)
	r.wantActive("the other grant", true, other.access, other.refresh)
}

func TestRefreshRetryInterval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		elapsed time.Duration
		retry   bool
	}{
		{"at once", 0, true},
		{"at the end of the interval", testReuseInterval, true},
		{"just after the interval", testReuseInterval + time.Millisecond, false},
		{"an hour later", time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReuseEnv(t)
			first := r.signIn()
			lost := r.mustRefresh(first.refresh, "refresh whose answer is lost")
			r.clock.Advance(tc.elapsed)
			if tc.retry {
				retry := r.mustRefresh(first.refresh, "retry")
				r.wantActive("the retry's pair", true, retry.access, retry.refresh)
				r.wantActive("the lost pair", false, lost.access, lost.refresh)
				return
			}
			r.wantRefused(first.refresh, "retry after the interval")
			r.wantActive("the family after a late retry", false, lost.access, lost.refresh)
			r.wantRefused(lost.refresh, "the lost pair's refresh token")
		})
	}
}

func TestRefreshSecondRetryRevokes(t *testing.T) {
	r := newReuseEnv(t)
	first := r.signIn()
	r.mustRefresh(first.refresh, "refresh whose answer is lost")
	retry := r.mustRefresh(first.refresh, "first retry")
	r.clock.Advance(time.Second)

	r.wantRefused(first.refresh, "second retry")
	r.wantActive("the first retry's pair", false, retry.access, retry.refresh)
	r.wantRefused(retry.refresh, "the first retry's refresh token")
}

func TestRefreshRetryByAnotherClient(t *testing.T) {
	r := newReuseEnv(t)
	otherSecret := r.addClient(store.Client{ID: "other", FirstParty: true})
	first := r.signIn()
	lost := r.mustRefresh(first.refresh, "refresh whose answer is lost")

	status, body := r.refresh(first.refresh, "other", otherSecret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("another client presenting the rotated token: %d %v, want 400 invalid_grant", status, body)
	}
	// As before the interval existed: reuse, and the family is revoked.
	r.wantActive("the family after another client's replay", false, lost.access, lost.refresh)
	r.wantRefused(first.refresh, "the client's own retry after that")
	r.wantRefused(lost.refresh, "the lost pair's refresh token")
}

// A client that received its answer and refreshed with the new token has
// no retry to make: the old token presented again is reuse, however soon.
func TestRefreshRetryAfterTheSuccessorWasUsed(t *testing.T) {
	r := newReuseEnv(t)
	first := r.signIn()
	second := r.mustRefresh(first.refresh, "first refresh")
	third := r.mustRefresh(second.refresh, "second refresh")

	r.wantRefused(first.refresh, "the first token, presented again")
	r.wantActive("the family after reuse", false, third.access, third.refresh)
}

// A revoked family stays revoked: there is no live successor to replace.
func TestRefreshRetryAfterRevocation(t *testing.T) {
	r := newReuseEnv(t)
	first := r.signIn()
	lost := r.mustRefresh(first.refresh, "refresh whose answer is lost")
	status, body := r.postForm("/oauth2/revoke", url.Values{"token": {lost.refresh}}, "web", r.secret)
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	r.wantRefused(first.refresh, "retry after the grant was revoked")
	r.wantActive("the revoked pair", false, lost.access, lost.refresh)
}

// raceRefresh sends n refreshes with rt at once and returns the answers.
func (r *reuseEnv) raceRefresh(rt string, n int) []refreshAnswer {
	r.t.Helper()
	out := make([]refreshAnswer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			req, err := http.NewRequest(http.MethodPost, r.issuer+"/oauth2/token", strings.NewReader(refreshForm(rt).Encode()))
			if err != nil {
				out[i].err = err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", url.QueryEscape(r.secret))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			out[i].status = resp.StatusCode
			out[i].err = json.NewDecoder(resp.Body).Decode(&out[i].body)
		})
	}
	close(start)
	wg.Wait()
	return out
}

type refreshAnswer struct {
	status int
	body   map[string]any
	err    error
}

// count checks every answer is 200 or invalid_grant and returns the pairs
// of the 200s.
func (r *reuseEnv) count(answers []refreshAnswer) []pair {
	r.t.Helper()
	var issued []pair
	for i, a := range answers {
		switch {
		case a.err != nil:
			r.t.Errorf("request %d: %v", i, a.err)
		case a.status == http.StatusOK:
			issued = append(issued, pair{str(a.body["access_token"]), str(a.body["refresh_token"])})
		case a.status == http.StatusBadRequest && a.body["error"] == "invalid_grant":
		default:
			r.t.Errorf("request %d: %d %v, want 200 or 400 invalid_grant", i, a.status, a.body)
		}
	}
	return issued
}

// Two retries of one lost answer at once: the token endpoint's lock makes
// them take turns, so one is the retry and the other a second retry, which
// revokes the family. They never both leave with a live pair.
func TestRefreshRetriesRacing(t *testing.T) {
	r := newReuseEnv(t)
	first := r.signIn()
	lost := r.mustRefresh(first.refresh, "refresh whose answer is lost")

	issued := r.count(r.raceRefresh(first.refresh, 2))
	if len(issued) != 1 {
		t.Fatalf("%d of 2 racing retries got a pair, want 1", len(issued))
	}
	r.wantActive("the pair of the retry that won", false, issued[0].access, issued[0].refresh)
	r.wantActive("the lost pair", false, lost.access, lost.refresh)
}

// Eight refreshes racing with one live token: the first rotates, the
// second counts as its retry and replaces its pair, the rest are reuse.
// Whatever was handed out, at most one pair lives (here none: reuse
// revoked the family).
func TestRefreshRaceWithReuseInterval(t *testing.T) {
	r := newReuseEnv(t)
	first := r.signIn()

	issued := r.count(r.raceRefresh(first.refresh, 8))
	if len(issued) != 2 {
		t.Errorf("%d of 8 racing refreshes got a pair, want 2 (a rotation and its retry)", len(issued))
	}
	live := 0
	for _, p := range issued {
		if r.active(p.access) || r.active(p.refresh) {
			live++
		}
	}
	if live != 0 {
		t.Errorf("%d pairs live after the race, want 0 (the family was revoked for reuse)", live)
	}
}
