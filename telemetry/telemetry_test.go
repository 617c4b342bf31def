package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/scrape"
	"github.com/gatehouse/gatehouse/store/postgres"
	"github.com/gatehouse/gatehouse/telemetry"
)

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// requests returns the "http request" lines.
func (l *logBuffer) requests(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if line["msg"] == "http request" {
			out = append(out, line)
		}
	}
	return out
}

// app stands for the router: /users/{id} is a route, /health a quiet one,
// /boom fails, /abort panics the way net/http aborts a response, anything
// else is not found.
func app() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/users/"):
			telemetry.SetRoute(r, "/users/{id}")
			_, _ = io.WriteString(w, "user")
		case r.URL.Path == "/id":
			telemetry.SetRoute(r, "/id")
			_, _ = io.WriteString(w, telemetry.RequestID(r.Context()))
		case r.URL.Path == "/health":
			telemetry.SetRoute(r, "/health")
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/boom":
			telemetry.SetRoute(r, "/boom")
			http.Error(w, "internal error", http.StatusInternalServerError)
		case r.URL.Path == "/abort":
			telemetry.SetRoute(r, "/abort")
			panic(http.ErrAbortHandler)
		default:
			http.NotFound(w, r)
		}
	})
}

type env struct {
	t       *testing.T
	tel     *telemetry.Telemetry
	logs    *logBuffer
	app     *httptest.Server
	metrics *httptest.Server
}

func newEnv(t *testing.T, opts telemetry.Options) *env {
	t.Helper()
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tel, err := telemetry.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	e := &env{t: t, tel: tel, logs: logs, app: httptest.NewServer(tel.Middleware(app())), metrics: httptest.NewServer(tel.Handler())}
	t.Cleanup(e.app.Close)
	t.Cleanup(e.metrics.Close)
	return e
}

func (e *env) get(path string, header ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.app.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := http.DefaultClient
	if path == "/abort" {
		// A fresh connection: on a reused one the transport would retry
		// the dropped GET, and the server would count it twice.
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	resp, err := client.Do(req)
	if err != nil {
		if path == "/abort" {
			return nil // the server dropped the connection, as it should
		}
		e.t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (e *env) scrape() scrape.Families {
	e.t.Helper()
	return scrape.Fetch(e.t, e.metrics.URL)
}

// Requests are counted and timed by route template, never by raw path;
// requests no route served share the "unmatched" label.
func TestRequestMetricsByRouteTemplate(t *testing.T) {
	e := newEnv(t, telemetry.Options{})
	e.get("/users/1?token=s3cr3t")
	e.get("/users/2")
	e.get("/no/such/page")
	e.get("/boom")
	e.get("/abort")

	m := e.scrape()
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"method", "GET", "route", "/users/{id}", "status", "200"}, 2},
		{[]string{"method", "GET", "route", "unmatched", "status", "404"}, 1},
		{[]string{"method", "GET", "route", "/boom", "status", "500"}, 1},
		{[]string{"method", "GET", "route", "/abort", "status", "500"}, 1},
	} {
		if got, ok := m.Value("gatehouse_http_requests_total", c.labels...); !ok || got != c.want {
			t.Errorf("gatehouse_http_requests_total%v = %v (found %v), want %v; series %v",
				c.labels, got, ok, c.want, m.Series("gatehouse_http_requests_total"))
		}
	}
	if got, ok := m.Value("gatehouse_http_request_duration_seconds", "method", "GET", "route", "/users/{id}"); !ok || got != 2 {
		t.Errorf("duration histogram count for /users/{id} = %v (found %v), want 2", got, ok)
	}
	for _, s := range append(m.Series("gatehouse_http_requests_total"), m.Series("gatehouse_http_request_duration_seconds")...) {
		if strings.Contains(s, "/users/1") || strings.Contains(s, "/no/such") || strings.Contains(s, "s3cr3t") {
			t.Errorf("a raw path is a label: %s", s)
		}
	}
}

