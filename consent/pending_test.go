package consent_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// TestPendingPagePromisesEmailOnlyWhenSent: the waiting page says the
// decision will be emailed only when SMTP is configured; without it, it
// tells the user how to find out instead.
func TestPendingPagePromisesEmailOnlyWhenSent(t *testing.T) {
	const (
		emailed    = "You will get an email when it is decided."
		notEmailed = "Sign in again later to see whether it was granted."
	)
	for _, tc := range []struct {
		name          string
		email         bool
		want, wantNot string
	}{
		{"smtp configured", true, emailed, notEmailed},
		{"no smtp", false, notEmailed, emailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, envOptions{email: tc.email})
			e.createUser("pete", "pete@example.com", store.StatusPending)
			c := e.signInPending("pete")
			_, form := e.get(c, accessRequestLocation)
			resp, _ := e.post(c, "/access/request", url.Values{
				"csrf_token": {csrfFrom(t, form)}, "return_to": {authorizeURL},
				"role": {"user"}, "purpose": {"I trade on the desk."},
			})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("submit: status %d, want 303", resp.StatusCode)
			}
			resp, body := e.get(c, resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, waitingText) {
				t.Fatalf("waiting page: status %d\n%s", resp.StatusCode, body)
			}
			if !strings.Contains(body, waitingText+" "+tc.want) {
				t.Errorf("waiting page does not say %q:\n%s", tc.want, body)
			}
			if strings.Contains(body, tc.wantNot) {
				t.Errorf("waiting page says %q:\n%s", tc.wantNot, body)
			}
		})
	}
}
