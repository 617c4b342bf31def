package telemetry

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Tracing configures OpenTelemetry tracing of requests.
type Tracing struct {
	// Enabled turns tracing on (see TracingRequested).
	Enabled bool
	// Exporter receives the finished spans. nil: OTLP over HTTP/protobuf,
	// configured by the standard OTEL_EXPORTER_OTLP_* variables (endpoint,
	// headers, timeout, compression, certificates).
	Exporter sdktrace.SpanExporter
	// LookupEnv reads the OTEL_* variables that choose the protocol
	// (os.LookupEnv in production; nil reads none).
	LookupEnv func(string) (string, bool)
}

// TracingRequested decides whether tracing is on: when configured
// (tracing.enabled), or when an OTLP endpoint is given the standard way
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, as an
// operator or the OpenTelemetry operator sets them for every service). The
// standard switches OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none
// turn it off whatever else is set.
func TracingRequested(configured bool, lookupEnv func(string) (string, bool)) bool {
	get := func(name string) string {
		if lookupEnv == nil {
			return ""
		}
		v, _ := lookupEnv(name)
		return strings.TrimSpace(v)
	}
	if disabled, err := strconv.ParseBool(get("OTEL_SDK_DISABLED")); err == nil && disabled {
		return false
	}
	if strings.EqualFold(get("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return configured || get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// newTracerProvider batches spans to the exporter. The sampler comes from
// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: parent-based,
// always on), the resource from OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES over service.name=gatehouse.
func newTracerProvider(ctx context.Context, opts Tracing, version string) (*sdktrace.TracerProvider, error) {
	exp := opts.Exporter
	if exp == nil {
		if err := checkProtocol(opts.LookupEnv); err != nil {
			return nil, err
		}
		var err error
		if exp, err = otlptracehttp.New(ctx); err != nil {
			return nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
		}
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "gatehouse"), attribute.String("service.version", version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // last: the operator's variables win
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// checkProtocol refuses an OTLP protocol other than http/protobuf: sending
// HTTP to a gRPC collector would fail on every export, silently.
func checkProtocol(lookupEnv func(string) (string, bool)) error {
	if lookupEnv == nil {
		return nil
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		v, ok := lookupEnv(name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if strings.TrimSpace(v) != "http/protobuf" {
			return fmt.Errorf("telemetry: %s=%q: gatehouse exports traces over http/protobuf only", name, v)
		}
		return nil // the traces-specific variable wins over the general one
	}
	return nil
}
