package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/faultproxy"
)

// DefaultDatabaseURL is the PostgreSQL server the bench creates its
// database on when GATEHOUSE_BENCH_DATABASE_URL is not set.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Names of what the bench registers. The redirect URI is never fetched: the
// load generator reads the code from the Location header.
const (
	serviceClientID = "bench-service"
	webClientID     = "bench-web"
	benchRedirect   = "http://127.0.0.1/bench/callback"
	loginUserFormat = "bench-login-%02d"
	bulkUserFormat  = "bench-%06d"
)

// localOptions describe the server the bench starts for itself.
type localOptions struct {
	// Gatehouse is the path of the gatehouse binary.
	Gatehouse string
	// ServerURL is a PostgreSQL URL of any database on the server the
	// bench database is created on.
	ServerURL string
	DBName    string
	KeepDB    bool
	// LoginUsers are created with the CLI (each pays a bcrypt hash); Users
	// are inserted in bulk with one precomputed hash.
	LoginUsers int
	Users      int
	// TOTPUsers are created with an authenticator app each, for
	// authcode-login-totp (createTOTPUsers).
	TOTPUsers int
	// IDTokenAlg is the web client's id_token_signed_response_alg ("":
	// the server's default), so the flows that sign ID tokens (refresh,
	// authcode) can be measured with either key.
	IDTokenAlg string
	// Env is added to the server's environment (GATEHOUSE_* settings).
	Env []string
	// CountRoundTrips puts a counting proxy between the server and
	// PostgreSQL.
	CountRoundTrips bool
	// FaultProxy puts a fault-injecting proxy (internal/faultproxy)
	// between the server and PostgreSQL, for the chaos command.
	FaultProxy bool
	// ServerLog receives the server's output; "" makes a temporary file.
	ServerLog string
	Logf      func(format string, args ...any)
	// WebES256 also registers bench-web-es256, a second web client like
	// bench-web whose ID tokens are signed ES256.
	WebES256 bool
}

// local is a gatehouse server with a fresh database, started and seeded by
// the bench, and everything needed to stop it and clean up.
type local struct {
	opts   localOptions
	dbURL  string
	admin  *pgx.Conn
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
	proxy  *pgProxy
	fault  *faultproxy.Proxy
	target *Target
	// serverEnv is the server's GATEHOUSE_* configuration, also given to
	// every CLI call so that both agree.
	serverEnv []string
	issuer    string
}

