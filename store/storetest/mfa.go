package storetest

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var mfaTests = []subtest{
	{"FactorCreateGetList", testMFAFactorCreateGetList},
	{"FactorConfirm", testMFAFactorConfirm},
	{"AdvanceStep", testMFAAdvanceStep},
	{"AdvanceStepConcurrently", testMFAAdvanceStepConcurrently},
	{"FactorDelete", testMFAFactorDelete},
	{"RecoveryCodes", testMFARecoveryCodes},
	{"Challenges", testMFAChallenges},
	{"ChallengesDeleteExpired", testMFAChallengesDeleteExpired},
	{"DeleteUserCascades", testMFADeleteUserCascades},
}

func (f *fixture) newFactor(userID string, d time.Duration) store.MFAFactor {
	return store.MFAFactor{
		ID:        uuid.NewString(),
		UserID:    userID,
		Kind:      store.FactorTOTP,
		SecretEnc: []byte{1, 2, 3, 0, 255},
		CreatedAt: f.at(d),
	}
}

func testMFAFactorCreateGetList(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	second := f.newFactor(u.ID, time.Minute)
	first := f.newFactor(u.ID, 0)
	f.must(f.s.CreateMFAFactor(f.ctx, second), "CreateMFAFactor")
	f.must(f.s.CreateMFAFactor(f.ctx, first), "CreateMFAFactor")
	f.must(f.s.CreateMFAFactor(f.ctx, f.newFactor(other.ID, 0)), "CreateMFAFactor of another user")

	got, err := f.s.GetMFAFactor(f.ctx, first.ID)
	f.must(err, "GetMFAFactor")
	f.equal("factor", got, first)
	if got.Active() {
		f.t.Error("a new factor is active")
	}

	list, err := f.s.ListMFAFactors(f.ctx, u.ID)
	f.must(err, "ListMFAFactors")
	f.equal("factors oldest first", list, []store.MFAFactor{first, second})
	list, err = f.s.ListMFAFactors(f.ctx, uuid.NewString())
	f.must(err, "ListMFAFactors of nobody")
	if list == nil || len(list) != 0 {
		f.t.Errorf("factors of nobody = %v, want []", list)
	}

	dup := f.newFactor(u.ID, 0)
	dup.ID = first.ID
	f.wantErr(f.s.CreateMFAFactor(f.ctx, dup), store.ErrConflict, "CreateMFAFactor with a taken id")
	f.wantErr(f.s.CreateMFAFactor(f.ctx, f.newFactor(uuid.NewString(), 0)), store.ErrNotFound,
		"CreateMFAFactor for an unknown user")
	_, err = f.s.GetMFAFactor(f.ctx, uuid.NewString())
	f.wantErr(err, store.ErrNotFound, "GetMFAFactor unknown")
	_, err = f.s.GetMFAFactor(f.ctx, "not-a-uuid")
	f.wantErr(err, store.ErrNotFound, "GetMFAFactor with an id that is no UUID")
}

func testMFAFactorConfirm(f *fixture) {
	u := f.createUser()
	fc := f.newFactor(u.ID, 0)
	f.must(f.s.CreateMFAFactor(f.ctx, fc), "CreateMFAFactor")
	at := f.at(time.Second)
	f.must(f.s.ConfirmMFAFactor(f.ctx, fc.ID, at, 1234), "ConfirmMFAFactor")
	got, err := f.s.GetMFAFactor(f.ctx, fc.ID)
	f.must(err, "GetMFAFactor")
	fc.ConfirmedAt, fc.LastStep = &at, 1234
	f.equal("confirmed factor", got, fc)
	if !got.Active() {
		f.t.Error("a confirmed factor is not active")
	}
	f.wantErr(f.s.ConfirmMFAFactor(f.ctx, fc.ID, at, 1235), store.ErrNotFound, "ConfirmMFAFactor twice")
	f.wantErr(f.s.ConfirmMFAFactor(f.ctx, uuid.NewString(), at, 1), store.ErrNotFound, "ConfirmMFAFactor unknown")
}

func testMFAAdvanceStep(f *fixture) {
	u := f.createUser()
	fc := f.newFactor(u.ID, 0)
	f.must(f.s.CreateMFAFactor(f.ctx, fc), "CreateMFAFactor")
	f.must(f.s.AdvanceMFAStep(f.ctx, fc.ID, 100), "AdvanceMFAStep to 100")
	f.wantErr(f.s.AdvanceMFAStep(f.ctx, fc.ID, 100), store.ErrConflict, "AdvanceMFAStep to the same step")
	f.wantErr(f.s.AdvanceMFAStep(f.ctx, fc.ID, 99), store.ErrConflict, "AdvanceMFAStep backwards")
	f.must(f.s.AdvanceMFAStep(f.ctx, fc.ID, 101), "AdvanceMFAStep to 101")
	got, err := f.s.GetMFAFactor(f.ctx, fc.ID)
	f.must(err, "GetMFAFactor")
	f.equal("last step", got.LastStep, int64(101))
	f.wantErr(f.s.AdvanceMFAStep(f.ctx, uuid.NewString(), 5), store.ErrNotFound, "AdvanceMFAStep unknown")
}