// One line per request at info (probes at debug, failures at error) with
// method, route template, status, duration and request id, and neither the
// path nor the query.
func TestRequestLog(t *testing.T) {
	e := newEnv(t, telemetry.Options{QuietRoutes: []string{"/health"}})
	resp := e.get("/users/42?code=s3cr3t-code&token=s3cr3t-token")
	e.get("/health")
	e.get("/boom")

	lines := e.logs.requests(t)
	if len(lines) != 3 {
		t.Fatalf("%d request lines, want 3:\n%s", len(lines), e.logs.String())
	}
	user := lines[0]
	want := map[string]any{"level": "INFO", "method": "GET", "route": "/users/{id}", "status": float64(200),
		"request_id": resp.Header.Get("X-Request-Id")}
	for k, v := range want {
		if user[k] != v {
			t.Errorf("log %s = %v, want %v (line %v)", k, user[k], v, user)
		}
	}
	if d, ok := user["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", user["duration_ms"])
	}
	if lines[1]["level"] != "DEBUG" || lines[1]["route"] != "/health" {
		t.Errorf("probe line %v, want DEBUG", lines[1])
	}
	if lines[2]["level"] != "ERROR" || lines[2]["status"] != float64(500) {
		t.Errorf("failure line %v, want ERROR", lines[2])
	}
	for _, leak := range []string{"s3cr3t", "/users/42", "code=", "token="} {
		if strings.Contains(e.logs.String(), leak) {
			t.Errorf("the log contains %q:\n%s", leak, e.logs.String())
		}
	}
}

// A sane incoming X-Request-Id (a proxy's) is kept and echoed; a missing or
// unsafe one is replaced with a fresh random id.
func TestRequestID(t *testing.T) {
	e := newEnv(t, telemetry.Options{})
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	cases := []struct {
		name, in string
		kept     bool
	}{
		{"uuid", "3f2b8c1e-9a4d-4e7f-8b6a-1c2d3e4f5a6b", true},
		{"proxy style", "req_01HX.abc:7", true},
		{"missing", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"log injection", "abc\" level=ERROR", false},
		{"spaces", "a b", false},
		{"non-ascii", "réq", false},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var resp *http.Response
			if c.in == "" {
				resp = e.get("/users/1")
			} else {
				resp = e.get("/users/1", "X-Request-Id", c.in)
			}
			got := resp.Header.Get("X-Request-Id")
			if c.kept {
				if got != c.in {
					t.Errorf("X-Request-Id %q, want the incoming %q echoed", got, c.in)
				}
				return
			}
			if !generated.MatchString(got) {
				t.Errorf("X-Request-Id %q, want a generated 32-hex id", got)
			}
			if seen[got] {
				t.Errorf("generated id %q twice", got)
			}
			seen[got] = true
		})
	}
	// Handlers read the id from the context (for their own log lines).
	req, _ := http.NewRequest(http.MethodGet, e.app.URL+"/id", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != resp.Header.Get("X-Request-Id") || len(body) == 0 {
		t.Errorf("RequestID in the handler %q, header %q", body, resp.Header.Get("X-Request-Id"))
	}
	if telemetry.RequestID(context.Background()) != "" {
		t.Error("RequestID outside a request is not empty")
	}
	for _, line := range e.logs.requests(t) {
		if id, _ := line["request_id"].(string); strings.ContainsAny(id, " \"é") || len(id) > 128 {
			t.Errorf("an unsafe request id was logged: %q", id)
		}
	}
}