// startLocal creates the database, migrates and seeds it, starts gatehouse
// serve on a free loopback port and waits until it is ready. On error it
// cleans up what it made.
func startLocal(ctx context.Context, o localOptions) (l *local, err error) {
	l = &local{opts: o, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if _, err := os.Stat(o.Gatehouse); err != nil {
		return nil, fmt.Errorf("gatehouse binary: %w (run make build)", err)
	}
	if l.admin, err = pgx.Connect(ctx, o.ServerURL); err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", redactURL(o.ServerURL), err)
	}
	if l.dbURL, err = withDatabase(o.ServerURL, o.DBName); err != nil {
		return nil, err
	}
	ident := pgx.Identifier{o.DBName}.Sanitize()
	o.Logf("creating database %s", o.DBName)
	if _, err := l.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop database %s: %w", o.DBName, err)
	}
	if _, err := l.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return nil, fmt.Errorf("create database %s: %w", o.DBName, err)
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	l.issuer = "http://127.0.0.1:" + strconv.Itoa(port)
	serverDB := l.dbURL
	switch {
	case o.CountRoundTrips:
		if l.proxy, err = startPGProxy(l.dbURL); err != nil {
			return nil, err
		}
		if serverDB, err = withHost(l.dbURL, l.proxy.Addr()); err != nil {
			return nil, err
		}
	case o.FaultProxy:
		if l.fault, err = startFaultProxy(l.dbURL); err != nil {
			return nil, err
		}
		if serverDB, err = withHost(l.dbURL, l.fault.Addr()); err != nil {
			return nil, err
		}
	}
	l.serverEnv = append([]string{
		"GATEHOUSE_ISSUER=" + l.issuer,
		"GATEHOUSE_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"GATEHOUSE_DATABASE_URL=" + serverDB,
		"GATEHOUSE_SECRET=" + randomToken(48),
		"GATEHOUSE_LOG_LEVEL=warn",
		// Every virtual user comes from 127.0.0.1: the per-address limits
		// would measure themselves, not the flows. Their own cost is
		// internal/ratelimit's BenchmarkAllow.
		"GATEHOUSE_RATE_LIMITS_SIGN_IN_PER_MINUTE=0",
		"GATEHOUSE_RATE_LIMITS_TOKEN_PER_MINUTE=0",
		"GATEHOUSE_RATE_LIMITS_API_PER_MINUTE=0",
		"GATEHOUSE_RATE_LIMITS_DEFAULT_PER_MINUTE=0",
	}, o.Env...)

	o.Logf("migrating")
	if _, err := l.cli(ctx, nil, "migrate", "up"); err != nil {
		return nil, err
	}
	t, err := l.seed(ctx)
	if err != nil {
		return nil, err
	}
	l.target = t
	if err := l.startServer(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// cli runs one gatehouse administration command against the bench
// database and returns its standard output.
func (l *local) cli(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, l.opts.Gatehouse, args...)
	cmd.Env = childEnv(l.serverEnv, []string{"GATEHOUSE_DATABASE_URL=" + l.dbURL})
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gatehouse %s: %w: %s", strings.Join(args[:min(2, len(args))], " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// childEnv is this process's environment without any GATEHOUSE_* setting
// the bench decides itself (a _FILE variant next to ours would make the
// server refuse to start), followed by set.
func childEnv(set ...[]string) []string {
	own := map[string]bool{}
	var add []string
	for _, s := range set {
		for _, kv := range s {
			k, _, _ := strings.Cut(kv, "=")
			own[k], own[k+"_FILE"] = true, true
			add = append(add, kv)
		}
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !own[k] && k != "GATEHOUSE_DEV" {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

// seed registers the two clients and the login users with the CLI, and
// inserts the bulk users directly.
func (l *local) seed(ctx context.Context) (*Target, error) {
	t := &Target{
		Issuer:       l.issuer,
		ServiceID:    serviceClientID,
		ServiceScope: "gatehouse:api",
		WebID:        webClientID,
		WebAlg:       l.opts.IDTokenAlg,
		RedirectURI:  benchRedirect,
		Password:     randomToken(18),
		APIBase:      l.issuer + "/api/v1",
	}
	secret := func(out []byte) (string, error) {
		var v struct {
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal(out, &v); err != nil || v.ClientSecret == "" {
			return "", fmt.Errorf("clients create: no client_secret in the output")
		}
		return v.ClientSecret, nil
	}
	l.opts.Logf("registering clients %s and %s", serviceClientID, webClientID)
	out, err := l.cli(ctx, nil, "clients", "create", "--id", serviceClientID, "--name", "Bench service account",
		"--grant-type", "client_credentials", "--grant-type", "urn:ietf:params:oauth:grant-type:token-exchange",
		"--scope", "gatehouse:api", "--role", "admin")
	if err != nil {
		return nil, err
	}
	if t.ServiceSecret, err = secret(out); err != nil {
		return nil, err
	}
	// Not first-party: consent is asked once per user and then remembered,
	// which is the path most relying parties take.
	web := func(id, name, alg string) (string, error) {
		args := []string{"clients", "create", "--id", id, "--name", name,
			"--redirect-uri", benchRedirect, "--grant-type", "authorization_code", "--grant-type", "refresh_token",
			"--scope", scopeAll}
		if alg != "" {
			args = append(args, "--id-token-alg", alg)
		}
		out, err := l.cli(ctx, nil, args...)
		if err != nil {
			return "", err
		}
		return secret(out)
	}
	if t.WebSecret, err = web(webClientID, "Bench web app", l.opts.IDTokenAlg); err != nil {
		return nil, err
	}
	if l.opts.WebES256 {
		l.opts.Logf("registering client %s (ID tokens ES256)", webES256ClientID)
		if t.WebES256Secret, err = web(webES256ClientID, "Bench web app (ES256)", domain.IDTokenAlgES256); err != nil {
			return nil, err
		}
		t.WebES256ID = webES256ClientID
	}

	if l.opts.LoginUsers > 0 {
		l.opts.Logf("creating %d login users with the CLI", l.opts.LoginUsers)
		if t.Users, err = l.createLoginUsers(ctx, t.Password); err != nil {
			return nil, err
		}
	}
	if l.opts.TOTPUsers > 0 {
		l.opts.Logf("creating %d users with an authenticator app", l.opts.TOTPUsers)
		start := time.Now()
		if t.TOTPUsers, err = l.createTOTPUsers(ctx, t.Password, l.opts.TOTPUsers); err != nil {
			return nil, err
		}
		l.opts.Logf("created %d TOTP users in %s", l.opts.TOTPUsers, time.Since(start).Round(100*time.Millisecond))
	}
	if l.opts.Users > 0 {
		l.opts.Logf("inserting %d users", l.opts.Users)
		start := time.Now()
		if err := seedUsers(ctx, l.dbURL, l.opts.Users, bcryptCost()); err != nil {
			return nil, err
		}
		l.opts.Logf("inserted %d users in %s", l.opts.Users, time.Since(start).Round(100*time.Millisecond))
	}
	return t, nil
}

// createLoginUsers makes the users the authorization code workloads sign
// in as, two CLI processes at a time (each spends a bcrypt hash).
func (l *local) createLoginUsers(ctx context.Context, password string) ([]string, error) {
	names := make([]string, l.opts.LoginUsers)
	errs := make([]error, len(names))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range names {
		names[i] = fmt.Sprintf(loginUserFormat, i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = l.cli(ctx, []byte(password+"\n"), "users", "create", "--username", names[i],
				"--email", names[i]+"@example.com", "--full-name", fmt.Sprintf("Login %d", i),
				"--password-stdin", "--role", "user", "--email-verified")
		})
	}
	wg.Wait()
	return names, errors.Join(errs...)
}

// bcryptCost is the cost the server hashes with (its configuration).
func bcryptCost() int {
	if v, err := strconv.Atoi(os.Getenv("GATEHOUSE_PASSWORD_BCRYPT_COST")); err == nil && v > 0 {
		return v
	}
	return domain.DefaultPasswords.BcryptCost
}

var departments = []string{"Trading", "Research", "Finance", "Operations", "Sales", "Engineering", "Legal", "Support"}

// seedUsers COPYs n users and their roles into the database. Every user
// shares one bcrypt hash: hashing n passwords at the server's cost would take
// hours, and nobody signs in as these users.
func seedUsers(ctx context.Context, dbURL string, n, cost int) error {
	hash, err := domain.Passwords{BcryptCost: cost}.Hash(randomToken(18))
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("seed users: connect: %w", err)
	}
	defer conn.Close(context.Background())

	now := time.Now().UTC()
	ids := make([][16]byte, n)
	for i := range ids {
		ids[i] = [16]byte(uuid.New())
	}
	users := pgx.CopyFromFunc(func() func() ([]any, error) {
		i := -1
		return func() ([]any, error) {
			i++
			if i == n {
				return nil, nil
			}
			name := fmt.Sprintf(bulkUserFormat, i)
			created := now.Add(-time.Duration(n-i) * time.Minute)
			return []any{ids[i], name, name + "@example.com", hash, fmt.Sprintf("Bench User %d", i),
				departments[i%len(departments)], []string{"Ship the quarterly report"}, "active", true, created, created}, nil
		}
	}())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // a no-op after Commit
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "username", "email", "password_hash", "full_name", "department", "goals", "status", "email_verified", "created_at", "updated_at"},
		users); err != nil {
		return fmt.Errorf("seed users: copy users: %w", err)
	}
	// Most people read, some write, a few manage: the role filter has
	// something to choose from.
	roles := pgx.CopyFromFunc(func() func() ([]any, error) {
		i := -1
		return func() ([]any, error) {
			i++
			if i == n {
				return nil, nil
			}
			role := "viewer"
			switch {
			case i%20 == 0:
				role = "manager"
			case i%3 == 0:
				role = "user"
			}
			return []any{ids[i], role}, nil
		}
	}())
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"user_roles"}, []string{"user_id", "role_name"}, roles); err != nil {
		return fmt.Errorf("seed users: copy roles: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("seed users: %w", err)
	}
	// Statistics as a long-running database would have them; autovacuum
	// would otherwise analyze at some point during the runs.
	if _, err := conn.Exec(ctx, "ANALYZE users; ANALYZE user_roles"); err != nil {
		return fmt.Errorf("seed users: analyze: %w", err)
	}
	return nil
}

