package storetest

import (
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Dynamic client registration (RFC 7591/7592): the registered flag, the
// registration token's digest and the last use, which the janitor reads.
var clientRegistrationTests = []subtest{
	{"RoundTrip", testRegisteredClientRoundTrip},
	{"Touch", testTouchClient},
	{"DeleteUnused", testDeleteUnusedRegisteredClients},
	{"Count", testCountRegisteredClients},
}

func testCountRegisteredClients(f *fixture) {
	count := func() int {
		f.t.Helper()
		n, err := f.s.CountRegisteredClients(f.ctx)
		f.must(err, "CountRegisteredClients")
		return n
	}
	if n := count(); n != 0 {
		f.t.Fatalf("empty store: %d registered clients", n)
	}
	f.createClient()
	a := f.newRegisteredClient(-time.Hour, nil)
	f.newRegisteredClient(-time.Hour, nil)
	if n := count(); n != 2 {
		f.t.Errorf("count = %d, want 2 (the plain client is not counted)", n)
	}
	f.must(f.s.DeleteClient(f.ctx, a.ID), "DeleteClient")
	if n := count(); n != 1 {
		f.t.Errorf("count after a delete = %d, want 1", n)
	}
}

func (f *fixture) newRegisteredClient(created time.Duration, lastUsed *time.Time) store.Client {
	f.t.Helper()
	c := f.newClient()
	c.FirstParty = false
	c.Registered = true
	c.RegistrationTokenHash = []byte{0x01, 0x02, 0x00, 0xff}
	c.CreatedAt, c.UpdatedAt = f.at(created), f.at(created)
	c.LastUsedAt = lastUsed
	c.ClientURI, c.LogoURI = "https://app.example/", "https://app.example/logo.png"
	c.Contacts = []string{"ops@app.example", "Ada <ada@app.example>"}
	f.must(f.s.CreateClient(f.ctx, c), "CreateClient %s", c.ID)
	return c
}

func testRegisteredClientRoundTrip(f *fixture) {
	c := f.newRegisteredClient(-time.Hour, f.atPtr(-time.Minute))
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("registered client", got, c)

	// UpdateClient replaces the registration fields too (RFC 7592 PUT
	// keeps them; a rotation of the token changes the digest).
	c.RegistrationTokenHash = []byte{0x09}
	c.LastUsedAt = nil
	c.ClientURI, c.LogoURI, c.Contacts = "", "", nil
	f.must(f.s.UpdateClient(f.ctx, c), "UpdateClient")
	got, err = f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient after update")
	c.Contacts = []string{} // lists read back empty, never nil
	f.equal("updated registered client", got, c)

	// An ordinary client reads back unregistered, with no digest and no use.
	plain := f.createClient()
	got, err = f.s.GetClient(f.ctx, plain.ID)
	f.must(err, "GetClient plain")
	if got.Registered || got.RegistrationTokenHash != nil || got.LastUsedAt != nil || got.Contacts == nil || len(got.Contacts) > 0 {
		f.t.Errorf("plain client: Registered=%v hash=%x last used=%v, want false, nil, nil",
			got.Registered, got.RegistrationTokenHash, got.LastUsedAt)
	}
}

func testTouchClient(f *fixture) {
	// Stored times have microseconds (PostgreSQL's precision).
	f.now = f.now.UTC().Truncate(time.Microsecond)
	c := f.newRegisteredClient(-time.Hour, nil)
	lastUsed := func(id string) *time.Time {
		f.t.Helper()
		got, err := f.s.GetClient(f.ctx, id)
		f.must(err, "GetClient %s", id)
		return got.LastUsedAt
	}
	// Never used: the touch writes.
	f.must(f.s.TouchClient(f.ctx, c.ID, f.now, f.at(-time.Hour)), "TouchClient")
	if got := lastUsed(c.ID); got == nil || !got.Equal(f.now) {
		f.t.Fatalf("LastUsedAt = %v, want %v", got, f.now)
	}
	// Used within the hour: a second touch changes nothing.
	later := f.at(10 * time.Minute)
	f.must(f.s.TouchClient(f.ctx, c.ID, later, later.Add(-time.Hour)), "TouchClient again")
	if got := lastUsed(c.ID); got == nil || !got.Equal(f.now) {
		f.t.Errorf("LastUsedAt = %v after a touch within the hour, want %v unchanged", got, f.now)
	}
	// An hour later it writes again.
	much := f.at(2 * time.Hour)
	f.must(f.s.TouchClient(f.ctx, c.ID, much, much.Add(-time.Hour)), "TouchClient after the hour")
	if got := lastUsed(c.ID); got == nil || !got.Equal(much) {
		f.t.Errorf("LastUsedAt = %v, want %v", got, much)
	}
	// A client not registered dynamically is never touched, and an unknown
	// one is no error.
	plain := f.createClient()
	f.must(f.s.TouchClient(f.ctx, plain.ID, f.now, f.at(-time.Hour)), "TouchClient plain")
	if got := lastUsed(plain.ID); got != nil {
		f.t.Errorf("plain client LastUsedAt = %v, want nil", got)
	}
	f.must(f.s.TouchClient(f.ctx, uniqueID("nobody"), f.now, f.at(-time.Hour)), "TouchClient unknown")
}

func testDeleteUnusedRegisteredClients(f *fixture) {
	day := 24 * time.Hour
	before := f.at(-30 * day)
	unusedOld := f.newRegisteredClient(-40*day, nil)
	usedLongAgo := f.newRegisteredClient(-60*day, f.atPtr(-35*day))
	usedRecently := f.newRegisteredClient(-60*day, f.atPtr(-day))
	newUnused := f.newRegisteredClient(-day, nil)
	plain := f.newClient()
	plain.CreatedAt, plain.UpdatedAt = f.at(-90*day), f.at(-90*day)
	f.must(f.s.CreateClient(f.ctx, plain), "CreateClient plain")

	// A batch of one, then the rest: the limit holds.
	n, err := f.s.DeleteUnusedRegisteredClients(f.ctx, before, 1)
	f.must(err, "DeleteUnusedRegisteredClients limit 1")
	if n != 1 {
		f.t.Fatalf("deleted %d, want 1 (the limit)", n)
	}
	n, err = f.s.DeleteUnusedRegisteredClients(f.ctx, before, 100)
	f.must(err, "DeleteUnusedRegisteredClients")
	if n != 1 {
		f.t.Fatalf("deleted %d in the second batch, want 1", n)
	}
	for _, id := range []string{unusedOld.ID, usedLongAgo.ID} {
		if _, err := f.s.GetClient(f.ctx, id); !errors.Is(err, store.ErrNotFound) {
			f.t.Errorf("GetClient(%s) = %v, want ErrNotFound: unused registered clients are deleted", id, err)
		}
	}
	for _, id := range []string{usedRecently.ID, newUnused.ID, plain.ID} {
		if _, err := f.s.GetClient(f.ctx, id); err != nil {
			f.t.Errorf("GetClient(%s) = %v, want the client kept", id, err)
		}
	}
	n, err = f.s.DeleteUnusedRegisteredClients(f.ctx, before, 100)
	f.must(err, "DeleteUnusedRegisteredClients again")
	if n != 0 {
		f.t.Errorf("deleted %d on a second run, want 0", n)
	}
}
