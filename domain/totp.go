package domain

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238). These are the ones every authenticator app
// understands; an app that is told other digits or another hash often
// ignores them silently and shows codes that never match.
const (
	totpPeriod = 30 // seconds per time step
	totpDigits = otp.DigitsSix
	// totpSkew is how many steps either side of now a code may belong to:
	// a phone's clock a little off, or a code typed as it rolled over.
	totpSkew = 1
	// totpSecretBytes is the secret's size: 160 bits, as RFC 4226
	// recommends for HMAC-SHA1.
	totpSecretBytes = 20
)

// totpStep is the RFC 6238 time step (counter) of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// totpOpts are the validation options matching the keys we generate.
func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
}

// checkTOTP returns the time step the code belongs to, trying the steps
// within totpSkew of now, and whether one matched that is later than
// lastStep. A step at or before lastStep was used already (or lies before
// a code that was): accepting it would let a code watched over someone's
// shoulder be replayed within its window. Every candidate step is compared
// (in constant time), so the answer's timing does not tell which matched.
func checkTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = normalizeCode(code)
	if len(code) != totpDigits.Length() {
		return 0, false
	}
	cur := totpStep(now)
	var matched int64
	found := false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts())
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && !found {
			matched, found = step, true
		}
	}
	return matched, found
}

// normalizeCode drops the spaces and dashes people type into codes
// ("123 456", recovery codes as shown "abcd-efgh").
func normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// newTOTPSecret returns a fresh random secret, base32 without padding as
// authenticator apps expect it in otpauth URIs.
func newTOTPSecret() (string, error) {
	b := make([]byte, totpSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("domain: totp secret: %w", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// totpKeyURI is the otpauth:// URI an authenticator app reads from the QR
// code: issuer and account name label the entry in the app.
func totpKeyURI(issuer, account, secret string) (string, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return "", fmt.Errorf("domain: totp secret: %w", err)
	}
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: totpPeriod, Secret: raw,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("domain: totp key: %w", err)
	}
	return k.URL(), nil
}

// Recovery codes: ten, each 10 characters of base32 (50 bits), shown once
// as "xxxxx-xxxxx". That much entropy per code makes a plain SHA-256 digest
// safe to store: there is nothing to brute-force offline that a slow hash
// would protect.
const (
	RecoveryCodeCount = 10
	recoveryCodeBytes = 10 // base32 of 10 random bytes, 16 characters, cut to 10
	recoveryCodeLen   = 10
)

// newRecoveryCodes returns RecoveryCodeCount fresh codes, as shown to the
// user, and their digests, as stored.
func newRecoveryCodes() (codes, digests []string, err error) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for range RecoveryCodeCount {
		b := make([]byte, recoveryCodeBytes)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("domain: recovery code: %w", err)
		}
		c := strings.ToLower(enc.EncodeToString(b))[:recoveryCodeLen]
		codes = append(codes, c[:5]+"-"+c[5:])
		digests = append(digests, recoveryDigest(c))
	}
	return codes, digests, nil
}

// recoveryDigest is the stored form of a recovery code as typed: case,
// spaces and the dash do not matter.
func recoveryDigest(code string) string {
	d := sha256.Sum256([]byte(strings.ToLower(normalizeCode(code))))
	return hex.EncodeToString(d[:])
}

// errSecretBox means a stored TOTP secret could not be opened: another
// server secret than the one that sealed it, or altered bytes.
var errSecretBox = errors.New("domain: stored MFA secret cannot be decrypted (wrong GATEHOUSE_SECRET?)")

// secretBoxV1 is the first byte of every sealed factor secret.
const secretBoxV1 byte = 1

// secretBox encrypts factor secrets at rest with AES-256-GCM under a key
// derived from the server secret; the factor id is the additional data,
// so a sealed secret copied onto another factor's row does not open.
type secretBox struct{ aead cipher.AEAD }

func newSecretBox(key []byte) (*secretBox, error) {
	if len(key) != 32 {
		return nil, errors.New("domain: MFA key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("domain: MFA key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("domain: MFA key: %w", err)
	}
	return &secretBox{aead}, nil
}

func (b *secretBox) seal(id string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = secretBoxV1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("domain: seal MFA secret: %w", err)
	}
	return b.aead.Seal(out, out[1:], plaintext, []byte(id)), nil
}

func (b *secretBox) open(id string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != secretBoxV1 {
		return nil, errSecretBox
	}
	out, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(id))
	if err != nil {
		return nil, errSecretBox
	}
	return out, nil
}
