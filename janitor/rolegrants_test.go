package janitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/store"
)

// Expired time-boxed role grants go in bounded batches, each removal
// audited as user.role.expire by the system; live grants stay.
func TestRunOnceExpiresRoleGrantsAndAuditsEach(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			var ids []string
			for i := range 7 {
				u := store.User{ID: uuid.NewString(), Username: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@example.com", i),
					Status: store.StatusActive, CreatedAt: now, UpdatedAt: now,
					Roles:      []string{"manager", "viewer"},
					RoleExpiry: map[string]time.Time{"manager": now.Add(-time.Duration(i+1) * time.Minute), "viewer": now.Add(time.Hour)}}
				if err := st.CreateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, u.ID)
			}
			svc := domain.NewService(st, domain.Options{Now: func() time.Time { return now }})
			rec := &recorder{}
			j := janitor.New(st, janitor.Options{BatchSize: 3, Now: func() time.Time { return now }, Recorder: rec, RoleGrants: svc})
			res, err := j.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.RoleGrants != 7 || rec.deleted["role_grants"] != 7 {
				t.Errorf("role grants removed %d (recorded %d), want 7", res.RoleGrants, rec.deleted["role_grants"])
			}
			entries, err := st.ListAudit(ctx, store.AuditFilter{Action: "user.role.expire", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 7 {
				t.Fatalf("%d user.role.expire entries, want 7", len(entries))
			}
			for _, e := range entries {
				if e.ActorType != store.ActorSystem || e.TargetType != domain.TargetUser || !slices.Contains(ids, e.TargetID) {
					t.Errorf("entry %+v: want the system acting on one of the users", e)
				}
				var c map[string]store.Change
				if err := json.Unmarshal(e.Changes, &c); err != nil || fmt.Sprint(c["roles"].Before) != "[manager]" {
					t.Errorf("entry changes %s: want roles before [manager]", e.Changes)
				}
			}
			for _, id := range ids {
				u, err := st.GetUser(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(u.Roles, []string{"viewer"}) || len(u.RoleExpiry) != 1 {
					t.Errorf("user %s after the janitor: roles %v expiry %v, want the live viewer grant only", id, u.Roles, u.RoleExpiry)
				}
			}
			// Nothing left: a second run removes and audits nothing.
			if res, err := j.RunOnce(ctx); err != nil || res.RoleGrants != 0 {
				t.Errorf("second run: %d, %v; want 0", res.RoleGrants, err)
			}
		})
	}
}
