package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var dpopTests = []subtest{
	{"UseOnce", testDPoPProofUseOnce},
	{"ConcurrentUse", testDPoPProofConcurrentUse},
	{"DeleteExpired", testDPoPProofDeleteExpired},
	{"Digest", testDPoPProofDigest},
	{"WithToken", testDPoPProofWithToken},
	{"WithTokenConcurrent", testDPoPProofWithTokenConcurrent},
}

func proofDigest() []byte {
	d := sha256.Sum256([]byte(uniqueID("dpop-jti")))
	return d[:]
}

func testDPoPProofUseOnce(f *fixture) {
	h := proofDigest()
	f.must(f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now), "UseDPoPProof")
	f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now), store.ErrConflict, "UseDPoPProof twice")
	f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(time.Hour), f.at(59*time.Second)), store.ErrConflict, "UseDPoPProof just before expiry")
	// Expired, the record is taken over with its new expiry.
	f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(3*time.Minute), f.at(time.Minute)), nil, "UseDPoPProof after expiry")
	f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(4*time.Minute), f.at(2*time.Minute)), store.ErrConflict, "UseDPoPProof before the new expiry")
	f.wantErr(f.s.UseDPoPProof(f.ctx, proofDigest(), f.at(time.Minute), f.now), nil, "UseDPoPProof of another proof")

	// A use inside a transaction that rolls back leaves nothing behind.
	h2 := proofDigest()
	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	f.must(f.s.UseDPoPProof(tx, h2, f.at(time.Minute), f.now), "UseDPoPProof in a transaction")
	f.must(f.s.Rollback(tx), "Rollback")
	f.wantErr(f.s.UseDPoPProof(f.ctx, h2, f.at(time.Minute), f.now), nil, "UseDPoPProof after a rolled-back use")
}

// testDPoPProofConcurrentUse: of many simultaneous uses of one proof
// (several instances on one database), exactly one succeeds.
func testDPoPProofConcurrentUse(f *fixture) {
	h := proofDigest()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now)
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			f.t.Errorf("use %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if ok != 1 {
		f.t.Errorf("%d of %d concurrent uses succeeded, want 1", ok, n)
	}
}

func testDPoPProofDeleteExpired(f *fixture) {
	var expired [][]byte
	for i := range 3 {
		h := proofDigest()
		f.must(f.s.UseDPoPProof(f.ctx, h, f.at(time.Duration(i+1)*time.Second), f.now), "UseDPoPProof")
		expired = append(expired, h)
	}
	live := proofDigest()
	f.must(f.s.UseDPoPProof(f.ctx, live, f.at(time.Hour), f.now), "UseDPoPProof")

	cleanup := f.at(time.Minute)
	n, err := f.s.DeleteExpiredDPoPProofs(f.ctx, cleanup, 0)
	f.must(err, "DeleteExpiredDPoPProofs limit 0")
	if n != 0 {
		f.t.Errorf("DeleteExpiredDPoPProofs limit 0 = %d, want 0", n)
	}
	for i, want := range []int{2, 1, 0} {
		n, err := f.s.DeleteExpiredDPoPProofs(f.ctx, cleanup, 2)
		f.must(err, "DeleteExpiredDPoPProofs round %d", i)
		if n != want {
			f.t.Errorf("DeleteExpiredDPoPProofs round %d = %d, want %d", i, n, want)
		}
	}
	// Deleted records are gone even for a caller looking back in time.
	for i, h := range expired {
		f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now), nil, "UseDPoPProof %d after cleanup", i)
	}
	f.wantErr(f.s.UseDPoPProof(f.ctx, live, f.at(time.Hour), cleanup), store.ErrConflict, "unexpired proof after cleanup")
}

// testDPoPProofDigest: the key is a 32-byte digest; anything else is a
// caller's bug, refused rather than stored.
func testDPoPProofDigest(f *fixture) {
	for _, h := range [][]byte{nil, []byte("short"), make([]byte, 33)} {
		err := f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now)
		if err == nil || errors.Is(err, store.ErrConflict) {
			f.t.Errorf("UseDPoPProof of a %d-byte digest = %v, want a failure other than conflict", len(h), err)
		}
	}
}

// clientToken is a client_credentials access token of a new client, whose
// grant is its own (as fositeStore writes one).
func (f *fixture) clientToken() store.Token {
	c := f.createClient()
	g := grant{requestID: uniqueID("req"), clientID: c.ID, subject: c.ID}
	return f.newToken(store.KindAccessToken, g)
}

