package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// TestLockoutFromAnotherAddress: an attacker who knows a username guesses
// from 127.0.0.2. After login.max_failures wrong passwords that address is
// refused for that account (the right password too, with the page a wrong
// one gets), and keeping at it runs into the sign-in rate limit (429 with
// Retry-After). The owner, from 127.0.0.3, signs in all the while: the
// account is not locked, and the attacker's refusal outlives the owner's
// success.
func TestLockoutFromAnotherAddress(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.RateLimits = config.Default().RateLimits })
	limits := ts.Config.RateLimits.SignIn
	maxFailures := ts.Config.Login.MaxFailures
	victim := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client)

	attacker := ts.browserFrom(t, "127.0.0.2")
	ar := rp.newAuthRequest(t, false)
	first := readPage(t, get(t, attacker, ar.URL))
	if first.Form("password") == nil {
		t.Fatalf("no login page for the attacker: status %d", first.Status)
	}
	loginURL := first.URL.String()

	var wrongPage string
	norm := func(body string) string { return strings.ReplaceAll(body, victim.Username, "USERNAME") }
	attempts, limited := 0, (*http.Response)(nil)
	began := time.Now()
	for attempts < limits.Burst+50 && limited == nil {
		attempts++
		password := "wrong-" + strconv.Itoa(attempts)
		if attempts == maxFailures+1 {
			password = victim.Password // refused all the same
		}
		resp := login(t, attacker, loginURL, victim.Username, password)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = resp
			break
		}
		pg := readPage(t, resp)
		if pg.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", attempts, pg.Status)
		}
		switch {
		case attempts == 1:
			wrongPage = norm(pg.Body)
		case attempts == maxFailures+1 && norm(pg.Body) != wrongPage:
			t.Errorf("the right password from the refused address got another page than a wrong one")
		}
	}
	if limited == nil {
		t.Fatalf("%d sign-in POSTs from one address at once were never answered 429 (burst %d)", attempts, limits.Burst)
	}
	closeBody(limited)
	// The bucket refills as the attempts take their time (slowly under
	// -race on a loaded machine): each interval that passed is one more
	// attempt allowed before the 429.
	refills := int(time.Since(began) / (time.Minute / time.Duration(limits.PerMinute)))
	if attempts < limits.Burst+1 || attempts > limits.Burst+1+refills {
		t.Errorf("429 at attempt %d, want the first past the burst (%d, or up to %d refilled since)", attempts, limits.Burst+1, refills)
	}
	retry, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("Retry-After %q, want whole seconds", limited.Header.Get("Retry-After"))
	}
	if ct := limited.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("the 429 of the login form is %q, want an HTML page", ct)
	}

	// The owner, from another address, signs in and gets tokens.
	owner := ts.browserFrom(t, "127.0.0.3")
	ownerAR := rp.newAuthRequest(t, false)
	code, res := rp.code(t, owner, ownerAR, &victim)
	if !res.SawLogin {
		t.Fatal("the owner's browser was never asked to sign in")
	}
	tok := rp.exchange(t, code, ownerAR)
	if idt := rp.verifyIDToken(t, tok, ownerAR.Nonce); idt.Subject != victim.ID {
		t.Errorf("the owner's ID token is for %q, want %q", idt.Subject, victim.ID)
	}

	// The attacker, once the rate limit lets it try again, is still
	// refused with the right password: the owner's success cleared only
	// the owner's address.
	time.Sleep(time.Duration(retry) * time.Second)
	if pg := readPage(t, login(t, attacker, loginURL, victim.Username, victim.Password)); pg.Status != http.StatusUnauthorized {
		t.Errorf("the attacker's address with the right password after the owner signed in: status %d, want 401", pg.Status)
	}

	// The database: not locked; the attacker's address counted up to the
	// threshold (refused attempts are not counted); the owner's has no row.
	u, err := ts.Store.GetUser(ctxT(t), victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.LockedOut(time.Now()) || u.Status != store.StatusActive {
		t.Errorf("the account is locked for everyone: status %s, locked_until %v", u.Status, u.LockedUntil)
	}
	since := time.Now().Add(-time.Hour)
	row, total, err := ts.Store.CountSignInFailures(ctxT(t), victim.ID, "127.0.0.2", since)
	if err != nil {
		t.Fatal(err)
	}
	if row.Count != maxFailures || total != maxFailures {
		t.Errorf("failures counted: 127.0.0.2 %d, account %d; want %d and %d", row.Count, total, maxFailures, maxFailures)
	}
	if row, _, _ := ts.Store.CountSignInFailures(ctxT(t), victim.ID, "127.0.0.3", since); row.Count != 0 {
		t.Errorf("the owner's address has %d failures", row.Count)
	}
	// The audit log says where each came from.
	entries, err := ts.Store.ListAudit(ctxT(t), store.AuditFilter{TargetID: victim.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	byIP := map[string]map[string]int{}
	for _, e := range entries {
		if byIP[e.IPAddress] == nil {
			byIP[e.IPAddress] = map[string]int{}
		}
		byIP[e.IPAddress][e.Action]++
	}
	if n := byIP["127.0.0.2"]["login.failure"]; n != limits.Burst+1 {
		t.Errorf("login.failure entries from 127.0.0.2: %d, want %d (every attempt that reached the domain)", n, limits.Burst+1)
	}
	if byIP["127.0.0.2"]["login.success"] != 0 || byIP["127.0.0.3"]["login.success"] != 1 || byIP["127.0.0.3"]["login.failure"] != 0 {
		t.Errorf("audit by address = %v, want one success from 127.0.0.3 and none from 127.0.0.2", byIP)
	}
	if byIP["127.0.0.2"]["user.lock"] != 0 {
		t.Errorf("the account was locked: %v", byIP)
	}
}
