package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Names of what the compare command registers in Hydra. Hydra chooses
// the client ids itself; the names are for its admin API listings.
const (
	hydraServiceName = "bench-service"
	hydraWebName     = "bench-web"
	// hydraServiceScope is the scope the service client's tokens ask for
	// (gatehouse's is gatehouse:api; Hydra has no resource API).
	hydraServiceScope = "bench.api"
	hydraUserFormat   = "hydra-login-%02d"
)

// hydraOptions describe the Ory Hydra the compare command starts beside
// gatehouse.
type hydraOptions struct {
	// Binary is the path of a hydra binary (the bench never builds one).
	Binary string
	// ServerURL is a PostgreSQL URL of any database on the server the
	// Hydra database is created on (the one gatehouse's is on).
	ServerURL string
	DBName    string
	KeepDB    bool
	// PoolConns is the size of Hydra's connection pool (max_conns and
	// max_idle_conns of its DSN): gatehouse's, so that both have the same.
	PoolConns int
	// LoginUsers are the subjects the login app signs in; Hydra keeps no
	// users of its own.
	LoginUsers int
	// Log receives the output of hydra and of the login and consent app;
	// "" makes a temporary file.
	Log  string
	Logf func(format string, args ...any)
}

// hydraServer is a running hydra serve all --dev on a database of its
// own, with the bench's login and consent app, and what stops them.
type hydraServer struct {
	opts    hydraOptions
	dbURL   string
	admin   *pgx.Conn
	log     *os.File
	procs   []*child
	hydra   *child
	app     *child
	public  string // public URL (the issuer)
	adminAt string // admin API URL
	target  *Target
	version string
}

