package server

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/telemetry"
)

// MetricsPath is where the Prometheus metrics are served: at the root of
// the listener, not under the issuer's path, where scrape configurations
// look by default.
const MetricsPath = "/metrics"

// tracingShutdownGrace bounds how long Close waits for the last spans to
// reach the collector.
const tracingShutdownGrace = 5 * time.Second

// Option adjusts New.
type Option func(*options)

type options struct {
	version string
}

// WithVersion names the build in gatehouse_build_info and the traces'
// service.version (default "dev").
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// newTelemetry builds the instance's metrics, request log and, when
// configured (tracing.enabled or the standard OTEL_* variables, read from
// the process environment like the exporter itself reads them), tracing.
func newTelemetry(ctx context.Context, cfg config.Config, st store.Store, logger *slog.Logger, opts []Option) (*telemetry.Telemetry, error) {
	o := options{version: "dev"}
	for _, opt := range opts {
		opt(&o)
	}
	topts := telemetry.Options{
		Version:        o.version,
		Logger:         logger,
		QuietRoutes:    []string{"/healthz", "/readyz", MetricsPath},
		SignInOutcomes: domain.SignInOutcomes(),
		// The classes of rate limits, each a series from the start.
		RateLimitClasses: rateLimitClasses(),
		Tracing: telemetry.Tracing{
			Enabled:   telemetry.TracingRequested(cfg.Tracing.Enabled, os.LookupEnv),
			LookupEnv: os.LookupEnv,
		},
	}
	if p, ok := st.(telemetry.PoolStatser); ok {
		topts.Pool = p
	}
	return telemetry.New(ctx, topts)
}

// mountTelemetry labels every routed request with its route template and,
// unless metrics.addr gives them a listener of their own, serves /metrics
// on r.
func (s *Server) mountTelemetry(r *mux.Router, cfg config.Config) {
	// A router middleware runs only once a route matched (mux applies it
	// after matching), which is when the template is known; 404s and
	// 405s never reach it and stay "unmatched".
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if route := mux.CurrentRoute(req); route != nil {
				if tpl, err := route.GetPathTemplate(); err == nil {
					telemetry.SetRoute(req, tpl)
				}
			}
			next.ServeHTTP(w, req)
		})
	})
	if cfg.Metrics.Addr == "" {
		r.Handle(MetricsPath, s.tel.Handler()).Methods(http.MethodGet, http.MethodHead)
	}
}

// MetricsHandler serves MetricsPath alone, for the listener of
// metrics.addr (cmd/gatehouse starts it).
func (s *Server) MetricsHandler() http.Handler {
	m := http.NewServeMux()
	m.Handle("GET "+MetricsPath, s.tel.Handler())
	return m
}

// Telemetry returns the instance's recorders, for the parts the caller
// builds itself (the janitor).
func (s *Server) Telemetry() *telemetry.Telemetry { return s.tel }

// closeTelemetry flushes the spans still buffered.
func (s *Server) closeTelemetry() {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownGrace)
	defer cancel()
	if err := s.tel.Shutdown(ctx); err != nil {
		s.logger.Warn("telemetry: spans may have been lost", "error", err)
	}
}
