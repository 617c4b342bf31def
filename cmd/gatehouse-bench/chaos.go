package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/faultproxy"
)

// errChaosFailed is returned when a fault left more behind than the
// failures during the fault itself.
var errChaosFailed = errors.New("chaos failed")

// recoveryTarget is how soon after the database returns the first request
// must succeed (issue 8).
const recoveryTarget = 2 * time.Second

// chaosFault is one thing the database does to the server, through the
// fault proxy, until healed.
type chaosFault struct {
	name  string
	what  string
	apply func(p *faultproxy.Proxy)
}

// chaosFaults are the faults the chaos command knows, in their default
// order.
func chaosFaults() []chaosFault {
	return []chaosFault{
		{"restart", "every connection reset, new ones refused", func(p *faultproxy.Proxy) { p.Drop(); p.ResetAll() }},
		{"freeze", "connections open, nothing answered", func(p *faultproxy.Proxy) { p.Freeze() }},
		{"partition", "open connections dead for good, new ones never answered", func(p *faultproxy.Proxy) { p.Blackhole() }},
	}
}

func chaosFaultNames() []string {
	var names []string
	for _, f := range chaosFaults() {
		names = append(names, f.name)
	}
	return names
}

// chaosOp is one request of the load.
type chaosOp struct {
	kind       string // cc or refresh
	start, end time.Time
	status     int    // 0: no answer (transport error)
	err        string // why it failed, "" if it did not
	// revoked: a refresh refused with invalid_grant although the client
	// presented the refresh token it was last given: its family is dead,
	// and fosite deleted the row of the token presented (reused).
	revoked bool
	reused  string
	tokens  []issuedToken
}

func (o chaosOp) ok() bool { return o.err == "" }

// serverFailure is a 5xx or no answer at all.
func (o chaosOp) serverFailure() bool { return o.status == 0 || o.status >= 500 }

// issuedToken is a token a 200 answered, which must exist afterwards.
type issuedToken struct {
	kind  string // the store's kind: access_token or refresh_token
	value string
	// mustBeActive: nothing revokes it later in the run (a client
	// credentials token), so introspection must say active.
	mustBeActive bool
}

// signature is the part of an opaque token the store keeps.
func (t issuedToken) signature() string { return t.value[strings.LastIndexByte(t.value, '.')+1:] }

// chaosPhase is one stretch of the run: a fault from start until healed,
// then recovery until end (the next phase's start). The baseline, the
// warm-up before any fault, counts as "during" throughout: healed == end.
type chaosPhase struct {
	name, description  string
	start, healed, end time.Time
}

// chaosRow is what one phase came to.
type chaosRow struct {
	Name string
	// During the fault: requests begun, of which failed, and how long the
	// failures took to be answered.
	Ops, Failed      int
	FailMax, FailP99 time.Duration
	// FirstOK is from the healing to the end of the first request begun
	// after it that succeeded; FirstOKSeen is false if none did.
	FirstOK     time.Duration
	FirstOKSeen bool
	// After that first success: server failures (5xx, no answer).
	FailAfter int
	// Tokens answered 200 in the phase that have no row, or (client
	// credentials tokens) that introspection does not call active.
	Lost int
	// Refresh families revoked in the phase.
	Revoked int
	// Samples are the first distinct errors after the first success;
	// DuringSamples those during the fault (shown for the baseline, where
	// any is unexpected).
	Samples, DuringSamples []string
}

func addSample(samples []string, o chaosOp) []string {
	s := o.kind + ": " + o.err
	if len(samples) < 3 && !slices.Contains(samples, s) {
		samples = append(samples, s)
	}
	return samples
}

// passed reports whether the phase left nothing behind but the failures
// during the fault.
func (r chaosRow) passed() bool {
	return r.FirstOKSeen && r.FirstOK <= recoveryTarget && r.FailAfter == 0 && r.Lost == 0 && r.Revoked == 0
}

