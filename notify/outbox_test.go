package notify_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/notify"
	"github.com/gatehouse/gatehouse/notify/smtptest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// flakySender fails the first failures sends, then accepts.
type flakySender struct {
	mu       sync.Mutex
	failures int
	sent     []string
	tries    int
}

func (f *flakySender) Send(_ context.Context, to, subject, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.failures > 0 {
		f.failures--
		return errors.New("451 4.3.0 try again later")
	}
	f.sent = append(f.sent, to+" "+subject)
	return nil
}

type counts struct {
	mu      sync.Mutex
	results map[string]int
	depth   int
}

func (c *counts) MailDepth(n int) { c.mu.Lock(); c.depth = n; c.mu.Unlock() }
func (c *counts) MailDelivery(r string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.results == nil {
		c.results = map[string]int{}
	}
	c.results[r]++
}

func enqueue(t *testing.T, st store.Store, now time.Time, to string) store.Mail {
	t.Helper()
	m := store.Mail{ID: uuid.NewString(), Recipient: to, Subject: "Reset your password", Body: "link\n",
		NextAttemptAt: now, CreatedAt: now}
	if err := st.EnqueueMail(context.Background(), m, 0); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOutboxRetriesWithBackoffThenSends(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	send := &flakySender{failures: 2}
	rec := &counts{}
	o := notify.NewOutbox(st, send, notify.OutboxOptions{Now: clock.Now, BaseBackoff: time.Minute, MaxBackoff: 10 * time.Minute,
		MaxAttempts: 5, Recorder: rec})
	enqueue(t, st, clock.Now(), "alice@example.com")

	if n, err := o.Pass(ctx); n != 1 || err != nil {
		t.Fatalf("first pass: %d, %v", n, err)
	}
	// Failed once: not due again for BaseBackoff.
	clock.Advance(time.Minute - time.Second)
	if n, _ := o.Pass(ctx); n != 0 {
		t.Fatalf("claimed %d before the backoff ended", n)
	}
	clock.Advance(time.Second)
	if n, _ := o.Pass(ctx); n != 1 {
		t.Fatalf("claimed %d at the end of the first backoff, want 1", n)
	}
	// Failed twice: the wait doubled.
	clock.Advance(2*time.Minute - time.Second)
	if n, _ := o.Pass(ctx); n != 0 {
		t.Fatalf("claimed %d before the doubled backoff ended", n)
	}
	clock.Advance(time.Second)
	if n, _ := o.Pass(ctx); n != 1 {
		t.Fatalf("claimed %d at the end of the doubled backoff, want 1", n)
	}
	if len(send.sent) != 1 || send.tries != 3 {
		t.Errorf("sent %v in %d tries, want one message in 3", send.sent, send.tries)
	}
	if n, _ := st.CountMail(ctx); n != 0 {
		t.Errorf("%d messages left after the delivery, want 0 (sent mail is deleted)", n)
	}
	if rec.results["retry"] != 2 || rec.results["sent"] != 1 || rec.depth != 0 {
		t.Errorf("recorded %v, depth %d", rec.results, rec.depth)
	}
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		if got := o.Backoff(i + 1); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, want)
		}
	}
}

func TestOutboxGivesUp(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	send := &flakySender{failures: 1000}
	rec := &counts{}
	o := notify.NewOutbox(st, send, notify.OutboxOptions{Now: clock.Now, BaseBackoff: time.Second, MaxBackoff: time.Second,
		MaxAttempts: 3, MaxAge: time.Hour, Recorder: rec})
	enqueue(t, st, clock.Now(), "bob@example.com")
	for range 3 {
		if _, err := o.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	if n, _ := st.CountMail(ctx); n != 0 || send.tries != 3 || rec.results["given_up"] != 1 {
		t.Errorf("after 3 failed attempts: %d left, %d tries, %v; want the message given up after 3", n, send.tries, rec.results)
	}

	// Too old: given up without a try.
	enqueue(t, st, clock.Now(), "carol@example.com")
	clock.Advance(time.Hour)
	before := send.tries
	if _, err := o.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountMail(ctx); n != 0 || send.tries != before {
		t.Errorf("an hour-old message: %d left, %d new tries; want it given up untried", n, send.tries-before)
	}
}

func TestOutboxRecordsLastError(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	o := notify.NewOutbox(st, &flakySender{failures: 1}, notify.OutboxOptions{Now: clock.Now})
	m := enqueue(t, st, clock.Now(), "dan@example.com")
	if _, err := o.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.ClaimMail(ctx, clock.Now().Add(time.Hour), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != m.ID || !strings.Contains(got[0].LastError, "451") || got[0].Attempts != 2 {
		t.Errorf("after a failed attempt the message is %+v, %v", got, err)
	}
}

// TestOutboxThroughSMTP runs the sender against the test SMTP server: a
// real conversation, the message deleted once accepted.
func TestOutboxThroughSMTP(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	st := memory.New()
	smtp := notify.NewSMTP(notify.Options{Host: srv.Host, Port: srv.Port, From: "gatehouse <no-reply@example.com>",
		Issuer: "https://id.example"})
	o := notify.NewOutbox(st, smtp, notify.OutboxOptions{PollInterval: 10 * time.Millisecond})
	enqueue(t, st, time.Now(), "erin@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Messages()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "erin@example.com" || !strings.Contains(string(msgs[0].Data), "Subject: Reset your password") {
		t.Fatalf("server got %+v", msgs)
	}
	if n, _ := st.CountMail(context.Background()); n != 0 {
		t.Errorf("%d messages left after delivery", n)
	}
}
