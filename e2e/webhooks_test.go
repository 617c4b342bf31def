package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
)

// Events and webhooks. Each test runs its servers on a database of its
// own: the outbox is a table every worker of a database claims from.

// webhookServer starts a gatehouse whose webhook worker polls and retries
// fast, on dbURL ("" for a new database).
func webhookServer(t *testing.T, dbURL string, mutate func(*config.Config)) *testServer {
	t.Helper()
	if dbURL == "" {
		dbURL = pgtest.NewDatabase(t)
	}
	return startServer(t, func(c *config.Config) {
		c.DatabaseURL = dbURL
		c.Webhooks.PollInterval = 20 * time.Millisecond
		c.Webhooks.BackoffBase = 20 * time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	})
}

// hookRequest is one POST a receiver got, with what its verification found.
type hookRequest struct {
	ID, Timestamp string
	Body          []byte
	// Problem is why the request fails the Standard Webhooks check; "" if
	// it passes.
	Problem string
	Status  int
}

// hookReceiver is a subscriber's endpoint: a real HTTP server that verifies
// every request as the Standard Webhooks specification says, and answers
// as behave tells for the n-th request (from 1): a status, after a delay.
type hookReceiver struct {
	srv    *httptest.Server
	behave func(n int) (status int, delay time.Duration)

	mu       sync.Mutex
	secret   string
	requests []hookRequest
}