// analyzePhase reduces the operations to ph's row. lost holds the token
// values found missing.
func analyzePhase(ph chaosPhase, ops []chaosOp, lost map[string]bool) chaosRow {
	row := chaosRow{Name: ph.name}
	var fails Histogram
	var firstOK time.Time
	for _, o := range ops {
		// What was answered in the phase is the phase's to account for.
		if !o.end.Before(ph.start) && o.end.Before(ph.end) {
			if o.revoked {
				row.Revoked++
			}
			for _, t := range o.tokens {
				if lost[t.value] {
					row.Lost++
				}
			}
		}
		// During the fault: every request it touched, those in flight
		// when it began included.
		if !o.end.Before(ph.start) && o.start.Before(ph.healed) && o.end.Before(ph.end) {
			row.Ops++
			if !o.ok() {
				row.Failed++
				fails.Record(o.end.Sub(o.start))
				row.DuringSamples = addSample(row.DuringSamples, o)
			}
			continue
		}
		if !o.start.Before(ph.healed) && o.start.Before(ph.end) && o.ok() && (firstOK.IsZero() || o.end.Before(firstOK)) {
			firstOK = o.end
		}
	}
	if !firstOK.IsZero() {
		row.FirstOKSeen, row.FirstOK = true, firstOK.Sub(ph.healed)
		for _, o := range ops {
			// Those still in flight when the next fault begins are its.
			if !o.start.Before(firstOK) && o.end.Before(ph.end) && o.serverFailure() {
				row.FailAfter++
				row.Samples = addSample(row.Samples, o)
			}
		}
	}
	row.FailMax, row.FailP99 = fails.Max(), fails.Quantile(0.99)
	return row
}

func cmdChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("chaos", stderr)
	var lf localFlags
	lf.register(fs, 0)
	var (
		faultFor, recovery, warmup, pace time.Duration
		conc                             int
		faults, queryTimeout             string
	)
	fs.DurationVar(&faultFor, "fault", 5*time.Second, "how long each fault lasts")
	fs.fromEnv("fault", "CHAOS_FAULT")
	fs.DurationVar(&recovery, "recovery", 8*time.Second, "how long the load runs after each fault is healed")
	fs.fromEnv("recovery", "CHAOS_RECOVERY")
	fs.DurationVar(&warmup, "warmup", 5*time.Second, "load before the first fault")
	fs.DurationVar(&pace, "pace", 20*time.Millisecond, "pause of each worker between requests (and after a failure, 5x)")
	fs.IntVar(&conc, "concurrency", 4, "workers of each workload (cc and refresh)")
	fs.fromEnv("concurrency", "CHAOS_CONCURRENCY")
	fs.StringVar(&faults, "faults", strings.Join(chaosFaultNames(), ","), "comma-separated faults, in order")
	fs.fromEnv("faults", "CHAOS_FAULTS")
	fs.StringVar(&queryTimeout, "query-timeout", "", "the server's database.query_timeout (default: the server's default)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if faultFor <= 0 || recovery <= 0 || warmup < 0 || pace < 0 || conc < 1 {
		return errors.New("fault, recovery and concurrency must be positive, warmup and pace not negative")
	}
	var plan []chaosFault
	for _, n := range strings.Split(faults, ",") {
		known := chaosFaults()
		i := slices.IndexFunc(known, func(f chaosFault) bool { return f.name == strings.TrimSpace(n) })
		if i < 0 {
			return fmt.Errorf("unknown fault %q (known: %s)", n, strings.Join(chaosFaultNames(), ", "))
		}
		plan = append(plan, known[i])
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "# "+format+"\n", args...) }

	var env []string
	if queryTimeout != "" {
		env = append(env, "GATEHOUSE_DATABASE_QUERY_TIMEOUT="+queryTimeout)
	}
	opts := lf.options(stderr, conc, 0, env, false)
	opts.FaultProxy = true
	l, err := startLocal(ctx, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	transport := newTransport(4 * conc)
	defer transport.CloseIdleConnections()
	e, err := prepareEnv(ctx, l.target, transport)
	if err != nil {
		return err
	}
	refreshers := make([]*chaosRefresher, conc)
	for i := range refreshers {
		a, tr, err := e.authorizerFor(ctx, i)
		if err != nil {
			return err
		}
		if tr.RefreshToken == "" {
			return errors.New("no refresh token from the authorization code grant")
		}
		refreshers[i] = &chaosRefresher{e: e, a: a, refresh: tr.RefreshToken}
	}

	total := warmup + time.Duration(len(plan))*(faultFor+recovery)
	logf("cc and refresh, %d workers each, through a fault proxy; %s of load, %s per fault, %s recovery", conc, total, faultFor, recovery)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	recorders := make([][]chaosOp, 2*conc)
	var wg sync.WaitGroup
	for i := range 2 * conc {
		wg.Go(func() {
			var do func(context.Context) chaosOp
			if i < conc {
				do = func(ctx context.Context) chaosOp { return chaosCC(ctx, e) }
			} else {
				do = refreshers[i-conc].do
			}
			recorders[i] = chaosLoop(loadCtx, do, pace)
		})
	}

	phases := []chaosPhase{{name: "baseline", description: "no fault: the load before the first one", start: time.Now()}}
	if err := sleepCtx(ctx, warmup); err != nil {
		return err
	}
	for _, f := range plan {
		ph := chaosPhase{name: f.name, description: f.what, start: time.Now()}
		phases[len(phases)-1].end = ph.start
		if len(phases) == 1 {
			phases[0].healed = ph.start
		}
		logf("%s: %s", f.name, f.what)
		f.apply(l.fault)
		err := sleepCtx(ctx, faultFor)
		l.fault.Pass()
		ph.healed = time.Now()
		phases = append(phases, ph)
		if err != nil {
			return err
		}
		if err := sleepCtx(ctx, recovery); err != nil {
			return err
		}
	}
	stop := time.Now()
	phases[len(phases)-1].end = stop
	if len(phases) == 1 {
		phases[0].healed = stop
	}
	stopLoad()
	wg.Wait()
	var ops []chaosOp
	for _, r := range recorders {
		for _, o := range r {
			if !o.end.After(stop) {
				ops = append(ops, o)
			}
		}
	}

	logf("checking %d answered tokens: a row each, and client credentials tokens active", countIssued(ops))
	lost, err := findLost(ctx, l, e, ops)
	if err != nil {
		return err
	}
	rows := make([]chaosRow, len(phases))
	for i, ph := range phases {
		rows[i] = analyzePhase(ph, ops, lost)
	}
	printChaos(stdout, readMachine(), phases, rows, ops)
	printLost(stdout, phases, ops, lost)
	for _, r := range rows[1:] {
		if !r.passed() {
			return fmt.Errorf("%w: a fault left failures, lost tokens or revoked families after the database returned (see the table)", errChaosFailed)
		}
	}
	if rows[0].Failed > 0 || rows[0].Lost > 0 || rows[0].Revoked > 0 {
		return fmt.Errorf("%w: failures before any fault", errChaosFailed)
	}
	fmt.Fprintln(stdout, "chaos passed")
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	return sleepUntil(ctx, time.Now().Add(d))
}