// child is a process the bench started and must stop.
type child struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// startChild starts name in its own process group (a Ctrl-C reaches the
// bench, which stops it in order) that dies with the bench.
func startChild(name string, cmd *exec.Cmd, log io.Writer) (*child, error) {
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// hydraEnv is the configuration of every hydra command: this process's
// environment (so that Hydra settings such as OAUTH2_HASHERS_* given to
// the bench reach it), then what the bench decides itself, which wins.
// Everything listens on 127.0.0.1 (Hydra's default host is localhost,
// which may also resolve to ::1), telemetry is off (Hydra reports usage
// to its vendor unless told not to), and the log level is warn, as the
// bench's gatehouse has it, since Hydra logs every request at info.
func hydraEnv(dsn string, publicPort, adminPort, appPort int) []string {
	app := "http://127.0.0.1:" + strconv.Itoa(appPort)
	return append(os.Environ(),
		"DSN="+dsn,
		"SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_PUBLIC_PORT="+strconv.Itoa(publicPort),
		"SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_ADMIN_PORT="+strconv.Itoa(adminPort),
		"URLS_SELF_ISSUER=http://127.0.0.1:"+strconv.Itoa(publicPort),
		"URLS_LOGIN="+app+"/login",
		"URLS_CONSENT="+app+"/consent",
		"SECRETS_SYSTEM="+randomToken(32),
		"SQA_OPT_OUT=true",
		"LOG_LEVEL=warn",
	)
}

// startHydra creates Hydra's database, migrates it, starts the login and
// consent app (this binary's login-consent-app command) and hydra serve
// all --dev, and registers the two clients through the admin API. On
// error it cleans up what it made.
func startHydra(ctx context.Context, o hydraOptions) (h *hydraServer, err error) {
	h = &hydraServer{opts: o}
	defer func() {
		if err != nil {
			h.Close()
			h = nil
		}
	}()
	if _, err := os.Stat(o.Binary); err != nil {
		return nil, fmt.Errorf("hydra binary: %w", err)
	}
	if h.admin, err = pgx.Connect(ctx, o.ServerURL); err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", redactURL(o.ServerURL), err)
	}
	if h.dbURL, err = withDatabase(o.ServerURL, o.DBName); err != nil {
		return nil, err
	}
	ident := pgx.Identifier{o.DBName}.Sanitize()
	o.Logf("creating database %s for Hydra", o.DBName)
	if _, err := h.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop database %s: %w", o.DBName, err)
	}
	if _, err := h.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return nil, fmt.Errorf("create database %s: %w", o.DBName, err)
	}
	dsn, err := url.Parse(h.dbURL)
	if err != nil {
		return nil, errors.New("the database URL must be a postgres:// URL")
	}
	q := dsn.Query()
	q.Set("max_conns", strconv.Itoa(o.PoolConns))
	q.Set("max_idle_conns", strconv.Itoa(o.PoolConns))
	dsn.RawQuery = q.Encode()

	if o.Log != "" {
		h.log, err = os.Create(o.Log)
	} else {
		h.log, err = os.CreateTemp("", "gatehouse-bench-hydra-*.log")
	}
	if err != nil {
		return nil, fmt.Errorf("hydra log: %w", err)
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	env := hydraEnv(dsn.String(), ports[0], ports[1], ports[2])
	h.public = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	h.adminAt = "http://127.0.0.1:" + strconv.Itoa(ports[1])

	if out, err := exec.CommandContext(ctx, o.Binary, "version").CombinedOutput(); err == nil {
		for line := range strings.Lines(string(out)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Version:"); ok {
				h.version = strings.TrimSpace(v)
			}
		}
	}
	o.Logf("migrating Hydra's database (hydra migrate sql up -e --yes)")
	mig := exec.CommandContext(ctx, o.Binary, "migrate", "sql", "up", "-e", "--yes")
	mig.Env = env
	if out, err := mig.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hydra migrate: %w: %s", err, lastLines(string(out), 5))
	}

	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("login and consent app: %w", err)
	}
	appAddr := "127.0.0.1:" + strconv.Itoa(ports[2])
	h.app, err = startChild("login and consent app",
		exec.Command(self, "login-consent-app", "-addr", appAddr, "-admin", h.adminAt), h.log)
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, h.app)
	if err := waitReady(ctx, "http://"+appAddr+"/healthz", h.app, h.log.Name()); err != nil {
		return nil, err
	}

	serve := exec.Command(o.Binary, "serve", "all", "--dev", "--sqa-opt-out")
	serve.Env = env
	if h.hydra, err = startChild("hydra serve", serve, h.log); err != nil {
		return nil, err
	}
	h.procs = append(h.procs, h.hydra)
	o.Logf("hydra serve all --dev started (pid %d, public %s, admin %s, login and consent app pid %d at %s, log %s)",
		h.hydra.pid(), h.public, h.adminAt, h.app.pid(), appAddr, h.log.Name())
	for _, u := range []string{h.adminAt + "/health/ready", h.public + "/health/ready"} {
		if err := waitReady(ctx, u, h.hydra, h.log.Name()); err != nil {
			return nil, err
		}
	}
	if h.target, err = h.register(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// register creates the service and web clients through the admin API,
// as gatehouse's are: client_secret_basic, the same grants, scopes and
// redirect URI.
func (h *hydraServer) register(ctx context.Context) (*Target, error) {
	t := &Target{Issuer: h.public, ServiceScope: hydraServiceScope, RedirectURI: benchRedirect, Password: randomToken(18)}
	var err error
	if t.ServiceID, t.ServiceSecret, err = h.createClient(ctx, map[string]any{
		"client_name":                hydraServiceName,
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{"token"},
		"scope":                      hydraServiceScope,
		"token_endpoint_auth_method": "client_secret_basic",
	}); err != nil {
		return nil, err
	}
	if t.WebID, t.WebSecret, err = h.createClient(ctx, map[string]any{
		"client_name":                hydraWebName,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      scopeAll,
		"redirect_uris":              []string{benchRedirect},
		"token_endpoint_auth_method": "client_secret_basic",
	}); err != nil {
		return nil, err
	}
	for i := range h.opts.LoginUsers {
		t.Users = append(t.Users, fmt.Sprintf(hydraUserFormat, i))
	}
	h.opts.Logf("registered Hydra clients %s (%s) and %s (%s)", t.ServiceID, hydraServiceName, t.WebID, hydraWebName)
	return t, nil
}

func (h *hydraServer) createClient(ctx context.Context, spec map[string]any) (id, secret string, err error) {
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := adminJSON(ctx, http.DefaultClient, http.MethodPost, h.adminAt+"/admin/clients", spec, &out, http.StatusCreated); err != nil {
		return "", "", fmt.Errorf("hydra: create client %s: %w", spec["client_name"], err)
	}
	if out.ClientID == "" || out.ClientSecret == "" {
		return "", "", fmt.Errorf("hydra: create client %s: no client_id or client_secret in the answer", spec["client_name"])
	}
	return out.ClientID, out.ClientSecret, nil
}

// introspectionEndpoint is Hydra's: on the admin API, without client
// authentication, and not in its discovery document.
func (h *hydraServer) introspectionEndpoint() string { return h.adminAt + "/admin/oauth2/introspect" }

// Close stops hydra and the app and drops the database unless it is kept.
func (h *hydraServer) Close() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].stop()
	}
	if h.log != nil {
		h.log.Close()
	}
	if h.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if !h.opts.KeepDB && h.dbURL != "" {
			if _, err := h.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{h.opts.DBName}.Sanitize()+" WITH (FORCE)"); err != nil {
				h.opts.Logf("drop database %s: %v", h.opts.DBName, err)
			}
		}
		h.admin.Close(ctx)
	}
}

// adminJSON sends body (when not nil) as JSON and decodes the answer into
// out, which must come with status want.
func adminJSON(ctx context.Context, hc *http.Client, method, u string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	b, status, _, err := do(hc, req)
	if err != nil {
		return err
	}
	if status != want {
		return statusError(method+" "+req.URL.Path, status, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// waitReady polls u until it answers 200, for at most a minute, failing at
// once should c exit.
func waitReady(ctx context.Context, u string, c *child, logName string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited at start: %s", c.name, tail(logName, 2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after 60s: %s", c.name, u, tail(logName, 2000))
		}
	}
}

// lastLines returns the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
