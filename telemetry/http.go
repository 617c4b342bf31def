package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-Id"

// Unmatched is the route label of a request no route served: 404s, 405s and
// requests refused before routing (an oversized body).
const Unmatched = "unmatched"

// maxRequestIDLength bounds an incoming id: it goes into every log line of
// the request, and a proxy's id is far shorter.
const maxRequestIDLength = 128

// requestInfo rides in the request's context from Middleware to the router,
// which fills in the route.
type requestInfo struct {
	id    string
	route string
}

type requestInfoKey struct{}

// SetRoute records the route template that serves r ("/api/v1/users/{id}",
// never the raw path, which would make one series per user), for the
// metrics, the request log and the span name. The router calls it once it
// has matched; a request nobody calls it for is labeled Unmatched.
func SetRoute(r *http.Request, template string) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.route = template
	}
	span := trace.SpanFromContext(r.Context())
	if span.IsRecording() {
		span.SetName(r.Method + " " + template)
		span.SetAttributes(attribute.String("http.route", template))
	}
}

// RequestID returns the id of the request ctx belongs to, "" outside one.
func RequestID(ctx context.Context) string {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// Middleware counts and times every request, logs one line for it and gives
// it a request id: the incoming X-Request-Id if it is sane (a proxy's),
// otherwise a new one, echoed in the response either way. With tracing on
// it also opens the request's server span, continuing an incoming W3C
// traceparent.
//
// The log line has the method, route template, status, duration and
// request id, and never the path or the query: a path may hold a
// one-time ticket and a query a code or token.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: incomingRequestID(r.Header.Get(RequestIDHeader))}
		if info.id == "" {
			info.id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, info.id)
		ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(attribute.String("gatehouse.request_id", info.id))
		}
		rec := &statusRecorder{ResponseWriter: w}
		completed := false
		defer func() {
			status := rec.status
			switch {
			case status == 0 && !completed:
				// A panic passing through: the connection is dropped.
				status = http.StatusInternalServerError
			case status == 0:
				status = http.StatusOK // what net/http sends for an empty answer
			}
			t.observe(ctx, r.Method, info, status, time.Since(start))
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
		completed = true
	})
	if t.tracer == nil {
		return h
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.tracer),
		// Explicit, so that nothing depends on the process-wide globals.
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		// Renamed to "METHOD /route" by SetRoute once the route is known.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

func (t *Telemetry) observe(ctx context.Context, method string, info *requestInfo, status int, d time.Duration) {
	route := info.route
	if route == "" {
		route = Unmatched
	}
	m := methodLabel(method)
	t.requests.WithLabelValues(m, route, statusLabel(status)).Inc()
	t.duration.WithLabelValues(m, route).Observe(d.Seconds())

	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case t.quiet[route]:
		level = slog.LevelDebug
	}
	if !t.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", m),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("request_id", info.id),
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	t.logger.LogAttrs(ctx, level, "http request", attrs...)
}

// incomingRequestID returns id if it is safe to log and echo: at most
// maxRequestIDLength of letters, digits and . _ : - (UUIDs, hex and the ids
// proxies generate), and "" otherwise.
func incomingRequestID(id string) string {
	if id == "" || len(id) > maxRequestIDLength {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return ""
		}
	}
	return id
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// methodLabel keeps the method label to the standard methods: anything else
// a client sends would otherwise be a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	// 1xx answers are interim; the final status comes after them.
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer (flush,
// deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