// testDPoPProofWithToken: a token written with a proof records the proof
// in the same write; a second token with the same proof writes nothing,
// neither its grant nor its token, and is ErrDPoPProofUsed (an
// ErrConflict). The record is the one UseDPoPProof keeps.
func testDPoPProofWithToken(f *fixture) {
	use := store.DPoPProofUse{JTIHash: proofDigest(), ExpiresAt: f.at(time.Minute), Now: f.now}
	first := f.clientToken()
	first.DPoPProof = &use
	f.must(f.s.CreateToken(f.ctx, first), "CreateToken with a proof")
	got, err := f.s.GetToken(f.ctx, store.KindAccessToken, first.Signature)
	f.must(err, "GetToken")
	if got.DPoPProof != nil {
		f.t.Errorf("GetToken returned the proof's use %+v; it is write-only", got.DPoPProof)
	}
	f.wantErr(f.s.UseDPoPProof(f.ctx, use.JTIHash, f.at(time.Minute), f.now), store.ErrConflict, "UseDPoPProof of the proof a token recorded")

	second := f.clientToken()
	second.DPoPProof = &use
	err = f.s.CreateToken(f.ctx, second)
	f.wantErr(err, store.ErrDPoPProofUsed, "CreateToken with a used proof")
	f.wantErr(err, store.ErrConflict, "CreateToken with a used proof (as a conflict)")
	_, err = f.s.GetToken(f.ctx, store.KindAccessToken, second.Signature)
	f.wantErr(err, store.ErrNotFound, "GetToken of the refused token")
	_, err = f.s.GetGrant(f.ctx, second.RequestID)
	f.wantErr(err, store.ErrNotFound, "GetGrant of the refused token's grant")

	// A proof used through UseDPoPProof is refused to a token too; an
	// expired record is taken over.
	h := proofDigest()
	f.must(f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now), "UseDPoPProof")
	third := f.clientToken()
	third.DPoPProof = &store.DPoPProofUse{JTIHash: h, ExpiresAt: f.at(3 * time.Minute), Now: f.now}
	f.wantErr(f.s.CreateToken(f.ctx, third), store.ErrDPoPProofUsed, "CreateToken with a proof UseDPoPProof recorded")
	third.DPoPProof.Now = f.at(2 * time.Minute)
	f.wantErr(f.s.CreateToken(f.ctx, third), nil, "CreateToken once the record expired")

	// A token refused for another reason (its client is gone) leaves the
	// proof unrecorded.
	h = proofDigest()
	orphan := f.newToken(store.KindAccessToken, grant{requestID: uniqueID("req"), clientID: uniqueID("no-client"), subject: "x"})
	orphan.DPoPProof = &store.DPoPProofUse{JTIHash: h, ExpiresAt: f.at(time.Minute), Now: f.now}
	f.wantErr(f.s.CreateToken(f.ctx, orphan), store.ErrNotFound, "CreateToken for a missing client")
	f.wantErr(f.s.UseDPoPProof(f.ctx, h, f.at(time.Minute), f.now), nil, "UseDPoPProof of the proof a refused token carried")

	bad := f.clientToken()
	bad.DPoPProof = &store.DPoPProofUse{JTIHash: []byte("short"), ExpiresAt: f.at(time.Minute), Now: f.now}
	if err := f.s.CreateToken(f.ctx, bad); err == nil {
		f.t.Errorf("CreateToken with a 5-byte proof digest succeeded")
	}
}

// testDPoPProofWithTokenConcurrent: of simultaneous token writes carrying
// one proof (several instances), exactly one is stored.
func testDPoPProofWithTokenConcurrent(f *fixture) {
	use := store.DPoPProofUse{JTIHash: proofDigest(), ExpiresAt: f.at(time.Minute), Now: f.now}
	const n = 8
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = f.clientToken()
		toks[i].DPoPProof = &use
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error { return f.s.CreateToken(ctx, toks[i]) })
	if ok, used := f.countErrors("CreateToken with one proof", errs, store.ErrDPoPProofUsed); ok != 1 || used != n-1 {
		f.t.Errorf("%d writes succeeded and %d were refused as used, want 1 and %d", ok, used, n-1)
	}
}
