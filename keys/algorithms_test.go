package keys_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

// newDefaultManager is a Manager as the server builds it: every algorithm
// kept live, def the default.
func newDefaultManager(t *testing.T, s store.SigningKeys, secret []byte, c interface{ Now() time.Time }, def string) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(s, secret, keys.Options{Algorithm: def, RetireAfter: retireAfter, CacheTTL: cacheTTL, Now: c.Now})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

// byAlgState groups a store's keys by algorithm, then state.
func byAlgState(t *testing.T, s store.SigningKeys) map[string]keyRows {
	t.Helper()
	all, err := s.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	out := map[string]keyRows{}
	for _, k := range all {
		if out[k.Algorithm] == nil {
			out[k.Algorithm] = keyRows{}
		}
		out[k.Algorithm][k.State] = append(out[k.Algorithm][k.State], k)
	}
	return out
}

// signWith signs claims with the active key of alg, as provider/ does for a
// client that registered alg.
func signWith(t *testing.T, m *keys.Manager, alg string, claims jwt.Claims) (string, keys.SigningKey) {
	t.Helper()
	a, err := m.Active(context.Background())
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	k, err := a.For(alg)
	if err != nil {
		t.Fatalf("Active.For(%s): %v", alg, err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Private},
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

func headerOf(t *testing.T, tok string) jose.Header {
	t.Helper()
	p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p.Headers[0]
}

// TestTwoAlgorithmsLive: by default an RS256 and an ES256 key are active
// side by side (each with its next key), both published with alg and kid,
// each signing what verifies against the JWKS; RS256 stays the default.
func TestTwoAlgorithmsLive(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		c := newClock()
		m := newDefaultManager(t, s, newSecret(t), c, "")
		if err := m.Ensure(ctx); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
		groups := byAlgState(t, s)
		for _, alg := range []string{keys.RS256, keys.ES256} {
			only(t, groups[alg], store.KeyActive)
			only(t, groups[alg], store.KeyNext)
		}
		if len(groups) != 2 {
			t.Fatalf("algorithms in the store: %v, want RS256 and ES256", groups)
		}

		set, err := m.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 4 {
			t.Fatalf("JWKS has %d keys, want 4 (active and next of each algorithm)", len(set.Keys))
		}
		algOf := map[string]string{}
		for _, k := range set.Keys {
			if k.KeyID == "" || k.Use != "sig" || !k.IsPublic() {
				t.Fatalf("JWKS entry %+v lacks kid/use or is not public", k)
			}
			algOf[k.KeyID] = k.Algorithm
		}

		a, err := m.Active(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Algorithms(); !slices.Equal(got, []string{keys.RS256, keys.ES256}) {
			t.Fatalf("Active.Algorithms = %v, want [RS256 ES256] (the default first)", got)
		}
		def, err := m.Signer(ctx)
		if err != nil || def.Algorithm != keys.RS256 {
			t.Fatalf("Signer = %s (err %v), want the RS256 default", def.Algorithm, err)
		}
		if d, _ := a.For(""); d.ID != def.ID {
			t.Fatalf(`Active.For("") = %s, want the default %s`, d.ID, def.ID)
		}
		for _, alg := range []string{keys.RS256, keys.ES256} {
			tok, k := signWith(t, m, alg, jwt.Claims{Subject: "s-" + alg})
			if k.Algorithm != alg || k.ID != only(t, groups[alg], store.KeyActive).ID {
				t.Fatalf("active %s key is %s %s, want the stored active one", alg, k.Algorithm, k.ID)
			}
			h := headerOf(t, tok)
			if h.Algorithm != alg || h.KeyID != k.ID || algOf[h.KeyID] != alg {
				t.Fatalf("%s token header alg %s kid %s; JWKS says %q", alg, h.Algorithm, h.KeyID, algOf[h.KeyID])
			}
			cl, err := verifyWithJWKS(m, tok)
			if err != nil || cl.Subject != "s-"+alg {
				t.Fatalf("%s token does not verify with the JWKS: %v", alg, err)
			}
		}
		if _, err := a.For("PS256"); err == nil {
			t.Fatal("Active.For(PS256) found a key")
		}
	})
}

// TestTwoAlgorithmsDefaultES256: signing_algorithm ES256 makes ES256 the
// default, and RS256 is still kept live for clients that ask for it.
func TestTwoAlgorithmsDefaultES256(t *testing.T) {
	ctx := context.Background()
	s := backends[0].open(t)
	m := newDefaultManager(t, s, newSecret(t), newClock(), keys.ES256)
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := m.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Algorithms(); !slices.Equal(got, []string{keys.ES256, keys.RS256}) {
		t.Fatalf("Algorithms = %v, want [ES256 RS256]", got)
	}
	if k, err := m.Signer(ctx); err != nil || k.Algorithm != keys.ES256 {
		t.Fatalf("Signer = %s (err %v), want ES256", k.Algorithm, err)
	}
	if k, err := a.For(keys.RS256); err != nil || k.Algorithm != keys.RS256 {
		t.Fatalf("For(RS256) = %s (err %v)", k.Algorithm, err)
	}
}

// TestTwoAlgorithmsUpgrade: a store holding only RS256 keys (from before
// ES256 was kept) gains an ES256 pair at Ensure; the RS256 keys stay.
func TestTwoAlgorithmsUpgrade(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		if err := newManager(t, s, secret, c, keys.RS256).Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		old := byAlgState(t, s)[keys.RS256]
		m := newDefaultManager(t, s, secret, c, "")
		if err := m.Ensure(ctx); err != nil {
			t.Fatalf("Ensure on an RS256-only store: %v", err)
		}
		now := byAlgState(t, s)
		if only(t, now[keys.RS256], store.KeyActive).ID != only(t, old, store.KeyActive).ID ||
			only(t, now[keys.RS256], store.KeyNext).ID != only(t, old, store.KeyNext).ID {
			t.Fatalf("RS256 keys changed: %v -> %v", old, now[keys.RS256])
		}
		only(t, now[keys.ES256], store.KeyActive)
		only(t, now[keys.ES256], store.KeyNext)
	})
}

