package admin_test

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/store"
)

// Areas and delegated administration (areas), on both stores: a manager
// of emea through an area grant alone lists, reads and changes the users
// of emea's subtree and no one else, who is 404 to it.

func TestAreasDelegatedAdministrationMemory(t *testing.T) {
	testAreasDelegatedAdministration(t, newMemoryEnv(t))
}

func TestAreasDelegatedAdministrationPostgres(t *testing.T) {
	testAreasDelegatedAdministration(t, newPostgresEnv(t))
}

type areaUserList struct {
	Items []struct {
		ID          string   `json:"id"`
		Username    string   `json:"username"`
		Areas       []string `json:"areas"`
		DefaultArea *string  `json:"default_area"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// listAll pages through GET /users?<query> limit at a time and returns
// the ids in order and the number of pages.
func listAll(t *testing.T, e *env, token, query string, limit int) ([]string, int) {
	t.Helper()
	var ids []string
	cursor, pages := "", 0
	for {
		r := e.do(t, http.MethodGet, "/users?limit="+itoa(limit)+"&cursor="+cursor+"&"+query, token, nil)
		want(t, r, http.StatusOK, "GET /users?"+query)
		var l areaUserList
		r.decode(t, &l)
		if len(l.Items) > limit {
			t.Fatalf("a page of %d with limit %d", len(l.Items), limit)
		}
		pages++
		for _, it := range l.Items {
			ids = append(ids, it.ID)
		}
		if l.NextCursor == "" {
			return ids, pages
		}
		if pages > 50 {
			t.Fatal("the cursor never ends")
		}
		cursor = l.NextCursor
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func sortedIDs(us ...*testUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	sort.Strings(out)
	return out
}

func testAreasDelegatedAdministration(t *testing.T, e *env) {
	root := e.createUser(t, "admin")
	adminTok := e.signIn(t, root)
	mk := func(code, parent string) {
		t.Helper()
		body := map[string]any{"code": code, "name": strings.ToUpper(code)}
		if parent != "" {
			body["parent"] = parent
		}
		r := e.do(t, http.MethodPost, "/areas", adminTok, body)
		want(t, r, http.StatusCreated, "POST /areas "+code)
		if r.Header.Get("Location") == "" || r.str("code") != code {
			t.Fatalf("POST /areas: %s, Location %q", r.Raw, r.Header.Get("Location"))
		}
	}
	mk("emea", "")
	mk("emea-de", "emea")
	mk("emea-de-berlin", "emea-de")
	mk("apac", "")

	member := func(code string, u *testUser) {
		t.Helper()
		want(t, e.do(t, http.MethodPut, "/areas/"+code+"/members/"+u.ID, adminTok, nil), http.StatusNoContent, "add member to "+code)
	}
	var inEmea []*testUser
	for _, code := range []string{"emea", "emea", "emea-de", "emea-de", "emea-de-berlin"} {
		u := e.createUser(t, "user")
		member(code, u)
		inEmea = append(inEmea, u)
	}
	deUser, berlinUser := inEmea[2], inEmea[4]
	apacUser := e.createUser(t, "user")
	member("apac", apacUser)
	e.createUser(t, "user") // in no area

	// The manager holds "user" globally and "manager" within emea only.
	mgr := e.createUser(t, "user")
	r := e.do(t, http.MethodPut, "/users/"+mgr.ID+"/area-roles/emea/manager", adminTok, nil)
	want(t, r, http.StatusNoContent, "grant manager within emea")
	r = e.do(t, http.MethodGet, "/users/"+mgr.ID+"/area-roles", adminTok, nil)
	want(t, r, http.StatusOK, "GET area-roles")
	if !strings.Contains(string(r.Raw), `{"area":"emea","role":"manager"}`) {
		t.Fatalf("area roles = %s", r.Raw)
	}
	mgrTok := e.signIn(t, mgr)

	// The listing holds exactly emea's subtree, across pages of 2.
	got, pages := listAll(t, e, mgrTok, "", 2)
	sort.Strings(got)
	if !slices.Equal(got, sortedIDs(inEmea...)) {
		t.Fatalf("the manager of emea lists %v, want emea's subtree %v", got, sortedIDs(inEmea...))
	}
	if pages < 3 {
		t.Errorf("%d pages of 2 for 5 users", pages)
	}
	// ?area= narrows within the reach; outside it there is no one.
	got, _ = listAll(t, e, mgrTok, "area=emea-de", 1)
	sort.Strings(got)
	if want := sortedIDs(inEmea[2:]...); !slices.Equal(got, want) {
		t.Errorf("?area=emea-de as the manager: %v, want %v", got, want)
	}
	if got, _ = listAll(t, e, mgrTok, "area=apac", 5); len(got) != 0 {
		t.Errorf("?area=apac as the manager of emea lists %v", got)
	}
	// Combined with q: the berlin user's own username.
	if got, _ = listAll(t, e, mgrTok, "q="+berlinUser.Username, 5); !slices.Equal(got, []string{berlinUser.ID}) {
		t.Errorf("?q= within the reach: %v", got)
	}

	// One user: a child area's is 200, anyone else is 404, as a missing user.
	r = e.do(t, http.MethodGet, "/users/"+berlinUser.ID, mgrTok, nil)
	want(t, r, http.StatusOK, "the manager reads a user of emea-de-berlin")
	if !strings.Contains(string(r.Raw), `"areas":["emea-de-berlin"]`) {
		t.Errorf("the view does not show the user's areas: %s", r.Raw)
	}
	for _, id := range []string{apacUser.ID, mgr.ID, newUUID(t)} {
		r = e.do(t, http.MethodGet, "/users/"+id, mgrTok, nil)
		want(t, r, http.StatusNotFound, "the manager reads a user outside emea")
		r.problem(t)
	}

	// Status: inside 200 and stored, outside 404 and unchanged.
	r = e.do(t, http.MethodPut, "/users/"+deUser.ID+"/status", mgrTok, map[string]any{"status": "locked"})
	want(t, r, http.StatusOK, "the manager locks a user of emea-de")
	if u, err := e.Store.GetUser(ctxT(t), deUser.ID); err != nil || u.Status != store.StatusLocked {
		t.Errorf("after the lock: %v, status %q", err, u.Status)
	}
	r = e.do(t, http.MethodPut, "/users/"+apacUser.ID+"/status", mgrTok, map[string]any{"status": "locked"})
	want(t, r, http.StatusNotFound, "the manager locks a user of apac")
	if u, err := e.Store.GetUser(ctxT(t), apacUser.ID); err != nil || u.Status != store.StatusActive {
		t.Errorf("the apac user after the refused lock: %v, status %q", err, u.Status)
	}
	// What the area role does not give stays 403, even inside.
	r = e.do(t, http.MethodPut, "/users/"+deUser.ID+"/roles", mgrTok, map[string]any{"roles": []string{"user"}})
	want(t, r, http.StatusForbidden, "the manager sets roles")
	// Without any grant nothing changes: 403 as before.
	plain := e.signIn(t, e.createUser(t, "user"))
	want(t, e.do(t, http.MethodGet, "/users", plain, nil), http.StatusForbidden, "a user lists users")
	want(t, e.do(t, http.MethodGet, "/users/"+deUser.ID, plain, nil), http.StatusForbidden, "a user reads a user")

	// ?area= for a global lister: the subtree, with the cursor.
	got, _ = listAll(t, e, adminTok, "area=emea", 2)
	sort.Strings(got)
	if !slices.Equal(got, sortedIDs(inEmea...)) {
		t.Errorf("?area=emea as admin: %v", got)
	}
	if got, _ = listAll(t, e, adminTok, "area=nowhere", 2); len(got) != 0 {
		t.Errorf("?area=nowhere: %v", got)
	}

	// The default area: one of the user's areas, by code.
	// The manager role has no users:write: the area grant does not add it.
	r = e.do(t, http.MethodPatch, "/users/"+berlinUser.ID, mgrTok, map[string]any{"default_area": "emea-de-berlin"})
	want(t, r, http.StatusForbidden, "the manager edits a user")
	r = e.do(t, http.MethodPatch, "/users/"+berlinUser.ID, adminTok, map[string]any{"default_area": "emea-de-berlin"})
	want(t, r, http.StatusOK, "setting a default area")
	if r.str("default_area") != "emea-de-berlin" {
		t.Errorf("default_area = %q", r.str("default_area"))
	}
	r = e.do(t, http.MethodPatch, "/users/"+berlinUser.ID, adminTok, map[string]any{"default_area": "apac", "full_name": "Not Applied"})
	want(t, r, http.StatusUnprocessableEntity, "a default area the user is not in")
	if f := r.problem(t).fields(); !slices.Equal(f, []string{"default_area"}) {
		t.Errorf("fields %v, want default_area", f)
	}
	if u, _ := e.Store.GetUser(ctxT(t), berlinUser.ID); u.FullName == "Not Applied" {
		t.Error("a refused default area left the rest of the patch applied")
	}

	// The tree: a cycle is a 422 naming parent; a move takes the subtree.
	r = e.do(t, http.MethodPatch, "/areas/emea", adminTok, map[string]any{"parent": "emea-de-berlin"})
	want(t, r, http.StatusUnprocessableEntity, "moving emea under its grandchild")
	if f := r.problem(t).fields(); !slices.Equal(f, []string{"parent"}) {
		t.Errorf("fields %v, want parent", f)
	}
	r = e.do(t, http.MethodPatch, "/areas/emea", adminTok, map[string]any{"parent": "emea"})
	want(t, r, http.StatusUnprocessableEntity, "moving emea under itself")
	r = e.do(t, http.MethodPatch, "/areas/emea", adminTok, map[string]any{"parent": "nowhere"})
	want(t, r, http.StatusUnprocessableEntity, "moving under an unknown area")
	r = e.do(t, http.MethodPatch, "/areas/emea-de", adminTok, map[string]any{"parent": "apac"})
	want(t, r, http.StatusOK, "moving emea-de under apac")
	if r.str("parent") != "apac" {
		t.Errorf("parent after the move = %q", r.str("parent"))
	}
	r = e.do(t, http.MethodGet, "/areas?under=apac", adminTok, nil)
	want(t, r, http.StatusOK, "GET /areas?under=apac")
	var areas struct {
		Items []struct {
			Code string `json:"code"`
		} `json:"items"`
	}
	r.decode(t, &areas)
	var codes []string
	for _, a := range areas.Items {
		codes = append(codes, a.Code)
	}
	if !slices.Equal(codes, []string{"apac", "emea-de", "emea-de-berlin"}) {
		t.Errorf("apac's subtree after the move: %v", codes)
	}
	// The manager of emea no longer reaches the moved subtree.
	want(t, e.do(t, http.MethodGet, "/users/"+berlinUser.ID, mgrTok, nil), http.StatusNotFound, "a user of the moved subtree")
	got, _ = listAll(t, e, mgrTok, "", 5)
	sort.Strings(got)
	if !slices.Equal(got, sortedIDs(inEmea[:2]...)) {
		t.Errorf("after the move the manager lists %v, want %v", got, sortedIDs(inEmea[:2]...))
	}

	// Deleting: refused while in use, then allowed.
	r = e.do(t, http.MethodDelete, "/areas/apac", adminTok, nil)
	want(t, r, http.StatusConflict, "deleting an area with children")
	r.problem(t)
	mk("empty", "")
	want(t, e.do(t, http.MethodDelete, "/areas/empty", adminTok, nil), http.StatusNoContent, "deleting a bare area")
	want(t, e.do(t, http.MethodGet, "/areas/empty", adminTok, nil), http.StatusNotFound, "a deleted area")
	r = e.do(t, http.MethodPost, "/areas", adminTok, map[string]any{"code": "Bad Code", "name": "x"})
	want(t, r, http.StatusUnprocessableEntity, "a bad code")
	if f := r.problem(t).fields(); !slices.Equal(f, []string{"code"}) {
		t.Errorf("fields %v, want code", f)
	}
	want(t, e.do(t, http.MethodPost, "/areas", adminTok, map[string]any{"code": "emea", "name": "again"}), http.StatusConflict, "a taken code")

	// Every change is audited.
	var actions []string
	for _, a := range e.auditSince(t, 0) {
		if strings.HasPrefix(a.Action, "area.") || a.Action == "user.default_area" {
			actions = append(actions, a.Action)
		}
	}
	for _, w := range []string{"area.create", "area.member.add", "area.role.grant", "area.move", "area.delete", "user.default_area"} {
		if !slices.Contains(actions, w) {
			t.Errorf("no %s in the audit log (%v)", w, actions)
		}
	}
}
