package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const usage = `gatehouse-bench measures an OAuth 2.0 / OpenID Connect issuer.

  gatehouse-bench bench       start gatehouse on a fresh database, seed it, run every workload
                              at each concurrency and print the table (make bench)
  gatehouse-bench soak        run cc and refresh for 10 minutes with 1-minute tokens and check
                              that the token tables stay bounded (make soak)
  gatehouse-bench chaos       run cc and refresh through a database restart, freeze and partition
                              (a fault proxy) and print what each left behind (make chaos)
  gatehouse-bench roundtrips  count PostgreSQL round trips per operation of each workload
  gatehouse-bench run         run workloads against an issuer that is already running
  gatehouse-bench import      time gatehouse users import of 100,000 generated users on a fresh
                              database, then again (all unchanged), and print rows/s (make bench)
  gatehouse-bench compare     gatehouse beside Ory Hydra (-hydra, BENCH_HYDRA) on the same PostgreSQL,
                              cells interleaved over several passes, and the PostgreSQL insert
                              ceiling (make bench-compare)
  gatehouse-bench ceiling     the server's durable single-row commit rate over the pool's
                              connection count, the ceiling of cc's own commits

Workloads: cc, introspect, refresh, authcode-login, authcode-login-totp (bench and roundtrips
only: the bench makes its users), authcode-sso, api-users; compare also has refresh-es256 and
authcode-sso-es256 (refresh and authcode-sso through a web client registered with ES256).
Run "gatehouse-bench <command> -h" for its flags; each also reads the environment variable
named in its description.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"bench":      cmdBench,
		"soak":       cmdSoak,
		"chaos":      cmdChaos,
		"roundtrips": cmdRoundTrips,
		"run":        cmdRun,
		"import":     cmdImport,
		// compare: gatehouse beside Ory Hydra and the PostgreSQL ceiling.
		"compare":           cmdCompare,
		"login-consent-app": cmdLoginConsentApp,
		// The durable commit ceiling the cc rates are read against.
		"ceiling": cmdCeiling,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(stderr, usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintf(stderr, "gatehouse-bench %s: interrupted; server stopped\n", args[0])
		return 130
	case errors.Is(err, errSoakFailed), errors.Is(err, errChaosFailed):
		fmt.Fprintf(stderr, "gatehouse-bench: %v\n", err)
		return 1
	default:
		fmt.Fprintf(stderr, "gatehouse-bench %s: %v\n", args[0], err)
		return 1
	}
}

// flagSet is a flag.FlagSet whose flags may also come from the
// environment: a flag given on the command line wins over its variable.
type flagSet struct {
	*flag.FlagSet
	env map[string]string // flag name -> variable
}

func newFlagSet(name string, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &flagSet{FlagSet: fs, env: map[string]string{}}
}

// fromEnv binds flag name to an environment variable.
func (fs *flagSet) fromEnv(name, variable string) {
	fs.env[name] = variable
	f := fs.Lookup(name)
	f.Usage += " (env " + variable + ")"
}

func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	for name, variable := range fs.env {
		v, ok := os.LookupEnv(variable)
		if !ok || set[name] || v == "" {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", variable, err))
		}
	}
	return errors.Join(errs...)
}

// runFlags choose and time the workloads.
type runFlags struct {
	duration, warmup time.Duration
	workloads        string
	concurrency      string
	jsonPath         string
	// extra are workloads beyond workloadNames that the command accepts
	// (compare: its client variant cells).
	extra []string
}

// register adds the flags; the workloads default to names.
func (f *runFlags) register(fs *flagSet, duration, warmup time.Duration, conc string, names []string) {
	fs.DurationVar(&f.duration, "duration", duration, "measured time of each run")
	fs.fromEnv("duration", "BENCH_DURATION")
	fs.DurationVar(&f.warmup, "warmup", warmup, "unmeasured time before each run")
	fs.fromEnv("warmup", "BENCH_WARMUP")
	fs.StringVar(&f.workloads, "workloads", strings.Join(names, ","), "comma-separated workloads")
	fs.fromEnv("workloads", "BENCH_WORKLOADS")
	fs.StringVar(&f.concurrency, "concurrency", conc, "comma-separated numbers of concurrent workers")
	fs.fromEnv("concurrency", "BENCH_CONCURRENCY")
	fs.StringVar(&f.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.fromEnv("json", "BENCH_JSON")
}

func (f *runFlags) parsed() (names []string, conc []int, err error) {
	for _, n := range strings.Split(f.workloads, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(workloadNames, n) && !slices.Contains(f.extra, n) {
			known := append(slices.Clone(workloadNames), f.extra...)
			return nil, nil, fmt.Errorf("unknown workload %q (known: %s)", n, strings.Join(known, ", "))
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, nil, errors.New("no workload selected")
	}
	for _, c := range strings.Split(f.concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 1024 {
			return nil, nil, fmt.Errorf("concurrency %q: want a number from 1 to 1024", c)
		}
		conc = append(conc, n)
	}
	if f.duration <= 0 || f.warmup < 0 {
		return nil, nil, errors.New("duration must be positive and warm-up not negative")
	}
	return names, conc, nil
}

// localFlags say where the bench's own server and database go.
type localFlags struct {
	gatehouse, databaseURL, database, serverLog string
	idTokenAlg                                  string
	keepDB                                      bool
	users                                       int
	totpUsers                                   int
}

func (f *localFlags) register(fs *flagSet, users int) {
	fs.StringVar(&f.gatehouse, "gatehouse", "bin/gatehouse", "gatehouse binary to start (make build)")
	fs.StringVar(&f.databaseURL, "database-url", DefaultDatabaseURL, "PostgreSQL server to create the bench database on")
	fs.fromEnv("database-url", "GATEHOUSE_BENCH_DATABASE_URL")
	fs.StringVar(&f.database, "database", "gatehouse_bench", "name of the database, dropped and created afresh")
	fs.fromEnv("database", "BENCH_DATABASE")
	fs.BoolVar(&f.keepDB, "keep-database", false, "keep the database at the end (it is dropped otherwise)")
	fs.fromEnv("keep-database", "BENCH_KEEP_DB")
	fs.StringVar(&f.serverLog, "server-log", "", "file for the server's output (default: a temporary file)")
	fs.fromEnv("server-log", "BENCH_SERVER_LOG")
	fs.IntVar(&f.users, "users", users, "users in the directory for api-users")
	fs.fromEnv("users", "BENCH_USERS")
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "id_token_signed_response_alg of the web client (RS256 or ES256; empty: the server's default, RS256)")
	fs.fromEnv("id-token-alg", "BENCH_ID_TOKEN_ALG")
}

// registerTOTP adds the flag of the commands that can run authcode-login-totp.
func (f *localFlags) registerTOTP(fs *flagSet) {
	fs.IntVar(&f.totpUsers, "totp-users", 0, "users with an authenticator app for "+totpWorkload+
		" (0: enough for four times the bcrypt bound on sign-ins for 30 s, plus one per worker)")
	fs.fromEnv("totp-users", "BENCH_TOTP_USERS")
}

func (f *localFlags) options(stderr io.Writer, loginUsers, users int, env []string, countRoundTrips bool) localOptions {
	return localOptions{
		Gatehouse: f.gatehouse, ServerURL: f.databaseURL, DBName: f.database, KeepDB: f.keepDB,
		LoginUsers: loginUsers, Users: users, Env: env, CountRoundTrips: countRoundTrips, ServerLog: f.serverLog,
		IDTokenAlg: f.idTokenAlg,
		Logf:       func(format string, args ...any) { fmt.Fprintf(stderr, "# "+format+"\n", args...) },
	}
}

// needsLogin reports whether any of the workloads signs the login users
// in (authcode-login-totp has users of its own).
func needsLogin(names []string) bool {
	for _, n := range names {
		n = baseWorkload(n)
		if n == "refresh" || (strings.HasPrefix(n, "authcode-") && n != totpWorkload) {
			return true
		}
	}
	return false
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	var rf runFlags
	var lf localFlags
	rf.register(fs, 10*time.Second, 2*time.Second, "1,8,32", workloadNames)
	lf.register(fs, 100_000)
	lf.registerTOTP(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	names, conc, err := rf.parsed()
	if err != nil {
		return err
	}
	machine := readMachine()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "# "+format+"\n", args...) }

	cost := bcryptCost()
	logf("timing bcrypt checks at cost %d, alone and on every CPU", cost)
	check, checksPerSec, err := bcryptBound(cost)
	if err != nil {
		return err
	}

	l, e, stop, err := startFor(ctx, stderr, lf, names, conc, false, checksPerSec)
	if err != nil {
		return err
	}
	defer stop()
	probe := newServerProbe(l.Pid(), l.opts.DBName, l.admin)
	if !probe.canReset {
		logf("cannot reset the server's peak RSS (/proc/<pid>/clear_refs): per-run peaks are peaks since start")
	}

	rep := Report{
		Date: time.Now().UTC().Truncate(time.Second), Command: strings.Join(os.Args, " "), Machine: machine, Issuer: l.issuer,
		Warmup: rf.warmup.String(), Duration: rf.duration.String(), Concurrency: conc, Users: l.opts.Users,
		BcryptCost: cost, BcryptCheck: ms(check), BcryptRate: checksPerSec,
	}
	for _, name := range names {
		wl, err := e.workload(name)
		if err != nil {
			return err
		}
		for _, c := range conc {
			if err := l.Vacuum(ctx); err != nil {
				return err
			}
			res, err := Run(ctx, wl, RunSpec{Concurrency: c, Warmup: rf.warmup, Duration: rf.duration}, probe)
			if err != nil {
				return err
			}
			row := resultJSON(res)
			logf("%s c=%d: %.1f %s/s, p99 %.2f ms, %d errors, server cpu %.2f s", name, c, row.Rate, row.Unit, row.Latency.P99, row.Errors, row.ServerCPU)
			rep.Results = append(rep.Results, row)
		}
	}
	probe.notePeak()
	rep.PeakRSSMB = mb(probe.peakEver)
	rep.Targets = evaluateTargets(rep.Results, machine.CPUs, checksPerSec, rep.PeakRSSMB)
	rep.TOTP = compareTOTP(rep.Results, len(l.target.TOTPUsers))

	fmt.Fprintf(stdout, "\ngatehouse-bench %s  %d CPUs (%s), %d MB, Linux %s, %s, load average before %s\n",
		rep.Date.Format(time.RFC3339), machine.CPUs, machine.CPUModel, machine.MemoryMB, machine.Kernel, machine.GoVersion, machine.LoadAvg)
	fmt.Fprintf(stdout, "server, PostgreSQL and load generator on the same machine; %s warm-up, %s measured per run", rf.warmup, rf.duration)
	if rep.Users > 0 {
		fmt.Fprintf(stdout, "; %d users in the directory", rep.Users)
	}
	fmt.Fprintf(stdout, "\n\n")
	printTable(stdout, rep.Results, tableFull)
	fmt.Fprintf(stdout, "\nserver peak RSS over the whole bench: %.1f MB; bcrypt at cost %d: %.0f ms a check alone, %.1f checks/s on %d CPUs\n\n",
		rep.PeakRSSMB, cost, ms(check), checksPerSec, machine.CPUs)
	if rep.TOTP != nil {
		printTOTPComparison(stdout, rep.TOTP)
		fmt.Fprintln(stdout)
	}
	printTargets(stdout, rep.Targets)
	if rf.jsonPath != "" {
		if err := writeJSON(rf.jsonPath, rep); err != nil {
			return fmt.Errorf("write %s: %w", rf.jsonPath, err)
		}
		logf("wrote %s", rf.jsonPath)
	}
	return nil
}

// startFor starts a local gatehouse seeded for the named workloads (login
// users for the code flows, TOTP users for authcode-login-totp, enough for
// checksPerSec password checks a second, the bulk users for api-users),
// optionally behind the round-trip counting proxy, and prepares the
// workloads' environment. stop closes the connections and the server.
func startFor(ctx context.Context, stderr io.Writer, lf localFlags, names []string, conc []int, countRoundTrips bool,
	checksPerSec float64) (*local, *env, func(), error) {
	loginUsers, users := 0, 0
	if needsLogin(names) {
		loginUsers = slices.Max(conc)
	}
	if slices.Contains(names, "api-users") {
		users = lf.users
	}
	opts := lf.options(stderr, loginUsers, users, nil, countRoundTrips)
	opts.WebES256 = needsES256Web(names)
	if slices.Contains(names, totpWorkload) {
		opts.TOTPUsers = lf.totpUsers
		if opts.TOTPUsers == 0 {
			opts.TOTPUsers = totpPoolSize(slices.Max(conc), checksPerSec, totpPeriod)
		}
	}
	l, err := startLocal(ctx, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	transport := newTransport(slices.Max(conc))
	stop := func() {
		transport.CloseIdleConnections()
		l.Close()
	}
	e, err := prepareEnv(ctx, l.target, transport)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return l, e, stop, nil
}

// prepareEnv discovers the issuer's endpoints.
func prepareEnv(ctx context.Context, t *Target, transport *http.Transport) (*env, error) {
	e := newEnv(t, Discovery{}, transport)
	d, err := discover(ctx, e.plain, t.Issuer)
	if err != nil {
		return nil, err
	}
	e.d = d
	return e, nil
}

// bcryptBound measures what the password hash allows on this machine: one
// check alone, and checks per second with every CPU checking at once (the
// bound on sign-ins per second). The second is measured rather than taken
// as CPUs / single, because virtual CPUs that are all busy may each run
// slower than one alone.
func bcryptBound(cost int) (single time.Duration, perSecond float64, err error) {
	pw := []byte(randomToken(18))
	hash, err := bcrypt.GenerateFromPassword(pw, cost)
	if err != nil {
		return 0, 0, fmt.Errorf("bcrypt: %w", err)
	}
	for range 2 {
		t0 := time.Now()
		if err := bcrypt.CompareHashAndPassword(hash, pw); err != nil {
			return 0, 0, fmt.Errorf("bcrypt: %w", err)
		}
		if d := time.Since(t0); single == 0 || d < single {
			single = d
		}
	}
	const each = 3
	cpus := runtime.NumCPU()
	var wg sync.WaitGroup
	t0 := time.Now()
	for range cpus {
		wg.Go(func() {
			for range each {
				_ = bcrypt.CompareHashAndPassword(hash, pw)
			}
		})
	}
	wg.Wait()
	return single, float64(cpus*each) / time.Since(t0).Seconds(), nil
}

func cmdRoundTrips(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("roundtrips", stderr)
	var rf runFlags
	var lf localFlags
	rf.register(fs, 3*time.Second, time.Second, "1", workloadNames)
	lf.register(fs, 100_000)
	lf.registerTOTP(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	names, conc, err := rf.parsed()
	if err != nil {
		return err
	}
	var checksPerSec float64
	if slices.Contains(names, totpWorkload) {
		if _, checksPerSec, err = bcryptBound(bcryptCost()); err != nil {
			return err
		}
	}
	l, e, stop, err := startFor(ctx, stderr, lf, names, conc, true, checksPerSec)
	if err != nil {
		return err
	}
	defer stop()
	probe := newServerProbe(l.Pid(), l.opts.DBName, l.admin)
	probe.roundTrips = l.proxy.RoundTrips
	var rows []ResultJSON
	for _, name := range names {
		wl, err := e.workload(name)
		if err != nil {
			return err
		}
		for _, c := range conc {
			res, err := Run(ctx, wl, RunSpec{Concurrency: c, Warmup: rf.warmup, Duration: rf.duration}, probe)
			if err != nil {
				return err
			}
			rows = append(rows, resultJSON(res))
			// Per-operation counts for mixed workloads, from one run each.
			for _, label := range res.Labels() {
				one, err := runOnly(ctx, wl, label, RunSpec{Concurrency: c, Warmup: rf.warmup, Duration: rf.duration}, probe)
				if err != nil {
					return err
				}
				rows = append(rows, resultJSON(one))
			}
		}
	}
	fmt.Fprintf(stdout, "\nPostgreSQL round trips per operation (Sync and simple Query messages through a counting proxy;\n"+
		"latencies include the proxy, so they are not comparable with make bench)\n\n")
	printTable(stdout, rows, tableRoundTrips)
	if rf.jsonPath != "" {
		return writeJSON(rf.jsonPath, rows)
	}
	return nil
}

// runOnly runs a mixed workload's workers, keeping only the operations
// labelled label (for the roundtrips command, which needs each kind alone).
func runOnly(ctx context.Context, wl Workload, label string, spec RunSpec, probe Probe) (*Result, error) {
	only := Workload{Name: wl.Name + "/" + label, Unit: wl.Unit, NewWorker: func(ctx context.Context, i int) (Worker, error) {
		w, err := wl.NewWorker(ctx, i)
		if err != nil {
			return nil, err
		}
		if s, ok := w.(selectable); ok {
			s.only(label)
		}
		return w, nil
	}}
	return Run(ctx, only, spec, probe)
}

// selectable workers can restrict themselves to one kind of operation.
type selectable interface{ only(label string) }

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	var rf runFlags
	// authcode-login-totp needs users whose keys the bench made itself;
	// token-exchange, a service client allowed that grant (local seeds one).
	remote := slices.DeleteFunc(slices.Clone(workloadNames), func(n string) bool { return n == totpWorkload || n == tokenExchangeWorkload })
	rf.register(fs, 10*time.Second, 2*time.Second, "1,8,32", remote)
	t := &Target{}
	var users string
	var pid int
	fs.StringVar(&t.Issuer, "issuer", "", "issuer URL (discovery at <issuer>/.well-known/openid-configuration)")
	fs.fromEnv("issuer", "BENCH_ISSUER")
	fs.StringVar(&t.ServiceID, "service-id", "", "client_credentials client id")
	fs.StringVar(&t.ServiceSecret, "service-secret", "", "its secret")
	fs.fromEnv("service-secret", "BENCH_SERVICE_SECRET")
	fs.StringVar(&t.ServiceScope, "service-scope", "gatehouse:api", "scope its tokens ask for")
	fs.StringVar(&t.WebID, "web-id", "", "authorization code client id (confidential, offline_access allowed)")
	fs.StringVar(&t.WebSecret, "web-secret", "", "its secret")
	fs.fromEnv("web-secret", "BENCH_WEB_SECRET")
	fs.StringVar(&t.RedirectURI, "redirect-uri", "", "its registered redirect URI")
	fs.StringVar(&users, "users", "", "comma-separated usernames to sign in as")
	fs.StringVar(&t.Password, "password", "", "their password")
	fs.fromEnv("password", "BENCH_PASSWORD")
	fs.StringVar(&t.APIBase, "api-base", "", "resource API base URL (default <issuer>/api/v1)")
	fs.IntVar(&pid, "server-pid", 0, "pid of a local server to measure CPU and RSS of")
	if err := fs.parse(args); err != nil {
		return err
	}
	names, conc, err := rf.parsed()
	if err != nil {
		return err
	}
	if t.Issuer == "" {
		return errors.New("-issuer is required")
	}
	if t.APIBase == "" {
		t.APIBase = strings.TrimRight(t.Issuer, "/") + "/api/v1"
	}
	for _, u := range strings.Split(users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			t.Users = append(t.Users, u)
		}
	}
	transport := newTransport(slices.Max(conc))
	defer transport.CloseIdleConnections()
	e, err := prepareEnv(ctx, t, transport)
	if err != nil {
		return err
	}
	var probe Probe
	if pid > 0 {
		probe = newServerProbe(pid, "", nil)
	}
	var rows []ResultJSON
	for _, name := range names {
		wl, err := e.workload(name)
		if err != nil {
			return err
		}
		for _, c := range conc {
			res, err := Run(ctx, wl, RunSpec{Concurrency: c, Warmup: rf.warmup, Duration: rf.duration}, probe)
			if err != nil {
				return err
			}
			rows = append(rows, resultJSON(res))
		}
	}
	mode := tableLatency
	if probe != nil {
		mode = tableFull
	}
	printTable(stdout, rows, mode)
	if rf.jsonPath != "" {
		return writeJSON(rf.jsonPath, rows)
	}
	return nil
}
