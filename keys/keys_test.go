package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// backends are the stores every behavioural test runs on; each call returns
// a new, empty store.
var backends = []struct {
	name string
	open func(t *testing.T) store.SigningKeys
}{
	{"memory", func(t *testing.T) store.SigningKeys { return memory.New() }},
	{"postgres", func(t *testing.T) store.SigningKeys {
		s, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatalf("postgres.New: %v", err)
		}
		t.Cleanup(s.Close)
		return s
	}},
}

func forEachStore(t *testing.T, fn func(t *testing.T, s store.SigningKeys)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.open(t)) })
	}
}

func newClock() *fakeclock.Clock { return fakeclock.New(time.Now().UTC().Truncate(time.Second)) }

func newSecret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	retireAfter = time.Hour
	cacheTTL    = 30 * time.Second
)

func newManager(t *testing.T, s store.SigningKeys, secret []byte, c *fakeclock.Clock, alg string) *keys.Manager {
	t.Helper()
	// One algorithm, so these tests see the mechanics of one key pair;
	// TestTwoAlgorithms* cover the default pair of algorithms.
	only := alg
	if only == "" {
		only = keys.RS256
	}
	m, err := keys.NewManager(s, secret, keys.Options{Algorithm: alg, Algorithms: []string{only}, RetireAfter: retireAfter, CacheTTL: cacheTTL, Now: c.Now})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

// keyRows are a store's keys grouped by state; they print as ids only.
type keyRows map[store.KeyState][]store.SigningKey

func (r keyRows) String() string {
	var b strings.Builder
	for _, state := range []store.KeyState{store.KeyActive, store.KeyNext, store.KeyRetired} {
		fmt.Fprintf(&b, "%s:[", state)
		for i, k := range r[state] {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(k.ID)
		}
		b.WriteString("] ")
	}
	return strings.TrimSpace(b.String())
}

// rows returns the store's keys grouped by state.
func rows(t *testing.T, s store.SigningKeys) keyRows {
	t.Helper()
	all, err := s.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	out := keyRows{}
	for _, k := range all {
		out[k.State] = append(out[k.State], k)
	}
	return out
}

func only(t *testing.T, byState keyRows, state store.KeyState) store.SigningKey {
	t.Helper()
	if n := len(byState[state]); n != 1 {
		t.Fatalf("store holds %d %s keys, want 1: %+v", n, state, byState)
	}
	return byState[state][0]
}

func jwksKids(t *testing.T, m *keys.Manager) []string {
	t.Helper()
	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// signJWT signs claims with the manager's active key, the way provider/ will.
func signJWT(t *testing.T, m *keys.Manager, claims jwt.Claims) (string, keys.SigningKey) {
	t.Helper()
	k, err := m.Signer(context.Background())
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Private},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.ID))
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok, k
}

// verifyWithJWKS verifies tok the way a relying party does: pick the JWKS
// entry named by the token's kid.
func verifyWithJWKS(m *keys.Manager, tok string) (jwt.Claims, error) {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return jwt.Claims{}, err
	}
	set, err := m.JWKS(context.Background())
	if err != nil {
		return jwt.Claims{}, err
	}
	found := set.Key(parsed.Headers[0].KeyID)
	if len(found) != 1 {
		return jwt.Claims{}, fmt.Errorf("kid %q: %d JWKS entries", parsed.Headers[0].KeyID, len(found))
	}
	var c jwt.Claims
	if err := parsed.Claims(found[0].Key, &c); err != nil {
		return jwt.Claims{}, err
	}
	return c, nil
}

