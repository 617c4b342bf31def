package domain_test

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
)

// BenchmarkClientSecretCheck compares the client authentication gatehouse
// does (a SHA-256 digest of a 256-bit generated secret, compared in
// constant time) with what bcrypt would cost if client secrets were hashed
// like passwords: the reason DESIGN.md section 9 stores them as a digest.
// A client_credentials request pays one check.
func BenchmarkClientSecretCheck(b *testing.B) {
	secret, digest, err := domain.NewClientSecret()
	if err != nil {
		b.Fatalf("NewClientSecret: %v", err)
	}
	b.Run("sha256", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !domain.ClientSecretMatches(digest, secret) {
				b.Fatal("ClientSecretMatches: false for the right secret")
			}
		}
	})
	for _, cost := range []int{10, 12} {
		b.Run(fmt.Sprintf("bcrypt-cost=%d", cost), func(b *testing.B) {
			hash, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
			if err != nil {
				b.Fatalf("bcrypt: %v", err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := bcrypt.CompareHashAndPassword(hash, []byte(secret)); err != nil {
					b.Fatalf("bcrypt compare: %v", err)
				}
			}
		})
	}
}
