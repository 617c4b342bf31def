package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

const conflictUser = "the username or email is already taken"

// userInput is the body of POST /users.
type userInput struct {
	Username      string          `json:"username"`
	Email         string          `json:"email"`
	Password      string          `json:"password"`
	FullName      string          `json:"full_name"`
	Department    string          `json:"department"`
	Goals         []string        `json:"goals"`
	Preferences   json.RawMessage `json:"preferences"`
	Status        string          `json:"status"`
	Roles         []string        `json:"roles"`
	EmailVerified bool            `json:"email_verified"`
	ExpiresAt     *string         `json:"expires_at"`
	profileInput
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in userInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	// Granting roles and choosing a status are permissions of their own:
	// users:write alone must not make an administrator.
	if len(in.Roles) > 0 && !p.Can(store.PermUsersRoles) {
		return forbidden([]string{store.PermUsersRoles})
	}
	if in.Status != "" && !p.Can(store.PermUsersStatus) {
		return forbidden([]string{store.PermUsersStatus})
	}
	// An emergency account skips the MFA enrolment policy: marking one is
	// the administrators' (settings:write), not any user editor's.
	if in.BreakGlass && !p.Can(store.PermSettingsWrite) {
		return forbidden([]string{store.PermSettingsWrite})
	}
	nu := domain.NewUser{
		Username:      in.Username,
		Email:         in.Email,
		Password:      in.Password,
		FullName:      in.FullName,
		Department:    in.Department,
		Goals:         in.Goals,
		Status:        store.UserStatus(in.Status),
		Roles:         in.Roles,
		EmailVerified: in.EmailVerified,
	}
	in.profileInput.apply(&nu)
	if len(in.Preferences) > 0 && !isNull(in.Preferences) {
		if !isObject(in.Preferences) {
			return badField("preferences", "must be a JSON object")
		}
		nu.Preferences = in.Preferences
	}
	if in.ExpiresAt != nil {
		t, err := parseTime("expires_at", *in.ExpiresAt)
		if err != nil {
			return err
		}
		nu.ExpiresAt = &t
	}
	u, err := a.svc.CreateUser(r.Context(), p.Actor, nu)
	if err != nil {
		return conflict(err, conflictUser)
	}
	v, err := a.userView(r.Context(), u)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", userETag(u))
	writeCreated(w, r, u.ID, v)
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// One time for the filter and the views, so that ?status=active never
	// lists a user it shows as expired.
	now := a.now()
	f := store.UserFilter{
		Query:  q.Get("q"),
		Status: store.UserStatus(q.Get("status")),
		Now:    now,
		Role:   q.Get("role"),
		Sort:   store.UserSort(q.Get("sort")),
		Order:  store.SortOrder(q.Get("order")),
		Limit:  pg.fetchLimit(),
	}
	if f.After, err = decodeUserCursor(f.Sort, f.Order, pg.Cursor); err != nil {
		return err
	}
	ctx := r.Context()
	if g := q.Get("group"); g != "" {
		id, ok, err := a.groupID(ctx, g)
		if err != nil {
			return err
		}
		if !ok {
			writeJSON(w, http.StatusOK, List[UserView]{Items: []UserView{}})
			return nil
		}
		f.Group = id
	}
	// Areas (areas.go): ?area= narrows to that area's subtree; a delegated
	// administrator sees its areas' subtrees only, whatever it asks.
	f.WithinAreas = p.AreaScope
	if code := q.Get("area"); code != "" {
		area, err := a.svc.GetArea(ctx, code)
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusOK, List[UserView]{Items: []UserView{}})
			return nil
		}
		if err != nil {
			return err
		}
		f.Area = area.ID
	}
	users, err := a.svc.ListUsers(ctx, f)
	if err != nil {
		return err
	}
	views, err := UserViews(ctx, a.svc, now, users...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, finish(pg, views, func(v UserView) string {
		return userCursor(f.Sort, f.Order, store.UserKey{Username: v.Username, CreatedAt: v.CreatedAt, ID: v.ID})
	}))
	return nil
}

// userCursor is the cursor after k in a user list's order (before
// encodeCursor). The default order keeps the form it always had, the bare
// username, so cursors handed out before other orders existed stay good;
// the others name their order, "created_at.desc:<unix µs>:<id>", so that a
// cursor is never read in an order it was not made for. Microseconds are
// what the stores keep: the cursor holds the exact key.
func userCursor(sort store.UserSort, order store.SortOrder, k store.UserKey) string {
	sort, order = cmp.Or(sort, store.SortByUsername), cmp.Or(order, store.OrderAsc)
	if sort == store.SortByUsername && order == store.OrderAsc {
		return k.Username
	}
	prefix := string(sort) + "." + string(order) + ":"
	if sort == store.SortByCreatedAt {
		return prefix + strconv.FormatInt(k.CreatedAt.UnixMicro(), 10) + ":" + k.ID
	}
	return prefix + k.Username
}

