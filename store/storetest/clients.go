package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var clientTests = []subtest{
	{"CreateGet", testClientCreateGet},
	{"PublicClientEmptyFields", testClientEmptyFields},
	{"DuplicateID", testClientDuplicate},
	{"Update", testClientUpdate},
	{"NotFound", testClientNotFound},
	{"DeleteAndList", testClientDeleteList},
	{"NoAliasing", testClientNoAliasing},
	{"ForUpdate", testClientForUpdate},
}

// testClientForUpdate: GetClientForUpdate reads what GetClient does, and
// holds the client, so that concurrent read-modify-write updates each keep
// the others' changes.
func testClientForUpdate(f *fixture) {
	c := f.createClient()
	got, err := f.s.GetClientForUpdate(f.ctx, c.ID)
	f.must(err, "GetClientForUpdate")
	f.equal("client for update", got, c)
	_, err = f.s.GetClientForUpdate(f.ctx, "no-such-client")
	f.wantErr(err, store.ErrNotFound, "GetClientForUpdate of a missing client")

	const writers = 4
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			errs <- store.InTx(f.ctx, f.s, func(ctx context.Context) error {
				cur, err := f.s.GetClientForUpdate(ctx, c.ID)
				if err != nil {
					return err
				}
				cur.RedirectURIs = append(cur.RedirectURIs, fmt.Sprintf("https://writer-%d.example/cb", i))
				return f.s.UpdateClient(ctx, cur)
			})
		}()
	}
	for range writers {
		f.must(<-errs, "read-modify-write in a transaction")
	}
	got, err = f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	for i := range writers {
		if uri := fmt.Sprintf("https://writer-%d.example/cb", i); !slices.Contains(got.RedirectURIs, uri) {
			f.t.Errorf("redirect URIs %v lack %s: a concurrent update was lost", got.RedirectURIs, uri)
		}
	}
}

func testClientCreateGet(f *fixture) {
	c := f.createClient()
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("client", got, c)
}

