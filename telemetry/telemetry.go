package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// namespace prefixes every metric of gatehouse's own.
const namespace = "gatehouse"

// Options configure a Telemetry. Zero fields take the defaults.
type Options struct {
	// Version is reported by gatehouse_build_info and as the traces'
	// service.version.
	Version string
	// Logger receives the request log (nil discards).
	Logger *slog.Logger
	// Pool, when set, is read at every scrape for the database pool
	// gauges and counters.
	Pool PoolStatser
	// QuietRoutes are route templates whose requests are logged at debug
	// rather than info: health probes and scrapes, which arrive every few
	// seconds and say nothing.
	QuietRoutes []string
	// SignInOutcomes are the outcome label's values (domain's), each a
	// series from the start, so that a rate or an alert on failures has
	// data before the first failure.
	SignInOutcomes []string
	// Tracing configures OpenTelemetry tracing; off when not Enabled.
	Tracing Tracing
	// RateLimitClasses are the class label's values of
	// gatehouse_rate_limited_total, each a series from the start.
	RateLimitClasses []string
}

// Telemetry holds one instance's metrics (in a private registry), its
// request log and its tracer. Its methods are safe for concurrent use.
type Telemetry struct {
	reg    *prometheus.Registry
	logger *slog.Logger
	quiet  map[string]bool

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	signIns  *prometheus.CounterVec
	deleted  *prometheus.CounterVec
	janitor  *prometheus.CounterVec
	cache    *prometheus.CounterVec

	rateLimited *prometheus.CounterVec

	// tracer is nil when tracing is off.
	tracer *sdktrace.TracerProvider
}

// New builds the registry and, when opts.Tracing is enabled, the tracer
// provider and its exporter (which connects lazily: a collector that is
// down costs dropped spans, not a failed start). ctx bounds only the set-up.
func New(ctx context.Context, opts Options) (*Telemetry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Telemetry{reg: prometheus.NewRegistry(), logger: opts.Logger, quiet: map[string]bool{}}
	for _, r := range opts.QuietRoutes {
		t.quiet[r] = true
	}
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by method, route template (\"unmatched\" when no route served it) and status code.",
	}, []string{"method", "route", "status"})
	t.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time from the request's arrival to the end of its handler, by method and route template.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	t.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "tokens_issued_total",
		Help: "Successful token endpoint responses, by grant type.",
	}, []string{"grant_type"})
	t.signIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sign_ins_total",
		Help: "Password sign-ins, by outcome: success, pending (no access yet), failure, locked (refused while locked out) or error.",
	}, []string{"outcome"})
	t.deleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "janitor_deleted_total",
		Help: "Expired records the janitor deleted, by kind.",
	}, []string{"kind"})
	t.janitor = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "janitor_runs_total",
		Help: "Janitor runs, by result (ok or error).",
	}, []string{"result"})
	t.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_requests_total",
		Help: "In-process cache lookups, by cache and result (hit or miss).",
	}, []string{"cache", "result"})
	t.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limited_total",
		Help: "Requests refused with 429 by the per-address rate limits, by class of route (sign_in, token, api, default).",
	}, []string{"class"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1; the labels say which gatehouse build is running.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(opts.Version, runtime.Version()).Set(1)

	collectorsToRegister := []prometheus.Collector{
		t.requests, t.duration, t.tokens, t.signIns, t.deleted, t.janitor, t.cache, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		t.rateLimited,
	}
	if opts.Pool != nil {
		collectorsToRegister = append(collectorsToRegister, newPoolCollector(opts.Pool))
	}
	for _, c := range collectorsToRegister {
		if err := t.reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register metrics: %w", err)
		}
	}
	for _, o := range opts.SignInOutcomes {
		t.signIns.WithLabelValues(o)
	}
	for _, c := range opts.RateLimitClasses {
		t.rateLimited.WithLabelValues(c)
	}

	if opts.Tracing.Enabled {
		tp, err := newTracerProvider(ctx, opts.Tracing, opts.Version)
		if err != nil {
			return nil, err
		}
		t.tracer = tp
	}
	return t, nil
}

// Handler serves the registry in the Prometheus text format.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(t.reg, promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(t.logger.Handler(), slog.LevelWarn),
		Registry: t.reg,
	}))
}

// Tracing reports whether requests are traced.
func (t *Telemetry) Tracing() bool { return t.tracer != nil }

// Shutdown flushes the spans not yet exported and stops the exporter. Call
// it once the HTTP server has stopped; a nil Telemetry or one without
// tracing has nothing to do.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil || t.tracer == nil {
		return nil
	}
	if err := t.tracer.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("telemetry: shut down tracing: %w", err)
	}
	return nil
}

// TokenIssued counts a token endpoint success (provider.TokenRecorder).
func (t *Telemetry) TokenIssued(grantType string) { t.tokens.WithLabelValues(grantType).Inc() }

// RateLimited counts a request refused by the rate limit of class.
func (t *Telemetry) RateLimited(class string) { t.rateLimited.WithLabelValues(class).Inc() }

// SignIn counts a password sign-in by outcome (domain.SignInRecorder).
func (t *Telemetry) SignIn(outcome string) { t.signIns.WithLabelValues(outcome).Inc() }

// JanitorDeleted counts n deleted records of kind (janitor.Recorder).
func (t *Telemetry) JanitorDeleted(kind string, n int) {
	t.deleted.WithLabelValues(kind).Add(float64(n))
}

// JanitorRun counts a janitor run (janitor.Recorder).
func (t *Telemetry) JanitorRun(ok bool) {
	result := "ok"
	if !ok {
		result = "error"
	}
	t.janitor.WithLabelValues(result).Inc()
}

// CacheLookup counts a lookup of the named cache (cache.Recorder).
func (t *Telemetry) CacheLookup(name string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	t.cache.WithLabelValues(name, result).Inc()
}

// statusLabel keeps the status label to the codes net/http can send.
func statusLabel(code int) string {
	if code < 100 || code > 999 {
		return "other"
	}
	return strconv.Itoa(code)
}
