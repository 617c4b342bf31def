package routes

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

func TestAllowed(t *testing.T) {
	ok := func(http.ResponseWriter, *http.Request) {}
	root := mux.NewRouter()
	base := root.PathPrefix("/auth").Subrouter()
	base.HandleFunc("/oauth2/token", ok).Methods(http.MethodPost)
	base.HandleFunc("/login", ok).Methods(http.MethodGet, http.MethodPost)
	base.HandleFunc("/users/{id}", ok).Methods(http.MethodGet, http.MethodDelete)
	for _, tc := range []struct{ method, path, want string }{
		{http.MethodGet, "/auth/oauth2/token", "POST"},
		{http.MethodPut, "/auth/login", "GET, POST"},
		{http.MethodPost, "/auth/users/7", "GET, DELETE"},
		{http.MethodGet, "/auth/nothing", ""},
		{http.MethodGet, "/oauth2/token", ""},
	} {
		if got := Allowed(root, httptest.NewRequest(tc.method, tc.path, nil)); got != tc.want {
			t.Errorf("%s %s: Allowed = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
