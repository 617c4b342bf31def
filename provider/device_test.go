package provider

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
)

func TestNormalizeUserCode(t *testing.T) {
	for _, tc := range []struct {
		typed, want string
		ok          bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf-ghjk", "BCDFGHJK", true},
		{" bcdf ghjk ", "BCDFGHJK", true},
		{"BCDFGHJK", "BCDFGHJK", true},
		{"BCDF-GHJ", "", false},       // too short
		{"BCDF-GHJKL", "", false},     // too long
		{"BCDA-GHJK", "", false},      // a vowel: not in the alphabet
		{"BCD0-GHJK", "", false},      // a digit
		{"BCDF_GHJK", "", false},      // another separator
		{"BCDF-GHJ\u212a", "", false}, // KELVIN SIGN upper-cases to no ASCII K
		{strings.Repeat("-", 100) + "BCDFGHJK", "", false},
		{"", "", false},
	} {
		got, ok := normalizeUserCode(tc.typed)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q, %v", tc.typed, got, ok, tc.want, tc.ok)
		}
	}
}

// Drawn codes are of the alphabet, read back as themselves, and spread
// over every letter of it.
func TestNewUserCode(t *testing.T) {
	seen := map[rune]bool{}
	for range 500 {
		code, err := newUserCode()
		if err != nil {
			t.Fatal(err)
		}
		shown := formatUserCode(code)
		if got, ok := normalizeUserCode(shown); !ok || got != code || len(shown) != 9 || shown[4] != '-' {
			t.Fatalf("code %q shown as %q reads back as %q, %v", code, shown, got, ok)
		}
		for _, r := range code {
			seen[r] = true
		}
	}
	if len(seen) != len(userCodeAlphabet) {
		t.Errorf("500 codes used %d letters of %d", len(seen), len(userCodeAlphabet))
	}
}

// TestDevicePollingClock runs the poll rules on a fake clock: the interval
// (5 s, a fifth of it forgiven), slow_down growing it by 5 s, and expiry.
func TestDevicePollingClock(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	e := newTestEnv(t, func(o *Options) { o.Now = clock.Now; o.DeviceCodeLifetime = time.Minute })
	e.addClient(store.Client{ID: "tv", Public: true, GrantTypes: []string{grantTypeDeviceCode}, RedirectURIs: []string{}})

	status, da := e.postForm("/oauth2/device/auth", url.Values{"client_id": {"tv"}, "scope": {"profile"}}, "", "")
	if status != http.StatusOK || da["interval"] != float64(5) || da["expires_in"] != float64(60) {
		t.Fatalf("device authorization: %d %v", status, da)
	}
	code, _ := da["device_code"].(string)
	poll := func(after time.Duration, want string) {
		t.Helper()
		clock.Advance(after)
		status, body := e.postForm("/oauth2/token", url.Values{"client_id": {"tv"}, "grant_type": {grantTypeDeviceCode}, "device_code": {code}}, "", "")
		if status != http.StatusBadRequest || body["error"] != want {
			t.Fatalf("poll %s later: %d %v, want %s", after, status, body, want)
		}
	}
	poll(0, "authorization_pending")
	poll(4*time.Second, "authorization_pending") // within the leeway
	poll(3*time.Second, "slow_down")             // 3 s < 5 s: the interval is now 10 s
	poll(9*time.Second, "authorization_pending") // 9 s ≥ 10 s less the 1 s leeway
	poll(5*time.Second, "slow_down")             // 5 s < 10 s − 1 s: now 15 s
	poll(15*time.Second, "authorization_pending")
	poll(25*time.Second, "expired_token") // 61 s after it was issued
}

// TestDeviceCodesBoundedPerClient: past maxLiveDeviceCodes unexpired codes
// a client is refused more, until some expire.
func TestDeviceCodesBoundedPerClient(t *testing.T) {
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	e := newTestEnv(t, func(o *Options) { o.Now = clock.Now })
	e.addClient(store.Client{ID: "tv", Public: true, GrantTypes: []string{grantTypeDeviceCode}, RedirectURIs: []string{}})
	for i := range maxLiveDeviceCodes {
		err := e.store.CreateDeviceCode(e.ctx, store.DeviceCode{
			Signature: "sig-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), UserCode: "uc-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26),
			ClientID: "tv", Status: store.DevicePending, Interval: 5 * time.Second, RequestedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Minute),
		}, clock.Now(), maxLiveDeviceCodes)
		if err != nil {
			t.Fatal(err)
		}
	}
	status, body := e.postForm("/oauth2/device/auth", url.Values{"client_id": {"tv"}}, "", "")
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Fatalf("device authorization past the bound: %d %v", status, body)
	}
	clock.Advance(time.Minute)
	if status, body := e.postForm("/oauth2/device/auth", url.Values{"client_id": {"tv"}}, "", ""); status != http.StatusOK {
		t.Fatalf("device authorization once the others expired: %d %v", status, body)
	}
}
