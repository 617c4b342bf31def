package storetest

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var keyTests = []subtest{
	{"AddList", testKeysAddList},
	{"AddDuplicateID", testKeysAddDuplicateID},
	{"Rotate", testKeysRotate},
	{"RotateStale", testKeysRotateStale},
	{"RotatePerAlgorithm", testKeysRotatePerAlgorithm},
	{"DeleteRetired", testKeysDeleteRetired},
}

var jtiTests = []subtest{
	{"MarkIsUsed", testJTIMark},
	{"DeleteExpired", testJTIDeleteExpired},
}

var issuerTests = []subtest{
	{"CreateListDelete", testIssuersCreateListDelete},
	{"Duplicate", testIssuersDuplicate},
	{"Find", testIssuersFind},
}

func (f *fixture) listKeys() []store.SigningKey {
	f.t.Helper()
	keys, err := f.s.ListSigningKeys(f.ctx)
	f.must(err, "ListSigningKeys")
	return keys
}

func testKeysAddList(f *fixture) {
	if keys := f.listKeys(); len(keys) != 0 {
		f.t.Fatalf("a new store has %d signing keys", len(keys))
	}
	next := f.newSigningKey(store.KeyNext, time.Hour)
	active := f.newSigningKey(store.KeyActive, 2*time.Hour)
	// Added out of age order: the list is oldest first.
	f.must(f.s.AddSigningKey(f.ctx, next), "AddSigningKey next")
	f.must(f.s.AddSigningKey(f.ctx, active), "AddSigningKey active")
	f.equal("ListSigningKeys", f.listKeys(), []store.SigningKey{active, next})

	// Another algorithm has an active and a next key of its own.
	esActive := f.newSigningKeyOf("ES256", store.KeyActive, 90*time.Minute)
	esNext := f.newSigningKeyOf("ES256", store.KeyNext, 30*time.Minute)
	f.must(f.s.AddSigningKey(f.ctx, esActive), "AddSigningKey ES256 active")
	f.must(f.s.AddSigningKey(f.ctx, esNext), "AddSigningKey ES256 next")
	want := []store.SigningKey{active, esActive, next, esNext}
	f.equal("ListSigningKeys with two algorithms", f.listKeys(), want)

	cases := []struct {
		name string
		key  store.SigningKey
	}{
		{"second active key", f.newSigningKey(store.KeyActive, 0)},
		{"second next key", f.newSigningKey(store.KeyNext, 0)},
		{"second ES256 active key", f.newSigningKeyOf("ES256", store.KeyActive, 0)},
		{"second ES256 next key", f.newSigningKeyOf("ES256", store.KeyNext, 0)},
	}
	for _, tc := range cases {
		f.wantErr(f.s.AddSigningKey(f.ctx, tc.key), store.ErrConflict, "AddSigningKey %s", tc.name)
	}
	f.equal("keys after refused additions", f.listKeys(), want)
}

// testKeysRotatePerAlgorithm: rotating one algorithm's keys leaves the
// other's alone, and expectations naming the other algorithm's keys are
// stale.
func testKeysRotatePerAlgorithm(f *fixture) {
	rsActive := f.newSigningKey(store.KeyActive, 4*time.Hour)
	rsNext := f.newSigningKey(store.KeyNext, 3*time.Hour)
	esActive := f.newSigningKeyOf("ES256", store.KeyActive, 2*time.Hour)
	esNext := f.newSigningKeyOf("ES256", store.KeyNext, time.Hour)
	for _, k := range []store.SigningKey{rsActive, rsNext, esActive, esNext} {
		f.must(f.s.AddSigningKey(f.ctx, k), "AddSigningKey %s %s", k.Algorithm, k.State)
	}
	until := f.at(24 * time.Hour)
	before := f.listKeys()
	f.wantErr(f.s.RotateSigningKeys(f.ctx, esActive.ID, esNext.ID, f.newSigningKey(store.KeyNext, 0), until),
		store.ErrConflict, "RotateSigningKeys of RS256 expecting the ES256 keys")
	f.wantErr(f.s.RotateSigningKeys(f.ctx, rsActive.ID, rsNext.ID, f.newSigningKeyOf("ES256", store.KeyNext, 0), until),
		store.ErrConflict, "RotateSigningKeys of ES256 expecting the RS256 keys")
	f.equal("keys after refused rotations", f.listKeys(), before)

	esNew := f.newSigningKeyOf("ES256", store.KeyNext, 0)
	f.must(f.s.RotateSigningKeys(f.ctx, esActive.ID, esNext.ID, esNew, until), "RotateSigningKeys ES256")
	esRetired := esActive
	esRetired.State, esRetired.VerifyUntil = store.KeyRetired, &until
	esPromoted := esNext
	esPromoted.State = store.KeyActive
	f.equal("keys after the ES256 rotation", f.listKeys(), []store.SigningKey{rsActive, rsNext, esRetired, esPromoted, esNew})

	rsNew := f.newSigningKey(store.KeyNext, -time.Minute)
	f.must(f.s.RotateSigningKeys(f.ctx, rsActive.ID, rsNext.ID, rsNew, until), "RotateSigningKeys RS256")
	rsRetired := rsActive
	rsRetired.State, rsRetired.VerifyUntil = store.KeyRetired, &until
	rsPromoted := rsNext
	rsPromoted.State = store.KeyActive
	f.equal("keys after both rotations", f.listKeys(), []store.SigningKey{rsRetired, rsPromoted, esRetired, esPromoted, esNew, rsNew})
}

