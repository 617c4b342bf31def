package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/domain"
)

// compareWorkloads are the cells the compare command can run on both
// servers: what Hydra offers in the same shape (it has no resource API,
// no password check of its own, no token exchange). refresh and
// authcode-sso run through gatehouse's RS256 web client (or
// -id-token-alg's), their -es256 variants through its ES256 one.
var compareWorkloads = []string{"cc", "introspect", "refresh", refreshES256Workload, "authcode-sso", ssoES256Workload}

// The systems of a compare report's cells.
const (
	systemGatehouse = "gatehouse"
	systemHydra     = "hydra"
	// systemCeiling is PostgreSQL alone: the insert ceiling.
	systemCeiling = "postgres"
	// ceilingWorkload names the ceiling's cells.
	ceilingWorkload = "insert"
)

// compareFlags are the compare command's own.
type compareFlags struct {
	hydra, hydraDB, hydraLog string
	passes                   int
	markdown                 bool
	print                    string
}

func (f *compareFlags) register(fs *flagSet) {
	fs.StringVar(&f.hydra, "hydra", "", "Ory Hydra binary to start beside gatehouse (empty: gatehouse and the PostgreSQL ceiling only)")
	fs.fromEnv("hydra", "BENCH_HYDRA")
	fs.StringVar(&f.hydraDB, "hydra-database", "hydra_bench", "Hydra's database, dropped and created afresh on the same server")
	fs.fromEnv("hydra-database", "BENCH_HYDRA_DATABASE")
	fs.StringVar(&f.hydraLog, "hydra-log", "", "file for the output of hydra and the login and consent app (default: a temporary file)")
	fs.fromEnv("hydra-log", "BENCH_HYDRA_LOG")
	fs.IntVar(&f.passes, "passes", 3, "passes over every cell (each pass: every cell once, the systems of a cell back to back)")
	fs.fromEnv("passes", "BENCH_PASSES")
	fs.BoolVar(&f.markdown, "markdown", false, "also print the headline table as Markdown (README)")
	fs.fromEnv("markdown", "BENCH_MARKDOWN")
	fs.StringVar(&f.print, "print", "", "print the report of a JSON file a compare run wrote (-json), run nothing")
}

// compareSystem is one server under load in the compare command.
type compareSystem struct {
	name   string
	e      *env
	probe  *compareProbe
	vacuum func(context.Context) error
}