func TestDerive(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")

	// An independent HKDF-SHA256 (RFC 5869, empty salt) to check against.
	reference := func(secret []byte, info string, n int) []byte {
		ext := hmac.New(sha256.New, make([]byte, sha256.Size))
		ext.Write(secret)
		prk := ext.Sum(nil)
		var out, prev []byte
		for i := byte(1); len(out) < n; i++ {
			h := hmac.New(sha256.New, prk)
			h.Write(prev)
			h.Write([]byte(info))
			h.Write([]byte{i})
			prev = h.Sum(nil)
			out = append(out, prev...)
		}
		return out[:n]
	}

	tests := []struct {
		name    string
		purpose string
		n       int
	}{
		{"fosite secret", "fosite-global-secret", 32},
		{"csrf", "csrf", 32},
		{"short", "consent-binding", 16},
		{"longer than one block", "signing-key-encryption", 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys.Derive(secret, tt.purpose, tt.n)
			if want := reference(secret, "gatehouse "+tt.purpose, tt.n); !bytes.Equal(got, want) {
				t.Fatalf("Derive = %x, want %x", got, want)
			}
			if again := keys.Derive(secret, tt.purpose, tt.n); !bytes.Equal(got, again) {
				t.Fatal("Derive is not deterministic")
			}
		})
	}

	if bytes.Equal(keys.Derive(secret, "csrf", 32), keys.Derive(secret, "consent-binding", 32)) {
		t.Error("two purposes derived the same key")
	}
	other := bytes.Repeat([]byte{'x'}, 32)
	if bytes.Equal(keys.Derive(secret, "csrf", 32), keys.Derive(other, "csrf", 32)) {
		t.Error("two secrets derived the same key")
	}

	for _, n := range []int{0, -1, 255*32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Derive(n=%d) did not panic", n)
				}
			}()
			keys.Derive(secret, "csrf", n)
		}()
	}
}

// noStore satisfies store.SigningKeys for tests that never reach the store.
type noStore struct{ store.SigningKeys }

func TestNewManagerRejects(t *testing.T) {
	secret := bytes.Repeat([]byte{'s'}, 32)
	tests := []struct {
		name   string
		s      store.SigningKeys
		secret []byte
		opts   keys.Options
	}{
		{"nil store", nil, secret, keys.Options{}},
		{"short secret", noStore{}, secret[:31], keys.Options{}},
		{"unknown algorithm", noStore{}, secret, keys.Options{Algorithm: "HS256"}},
		{"RSA-PSS not offered", noStore{}, secret, keys.Options{Algorithm: "PS256"}},
		{"negative RetireAfter", noStore{}, secret, keys.Options{RetireAfter: -time.Second}},
		{"negative CacheTTL", noStore{}, secret, keys.Options{CacheTTL: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := keys.NewManager(tt.s, tt.secret, tt.opts); err == nil || m != nil {
				t.Fatalf("NewManager = %v, %v; want an error", m, err)
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		m := newManager(t, s, newSecret(t), newClock(), "")

		if _, err := m.Signer(ctx); !errors.Is(err, keys.ErrNoActiveKey) {
			t.Fatalf("Signer before Ensure: err = %v, want ErrNoActiveKey", err)
		}
		if err := m.Ensure(ctx); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		first := rows(t, s)
		active, next := only(t, first, store.KeyActive), only(t, first, store.KeyNext)
		if len(first) != 2 || active.ID == next.ID {
			t.Fatalf("after Ensure: %+v", first)
		}
		for _, k := range []store.SigningKey{active, next} {
			if k.Algorithm != "RS256" || k.VerifyUntil != nil || k.CreatedAt.IsZero() {
				t.Errorf("key %s: alg %q, verify_until %v, created %v", k.ID, k.Algorithm, k.VerifyUntil, k.CreatedAt)
			}
		}

		if err := m.Ensure(ctx); err != nil {
			t.Fatalf("second Ensure: %v", err)
		}
		second := rows(t, s)
		if len(second) != 2 || only(t, second, store.KeyActive).ID != active.ID || only(t, second, store.KeyNext).ID != next.ID {
			t.Fatalf("second Ensure changed the keys: %+v, was %+v", second, first)
		}

		k, err := m.Signer(ctx)
		if err != nil || k.ID != active.ID {
			t.Fatalf("Signer = %v, %v; want the active key %s", k, err, active.ID)
		}
		if got, want := jwksKids(t, m), sorted(active.ID, next.ID); !slices.Equal(got, want) {
			t.Fatalf("JWKS kids = %v, want %v", got, want)
		}

		infos, err := m.List(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		states := map[string]store.KeyState{}
		for _, i := range infos {
			states[i.ID] = i.State
		}
		if len(infos) != 2 || states[active.ID] != store.KeyActive || states[next.ID] != store.KeyNext {
			t.Fatalf("List = %+v", infos)
		}
	})
}

func TestEnsureConcurrentInstances(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		const instances = 3
		racing := listBarrier{SigningKeys: s, b: newBarrier(instances)}
		var managers []*keys.Manager
		for range instances {
			managers = append(managers, newManager(t, racing, secret, c, ""))
		}

		var wg sync.WaitGroup
		errs := make(chan error, len(managers))
		for _, m := range managers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- m.Ensure(ctx)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
		}

		byState := rows(t, s)
		active := only(t, byState, store.KeyActive)
		only(t, byState, store.KeyNext)
		if len(byState) != 2 {
			t.Fatalf("store holds %+v, want one active and one next key only", byState)
		}
		for i, m := range managers {
			if k, err := m.Signer(ctx); err != nil || k.ID != active.ID {
				t.Errorf("manager %d signs with %v (err %v), want %s", i, k, err, active.ID)
			}
		}
	})
}