func testKeysAddDuplicateID(f *fixture) {
	active := f.newSigningKey(store.KeyActive, time.Hour)
	f.must(f.s.AddSigningKey(f.ctx, active), "AddSigningKey")
	next := f.newSigningKey(store.KeyNext, 0)
	next.ID = active.ID
	f.wantErr(f.s.AddSigningKey(f.ctx, next), store.ErrConflict, "AddSigningKey with a taken id")
	f.equal("keys after a refused duplicate id", f.listKeys(), []store.SigningKey{active})
}

func testKeysRotate(f *fixture) {
	active := f.newSigningKey(store.KeyActive, time.Hour)
	next := f.newSigningKey(store.KeyNext, 30*time.Minute)
	f.must(f.s.AddSigningKey(f.ctx, active), "AddSigningKey active")
	f.must(f.s.AddSigningKey(f.ctx, next), "AddSigningKey next")

	newNext := f.newSigningKey(store.KeyNext, 0)
	until := f.at(25 * time.Hour)
	f.must(f.s.RotateSigningKeys(f.ctx, active.ID, next.ID, newNext, until), "RotateSigningKeys")

	retired := active
	retired.State = store.KeyRetired
	retired.VerifyUntil = &until
	promoted := next
	promoted.State = store.KeyActive
	f.equal("keys after rotation", f.listKeys(), []store.SigningKey{retired, promoted, newNext})

	// And once more, from the new state.
	newer := f.newSigningKey(store.KeyNext, -time.Minute)
	until2 := f.at(49 * time.Hour)
	f.must(f.s.RotateSigningKeys(f.ctx, next.ID, newNext.ID, newer, until2), "second RotateSigningKeys")
	retired2 := promoted
	retired2.State = store.KeyRetired
	retired2.VerifyUntil = &until2
	promoted2 := newNext
	promoted2.State = store.KeyActive
	f.equal("keys after the second rotation", f.listKeys(), []store.SigningKey{retired, retired2, promoted2, newer})
}

func testKeysRotateStale(f *fixture) {
	active := f.newSigningKey(store.KeyActive, 2*time.Hour)
	next := f.newSigningKey(store.KeyNext, time.Hour)
	f.must(f.s.AddSigningKey(f.ctx, active), "AddSigningKey active")
	f.must(f.s.AddSigningKey(f.ctx, next), "AddSigningKey next")
	before := f.listKeys()

	until := f.at(24 * time.Hour)
	cases := []struct{ name, expectActive, expectNext string }{
		{"stale active", "kid-gone", next.ID},
		{"stale next", active.ID, "kid-gone"},
		{"swapped", next.ID, active.ID},
		{"empty expectations", "", ""},
	}
	for _, tc := range cases {
		newNext := f.newSigningKey(store.KeyNext, 0)
		f.wantErr(f.s.RotateSigningKeys(f.ctx, tc.expectActive, tc.expectNext, newNext, until), store.ErrConflict, "RotateSigningKeys with %s", tc.name)
	}
	// A new next key whose id is taken is refused as well.
	f.wantErr(f.s.RotateSigningKeys(f.ctx, active.ID, next.ID, active, until), store.ErrConflict, "RotateSigningKeys with a taken new id")
	f.equal("keys after refused rotations", f.listKeys(), before)
}

