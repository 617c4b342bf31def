package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store/memory"
)

// An access token that cannot be checked (the store is down) is the
// server's failure, not the caller's: 500, never a 401 that would send the
// client to fetch tokens in a loop.
func TestIntrospectionFailureIsNotInvalidToken(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		wantStatus int
	}{
		{"invalid token", fmt.Errorf("%w: revoked", admin.ErrInvalidToken), http.StatusUnauthorized},
		{"store unreachable", errors.New("postgres: connection refused"), http.StatusInternalServerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := admin.New(domain.NewService(memory.New(), domain.Options{}),
				func(context.Context, string) (admin.AccessToken, error) { return admin.AccessToken{}, tc.err },
				admin.Options{})
			r := mux.NewRouter()
			api.Mount(r)
			req := httptest.NewRequest(http.MethodGet, "/api/v1/users", nil)
			req.Header.Set("Authorization", "Bearer gh_at_whatever")
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus == http.StatusInternalServerError && rec.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("a 500 carries WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
}
