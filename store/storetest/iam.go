package storetest

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Record builders for the IAM records, in the manner of those in
// storetest.go: valid, unique, every field set.

func (f *fixture) newGroup(name string, roles ...string) store.Group {
	return store.Group{
		ID:          uuid.NewString(),
		Name:        name,
		Description: "People who " + name + ".",
		Roles:       roles,
		CreatedAt:   f.at(-2 * time.Hour),
		UpdatedAt:   f.at(-time.Hour),
	}
}

func (f *fixture) createGroup(name string, roles ...string) store.Group {
	f.t.Helper()
	g := f.newGroup(name, roles...)
	f.must(f.iam.CreateGroup(f.ctx, g), "CreateGroup %s", name)
	return g
}

// newAccessRequest is pending, as every new request is.
func (f *fixture) newAccessRequest(userID, role string) store.AccessRequest {
	return store.AccessRequest{
		ID:            uuid.NewString(),
		UserID:        userID,
		RequestedRole: role,
		Purpose:       "I trade on the Zürich desk & need <access>.",
		Status:        store.RequestPending,
		CreatedAt:     f.at(-time.Hour),
	}
}

func (f *fixture) createAccessRequest(userID, role string) store.AccessRequest {
	f.t.Helper()
	r := f.newAccessRequest(userID, role)
	f.must(f.iam.CreateAccessRequest(f.ctx, r), "CreateAccessRequest")
	return r
}

// newAPIToken makes a token of kind acting as the user (personal and user
// tokens) or the client (system tokens).
func (f *fixture) newAPIToken(kind store.APITokenKind, userID, clientID string) store.APIToken {
	id := uuid.NewString()
	digest := sha256.Sum256([]byte("gh_pat_" + id))
	return store.APIToken{
		ID:         id,
		Name:       "nightly export " + id[:8],
		Kind:       kind,
		UserID:     userID,
		ClientID:   clientID,
		Scopes:     []string{store.PermUsersRead, store.PermAuditRead},
		SecretHash: digest[:],
		CreatedBy:  "user:" + uuid.NewString(),
		CreatedAt:  f.at(-time.Hour),
		ExpiresAt:  f.at(90 * 24 * time.Hour),
	}
}

func (f *fixture) createAPIToken(kind store.APITokenKind, userID, clientID string) store.APIToken {
	f.t.Helper()
	t := f.newAPIToken(kind, userID, clientID)
	f.must(f.iam.CreateAPIToken(f.ctx, t), "CreateAPIToken %s", kind)
	return t
}

func (f *fixture) newAuditEntry(action, targetID string) store.AuditEntry {
	return store.AuditEntry{
		At:         f.now,
		ActorType:  store.ActorUser,
		ActorID:    "5f0c1f8e-8a47-4f43-9d0b-3f1a3c1e2d10",
		Action:     action,
		TargetType: "user",
		TargetID:   targetID,
		IPAddress:  "192.0.2.10",
		Changes:    json.RawMessage(`{"email": {"before": "a@example.com", "after": "b@example.com"}, "password": {"after": {"changed": true}}}`),
	}
}

func (f *fixture) appendAudit(e store.AuditEntry) store.AuditEntry {
	f.t.Helper()
	id, err := f.iam.AppendAudit(f.ctx, e)
	f.must(err, "AppendAudit %s", e.Action)
	e.ID = id
	return e
}

// ---------------------------------------------------------------------------
// References between the IAM records and the rest of the store.

var iamReferenceTests = []subtest{
	{"RoleDeleteRefused", testRoleDeleteIAMReferences},
	{"DeleteUserCascades", testDeleteUserIAMCascade},
	{"RolledBackTransaction", testIAMRollback},
}

