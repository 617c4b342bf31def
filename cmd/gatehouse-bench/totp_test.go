package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func testKey(t *testing.T, account string) *otp.Key {
	t.Helper()
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "bench", AccountName: account, Period: 30,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testUsers(t *testing.T, n int, lastStep int64) []TOTPUser {
	users := make([]TOTPUser, n)
	for i := range users {
		name := fmt.Sprintf("u%d", i)
		users[i] = TOTPUser{Username: name, Key: testKey(t, name), LastStep: lastStep}
	}
	return users
}

func TestTOTPCodeIsTheKeysCodeOfTheStep(t *testing.T) {
	k := testKey(t, "alice")
	at := time.Date(2026, 12, 3, 15, 0, 10, 0, time.UTC)
	step := totpStep(k, at)
	if step != at.Unix()/30 {
		t.Fatalf("step = %d, want %d", step, at.Unix()/30)
	}
	code, err := totpCode(k, step)
	if err != nil {
		t.Fatal(err)
	}
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	if ok, err := totp.ValidateCustom(code, k.Secret(), at, opts); err != nil || !ok {
		t.Fatalf("code %q of step %d does not validate at %s: %v", code, step, at, err)
	}
	// The next step's code is another one (else replay protection would
	// not be exercised by the pool at all).
	next, err := totpCode(k, step+1)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := totp.ValidateCustom(next, k.Secret(), at.Add(-30*time.Second), opts); ok {
		t.Fatalf("code of step %d validates two steps earlier", step+1)
	}
}

// A fake clock standing in one step hands each user out once; the next
// step frees them all again; no (user, step) pair is ever handed out
// twice, even to concurrent takers.
func TestTOTPPoolNeverReusesAUserStep(t *testing.T) {
	base := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := base
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	step0 := base.Unix() / 30
	// Enrolment used step0-1 for every user.
	p := newTOTPPool(testUsers(t, 5, step0-1), clock)

	seen := map[string]bool{}
	var seenMu sync.Mutex
	for round := range 3 {
		var wg sync.WaitGroup
		var got int
		for range 20 {
			wg.Go(func() {
				l, untilNext, ok := p.take()
				seenMu.Lock()
				defer seenMu.Unlock()
				if !ok {
					// The clock stands at the start of the step.
					if untilNext != 30*time.Second {
						t.Errorf("round %d: next step in %s, want 30s", round, untilNext)
					}
					return
				}
				got++
				pair := fmt.Sprintf("%s@%d", l.user.Username, l.step)
				if seen[pair] {
					t.Errorf("round %d: %s handed out twice", round, pair)
				}
				seen[pair] = true
				if l.step != step0+int64(round) {
					t.Errorf("round %d: step %d, want %d", round, l.step, step0+int64(round))
				}
			})
		}
		wg.Wait()
		if got != 5 {
			t.Fatalf("round %d: %d users handed out, want all 5", round, got)
		}
		mu.Lock()
		now = now.Add(30 * time.Second)
		mu.Unlock()
	}
}

// A user whose enrolment used the current step is not handed out in it.
func TestTOTPPoolSkipsTheEnrolmentStep(t *testing.T) {
	base := time.Date(2026, 12, 3, 15, 0, 5, 0, time.UTC)
	step := base.Unix() / 30
	users := testUsers(t, 2, step)
	users[1].LastStep = step - 1
	p := newTOTPPool(users, func() time.Time { return base })
	l, _, ok := p.take()
	if !ok || l.user.Username != "u1" {
		t.Fatalf("take = %+v, %v; want u1", l, ok)
	}
	if _, _, ok := p.take(); ok {
		t.Fatal("a second user handed out in the step both have used")
	}
}

// With every user's code of this step used, acquire waits for the next
// step and says that it waited.
func TestTOTPPoolAcquireWaitsForTheNextStep(t *testing.T) {
	// A clock 150 ms before a step boundary, running at real speed.
	boundary := time.Unix((time.Now().Unix()/30+10)*30, 0)
	start := time.Now()
	clock := func() time.Time { return boundary.Add(-150 * time.Millisecond).Add(time.Since(start)) }
	step := boundary.Unix()/30 - 1
	p := newTOTPPool(testUsers(t, 1, step), clock)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, waited, err := p.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !waited || l.step != step+1 {
		t.Fatalf("acquire = step %d, waited %v; want step %d after a wait", l.step, waited, step+1)
	}
	if d := time.Since(start); d < 140*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %s, want about 150 ms", d)
	}
	// A free user: no wait.
	p = newTOTPPool(testUsers(t, 1, step-1), clock)
	if _, waited, err := p.acquire(ctx); err != nil || waited {
		t.Fatalf("acquire of a free user: waited %v, %v", waited, err)
	}
	// ctx ending stops the wait.
	p = newTOTPPool(testUsers(t, 1, step+100), clock)
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	if _, waited, err := p.acquire(short); err == nil || !waited {
		t.Fatalf("acquire with nothing free and ctx ending: waited %v, err %v", waited, err)
	}
}

func TestTOTPPoolSize(t *testing.T) {
	for _, c := range []struct {
		conc   int
		checks float64
		want   int
	}{
		{32, 6.0, 32 + 720},  // four times 6 sign-ins/s for 30 s, plus one per worker
		{1, 0, 2},            // nothing measured: two per worker
		{8, 0.001, 16},       // at least two per worker
		{32, 5000, 10_000},   // a cheap hash: bounded
		{32, 6.01, 32 + 722}, // rounded up
	} {
		if got := totpPoolSize(c.conc, c.checks, 30); got != c.want {
			t.Errorf("totpPoolSize(%d, %v) = %d, want %d", c.conc, c.checks, got, c.want)
		}
	}
}

