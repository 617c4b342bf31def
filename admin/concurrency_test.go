package admin_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestConcurrencyMemory(t *testing.T)   { runConcurrency(t, newMemoryEnv(t)) }
func TestConcurrencyPostgres(t *testing.T) { runConcurrency(t, newPostgresEnv(t)) }

func runConcurrency(t *testing.T, e *env) {
	admin := e.createUser(t, "admin")
	tok := e.signIn(t, admin)

	t.Run("20 creates of one username", func(t *testing.T) {
		const n = 20
		name := "race-" + randomHex(t, 4)
		statuses := parallel(t, n, func(i int) apiRequest {
			// Distinct emails: only the username collides.
			return apiRequest{Method: http.MethodPost, Path: "/users", Token: tok, Body: map[string]any{
				"username": name, "email": name + "-" + randomHex(t, 3) + "@example.com", "password": "Long-Enough-Passphrase-3"}}
		}, e)
		if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != n-1 {
			t.Fatalf("statuses %v, want exactly one 201 and %d 409", statuses, n-1)
		}
		users, err := e.Store.ListUsers(ctxT(t), store.UserFilter{Query: name, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 1 {
			t.Fatalf("%d users named %s in the store, want 1", len(users), name)
		}
		if _, err := e.Store.GetUserByUsername(ctxT(t), name); err != nil {
			t.Fatalf("the winner is not stored: %v", err)
		}
	})

	t.Run("concurrent approve and deny", func(t *testing.T) {
		for round := range 5 {
			u := e.createUserWith(t, store.StatusPending)
			req, err := e.Svc.SubmitAccessRequest(ctxT(t), domain.CLIActor(), u.ID, "viewer", "Reads the dashboards")
			if err != nil {
				t.Fatal(err)
			}
			bodies := []apiRequest{
				{Method: http.MethodPost, Path: "/access-requests/" + req.ID + "/approve", Token: tok, Body: map[string]any{"comment": "ok"}},
				{Method: http.MethodPost, Path: "/access-requests/" + req.ID + "/deny", Token: tok, Body: map[string]any{"comment": "no"}},
			}
			statuses := parallel(t, 2, func(i int) apiRequest { return bodies[i] }, e)
			if statuses[http.StatusOK] != 1 || statuses[http.StatusConflict] != 1 {
				t.Fatalf("round %d: statuses %v, want one 200 and one 409", round, statuses)
			}
			got, err := e.iam(t).GetAccessRequest(ctxT(t), req.ID)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := e.Store.GetUser(ctxT(t), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			// The user's state follows the winner, and only the winner.
			switch got.Status {
			case store.RequestApproved:
				if stored.Status != store.StatusActive {
					t.Errorf("round %d: approved but user is %s", round, stored.Status)
				}
			case store.RequestDenied:
				if stored.Status != store.StatusPending || len(stored.Roles) != 0 {
					t.Errorf("round %d: denied but user is %s with roles %v", round, stored.Status, stored.Roles)
				}
			default:
				t.Errorf("round %d: request is %s", round, got.Status)
			}
			// A decision after the fact is a 409 too.
			r := e.do(t, http.MethodPost, "/access-requests/"+req.ID+"/deny", tok, map[string]any{"comment": "late"})
			want(t, r, http.StatusConflict, "a second decision")
		}
	})
}

// parallel sends n requests at once and counts the statuses.
func parallel(t *testing.T, n int, build func(i int) apiRequest, e *env) map[int]int {
	t.Helper()
	reqs := make([]apiRequest, n)
	for i := range reqs {
		reqs[i] = build(i)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		out   = map[int]int{}
		errs  []error
	)
	ctx := ctxT(t)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := e.call(ctx, reqs[i])
			mu.Lock()
			defer mu.Unlock()
			if r.Err != nil {
				errs = append(errs, r.Err)
				return
			}
			out[r.Status]++
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("request: %v", err)
	}
	return out
}