func testKeysDeleteRetired(f *fixture) {
	active := f.newSigningKey(store.KeyActive, 3*time.Hour)
	next := f.newSigningKey(store.KeyNext, 2*time.Hour)
	f.must(f.s.AddSigningKey(f.ctx, active), "AddSigningKey active")
	f.must(f.s.AddSigningKey(f.ctx, next), "AddSigningKey next")
	k3 := f.newSigningKey(store.KeyNext, time.Hour)
	f.must(f.s.RotateSigningKeys(f.ctx, active.ID, next.ID, k3, f.at(time.Hour)), "RotateSigningKeys")
	k4 := f.newSigningKey(store.KeyNext, 0)
	f.must(f.s.RotateSigningKeys(f.ctx, next.ID, k3.ID, k4, f.at(3*time.Hour)), "RotateSigningKeys")

	ids := func() []string {
		var out []string
		for _, k := range f.listKeys() {
			out = append(out, k.ID)
		}
		return out
	}
	cases := []struct {
		at      time.Duration
		want    int
		remains []string
	}{
		{0, 0, []string{active.ID, next.ID, k3.ID, k4.ID}},
		{2 * time.Hour, 1, []string{next.ID, k3.ID, k4.ID}},
		{2 * time.Hour, 0, []string{next.ID, k3.ID, k4.ID}},
		// Far in the future only retired keys go; active and next stay.
		{1000 * time.Hour, 1, []string{k3.ID, k4.ID}},
	}
	for _, tc := range cases {
		n, err := f.s.DeleteRetiredSigningKeys(f.ctx, f.at(tc.at))
		f.must(err, "DeleteRetiredSigningKeys")
		if n != tc.want {
			f.t.Errorf("DeleteRetiredSigningKeys(now+%s) = %d, want %d", tc.at, n, tc.want)
		}
		f.equal("keys after DeleteRetiredSigningKeys", ids(), tc.remains)
	}
}

func testJTIMark(f *fixture) {
	jti := uniqueID("jti")
	exp := f.at(time.Hour)
	used, err := f.s.IsJWTIDUsed(f.ctx, jti, f.now)
	f.must(err, "IsJWTIDUsed")
	if used {
		f.t.Errorf("IsJWTIDUsed of an unknown jti = true")
	}
	f.must(f.s.MarkJWTIDUsed(f.ctx, jti, exp, f.now), "MarkJWTIDUsed")
	f.wantErr(f.s.MarkJWTIDUsed(f.ctx, jti, exp, f.now), store.ErrConflict, "MarkJWTIDUsed twice")
	f.wantErr(f.s.MarkJWTIDUsed(f.ctx, jti, f.at(2*time.Hour), f.at(59*time.Minute)), store.ErrConflict, "MarkJWTIDUsed just before expiry")

	cases := []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{59 * time.Minute, true},
		{61 * time.Minute, false},
	}
	for _, tc := range cases {
		used, err := f.s.IsJWTIDUsed(f.ctx, jti, f.at(tc.at))
		f.must(err, "IsJWTIDUsed")
		if used != tc.want {
			f.t.Errorf("IsJWTIDUsed at now+%s = %v, want %v", tc.at, used, tc.want)
		}
	}

	// Once expired, the id may be marked again, with its new expiry.
	later := f.at(2 * time.Hour)
	f.wantErr(f.s.MarkJWTIDUsed(f.ctx, jti, f.at(3*time.Hour), later), nil, "MarkJWTIDUsed after expiry")
	used, err = f.s.IsJWTIDUsed(f.ctx, jti, later)
	f.must(err, "IsJWTIDUsed")
	if !used {
		f.t.Errorf("IsJWTIDUsed after marking again = false")
	}
	f.wantErr(f.s.MarkJWTIDUsed(f.ctx, jti, f.at(4*time.Hour), later), store.ErrConflict, "MarkJWTIDUsed again before the new expiry")

	// Another jti is independent.
	f.wantErr(f.s.MarkJWTIDUsed(f.ctx, uniqueID("jti"), exp, f.now), nil, "MarkJWTIDUsed of another jti")
}

