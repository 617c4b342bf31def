package storetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// BenchmarkAuditAppend measures what the hash chain costs an append: alone
// (serial), from many writers at once (parallel: on PostgreSQL every append
// waits for the head row's lock), and inside a transaction that does one
// more statement after the append, as a domain change does (the lock is
// held until the commit). The body uses only AppendAudit and InTx, so it
// runs unchanged against the store before the chain, for comparison.
func BenchmarkAuditAppend(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			// A fresh store per benchmark: the log's size does not carry
			// over from one to the next.
			var s store.Store
			entry := store.AuditEntry{
				At: time.Now(), ActorType: store.ActorUser, ActorID: "5f0c1f8e-8a47-4f43-9d0b-3f1a3c1e2d10",
				Action: "user.update", TargetType: "user", TargetID: "0b1d2c3e-0000-4000-8000-000000000001",
				IPAddress: "192.0.2.10",
				Changes:   json.RawMessage(`{"email": {"before": "a@example.com", "after": "b@example.com"}, "roles": {"before": ["viewer"], "after": ["user"]}}`),
			}
			appendOne := func(ctx context.Context) error {
				_, err := s.AppendAudit(ctx, entry)
				return err
			}
			inTx := func(ctx context.Context) error {
				return store.InTx(ctx, s, func(ctx context.Context) error {
					if err := appendOne(ctx); err != nil {
						return err
					}
					// The change an entry records is written beside it:
					// one more round trip in the transaction.
					if _, err := s.GetClient(ctx, "no-such-client"); !errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("get client: %w", err)
					}
					return nil
				})
			}
			// Events and webhooks: what every audited write does since, the
			// enqueue of the entry's event, here with no subscription (the
			// statement then only reads the empty subscriptions table).
			withEvent := func(ctx context.Context) error {
				return store.InTx(ctx, s, func(ctx context.Context) error {
					if err := inTx(ctx); err != nil {
						return err
					}
					_, _, err := s.EnqueueWebhookEvent(ctx, store.WebhookEvent{ID: "evt_bench", Type: entry.Action,
						Patterns: store.WebhookPatterns(entry.Action), Payload: []byte(`{}`), At: entry.At}, 10000)
					return err
				})
			}
			for _, op := range []struct {
				name string
				fn   func(context.Context) error
			}{{"append", appendOne}, {"append+statement-in-tx", inTx}, {"append+statement+webhook-enqueue-in-tx", withEvent}} {
				b.Run(op.name+"/serial", func(b *testing.B) {
					s = be.open(b)
					for b.Loop() {
						if err := op.fn(ctx); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(op.name+"/parallel", func(b *testing.B) {
					s = be.open(b)
					if be.name == "postgres" {
						b.SetParallelism(pgParallelism)
					}
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := op.fn(ctx); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}