func TestSignerVerifiesWithJWKS(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, s store.SigningKeys) {
				ctx := context.Background()
				m := newManager(t, s, newSecret(t), newClock(), alg)
				if err := m.Ensure(ctx); err != nil {
					t.Fatalf("Ensure: %v", err)
				}

				want := jwt.Claims{Issuer: "https://id.example", Subject: "alice", ID: "jti-1"}
				tok, k := signJWT(t, m, want)
				if k.Algorithm != alg {
					t.Fatalf("Signer algorithm = %q, want %q", k.Algorithm, alg)
				}
				switch alg {
				case "RS256":
					rk, ok := k.Private.(*rsa.PrivateKey)
					if !ok || rk.N.BitLen() != 2048 {
						t.Fatalf("RS256 Private is %T, want a raw RSA-2048 *rsa.PrivateKey", k.Private)
					}
				case "ES256":
					if _, ok := k.Private.(*ecdsa.PrivateKey); !ok {
						t.Fatalf("ES256 Private is %T, want a raw *ecdsa.PrivateKey", k.Private)
					}
				}

				got, err := verifyWithJWKS(m, tok)
				if err != nil {
					t.Fatalf("verify with JWKS: %v", err)
				}
				if got.Subject != want.Subject || got.Issuer != want.Issuer || got.ID != want.ID {
					t.Fatalf("claims = %+v, want %+v", got, want)
				}

				// A token signed by another key under our kid must not verify.
				var foreign any
				if alg == "RS256" {
					foreign, err = rsa.GenerateKey(rand.Reader, 2048)
				} else {
					foreign, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				}
				if err != nil {
					t.Fatal(err)
				}
				forger, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: foreign},
					(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.ID))
				if err != nil {
					t.Fatal(err)
				}
				forged, err := jwt.Signed(forger).Claims(want).Serialize()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verifyWithJWKS(m, forged); err == nil {
					t.Fatal("a token signed by a foreign key verified")
				}

				pub, err := m.PublicKey(ctx, k.ID)
				if err != nil || pub.KeyID != k.ID || !pub.IsPublic() {
					t.Fatalf("PublicKey(%s) = %+v, %v", k.ID, pub, err)
				}

				set, err := m.JWKS(ctx)
				if err != nil {
					t.Fatal(err)
				}
				raw, err := json.Marshal(set)
				if err != nil {
					t.Fatal(err)
				}
				var doc struct {
					Keys []map[string]any `json:"keys"`
				}
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatal(err)
				}
				if len(doc.Keys) != 2 {
					t.Fatalf("JWKS has %d keys, want 2: %s", len(doc.Keys), raw)
				}
				for _, jk := range doc.Keys {
					if jk["use"] != "sig" || jk["alg"] != alg || jk["kid"] == "" {
						t.Errorf("JWKS entry %v: want use sig, alg %s, a kid", jk, alg)
					}
					for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
						if _, ok := jk[private]; ok {
							t.Errorf("JWKS entry %s publishes private member %q", jk["kid"], private)
						}
					}
				}
			})
		})
	}
}

