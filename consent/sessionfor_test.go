package consent_test

import (
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/consent"
)

// currentSessionFor is currentSession for an authorization request of
// clientID (Pages.CurrentSessionFor).
func (e *env) currentSessionFor(value, clientID string) *consent.Session {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if value != "" {
		r.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: value})
	}
	s, err := e.pages.CurrentSessionFor(r, clientID)
	if err != nil {
		e.t.Fatalf("CurrentSessionFor: %v", err)
	}
	return s
}
