package dpop_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/dpop"
	"github.com/gatehouse/gatehouse/internal/dpoptest"
)

// BenchmarkParse is the CPU a token request's proof costs the server,
// without its replay record.
func BenchmarkParse(b *testing.B) {
	v, err := dpop.New(nopReplay{}, dpop.Options{NonceKey: make([]byte, 32), Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	k := dpoptest.MustES256()
	proof := []string{k.Proof("POST", tokenURL, "")}
	req := dpop.Request{Method: "POST", URL: tokenURL}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Parse(proof, req); err != nil {
			b.Fatal(err)
		}
	}
}

type nopReplay struct{}

func (nopReplay) UseDPoPProof(context.Context, []byte, time.Time, time.Time) error { return nil }