func TestRotate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		c := newClock()
		m := newManager(t, s, newSecret(t), c, "")
		if err := m.Ensure(ctx); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		before := rows(t, s)
		oldActive, oldNext := only(t, before, store.KeyActive), only(t, before, store.KeyNext)
		oldTok, _ := signJWT(t, m, jwt.Claims{Subject: "before-rotation"})

		rotatedAt := c.Now()
		info, err := m.Rotate(ctx)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if info.ID != oldNext.ID || info.State != store.KeyActive {
			t.Fatalf("Rotate returned %+v, want the old next key %s as active", info, oldNext.ID)
		}

		after := rows(t, s)
		retired := only(t, after, store.KeyRetired)
		newNext := only(t, after, store.KeyNext)
		if retired.ID != oldActive.ID || only(t, after, store.KeyActive).ID != oldNext.ID {
			t.Fatalf("after Rotate: %+v", after)
		}
		if newNext.ID == oldActive.ID || newNext.ID == oldNext.ID {
			t.Fatalf("new next key reuses an id: %s", newNext.ID)
		}
		// Published for the longest token lifetime, plus the time another
		// instance may keep signing with it from its cache.
		if wantUntil := rotatedAt.Add(retireAfter + cacheTTL); retired.VerifyUntil == nil || !retired.VerifyUntil.Equal(wantUntil) {
			t.Fatalf("retired VerifyUntil = %v, want %v", retired.VerifyUntil, wantUntil)
		}

		if k, err := m.Signer(ctx); err != nil || k.ID != oldNext.ID {
			t.Fatalf("Signer after Rotate = %v, %v; want %s", k, err, oldNext.ID)
		}
		if got, want := jwksKids(t, m), sorted(oldActive.ID, oldNext.ID, newNext.ID); !slices.Equal(got, want) {
			t.Fatalf("JWKS kids = %v, want %v", got, want)
		}
		if _, err := verifyWithJWKS(m, oldTok); err != nil {
			t.Fatalf("token signed before rotation no longer verifies: %v", err)
		}
		newTok, _ := signJWT(t, m, jwt.Claims{Subject: "after-rotation"})
		if claims, err := verifyWithJWKS(m, newTok); err != nil || claims.Subject != "after-rotation" {
			t.Fatalf("token signed after rotation: %+v, %v", claims, err)
		}

		infos, err := m.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range infos {
			if i.ID == oldActive.ID && (i.State != store.KeyRetired || i.VerifyUntil == nil) {
				t.Fatalf("List shows the retired key as %+v", i)
			}
		}

		// Just before VerifyUntil the retired key is still published.
		c.Advance(retireAfter + cacheTTL - time.Second)
		if _, err := m.PublicKey(ctx, oldActive.ID); err != nil {
			t.Fatalf("retired key unpublished before VerifyUntil: %v", err)
		}

		// Once VerifyUntil has passed it leaves the JWKS, and the next
		// rotation deletes it.
		c.Advance(2 * time.Second)
		if got, want := jwksKids(t, m), sorted(oldNext.ID, newNext.ID); !slices.Equal(got, want) {
			t.Fatalf("JWKS kids after VerifyUntil = %v, want %v", got, want)
		}
		if _, err := m.PublicKey(ctx, oldActive.ID); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("PublicKey(expired retired key): err = %v, want ErrUnknownKey", err)
		}
		if _, err := verifyWithJWKS(m, oldTok); err == nil {
			t.Fatal("token of an expired retired key still verifies")
		}
		if len(rows(t, s)[store.KeyRetired]) != 1 {
			t.Fatal("expired retired key deleted before Rotate")
		}

		info, err = m.Rotate(ctx)
		if err != nil {
			t.Fatalf("second Rotate: %v", err)
		}
		final := rows(t, s)
		if info.ID != newNext.ID || only(t, final, store.KeyActive).ID != newNext.ID {
			t.Fatalf("second Rotate: returned %+v, store %+v", info, final)
		}
		if r := only(t, final, store.KeyRetired); r.ID != oldNext.ID {
			t.Fatalf("after second Rotate: %v; want only %s retired (%s deleted)", final, oldNext.ID, oldActive.ID)
		}
		if len(final) != 3 {
			t.Fatalf("store after second Rotate: %+v", final)
		}
	})
}

