package config_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// The file holds the tokens themselves (a mounted secret); the server
// keeps only their digests, with the configured ones.
func TestInitialAccessTokenDigests(t *testing.T) {
	path := writeFile(t, "iat", "# registration tokens\nfirst-token\n\n  second-token  \n")
	listed := sha256.Sum256([]byte("listed"))
	r := config.ClientRegistration{InitialAccessTokens: []string{hex.EncodeToString(listed[:])}, InitialAccessTokensFile: path}
	got, err := r.InitialAccessTokenDigests()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{listed[:]}
	for _, tok := range []string{"first-token", "second-token"} {
		d := sha256.Sum256([]byte(tok))
		want = append(want, d[:])
	}
	if len(got) != len(want) {
		t.Fatalf("got %d digests, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("digest %d = %x, want %x", i, got[i], want[i])
		}
	}
	if _, err := (config.ClientRegistration{InitialAccessTokens: []string{"first-token"}}).InitialAccessTokenDigests(); err == nil {
		t.Error("a token where a digest belongs was accepted")
	} else if bytes.Contains([]byte(err.Error()), []byte("first-token")) {
		t.Errorf("error %q repeats the secret", err)
	}
}
