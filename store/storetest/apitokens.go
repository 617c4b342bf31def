package storetest

import (
	"crypto/sha256"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var apiTokenTests = []subtest{
	{"CreateGet", testAPITokenCreateGet},
	{"CreateErrors", testAPITokenCreateErrors},
	{"KindAndOwner", testAPITokenKindOwner},
	{"List", testAPITokenList},
	{"RevokeAndTouch", testAPITokenRevokeTouch},
	{"Cascades", testAPITokenCascades},
}

func testAPITokenCreateGet(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	tokens := []store.APIToken{
		f.newAPIToken(store.TokenPersonal, u.ID, ""),
		f.newAPIToken(store.TokenUser, u.ID, ""),
		f.newAPIToken(store.TokenSystem, "", c.ID),
	}
	// Every optional field set on one of them.
	tokens[1].LastUsedAt = f.atPtr(-time.Minute)
	tokens[1].RevokedAt = f.atPtr(-time.Second)
	tokens[1].Scopes = nil
	for _, tok := range tokens {
		f.must(f.iam.CreateAPIToken(f.ctx, tok), "CreateAPIToken %s", tok.Kind)
		got, err := f.iam.GetAPIToken(f.ctx, tok.ID)
		f.must(err, "GetAPIToken %s", tok.Kind)
		f.equal("GetAPIToken "+string(tok.Kind), got, tok)
		got, err = f.iam.GetAPIToken(f.ctx, strings.ToUpper(tok.ID))
		f.must(err, "GetAPIToken %s by uppercase UUID", tok.Kind)
		f.equal("GetAPIToken "+string(tok.Kind)+" by uppercase UUID", got, tok)
		got, err = f.iam.GetAPITokenBySecretHash(f.ctx, tok.SecretHash)
		f.must(err, "GetAPITokenBySecretHash %s", tok.Kind)
		f.equal("GetAPITokenBySecretHash "+string(tok.Kind), got, tok)
	}
	// A personal token's user id may be given in capitals.
	tok := f.newAPIToken(store.TokenPersonal, strings.ToUpper(u.ID), "")
	f.must(f.iam.CreateAPIToken(f.ctx, tok), "CreateAPIToken with an uppercase user id")
	got, err := f.iam.GetAPIToken(f.ctx, tok.ID)
	f.must(err, "GetAPIToken")
	if got.UserID != u.ID {
		f.t.Errorf("UserID = %q, want %q", got.UserID, u.ID)
	}

	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		_, err := f.iam.GetAPIToken(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetAPIToken %q", id)
	}
	unknown := sha256.Sum256([]byte("gh_pat_unknown"))
	for _, hash := range [][]byte{unknown[:], tokens[0].SecretHash[:16], nil} {
		_, err := f.iam.GetAPITokenBySecretHash(f.ctx, hash)
		f.wantErr(err, store.ErrNotFound, "GetAPITokenBySecretHash %x", hash)
	}
}

func testAPITokenCreateErrors(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	tok := f.createAPIToken(store.TokenPersonal, u.ID, "")

	cases := []struct {
		name string
		make func() store.APIToken
		want error
	}{
		{"taken id", func() store.APIToken {
			v := f.newAPIToken(store.TokenUser, u.ID, "")
			v.ID = tok.ID
			return v
		}, store.ErrConflict},
		{"taken secret digest", func() store.APIToken {
			v := f.newAPIToken(store.TokenSystem, "", c.ID)
			v.SecretHash = tok.SecretHash
			return v
		}, store.ErrConflict},
		{"unknown user", func() store.APIToken { return f.newAPIToken(store.TokenPersonal, uuid.NewString(), "") }, store.ErrNotFound},
		{"user id that is no UUID", func() store.APIToken { return f.newAPIToken(store.TokenUser, "not-a-uuid", "") }, store.ErrNotFound},
		{"unknown client", func() store.APIToken { return f.newAPIToken(store.TokenSystem, "", "no-such-client") }, store.ErrNotFound},
	}
	for _, tc := range cases {
		v := tc.make()
		f.wantErr(f.iam.CreateAPIToken(f.ctx, v), tc.want, "CreateAPIToken with %s", tc.name)
		if v.ID != tok.ID {
			_, err := f.iam.GetAPIToken(f.ctx, v.ID)
			f.wantErr(err, store.ErrNotFound, "GetAPIToken of the refused token (%s)", tc.name)
		}
	}
	got, err := f.iam.GetAPITokenBySecretHash(f.ctx, tok.SecretHash)
	f.must(err, "GetAPITokenBySecretHash")
	f.equal("token after refused creations", got, tok)
	list, err := f.iam.ListAPITokens(f.ctx, "", "")
	f.must(err, "ListAPITokens")
	f.equal("tokens after refused creations", apiTokenIDs(list), []string{tok.ID})
}

// Personal and user tokens act as a user, system tokens as a client; a token
// names exactly its one principal. Which error refuses the others is not
// settled: only that they are refused and nothing is stored.
func testAPITokenKindOwner(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	cases := []struct {
		name             string
		kind             store.APITokenKind
		userID, clientID string
	}{
		{"personal token without a user", store.TokenPersonal, "", ""},
		{"personal token of a client", store.TokenPersonal, "", c.ID},
		{"personal token of a user and a client", store.TokenPersonal, u.ID, c.ID},
		{"user token without a user", store.TokenUser, "", ""},
		{"user token of a client", store.TokenUser, "", c.ID},
		{"user token of a user and a client", store.TokenUser, u.ID, c.ID},
		{"system token without a client", store.TokenSystem, "", ""},
		{"system token of a user", store.TokenSystem, u.ID, ""},
		{"system token of a client and a user", store.TokenSystem, u.ID, c.ID},
		{"unknown kind", "robot", u.ID, ""},
		{"no kind", "", u.ID, ""},
	}
	for _, tc := range cases {
		v := f.newAPIToken(tc.kind, tc.userID, tc.clientID)
		if err := f.iam.CreateAPIToken(f.ctx, v); err == nil {
			f.t.Errorf("CreateAPIToken of a %s succeeded, want an error", tc.name)
		}
		_, err := f.iam.GetAPIToken(f.ctx, v.ID)
		f.wantErr(err, store.ErrNotFound, "GetAPIToken of the refused %s", tc.name)
	}
}

// Newest first, ties on CreatedAt broken by ID descending; userID and
// clientID narrow the list.
func testAPITokenList(f *fixture) {
	a, b := f.createUser(), f.createUser()
	c, d := f.createClient(), f.createClient()
	mk := func(kind store.APITokenKind, userID, clientID string, age time.Duration) store.APIToken {
		t := f.newAPIToken(kind, userID, clientID)
		t.CreatedAt = f.at(-age)
		f.must(f.iam.CreateAPIToken(f.ctx, t), "CreateAPIToken")
		return t
	}
	a1 := mk(store.TokenPersonal, a.ID, "", 5*time.Hour)
	c1 := mk(store.TokenSystem, "", c.ID, 4*time.Hour)
	b1 := mk(store.TokenUser, b.ID, "", 3*time.Hour)
	a2 := mk(store.TokenUser, a.ID, "", 2*time.Hour)
	// Three at the same instant.
	tied := []store.APIToken{
		mk(store.TokenPersonal, a.ID, "", time.Hour),
		mk(store.TokenSystem, "", c.ID, time.Hour),
		mk(store.TokenPersonal, b.ID, "", time.Hour),
	}
	tiedIDs := sortedStrings(apiTokenIDs(tied))
	reverse(tiedIDs)

	byID := map[string]store.APIToken{a1.ID: a1, c1.ID: c1, b1.ID: b1, a2.ID: a2}
	for _, t := range tied {
		byID[t.ID] = t
	}
	pick := func(ids []string, keep func(store.APIToken) bool) []string {
		out := []string{}
		for _, id := range ids {
			if keep(byID[id]) {
				out = append(out, id)
			}
		}
		return out
	}
	all := append(append([]string{}, tiedIDs...), a2.ID, b1.ID, c1.ID, a1.ID)

	cases := []struct {
		name             string
		userID, clientID string
		want             []string
	}{
		{"all", "", "", all},
		{"user a", a.ID, "", pick(all, func(t store.APIToken) bool { return t.UserID == a.ID })},
		{"user b by uppercase UUID", strings.ToUpper(b.ID), "", pick(all, func(t store.APIToken) bool { return t.UserID == b.ID })},
		{"client c", "", c.ID, pick(all, func(t store.APIToken) bool { return t.ClientID == c.ID })},
		{"client without tokens", "", d.ID, nil},
		{"user without tokens", f.createUser().ID, "", nil},
		{"unknown user", uuid.NewString(), "", nil},
		{"user id that is no UUID", "not-a-uuid", "", nil},
		{"unknown client", "", "no-such-client", nil},
		{"a user and a client", a.ID, c.ID, nil},
	}
	for _, tc := range cases {
		got, err := f.iam.ListAPITokens(f.ctx, tc.userID, tc.clientID)
		if err != nil {
			f.t.Errorf("ListAPITokens %s: %v", tc.name, err)
			continue
		}
		want := tc.want
		if want == nil {
			want = []string{}
		}
		f.equal("ListAPITokens "+tc.name, apiTokenIDs(got), want)
	}
	// Listed tokens carry every field.
	got, err := f.iam.ListAPITokens(f.ctx, b.ID, "")
	f.must(err, "ListAPITokens")
	if len(got) == 2 {
		f.equal("listed token", got[1], b1)
	}
}

func testAPITokenRevokeTouch(f *fixture) {
	u := f.createUser()
	tok := f.createAPIToken(store.TokenPersonal, u.ID, "")
	other := f.createAPIToken(store.TokenUser, u.ID, "")

	used := f.at(time.Minute)
	f.must(f.iam.TouchAPIToken(f.ctx, tok.ID, used), "TouchAPIToken")
	want := tok
	want.LastUsedAt = &used
	got, err := f.iam.GetAPIToken(f.ctx, tok.ID)
	f.must(err, "GetAPIToken")
	f.equal("token after TouchAPIToken", got, want)

	revoked := f.at(2 * time.Minute)
	f.must(f.iam.RevokeAPIToken(f.ctx, strings.ToUpper(tok.ID), revoked), "RevokeAPIToken by uppercase UUID")
	want.RevokedAt = &revoked
	got, err = f.iam.GetAPIToken(f.ctx, tok.ID)
	f.must(err, "GetAPIToken")
	f.equal("token after RevokeAPIToken", got, want)
	// A revoked token is still found by its secret: the caller decides.
	got, err = f.iam.GetAPITokenBySecretHash(f.ctx, tok.SecretHash)
	f.must(err, "GetAPITokenBySecretHash of a revoked token")
	f.equal("revoked token by secret", got, want)

	f.wantErr(f.iam.RevokeAPIToken(f.ctx, tok.ID, f.at(time.Hour)), store.ErrNotFound, "RevokeAPIToken twice")
	got, err = f.iam.GetAPIToken(f.ctx, tok.ID)
	f.must(err, "GetAPIToken")
	f.equal("token after a second revocation", got, want)

	// Touching a revoked token is allowed: only absence is an error.
	used2 := f.at(3 * time.Minute)
	f.wantErr(f.iam.TouchAPIToken(f.ctx, strings.ToUpper(tok.ID), used2), nil, "TouchAPIToken of a revoked token by uppercase UUID")
	want.LastUsedAt = &used2
	got, err = f.iam.GetAPIToken(f.ctx, tok.ID)
	f.must(err, "GetAPIToken")
	f.equal("revoked token after TouchAPIToken", got, want)

	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		f.wantErr(f.iam.RevokeAPIToken(f.ctx, id, f.now), store.ErrNotFound, "RevokeAPIToken %q", id)
		f.wantErr(f.iam.TouchAPIToken(f.ctx, id, f.now), store.ErrNotFound, "TouchAPIToken %q", id)
	}

	// An expired token is still returned: the caller decides.
	expired := f.newAPIToken(store.TokenPersonal, u.ID, "")
	expired.ExpiresAt = f.at(-time.Minute)
	f.must(f.iam.CreateAPIToken(f.ctx, expired), "CreateAPIToken expired")
	got, err = f.iam.GetAPITokenBySecretHash(f.ctx, expired.SecretHash)
	f.must(err, "GetAPITokenBySecretHash of an expired token")
	f.equal("expired token by secret", got, expired)

	// The other token was left alone.
	got, err = f.iam.GetAPIToken(f.ctx, other.ID)
	f.must(err, "GetAPIToken other")
	f.equal("untouched token", got, other)
}