// testMFAAdvanceStepConcurrently: of sign-ins racing with one code, one
// wins; the rest see ErrConflict.
func testMFAAdvanceStepConcurrently(f *fixture) {
	u := f.createUser()
	fc := f.newFactor(u.ID, 0)
	f.must(f.s.CreateMFAFactor(f.ctx, fc), "CreateMFAFactor")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f.s.AdvanceMFAStep(f.ctx, fc.ID, 7) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		default:
			f.wantErr(err, store.ErrConflict, "a losing AdvanceMFAStep")
		}
	}
	f.equal("winners", won, 1)
}

func testMFAFactorDelete(f *fixture) {
	u := f.createUser()
	a, b := f.newFactor(u.ID, 0), f.newFactor(u.ID, time.Second)
	f.must(f.s.CreateMFAFactor(f.ctx, a), "CreateMFAFactor")
	f.must(f.s.CreateMFAFactor(f.ctx, b), "CreateMFAFactor")
	f.must(f.s.DeleteMFAFactor(f.ctx, a.ID), "DeleteMFAFactor")
	f.wantErr(f.s.DeleteMFAFactor(f.ctx, a.ID), store.ErrNotFound, "DeleteMFAFactor twice")
	f.must(f.s.CreateMFAFactor(f.ctx, f.newFactor(u.ID, 2*time.Second)), "CreateMFAFactor")
	n, err := f.s.DeleteMFAFactors(f.ctx, u.ID)
	f.must(err, "DeleteMFAFactors")
	f.equal("deleted factors", n, 2)
	list, err := f.s.ListMFAFactors(f.ctx, u.ID)
	f.must(err, "ListMFAFactors")
	f.equal("factors left", len(list), 0)
	n, err = f.s.DeleteMFAFactors(f.ctx, u.ID)
	f.must(err, "DeleteMFAFactors again")
	f.equal("deleted factors again", n, 0)
}

func testMFARecoveryCodes(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	f.must(f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"d1", "d2", "d3"}, f.now), "ReplaceRecoveryCodes")
	f.must(f.s.ReplaceRecoveryCodes(f.ctx, other.ID, []string{"d1"}, f.now), "ReplaceRecoveryCodes of another user")
	n, err := f.s.CountRecoveryCodes(f.ctx, u.ID)
	f.must(err, "CountRecoveryCodes")
	f.equal("codes", n, 3)

	f.must(f.s.UseRecoveryCode(f.ctx, u.ID, "d2", f.now), "UseRecoveryCode")
	f.wantErr(f.s.UseRecoveryCode(f.ctx, u.ID, "d2", f.now), store.ErrNotFound, "UseRecoveryCode twice")
	f.wantErr(f.s.UseRecoveryCode(f.ctx, u.ID, "nope", f.now), store.ErrNotFound, "UseRecoveryCode unknown")
	f.wantErr(f.s.UseRecoveryCode(f.ctx, other.ID, "d2", f.now), store.ErrNotFound, "UseRecoveryCode of another user's digest")
	n, err = f.s.CountRecoveryCodes(f.ctx, u.ID)
	f.must(err, "CountRecoveryCodes")
	f.equal("codes after one use", n, 2)
	// The other user's code of the same digest is untouched.
	f.must(f.s.UseRecoveryCode(f.ctx, other.ID, "d1", f.now), "UseRecoveryCode of the other user")

	f.must(f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"e1", "e2"}, f.now), "ReplaceRecoveryCodes again")
	f.wantErr(f.s.UseRecoveryCode(f.ctx, u.ID, "d1", f.now), store.ErrNotFound, "UseRecoveryCode of a replaced code")
	n, err = f.s.CountRecoveryCodes(f.ctx, u.ID)
	f.must(err, "CountRecoveryCodes")
	f.equal("codes after replacing", n, 2)

	f.wantErr(f.s.ReplaceRecoveryCodes(f.ctx, uuid.NewString(), []string{"x"}, f.now), store.ErrNotFound,
		"ReplaceRecoveryCodes for an unknown user")
	f.wantErr(f.s.ReplaceRecoveryCodes(f.ctx, uuid.NewString(), nil, f.now), store.ErrNotFound,
		"ReplaceRecoveryCodes with none for an unknown user")
	n, err = f.s.DeleteRecoveryCodes(f.ctx, u.ID)
	f.must(err, "DeleteRecoveryCodes")
	f.equal("deleted codes", n, 2)
	n, err = f.s.CountRecoveryCodes(f.ctx, u.ID)
	f.must(err, "CountRecoveryCodes")
	f.equal("codes after delete", n, 0)
}

func (f *fixture) newChallenge(userID string) store.MFAChallenge {
	return store.MFAChallenge{
		ID:        uniqueID("challenge"),
		UserID:    userID,
		ReturnTo:  "/oauth2/auth?client_id=app&state=x%20y",
		AMR:       []string{"pwd"},
		CreatedAt: f.now,
		ExpiresAt: f.at(5 * time.Minute),
	}
}