func countIssued(ops []chaosOp) int {
	n := 0
	for _, o := range ops {
		n += len(o.tokens)
	}
	return n
}

// chaosLoop runs do until ctx ends, pausing pace between requests and
// five times that after a failure (a client backing off, briefly, so that
// the first success after the fault is seen to within a few pauses).
func chaosLoop(ctx context.Context, do func(context.Context) chaosOp, pace time.Duration) []chaosOp {
	var ops []chaosOp
	for ctx.Err() == nil {
		o := do(ctx)
		if ctx.Err() != nil {
			break
		}
		ops = append(ops, o)
		wait := pace
		if !o.ok() {
			wait = 5 * pace
		}
		if sleepCtx(ctx, wait) != nil {
			break
		}
	}
	return ops
}

// chaosPost sends one token request and fills in op from the answer.
func chaosPost(ctx context.Context, e *env, clientID, secret string, form url.Values, op *chaosOp) (tokenResponse, []byte) {
	op.start = time.Now()
	body, status, err := postForm(ctx, e.plain, e.d.TokenEndpoint, clientID, secret, form)
	op.end = time.Now()
	op.status = status
	var tr tokenResponse
	switch {
	case err != nil:
		op.status, op.err = 0, err.Error()
	case status != http.StatusOK:
		op.err = statusError("token", status, body).Error()
	default:
		if jerr := json.Unmarshal(body, &tr); jerr != nil || tr.AccessToken == "" {
			op.err = "token: 200 without an access token"
		}
	}
	return tr, body
}