func newHookReceiver(t *testing.T, behave func(n int) (int, time.Duration)) *hookReceiver {
	t.Helper()
	r := &hookReceiver{behave: behave}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is http on 127.0.0.1, which the subscription rule allows (loopback).
func (r *hookReceiver) URL() string { return r.srv.URL + "/hooks" }

func (r *hookReceiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	secret := r.secret
	got := hookRequest{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"), Body: body}
	switch {
	case req.Method != http.MethodPost || req.URL.Path != "/hooks":
		got.Problem = req.Method + " " + req.URL.Path
	case req.Header.Get("Content-Type") != "application/json":
		got.Problem = "content type " + req.Header.Get("Content-Type")
	default:
		if err := verifyStandardWebhook(secret, req.Header, body, time.Now()); err != nil {
			got.Problem = err.Error()
		}
	}
	n := len(r.requests) + 1
	status, delay := r.behave(n)
	got.Status = status
	r.requests = append(r.requests, got)
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

func (r *hookReceiver) snapshot() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// waitFor polls (with a deadline, never a fixed sleep) until cond holds of
// the requests so far, and returns them.
func (r *hookReceiver) waitFor(t *testing.T, what string, cond func([]hookRequest) bool) []hookRequest {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		reqs := r.snapshot()
		for _, q := range reqs {
			if q.Problem != "" {
				t.Fatalf("the receiver got a request that fails verification: %s", q.Problem)
			}
		}
		if cond(reqs) {
			return reqs
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 20s the receiver did not see %s; it got %d requests", what, len(reqs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func accepted(reqs []hookRequest) int {
	n := 0
	for _, q := range reqs {
		if q.Status >= 200 && q.Status < 300 {
			n++
		}
	}
	return n
}

// verifyStandardWebhook is a receiver's check, written from the Standard
// Webhooks specification rather than from our sender: the key is the
// base64 after whsec_; the signed content is "{id}.{timestamp}.{body}";
// webhook-signature holds space-separated "v1,<base64 HMAC-SHA256>"
// entries, one of which must match (compared in constant time); the
// timestamp must be within five minutes of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %s from now", ts, d)
	}
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return fmt.Errorf("secret %q lacks whsec_", secret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("secret is not base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature in %q matches", sigs)
}

// subscribe creates a subscription to eventTypes at url and returns its id
// and secret, checking the secret's format and that it is shown only here.
func subscribe(t *testing.T, ts *testServer, token, url string, eventTypes ...string) (string, string) {
	t.Helper()
	r := apiCall(t, ts, http.MethodPost, "/api/v1/webhooks", token, map[string]any{
		"url": url, "event_types": eventTypes, "description": "test receiver"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", r.Status, r.Raw)
	}
	id, secret := r.str("id"), r.str("secret")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("secret %q is not whsec_ and the base64 of 32 bytes", secret)
	}
	ts.secret(secret, strings.TrimPrefix(secret, "whsec_"))
	for _, path := range []string{"/api/v1/webhooks/" + id, "/api/v1/webhooks"} {
		got := apiCall(t, ts, http.MethodGet, path, token, nil)
		if got.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, got.Status, got.Raw)
		}
		if strings.Contains(got.Raw, strings.TrimPrefix(secret, "whsec_")) || strings.Contains(got.Raw, `"secret"`) {
			t.Fatalf("GET %s shows the secret after creation: %s", path, got.Raw)
		}
	}
	return id, secret
}

// deliveryLog reads a subscription's delivery log through the API.
func deliveryLog(t *testing.T, ts *testServer, token, id string) []map[string]any {
	t.Helper()
	r := apiCall(t, ts, http.MethodGet, "/api/v1/webhooks/"+id+"/deliveries", token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("delivery log: %d %s", r.Status, r.Raw)
	}
	var out []map[string]any
	items, _ := r.JSON["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

type hookEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      struct {
		AuditID int64  `json:"audit_id"`
		Action  string `json:"action"`
		Actor   struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"actor"`
		Target struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"target"`
		Changes map[string]map[string]any `json:"changes"`
		IP      string                    `json:"ip"`
	} `json:"data"`
}

// TestWebhookDeliversSignedUserCreateAfterFailures: a user made through the
// API is an event; the subscriber gets it signed with its secret, after
// two 500s, with the same webhook-id and body on every attempt, and the
// delivery log shows the three attempts.
func TestWebhookDeliversSignedUserCreateAfterFailures(t *testing.T) {
	ts := webhookServer(t, "", nil)
	admin := ts.createUser(t, "admin")
	token := apiTokenFor(t, ts, admin)
	recv := newHookReceiver(t, func(n int) (int, time.Duration) {
		if n <= 2 {
			return http.StatusInternalServerError, 0
		}
		return http.StatusNoContent, 0
	})
	id, secret := subscribe(t, ts, token, recv.URL(), "user.*")
	recv.setSecret(secret)

	username := "hooked-" + randomHex(t, 4)
	created := apiCall(t, ts, http.MethodPost, "/api/v1/users", token, map[string]any{
		"username": username, "email": username + "@example.com", "password": "correct horse battery staple"})
	if created.Status != http.StatusCreated {
		t.Fatalf("create user: %d %s", created.Status, created.Raw)
	}
	userID := created.str("id")

	reqs := recv.waitFor(t, "the event accepted", func(r []hookRequest) bool { return accepted(r) >= 1 })
	if len(reqs) != 3 {
		t.Fatalf("the receiver got %d requests, want 3 (two 500s, then 204)", len(reqs))
	}
	for _, q := range reqs[1:] {
		if q.ID != reqs[0].ID || string(q.Body) != string(reqs[0].Body) {
			t.Fatalf("a retry changed webhook-id or body: %q %s vs %q %s", q.ID, q.Body, reqs[0].ID, reqs[0].Body)
		}
	}
	var ev hookEvent
	if err := json.Unmarshal(reqs[0].Body, &ev); err != nil {
		t.Fatalf("body: %v\n%s", err, reqs[0].Body)
	}
	if ev.Type != "user.create" || ev.Data.Action != "user.create" || ev.Data.Target.Type != "user" || ev.Data.Target.ID != userID {
		t.Fatalf("event = %+v, want user.create of %s", ev, userID)
	}
	if ev.Data.Actor.Type != "user" || ev.Data.Actor.ID != admin.ID || ev.Data.IP != "127.0.0.1" || ev.Data.AuditID <= 0 {
		t.Fatalf("event actor/ip/audit id = %+v", ev.Data)
	}
	if ev.Data.Changes["username"]["after"] != username || ev.Timestamp.IsZero() {
		t.Fatalf("event changes = %v, timestamp %v", ev.Data.Changes, ev.Timestamp)
	}
	if strings.Contains(string(reqs[0].Body), "correct horse") {
		t.Fatal("the event carries the password")
	}

	d := waitDelivered(t, ts, token, id)
	if d["event_id"] != reqs[0].ID || d["event_type"] != "user.create" || d["state"] != "delivered" ||
		d["attempts"] != float64(3) || d["last_status_code"] != float64(204) || d["delivered_at"] == nil ||
		d["last_error"] != "receiver answered HTTP 500" || d["next_attempt_at"] != nil {
		t.Fatalf("delivery log row = %v", d)
	}
}

// TestWebhookReceiverTimingOutThenRecovering: an attempt that gets no
// answer within webhooks.timeout fails and is retried; the next is
// accepted.
func TestWebhookReceiverTimingOutThenRecovering(t *testing.T) {
	ts := webhookServer(t, "", func(c *config.Config) { c.Webhooks.Timeout = 200 * time.Millisecond })
	admin := ts.createUser(t, "admin")
	token := apiTokenFor(t, ts, admin)
	recv := newHookReceiver(t, func(n int) (int, time.Duration) {
		if n == 1 {
			return http.StatusOK, 3 * time.Second // past the timeout
		}
		return http.StatusOK, 0
	})
	id, secret := subscribe(t, ts, token, recv.URL(), "user.create")
	recv.setSecret(secret)
	u := "slow-" + randomHex(t, 4)
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/users", token, map[string]any{"username": u, "email": u + "@example.com"}); r.Status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.Status, r.Raw)
	}
	reqs := recv.waitFor(t, "a second attempt", func(r []hookRequest) bool { return len(r) >= 2 })
	if reqs[0].ID != reqs[1].ID {
		t.Fatalf("webhook-id changed across the retry: %q, %q", reqs[0].ID, reqs[1].ID)
	}
	if d := waitDelivered(t, ts, token, id); d["attempts"] != float64(2) || d["last_error"] != "no answer within 200ms" {
		t.Fatalf("delivery log row = %v", d)
	}
}

// waitDelivered polls the subscription's delivery log until its one row is
// finished (the worker records the answer just after the receiver gives
// it), and returns that row.
func waitDelivered(t *testing.T, ts *testServer, token, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		log := deliveryLog(t, ts, token, id)
		if len(log) > 1 {
			t.Fatalf("delivery log has %d rows, want 1: %v", len(log), log)
		}
		if len(log) == 1 && log[0]["state"] != "pending" {
			return log[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished within 20s: %v", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookDeliveredAfterGatehouseRestarts: the event is queued while the
// receiver is down; gatehouse stops, a new one starts on the same
// database, the receiver comes back: the event arrives, with its id.
func TestWebhookDeliveredAfterGatehouseRestarts(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	first := webhookServer(t, dbURL, nil)
	admin := first.createUser(t, "admin")
	token := apiTokenFor(t, first, admin)
	var mu sync.Mutex
	up := false
	recv := newHookReceiver(t, func(int) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return http.StatusOK, 0
		}
		return http.StatusServiceUnavailable, 0
	})
	id, secret := subscribe(t, first, token, recv.URL(), "user.*")
	recv.setSecret(secret)
	u := "restart-" + randomHex(t, 4)
	if r := apiCall(t, first, http.MethodPost, "/api/v1/users", token, map[string]any{"username": u, "email": u + "@example.com"}); r.Status != http.StatusCreated {
		t.Fatalf("create user: %d %s", r.Status, r.Raw)
	}
	failed := recv.waitFor(t, "two failed attempts", func(r []hookRequest) bool { return len(r) >= 2 })
	first.Server.Close() // the worker stops; the rows stay

	mu.Lock()
	up = true
	mu.Unlock()
	second := webhookServer(t, dbURL, nil)
	second.secret(secret, strings.TrimPrefix(secret, "whsec_"))
	reqs := recv.waitFor(t, "the event accepted by the new instance", func(r []hookRequest) bool { return accepted(r) >= 1 })
	var ok hookRequest
	for _, q := range reqs {
		if q.Status == http.StatusOK {
			ok = q
		}
	}
	if ok.ID != failed[0].ID {
		t.Fatalf("the restarted delivery has webhook-id %q, the failed ones %q", ok.ID, failed[0].ID)
	}
	var ev hookEvent
	if err := json.Unmarshal(ok.Body, &ev); err != nil || ev.Type != "user.create" {
		t.Fatalf("delivered body %s (%v), want user.create", ok.Body, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		log, err := second.Store.ListWebhookDeliveries(ctxT(t), id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) == 1 && log[0].State == store.WebhookDelivered {
			// A claim the stopping worker handed back unattempted counts
			// too: at least every request the receiver saw.
			if log[0].Attempts < len(reqs) {
				t.Fatalf("the log counts %d attempts, the receiver saw %d", log[0].Attempts, len(reqs))
			}
			return
		}
		if len(log) != 1 || time.Now().After(deadline) {
			t.Fatalf("delivery log after the restart = %+v", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookSubscriptionValidation: the refused inputs are 422 naming the
// field; the secret is write-never and rotates.
func TestWebhookSubscriptionValidation(t *testing.T) {
	ts := webhookServer(t, "", nil)
	token := apiTokenFor(t, ts, ts.createUser(t, "admin"))
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"http to a non-loopback host", map[string]any{"url": "http://hooks.example/in", "event_types": []string{"*"}}, "url"},
		{"no url", map[string]any{"event_types": []string{"*"}}, "url"},
		{"ftp", map[string]any{"url": "ftp://hooks.example/in", "event_types": []string{"*"}}, "url"},
		{"unknown pattern", map[string]any{"url": "https://hooks.example/in", "event_types": []string{"nosuch.*"}}, "event_types[0]"},
		{"unknown action", map[string]any{"url": "https://hooks.example/in", "event_types": []string{"user.*", "user.nonsense"}}, "event_types[1]"},
		{"pattern in the middle", map[string]any{"url": "https://hooks.example/in", "event_types": []string{"user.*.x"}}, "event_types[0]"},
		{"no event types", map[string]any{"url": "https://hooks.example/in", "event_types": []string{}}, "event_types"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := apiCall(t, ts, http.MethodPost, "/api/v1/webhooks", token, c.body)
			wantFieldError(t, r, c.field)
		})
	}
	id, secret := subscribe(t, ts, token, "https://hooks.example/in", "user.*")
	wantFieldError(t, apiCall(t, ts, http.MethodPatch, "/api/v1/webhooks/"+id, token, map[string]any{"secret": "whsec_x"}), "secret")
	wantFieldError(t, apiCall(t, ts, http.MethodPatch, "/api/v1/webhooks/"+id, token, map[string]any{"url": "http://10.0.0.1/x"}), "url")
	p := apiCall(t, ts, http.MethodPatch, "/api/v1/webhooks/"+id, token, map[string]any{"enabled": false, "event_types": []string{"role.*", "*"}})
	if p.Status != http.StatusOK || p.JSON["enabled"] != false || strings.Contains(p.Raw, `"secret"`) {
		t.Fatalf("patch: %d %s", p.Status, p.Raw)
	}
	rot := apiCall(t, ts, http.MethodPost, "/api/v1/webhooks/"+id+"/rotate-secret", token, nil)
	if rot.Status != http.StatusOK || !strings.HasPrefix(rot.str("secret"), "whsec_") || rot.str("secret") == secret {
		t.Fatalf("rotate: %d %s", rot.Status, rot.Raw)
	}
	ts.secret(rot.str("secret"))
	// The audit log records the rotation, never the secret.
	audit := apiCall(t, ts, http.MethodGet, "/api/v1/audit?action=webhook.", token, nil)
	if audit.Status != http.StatusOK || !strings.Contains(audit.Raw, "webhook.rotate_secret") || strings.Contains(audit.Raw, "whsec_") {
		t.Fatalf("audit: %d %s", audit.Status, audit.Raw)
	}
	if r := apiCall(t, ts, http.MethodDelete, "/api/v1/webhooks/"+id, token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if r := apiCall(t, ts, http.MethodGet, "/api/v1/webhooks/"+id+"/deliveries", token, nil); r.Status != http.StatusNotFound {
		t.Fatalf("deliveries of a deleted subscription: %d %s", r.Status, r.Raw)
	}
}

func wantFieldError(t *testing.T, r oauthResponse, field string) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", r.Status, r.Raw)
	}
	errs, _ := r.JSON["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return
		}
	}
	t.Fatalf("the 422 does not name %s: %s", field, r.Raw)
}
