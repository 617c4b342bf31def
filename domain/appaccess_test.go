package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// A user passes a client's access rule through a role held directly,
// through a group's role, through an inherited role (admin ⊃ manager), or
// as a member of a listed group; anyone else does not, and an empty rule
// admits everyone.
func TestMayUseClient(t *testing.T) {
	e := newEnv(t)
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "Desk", Roles: []string{"manager"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	direct := e.user("direct", "manager")
	viaGroup := e.user("viagroup", "viewer")
	if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, viaGroup.ID); err != nil {
		t.Fatal(err)
	}
	inherited := e.user("inherited", "admin")
	member := e.user("member", "viewer")
	if err := e.svc.AddGroupMember(e.ctx, admin, other.ID, member.ID); err != nil {
		t.Fatal(err)
	}
	outsider := e.user("outsider", "user")
	// A time-boxed manager grant one second past its end admits no more.
	expired := e.user("expired", "manager")
	expired.RoleExpiry = map[string]time.Time{"manager": e.clock.Now().Add(-time.Second)}

	rule := store.ClientAccess{Roles: []string{"manager"}, Groups: []string{other.ID}}
	c := store.Client{ID: "app", Access: rule}
	for _, tc := range []struct {
		name string
		u    store.User
		want bool
	}{
		{"direct role", direct, true},
		{"role through a group", viaGroup, true},
		{"inherited role", inherited, true},
		{"listed group", member, true},
		{"neither", outsider, false},
		{"expired time-boxed role", expired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.MayUseClient(e.ctx, tc.u, c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("MayUseClient = %v, want %v", got, tc.want)
			}
		})
	}
	if ok, err := e.svc.MayUseClient(e.ctx, outsider, store.Client{ID: "open"}); err != nil || !ok {
		t.Fatalf("unrestricted client: %v, %v; want true", ok, err)
	}
}

// A rule naming an unknown role or group is refused, naming the field.
func TestClientAccessValidation(t *testing.T) {
	e := newEnv(t)
	c := store.Client{ID: "svc", GrantTypes: []string{"client_credentials"},
		Access: store.ClientAccess{Roles: []string{"wizard"}, Groups: []string{"00000000-0000-0000-0000-000000000001"}}}
	_, _, err := e.svc.CreateClient(e.ctx, admin, c)
	got := fieldsOf(t, err)
	if len(got) != 2 || got[0] != "access.roles" || got[1] != "access.groups" {
		t.Fatalf("fields = %v, want [access.roles access.groups]", got)
	}
	c.Access = store.ClientAccess{Roles: []string{"manager"}}
	out, _, err := e.svc.CreateClient(e.ctx, admin, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Access.Roles) != 1 || out.Access.Roles[0] != "manager" {
		t.Fatalf("stored Access = %#v", out.Access)
	}
}