func chaosCC(ctx context.Context, e *env) chaosOp {
	op := chaosOp{kind: "cc"}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {e.t.ServiceScope}}
	tr, _ := chaosPost(ctx, e, e.t.ServiceID, e.t.ServiceSecret, form, &op)
	if op.ok() {
		op.tokens = []issuedToken{{kind: "access_token", value: tr.AccessToken, mustBeActive: true}}
	}
	return op
}

// chaosRefresher follows one refresh chain. After a failure it presents
// the same refresh token again, as a client that got no answer must; after
// invalid_grant (the family revoked) it starts a new chain on its login
// session.
type chaosRefresher struct {
	e       *env
	a       *authorizer
	refresh string // "" while a new chain is to be started
}

func (r *chaosRefresher) do(ctx context.Context) chaosOp {
	op := chaosOp{kind: "refresh"}
	if r.refresh == "" {
		op.start = time.Now()
		tr, err := r.a.flow(ctx, scopeAll, false)
		op.end = time.Now()
		if err != nil || tr.RefreshToken == "" {
			op.status, op.err = 0, fmt.Sprintf("new chain: %v", err)
			if err == nil {
				op.status, op.err = http.StatusOK, "new chain: no refresh token"
			}
			return op
		}
		r.refresh = tr.RefreshToken
		op.status = http.StatusOK
		op.tokens = []issuedToken{{kind: "refresh_token", value: tr.RefreshToken}}
		return op
	}
	tr, body := chaosPost(ctx, r.e, r.e.t.WebID, r.e.t.WebSecret,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.refresh}}, &op)
	switch {
	case op.ok() && tr.RefreshToken == "":
		op.err = "refresh: no new refresh token"
	case op.ok():
		r.refresh = tr.RefreshToken
		// The access token is not checked: the next rotation deletes it.
		// The refresh token's row, written in the same transaction, shows
		// that the answer's tokens were committed.
		op.tokens = []issuedToken{{kind: "refresh_token", value: tr.RefreshToken}}
	case op.status == http.StatusBadRequest && strings.Contains(string(body), `"invalid_grant"`):
		op.revoked, op.reused = true, r.refresh
		r.refresh = ""
	}
	return op
}

// findLost returns the answered tokens that have no row in the database,
// and the client credentials tokens that introspection does not call
// active.
func findLost(ctx context.Context, l *local, e *env, ops []chaosOp) (map[string]bool, error) {
	conn, err := pgx.Connect(ctx, l.dbURL)
	if err != nil {
		return nil, fmt.Errorf("check tokens: %w", err)
	}
	defer conn.Close(context.Background())
	// A token found reused was deleted on purpose; its family is counted
	// as revoked.
	reused := map[string]bool{}
	for _, o := range ops {
		if o.reused != "" {
			reused[o.reused] = true
		}
	}
	byKind := map[string][]issuedToken{}
	var active []issuedToken
	for _, o := range ops {
		for _, t := range o.tokens {
			if reused[t.value] {
				continue
			}
			byKind[t.kind] = append(byKind[t.kind], t)
			if t.mustBeActive {
				active = append(active, t)
			}
		}
	}
	lost := map[string]bool{}
	const batch = 1000
	for kind, tokens := range byKind {
		for i := 0; i < len(tokens); i += batch {
			part := tokens[i:min(i+batch, len(tokens))]
			sigs := make([]string, len(part))
			for j, t := range part {
				sigs[j] = t.signature()
			}
			// client_credentials access tokens are in client_tokens.
			rows, err := conn.Query(ctx, `SELECT signature FROM oauth_tokens WHERE kind = $1 AND signature = ANY($2)
				UNION ALL SELECT signature FROM client_tokens WHERE $1 = 'access_token' AND signature = ANY($2)`, kind, sigs)
			if err != nil {
				return nil, fmt.Errorf("check tokens: %w", err)
			}
			found, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return nil, fmt.Errorf("check tokens: %w", err)
			}
			have := map[string]bool{}
			for _, s := range found {
				have[s] = true
			}
			for _, t := range part {
				if !have[t.signature()] {
					lost[t.value] = true
				}
			}
		}
	}
	inactive, err := introspectAll(ctx, e, active)
	if err != nil {
		return nil, err
	}
	for _, v := range inactive {
		lost[v] = true
	}
	return lost, nil
}

