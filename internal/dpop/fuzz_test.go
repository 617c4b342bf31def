package dpop_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/dpop"
	"github.com/gatehouse/gatehouse/internal/dpoptest"
)

// FuzzParse: whatever a client sends as its proof, Parse answers without
// panicking, and accepts only a proof that verifies: a mutated valid proof
// is refused unless the mutation left its signed bytes as they were.
func FuzzParse(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	// The same key in every fuzz worker process.
	k := dpoptest.Ed25519FromSeed(make([]byte, 32))
	valid := k.Sign(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL, IssuedAt: now})
	f.Add(valid)
	f.Add(k.SignNone(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL, IssuedAt: now}))
	f.Add(dpoptest.MustES256().SignWithPrivateJWK(dpoptest.Claims{Method: http.MethodPost, URL: tokenURL, IssuedAt: now}))
	f.Add("e30.e30.")
	f.Add("")
	v, err := dpop.New(nopReplay{}, dpop.Options{NonceKey: make([]byte, 32), Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := v.Parse([]string{proof}, dpop.Request{Method: http.MethodPost, URL: tokenURL})
		if err == nil && p.JKT != k.JKT() {
			// Only a key's holder makes a proof that verifies; the
			// fuzzer holds no key but the seed's.
			t.Fatalf("accepted a proof of key %s", p.JKT)
		}
	})
}