// startServer starts gatehouse serve in its own process group (so that a
// Ctrl-C reaches the bench, which stops the server in order) and waits for
// /readyz.
func (l *local) startServer(ctx context.Context) error {
	var err error
	if l.opts.ServerLog != "" {
		l.log, err = os.Create(l.opts.ServerLog)
	} else {
		l.log, err = os.CreateTemp("", "gatehouse-bench-server-*.log")
	}
	if err != nil {
		return fmt.Errorf("server log: %w", err)
	}
	l.cmd = exec.Command(l.opts.Gatehouse, "serve")
	l.cmd.Env = childEnv(l.serverEnv)
	l.cmd.Stdout, l.cmd.Stderr = l.log, l.log
	// Pdeathsig: should the bench be killed outright, the server goes too.
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := l.cmd.Start(); err != nil {
		return fmt.Errorf("start gatehouse serve: %w", err)
	}
	go func() {
		_ = l.cmd.Wait()
		close(l.exited)
	}()
	l.opts.Logf("gatehouse serve started (pid %d, %s, log %s)", l.cmd.Process.Pid, l.issuer, l.log.Name())

	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.issuer+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-l.exited:
			return fmt.Errorf("gatehouse serve exited at start: %s", tail(l.log.Name(), 2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gatehouse serve not ready after 60s: %s", tail(l.log.Name(), 2000))
		}
	}
}

