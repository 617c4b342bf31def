package storetest

import (
	"slices"
	"sync"

	"github.com/gatehouse/gatehouse/store"
)

// The writes that change what a user may do are announced to the store's
// TokenObservers (store.ChangeUser, store.ChangeGroup), as revocations of
// access tokens are: the resource API's principal cache drops what they
// name. A write that fails announces nothing.
var principalChangeTests = []subtest{
	{"UserAndGroupWritesAreObserved", testPrincipalChangesObserved},
}

// changeLog records what a TokenObserver is told.
type changeLog struct {
	mu     sync.Mutex
	events []store.ChangeEvent
}

func (l *changeLog) add(e store.ChangeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns what was recorded since the last take.
func (l *changeLog) take() []store.ChangeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

func testPrincipalChangesObserved(f *fixture) {
	o, ok := f.s.(store.TokenObserver)
	if !ok {
		f.t.Fatalf("%T does not implement store.TokenObserver", f.s)
	}
	log := &changeLog{}
	o.ObserveTokenChanges(log.add)
	u := f.createUser()
	g := f.createGroup("observed", "viewer")
	log.take() // creations need not be announced: nothing cached them

	want := func(what string, e store.ChangeEvent) {
		f.t.Helper()
		if got := log.take(); !slices.Contains(got, e) {
			f.t.Errorf("%s: observers were told %v, want %v among them", what, got, e)
		}
	}
	user := store.ChangeEvent{Kind: store.ChangeUser, ID: u.ID}
	group := store.ChangeEvent{Kind: store.ChangeGroup, ID: g.ID}

	locked := u
	locked.Status = store.StatusLocked
	f.must(f.s.UpdateUser(f.ctx, locked), "UpdateUser")
	want("UpdateUser", user)

	f.must(f.iam.AddGroupMember(f.ctx, g.ID, u.ID), "AddGroupMember")
	want("AddGroupMember", user)
	f.must(f.iam.RemoveGroupMember(f.ctx, g.ID, u.ID), "RemoveGroupMember")
	want("RemoveGroupMember", user)

	g.Roles = []string{"manager"}
	f.must(f.iam.UpdateGroup(f.ctx, g), "UpdateGroup")
	want("UpdateGroup", group)

	bulk := locked
	bulk.Status = store.StatusActive
	f.must(f.s.PutUsers(f.ctx, []store.BulkUser{{User: bulk}}), "PutUsers")
	if got := log.take(); !slices.Contains(got, user) && !slices.Contains(got, store.ChangeEvent{Kind: store.ChangeUser}) {
		f.t.Errorf("PutUsers: observers were told %v, want the user's change or every user's", got)
	}

	f.must(f.iam.DeleteGroup(f.ctx, g.ID), "DeleteGroup")
	want("DeleteGroup", group)

	// Failed writes announce nothing.
	missing := f.newUser()
	if err := f.s.UpdateUser(f.ctx, missing); err == nil {
		f.t.Fatal("UpdateUser of a user never created succeeded")
	}
	if err := f.iam.RemoveGroupMember(f.ctx, g.ID, u.ID); err == nil {
		f.t.Fatal("RemoveGroupMember of a deleted group succeeded")
	}
	if got := log.take(); len(got) != 0 {
		f.t.Errorf("failed writes told the observers %v", got)
	}
}
