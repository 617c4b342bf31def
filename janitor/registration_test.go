package janitor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/store"
)

// Dynamically registered clients that got no token for UnusedClientTTL go;
// a used one and one an operator made stay, whatever their age. With no
// TTL nothing is deleted.
func TestRunOnceDeletesUnusedRegisteredClients(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			ctx := context.Background()
			created := time.Now().UTC().Truncate(time.Microsecond)
			mk := func(id string, registered bool) {
				t.Helper()
				c := store.Client{ID: id, Registered: registered, TokenEndpointAuthMethod: "none", Public: true,
					GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
					RedirectURIs: []string{"http://127.0.0.1/cb"}, CreatedAt: created, UpdatedAt: created}
				if err := st.CreateClient(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			mk("dcr_unused", true)
			mk("dcr_used", true)
			mk("operator", false)
			// dcr_used gets a token 29 days after it registered.
			if err := st.TouchClient(ctx, "dcr_used", created.Add(29*24*time.Hour), created.Add(28*24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			ttl := 30 * 24 * time.Hour
			now := created.Add(ttl + time.Hour)
			clock := func() time.Time { return now }

			res, err := janitor.New(st, janitor.Options{Now: clock}).RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.RegisteredClients != 0 {
				t.Fatalf("without a TTL the janitor deleted %d registered clients", res.RegisteredClients)
			}
			res, err = janitor.New(st, janitor.Options{Now: clock, UnusedClientTTL: ttl}).RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.RegisteredClients != 1 {
				t.Errorf("deleted %d registered clients, want 1", res.RegisteredClients)
			}
			if _, err := st.GetClient(ctx, "dcr_unused"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unused registered client: GetClient = %v, want ErrNotFound", err)
			}
			for _, id := range []string{"dcr_used", "operator"} {
				if _, err := st.GetClient(ctx, id); err != nil {
					t.Errorf("%s: GetClient = %v, want it kept", id, err)
				}
			}
		})
	}
}