// Vacuum vacuums and analyzes the tables of the bench database that hold
// rows, so that every run starts from the state autovacuum keeps a database
// in service in: otherwise autovacuum catching up with the bulk seeding or
// the previous run lands in the middle of a measurement, and a table that
// grew from nearly empty (grants) may go on being read through a plan the
// server's prepared statements cached while it was small: a sequential scan
// per token exchange, until autovacuum analyzes it. Empty tables are left
// alone: once analyzed as empty, the planner believes it and plans
// sequential scans (foreign key checks included) for the run that fills
// them; never analyzed, it assumes a few pages and uses the indexes.
func (l *local) Vacuum(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, l.dbURL)
	if err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT quote_ident(relname) FROM pg_class
		WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY relname`)
	if err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	for _, t := range tables {
		var hasRows bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+t+")").Scan(&hasRows); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
		if !hasRows {
			continue
		}
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}

// Pid is the server's process id.
func (l *local) Pid() int { return l.cmd.Process.Pid }

// Close stops the server (SIGTERM, then SIGKILL after its drain time), the
// proxy, and drops the database unless it is to be kept.
func (l *local) Close() {
	if l.cmd != nil && l.cmd.Process != nil {
		_ = l.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-l.exited:
		case <-time.After(20 * time.Second):
			_ = l.cmd.Process.Kill()
			<-l.exited
		}
	}
	if l.log != nil {
		l.log.Close()
		// A temporary log the server wrote nothing to is not worth keeping.
		if fi, err := os.Stat(l.log.Name()); l.opts.ServerLog == "" && err == nil && fi.Size() == 0 {
			os.Remove(l.log.Name())
		}
	}
	if l.proxy != nil {
		l.proxy.Close()
	}
	if l.fault != nil {
		_ = l.fault.Close()
	}
	if l.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if !l.opts.KeepDB && l.dbURL != "" {
			if _, err := l.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{l.opts.DBName}.Sanitize()+" WITH (FORCE)"); err != nil {
				l.opts.Logf("drop database %s: %v", l.opts.DBName, err)
			}
		}
		l.admin.Close(ctx)
	}
}

// withDatabase returns serverURL naming database name instead.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("the database URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// withHost returns dbURL with its host:port replaced, without TLS.
func withHost(dbURL, hostport string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", errors.New("the database URL must be a postgres:// URL")
	}
	u.Host = hostport
	// The proxy reads the protocol, so the connection must not turn to TLS.
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// startFaultProxy starts a fault proxy to the PostgreSQL server of dbURL.
func startFaultProxy(dbURL string) (*faultproxy.Proxy, error) {
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return nil, errors.New("fault proxy: the database URL must name host:port")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	return faultproxy.New(host)
}

// redactURL hides the password of a database URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; the server then fails to start and
// says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of a file, for error messages.
func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return strings.TrimSpace(string(b))
}
