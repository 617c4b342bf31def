package admin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestListItemEqualsSingleView: a user in a list is shown exactly as GET
// /users/{id} shows it, effective roles included (they come from the
// user's own roles, its groups' roles and the hierarchy).
func TestListItemEqualsSingleView(t *testing.T) {
	for name, newEnv := range map[string]func(*testing.T) *env{"memory": newMemoryEnv, "postgres": newPostgresEnv} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.signIn(t, e.createUser(t, "admin"))
			u := e.createUser(t, "viewer")
			other := e.createUser(t)
			grp := e.do(t, http.MethodPost, "/groups", tok, map[string]any{"name": "desk", "roles": []string{"manager"}})
			want(t, grp, http.StatusCreated, "POST /groups")
			for _, id := range []string{u.ID, other.ID} {
				want(t, e.do(t, http.MethodPut, "/groups/"+grp.str("id")+"/members/"+id, tok, nil), http.StatusNoContent, "add member")
			}

			single := e.do(t, http.MethodGet, "/users/"+u.ID, tok, nil)
			want(t, single, http.StatusOK, "GET /users/{id}")
			var one map[string]any
			single.decode(t, &one)
			roles, _ := json.Marshal(one["effective_roles"])
			if string(roles) != `["manager","user","viewer"]` {
				t.Errorf("single view effective_roles %s, want [manager user viewer]", roles)
			}

			list := e.do(t, http.MethodGet, "/users?group=desk", tok, nil)
			want(t, list, http.StatusOK, "GET /users?group=desk")
			var l struct {
				Items []map[string]any `json:"items"`
			}
			list.decode(t, &l)
			if len(l.Items) != 2 {
				t.Fatalf("group desk lists %d users, want 2: %s", len(l.Items), list.Raw)
			}
			for _, it := range l.Items {
				if it["id"] != u.ID {
					continue
				}
				if !reflect.DeepEqual(it, one) {
					t.Errorf("list item differs from the single view:\nlist   %v\nsingle %v", it, one)
				}
				return
			}
			t.Fatalf("user %s not in the list %s", u.ID, list.Raw)
		})
	}
}

