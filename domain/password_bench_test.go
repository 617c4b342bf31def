package domain_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
)

// benchCosts are bcrypt costs worth comparing: 10 is bcrypt's default, 12
// gatehouse's (domain.DefaultPasswords). Each step doubles the work.
var benchCosts = []int{10, 12}

const benchPassword = "correct horse battery staple"

// BenchmarkPasswordHash is what setting a password costs (and a login whose
// stored hash has another cost, which re-hashes it).
func BenchmarkPasswordHash(b *testing.B) {
	for _, cost := range benchCosts {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			p := domain.Passwords{BcryptCost: cost, MinLength: 8}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := p.Hash(benchPassword); err != nil {
					b.Fatalf("Hash: %v", err)
				}
			}
		})
	}
}

// BenchmarkPasswordVerify is the check every password login pays (and, for
// an unknown username, VerifyNobody pays the same on purpose).
func BenchmarkPasswordVerify(b *testing.B) {
	for _, cost := range benchCosts {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			p := domain.Passwords{BcryptCost: cost, MinLength: 8}
			hash, err := p.Hash(benchPassword)
			if err != nil {
				b.Fatalf("Hash: %v", err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if ok, rehash := p.Verify(hash, benchPassword); !ok || rehash {
					b.Fatalf("Verify: ok %v, rehash %v; want true, false", ok, rehash)
				}
			}
		})
	}
}