// A public client leaves most optional fields empty; they must come back
// empty (not null lists, no JWKS, no secret).
func testClientEmptyFields(f *fixture) {
	c := store.Client{
		ID:                      uniqueID("spa"),
		Name:                    "SPA",
		TokenEndpointAuthMethod: "none",
		RedirectURIs:            []string{"https://spa.example/cb"},
		GrantTypes:              []string{"authorization_code"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid"},
		Public:                  true,
		CreatedAt:               f.now,
		UpdatedAt:               f.now,
	}
	f.must(f.s.CreateClient(f.ctx, c), "CreateClient")
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	// Nil lists come back as empty lists, an absent JWKS as nil.
	f.equal("public client", got, c)
	if got.Lifetimes != (store.Lifetimes{}) {
		f.t.Errorf("Lifetimes = %+v, want zero", got.Lifetimes)
	}
	if got.AccessTokenFormat != store.FormatDefault {
		f.t.Errorf("AccessTokenFormat = %q, want default", got.AccessTokenFormat)
	}
	if got.DPoPBoundAccessTokens {
		f.t.Errorf("DPoPBoundAccessTokens = true, want false")
	}
	if got.IDTokenSignedResponseAlg != "" {
		f.t.Errorf("IDTokenSignedResponseAlg = %q, want \"\" (the RS256 default)", got.IDTokenSignedResponseAlg)
	}
}

func testClientDuplicate(f *fixture) {
	c := f.createClient()
	other := f.newClient()
	other.ID = c.ID
	other.Name = "Impostor"
	f.wantErr(f.s.CreateClient(f.ctx, other), store.ErrConflict, "CreateClient with a taken id")
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("client after a refused duplicate", got, c)
}

func testClientUpdate(f *fixture) {
	c := f.createClient()
	u := store.Client{
		ID:                       c.ID,
		Name:                     "Renamed",
		SecretHash:               []byte{0xde, 0xad, 0xbe, 0xef},
		TokenEndpointAuthMethod:  "private_key_jwt",
		RedirectURIs:             []string{"https://new.example/cb"},
		PostLogoutRedirectURIs:   nil,
		AllowedOrigins:           []string{"https://new.example", "https://other.example:8443"},
		GrantTypes:               []string{"client_credentials"},
		ResponseTypes:            nil,
		Scopes:                   []string{"gatehouse:api"},
		Audience:                 nil,
		Public:                   false,
		FirstParty:               false,
		JWKS:                     json.RawMessage(`{"keys":[]}`),
		AccessTokenFormat:        store.FormatOpaque,
		IDTokenSignedResponseAlg: "RS256",
		Lifetimes:                store.Lifetimes{AccessToken: 90 * time.Second},
		Roles:                    []string{"admin"},
		// CreatedAt is not replaced: the store keeps the original.
		CreatedAt: f.at(-1000 * time.Hour),
		UpdatedAt: f.now,
	}
	f.must(f.s.UpdateClient(f.ctx, u), "UpdateClient")
	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	want := u
	want.CreatedAt = c.CreatedAt
	f.equal("updated client", got, want)
}

func testClientNotFound(f *fixture) {
	_, err := f.s.GetClient(f.ctx, "no-such-client")
	f.wantErr(err, store.ErrNotFound, "GetClient unknown")
	c := f.newClient()
	f.wantErr(f.s.UpdateClient(f.ctx, c), store.ErrNotFound, "UpdateClient unknown")
	f.wantErr(f.s.DeleteClient(f.ctx, c.ID), store.ErrNotFound, "DeleteClient unknown")
	if _, err := f.s.GetClient(f.ctx, c.ID); err == nil {
		f.t.Errorf("UpdateClient of an unknown client created it")
	}
}

func testClientDeleteList(f *fixture) {
	list, err := f.s.ListClients(f.ctx)
	f.must(err, "ListClients on an empty store")
	if len(list) != 0 {
		f.t.Fatalf("ListClients on an empty store returned %d clients", len(list))
	}
	ids := []string{"c-beta", "c-alpha", "c-gamma", "C-upper"}
	made := map[string]store.Client{}
	for _, id := range ids {
		c := f.newClient()
		c.ID = id
		f.must(f.s.CreateClient(f.ctx, c), "CreateClient %s", id)
		made[id] = c
	}
	list, err = f.s.ListClients(f.ctx)
	f.must(err, "ListClients")
	var gotIDs []string
	for _, c := range list {
		gotIDs = append(gotIDs, c.ID)
		f.equal("listed client "+c.ID, c, made[c.ID])
	}
	f.equal("ListClients order", gotIDs, []string{"C-upper", "c-alpha", "c-beta", "c-gamma"})

	f.must(f.s.DeleteClient(f.ctx, "c-alpha"), "DeleteClient")
	_, err = f.s.GetClient(f.ctx, "c-alpha")
	f.wantErr(err, store.ErrNotFound, "GetClient after delete")
	f.wantErr(f.s.DeleteClient(f.ctx, "c-alpha"), store.ErrNotFound, "DeleteClient twice")
	list, err = f.s.ListClients(f.ctx)
	f.must(err, "ListClients after delete")
	gotIDs = nil
	for _, c := range list {
		gotIDs = append(gotIDs, c.ID)
	}
	f.equal("ListClients after delete", gotIDs, []string{"C-upper", "c-beta", "c-gamma"})
}

// Records are values: changing what was passed in or handed out must not
// change what is stored (a backend keeping live slices would).
func testClientNoAliasing(f *fixture) {
	c := f.newClient()
	want := f.newClient()
	want.ID = c.ID
	f.must(f.s.CreateClient(f.ctx, c), "CreateClient")
	c.RedirectURIs[0] = "https://evil.example/cb"
	c.SecretHash[0] = 0x99
	c.JWKS[0] = ' '
	c.Roles[0] = "admin"

	got, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("client after changing the input", got, want)
	got.RedirectURIs[0] = "https://evil.example/cb"
	got.Scopes[0] = "everything"
	got.SecretHash[0] = 0x99
	again, err := f.s.GetClient(f.ctx, c.ID)
	f.must(err, "GetClient")
	f.equal("client after changing a copy read out", again, want)
}
