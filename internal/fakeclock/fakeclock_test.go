package fakeclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

var start = time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))

func TestClockReadsWhatItWasSetTo(t *testing.T) {
	c := fakeclock.New(start)
	if got := c.Now(); !got.Equal(start) || got.Location() != start.Location() {
		t.Fatalf("Now = %v, want %v in its own zone", got, start)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("a second Now = %v: reading must not move the clock", got)
	}

	steps := []struct {
		name string
		move func()
		want time.Time
	}{
		{"advance", func() { c.Advance(90 * time.Second) }, start.Add(90 * time.Second)},
		{"advance again", func() { c.Advance(time.Hour) }, start.Add(time.Hour + 90*time.Second)},
		{"back", func() { c.Advance(-2 * time.Hour) }, start.Add(-time.Hour + 90*time.Second)},
		{"set", func() { c.Set(start.Add(24 * time.Hour)) }, start.Add(24 * time.Hour)},
	}
	for _, s := range steps {
		s.move()
		if got := c.Now(); !got.Equal(s.want) {
			t.Fatalf("after %s: Now = %v, want %v", s.name, got, s.want)
		}
	}
}

// The method value is what the code under test holds; it must follow the
// clock, not capture the time it was taken at.
func TestMethodValueFollowsTheClock(t *testing.T) {
	c := fakeclock.New(start)
	now := c.Now
	c.Advance(time.Minute)
	if got := now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("now() = %v, want %v", got, start.Add(time.Minute))
	}
}

// Run with -race: servers read the clock from their own goroutines while
// the test advances it.
func TestConcurrentUse(t *testing.T) {
	c := fakeclock.New(start)
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Add(2)
		go func() { defer wg.Done(); c.Advance(time.Second) }()
		go func() { defer wg.Done(); _ = c.Now() }()
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(n * time.Second)) {
		t.Fatalf("after %d concurrent advances: Now = %v, want %v", n, got, start.Add(n*time.Second))
	}
}