// barrier holds the first n callers of wait until all n have arrived; later
// callers pass straight through.
type barrier struct {
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{waiting: n, release: make(chan struct{})} }

func (b *barrier) wait() error {
	b.mu.Lock()
	if b.waiting == 0 {
		b.mu.Unlock()
		return nil
	}
	b.waiting--
	if b.waiting == 0 {
		close(b.release)
	}
	b.mu.Unlock()
	select {
	case <-b.release:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("barrier: the other callers never arrived")
	}
}

// listBarrier makes n concurrent Ensure calls all read the (empty) store
// before any of them adds a key, so they are guaranteed to race on
// AddSigningKey.
type listBarrier struct {
	store.SigningKeys
	b *barrier
}

func (l listBarrier) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	all, err := l.SigningKeys.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	return all, l.b.wait()
}

// rotateBarrier makes n concurrent rotations all read the same keys before
// any of them commits, so the compare-and-swap alone decides.
type rotateBarrier struct {
	store.SigningKeys
	b *barrier
}

func (r rotateBarrier) RotateSigningKeys(ctx context.Context, expectActive, expectNext string, newNext store.SigningKey, retireUntil time.Time) error {
	if err := r.b.wait(); err != nil {
		return err
	}
	return r.SigningKeys.RotateSigningKeys(ctx, expectActive, expectNext, newNext, retireUntil)
}

func TestRotateConcurrentInstances(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		if err := newManager(t, s, secret, c, "").Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		before := rows(t, s)
		oldActive, oldNext := only(t, before, store.KeyActive), only(t, before, store.KeyNext)

		const instances = 3
		barrier := rotateBarrier{SigningKeys: s, b: newBarrier(instances)}
		infos := make([]keys.Info, instances)
		errs := make([]error, instances)
		var wg sync.WaitGroup
		for i := range instances {
			m := newManager(t, barrier, secret, c, "")
			wg.Add(1)
			go func() {
				defer wg.Done()
				infos[i], errs[i] = m.Rotate(ctx)
			}()
		}
		wg.Wait()

		for i := range instances {
			if errs[i] != nil {
				t.Fatalf("instance %d: Rotate: %v", i, errs[i])
			}
			if infos[i].ID != oldNext.ID {
				t.Errorf("instance %d: Rotate returned %s, want %s (the one rotation's new active key)", i, infos[i].ID, oldNext.ID)
			}
		}
		after := rows(t, s)
		if only(t, after, store.KeyActive).ID != oldNext.ID || only(t, after, store.KeyRetired).ID != oldActive.ID {
			t.Fatalf("after concurrent rotations: %+v", after)
		}
		only(t, after, store.KeyNext)
		if len(after) != 3 {
			t.Fatalf("more than one rotation happened: %+v", after)
		}
	})
}