func testJTIDeleteExpired(f *fixture) {
	var expired []string
	for i := range 3 {
		jti := uniqueID("jti")
		f.must(f.s.MarkJWTIDUsed(f.ctx, jti, f.at(time.Duration(i+1)*time.Minute), f.now), "MarkJWTIDUsed")
		expired = append(expired, jti)
	}
	live := uniqueID("jti")
	f.must(f.s.MarkJWTIDUsed(f.ctx, live, f.at(time.Hour), f.now), "MarkJWTIDUsed")

	cleanup := f.at(10 * time.Minute)
	for i, want := range []int{2, 1, 0} {
		n, err := f.s.DeleteExpiredJWTIDs(f.ctx, cleanup, 2)
		f.must(err, "DeleteExpiredJWTIDs round %d", i)
		if n != want {
			f.t.Errorf("DeleteExpiredJWTIDs round %d = %d, want %d", i, n, want)
		}
	}
	// Deleted records are gone even for a caller looking back in time.
	for _, jti := range expired {
		used, err := f.s.IsJWTIDUsed(f.ctx, jti, f.now)
		f.must(err, "IsJWTIDUsed")
		if used {
			f.t.Errorf("jti %s still recorded after cleanup", jti)
		}
	}
	used, err := f.s.IsJWTIDUsed(f.ctx, live, cleanup)
	f.must(err, "IsJWTIDUsed")
	if !used {
		f.t.Errorf("unexpired jti removed by cleanup")
	}
}