// What the recorders are told shows on the page with its labels; sign-in
// outcomes exist at zero before any sign-in.
func TestRecorderMetrics(t *testing.T) {
	e := newEnv(t, telemetry.Options{Version: "v1.2.3-test", SignInOutcomes: []string{"success", "failure"}})
	m := e.scrape()
	if v, ok := m.Value("gatehouse_sign_ins_total", "outcome", "failure"); !ok || v != 0 {
		t.Errorf("sign-in failures before any sign-in: %v (found %v), want a series at 0", v, ok)
	}
	e.tel.TokenIssued("client_credentials")
	e.tel.TokenIssued("client_credentials")
	e.tel.TokenIssued("refresh_token")
	e.tel.SignIn("success")
	e.tel.SignIn("failure")
	e.tel.SignIn("failure")
	e.tel.JanitorDeleted("tokens", 7)
	e.tel.JanitorDeleted("tokens", 3)
	e.tel.JanitorDeleted("jwt_ids", 0)
	e.tel.JanitorRun(true)
	e.tel.JanitorRun(false)
	e.tel.CacheLookup("clients", true)
	e.tel.CacheLookup("clients", true)
	e.tel.CacheLookup("clients", false)
	e.tel.CacheLookup("roles", false)

	m = e.scrape()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatehouse_tokens_issued_total", []string{"grant_type", "client_credentials"}, 2},
		{"gatehouse_tokens_issued_total", []string{"grant_type", "refresh_token"}, 1},
		{"gatehouse_sign_ins_total", []string{"outcome", "success"}, 1},
		{"gatehouse_sign_ins_total", []string{"outcome", "failure"}, 2},
		{"gatehouse_janitor_deleted_total", []string{"kind", "tokens"}, 10},
		{"gatehouse_janitor_deleted_total", []string{"kind", "jwt_ids"}, 0},
		{"gatehouse_janitor_runs_total", []string{"result", "ok"}, 1},
		{"gatehouse_janitor_runs_total", []string{"result", "error"}, 1},
		{"gatehouse_cache_requests_total", []string{"cache", "clients", "result", "hit"}, 2},
		{"gatehouse_cache_requests_total", []string{"cache", "clients", "result", "miss"}, 1},
		{"gatehouse_cache_requests_total", []string{"cache", "roles", "result", "miss"}, 1},
		{"gatehouse_build_info", []string{"version", "v1.2.3-test"}, 1},
	} {
		if got, ok := m.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v; series %v", c.name, c.labels, got, ok, c.want, m.Series(c.name))
		}
	}
	// The registry is the instance's own, with the runtime's collectors.
	if _, ok := m.Value("go_goroutines"); !ok {
		t.Error("no go_goroutines: the Go collector is missing")
	}
	if _, ok := m.Value("gatehouse_db_pool_max_connections"); ok {
		t.Error("pool metrics without a pool")
	}
}

// Two instances in one process keep separate counts: nothing is registered
// globally.
func TestInstancesAreIndependent(t *testing.T) {
	a := newEnv(t, telemetry.Options{})
	b := newEnv(t, telemetry.Options{})
	a.tel.TokenIssued("client_credentials")
	if _, ok := b.scrape().Value("gatehouse_tokens_issued_total", "grant_type", "client_credentials"); ok {
		t.Error("a token counted by one instance shows on the other's page")
	}
}

// The pool gauges and counters are read from the store at scrape time.
func TestPoolMetrics(t *testing.T) {
	st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e := newEnv(t, telemetry.Options{Pool: st})
	before, _ := e.scrape().Value("gatehouse_db_pool_acquires_total")
	for range 3 {
		if err := st.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	m := e.scrape()
	if got, _ := m.Value("gatehouse_db_pool_acquires_total"); got != before+3 {
		t.Errorf("acquires after three pings = %v, want %v", got, before+3)
	}
	want := float64(st.PoolStats().MaxConns())
	if got, ok := m.Value("gatehouse_db_pool_max_connections"); !ok || got != want || want < 1 {
		t.Errorf("max connections = %v (found %v), want %v", got, ok, want)
	}
	if got, ok := m.Value("gatehouse_db_pool_total_connections"); !ok || got < 1 {
		t.Errorf("total connections = %v (found %v), want at least the one pinged", got, ok)
	}
	if fam := m["gatehouse_db_pool_acquires_total"]; fam.GetType().String() != "COUNTER" {
		t.Errorf("acquires is a %s, want a COUNTER", fam.GetType())
	}
}
