package server_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/logcheck"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/internal/scrape"
	"github.com/gatehouse/gatehouse/server"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// observed is an instance whose log is kept.
type observed struct {
	*instance
	logs *logcheck.Log
}

// startObserved is start with a JSON log at debug kept in logs, cfg
// adjusted by mutate, and server options.
func startObserved(t *testing.T, st store.Store, mutate func(*config.Config), opts ...server.Option) *observed {
	t.Helper()
	logs := &logcheck.Log{}
	t.Cleanup(func() { logs.Finish(t) })
	hs := httptest.NewUnstartedServer(nil)
	cfg := config.Default()
	cfg.Issuer = "http://" + hs.Listener.Addr().String()
	cfg.Secret = strings.Repeat("s", 32)
	cfg.Password.BcryptCost = 4
	if mutate != nil {
		mutate(&cfg)
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg, st, logger, opts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return &observed{instance: &instance{t: t, url: cfg.Issuer, store: st, server: srv}, logs: logs}
}

// addUser stores an active user with a password.
func (in *instance) addUser(username, password string) {
	in.t.Helper()
	hash, err := domain.Passwords{BcryptCost: 4}.Hash(password)
	if err != nil {
		in.t.Fatal(err)
	}
	now := time.Now()
	err = in.store.CreateUser(context.Background(), store.User{ID: uuid.NewString(), Username: username,
		Email: username + "@example.com", PasswordHash: hash, Status: store.StatusActive, Roles: []string{"user"},
		CreatedAt: now, UpdatedAt: now})
	if err != nil {
		in.t.Fatal(err)
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn posts the login form as a browser would and returns the status.
func (in *instance) signIn(username, password string) int {
	in.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(in.url + "/login")
	if err != nil {
		in.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		in.t.Fatalf("no CSRF token on the login page: %s", page)
	}
	resp, err = c.PostForm(in.url+"/login", url.Values{"csrf_token": {string(m[1])}, "username": {username},
		"password": {password}, "return_to": {"/"}})
	if err != nil {
		in.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (in *instance) get(path string, header ...string) *http.Response {
	in.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.url+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// After real traffic (a client_credentials token, a failed and a
// successful sign-in, an API call, a 404, a refused oversized body) the
// scrape at the root path has each series with its labels and value.
func TestMetricsAfterRealTraffic(t *testing.T) {
	st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	in := startObserved(t, st, nil, server.WithVersion("v9.9.9-test"))

	secret := in.addClient("svc", []string{"api:read"})
	if status, body := in.token("svc", secret, "api:read"); status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	in.addUser("alice", "correct horse battery")
	if status := in.signIn("alice", "wrong password"); status != http.StatusUnauthorized {
		t.Fatalf("sign-in with a wrong password: %d, want 401", status)
	}
	if status := in.signIn("alice", "correct horse battery"); status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d, want 303", status)
	}
	userID := uuid.NewString()
	if status := in.api(http.MethodGet, "/users/"+userID, "not-a-token", nil); status != http.StatusUnauthorized {
		t.Fatalf("API call without a valid token: %d, want 401", status)
	}
	if resp := in.get("/no/such/page"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown page: %d", resp.StatusCode)
	}
	big, _ := http.NewRequest(http.MethodPost, in.url+"/oauth2/token", strings.NewReader(strings.Repeat("x", 2<<20)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, _ := in.do(big); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d, want 413", status)
	}

	m := scrape.Fetch(t, in.url+server.MetricsPath)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatehouse_http_requests_total", []string{"method", "POST", "route", "/oauth2/token", "status", "200"}, 1},
		{"gatehouse_http_requests_total", []string{"method", "POST", "route", "/login", "status", "401"}, 1},
		{"gatehouse_http_requests_total", []string{"method", "POST", "route", "/login", "status", "303"}, 1},
		{"gatehouse_http_requests_total", []string{"method", "GET", "route", "/login", "status", "200"}, 2},
		{"gatehouse_http_requests_total", []string{"method", "GET", "route", "/api/v1/users/{id}", "status", "401"}, 1},
		{"gatehouse_http_requests_total", []string{"method", "GET", "route", "unmatched", "status", "404"}, 1},
		{"gatehouse_http_requests_total", []string{"method", "POST", "route", "unmatched", "status", "413"}, 1},
		{"gatehouse_http_request_duration_seconds", []string{"method", "POST", "route", "/oauth2/token"}, 1},
		{"gatehouse_http_request_duration_seconds", []string{"method", "POST", "route", "/login"}, 2},
		{"gatehouse_tokens_issued_total", []string{"grant_type", "client_credentials"}, 1},
		{"gatehouse_sign_ins_total", []string{"outcome", "success"}, 1},
		{"gatehouse_sign_ins_total", []string{"outcome", "failure"}, 1},
		{"gatehouse_sign_ins_total", []string{"outcome", "locked"}, 0},
		{"gatehouse_sign_ins_total", []string{"outcome", "error"}, 0},
		{"gatehouse_cache_requests_total", []string{"cache", "clients", "result", "miss"}, 1},
		{"gatehouse_build_info", []string{"version", "v9.9.9-test"}, 1},
	} {
		if got, ok := m.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v; series %v", c.name, c.labels, got, ok, c.want, m.Series(c.name))
		}
	}
	for _, s := range m.Series("gatehouse_http_requests_total") {
		if strings.Contains(s, userID) || strings.Contains(s, "/no/such") {
			t.Errorf("a raw path is a label: %s", s)
		}
	}
	if got, ok := m.Value("gatehouse_db_pool_max_connections"); !ok || got < 1 {
		t.Errorf("gatehouse_db_pool_max_connections = %v (found %v), want the pool's size", got, ok)
	}
	if got, _ := m.Value("gatehouse_db_pool_acquires_total"); got < 1 {
		t.Errorf("gatehouse_db_pool_acquires_total = %v, want the store's acquisitions", got)
	}
	// The page is at the root, not under the issuer's routes.
	if resp := in.get("/oauth2" + server.MetricsPath); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /oauth2/metrics: %d, want 404", resp.StatusCode)
	}
}

// With metrics.addr set, /metrics is served only by MetricsHandler (the
// listener of its own) and the main listener answers 404 there.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	in := startObserved(t, memory.New(), func(c *config.Config) { c.Metrics.Addr = "127.0.0.1:0" })
	secret := in.addClient("svc", []string{"api:read"})
	if status, body := in.token("svc", secret, "api:read"); status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	if resp := in.get(server.MetricsPath); resp.StatusCode != http.StatusNotFound {
		t.Errorf("main listener GET /metrics: %d, want 404", resp.StatusCode)
	}
	own := httptest.NewServer(in.server.MetricsHandler())
	t.Cleanup(own.Close)
	m := scrape.Fetch(t, own.URL+server.MetricsPath)
	if got, _ := m.Value("gatehouse_tokens_issued_total", "grant_type", "client_credentials"); got != 1 {
		t.Errorf("tokens issued on the metrics listener = %v, want 1", got)
	}
	if got, _ := m.Value("gatehouse_http_requests_total", "route", "unmatched", "status", "404"); got != 1 {
		t.Errorf("the main listener's 404 for /metrics was not counted as unmatched: %v", got)
	}
	resp, err := http.Get(own.URL + "/oauth2/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics listener serves other paths: GET /oauth2/token %d, want 404", resp.StatusCode)
	}
}

// Each request has one log line with its route template, status and
// request id, and never its query, path ids or credentials; an incoming
// sane X-Request-Id is echoed, otherwise one is generated.
func TestRequestLogLines(t *testing.T) {
	in := startObserved(t, memory.New(), nil)
	secret := in.addClient("svc", []string{"api:read"})
	in.logs.Secret(secret)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	req, _ := http.NewRequest(http.MethodPost, in.url+"/oauth2/token?client_secret="+secret, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", "lb-7f3a.42")
	req.SetBasicAuth("svc", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v", resp.StatusCode, tok)
	}
	access, _ := tok["access_token"].(string)
	in.logs.Secret(access)
	if got := resp.Header.Get("X-Request-Id"); got != "lb-7f3a.42" {
		t.Errorf("X-Request-Id %q, want the incoming one echoed", got)
	}
	userID := uuid.NewString()
	generated := in.get("/api/v1/users/"+userID+"?q=private", "Authorization", "Bearer "+access, "X-Request-Id", "bad id <script>")
	genID := generated.Header.Get("X-Request-Id")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(genID) {
		t.Errorf("X-Request-Id for an unsafe incoming id: %q, want a generated one", genID)
	}

	lines := requestLines(t, in.logs)
	if len(lines) != 2 {
		t.Fatalf("%d request lines, want 2: %v", len(lines), lines)
	}
	for i, want := range []map[string]any{
		{"level": "INFO", "method": "POST", "route": "/oauth2/token", "status": float64(200), "request_id": "lb-7f3a.42"},
		{"level": "INFO", "method": "GET", "route": "/api/v1/users/{id}", "status": float64(403), "request_id": genID},
	} {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v (%v)", i, k, lines[i][k], v, lines[i])
			}
		}
		if _, ok := lines[i]["duration_ms"].(float64); !ok {
			t.Errorf("line %d has no duration_ms: %v", i, lines[i])
		}
		raw, _ := json.Marshal(lines[i])
		for _, leak := range []string{"client_secret", "private", userID, "?"} {
			if strings.Contains(string(raw), leak) {
				t.Errorf("line %d carries %q: %s", i, leak, raw)
			}
		}
	}
	// Probes are logged at debug, so that they do not drown the rest.
	in.get("/healthz")
	if lines := requestLines(t, in.logs); len(lines) != 3 || lines[2]["level"] != "DEBUG" || lines[2]["route"] != "/healthz" {
		t.Errorf("probe line %v, want route /healthz at DEBUG", lines[len(lines)-1])
	}
	// logs.Finish (at cleanup) fails the test if the secret or the token
	// appear anywhere in the log.
}

