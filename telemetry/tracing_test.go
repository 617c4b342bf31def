package telemetry_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gatehouse/gatehouse/telemetry"
)

// spans keeps what it is sent, also across Shutdown (tracetest's in-memory
// exporter forgets its spans there, which is where this test looks).
type spans struct {
	mu       sync.Mutex
	got      []sdktrace.ReadOnlySpan
	shutdown bool
}

func (s *spans) ExportSpans(_ context.Context, batch []sdktrace.ReadOnlySpan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, batch...)
	return nil
}

func (s *spans) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	return nil
}

func (s *spans) all() []sdktrace.ReadOnlySpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdktrace.ReadOnlySpan(nil), s.got...)
}

// With tracing on, each request is a server span named after its route,
// continuing the caller's W3C trace; Shutdown flushes the batch; the
// request log names the trace.
func TestTracingSpans(t *testing.T) {
	exp := &spans{}
	e := newEnv(t, telemetry.Options{Tracing: telemetry.Tracing{Enabled: true, Exporter: exp}})
	if !e.tel.Tracing() {
		t.Fatal("Tracing() = false with tracing enabled")
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp := e.get("/users/7?token=s3cr3t", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	e.get("/no/such/page")
	if n := len(exp.all()); n != 0 {
		t.Logf("%d spans exported before Shutdown (the batcher may flush early)", n)
	}
	if err := e.tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := exp.all()
	if len(got) != 2 || !exp.shutdown {
		t.Fatalf("after Shutdown: %d spans, exporter shut down %v; want 2 and true", len(got), exp.shutdown)
	}
	user, other := got[0], got[1]
	if user.Name() != "GET /users/{id}" {
		t.Errorf("span name %q, want GET /users/{id}", user.Name())
	}
	if user.SpanContext().TraceID().String() != traceID || user.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span trace %s parent %s: the incoming traceparent was not continued",
			user.SpanContext().TraceID(), user.Parent().SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range user.Attributes() {
		attrs[a.Key] = a.Value
	}
	if attrs["http.route"].AsString() != "/users/{id}" || attrs["http.response.status_code"].AsInt64() != 200 {
		t.Errorf("span attributes %v, want http.route and the status", attrs)
	}
	if attrs["gatehouse.request_id"].AsString() != resp.Header.Get("X-Request-Id") {
		t.Errorf("span request id %q, response %q", attrs["gatehouse.request_id"].AsString(), resp.Header.Get("X-Request-Id"))
	}
	for k, v := range attrs {
		if strings.Contains(v.Emit(), "s3cr3t") {
			t.Errorf("span attribute %s carries the query: %s", k, v.Emit())
		}
	}
	if other.Name() != "GET" {
		t.Errorf("unmatched request's span %q, want GET (no route)", other.Name())
	}
	if v, ok := user.Resource().Set().Value("service.name"); !ok || v.AsString() != "gatehouse" {
		t.Errorf("service.name = %v", v)
	}
	lines := e.logs.requests(t)
	if len(lines) == 0 || lines[0]["trace_id"] != traceID {
		t.Errorf("request log %v, want trace_id %s", lines, traceID)
	}
}

// Without tracing no span is made and Shutdown has nothing to do.
func TestTracingOff(t *testing.T) {
	e := newEnv(t, telemetry.Options{})
	if e.tel.Tracing() {
		t.Fatal("Tracing() = true by default")
	}
	e.get("/users/1", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err := e.tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines := e.logs.requests(t); len(lines) != 1 || lines[0]["trace_id"] != nil {
		t.Errorf("request log %v, want no trace_id", lines)
	}
}

func TestTracingRequested(t *testing.T) {
	cases := []struct {
		name       string
		configured bool
		env        map[string]string
		want       bool
	}{
		{"nothing", false, nil, false},
		{"configured", true, nil, true},
		{"endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{"traces endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{"empty endpoint", false, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, false},
		{"sdk disabled wins", true, map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{"exporter none wins", true, map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{"sdk disabled false", true, map[string]string{"OTEL_SDK_DISABLED": "false"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			if got := telemetry.TracingRequested(c.configured, env); got != c.want {
				t.Errorf("TracingRequested = %v, want %v", got, c.want)
			}
		})
	}
}

// A protocol gatehouse cannot speak is refused at start rather than failing
// every export in silence.
func TestTracingRefusesGRPC(t *testing.T) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		env := func(k string) (string, bool) {
			if k == name {
				return "grpc", true
			}
			return "", false
		}
		_, err := telemetry.New(context.Background(), telemetry.Options{Tracing: telemetry.Tracing{Enabled: true, LookupEnv: env}})
		if err == nil || !strings.Contains(err.Error(), "http/protobuf") {
			t.Errorf("%s=grpc: New error %v, want a refusal naming http/protobuf", name, err)
		}
	}
	env := func(k string) (string, bool) {
		if k == "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" {
			return "http/protobuf", true
		}
		if k == "OTEL_EXPORTER_OTLP_PROTOCOL" {
			return "grpc", true // for other signals; traces say otherwise
		}
		return "", false
	}
	tel, err := telemetry.New(context.Background(), telemetry.Options{Tracing: telemetry.Tracing{Enabled: true, LookupEnv: env}})
	if err != nil {
		t.Fatalf("traces over http/protobuf, other signals grpc: %v", err)
	}
	_ = tel.Shutdown(context.Background())
}