func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	var rf runFlags
	var lf localFlags
	var cf compareFlags
	rf.register(fs, 5*time.Second, time.Second, "8", compareWorkloads)
	rf.extra = clientVariantNames
	lf.register(fs, 0)
	cf.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if lf.idTokenAlg == "" {
		// Registered rather than left to the server's default, so that the
		// report's "RS256 client" is checked on every worker's ID tokens.
		lf.idTokenAlg = domain.IDTokenAlgRS256
	}
	if cf.print != "" {
		rep, err := readCompareReport(cf.print)
		if err != nil {
			return err
		}
		rep.Print(stdout)
		if cf.markdown {
			fmt.Fprintln(stdout)
			rep.PrintMarkdown(stdout)
		}
		return nil
	}
	names, conc, err := rf.parsed()
	if err != nil {
		return err
	}
	if err := checkCompareWorkloads(names); err != nil {
		return err
	}
	if cf.passes < 1 {
		return errors.New("passes: want at least 1")
	}
	machine := readMachine()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "# "+format+"\n", args...) }

	l, ge, stop, err := startFor(ctx, stderr, lf, names, conc, false, 0)
	if err != nil {
		return err
	}
	defer stop()
	poolCfg, err := pgxpool.ParseConfig(l.dbURL)
	if err != nil {
		return errors.New("cannot parse the bench database URL")
	}
	// gatehouse's pool is pgxpool's, sized by its database URL
	// (pool_max_conns) or pgxpool's default.
	poolConns := int(poolCfg.MaxConns)

	rep := &CompareReport{
		Date: time.Now().UTC().Truncate(time.Second), Command: strings.Join(os.Args, " "), Machine: machine,
		Gatehouse: lf.gatehouse, GatehouseVersion: binaryVersion(ctx, lf.gatehouse, "version"),
		PoolConns: poolConns, Warmup: rf.warmup.String(), Duration: rf.duration.String(), Passes: cf.passes,
		Concurrency: conc, Workloads: names, ClientAlgs: clientAlgs(names, lf.idTokenAlg),
	}
	if err := l.admin.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		current_setting('fsync')`).Scan(&rep.PostgreSQL, &rep.SynchronousCommit, &rep.Fsync); err != nil {
		return fmt.Errorf("PostgreSQL settings: %w", err)
	}
	systems := []compareSystem{{
		name: systemGatehouse, e: ge, vacuum: l.Vacuum,
		probe: newCompareProbe(l.Pid(), 0, l.opts.DBName, l.admin),
	}}

	if cf.hydra != "" {
		h, err := startHydra(ctx, hydraOptions{
			Binary: cf.hydra, ServerURL: lf.databaseURL, DBName: cf.hydraDB, KeepDB: lf.keepDB, PoolConns: poolConns,
			LoginUsers: slices.Max(conc), Log: cf.hydraLog, Logf: logf,
		})
		if err != nil {
			return err
		}
		defer h.Close()
		rep.Hydra, rep.HydraVersion = cf.hydra, h.version
		transport := newTransport(slices.Max(conc))
		defer transport.CloseIdleConnections()
		he, err := prepareEnv(ctx, h.target, transport)
		if err != nil {
			return fmt.Errorf("hydra: %w", err)
		}
		he.d.IntrospectionEndpoint = h.introspectionEndpoint()
		systems = append(systems, compareSystem{
			name: systemHydra, e: he, vacuum: func(ctx context.Context) error { return vacuumDB(ctx, h.dbURL) },
			probe: newCompareProbe(h.hydra.pid(), h.app.pid(), h.opts.DBName, h.admin),
		})
	}

	ceil, err := newCeiling(ctx, l.dbURL, poolConns)
	if err != nil {
		return err
	}
	defer ceil.Close()
	ceilProbe := newCompareProbe(0, 0, l.opts.DBName, l.admin)

	spec := func(c int) RunSpec { return RunSpec{Concurrency: c, Warmup: rf.warmup, Duration: rf.duration} }
	for pass := 1; pass <= cf.passes; pass++ {
		// Every other pass runs the systems of a cell in the other order,
		// so that neither always follows the other's load.
		order := slices.Clone(systems)
		if pass%2 == 0 {
			slices.Reverse(order)
		}
		for _, name := range names {
			for _, c := range conc {
				for _, s := range order {
					if err := s.vacuum(ctx); err != nil {
						return fmt.Errorf("%s: %w", s.name, err)
					}
					wl, err := s.workload(name)
					if err != nil {
						return err
					}
					res, err := Run(ctx, wl, spec(c), s.probe)
					if err != nil {
						return fmt.Errorf("%s: %w", s.name, err)
					}
					cell := CompareCell{Pass: pass, System: s.name, Result: resultJSON(res), AppCPU: s.probe.appCPU.Seconds()}
					rep.Cells = append(rep.Cells, cell)
					logf("pass %d %s %s c=%d: %.1f %s/s, p99 %.2f ms, %d errors, cpu server %.2f s, app %.2f s, db %.2f s, gen %.2f s",
						pass, s.name, name, c, cell.Result.Rate, cell.Result.Unit, cell.Result.Latency.P99, cell.Result.Errors,
						cell.Result.ServerCPU, cell.AppCPU, cell.Result.DBCPU, cell.Result.GenCPU)
				}
			}
		}
		res, err := Run(ctx, ceil.workload(), spec(poolConns), ceilProbe)
		if err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
		cell := CompareCell{Pass: pass, System: systemCeiling, Result: resultJSON(res)}
		rep.Cells = append(rep.Cells, cell)
		logf("pass %d ceiling: %.1f rows/s, p99 %.2f ms, %d errors, db cpu %.2f s", pass, cell.Result.Rate,
			cell.Result.Latency.P99, cell.Result.Errors, cell.Result.DBCPU)
	}

	fmt.Fprintln(stdout)
	rep.Print(stdout)
	if cf.markdown {
		fmt.Fprintln(stdout)
		rep.PrintMarkdown(stdout)
	}
	if rf.jsonPath != "" {
		if err := writeJSON(rf.jsonPath, rep); err != nil {
			return fmt.Errorf("write %s: %w", rf.jsonPath, err)
		}
		logf("wrote %s", rf.jsonPath)
	}
	return nil
}

// checkCompareWorkloads refuses workloads that only gatehouse can run.
func checkCompareWorkloads(names []string) error {
	for _, n := range names {
		if !slices.Contains(compareWorkloads, n) {
			return fmt.Errorf("workload %q cannot be compared (compare runs %s)", n, strings.Join(compareWorkloads, ", "))
		}
	}
	return nil
}

// binaryVersion runs bin with args and returns the first line it prints
// ("" if it fails): what the report names the binary by.
func binaryVersion(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(line)
}

// vacuumDB vacuums and analyzes the non-empty tables of the database at
// dbURL as local.Vacuum does gatehouse's (which reads nothing else of
// local), so that Hydra's cells start from the same kind of state.
func vacuumDB(ctx context.Context, dbURL string) error {
	return (&local{dbURL: dbURL}).Vacuum(ctx)
}

// compareProbe measures a cell: the server process (utime+stime of
// /proc/<pid>/stat) and, for Hydra, its login and consent app apart;
// PostgreSQL, summed over the backends connected to the system's
// database and the server's own background processes (WAL writer,
// checkpointer, background writer...: they write and flush for every
// database alike, other people's included, but the commits of the cell
// are theirs to flush); and the load generator itself (getrusage).
type compareProbe struct {
	serverPid, appPid int // 0: none
	dbName            string
	admin             *pgx.Conn
	canReset          bool

	srv0, app0, gen0 time.Duration
	db0              map[int]time.Duration
	// appCPU is the app's CPU time in the last window.
	appCPU time.Duration
}

func newCompareProbe(serverPid, appPid int, dbName string, admin *pgx.Conn) *compareProbe {
	p := &compareProbe{serverPid: serverPid, appPid: appPid, dbName: dbName, admin: admin}
	if serverPid > 0 {
		p.canReset = resetPeakRSS(serverPid) == nil
	}
	return p
}

// selfCPU is the load generator's user+system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf is procCPU, 0 for no process.
func cpuOf(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	return procCPU(pid)
}

func (p *compareProbe) postgresCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := p.admin.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = $1 OR (datname IS NULL AND backend_type <> 'client backend')`, p.dbName)
	if err != nil {
		return out
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return out
	}
	for _, pid := range pids {
		if c, err := procCPU(int(pid)); err == nil {
			out[int(pid)] = c
		}
	}
	return out
}

