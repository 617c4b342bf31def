package backchannel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/backchannel"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

type counts struct {
	mu      sync.Mutex
	results map[string]int
	depth   int
}

func (c *counts) LogoutDepth(n int) { c.mu.Lock(); c.depth = n; c.mu.Unlock() }
func (c *counts) LogoutDelivery(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.results == nil {
		c.results = map[string]int{}
	}
	c.results[r]++
}

// receiver answers each request with the next status of its script (the
// last one repeated) and keeps the tokens.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	tokens   []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tokens = append(r.tokens, req.PostFormValue("logout_token"))
	status := r.statuses[min(len(r.tokens), len(r.statuses))-1]
	if status == http.StatusFound {
		http.Redirect(w, req, "/elsewhere", status)
		return
	}
	w.WriteHeader(status)
}

type fixture struct {
	ctx    context.Context
	clock  *fakeclock.Clock
	st     *memory.Store
	km     *keys.Manager
	rec    *counts
	recv   *receiver
	client store.Client
	sender *backchannel.Sender
}

func newFixture(t *testing.T, opts backchannel.Options, statuses ...int) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	km, err := keys.NewManager(st, []byte("0123456789abcdef0123456789abcdef"), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	recv := &receiver{statuses: statuses}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	c := store.Client{ID: "rp", Name: "RP", BackchannelLogoutURI: srv.URL + "/bcl"}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	rec := &counts{}
	opts.Issuer, opts.Now, opts.Recorder = "https://id.example", clock.Now, rec
	return &fixture{ctx: ctx, clock: clock, st: st, km: km, rec: rec, recv: recv, client: c,
		sender: backchannel.New(st, km, opts)}
}

func (f *fixture) enqueue(t *testing.T) store.Logout {
	t.Helper()
	l := store.Logout{ID: uuid.NewString(), ClientID: f.client.ID, Subject: "user-1", SessionID: "sid-1",
		NextAttemptAt: f.clock.Now(), CreatedAt: f.clock.Now()}
	if err := f.st.EnqueueLogout(f.ctx, l, 0); err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) pass(t *testing.T, want int) {
	t.Helper()
	n, err := f.sender.Pass(f.ctx)
	if err != nil {
		t.Fatalf("Pass: %v", err)
	}
	if n != want {
		t.Fatalf("Pass claimed %d, want %d", n, want)
	}
}

func (f *fixture) depth(t *testing.T) int {
	t.Helper()
	n, err := f.st.CountLogouts(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackoffDoubles(t *testing.T) {
	s := backchannel.New(nil, nil, backchannel.Options{BaseBackoff: time.Second, MaxBackoff: 10 * time.Second})
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		if got := s.Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", attempts, got, want)
		}
	}
}

// TestRetriesOnScheduleThenDelivers: each failure schedules the next
// attempt after the backoff, not before; a 2xx deletes the row.
func TestRetriesOnScheduleThenDelivers(t *testing.T) {
	f := newFixture(t, backchannel.Options{BaseBackoff: time.Minute}, 500, 503, 204)
	f.enqueue(t)
	f.pass(t, 1) // 500
	f.clock.Advance(59 * time.Second)
	f.pass(t, 0) // not yet due
	f.clock.Advance(time.Second)
	f.pass(t, 1) // 503; the next after 2 minutes
	f.clock.Advance(time.Minute)
	f.pass(t, 0)
	f.clock.Advance(time.Minute)
	f.pass(t, 1) // 204
	if d := f.depth(t); d != 0 {
		t.Errorf("queue holds %d after delivery", d)
	}
	if f.rec.results["failed"] != 2 || f.rec.results["delivered"] != 1 || f.rec.results["given_up"] != 0 {
		t.Errorf("results %v, want 2 failed and 1 delivered", f.rec.results)
	}
}

func TestGivenUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t, backchannel.Options{MaxAttempts: 2, BaseBackoff: time.Second}, 500)
	f.enqueue(t)
	f.pass(t, 1)
	f.clock.Advance(time.Second)
	f.pass(t, 1)
	if d := f.depth(t); d != 0 {
		t.Errorf("queue holds %d after the last attempt", d)
	}
	if f.rec.results["failed"] != 2 || f.rec.results["given_up"] != 1 {
		t.Errorf("results %v, want 2 failed and 1 given up", f.rec.results)
	}
}

func TestGivenUpWhenTooOld(t *testing.T) {
	f := newFixture(t, backchannel.Options{MaxAge: time.Hour, BaseBackoff: time.Minute}, 500)
	f.enqueue(t)
	f.pass(t, 1)
	f.clock.Advance(time.Hour)
	f.pass(t, 1)
	if len(f.recv.tokens) != 1 || f.rec.results["given_up"] != 1 || f.depth(t) != 0 {
		t.Errorf("posted %d, results %v, depth %d: want one post, then given up unsent", len(f.recv.tokens), f.rec.results, f.depth(t))
	}
}

// TestRedirectIsAFailure: the token goes to the registered URI only.
func TestRedirectIsAFailure(t *testing.T) {
	f := newFixture(t, backchannel.Options{}, http.StatusFound)
	f.enqueue(t)
	f.pass(t, 1)
	if len(f.recv.tokens) != 1 || f.rec.results["failed"] != 1 || f.depth(t) != 1 {
		t.Errorf("posted %d, results %v, depth %d: want one post, a failure, the row kept", len(f.recv.tokens), f.rec.results, f.depth(t))
	}
}

func TestDroppedWhenTheClientStopsListening(t *testing.T) {
	f := newFixture(t, backchannel.Options{}, 200)
	f.enqueue(t)
	c := f.client
	c.BackchannelLogoutURI = ""
	if err := f.st.UpdateClient(f.ctx, c); err != nil {
		t.Fatal(err)
	}
	f.pass(t, 1)
	if len(f.recv.tokens) != 0 || f.rec.results["given_up"] != 1 || f.depth(t) != 0 {
		t.Errorf("posted %d, results %v, depth %d: want nothing posted, dropped", len(f.recv.tokens), f.rec.results, f.depth(t))
	}
}

// TestTokenShape: header and claims as section 2.4 has them, verified with
// the published key.
func TestTokenShape(t *testing.T) {
	f := newFixture(t, backchannel.Options{}, 200)
	l := f.enqueue(t)
	raw, err := f.sender.Token(f.ctx, f.client, l)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := tok.Headers[0]
	if h.ExtraHeaders[jose.HeaderType] != "logout+jwt" || h.KeyID == "" {
		t.Fatalf("header %+v, want typ logout+jwt and a kid", h)
	}
	pub, err := f.km.PublicKey(f.ctx, h.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := tok.Claims(pub.Key, &c); err != nil {
		t.Fatal(err)
	}
	if c["iss"] != "https://id.example" || c["aud"] != "rp" || c["sub"] != "user-1" || c["sid"] != "sid-1" || c["jti"] == "" {
		t.Errorf("claims %v", c)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a nonce in a logout token")
	}
	ev, _ := c["events"].(map[string]any)
	if v, ok := ev[backchannel.EventBackChannelLogout].(map[string]any); !ok || len(v) != 0 {
		t.Errorf("events %v", c["events"])
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != backchannel.TokenLifetime.Seconds() {
		t.Errorf("exp - iat = %v", exp-iat)
	}
}
