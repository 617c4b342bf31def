package domain_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestSubmitAccessRequest(t *testing.T) {
	tests := []struct {
		name    string
		status  store.UserStatus
		roles   []string
		role    string
		purpose string
		field   string // want a ValidationError naming this field
		err     error  // or this error
	}{
		{"pending user asks for a role", store.StatusPending, nil, "user", "I trade", "", nil},
		{"active user asks for a further role", store.StatusActive, []string{"viewer"}, "user", "I need tokens", "", nil},
		{"purpose missing", store.StatusPending, nil, "user", "   ", "purpose", nil},
		{"purpose too long", store.StatusPending, nil, "user", strings.Repeat("p", 1001), "purpose", nil},
		{"role missing", store.StatusPending, nil, "", "I trade", "role", nil},
		{"role unknown", store.StatusPending, nil, "wizard", "I trade", "role", nil},
		{"admin cannot be asked for", store.StatusPending, nil, "admin", "I trade", "role", nil},
		{"role held through the hierarchy", store.StatusActive, []string{"manager"}, "viewer", "I trade", "role", nil},
		{"locked user", store.StatusLocked, []string{"viewer"}, "user", "I trade", "", domain.ErrForbidden},
		{"disabled user", store.StatusDisabled, []string{"viewer"}, "user", "I trade", "", domain.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			u, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "alice", Email: "alice@example.com",
				Password: goodPassword, Status: tc.status, Roles: tc.roles})
			if err != nil {
				t.Fatal(err)
			}
			self := domain.Actor{Type: store.ActorUser, ID: u.ID, IP: "203.0.113.9"}
			before := e.lastID()
			r, err := e.svc.SubmitAccessRequest(e.ctx, self, u.ID, tc.role, tc.purpose)
			switch {
			case tc.field != "":
				if f := fieldsOf(t, err); !slices.Equal(f, []string{tc.field}) {
					t.Fatalf("fields = %v, want [%s]", f, tc.field)
				}
			case tc.err != nil:
				wantErr(t, err, tc.err)
			default:
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != store.RequestPending || r.UserID != u.ID || r.RequestedRole != tc.role || r.Purpose != strings.TrimSpace(tc.purpose) {
					t.Fatalf("request = %+v", r)
				}
				entries := e.since(before)
				if len(entries) != 1 || entries[0].Action != "access_request.create" || entries[0].ActorID != u.ID ||
					entries[0].TargetID != r.ID || entries[0].IPAddress != "203.0.113.9" {
					t.Fatalf("entries = %+v", entries)
				}
				pending, err := e.svc.PendingAccessRequest(e.ctx, u.ID)
				if err != nil || pending == nil || pending.ID != r.ID {
					t.Fatalf("pending = %+v, %v", pending, err)
				}
				// One pending request at a time.
				_, err = e.svc.SubmitAccessRequest(e.ctx, self, u.ID, tc.role, "again")
				wantErr(t, err, store.ErrConflict)
				return
			}
			if len(e.since(before)) != 0 {
				t.Fatal("a refused request left an audit entry")
			}
		})
	}
}

// reviewEnv has a pending user with a request for "user", a manager and an
// admin.
type reviewEnv struct {
	*env
	pending, manager, admin store.User
	request                 store.AccessRequest
}

// newReviewEnv has mail on, so that decisions queue their notices (read
// with decisionMails).
func newReviewEnv(t *testing.T) *reviewEnv {
	return newReviewEnvWith(t, domain.RecoveryOptions{})
}

func newReviewEnvWith(t *testing.T, ro domain.RecoveryOptions) *reviewEnv {
	e := newMailEnv(t, ro)
	if _, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "trader", Parent: "user"}); err != nil {
		t.Fatal(err)
	}
	r := &reviewEnv{env: e, pending: e.user("penny"), manager: e.user("maggie", "manager"), admin: e.user("root", "admin")}
	req, err := e.svc.SubmitAccessRequest(e.ctx, domain.Actor{Type: store.ActorUser, ID: r.pending.ID}, r.pending.ID, "user", "Reporting")
	if err != nil {
		t.Fatal(err)
	}
	r.request = req
	e.mails() // the verification mails of the new addresses
	return r
}

// decisionMails takes the queued notices of decisions out of the outbox.
func (e *reviewEnv) decisionMails() []store.Mail {
	var out []store.Mail
	for _, m := range e.mails() {
		if strings.HasPrefix(m.Subject, "Your access request was ") {
			out = append(out, m)
		}
	}
	return out
}