// TestExpiredStatus: a user past expires_at is shown as expired, single and
// in lists, and ?status= filters on that effective status in the query, so
// pages stay exact.
func TestExpiredStatus(t *testing.T) {
	for name, newEnv := range map[string]func(*testing.T) *env{"memory": newMemoryEnv, "postgres": newPostgresEnv} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			tok := e.signIn(t, e.createUser(t, "admin"))
			past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
			expire := func(u *testUser, at time.Time) {
				t.Helper()
				u.ExpiresAt = &at
				if err := e.Store.UpdateUser(ctxT(t), u.User); err != nil {
					t.Fatalf("set expires_at: %v", err)
				}
			}
			var expired []string
			for range 3 {
				u := e.createUser(t, "viewer")
				expire(u, past)
				expired = append(expired, u.ID)
			}
			pending := e.createUserWith(t, store.StatusPending)
			expire(pending, past)
			expired = append(expired, pending.ID)
			later := e.createUser(t, "viewer")
			expire(later, future)
			locked := e.createUserWith(t, store.StatusLocked, "viewer")
			expire(locked, past)

			status := func(id string) string {
				t.Helper()
				r := e.do(t, http.MethodGet, "/users/"+id, tok, nil)
				want(t, r, http.StatusOK, "GET /users/{id}")
				return r.str("status")
			}
			for _, id := range expired {
				if s := status(id); s != "expired" {
					t.Errorf("user %s past expires_at has status %q, want expired", id, s)
				}
			}
			if s := status(later.ID); s != "active" {
				t.Errorf("user before expires_at has status %q, want active", s)
			}
			if s := status(locked.ID); s != "locked" {
				t.Errorf("locked user past expires_at has status %q, want locked", s)
			}

			// ?status=expired one item a page: every page full, each
			// expired user once.
			var walked []string
			cursor := ""
			for range 10 {
				r := e.do(t, http.MethodGet, "/users?status=expired&limit=1&cursor="+cursor, tok, nil)
				want(t, r, http.StatusOK, "GET /users?status=expired")
				var l struct {
					Items []struct {
						ID     string `json:"id"`
						Status string `json:"status"`
					} `json:"items"`
					NextCursor string `json:"next_cursor"`
				}
				r.decode(t, &l)
				if len(l.Items) != 1 && l.NextCursor != "" {
					t.Fatalf("a page of %d items with a next cursor: %s", len(l.Items), r.Raw)
				}
				for _, it := range l.Items {
					if it.Status != "expired" {
						t.Errorf("?status=expired listed %s with status %s", it.ID, it.Status)
					}
					walked = append(walked, it.ID)
				}
				if l.NextCursor == "" {
					break
				}
				cursor = l.NextCursor
			}
			slices.Sort(walked)
			slices.Sort(expired)
			if !slices.Equal(walked, expired) {
				t.Errorf("?status=expired walked %v, want %v", walked, expired)
			}

			r := e.do(t, http.MethodGet, "/users?status=active&limit=200", tok, nil)
			want(t, r, http.StatusOK, "GET /users?status=active")
			var active struct {
				Items []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"items"`
			}
			r.decode(t, &active)
			for _, it := range active.Items {
				if it.Status != "active" || slices.Contains(expired, it.ID) {
					t.Errorf("?status=active listed %s with status %s", it.ID, it.Status)
				}
			}
			if len(active.Items) != 2 { // the admin and later
				t.Errorf("?status=active listed %d users, want 2: %s", len(active.Items), r.Raw)
			}

			bad := e.do(t, http.MethodGet, "/users?status=gone", tok, nil)
			want(t, bad, http.StatusUnprocessableEntity, "GET /users?status=gone")
			if f := bad.problem(t).fields(); !slices.Equal(f, []string{"status"}) {
				t.Errorf("?status=gone: problem names %v, want [status]", f)
			}
		})
	}
}

// TestLockoutVisibleToAdmins: failed passwords from many addresses lock a
// user out (the account-wide threshold); the user view says until when
// (while the sign-in page says only "invalid"), and says nothing once the
// lockout is over.
func TestLockoutVisibleToAdmins(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))
	u := e.createUser(t, "viewer")
	lockout := config.Default().Login
	before := time.Now()
	// Each address stays below its own threshold; together they reach the
	// account's.
	for i := range lockout.AccountMaxFailures {
		ip := fmt.Sprintf("192.0.2.%d", i/(lockout.MaxFailures-1))
		if _, err := e.Svc.Authenticate(ctxT(t), u.Username, "not-the-password", ip); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	if _, err := e.trySignIn(t, u); !errors.Is(err, errSignInRefused) {
		t.Fatalf("right password while locked out: %v, want the login page again", err)
	}

	r := e.do(t, http.MethodGet, "/users/"+u.ID, tok, nil)
	want(t, r, http.StatusOK, "GET /users/{id}")
	until, err := time.Parse(time.RFC3339Nano, r.str("locked_until"))
	if err != nil {
		t.Fatalf("locked_until %q after %d failed passwords: %v; body %s", r.str("locked_until"), lockout.AccountMaxFailures, err, r.Raw)
	}
	if lo, hi := before.Add(lockout.Lockout-time.Minute), time.Now().Add(lockout.Lockout+time.Second); until.Before(lo) || until.After(hi) {
		t.Errorf("locked_until %v, want about %v from now", until, lockout.Lockout)
	}
	if r.str("status") != "active" {
		t.Errorf("a lockout changed the status to %q: it is not a status", r.str("status"))
	}
	list := e.do(t, http.MethodGet, "/users?q="+u.Username, tok, nil)
	want(t, list, http.StatusOK, "GET /users?q=")
	if !strings.Contains(string(list.Raw), `"locked_until":"`) {
		t.Errorf("the list item does not show locked_until: %s", list.Raw)
	}

	// The lockout is over: the record keeps the old time, the view does
	// not show it.
	stored, err := e.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	over := time.Now().Add(-time.Second)
	stored.LockedUntil = &over
	if err := e.Store.UpdateUser(ctxT(t), stored); err != nil {
		t.Fatal(err)
	}
	r = e.do(t, http.MethodGet, "/users/"+u.ID, tok, nil)
	want(t, r, http.StatusOK, "GET /users/{id}")
	if _, ok := r.JSON["locked_until"]; ok {
		t.Errorf("locked_until shown after the lockout ended: %s", r.Raw)
	}
}