// decodeUserCursor reads a cursor userCursor made for the same order; a
// cursor of another order, or none of ours, is a 422 on "cursor". An order
// the directory does not have is left for the domain to name ("sort" or
// "order").
func decodeUserCursor(sort store.UserSort, order store.SortOrder, raw string) (*store.UserKey, error) {
	if raw == "" {
		return nil, nil
	}
	sort, order = cmp.Or(sort, store.SortByUsername), cmp.Or(order, store.OrderAsc)
	bad := invalidField("cursor", "is not a cursor this API returned for this sort and order")
	switch {
	case sort == store.SortByUsername && order == store.OrderAsc:
		// Usernames have no ':'; every other order's cursor has.
		if strings.Contains(raw, ":") {
			return nil, bad
		}
		return &store.UserKey{Username: raw}, nil
	case (sort != store.SortByUsername && sort != store.SortByCreatedAt) || (order != store.OrderAsc && order != store.OrderDesc):
		return nil, nil
	}
	rest, ok := strings.CutPrefix(raw, string(sort)+"."+string(order)+":")
	if !ok {
		return nil, bad
	}
	if sort == store.SortByUsername {
		return &store.UserKey{Username: rest}, nil
	}
	micros, id, ok := strings.Cut(rest, ":")
	us, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || uuid.Validate(id) != nil {
		return nil, bad
	}
	return &store.UserKey{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}

// groupID resolves ?group= given as an id or a name.
func (a *API) groupID(ctx context.Context, g string) (string, bool, error) {
	if _, err := uuid.Parse(g); err == nil {
		return g, true, nil
	}
	groups, err := a.svc.ListGroups(ctx)
	if err != nil {
		return "", false, err
	}
	for _, grp := range groups {
		if grp.Name == g {
			return grp.ID, true, nil
		}
	}
	return "", false, nil
}

// userView shows one user as a list shows it.
func (a *API) userView(ctx context.Context, u store.User) (UserView, error) {
	v, err := UserViews(ctx, a.svc, a.now(), u)
	if err != nil {
		return UserView{}, err
	}
	return v[0], nil
}

// writeUser answers 200 with the user's full view (groups, effective roles)
// and its version as the ETag, for a later If-Match.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, u store.User) error {
	v, err := a.userView(r.Context(), u)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", userETag(u))
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	u, err := a.svc.GetUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	return a.writeUser(w, r, u)
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	u, err := a.svc.GetUser(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	return a.writeUser(w, r, u)
}

// userReadOnly are the fields of UserView that no patch changes.
func userReadOnly() []string {
	return []string{"id", "groups", "effective_roles", "created_at", "updated_at", "last_login_at", "locked_until"}
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	id := mux.Vars(r)["id"]
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	cur, err := a.svc.GetUser(r.Context(), id)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	up := domain.UserPatch{
		Username:      f.str("username", false),
		Email:         f.str("email", false),
		FullName:      f.str("full_name", true),
		Department:    f.str("department", true),
		Goals:         f.strings("goals"),
		Preferences:   f.object("preferences", cur.Preferences),
		EmailVerified: f.boolean("email_verified"),
		ExpiresAt:     f.timestamp("expires_at"),
		SessionLimit:  f.optionalInt("session_limit"),
	}
	f.profile(&up, true)
	if up.BreakGlass != nil && *up.BreakGlass != cur.BreakGlass && !p.Can(store.PermSettingsWrite) {
		return forbidden([]string{store.PermSettingsWrite})
	}
	f.readOnly("is changed with PUT /users/{id}/status", "status")
	f.readOnly("is changed with PUT /users/{id}/roles", "roles")
	f.readOnly("is changed with PUT /users/{id}/password", "password")
	f.readOnly("is read-only", userReadOnly()...)
	// Areas (areas.go): the default area is one of the user's areas, by
	// code; null clears it. Membership itself is changed under /areas.
	defaultArea := f.str("default_area", true)
	f.readOnly("is changed with PUT /areas/{code}/members/{user_id}", "areas")
	if err := f.done(); err != nil {
		return err
	}
	if defaultArea != nil {
		return a.applyUserPatchAndArea(w, r, p, id, up, defaultArea)
	}
	return a.applyUserPatch(w, r, p, id, up)
}

// applyUserPatchAndArea is applyUserPatch that also sets the default area,
// in the same transaction.
func (a *API) applyUserPatchAndArea(w http.ResponseWriter, r *http.Request, p *domain.Principal, id string, up domain.UserPatch, defaultArea *string) error {
	tags, err := ifMatch(r)
	if err != nil {
		return err
	}
	u, err := a.svc.UpdateUserAndDefaultArea(r.Context(), *p, id, up, defaultArea, tags...)
	if err != nil {
		return conflict(err, conflictUser)
	}
	return a.writeUser(w, r, u)
}

// applyUserPatch applies up, under If-Match when the request has one: a
// stale tag is a 412 and nothing changes.
func (a *API) applyUserPatch(w http.ResponseWriter, r *http.Request, p *domain.Principal, id string, up domain.UserPatch) error {
	tags, err := ifMatch(r)
	if err != nil {
		return err
	}
	u, err := a.svc.UpdateUser(r.Context(), *p, id, up, tags...)
	if err != nil {
		return conflict(err, conflictUser)
	}
	return a.writeUser(w, r, u)
}

// patchMe lets a user edit its own profile; the account's identity
// (username, email) and standing stay with the administrators.
func (a *API) patchMe(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	// The preferences are merged into the stored ones, read now: the
	// principal's user may come from the principal cache, which a profile
	// edit does not invalidate (store.UserAccessChanged).
	cur, err := a.svc.GetUser(r.Context(), p.User.ID)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	up := domain.UserPatch{
		FullName:    f.str("full_name", true),
		Department:  f.str("department", true),
		Goals:       f.strings("goals"),
		Preferences: f.object("preferences", cur.Preferences),
	}
	f.profile(&up, false)
	f.readOnly("cannot be changed by the user; an administrator can change it", "username", "email", "email_verified", "expires_at", "status", "roles", "session_limit",
		"phone_number_verified", "break_glass")
	f.readOnly("is changed with PUT /users/me/password", "password")
	f.readOnly("is read-only", userReadOnly()...)
	if err := f.done(); err != nil {
		return err
	}
	return a.applyUserPatch(w, r, p, p.User.ID, up)
}

func (a *API) setMyPassword(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		CurrentPassword string `json:"current_password"`
		Password        string `json:"password"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := a.svc.SetPassword(r.Context(), *p, p.User.ID, &in.CurrentPassword, in.Password); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) setUserPassword(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if err := a.svc.SetPassword(r.Context(), *p, mux.Vars(r)["id"], nil, in.Password); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// resetMFA removes every second factor, passkey and recovery code of the
// user, for one who lost them (domain.Service.ResetMFA).
func (a *API) resetMFA(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.ResetMFA(r.Context(), *p, mux.Vars(r)["id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	hard := false
	if s := r.URL.Query().Get("hard"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return invalidField("hard", "must be true or false")
		}
		hard = b
	}
	need := store.PermUsersWrite
	if hard {
		need = store.PermUsersDelete
	}
	if !p.Can(need) {
		return forbidden([]string{need})
	}
	if err := a.svc.DeleteUser(r.Context(), *p, mux.Vars(r)["id"], hard); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) setUserRoles(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in roleGrantsBody
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	grants, err := in.grants()
	if err != nil {
		return err
	}
	u, err := a.svc.SetUserRoleGrants(r.Context(), *p, mux.Vars(r)["id"], grants)
	if err != nil {
		return err
	}
	return a.writeUser(w, r, u)
}

func (a *API) setUserStatus(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	if in.Status == "" {
		return invalidField("status", "is required: active, locked or disabled")
	}
	u, err := a.svc.SetUserStatus(r.Context(), *p, mux.Vars(r)["id"], store.UserStatus(in.Status))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, u)
}

func (a *API) goalSuggestions(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	role := r.URL.Query().Get("role")
	if role == "" {
		return invalidField("role", "is required")
	}
	goals, err := a.svc.GoalSuggestions(r.Context(), role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Role  string   `json:"role"`
		Goals []string `json:"goals"`
	}{role, orEmpty(goals)})
	return nil
}

// Sessions.

func (a *API) listSessions(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := a.svc.GetUser(ctx, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	sessions, err := a.svc.ListSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	views := make([]SessionView, len(sessions))
	for i, s := range sessions {
		views[i] = NewSessionView(s)
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v SessionView) string {
		return newestFirst(v.AuthTime.UnixNano(), v.ID)
	}))
	return nil
}

// newestFirst is a key that sorts later times first, then by id.
func newestFirst(unixNano int64, id string) string {
	return fmt.Sprintf("%020d/%s", math.MaxInt64-unixNano, id)
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.RevokeSession(r.Context(), *p, mux.Vars(r)["id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) getIPRules(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	u, err := a.svc.GetUser(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domain.IPRulesOf(u))
	return nil
}

// setIPRules replaces both lists: a member left out is an empty list, so
// that what was sent is what holds.
func (a *API) setIPRules(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in domain.IPRules
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	u, err := a.svc.SetIPRules(r.Context(), *p, mux.Vars(r)["id"], in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domain.IPRulesOf(u))
	return nil
}
