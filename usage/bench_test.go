package usage_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/usage"
)

// BenchmarkCount is the cost the token endpoint pays per response: one
// clock read and a map increment under a mutex, from many goroutines at
// once (go test -bench Count -cpu 1,2,8 ./usage/).
func BenchmarkCount(b *testing.B) {
	r := usage.New(newFakeStore(), usage.Options{})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Count(store.UsageTokens, "client_credentials")
		}
	})
}