type userPage struct {
	Items []struct {
		ID        string    `json:"id"`
		Username  string    `json:"username"`
		CreatedAt time.Time `json:"created_at"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// walkUsers follows next_cursor from the first page of query and returns
// the ids in the order listed.
func (e *env) walkUsers(t *testing.T, tok, query string) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for range 1000 {
		r := e.do(t, http.MethodGet, "/users?"+query+"&cursor="+cursor, tok, nil)
		want(t, r, http.StatusOK, "GET /users?"+query)
		var pg userPage
		r.decode(t, &pg)
		for _, it := range pg.Items {
			ids = append(ids, it.ID)
		}
		if pg.NextCursor == "" {
			return ids
		}
		cursor = pg.NextCursor
	}
	t.Fatalf("GET /users?%s: pages do not end", query)
	return nil
}

// TestListUsersSorted: newest (or oldest) first with sort=created_at,
// ties at one instant broken by id, the default order unchanged, and
// wrong parameters named in a 422.
func TestListUsersSorted(t *testing.T) {
	for name, newEnv := range map[string]func(*testing.T) *env{"memory": newMemoryEnv, "postgres": newPostgresEnv} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			admin := e.createUser(t, "admin")
			tok := e.signIn(t, admin)
			all := []store.User{admin.User}
			base := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
			for i := range 9 {
				u := e.createUser(t, "viewer")
				// Three instants, three users each.
				u.CreatedAt = base.Add(time.Duration(i/3) * time.Minute)
				if err := e.Store.DeleteUser(ctxT(t), u.ID); err != nil {
					t.Fatal(err)
				}
				if err := e.Store.CreateUser(ctxT(t), u.User); err != nil {
					t.Fatal(err)
				}
				all = append(all, u.User)
			}
			order := func(desc bool, key func(a, b store.User) int) []string {
				s := slices.Clone(all)
				slices.SortFunc(s, func(a, b store.User) int {
					if desc {
						return key(b, a)
					}
					return key(a, b)
				})
				var ids []string
				for _, u := range s {
					ids = append(ids, u.ID)
				}
				return ids
			}
			byCreated := func(a, b store.User) int {
				if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
					return c
				}
				return strings.Compare(a.ID, b.ID)
			}
			byName := func(a, b store.User) int { return strings.Compare(a.Username, b.Username) }
			for _, tc := range []struct {
				query string
				want  []string
			}{
				{"sort=created_at&order=desc", order(true, byCreated)},
				{"sort=created_at&order=asc", order(false, byCreated)},
				{"sort=created_at", order(false, byCreated)},
				{"order=desc", order(true, byName)},
				{"sort=username", order(false, byName)},
				{"", order(false, byName)},
			} {
				for _, limit := range []string{"1", "2", "200"} {
					got := e.walkUsers(t, tok, tc.query+"&limit="+limit)
					if !slices.Equal(got, tc.want) {
						t.Errorf("%s, %s a page: %v, want %v", tc.query, limit, got, tc.want)
					}
				}
			}

			for _, tc := range []struct {
				query  string
				fields []string
			}{
				{"sort=email", []string{"sort"}},
				{"order=newest", []string{"order"}},
				{"sort=name&order=up", []string{"sort", "order"}},
			} {
				r := e.do(t, http.MethodGet, "/users?"+tc.query, tok, nil)
				want(t, r, http.StatusUnprocessableEntity, "GET /users?"+tc.query)
				if f := r.problem(t).fields(); !slices.Equal(f, tc.fields) {
					t.Errorf("%s: problem names %v, want %v", tc.query, f, tc.fields)
				}
			}
			// A cursor is good only in the order it was made for.
			r := e.do(t, http.MethodGet, "/users?sort=created_at&order=desc&limit=1", tok, nil)
			want(t, r, http.StatusOK, "first page newest first")
			cur := r.str("next_cursor")
			for _, q := range []string{"", "sort=created_at&order=asc", "order=desc"} {
				r := e.do(t, http.MethodGet, "/users?"+q+"&cursor="+cur, tok, nil)
				want(t, r, http.StatusUnprocessableEntity, "a newest-first cursor with "+q)
				if f := r.problem(t).fields(); !slices.Equal(f, []string{"cursor"}) {
					t.Errorf("cursor with %q: problem names %v, want [cursor]", q, f)
				}
			}
		})
	}
}

// TestListUsersNewestFirstWhileInserting pages newest first while users
// are being created, some at the very instants of existing ones: each user
// that existed before the first page is listed once, and none twice.
func TestListUsersNewestFirstWhileInserting(t *testing.T) {
	for name, newEnv := range map[string]func(*testing.T) *env{"memory": newMemoryEnv, "postgres": newPostgresEnv} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			admin := e.createUser(t, "admin")
			tok := e.signIn(t, admin)
			base := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Hour)
			at := func(i int) time.Time { return base.Add(time.Duration(i%6) * time.Second) }
			existing := []string{admin.ID}
			mk := func(i int) (store.User, error) {
				now := time.Now().UTC()
				u := store.User{ID: newUUID(t), Username: "w-" + randomHex(t, 6), Status: store.StatusActive,
					CreatedAt: at(i), UpdatedAt: now}
				u.Email = u.Username + "@example.com"
				return u, e.Store.CreateUser(ctxT(t), u)
			}
			for i := range 30 {
				u, err := mk(i)
				if err != nil {
					t.Fatal(err)
				}
				existing = append(existing, u.ID)
			}

			for _, query := range []string{"sort=created_at&order=desc&limit=3", "sort=created_at&order=asc&limit=3"} {
				errs := make(chan error, 3)
				var wg sync.WaitGroup
				for range 3 {
					wg.Go(func() {
						for i := range 20 {
							if _, err := mk(i * 7); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				walked := e.walkUsers(t, tok, query)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatalf("concurrent insert: %v", err)
				}
				seen := map[string]int{}
				for _, id := range walked {
					seen[id]++
				}
				for id, n := range seen {
					if n != 1 {
						t.Errorf("%s: user %s listed %d times", query, id, n)
					}
				}
				for _, id := range existing {
					if seen[id] != 1 {
						t.Errorf("%s: user %s, there before the first page, listed %d times", query, id, seen[id])
					}
				}
			}
		})
	}
}
