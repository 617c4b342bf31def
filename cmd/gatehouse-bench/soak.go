package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// errSoakFailed is returned when the token tables outgrew the bound.
var errSoakFailed = errors.New("soak failed")

// soakSample is one look at the token tables. Live rows are those not yet
// expired: the rows that can be live at once. Inactive rows (rotated
// refresh tokens, revoked access tokens) count as live until they expire,
// because they must be kept that long for reuse detection.
type soakSample struct {
	At          string  `json:"at"`
	Elapsed     float64 `json:"elapsed_s"`
	Tokens      int64   `json:"tokens"`
	LiveTokens  int64   `json:"live_tokens"`
	Grants      int64   `json:"grants"`
	LiveGrants  int64   `json:"live_grants"`
	TokenRatio  float64 `json:"token_ratio"`
	GrantRatio  float64 `json:"grant_ratio"`
	ServerRSSMB float64 `json:"server_rss_mb"`
}

type soakReport struct {
	Date            time.Time    `json:"date"`
	Machine         Machine      `json:"machine"`
	Duration        string       `json:"duration"`
	Lifetime        string       `json:"token_lifetime"`
	Concurrency     int          `json:"concurrency_per_workload"`
	JanitorInterval string       `json:"janitor_interval"`
	MaxRatio        float64      `json:"max_ratio"`
	Results         []ResultJSON `json:"results"`
	Samples         []soakSample `json:"samples"`
	WorstTokenRatio float64      `json:"worst_token_ratio"`
	WorstGrantRatio float64      `json:"worst_grant_ratio"`
	PeakRSSMB       float64      `json:"server_peak_rss_mb"`
	ServerCPU       float64      `json:"server_cpu_s"`
	Passed          bool         `json:"passed"`
}

func cmdSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("soak", stderr)
	var lf localFlags
	lf.register(fs, 0)
	var (
		duration, lifetime, sample, janitorEvery time.Duration
		conc                                     int
		maxRatio                                 float64
		jsonPath                                 string
	)
	fs.DurationVar(&duration, "duration", 10*time.Minute, "how long cc and refresh run")
	fs.fromEnv("duration", "SOAK_DURATION")
	fs.DurationVar(&lifetime, "lifetime", time.Minute, "access and refresh token lifetime of the server")
	fs.fromEnv("lifetime", "SOAK_LIFETIME")
	fs.DurationVar(&sample, "sample", 15*time.Second, "how often the token tables are counted")
	fs.IntVar(&conc, "concurrency", 4, "workers of each workload")
	fs.fromEnv("concurrency", "SOAK_CONCURRENCY")
	fs.Float64Var(&maxRatio, "max-ratio", 1.5, "fail if a table holds more than this times its live rows")
	fs.DurationVar(&janitorEvery, "janitor-interval", 0,
		"the server's janitor.interval (0: a quarter of the token lifetime, which keeps the tables within 1.5x of the live rows)")
	fs.fromEnv("janitor-interval", "SOAK_JANITOR_INTERVAL")
	fs.StringVar(&jsonPath, "json", "", "also write the samples and results as JSON to this file")
	fs.fromEnv("json", "SOAK_JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if duration <= 0 || lifetime <= 0 || sample <= 0 || conc < 1 {
		return errors.New("duration, lifetime, sample and concurrency must be positive")
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "# "+format+"\n", args...) }
	if janitorEvery <= 0 {
		janitorEvery = lifetime / 4
	}
	env := []string{
		"GATEHOUSE_LIFETIMES_ACCESS_TOKEN=" + lifetime.String(),
		"GATEHOUSE_LIFETIMES_REFRESH_TOKEN=" + lifetime.String(),
		"GATEHOUSE_JANITOR_INTERVAL=" + janitorEvery.String(),
	}
	l, err := startLocal(ctx, lf.options(stderr, conc, 0, env, false))
	if err != nil {
		return err
	}
	defer l.Close()
	transport := newTransport(2 * conc)
	defer transport.CloseIdleConnections()
	e, err := prepareEnv(ctx, l.target, transport)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logf("the server's janitor runs every %s", janitorEvery)

	counter, err := pgx.Connect(ctx, l.dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer counter.Close(context.Background())

	rep := soakReport{
		Date: time.Now().UTC().Truncate(time.Second), Machine: readMachine(), Duration: duration.String(),
		Lifetime: lifetime.String(), Concurrency: conc, MaxRatio: maxRatio,
	}
	rep.JanitorInterval = janitorEvery.String()
	probe := newServerProbe(l.Pid(), l.opts.DBName, nil)

	logf("running cc and refresh with %d workers each for %s (tokens live %s)", conc, duration, lifetime)
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	errs := make([]error, 2)
	for i, name := range []string{"cc", "refresh"} {
		wl, err := e.workload(name)
		if err != nil {
			return err
		}
		wg.Go(func() { results[i], errs[i] = Run(ctx, wl, RunSpec{Concurrency: conc, Duration: duration}, nil) })
	}
	start := time.Now()
	cpu0, _ := procCPU(l.Pid())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(sample)
	defer tick.Stop()
	fmt.Fprintf(stdout, "%8s  %9s %9s %6s  %8s %8s %6s  %7s\n", "elapsed", "tokens", "live", "ratio", "grants", "live", "ratio", "rss MB")
	take := func() error {
		s, err := countTokens(ctx, counter)
		if err != nil {
			return err
		}
		s.Elapsed = time.Since(start).Seconds()
		rss, _ := procStatusKB(l.Pid(), "VmRSS")
		s.ServerRSSMB = mb(rss)
		rep.Samples = append(rep.Samples, s)
		fmt.Fprintf(stdout, "%8s  %9d %9d %6.2f  %8d %8d %6.2f  %7.1f\n", time.Duration(s.Elapsed*float64(time.Second)).Round(time.Second),
			s.Tokens, s.LiveTokens, s.TokenRatio, s.Grants, s.LiveGrants, s.GrantRatio, s.ServerRSSMB)
		rep.WorstTokenRatio = max(rep.WorstTokenRatio, s.TokenRatio)
		rep.WorstGrantRatio = max(rep.WorstGrantRatio, s.GrantRatio)
		return nil
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			if err := take(); err != nil {
				return err
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, resultJSON(results[i]))
	}
	if err := take(); err != nil {
		return err
	}
	probe.notePeak()
	rep.PeakRSSMB = mb(probe.peakEver)
	if cpu1, err := procCPU(l.Pid()); err == nil {
		rep.ServerCPU = (cpu1 - cpu0).Seconds()
	}
	rep.Passed = rep.WorstTokenRatio <= maxRatio && rep.WorstGrantRatio <= maxRatio

	fmt.Fprintln(stdout)
	printTable(stdout, rep.Results, tableLatency)
	fmt.Fprintf(stdout, "\nworst ratio of rows to live rows: tokens %.2f, grants %.2f (limit %.2f)\n", rep.WorstTokenRatio, rep.WorstGrantRatio, maxRatio)
	fmt.Fprintf(stdout, "server: %.1f CPU seconds over %s, peak RSS %.1f MB\n", rep.ServerCPU, duration, rep.PeakRSSMB)
	if jsonPath != "" {
		if err := writeJSON(jsonPath, rep); err != nil {
			return fmt.Errorf("write %s: %w", jsonPath, err)
		}
	}
	if !rep.Passed {
		return fmt.Errorf("%w: the token tables held up to %.2fx (tokens) and %.2fx (grants) the rows that can be live at once, limit %.2fx",
			errSoakFailed, rep.WorstTokenRatio, rep.WorstGrantRatio, maxRatio)
	}
	fmt.Fprintln(stdout, "soak passed")
	return nil
}

// countTokens counts the token and grant rows, and those of them that have
// not expired. A grant is live while one of its tokens is. A client token
// (client_tokens) is a token and its grant in one row, so it counts as both.
func countTokens(ctx context.Context, conn *pgx.Conn) (soakSample, error) {
	var s soakSample
	err := conn.QueryRow(ctx, `
		SELECT now()::text,
		       (SELECT count(*) FROM oauth_tokens) + (SELECT count(*) FROM client_tokens),
		       (SELECT count(*) FROM oauth_tokens WHERE expires_at > now())
		           + (SELECT count(*) FROM client_tokens WHERE expires_at > now()),
		       (SELECT count(*) FROM grants) + (SELECT count(*) FROM client_tokens),
		       (SELECT count(DISTINCT request_id) FROM oauth_tokens WHERE expires_at > now())
		           + (SELECT count(*) FROM client_tokens WHERE expires_at > now())`).
		Scan(&s.At, &s.Tokens, &s.LiveTokens, &s.Grants, &s.LiveGrants)
	if err != nil {
		return s, fmt.Errorf("count tokens: %w", err)
	}
	ratio := func(all, live int64) float64 {
		if live == 0 {
			if all == 0 {
				return 0
			}
			return float64(all) // nothing can be live: every row is excess
		}
		return float64(all) / float64(live)
	}
	s.TokenRatio, s.GrantRatio = ratio(s.Tokens, s.LiveTokens), ratio(s.Grants, s.LiveGrants)
	return s, nil
}