func TestPrivateKeyEncryptedAtRest(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, s store.SigningKeys) {
				ctx := context.Background()
				m := newManager(t, s, newSecret(t), newClock(), alg)
				if err := m.Ensure(ctx); err != nil {
					t.Fatal(err)
				}
				k, err := m.Signer(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var secretBytes []byte
				switch p := k.Private.(type) {
				case *rsa.PrivateKey:
					secretBytes = p.D.Bytes()
				case *ecdsa.PrivateKey:
					secretBytes, err = p.Bytes()
					if err != nil {
						t.Fatal(err)
					}
				}
				b64 := []byte(base64.RawURLEncoding.EncodeToString(secretBytes))

				active := only(t, rows(t, s), store.KeyActive)
				stored := active.PrivateKey
				if len(stored) < 1+12+16 || stored[0] != 1 {
					t.Fatalf("stored private key is %d bytes starting %x; want version 1 || nonce || ciphertext", len(stored), stored[:min(len(stored), 1)])
				}
				for name, needle := range map[string][]byte{
					"raw private scalar":     secretBytes,
					"base64url private part": b64,
					`JWK member "d"`:         []byte(`"d"`),
					`JWK member "kty"`:       []byte(`"kty"`),
				} {
					if bytes.Contains(stored, needle) {
						t.Errorf("stored private key contains the %s in clear", name)
					}
				}
				if json.Valid(stored) {
					t.Error("stored private key is plain JSON")
				}
				if bytes.Contains(active.PublicKey, b64) || bytes.Contains(active.PublicKey, []byte(`"d"`)) {
					t.Error("stored public key contains the private part")
				}
				for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k), mustJSON(t, k)} {
					if strings.Contains(s, string(b64)) || strings.Contains(s, fmt.Sprint(secretBytes)) || !strings.Contains(s, k.ID) {
						t.Errorf("printing a SigningKey shows %q", s)
					}
				}
				if rk, ok := k.Private.(*rsa.PrivateKey); ok && strings.Contains(fmt.Sprint(k), rk.D.String()) {
					t.Error("printing a SigningKey shows the private exponent")
				}
			})
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWrongSecret(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		c := newClock()
		if err := newManager(t, s, newSecret(t), c, "").Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		active := only(t, rows(t, s), store.KeyActive)

		wrong := newManager(t, s, newSecret(t), c, "")
		err := wrong.Ensure(ctx)
		want := fmt.Sprintf("keys: decrypt signing key %s: wrong GATEHOUSE_SECRET?", active.ID)
		if err == nil || err.Error() != want || !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Ensure with a wrong secret: err = %v, want %q", err, want)
		}
		if _, err := wrong.Signer(ctx); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Signer with a wrong secret: err = %v, want ErrDecrypt", err)
		}
		if _, err := wrong.Rotate(ctx); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Rotate with a wrong secret: err = %v, want ErrDecrypt", err)
		}
		if got := rows(t, s); len(got) != 2 {
			t.Fatalf("a Manager with a wrong secret changed the store: %+v", got)
		}
		// The key list needs no secret (`gatehouse keys list` can still
		// show what is there).
		if infos, err := wrong.List(ctx); err != nil || len(infos) != 2 {
			t.Fatalf("List with a wrong secret = %v, %v", infos, err)
		}
	})
}

// tamperStore alters the active key's row on its way out of the store.
type tamperStore struct {
	store.SigningKeys
	tamper func(active *store.SigningKey, others []store.SigningKey)
}

func (ts tamperStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	all, err := ts.SigningKeys.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].PrivateKey = bytes.Clone(all[i].PrivateKey)
	}
	for i := range all {
		if all[i].State == store.KeyActive {
			ts.tamper(&all[i], all)
		}
	}
	return all, nil
}

func TestTamperedPrivateKey(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(active *store.SigningKey, all []store.SigningKey)
		wantErr error  // errors.Is target, or nil
		wantMsg string // substring of the error
	}{
		{"flipped ciphertext byte", func(a *store.SigningKey, _ []store.SigningKey) { a.PrivateKey[20] ^= 1 }, keys.ErrDecrypt, "wrong GATEHOUSE_SECRET?"},
		{"flipped tag byte", func(a *store.SigningKey, _ []store.SigningKey) { a.PrivateKey[len(a.PrivateKey)-1] ^= 0x80 }, keys.ErrDecrypt, "wrong GATEHOUSE_SECRET?"},
		{"flipped nonce byte", func(a *store.SigningKey, _ []store.SigningKey) { a.PrivateKey[3] ^= 1 }, keys.ErrDecrypt, "wrong GATEHOUSE_SECRET?"},
		{"unknown version", func(a *store.SigningKey, _ []store.SigningKey) { a.PrivateKey[0] = 2 }, nil, "unknown format"},
		{"truncated", func(a *store.SigningKey, _ []store.SigningKey) { a.PrivateKey = a.PrivateKey[:20] }, nil, "unknown format"},
		{"empty", func(a *store.SigningKey, _ []store.SigningKey) { a.PrivateKey = nil }, nil, "unknown format"},
		{"ciphertext moved from the next key's row", func(a *store.SigningKey, all []store.SigningKey) {
			for _, k := range all {
				if k.State == store.KeyNext {
					a.PrivateKey = bytes.Clone(k.PrivateKey)
				}
			}
		}, keys.ErrDecrypt, "wrong GATEHOUSE_SECRET?"},
		{"public key swapped for the next key's", func(a *store.SigningKey, all []store.SigningKey) {
			for _, k := range all {
				if k.State == store.KeyNext {
					a.PublicKey = k.PublicKey
				}
			}
		}, nil, "public key does not match its id"},
	}
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		if err := newManager(t, s, secret, c, "").Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m := newManager(t, tamperStore{SigningKeys: s, tamper: tt.tamper}, secret, c, "")
				k, err := m.Signer(ctx)
				if err == nil {
					t.Fatalf("Signer with a tampered key = %v, want an error", k)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "keys: ") {
					t.Errorf("err = %q, want it to mention %q", err, tt.wantMsg)
				}
			})
		}
		// The untampered rows still load.
		if _, err := newManager(t, s, secret, c, "").Signer(ctx); err != nil {
			t.Fatalf("Signer on the untouched store: %v", err)
		}
	})
}