// A rule with areas admits a member of a listed area and of any area
// below it, and no one from a sibling or a parent area; roles and groups
// still admit as before beside it.
func TestMayUseClientAreas(t *testing.T) {
	e := newEnv(t)
	for _, a := range []domain.NewArea{
		{Code: "emea", Name: "EMEA"},
		{Code: "emea-ch", Name: "Switzerland", Parent: "emea"},
		{Code: "emea-ch-zrh", Name: "Zürich", Parent: "emea-ch"},
		{Code: "emea-fr", Name: "France", Parent: "emea"},
		{Code: "apac", Name: "APAC"},
	} {
		if _, err := e.svc.CreateArea(e.ctx, admin, a); err != nil {
			t.Fatal(err)
		}
	}
	member := func(name, area string, roles ...string) store.User {
		u := e.user(name, roles...)
		if area != "" {
			if err := e.svc.AddAreaMember(e.ctx, admin, area, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	inListed := member("inlisted", "emea-ch", "viewer")
	deep := member("deep", "emea-ch-zrh", "viewer")
	sibling := member("sibling", "emea-fr", "viewer")
	parent := member("parent", "emea", "viewer")
	elsewhere := member("elsewhere", "apac", "viewer")
	nowhere := member("nowhere", "", "viewer")
	byRole := member("byrole", "apac", "manager")

	c := store.Client{ID: "app", Access: store.ClientAccess{Roles: []string{"manager"}, Areas: []string{"emea-ch"}}}
	for _, tc := range []struct {
		name string
		u    store.User
		want bool
	}{
		{"member of the listed area", inListed, true},
		{"member of an area below it", deep, true},
		{"member of a sibling area", sibling, false},
		{"member of the parent area", parent, false},
		{"member of another tree", elsewhere, false},
		{"member of no area", nowhere, false},
		{"outside, but with a listed role", byRole, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.MayUseClient(e.ctx, tc.u, c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("MayUseClient = %v, want %v", got, tc.want)
			}
		})
	}
	// Moving France under Switzerland brings its members into the subtree.
	parentCode := "emea-ch"
	if _, err := e.svc.UpdateArea(e.ctx, admin, "emea-fr", domain.AreaPatch{Parent: &parentCode}); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.svc.MayUseClient(e.ctx, sibling, c); err != nil || !ok {
		t.Fatalf("member of a moved-in area: %v, %v; want true", ok, err)
	}
}

// An area code in the rule must name an area (access.areas); a valid one
// is stored, audited (access_areas) and cleared by a patch.
func TestClientAccessAreasValidation(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.CreateArea(e.ctx, admin, domain.NewArea{Code: "emea", Name: "EMEA"}); err != nil {
		t.Fatal(err)
	}
	c := store.Client{ID: "svc", GrantTypes: []string{"client_credentials"},
		Access: store.ClientAccess{Areas: []string{"atlantis"}}}
	_, _, err := e.svc.CreateClient(e.ctx, admin, c)
	if got := fieldsOf(t, err); len(got) != 1 || got[0] != "access.areas" {
		t.Fatalf("fields = %v, want [access.areas]", got)
	}
	c.Access = store.ClientAccess{Areas: []string{"emea", " emea"}}
	out, _, err := e.svc.CreateClient(e.ctx, admin, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Access.Areas) != 1 || out.Access.Areas[0] != "emea" {
		t.Fatalf("stored Access = %#v, want areas [emea]", out.Access)
	}
	bad := store.ClientAccess{Areas: []string{"nowhere"}}
	_, err = e.svc.UpdateClient(e.ctx, admin, "svc", domain.ClientPatch{Access: &bad})
	if got := fieldsOf(t, err); len(got) != 1 || got[0] != "access.areas" {
		t.Fatalf("patch fields = %v, want [access.areas]", got)
	}
	mark := e.lastID()
	out, err = e.svc.UpdateClient(e.ctx, admin, "svc", domain.ClientPatch{Access: &store.ClientAccess{}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Access.Restricted() {
		t.Fatalf("cleared Access = %#v", out.Access)
	}
	entries := e.since(mark)
	if len(entries) != 1 || entries[0].Action != "client.update" {
		t.Fatalf("audit after clearing = %+v, want one client.update", entries)
	}
	if !strings.Contains(string(entries[0].Changes), `"access_areas"`) {
		t.Fatalf("client.update changes = %v, want access_areas", entries[0].Changes)
	}
}

// A refused user asks for access to a client: the request records the
// client and asks for the rule's role, a second one for the same client is
// a conflict (but not one for a role alone), and the approval admits the
// user. A client that admits the user, admits everyone, or admits by group
// only has nothing to request.
func TestSubmitAppAccessRequest(t *testing.T) {
	e := newEnv(t)
	if _, _, err := e.svc.CreateClient(e.ctx, admin, store.Client{ID: "desk", Name: "Trading desk",
		RedirectURIs: []string{"https://desk.example/cb"}, Access: store.ClientAccess{Roles: []string{"manager", "admin"}}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.GetClient(e.ctx, "desk")
	if err != nil {
		t.Fatal(err)
	}
	u := e.user("refused", "user")
	self := domain.Actor{Type: store.ActorUser, ID: u.ID}
	offer, err := e.svc.OfferAppAccess(e.ctx, u, c)
	if err != nil || offer.Pending != nil {
		t.Fatalf("offer = %+v, %v; want nothing pending", offer, err)
	}
	if offer.Role != "manager" {
		t.Fatalf("offered role %q, want manager (admin is never asked for)", offer.Role)
	}
	mark := e.lastID()
	r, err := e.svc.SubmitAppAccessRequest(e.ctx, self, u.ID, "desk", "I run the desk's books")
	if err != nil {
		t.Fatal(err)
	}
	if r.ClientID != "desk" || r.RequestedRole != "manager" || r.Status != store.RequestPending {
		t.Fatalf("request = %+v", r)
	}
	if entries := e.since(mark); len(entries) != 1 || entries[0].Action != "access_request.create" ||
		!strings.Contains(string(entries[0].Changes), `"client_id"`) || !strings.Contains(string(entries[0].Changes), `"desk"`) {
		t.Fatalf("audit = %+v, want access_request.create with client_id desk", entries)
	}
	if _, err := e.svc.SubmitAppAccessRequest(e.ctx, self, u.ID, "desk", "again"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second request for the client: %v, want ErrConflict", err)
	}
	if offer, err := e.svc.OfferAppAccess(e.ctx, u, c); err != nil || offer.Pending == nil || offer.Pending.ID != r.ID {
		t.Fatalf("offer with a pending request = %+v, %v", offer, err)
	}
	if p, err := e.svc.PendingAccessRequest(e.ctx, u.ID); err != nil || p != nil {
		t.Fatalf("PendingAccessRequest (a role alone) = %+v, %v; want none", p, err)
	}
	mgr := e.principal(e.user("boss", "admin"))
	if _, err := e.svc.ApproveAccessRequest(e.ctx, mgr, r.ID, "", "ok"); err != nil {
		t.Fatal(err)
	}
	u, err = e.svc.GetUser(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.svc.MayUseClient(e.ctx, u, c); err != nil || !ok {
		t.Fatalf("after approval MayUseClient = %v, %v; want true", ok, err)
	}
	if _, err := e.svc.SubmitAppAccessRequest(e.ctx, self, u.ID, "desk", "more"); fieldOf(err) != "client_id" {
		t.Fatalf("request by an admitted user: %v, want a client_id problem", err)
	}

	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range []store.Client{
		{ID: "open", RedirectURIs: []string{"https://open.example/cb"}},
		{ID: "ops", RedirectURIs: []string{"https://ops.example/cb"}, Access: store.ClientAccess{Groups: []string{g.ID}}},
	} {
		if _, _, err := e.svc.CreateClient(e.ctx, admin, cl); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubmitAppAccessRequest(e.ctx, self, u.ID, cl.ID, "please"); fieldOf(err) != "client_id" {
			t.Fatalf("request for %s: %v, want a client_id problem", cl.ID, err)
		}
	}
	if _, err := e.svc.SubmitAppAccessRequest(e.ctx, self, u.ID, "nope", "please"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("request for an unknown client: %v, want ErrNotFound", err)
	}
}

func fieldOf(err error) string {
	v, ok := domain.AsValidation(err)
	if !ok || len(v.Fields) == 0 {
		return ""
	}
	return v.Fields[0].Field
}

// The notice of a decision on a request for an app names the app.
func TestAppAccessDecisionMailNamesTheApp(t *testing.T) {
	e := newReviewEnv(t)
	if _, _, err := e.svc.CreateClient(e.ctx, admin, store.Client{ID: "desk", Name: "Trading desk",
		RedirectURIs: []string{"https://desk.example/cb"}, Access: store.ClientAccess{Roles: []string{"trader"}}}); err != nil {
		t.Fatal(err)
	}
	u := e.user("asker", "user")
	r, err := e.svc.SubmitAppAccessRequest(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, "desk", "I trade")
	if err != nil {
		t.Fatal(err)
	}
	e.mails()
	if _, err := e.svc.ApproveAccessRequest(e.ctx, e.principal(e.admin), r.ID, "", "go ahead"); err != nil {
		t.Fatal(err)
	}
	ms := e.decisionMails()
	if len(ms) != 1 || ms[0].Recipient != u.Email || !strings.Contains(ms[0].Body, "Your request for access to Trading desk was approved (role: trader).") {
		t.Fatalf("queued notices = %+v", ms)
	}
}