func (p *compareProbe) Start() error {
	if p.canReset {
		if err := resetPeakRSS(p.serverPid); err != nil {
			return fmt.Errorf("reset peak RSS: %w", err)
		}
	}
	var err error
	if p.srv0, err = cpuOf(p.serverPid); err != nil {
		return fmt.Errorf("server CPU: %w", err)
	}
	if p.app0, err = cpuOf(p.appPid); err != nil {
		return fmt.Errorf("login and consent app CPU: %w", err)
	}
	p.gen0 = selfCPU()
	p.db0 = p.postgresCPU()
	return nil
}

func (p *compareProbe) Stop() (Usage, error) {
	gen1 := selfCPU()
	srv1, err := cpuOf(p.serverPid)
	if err != nil {
		return Usage{}, fmt.Errorf("server CPU: %w", err)
	}
	app1, err := cpuOf(p.appPid)
	if err != nil {
		return Usage{}, fmt.Errorf("login and consent app CPU: %w", err)
	}
	p.appCPU = app1 - p.app0
	u := Usage{ServerCPU: srv1 - p.srv0, GenCPU: gen1 - p.gen0}
	if p.serverPid > 0 {
		u.PeakRSS, _ = procStatusKB(p.serverPid, "VmHWM")
	}
	// Backends that came and went inside the window are missed; both
	// pools keep their connections (Hydra's idle limit is its pool size).
	for pid, c := range p.postgresCPU() {
		u.DBCPU += c - p.db0[pid]
	}
	return u, nil
}

// ceiling is what PostgreSQL itself allows the token endpoint: a
// single-row durable insert (autocommit, one round trip, the commit
// flushed as synchronous_commit says) into a scratch table of the bench
// database, by as many connections as gatehouse's pool has, through pgx,
// with nothing else running. A client_credentials token is one such
// insert, so cc can come near it but, one insert a token, not pass it.
type ceiling struct {
	pool *pgxpool.Pool
}

const ceilingTable = "bench_ceiling"

func newCeiling(ctx context.Context, dbURL string, conns int) (*ceiling, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, errors.New("ceiling: cannot parse the database URL")
	}
	cfg.MaxConns, cfg.MinConns = int32(conns), int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ceiling: connect: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+ceilingTable+` (
		id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		token text NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ceiling: create table: %w", err)
	}
	return &ceiling{pool: pool}, nil
}

func (c *ceiling) workload() Workload {
	return Workload{Name: ceilingWorkload, Unit: "row", NewWorker: func(context.Context, int) (Worker, error) {
		return ceilingWorker{c.pool}, nil
	}}
}

type ceilingWorker struct{ pool *pgxpool.Pool }

func (w ceilingWorker) Do(ctx context.Context) (string, error) {
	_, err := w.pool.Exec(ctx, `INSERT INTO `+ceilingTable+` (token) VALUES ($1)`, randomToken(32))
	return "", err
}

// Close drops the scratch table and closes the pool.
func (c *ceiling) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = c.pool.Exec(ctx, `DROP TABLE IF EXISTS `+ceilingTable)
	c.pool.Close()
}
