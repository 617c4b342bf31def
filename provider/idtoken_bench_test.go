package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store/memory"
)

// BenchmarkSignIDToken signs alice's ID token through the composed
// strategy, for a client that registered nothing (RS256, RSA-2048) and for
// one that registered ES256, from one server whose two keys are live side
// by side: the figures the README's choice of algorithm quotes. The
// context carries the active keys, as the token endpoint sets them.
func BenchmarkSignIDToken(b *testing.B) {
	e := newBenchEnv(b, memory.New(), benchOptions{alg: keys.RS256})
	active, err := e.keys.Active(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	def, err := active.Default()
	if err != nil {
		b.Fatal(err)
	}
	ctx := withActiveKeys(withSigningKey(context.Background(), def), active)
	for _, tc := range []struct{ alg, client string }{
		{keys.RS256, "web"},
		{keys.ES256, "web-es"},
	} {
		b.Run(tc.alg, func(b *testing.B) {
			r := e.request(e.client(b, tc.client), "openid", "profile", "email", "offline_access")
			want, err := active.For(tc.alg)
			if err != nil {
				b.Fatal(err)
			}
			tok, err := e.idTokens.GenerateIDToken(ctx, DefaultIDTokenLifetime, r)
			if err != nil {
				b.Fatalf("sign: %v", err)
			}
			// The benchmark must measure the algorithm it names.
			h, _, _ := strings.Cut(tok, ".")
			raw, _ := base64.RawURLEncoding.DecodeString(h)
			var head struct{ Alg, Kid string }
			if json.Unmarshal(raw, &head) != nil || head.Alg != tc.alg || head.Kid != want.ID {
				b.Fatalf("ID token header %s, want alg %s kid %s", raw, tc.alg, want.ID)
			}
			b.ReportAllocs()
			cpu := startCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.idTokens.GenerateIDToken(ctx, DefaultIDTokenLifetime, r); err != nil {
					b.Fatalf("sign: %v", err)
				}
			}
			cpu.report(b)
		})
	}
}