func testRoleDeleteIAMReferences(f *fixture) {
	for _, name := range []string{"by-group", "by-client", "by-pending", "by-decided", "unused"} {
		f.must(f.s.CreateRole(f.ctx, f.newRole(name, "")), "CreateRole %s", name)
	}
	g := f.createGroup("desk", "by-group", "viewer")
	c := f.newClient()
	c.Roles = []string{"by-client"}
	f.must(f.s.CreateClient(f.ctx, c), "CreateClient")
	pending := f.createAccessRequest(f.createUser().ID, "by-pending")
	decided := f.createAccessRequest(f.createUser().ID, "by-decided")
	_, err := f.iam.DecideAccessRequest(f.ctx, decided.ID, store.RequestDenied, "", "cli", "no", f.now)
	f.must(err, "DecideAccessRequest")

	cases := []struct {
		name, role string
		want       error
	}{
		{"held by a group", "by-group", store.ErrConflict},
		{"held by a client", "by-client", store.ErrConflict},
		{"requested by a pending request", "by-pending", store.ErrConflict},
		{"requested by a decided request only", "by-decided", nil},
		{"unused", "unused", nil},
	}
	for _, tc := range cases {
		f.wantErr(f.s.DeleteRole(f.ctx, tc.role), tc.want, "DeleteRole %s (%s)", tc.role, tc.name)
	}
	for _, name := range []string{"by-group", "by-client", "by-pending"} {
		_, err := f.s.GetRole(f.ctx, name)
		f.wantErr(err, nil, "GetRole %s after a refused delete", name)
	}
	// A decided request is history: it keeps the name of the role it asked for.
	got, err := f.iam.GetAccessRequest(f.ctx, decided.ID)
	f.must(err, "GetAccessRequest of a decided request")
	if got.RequestedRole != "by-decided" {
		f.t.Errorf("RequestedRole after its role was deleted = %q, want %q", got.RequestedRole, "by-decided")
	}

	// Once nothing refers to them, they may go.
	g.Roles = []string{"viewer"}
	f.must(f.iam.UpdateGroup(f.ctx, g), "UpdateGroup")
	f.wantErr(f.s.DeleteRole(f.ctx, "by-group"), nil, "DeleteRole once no group holds it")
	c.Roles = nil
	f.must(f.s.UpdateClient(f.ctx, c), "UpdateClient")
	f.wantErr(f.s.DeleteRole(f.ctx, "by-client"), nil, "DeleteRole once no client holds it")
	_, err = f.iam.DecideAccessRequest(f.ctx, pending.ID, store.RequestCancelled, "", "user:"+pending.UserID, "", f.now)
	f.must(err, "DecideAccessRequest")
	f.wantErr(f.s.DeleteRole(f.ctx, "by-pending"), nil, "DeleteRole once its request is decided")

	// A group deleted frees its roles too.
	f.must(f.s.CreateRole(f.ctx, f.newRole("temp", "")), "CreateRole temp")
	g2 := f.createGroup("temps", "temp")
	f.wantErr(f.s.DeleteRole(f.ctx, "temp"), store.ErrConflict, "DeleteRole temp while a group holds it")
	f.must(f.iam.DeleteGroup(f.ctx, g2.ID), "DeleteGroup")
	f.wantErr(f.s.DeleteRole(f.ctx, "temp"), nil, "DeleteRole temp after its group was deleted")
}

// DeleteUser leaves nothing of the user in the IAM records but the audit
// log, which is append-only; the records of others stay.
func testDeleteUserIAMCascade(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	c := f.createClient()
	g1 := f.createGroup("one")
	g2 := f.createGroup("two")
	for _, g := range []store.Group{g1, g2} {
		f.must(f.iam.AddGroupMember(f.ctx, g.ID, u.ID), "AddGroupMember")
	}
	f.must(f.iam.AddGroupMember(f.ctx, g1.ID, other.ID), "AddGroupMember other")
	decided := f.createAccessRequest(u.ID, "user")
	_, err := f.iam.DecideAccessRequest(f.ctx, decided.ID, store.RequestDenied, "", "cli", "", f.now)
	f.must(err, "DecideAccessRequest")
	pending := f.createAccessRequest(u.ID, "viewer")
	othersRequest := f.createAccessRequest(other.ID, "viewer")
	personal := f.createAPIToken(store.TokenPersonal, u.ID, "")
	forUser := f.createAPIToken(store.TokenUser, u.ID, "")
	othersToken := f.createAPIToken(store.TokenPersonal, other.ID, "")
	system := f.createAPIToken(store.TokenSystem, "", c.ID)
	entry := f.appendAudit(f.newAuditEntry("user.create", u.ID))

	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")

	members, err := f.iam.ListGroupMembers(f.ctx, g1.ID)
	f.must(err, "ListGroupMembers")
	f.equal("members of a group after a member was deleted", members, []string{other.ID})
	members, err = f.iam.ListGroupMembers(f.ctx, g2.ID)
	f.must(err, "ListGroupMembers")
	if len(members) != 0 {
		f.t.Errorf("members of a group whose only member was deleted: %q", members)
	}
	groups, err := f.iam.ListUserGroups(f.ctx, u.ID)
	f.must(err, "ListUserGroups")
	if len(groups) != 0 {
		f.t.Errorf("ListUserGroups of a deleted user returned %d groups", len(groups))
	}
	for _, g := range []store.Group{g1, g2} {
		_, err := f.iam.GetGroup(f.ctx, g.ID)
		f.wantErr(err, nil, "GetGroup %s after a member was deleted", g.Name)
	}

	for _, r := range []store.AccessRequest{decided, pending} {
		_, err := f.iam.GetAccessRequest(f.ctx, r.ID)
		f.wantErr(err, store.ErrNotFound, "GetAccessRequest (%s) of a deleted user", r.Status)
	}
	reqs, err := f.iam.ListAccessRequests(f.ctx, store.AccessRequestFilter{})
	f.must(err, "ListAccessRequests")
	f.equal("access requests after DeleteUser", requestIDs(reqs), []string{othersRequest.ID})

	for _, tok := range []store.APIToken{personal, forUser} {
		_, err := f.iam.GetAPIToken(f.ctx, tok.ID)
		f.wantErr(err, store.ErrNotFound, "GetAPIToken (%s) of a deleted user", tok.Kind)
		_, err = f.iam.GetAPITokenBySecretHash(f.ctx, tok.SecretHash)
		f.wantErr(err, store.ErrNotFound, "GetAPITokenBySecretHash (%s) of a deleted user", tok.Kind)
	}
	toks, err := f.iam.ListAPITokens(f.ctx, "", "")
	f.must(err, "ListAPITokens")
	f.equal("API tokens after DeleteUser", sortedStrings(apiTokenIDs(toks)), sortedStrings([]string{othersToken.ID, system.ID}))

	entries, err := f.iam.ListAudit(f.ctx, store.AuditFilter{})
	f.must(err, "ListAudit")
	if len(entries) != 1 || entries[0].ID != entry.ID {
		f.t.Errorf("audit log after DeleteUser has %d entries, want the 1 appended before", len(entries))
	}
}