func testMFAChallenges(f *fixture) {
	u := f.createUser()
	c := f.newChallenge(u.ID)
	c.Enrol = true
	f.must(f.s.CreateMFAChallenge(f.ctx, c), "CreateMFAChallenge")
	got, err := f.s.GetMFAChallenge(f.ctx, c.ID, f.now)
	f.must(err, "GetMFAChallenge")
	f.equal("challenge", got, c)

	bare := f.newChallenge(u.ID)
	bare.AMR, bare.ReturnTo = nil, ""
	f.must(f.s.CreateMFAChallenge(f.ctx, bare), "CreateMFAChallenge without amr")
	got, err = f.s.GetMFAChallenge(f.ctx, bare.ID, f.now)
	f.must(err, "GetMFAChallenge")
	f.equal("bare challenge", got, bare)

	dup := f.newChallenge(u.ID)
	dup.ID = c.ID
	f.wantErr(f.s.CreateMFAChallenge(f.ctx, dup), store.ErrConflict, "CreateMFAChallenge with a taken id")
	f.wantErr(f.s.CreateMFAChallenge(f.ctx, f.newChallenge(uuid.NewString())), store.ErrNotFound,
		"CreateMFAChallenge for an unknown user")

	for want := 1; want <= 3; want++ {
		n, err := f.s.CountMFAChallengeFailure(f.ctx, c.ID)
		f.must(err, "CountMFAChallengeFailure")
		f.equal("attempts", n, want)
	}
	got, err = f.s.GetMFAChallenge(f.ctx, c.ID, f.now)
	f.must(err, "GetMFAChallenge")
	f.equal("attempts stored", got.Attempts, 3)
	_, err = f.s.CountMFAChallengeFailure(f.ctx, "no-such-challenge")
	f.wantErr(err, store.ErrNotFound, "CountMFAChallengeFailure unknown")

	_, err = f.s.GetMFAChallenge(f.ctx, c.ID, c.ExpiresAt.Add(time.Second))
	f.wantErr(err, store.ErrNotFound, "GetMFAChallenge after expiry")
	f.must(f.s.DeleteMFAChallenge(f.ctx, c.ID), "DeleteMFAChallenge")
	f.wantErr(f.s.DeleteMFAChallenge(f.ctx, c.ID), store.ErrNotFound, "DeleteMFAChallenge twice")
	_, err = f.s.GetMFAChallenge(f.ctx, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetMFAChallenge after delete")
}

func testMFAChallengesDeleteExpired(f *fixture) {
	u := f.createUser()
	var expired []store.MFAChallenge
	for range 3 {
		c := f.newChallenge(u.ID)
		c.ExpiresAt = f.at(-time.Minute)
		f.must(f.s.CreateMFAChallenge(f.ctx, c), "CreateMFAChallenge expired")
		expired = append(expired, c)
	}
	live := f.newChallenge(u.ID)
	f.must(f.s.CreateMFAChallenge(f.ctx, live), "CreateMFAChallenge live")
	n, err := f.s.DeleteExpiredMFAChallenges(f.ctx, f.now, 2)
	f.must(err, "DeleteExpiredMFAChallenges")
	f.equal("deleted with limit 2", n, 2)
	n, err = f.s.DeleteExpiredMFAChallenges(f.ctx, f.now, 10)
	f.must(err, "DeleteExpiredMFAChallenges")
	f.equal("deleted the rest", n, 1)
	for _, c := range expired {
		f.wantErr(f.s.DeleteMFAChallenge(f.ctx, c.ID), store.ErrNotFound, "DeleteMFAChallenge of a swept challenge")
	}
	_, err = f.s.GetMFAChallenge(f.ctx, live.ID, f.now)
	f.must(err, "GetMFAChallenge of the live challenge")
}

func testMFADeleteUserCascades(f *fixture) {
	u := f.createUser()
	fc := f.newFactor(u.ID, 0)
	f.must(f.s.CreateMFAFactor(f.ctx, fc), "CreateMFAFactor")
	f.must(f.s.ReplaceRecoveryCodes(f.ctx, u.ID, []string{"d1"}, f.now), "ReplaceRecoveryCodes")
	c := f.newChallenge(u.ID)
	f.must(f.s.CreateMFAChallenge(f.ctx, c), "CreateMFAChallenge")
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, err := f.s.GetMFAFactor(f.ctx, fc.ID)
	f.wantErr(err, store.ErrNotFound, "GetMFAFactor of a deleted user")
	n, err := f.s.CountRecoveryCodes(f.ctx, u.ID)
	f.must(err, "CountRecoveryCodes")
	f.equal("codes of a deleted user", n, 0)
	_, err = f.s.GetMFAChallenge(f.ctx, c.ID, f.now)
	f.wantErr(err, store.ErrNotFound, "GetMFAChallenge of a deleted user")
}
