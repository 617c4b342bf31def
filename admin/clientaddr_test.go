package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// TestAuditRecordsTheClientAddress: the API audits the address the pages
// record for the same peer (internal/clientaddr): without its port,
// normalized, and never taken from X-Forwarded-For, which no configured
// proxy vouches for.
func TestAuditRecordsTheClientAddress(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	t.Cleanup(st.Close)
	svc := domain.NewService(st, domain.Options{Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8}})
	u, err := svc.CreateUser(ctx, domain.Actor{Type: store.ActorSystem}, domain.NewUser{
		Username: "root", Email: "root@example.com", Password: "a long password",
		Status: store.StatusActive, Roles: []string{"admin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	api := admin.New(svc, func(context.Context, string) (admin.AccessToken, error) {
		return admin.AccessToken{Subject: u.ID, ClientID: "console", UserID: u.ID, Scopes: []string{admin.APIScope}}, nil
	}, admin.Options{})
	r := mux.NewRouter()
	api.Mount(r)

	for i, tc := range []struct {
		name, remoteAddr, forwarded, want string
	}{
		{"IPv4", "192.0.2.1:5555", "", "192.0.2.1"},
		{"IPv6 with port", "[2001:db8::1]:443", "", "2001:db8::1"},
		{"IPv4-mapped IPv6 is recorded as IPv4", "[::ffff:192.0.2.1]:80", "", "192.0.2.1"},
		{"X-Forwarded-For is not believed", "192.0.2.1:5555", "203.0.113.9", "192.0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/groups", strings.NewReader(fmt.Sprintf(`{"name":"group-%d"}`, i)))
			req.Header.Set("Authorization", "Bearer gh_at_whatever")
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = tc.remoteAddr
			if tc.forwarded != "" {
				req.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				t.Fatalf("POST /groups: status %d; body %s", rec.Code, rec.Body)
			}
			entries, err := st.ListAudit(ctx, store.AuditFilter{Limit: 1})
			if err != nil || len(entries) != 1 || entries[0].Action != "group.create" {
				t.Fatalf("last audit entry: %+v, %v", entries, err)
			}
			if got := entries[0].IPAddress; got != tc.want {
				t.Errorf("audited address %q, want %q", got, tc.want)
			}
		})
	}
}