func TestApproveAccessRequest(t *testing.T) {
	e := newReviewEnv(t)
	mgr := e.principal(e.manager)
	before := e.lastID()
	got, err := e.svc.ApproveAccessRequest(e.ctx, mgr, e.request.ID, "", "welcome")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.RequestApproved || got.GrantedRole != "user" || got.DecidedBy != "user:"+e.manager.ID ||
		got.Comment != "welcome" || got.DecidedAt == nil {
		t.Fatalf("request = %+v", got)
	}
	u, _ := e.svc.GetUser(e.ctx, e.pending.ID)
	if u.Status != store.StatusActive || !slices.Equal(u.Roles, []string{"user"}) {
		t.Fatalf("user after approval: status %q roles %v", u.Status, u.Roles)
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "access_request.approve" || entries[0].ActorID != e.manager.ID ||
		entries[0].TargetID != e.request.ID {
		t.Fatalf("entries = %+v", entries)
	}
	c := changesOf(t, entries[0])
	if c["status"]["after"] != "approved" || c["user_status"]["after"] != "active" || c["granted_role"]["after"] != "user" {
		t.Fatalf("changes = %s", entries[0].Changes)
	}
	ms := e.decisionMails()
	if len(ms) != 1 || ms[0].Recipient != e.pending.Email || ms[0].Subject != "Your access request was approved" ||
		!strings.Contains(ms[0].Body, "approved (role: user).") || !strings.Contains(ms[0].Body, "Comment from the reviewer:\nwelcome") ||
		!strings.Contains(ms[0].Body, "You can sign in now: https://id.example") {
		t.Fatalf("queued notices = %+v", ms)
	}
	if _, err := e.svc.Authenticate(e.ctx, "penny", goodPassword, ""); err != nil {
		t.Fatalf("sign-in after approval: %v", err)
	}

	// Decisions are final.
	before = e.lastID()
	_, err = e.svc.ApproveAccessRequest(e.ctx, mgr, e.request.ID, "", "")
	wantErr(t, err, store.ErrConflict)
	_, err = e.svc.DenyAccessRequest(e.ctx, mgr, e.request.ID, "changed my mind")
	wantErr(t, err, store.ErrConflict)
	if len(e.since(before)) != 0 || len(e.decisionMails()) != 0 {
		t.Fatal("a refused decision was recorded or notified")
	}
}

func TestApproveAccessRequestPermissions(t *testing.T) {
	tests := []struct {
		name     string
		approver func(e *reviewEnv) domain.Principal
		role     string
		err      error
		field    string
	}{
		{"viewer cannot review", func(e *reviewEnv) domain.Principal { return e.principal(e.user("vic", "viewer")) }, "", domain.ErrForbidden, ""},
		{"manager cannot grant admin", func(e *reviewEnv) domain.Principal { return e.principal(e.manager) }, "admin", domain.ErrForbidden, ""},
		{"manager cannot grant a role outside its own", func(e *reviewEnv) domain.Principal { return e.principal(e.manager) }, "trader", domain.ErrForbidden, ""},
		{"nobody approves its own request", func(e *reviewEnv) domain.Principal {
			p := e.principal(e.manager)
			p.User = &e.pending
			return p
		}, "", domain.ErrForbidden, ""},
		{"unknown role", func(e *reviewEnv) domain.Principal { return e.principal(e.admin) }, "wizard", nil, "role"},
		{"admin grants another role", func(e *reviewEnv) domain.Principal { return e.principal(e.admin) }, "trader", nil, ""},
		{"CLI grants admin", func(e *reviewEnv) domain.Principal {
			p := domain.Principal{Actor: domain.CLIActor(), Permissions: map[string]bool{}}
			for _, perm := range domain.KnownPermissions() {
				p.Permissions[perm] = true
			}
			return p
		}, "admin", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newReviewEnv(t)
			p := tc.approver(e)
			before := e.lastID()
			got, err := e.svc.ApproveAccessRequest(e.ctx, p, e.request.ID, tc.role, "")
			switch {
			case tc.err != nil:
				wantErr(t, err, tc.err)
			case tc.field != "":
				if f := fieldsOf(t, err); !slices.Equal(f, []string{tc.field}) {
					t.Fatalf("fields = %v", f)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got.GrantedRole != tc.role {
					t.Fatalf("granted %q, want %q", got.GrantedRole, tc.role)
				}
				u, _ := e.svc.GetUser(e.ctx, e.pending.ID)
				if !slices.Contains(u.Roles, tc.role) {
					t.Fatalf("roles = %v", u.Roles)
				}
				return
			}
			r, _ := e.svc.GetAccessRequest(e.ctx, e.request.ID)
			if r.Status != store.RequestPending || len(e.since(before)) != 0 || len(e.decisionMails()) != 0 {
				t.Fatalf("a refused approval changed something: %+v", r)
			}
		})
	}
}

func TestDenyAccessRequest(t *testing.T) {
	e := newReviewEnv(t)
	mgr := e.principal(e.manager)
	_, err := e.svc.DenyAccessRequest(e.ctx, mgr, e.request.ID, "  ")
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"comment"}) {
		t.Fatalf("fields = %v", f)
	}
	before := e.lastID()
	got, err := e.svc.DenyAccessRequest(e.ctx, mgr, e.request.ID, "not this quarter")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.RequestDenied || got.Comment != "not this quarter" || got.GrantedRole != "" {
		t.Fatalf("request = %+v", got)
	}
	u, _ := e.svc.GetUser(e.ctx, e.pending.ID)
	if u.Status != store.StatusPending || len(u.Roles) != 0 {
		t.Fatalf("a denial changed the user: %+v", u)
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "access_request.deny" || entries[0].ActorID != e.manager.ID {
		t.Fatalf("entries = %+v", entries)
	}
	ms := e.decisionMails()
	if len(ms) != 1 || ms[0].Subject != "Your access request was denied" || !strings.Contains(ms[0].Body, "denied: not this quarter\n") {
		t.Fatalf("queued notices = %+v", ms)
	}
	_, err = e.svc.DenyAccessRequest(e.ctx, mgr, e.request.ID, "again")
	wantErr(t, err, store.ErrConflict)
	_, err = e.svc.DenyAccessRequest(e.ctx, mgr, "00000000-0000-0000-0000-000000000001", "x")
	wantErr(t, err, store.ErrNotFound)
}