func sortedIssuerIDs(list []store.TrustedIssuer) []string {
	ids := []string{}
	for _, t := range list {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}

func testIssuersCreateListDelete(f *fixture) {
	list, err := f.s.ListTrustedIssuers(f.ctx)
	f.must(err, "ListTrustedIssuers")
	if len(list) != 0 {
		f.t.Fatalf("a new store has %d trusted issuers", len(list))
	}
	a := f.newTrustedIssuer("https://idp.example", "alice", "k1")
	b := f.newTrustedIssuer("https://idp.example", "", "k2")
	b.Scopes = nil
	made := map[string]store.TrustedIssuer{a.ID: a, b.ID: b}
	for _, ti := range made {
		f.must(f.s.CreateTrustedIssuer(f.ctx, ti), "CreateTrustedIssuer")
	}
	list, err = f.s.ListTrustedIssuers(f.ctx)
	f.must(err, "ListTrustedIssuers")
	f.equal("trusted issuer ids", sortedIssuerIDs(list), sortedIssuerIDs([]store.TrustedIssuer{a, b}))
	for _, got := range list {
		if want, ok := made[got.ID]; ok {
			f.equal("trusted issuer", got, want)
		}
	}

	f.must(f.s.DeleteTrustedIssuer(f.ctx, a.ID), "DeleteTrustedIssuer")
	f.wantErr(f.s.DeleteTrustedIssuer(f.ctx, a.ID), store.ErrNotFound, "DeleteTrustedIssuer twice")
	f.wantErr(f.s.DeleteTrustedIssuer(f.ctx, uuid.NewString()), store.ErrNotFound, "DeleteTrustedIssuer unknown")
	f.wantErr(f.s.DeleteTrustedIssuer(f.ctx, "not-a-uuid"), store.ErrNotFound, "DeleteTrustedIssuer with an id that is no UUID")
	list, err = f.s.ListTrustedIssuers(f.ctx)
	f.must(err, "ListTrustedIssuers")
	f.equal("trusted issuers after delete", sortedIssuerIDs(list), []string{b.ID})

	// The same id in another case is the same UUID.
	f.wantErr(f.s.DeleteTrustedIssuer(f.ctx, strings.ToUpper(b.ID)), nil, "DeleteTrustedIssuer by uppercase UUID")
}

func testIssuersDuplicate(f *fixture) {
	cases := []struct{ name, subject, keyID string }{
		{"exact subject", "alice", "k1"},
		{"any subject", "", "k1"},
	}
	for _, tc := range cases {
		first := f.newTrustedIssuer("https://idp.example", tc.subject, tc.keyID)
		f.must(f.s.CreateTrustedIssuer(f.ctx, first), "CreateTrustedIssuer %s", tc.name)
		dup := f.newTrustedIssuer("https://idp.example", tc.subject, tc.keyID)
		f.wantErr(f.s.CreateTrustedIssuer(f.ctx, dup), store.ErrConflict, "CreateTrustedIssuer duplicate (%s)", tc.name)
	}
	// Any one part differing makes another relationship.
	for _, ti := range []store.TrustedIssuer{
		f.newTrustedIssuer("https://other.example", "alice", "k1"),
		f.newTrustedIssuer("https://idp.example", "bob", "k1"),
		f.newTrustedIssuer("https://idp.example", "alice", "k2"),
	} {
		f.wantErr(f.s.CreateTrustedIssuer(f.ctx, ti), nil, "CreateTrustedIssuer %s/%s/%s", ti.Issuer, ti.Subject, ti.KeyID)
	}
	taken := f.newTrustedIssuer("https://third.example", "carol", "k9")
	f.must(f.s.CreateTrustedIssuer(f.ctx, taken), "CreateTrustedIssuer")
	sameID := f.newTrustedIssuer("https://fourth.example", "dave", "k9")
	sameID.ID = taken.ID
	f.wantErr(f.s.CreateTrustedIssuer(f.ctx, sameID), store.ErrConflict, "CreateTrustedIssuer with a taken id")

	list, err := f.s.ListTrustedIssuers(f.ctx)
	f.must(err, "ListTrustedIssuers")
	if len(list) != 6 {
		f.t.Errorf("ListTrustedIssuers returned %d relationships, want 6", len(list))
	}
}

func testIssuersFind(f *fixture) {
	const iss = "https://idp.example"
	mk := func(issuer, subject, keyID string, expiresIn time.Duration) store.TrustedIssuer {
		ti := f.newTrustedIssuer(issuer, subject, keyID)
		ti.ExpiresAt = f.at(expiresIn)
		f.must(f.s.CreateTrustedIssuer(f.ctx, ti), "CreateTrustedIssuer")
		return ti
	}
	aliceK1 := mk(iss, "alice", "k1", 24*time.Hour)
	anyK2 := mk(iss, "", "k2", 48*time.Hour)
	bobK1 := mk(iss, "bob", "k1", 24*time.Hour)
	aliceK3 := mk(iss, "alice", "k3", time.Hour) // expires first
	otherIss := mk("https://other.example", "alice", "k1", 24*time.Hour)

	cases := []struct {
		name, issuer, subject, keyID string
		at                           time.Duration
		want                         []store.TrustedIssuer
	}{
		{"subject, all keys", iss, "alice", "", 0, []store.TrustedIssuer{aliceK1, anyK2, aliceK3}},
		{"subject and key", iss, "alice", "k1", 0, []store.TrustedIssuer{aliceK1}},
		{"key of the any-subject entry", iss, "alice", "k2", 0, []store.TrustedIssuer{anyK2}},
		{"subject known only through any-subject", iss, "carol", "", 0, []store.TrustedIssuer{anyK2}},
		{"other subject", iss, "bob", "", 0, []store.TrustedIssuer{bobK1, anyK2}},
		{"unknown key", iss, "alice", "k9", 0, nil},
		{"other issuer", "https://other.example", "alice", "", 0, []store.TrustedIssuer{otherIss}},
		{"unknown issuer", "https://nobody.example", "alice", "", 0, nil},
		{"expired excluded", iss, "alice", "", 2 * time.Hour, []store.TrustedIssuer{aliceK1, anyK2}},
		{"all expired", iss, "alice", "", 100 * time.Hour, nil},
	}
	for _, tc := range cases {
		got, err := f.s.FindTrustedIssuerKeys(f.ctx, tc.issuer, tc.subject, tc.keyID, f.at(tc.at))
		if err != nil {
			f.t.Errorf("FindTrustedIssuerKeys %s: %v", tc.name, err)
			continue
		}
		f.equal("FindTrustedIssuerKeys "+tc.name, sortedIssuerIDs(got), sortedIssuerIDs(tc.want))
		byID := map[string]store.TrustedIssuer{}
		for _, w := range tc.want {
			byID[w.ID] = w
		}
		for _, g := range got {
			if w, ok := byID[g.ID]; ok {
				f.equal("found trusted issuer", g, w)
			}
		}
	}
}
