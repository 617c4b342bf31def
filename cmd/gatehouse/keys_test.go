package main

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/store"
)

func TestKeysRotateAndList(t *testing.T) {
	e, _ := newDBEnv(t)

	var empty []keys.Info
	r := e.ok(&empty, "keys", "list")
	if len(empty) != 0 || r.stdout != "[]\n" {
		t.Fatalf("keys list on a new database = %q, want []", r.stdout)
	}

	// On a new database, rotate first creates the active and next keys of
	// each algorithm (RS256 and ES256, live side by side), then rotates
	// them: one retired, one active, one next of each.
	var rotated []keys.Info
	e.ok(&rotated, "keys", "rotate")
	if n := len(ofAlg(rotated, "RS256")) + len(ofAlg(rotated, "ES256")); n != len(rotated) {
		t.Fatalf("rotate printed keys of other algorithms than RS256 and ES256: %+v", rotated)
	}
	byState(t, ofAlg(rotated, "ES256"), map[store.KeyState]int{store.KeyRetired: 1, store.KeyActive: 1, store.KeyNext: 1})
	first := byState(t, ofAlg(rotated, "RS256"), map[store.KeyState]int{store.KeyRetired: 1, store.KeyActive: 1, store.KeyNext: 1})
	// The retired key verifies tokens for the longest token lifetime (60m
	// by default) and a little more, not forever.
	until := first[store.KeyRetired][0].VerifyUntil
	if left := time.Until(*until); left < 59*time.Minute || left > 3*time.Hour {
		t.Fatalf("retired key verify_until = %v, want about an hour from now", until)
	}

	var listed []keys.Info
	e.ok(&listed, "keys", "list")
	if !reflect.DeepEqual(sortedIDs(listed), sortedIDs(rotated)) {
		t.Fatalf("keys list %v differs from what rotate printed %v", sortedIDs(listed), sortedIDs(rotated))
	}

	// A second rotation promotes the previous next key and keeps the
	// first retired key published.
	var again []keys.Info
	e.ok(&again, "keys", "rotate")
	byState(t, ofAlg(again, "ES256"), map[store.KeyState]int{store.KeyRetired: 2, store.KeyActive: 1, store.KeyNext: 1})
	second := byState(t, ofAlg(again, "RS256"), map[store.KeyState]int{store.KeyRetired: 2, store.KeyActive: 1, store.KeyNext: 1})
	if got, want := second[store.KeyActive][0].ID, first[store.KeyNext][0].ID; got != want {
		t.Fatalf("active key after the second rotation is %s, want the former next key %s", got, want)
	}
	retired := sortedIDs(second[store.KeyRetired])
	want := sortedIDs([]keys.Info{first[store.KeyRetired][0], first[store.KeyActive][0]})
	if !reflect.DeepEqual(retired, want) {
		t.Fatalf("retired keys %v, want %v", retired, want)
	}
}

func TestKeysUseConfiguredAlgorithm(t *testing.T) {
	e, _ := newDBEnv(t)
	e.vars["GATEHOUSE_SIGNING_ALGORITHM"] = "ES256"
	var rotated []keys.Info
	e.ok(&rotated, "keys", "rotate")
	// ES256 as the default still keeps RS256 live, for the clients that
	// register it.
	for _, alg := range []string{"ES256", "RS256"} {
		byState(t, ofAlg(rotated, alg), map[store.KeyState]int{store.KeyRetired: 1, store.KeyActive: 1, store.KeyNext: 1})
	}
	if len(rotated) != 6 {
		t.Fatalf("rotate printed %d keys, want 6", len(rotated))
	}
	e.vars["GATEHOUSE_SIGNING_ALGORITHM"] = "HS256"
	e.fails([]string{"signing_algorithm"}, "keys", "rotate")
}

// byState groups keys by state, checking how many of each there are and
// that exactly the retired ones carry verify_until.
func byState(t *testing.T, list []keys.Info, want map[store.KeyState]int) map[store.KeyState][]keys.Info {
	t.Helper()
	got := map[store.KeyState][]keys.Info{}
	counts := map[store.KeyState]int{}
	for _, k := range list {
		got[k.State] = append(got[k.State], k)
		counts[k.State]++
		if k.ID == "" || k.CreatedAt.IsZero() {
			t.Errorf("key without id or creation time: %+v", k)
		}
		if (k.State == store.KeyRetired) != (k.VerifyUntil != nil) {
			t.Errorf("key %s in state %s has verify_until %v", k.ID, k.State, k.VerifyUntil)
		}
	}
	if !reflect.DeepEqual(counts, want) {
		t.Fatalf("keys by state %v, want %v", counts, want)
	}
	return got
}

func sortedIDs(list []keys.Info) []string {
	ids := make([]string, 0, len(list))
	for _, k := range list {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	return ids
}

// ofAlg returns the keys of alg.
func ofAlg(list []keys.Info, alg string) []keys.Info {
	var out []keys.Info
	for _, k := range list {
		if k.Algorithm == alg {
			out = append(out, k)
		}
	}
	return out
}