// introspectAll returns the tokens introspection does not call active.
func introspectAll(ctx context.Context, e *env, tokens []issuedToken) ([]string, error) {
	if e.d.IntrospectionEndpoint == "" {
		return nil, errors.New("discovery lists no introspection_endpoint")
	}
	var mu sync.Mutex
	var inactive []string
	var firstErr error
	next := make(chan issuedToken)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for t := range next {
				body, status, err := postForm(ctx, e.plain, e.d.IntrospectionEndpoint, e.t.ServiceID, e.t.ServiceSecret,
					url.Values{"token": {t.value}, "token_type_hint": {"access_token"}})
				var out struct {
					Active bool `json:"active"`
				}
				if err == nil && status != http.StatusOK {
					err = statusError("introspect", status, body)
				}
				if err == nil {
					err = json.Unmarshal(body, &out)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("introspect: %w", err)
				}
				if err == nil && !out.Active {
					inactive = append(inactive, t.value)
				}
				mu.Unlock()
			}
		})
	}
	for _, t := range tokens {
		next <- t
	}
	close(next)
	wg.Wait()
	return inactive, firstErr
}

func printChaos(w io.Writer, m Machine, phases []chaosPhase, rows []chaosRow, ops []chaosOp) {
	fmt.Fprintf(w, "\ngatehouse-bench chaos  %s  %d CPUs (%s), Linux %s, %s, load average before %s\n",
		time.Now().UTC().Format(time.RFC3339), m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, m.LoadAvg)
	fmt.Fprintf(w, "cc and refresh load through a fault proxy between gatehouse and PostgreSQL, %d requests in all\n\n", len(ops))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault\tlasted\trequests\tfailed\tfailure max\tfailure p99\tfirst success after\t5xx after recovery\ttokens without a row\tfamilies revoked\t")
	for i, r := range rows {
		ph := phases[i]
		lasted, firstOK := "-", "-"
		if i > 0 {
			lasted = ph.healed.Sub(ph.start).Round(10 * time.Millisecond).String()
			firstOK = "none"
			if r.FirstOKSeen {
				firstOK = fmtMS(r.FirstOK)
			}
		}
		failMax, failP99 := "-", "-"
		if r.Failed > 0 {
			failMax, failP99 = fmtMS(r.FailMax), fmtMS(r.FailP99)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t\n", r.Name, lasted, r.Ops, r.Failed, failMax, failP99, firstOK, r.FailAfter, r.Lost, r.Revoked)
	}
	tw.Flush()
	for _, e := range rows[0].DuringSamples {
		fmt.Fprintf(w, "  %s: %.300s\n", rows[0].Name, e)
	}
	for _, r := range rows {
		for _, e := range r.Samples {
			fmt.Fprintf(w, "  %s, after recovery: %.300s\n", r.Name, e)
		}
	}
	fmt.Fprintf(w, "\nrequests and failures are of the requests begun during the fault (the whole warm-up for the baseline);\n"+
		"first success: from the healing to the answer of the first request begun after it that succeeded (target %s);\n"+
		"5xx after recovery: 5xx or no answer among the requests begun after that first success (and answered before\n"+
		"  the next fault);\n"+
		"tokens without a row: answered 200 but absent from the database (refresh tokens; client credentials tokens also\n"+
		"  when not active at introspection);\n"+
		"families revoked: refresh chains refused with invalid_grant for the refresh token last answered.\n\n", recoveryTarget)
	for _, ph := range phases {
		fmt.Fprintf(w, "  %-10s %s\n", ph.name, ph.description)
	}
	fmt.Fprintln(w)
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// printLost says which answered tokens were found missing, a few of them.
func printLost(w io.Writer, phases []chaosPhase, ops []chaosOp, lost map[string]bool) {
	if len(lost) == 0 {
		return
	}
	t0 := phases[0].start
	shown := 0
	for _, o := range ops {
		for _, t := range o.tokens {
			if !lost[t.value] || shown == 10 {
				continue
			}
			shown++
			phase := ""
			for _, ph := range phases {
				if !o.end.Before(ph.start) && o.end.Before(ph.end) {
					phase = ph.name
				}
			}
			fmt.Fprintf(w, "  lost: the %s of a %s request begun at +%s, answered 200 at +%s (%s)\n",
				t.kind, o.kind, fmtMS(o.start.Sub(t0)), fmtMS(o.end.Sub(t0)), phase)
		}
	}
	fmt.Fprintln(w)
}