// TestTwoAlgorithmsRotate: one rotation rotates both algorithms; tokens of
// the retired keys verify until RetireAfter+CacheTTL has passed, then the
// retired keys leave the JWKS and, at the next rotation, the store.
func TestTwoAlgorithmsRotate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		c := newClock()
		m := newDefaultManager(t, s, newSecret(t), c, "")
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		before := byAlgState(t, s)
		oldToks := map[string]string{}
		for _, alg := range []string{keys.RS256, keys.ES256} {
			oldToks[alg], _ = signWith(t, m, alg, jwt.Claims{Subject: "old-" + alg})
		}

		info, err := m.Rotate(ctx)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		after := byAlgState(t, s)
		for _, alg := range []string{keys.RS256, keys.ES256} {
			b, a := before[alg], after[alg]
			if only(t, a, store.KeyActive).ID != only(t, b, store.KeyNext).ID {
				t.Errorf("%s: the next key was not promoted: %v -> %v", alg, b, a)
			}
			retired := only(t, a, store.KeyRetired)
			if retired.ID != only(t, b, store.KeyActive).ID || retired.VerifyUntil == nil ||
				!retired.VerifyUntil.Equal(c.Now().Add(retireAfter+cacheTTL).Truncate(time.Microsecond)) {
				t.Errorf("%s: retired %+v, want the old active key until now+%s", alg, retired.ID, retireAfter+cacheTTL)
			}
			if n := only(t, a, store.KeyNext).ID; n == only(t, b, store.KeyNext).ID || n == only(t, b, store.KeyActive).ID {
				t.Errorf("%s: no new next key", alg)
			}
			// New tokens are signed with the promoted key; old ones still verify.
			tok, k := signWith(t, m, alg, jwt.Claims{Subject: "new-" + alg})
			if k.ID != only(t, a, store.KeyActive).ID || headerOf(t, tok).KeyID != k.ID {
				t.Errorf("%s: signing with %s, want the promoted key", alg, k.ID)
			}
			if _, err := verifyWithJWKS(m, oldToks[alg]); err != nil {
				t.Errorf("%s: a token of the retired key no longer verifies: %v", alg, err)
			}
		}
		if info.Algorithm != keys.RS256 || info.ID != only(t, after[keys.RS256], store.KeyActive).ID {
			t.Errorf("Rotate returned %+v, want the default algorithm's new active key", info)
		}
		if set, _ := m.JWKS(ctx); len(set.Keys) != 6 {
			t.Errorf("JWKS after rotation has %d keys, want 6 (two retired, two active, two next)", len(set.Keys))
		}

		// Past the retired keys' VerifyUntil they leave the JWKS.
		c.Advance(retireAfter + cacheTTL + time.Second)
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{keys.RS256, keys.ES256} {
			if _, err := verifyWithJWKS(m, oldToks[alg]); err == nil {
				t.Errorf("%s: a token of a key retired past its VerifyUntil still verifies", alg)
			}
		}
		if set, _ := m.JWKS(ctx); len(set.Keys) != 4 {
			t.Errorf("JWKS past VerifyUntil has %d keys, want 4", len(set.Keys))
		}
		// The next rotation deletes them and retires the current pair.
		if _, err := m.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		final := byAlgState(t, s)
		for _, alg := range []string{keys.RS256, keys.ES256} {
			if r := only(t, final[alg], store.KeyRetired); r.ID != only(t, after[alg], store.KeyActive).ID {
				t.Errorf("%s: retired after the second rotation %s, want %s", alg, r.ID, only(t, after[alg], store.KeyActive).ID)
			}
		}
	})
}

// TestTwoAlgorithmsRotateConcurrentInstances: instances rotating at once
// rotate each algorithm exactly once.
func TestTwoAlgorithmsRotateConcurrentInstances(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store.SigningKeys) {
		ctx := context.Background()
		secret, c := newSecret(t), newClock()
		if err := newDefaultManager(t, s, secret, c, "").Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		before := byAlgState(t, s)
		const instances = 3
		errs := make([]error, instances)
		var wg sync.WaitGroup
		for i := range instances {
			m := newDefaultManager(t, s, secret, c, "")
			if _, err := m.JWKS(ctx); err != nil { // load before the race
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = m.Rotate(ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("instance %d: Rotate: %v", i, err)
			}
		}
		after := byAlgState(t, s)
		for _, alg := range []string{keys.RS256, keys.ES256} {
			// Each instance rotates from what the store holds when it
			// starts, so later ones may rotate again; what must hold is
			// that each algorithm still has exactly one active and one
			// next key, and nothing was lost that the first rotation
			// retired.
			only(t, after[alg], store.KeyActive)
			only(t, after[alg], store.KeyNext)
			retired := after[alg][store.KeyRetired]
			if len(retired) == 0 || len(retired) > instances {
				t.Fatalf("%s: %d retired keys after %d concurrent rotations", alg, len(retired), instances)
			}
			if !slices.ContainsFunc(retired, func(k store.SigningKey) bool { return k.ID == only(t, before[alg], store.KeyActive).ID }) {
				t.Fatalf("%s: the original active key is not among the retired ones", alg)
			}
		}
	})
}
