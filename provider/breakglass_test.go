package provider

import (
	"errors"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// TestCapAccessToken: an access token of a grant with a deadline ends no
// later than it; a grant past its deadline mints nothing (invalid_grant);
// a grant without one keeps fosite's expiry.
func TestCapAccessToken(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fosites := now.Add(4 * time.Hour) // what fosite set from the lifetime
	for _, c := range []struct {
		name     string
		notAfter time.Time
		want     time.Time
		wantErr  bool
	}{
		{"no deadline", time.Time{}, fosites, false},
		{"deadline before the lifetime's end", now.Add(40*time.Minute + 500*time.Millisecond), now.Add(40 * time.Minute), false},
		{"deadline after it", now.Add(5 * time.Hour), fosites, false},
		{"deadline now", now, time.Time{}, true},
		{"deadline past", now.Add(-time.Minute), time.Time{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewSession()
			s.NotAfter = c.notAfter
			s.SetExpiresAt(fosite.AccessToken, fosites)
			err := capAccessToken(s, now)
			if c.wantErr {
				if !errors.Is(err, fosite.ErrInvalidGrant) {
					t.Fatalf("err %v, want invalid_grant", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.GetExpiresAt(fosite.AccessToken); !got.Equal(c.want) {
				t.Errorf("access token expires %v, want %v", got, c.want)
			}
		})
	}
}
