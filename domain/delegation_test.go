package domain_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestDelegatedTokenNeverExceedsItsMaker: a token made by one person for
// another acts with at most both people's permissions as they stand now,
// every action with it is audited with both, the person checks apply to
// the maker too, and the maker's fall takes the token with it.
func TestDelegatedTokenNeverExceedsItsMaker(t *testing.T) {
	e := newTokenEnv(t)
	reviewer := e.user("rita", "manager") // as powerful as maggie, no more

	_, secret, err := e.svc.IssueAPIToken(e.ctx, e.principal(e.mgr), domain.NewAPIToken{Name: "for rita", Kind: store.TokenUser, UserID: reviewer.ID})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.AuthenticateAPIToken(e.ctx, secret, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if p.Actor.ID != reviewer.ID || p.Actor.Act != "user:"+e.mgr.ID || p.Issuer == nil || p.Issuer.User.ID != e.mgr.ID {
		t.Fatalf("principal actor %+v issuer %v, want rita acting through maggie's token", p.Actor, p.Issuer)
	}

	// Every action is audited with both identities.
	mark := e.lastID()
	if _, err := e.svc.UpdateUser(e.ctx, p, reviewer.ID, domain.UserPatch{FullName: ptr("Rita R.")}); err != nil {
		t.Fatal(err)
	}
	got := e.since(mark)
	if len(got) != 1 || got[0].ActorID != reviewer.ID || got[0].Act != "user:"+e.mgr.ID {
		t.Fatalf("audit %+v, want rita's update with act user:%s", got, e.mgr.ID)
	}

	// "Not your own request" holds for the maker: maggie cannot approve her
	// own request through the token she made for rita.
	if _, err := e.svc.SetUserRoles(e.ctx, domain.Operator(admin), e.mgr.ID, []string{"viewer"}); err != nil {
		t.Fatal(err)
	}
	req, err := e.svc.SubmitAccessRequest(e.ctx, domain.Actor{Type: store.ActorUser, ID: e.mgr.ID}, e.mgr.ID, "user", "need it back")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetUserRoles(e.ctx, domain.Operator(admin), e.mgr.ID, []string{"manager"}); err != nil {
		t.Fatal(err)
	}
	p, err = e.svc.AuthenticateAPIToken(e.ctx, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.ApproveAccessRequest(e.ctx, p, req.ID, "", "")
	wantErr(t, err, domain.ErrForbidden)

	// A personal token made through it is recorded as maggie's making, so
	// it cannot shed her limits either.
	_, personal, err := e.svc.IssueAPIToken(e.ctx, p, domain.NewAPIToken{Name: "mine", Kind: store.TokenPersonal})
	if err != nil {
		t.Fatal(err)
	}

	// The maker loses permissions: so does the token, at once.
	if _, err := e.svc.SetUserRoles(e.ctx, domain.Operator(admin), e.mgr.ID, []string{"viewer"}); err != nil {
		t.Fatal(err)
	}
	p, err = e.svc.AuthenticateAPIToken(e.ctx, secret, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Can(store.PermAccessRequestsReview) || p.Can(store.PermUsersStatus) {
		t.Errorf("the token kept permissions its maker lost: %v", p.Permissions)
	}
	pp, err := e.svc.AuthenticateAPIToken(e.ctx, personal, "")
	if err != nil {
		t.Fatal(err)
	}
	if pp.Actor.Act != "user:"+e.mgr.ID || pp.Can(store.PermUsersStatus) {
		t.Errorf("personal token via a delegated one: act %q permissions %v, want maggie's limits", pp.Actor.Act, pp.Permissions)
	}

	// The maker disabled: the token dies.
	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), e.mgr.ID, store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.AuthenticateAPIToken(e.ctx, secret, "")
	wantErr(t, err, domain.ErrUnauthenticated)
}
