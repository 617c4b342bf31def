package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
)

// TestUsersProfileFlags: users create and users update set the profile
// fields and the break-glass flag, audited; a bad value of each is refused
// naming its field and changes nothing.
func TestUsersProfileFlags(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var u admin.UserView
	e.audited(st, "user.create", nil, &u, "users", "create", "--username", "grace", "--email", "grace@example.com",
		"--password", "correct horse battery", "--role", "user",
		"--phone-number", "+14155550123", "--phone-number-verified", "--given-name", "Grace", "--family-name", "Hopper",
		"--locale", "en-US", "--zoneinfo", "America/New_York", "--picture", "https://example.com/g.png", "--break-glass")
	if u.PhoneNumber != "+14155550123" || !u.PhoneNumberVerified || u.GivenName != "Grace" || u.FamilyName != "Hopper" ||
		u.Locale != "en-US" || u.Zoneinfo != "America/New_York" || u.Picture != "https://example.com/g.png" || !u.BreakGlass {
		t.Fatalf("created user printed as %+v", u)
	}

	// A new number is unverified; --break-glass=false unmarks, audited.
	entry := e.audited(st, "user.update", nil, &u, "users", "update", "grace", "--phone-number", "+442079460000", "--break-glass=false")
	if u.PhoneNumber != "+442079460000" || u.PhoneNumberVerified || u.BreakGlass {
		t.Fatalf("updated user printed as %+v", u)
	}
	var changes map[string]struct{ Before, After any }
	if err := json.Unmarshal(entry.Changes, &changes); err != nil {
		t.Fatal(err)
	}
	if c := changes["break_glass"]; c.Before != true || c.After != false {
		t.Errorf("audit changes %s, want break_glass true -> false", entry.Changes)
	}

	for _, tt := range []struct{ flag, value, field string }{
		{"--phone-number", "0123456789", "phone_number"},
		{"--locale", "english please", "locale"},
		{"--zoneinfo", "Mars/Olympus_Mons", "zoneinfo"},
		{"--picture", "http://example.com/g.png", "picture"},
	} {
		e.fails([]string{"invalid input", tt.field}, "users", "update", "grace", tt.flag, tt.value)
	}
	stored, err := st.GetUserByUsername(ctx, "grace")
	if err != nil {
		t.Fatal(err)
	}
	if stored.PhoneNumber != "+442079460000" || stored.Locale != "en-US" || stored.Zoneinfo != "America/New_York" {
		t.Fatalf("refused updates changed the user: %+v", stored)
	}
}