// A token goes with its principal: deleting the user removes its personal
// and user tokens, deleting the client its system tokens. The digests are
// free again afterwards.
func testAPITokenCascades(f *fixture) {
	u, keep := f.createUser(), f.createUser()
	c, keepClient := f.createClient(), f.createClient()
	personal := f.createAPIToken(store.TokenPersonal, u.ID, "")
	forUser := f.createAPIToken(store.TokenUser, u.ID, "")
	system := f.createAPIToken(store.TokenSystem, "", c.ID)
	kept := []store.APIToken{
		f.createAPIToken(store.TokenPersonal, keep.ID, ""),
		f.createAPIToken(store.TokenSystem, "", keepClient.ID),
	}

	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	f.must(f.s.DeleteClient(f.ctx, c.ID), "DeleteClient")
	for _, tok := range []store.APIToken{personal, forUser, system} {
		_, err := f.iam.GetAPIToken(f.ctx, tok.ID)
		f.wantErr(err, store.ErrNotFound, "GetAPIToken %s token of a deleted principal", tok.Kind)
		_, err = f.iam.GetAPITokenBySecretHash(f.ctx, tok.SecretHash)
		f.wantErr(err, store.ErrNotFound, "GetAPITokenBySecretHash %s token of a deleted principal", tok.Kind)
	}
	list, err := f.iam.ListAPITokens(f.ctx, "", "")
	f.must(err, "ListAPITokens")
	f.equal("tokens left", sortedStrings(apiTokenIDs(list)), sortedStrings(apiTokenIDs(kept)))
	for _, tok := range kept {
		got, err := f.iam.GetAPIToken(f.ctx, tok.ID)
		f.must(err, "GetAPIToken of a kept token")
		f.equal("kept token", got, tok)
	}

	again := f.newAPIToken(store.TokenPersonal, keep.ID, "")
	again.SecretHash = personal.SecretHash
	f.wantErr(f.iam.CreateAPIToken(f.ctx, again), nil, "CreateAPIToken reusing a deleted token's digest")
}
