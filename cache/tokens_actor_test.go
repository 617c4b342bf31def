package cache_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

// An exchanged token's entry goes with its actor: an invalidation or hold
// naming the actor drops it, one naming another actor does not, and "every
// actor" drops the tokens that have one and keeps those that have none.
func TestTokensInvalidateByActor(t *testing.T) {
	acted := cache.TokenOwner{RequestID: "g1", UserID: "u1", ClientID: "c1", Actor: "user:u9", ExpiresAt: t0.Add(time.Hour)}
	plain := cache.TokenOwner{RequestID: "g2", UserID: "u9", ClientID: "c1", ExpiresAt: t0.Add(time.Hour)}
	clk := fakeclock.New(t0)
	c := newTokens(clk, 10)
	la, lp := &tokenLoader{owner: acted}, &tokenLoader{owner: plain}
	get := func() {
		t.Helper()
		mustGet(t, c, "acted", la)
		mustGet(t, c, "plain", lp)
	}
	get()
	c.Invalidate(cache.ByActor, "user:u8")
	get()
	if la.calls != 1 || lp.calls != 1 {
		t.Fatalf("another actor's invalidation: loads %d/%d, want 1/1", la.calls, lp.calls)
	}
	// The actor's own tokens (ByUser u9) are not the ones it acts through.
	c.Invalidate(cache.ByActor, "user:u9")
	get()
	if la.calls != 2 || lp.calls != 1 {
		t.Fatalf("the actor's invalidation: loads %d/%d, want 2/1", la.calls, lp.calls)
	}
	c.Invalidate(cache.ByActor, "")
	get()
	if la.calls != 3 || lp.calls != 1 {
		t.Fatalf("every actor's invalidation: loads %d/%d, want 3/1 (a token without an actor stays)", la.calls, lp.calls)
	}

	c.Hold(cache.ByActor, "user:u9")
	get()
	get()
	if la.calls != 5 || lp.calls != 1 {
		t.Fatalf("during the actor's hold: loads %d/%d, want 5/1", la.calls, lp.calls)
	}
	clk.Advance(time.Minute)
	c.Hold(cache.ByActor, "")
	get()
	get()
	if la.calls != 7 || lp.calls != 1 {
		t.Fatalf("during every actor's hold: loads %d/%d, want 7/1", la.calls, lp.calls)
	}
	clk.Advance(time.Minute)
	get()
	get()
	if la.calls != 8 {
		t.Fatalf("after the hold: loads %d, want 8 (cached again)", la.calls)
	}
}