func TestFullOutboxKeepsTheDecision(t *testing.T) {
	e := newReviewEnvWith(t, domain.RecoveryOptions{OutboxMaxRows: 1})
	// One mail waiting fills the outbox.
	if err := e.store.EnqueueMail(e.ctx, store.Mail{ID: "00000000-0000-0000-0000-0000000000f1", Recipient: "x@example.com",
		Subject: "waiting", Body: "b", NextAttemptAt: e.clock.Now(), CreatedAt: e.clock.Now()}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.ApproveAccessRequest(e.ctx, e.principal(e.manager), e.request.ID, "", "")
	if err != nil {
		t.Fatalf("a full outbox failed the approval: %v", err)
	}
	if got.Status != store.RequestApproved || len(e.decisionMails()) != 0 {
		t.Fatalf("request %+v; want approved with its notice dropped", got)
	}
}

// An approval and a denial of one request at once: one wins, the other is
// a conflict, and the user ends up as the winner left it.
func TestConcurrentDecisions(t *testing.T) {
	for range 10 {
		e := newReviewEnv(t)
		mgr := e.principal(e.manager)
		adm := e.principal(e.admin)
		var wg sync.WaitGroup
		var approveErr, denyErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, approveErr = e.svc.ApproveAccessRequest(e.ctx, mgr, e.request.ID, "", "")
		}()
		go func() {
			defer wg.Done()
			_, denyErr = e.svc.DenyAccessRequest(e.ctx, adm, e.request.ID, "no")
		}()
		wg.Wait()
		r, _ := e.svc.GetAccessRequest(e.ctx, e.request.ID)
		u, _ := e.svc.GetUser(e.ctx, e.pending.ID)
		switch {
		case approveErr == nil && errors.Is(denyErr, store.ErrConflict):
			if r.Status != store.RequestApproved || u.Status != store.StatusActive {
				t.Fatalf("approval won but request %q user %q", r.Status, u.Status)
			}
		case denyErr == nil && errors.Is(approveErr, store.ErrConflict):
			if r.Status != store.RequestDenied || u.Status != store.StatusPending {
				t.Fatalf("denial won but request %q user %q", r.Status, u.Status)
			}
		default:
			t.Fatalf("approve: %v, deny: %v; want exactly one conflict", approveErr, denyErr)
		}
		if n := len(e.decisionMails()); n != 1 {
			t.Fatalf("%d notices queued, want 1", n)
		}
		decisions := countAction(e.audit(), "access_request.approve") + countAction(e.audit(), "access_request.deny")
		if decisions != 1 {
			t.Fatalf("%d decision entries, want 1", decisions)
		}
	}
}

// An account past its expiry may do nothing (UserCanAct), asking for a role
// included: not itself through a page, nor a reviewer on its behalf.
func TestSubmitAccessRequestExpired(t *testing.T) {
	for _, status := range []store.UserStatus{store.StatusPending, store.StatusActive} {
		t.Run(string(status), func(t *testing.T) {
			e := newEnv(t)
			var roles []string
			if status == store.StatusActive {
				roles = []string{"viewer"}
			}
			u, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "alice", Email: "alice@example.com",
				Status: status, Roles: roles, ExpiresAt: ptr(e.clock.Now().Add(time.Hour))})
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(2 * time.Hour)
			before := e.lastID()
			_, err = e.svc.SubmitAccessRequest(e.ctx, admin, u.ID, "user", "I need tokens")
			wantErr(t, err, domain.ErrForbidden)
			if msg := domain.ErrorMessage(err); !strings.Contains(msg, "expired") {
				t.Errorf("message %q does not say the user has expired", msg)
			}
			if len(e.since(before)) != 0 {
				t.Error("the refused request was audited")
			}
		})
	}
}