const mfaPage = `<!doctype html><html><body><h1>Two-step verification</h1>
<form method="post" action="/login/mfa">
<input type="hidden" name="csrf_token" value="tok9">
<label for="code">Authentication code</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus>
<button type="submit" class="primary">Verify</button>
</form>
<p class="muted"><a href="/login/mfa?recovery=1">Use a recovery code</a></p>
</body></html>`

func TestSecondStepFormIsFilledIn(t *testing.T) {
	page, _ := url.Parse("http://127.0.0.1:1/login/mfa")
	a := &authorizer{username: "bench-totp-00001", otp: "123456"}
	req, err := a.submitPage(context.Background(), page, []byte(mfaPage), true)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.URL.String() != "http://127.0.0.1:1/login/mfa" {
		t.Fatalf("request %s %s", req.Method, req.URL)
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(req.Body); err != nil {
		t.Fatal(err)
	}
	got, err := url.ParseQuery(body.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("code") != "123456" || got.Get("csrf_token") != "tok9" || len(got) != 2 {
		t.Errorf("form = %v, want code and csrf_token", got)
	}
	// A user without an app meeting the page is an error that says so.
	a.otp = ""
	if _, err := a.submitPage(context.Background(), page, []byte(mfaPage), true); err == nil ||
		!strings.Contains(err.Error(), "authenticator app") {
		t.Fatalf("no code: err %v", err)
	}
}

func TestCompareTOTP(t *testing.T) {
	rows := []ResultJSON{
		row("authcode-login", 1, 3.0, 300, 0),
		row("authcode-login", 8, 6.5, 1500, 0),
		row(totpWorkload, 1, 2.9, 310, 0),
		row(totpWorkload, 8, 6.0, 1600, 0),
		row("authcode-sso", 8, 450, 20, 0),
	}
	rows[3].Waits = 2
	// 30 flows at 250 ms and 65 at 240 ms; 29 and 60 at 260 ms.
	rows[0].Count, rows[0].ServerCPU = 30, 7.5
	rows[1].Count, rows[1].ServerCPU = 65, 15.6
	rows[2].Count, rows[2].ServerCPU = 29, 29*0.26
	rows[3].Count, rows[3].ServerCPU = 60, 60*0.26
	c := compareTOTP(rows, 392)
	if c == nil {
		t.Fatal("no comparison")
	}
	if c.TOTP != 6.0 || c.Login != 6.5 || fmt.Sprintf("%.3f", c.Ratio) != "0.923" || c.Waits != 2 || c.Users != 392 {
		t.Fatalf("comparison = %+v", c)
	}
	if fmt.Sprintf("%.3f %.3f", c.ByC[1], c.ByC[8]) != "0.967 0.923" {
		t.Errorf("by concurrency = %v", c.ByC)
	}
	var out bytes.Buffer
	printTOTPComparison(&out, c)
	want := "authcode-login-totp / authcode-login = 0.92 (best 6.0 / 6.5 flows/s; c=1 0.97, c=8 0.92); 392 TOTP users, 2 waits for a free one\n" +
		"server CPU per flow: authcode-login-totp 260.0 ms, authcode-login 243.2 ms (1.07)\n"
	if out.String() != want {
		t.Errorf("printed %q\nwant    %q", out.String(), want)
	}
	if compareTOTP(rows[2:], 10) != nil {
		t.Error("a comparison without authcode-login")
	}
	if compareTOTP(rows[:2], 10) != nil {
		t.Error("a comparison without authcode-login-totp")
	}

	// The target of issue 10: within 5%.
	var target *TargetJSON
	for _, tg := range evaluateTargets(rows, 2, 6.0, 37) {
		if strings.HasPrefix(tg.Target, totpWorkload) {
			target = &tg
		}
	}
	if target == nil || target.Status != statusMissed || target.Measured != "6.0 / 6.5 flows/s = 0.92" {
		t.Fatalf("target = %+v, want missed at 0.92", target)
	}
	for _, tg := range evaluateTargets(rows[:2], 2, 6.0, 37) {
		if strings.HasPrefix(tg.Target, totpWorkload) {
			t.Errorf("a TOTP target row without the TOTP workload: %+v", tg)
		}
	}
}

// waitingWorker waits 30 ms before every operation of 1 ms.
type waitingWorker struct{}

func (waitingWorker) Wait(ctx context.Context) (bool, error) {
	return true, sleepUntil(ctx, time.Now().Add(30*time.Millisecond))
}

func (waitingWorker) Do(context.Context) (string, error) {
	time.Sleep(time.Millisecond)
	return "", nil
}

// Run counts a waiter's waits in the measured window, and keeps them out
// of the operations' latencies.
func TestRunCountsWaitsApartFromLatency(t *testing.T) {
	wl := Workload{Name: "w", Unit: "req", NewWorker: func(context.Context, int) (Worker, error) { return waitingWorker{}, nil }}
	res, err := Run(context.Background(), wl, RunSpec{Concurrency: 2, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Waits < 10 || res.Waited < 200*time.Millisecond || res.Waited > 2*300*time.Millisecond {
		t.Errorf("waits %d for %s, want about 18 for about 540 ms", res.Waits, res.Waited)
	}
	if p99 := res.All.Quantile(0.99); p99 >= 25*time.Millisecond {
		t.Errorf("p99 %s includes the waits", p99)
	}
	var out bytes.Buffer
	printTable(&out, []ResultJSON{resultJSON(res)}, tableLatency)
	if !strings.Contains(out.String(), "waits for a free user") {
		t.Errorf("table does not report the waits:\n%s", out.String())
	}
}