func requestLines(t *testing.T, logs *logcheck.Log) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
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

// otlpReceiver is an OTLP/HTTP trace collector: it decodes what the
// exporter posts to /v1/traces.
type otlpReceiver struct {
	mu    sync.Mutex
	spans map[string]string // span name -> trace id (hex)
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected export", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	raw, _ := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.spans[s.GetName()] = hexID(s.GetTraceId())
			}
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// OTEL_EXPORTER_OTLP_ENDPOINT alone turns tracing on: the requests' spans,
// named after their routes and continuing the caller's trace, reach the
// collector by the time Close returns.
func TestTracingExportsOverOTLP(t *testing.T) {
	rcv := &otlpReceiver{spans: map[string]string{}}
	collector := httptest.NewServer(rcv)
	t.Cleanup(collector.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "60000") // only Close's flush sends them

	in := startObserved(t, memory.New(), nil)
	secret := in.addClient("svc", []string{"api:read"})
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	req, _ := http.NewRequest(http.MethodPost, in.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	req.SetBasicAuth("svc", secret)
	if status, body := in.do(req); status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	in.get("/healthz")

	rcv.mu.Lock()
	early := len(rcv.spans)
	rcv.mu.Unlock()
	if early != 0 {
		t.Errorf("%d spans exported before Close: the test no longer shows that Close flushes", early)
	}
	in.server.Close()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if got := rcv.spans["POST /oauth2/token"]; got != traceID {
		t.Errorf("token span's trace %q, want %s; spans %v", got, traceID, rcv.spans)
	}
	if _, ok := rcv.spans["GET /healthz"]; !ok {
		t.Errorf("no GET /healthz span; spans %v", rcv.spans)
	}
	lines := requestLines(t, in.logs)
	if len(lines) == 0 || lines[0]["trace_id"] != traceID {
		t.Errorf("the request log does not name the trace: %v", lines)
	}
}

// Tracing is off unless configured: no exporter, no trace ids in the log.
func TestTracingOffByDefault(t *testing.T) {
	in := startObserved(t, memory.New(), nil)
	if in.server.Telemetry().Tracing() {
		t.Fatal("tracing is on without tracing.enabled or an OTLP endpoint")
	}
	in.get("/healthz", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if lines := requestLines(t, in.logs); len(lines) != 1 || lines[0]["trace_id"] != nil {
		t.Errorf("request log %v, want one line without trace_id", lines)
	}
	if on := startObserved(t, memory.New(), func(c *config.Config) { c.Tracing.Enabled = true }); !on.server.Telemetry().Tracing() {
		t.Error("tracing.enabled did not turn tracing on")
	}
}
