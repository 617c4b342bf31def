package domain

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckTOTPSkewAndReplay(t *testing.T) {
	secret, err := newTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 15, 0, time.UTC) // mid-step
	cur := totpStep(now)

	for _, tc := range []struct {
		name   string
		at     time.Time
		want   int64
		accept bool
	}{
		{"current step", now, cur, true},
		{"one step behind", now.Add(-30 * time.Second), cur - 1, true},
		{"one step ahead", now.Add(30 * time.Second), cur + 1, true},
		{"two steps behind", now.Add(-60 * time.Second), 0, false},
		{"two steps ahead", now.Add(60 * time.Second), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := checkTOTP(secret, codeAt(t, secret, tc.at), now, 0)
			if ok != tc.accept || step != tc.want {
				t.Fatalf("checkTOTP = %d, %v; want %d, %v", step, ok, tc.want, tc.accept)
			}
		})
	}

	code := codeAt(t, secret, now)
	if _, ok := checkTOTP(secret, code, now, cur); ok {
		t.Fatal("a code of the last used step was accepted again")
	}
	if _, ok := checkTOTP(secret, codeAt(t, secret, now.Add(-30*time.Second)), now, cur); ok {
		t.Fatal("a code older than the last used step was accepted")
	}
	if step, ok := checkTOTP(secret, codeAt(t, secret, now.Add(30*time.Second)), now, cur); !ok || step != cur+1 {
		t.Fatalf("the next step's code after the last used one = %d, %v", step, ok)
	}
	spaced := code[:3] + " " + code[3:]
	if _, ok := checkTOTP(secret, spaced, now, 0); !ok {
		t.Fatal("a code typed with a space was refused")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := checkTOTP(secret, bad, now, 0); ok {
			t.Fatalf("code %q accepted", bad)
		}
	}
}

func TestTOTPKeyURI(t *testing.T) {
	secret, _ := newTOTPSecret()
	uri, err := totpKeyURI("Gatehouse", "alice", secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/Gatehouse:alice?") || !strings.Contains(uri, "secret="+secret) {
		t.Fatalf("uri = %s", uri)
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, digests, err := newRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodeCount || len(digests) != RecoveryCodeCount {
		t.Fatalf("%d codes, %d digests", len(codes), len(digests))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != recoveryCodeLen+1 || c[5] != '-' {
			t.Fatalf("code %q is not xxxxx-xxxxx", c)
		}
		if seen[c] {
			t.Fatalf("code %q twice", c)
		}
		seen[c] = true
		if recoveryDigest(c) != digests[i] {
			t.Fatalf("digest of %q differs from the stored one", c)
		}
		// Typed without the dash, in capitals, with spaces: the same code.
		if recoveryDigest(" "+strings.ToUpper(strings.ReplaceAll(c, "-", ""))+" ") != digests[i] {
			t.Fatalf("normalized %q does not match", c)
		}
		if digests[i] == c || strings.Contains(digests[i], strings.ReplaceAll(c, "-", "")) {
			t.Fatal("digest holds the code")
		}
	}
}

func TestSecretBox(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := newSecretBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.seal("factor-1", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("sealed secret holds the plaintext")
	}
	got, err := b.open("factor-1", sealed)
	if err != nil || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := b.open("factor-2", sealed); err == nil {
		t.Fatal("a sealed secret opened under another factor id")
	}
	other, _ := newSecretBox(bytes.Repeat([]byte{8}, 32))
	if _, err := other.open("factor-1", sealed); err == nil {
		t.Fatal("a sealed secret opened with another key")
	}
	if _, err := newSecretBox(key[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}
