package observe

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the spans' source, as OpenTelemetry asks.
const instrumentation = "github.com/ecompointer/ecompointer/server"

// propagator reads (and would write) W3C trace context: traceparent and tracestate.
var propagator = propagation.TraceContext{}

// tracingOn is false until a tracer provider is installed: every span site then costs one atomic
// load and nothing else, which is what "off" must mean on the hot path.
var tracingOn atomic.Bool

type tracerBox struct{ t trace.Tracer }

var tracer atomic.Pointer[tracerBox]

// UseTracerProvider turns tracing on with tp (tests pass one with an in-memory exporter); nil
// turns it off.
func UseTracerProvider(tp trace.TracerProvider) {
	if tp == nil {
		tracingOn.Store(false)
		return
	}
	tracer.Store(&tracerBox{t: tp.Tracer(instrumentation)})
	tracingOn.Store(true)
}

// TracingEnabled reports whether spans are recorded.
func TracingEnabled() bool { return tracingOn.Load() }

// SetupTracing exports spans over OTLP/HTTP when the standard OpenTelemetry variables ask for it
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and OTEL_SDK_DISABLED not
// true, OTEL_TRACES_EXPORTER not none); the exporter, the sampler (OTEL_TRACES_SAMPLER, default
// parent-based always-on) and the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) read
// their own variables. Otherwise nothing is set up and tracing stays off. The returned function
// flushes and stops the exporter.
func SetupTracing(ctx context.Context, getenv func(string) string) (func(context.Context) error, error) {
	none := func(context.Context) error { return nil }
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return none, nil
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return none, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return none, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(serviceName(getenv))))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return none, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagator)
	UseTracerProvider(tp)
	return func(ctx context.Context) error {
		UseTracerProvider(nil)
		return tp.Shutdown(ctx)
	}, nil
}

func serviceName(getenv func(string) string) string {
	if n := getenv("OTEL_SERVICE_NAME"); n != "" {
		return n
	}
	return "ecompointer"
}

// Start starts a child span of ctx's span named name when tracing is on; otherwise it returns ctx
// and a span that does nothing.
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	if !tracingOn.Load() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracer.Load().t.Start(ctx, name)
}

// TraceID is the trace id of ctx's span (a client's traceparent counts), or "" when there is none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}