func TestCacheSeesOtherInstances(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		a, b := newManager(t, s, secret, c, ""), newManager(t, s, secret, c, "")
		if err := a.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		first, err := a.Signer(ctx)
		if err != nil {
			t.Fatal(err)
		}

		rotated, err := b.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Within CacheTTL a keeps its copy (the hot path does not read the
		// store); after it, a sees b's rotation.
		c.Advance(cacheTTL - time.Second)
		if k, _ := a.Signer(ctx); k.ID != first.ID {
			t.Fatalf("a reloaded before CacheTTL: signs with %s", k.ID)
		}
		c.Advance(2 * time.Second)
		if k, err := a.Signer(ctx); err != nil || k.ID != rotated.ID {
			t.Fatalf("a after CacheTTL signs with %v (%v), want %s", k, err, rotated.ID)
		}

		// Reload makes a see a change at once.
		rotated, err = b.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if k, err := a.Signer(ctx); err != nil || k.ID != rotated.ID {
			t.Fatalf("a after Reload signs with %v (%v), want %s", k, err, rotated.ID)
		}
	})
}

func TestPublicKeyReloadsOnMiss(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		a, b := newManager(t, s, secret, c, ""), newManager(t, s, secret, c, "")
		if err := a.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		cached := jwksKids(t, a)

		// b rotates: its new next key is unknown to a's cache.
		if _, err := b.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		added := only(t, rows(t, s), store.KeyNext).ID
		if got := jwksKids(t, a); !slices.Equal(got, cached) || slices.Contains(got, added) {
			t.Fatalf("a's JWKS changed within CacheTTL: %v", got)
		}
		pub, err := a.PublicKey(ctx, added)
		if err != nil || pub.KeyID != added {
			t.Fatalf("PublicKey(%s) after another instance added it = %+v, %v", added, pub, err)
		}
		if got := jwksKids(t, a); !slices.Contains(got, added) {
			t.Fatalf("the miss reload did not refresh a's JWKS: %v", got)
		}

		if _, err := a.PublicKey(ctx, "no-such-kid"); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("PublicKey(unknown) err = %v, want ErrUnknownKey", err)
		}

		// Misses reload at most once a second: a flood of made-up kids must
		// not become a flood of queries.
		if _, err := b.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		added = only(t, rows(t, s), store.KeyNext).ID
		if _, err := a.PublicKey(ctx, added); !errors.Is(err, keys.ErrUnknownKey) {
			t.Fatalf("second miss within a second reloaded: err = %v", err)
		}
		c.Advance(1100 * time.Millisecond)
		if pub, err := a.PublicKey(ctx, added); err != nil || pub.KeyID != added {
			t.Fatalf("PublicKey(%s) a second later = %+v, %v", added, pub, err)
		}
	})
}

// TestConcurrentUse runs the hot path against rotations, for the race
// detector: readers must always get a usable key.
func TestConcurrentUse(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		m := newManager(t, s, secret, c, "ES256")
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					k, err := m.Signer(ctx)
					if err != nil {
						errs <- err
						return
					}
					if _, err := m.PublicKey(ctx, k.ID); err != nil {
						errs <- fmt.Errorf("active key %s not published: %w", k.ID, err)
						return
					}
					if _, err := m.JWKS(ctx); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for range 3 {
			if _, err := m.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			c.Advance(cacheTTL)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
