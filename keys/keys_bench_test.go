package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store/memory"
)

// The benchmarks of this file measure what every token request asks of the
// key manager: the active key (Signer, served from the in-process cache) and
// the published set (JWKS, which relying parties fetch and PublicKey reads
// to verify our own tokens). The store is the memory one: on the hot path
// the cache answers and the store is not read.

var benchAlgorithms = []string{keys.RS256, keys.ES256}

// newBenchManager returns a Manager with an active and a next key of alg,
// its cache warm.
func newBenchManager(b *testing.B, alg string, opts ...keys.Options) *keys.Manager {
	b.Helper()
	var o keys.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Algorithm = alg
	secret := make([]byte, keys.MinSecretLen)
	for i := range secret {
		secret[i] = byte(i)
	}
	m, err := keys.NewManager(memory.New(), secret, o)
	if err != nil {
		b.Fatalf("keys.NewManager: %v", err)
	}
	if err := m.Ensure(context.Background()); err != nil {
		b.Fatalf("Ensure: %v", err)
	}
	return m
}

// BenchmarkSigner is the cached read every ID token and JWT access token
// makes. The parallel variant shows whether the cache lock is contended.
func BenchmarkSigner(b *testing.B) {
	ctx := context.Background()
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			m := newBenchManager(b, alg)
			want, err := m.Signer(ctx)
			if err != nil {
				b.Fatalf("Signer: %v", err)
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					k, err := m.Signer(ctx)
					if err != nil || k.ID != want.ID {
						b.Fatalf("Signer: key %q, err %v; want %q", k.ID, err, want.ID)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						k, err := m.Signer(ctx)
						if err != nil || k.ID != want.ID {
							b.Errorf("Signer: key %q, err %v; want %q", k.ID, err, want.ID)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkJWKS builds the published key set (active and next key) from
// the cache, as the JWKS endpoint does on every call.
func BenchmarkJWKS(b *testing.B) {
	ctx := context.Background()
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			m := newBenchManager(b, alg)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				set, err := m.JWKS(ctx)
				if err != nil || len(set.Keys) != 2 {
					b.Fatalf("JWKS: %d keys, err %v; want 2", len(set.Keys), err)
				}
			}
		})
	}
}

// BenchmarkPublicKey is the lookup by kid that verifying one of our own
// JWTs (JWT access token, id_token_hint) makes.
func BenchmarkPublicKey(b *testing.B) {
	ctx := context.Background()
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			m := newBenchManager(b, alg)
			k, err := m.Signer(ctx)
			if err != nil {
				b.Fatalf("Signer: %v", err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pub, err := m.PublicKey(ctx, k.ID)
				if err != nil || pub.KeyID != k.ID {
					b.Fatalf("PublicKey: %v", err)
				}
			}
		})
	}
}

// BenchmarkCacheExpiry is what an expired cache costs the request that
// finds it (once per CacheTTL per instance, not per request): read every
// key, parse and check the public keys. The clock moves past CacheTTL
// before every call; the active private key, unchanged, is not decrypted
// again.
func BenchmarkCacheExpiry(b *testing.B) {
	ctx := context.Background()
	const ttl = time.Minute
	for _, alg := range benchAlgorithms {
		b.Run(alg, func(b *testing.B) {
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			m := newBenchManager(b, alg, keys.Options{CacheTTL: ttl, Now: func() time.Time { return now }})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now = now.Add(ttl)
				if _, err := m.Signer(ctx); err != nil {
					b.Fatalf("Signer: %v", err)
				}
			}
		})
	}
}