// Every IAM write inside a rolled-back transaction is undone, audit entries
// included: a change and its audit entry commit or vanish together.
func testIAMRollback(f *fixture) {
	u := f.createUser()
	c := f.createClient()
	g := f.createGroup("kept", "viewer")
	req := f.createAccessRequest(u.ID, "user")
	tok := f.createAPIToken(store.TokenPersonal, u.ID, "")
	kept := f.appendAudit(f.newAuditEntry("user.create", u.ID))

	tx, err := f.s.BeginTx(f.ctx)
	f.must(err, "BeginTx")
	newGroup := f.newGroup("new")
	f.must(f.iam.CreateGroup(tx, newGroup), "CreateGroup in tx")
	renamed := g
	renamed.Name, renamed.Roles = "renamed", []string{"admin"}
	f.must(f.iam.UpdateGroup(tx, renamed), "UpdateGroup in tx")
	f.must(f.iam.AddGroupMember(tx, g.ID, u.ID), "AddGroupMember in tx")
	_, err = f.iam.DecideAccessRequest(tx, req.ID, store.RequestApproved, "user", "cli", "ok", f.now)
	f.must(err, "DecideAccessRequest in tx")
	newTok := f.newAPIToken(store.TokenSystem, "", c.ID)
	f.must(f.iam.CreateAPIToken(tx, newTok), "CreateAPIToken in tx")
	f.must(f.iam.RevokeAPIToken(tx, tok.ID, f.now), "RevokeAPIToken in tx")
	f.must(f.iam.TouchAPIToken(tx, tok.ID, f.now), "TouchAPIToken in tx")
	_, err = f.iam.AppendAudit(tx, f.newAuditEntry("access_request.approve", req.ID))
	f.must(err, "AppendAudit in tx")
	_, err = f.iam.RecordLoginFailure(tx, u.ID, f.now, 3, time.Minute)
	f.must(err, "RecordLoginFailure in tx")
	f.must(f.iam.RecordLoginSuccess(tx, u.ID, f.now, "$argon2id$new"), "RecordLoginSuccess in tx")
	f.must(f.s.Rollback(tx), "Rollback")

	_, err = f.iam.GetGroup(f.ctx, newGroup.ID)
	f.wantErr(err, store.ErrNotFound, "GetGroup created in a rolled-back tx")
	gotGroup, err := f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	f.equal("group updated in a rolled-back tx", gotGroup, g)
	members, err := f.iam.ListGroupMembers(f.ctx, g.ID)
	f.must(err, "ListGroupMembers")
	if len(members) != 0 {
		f.t.Errorf("members added in a rolled-back tx: %q", members)
	}
	gotReq, err := f.iam.GetAccessRequest(f.ctx, req.ID)
	f.must(err, "GetAccessRequest")
	f.equal("access request decided in a rolled-back tx", gotReq, req)
	_, err = f.iam.GetAPIToken(f.ctx, newTok.ID)
	f.wantErr(err, store.ErrNotFound, "GetAPIToken created in a rolled-back tx")
	gotTok, err := f.iam.GetAPIToken(f.ctx, tok.ID)
	f.must(err, "GetAPIToken")
	f.equal("API token revoked and touched in a rolled-back tx", gotTok, tok)
	entries, err := f.iam.ListAudit(f.ctx, store.AuditFilter{})
	f.must(err, "ListAudit")
	if len(entries) != 1 || entries[0].ID != kept.ID {
		f.t.Errorf("audit log after a rolled-back tx has %d entries, want the 1 appended before", len(entries))
	}
	gotUser, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user after sign-ins recorded in a rolled-back tx", gotUser, u)

	// The new name is free: nothing of the rolled-back rename is left.
	f.createGroup("renamed")
}

// ---------------------------------------------------------------------------
// Small helpers.

func requestIDs(rs []store.AccessRequest) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func apiTokenIDs(ts []store.APIToken) []string {
	ids := []string{}
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

func groupNames(gs []store.Group) []string {
	names := []string{}
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return names
}

func sortedStrings(in []string) []string {
	out := append([]string{}, in...)
	slices.Sort(out)
	return out
}
