package observe_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ecompointer/ecompointer/server/observe"
)

// discardWriter keeps only the status: httptest.ResponseRecorder would copy every body and add
// its own allocations to the figures.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// The statements of a product get as pgx reports them to its tracer: the session lookup on its
// own, then the brand-scoped read pipelined in one batch (BEGIN, the brand scope, the query).
const (
	sessionSQL = "-- name: SessionGet :one\nSELECT id FROM sessions WHERE id = $1"
	beginSQL   = "BEGIN READ ONLY"
	scopeSQL   = "SELECT set_config('app.brand_id', $1, true)"
	productSQL = "-- name: ProductGet :one\nSELECT id, name FROM products WHERE brand_id = $1 AND id = $2"
)

var productBody = []byte(`{"id":"0b6f6c1e-3c3a-4f52-9d55-0e0c4d0b8f11","name":"Brushed brass hook","priceAmount":1290}`)

// productHandler answers like a product get; with traced, it makes the calls pgx makes on its
// tracer for the request's statements (a pool without a tracer makes none).
func productHandler(traced bool) http.HandlerFunc {
	qt := observe.QueryTracer()
	bt := qt.(pgx.BatchTracer)
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if traced {
			c := qt.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: sessionSQL})
			qt.TraceQueryEnd(c, nil, pgx.TraceQueryEndData{})
			c = bt.TraceBatchStart(ctx, nil, pgx.TraceBatchStartData{})
			for _, sql := range []string{beginSQL, scopeSQL, productSQL} {
				bt.TraceBatchQuery(c, nil, pgx.TraceBatchQueryData{SQL: sql})
			}
			bt.TraceBatchEnd(c, nil, pgx.TraceBatchEndData{})
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(productBody)
	}
}

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkRequestPath is what the observability layer adds to a request, in process, no
// database: a chi router serving a product get, without observe.Middleware and the pgx query
// tracer (none), with them and nothing set (tracing-off: what a server runs when no
// OpenTelemetry variable is set; the middleware's Prometheus counter and histogram included), the
// same with a client's traceparent, and with tracing on at 100% sampling (tracing-on: a server
// span and four statement spans, handed to the SDK's batcher; OTLP encoding and sending, done on
// the batcher's goroutine, are left out: the load harness measures those).
func BenchmarkRequestPath(b *testing.B) {
	run := func(b *testing.B, observed bool, traceparent string) {
		r := chi.NewRouter()
		if observed {
			r.Use(observe.Middleware)
		}
		r.Get("/brands/{brandId}/products/{productId}", productHandler(observed))
		req, err := http.NewRequest(http.MethodGet, "/brands/7d1b1c52-2a47-4a4e-8d71-58c4bb0b8b2e/products/0b6f6c1e-3c3a-4f52-9d55-0e0c4d0b8f11", nil)
		if err != nil {
			b.Fatal(err)
		}
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		w := &discardWriter{header: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.header)
			w.status = 0
			r.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	}
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b.Run("no-middleware", func(b *testing.B) { run(b, false, "") })
	b.Run("tracing-off", func(b *testing.B) {
		if observe.TracingEnabled() {
			b.Fatal("tracing is on")
		}
		run(b, true, "")
	})
	b.Run("tracing-off-traceparent", func(b *testing.B) { run(b, true, parent) })
	b.Run("tracing-on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discardExporter{}))
		observe.UseTracerProvider(tp)
		b.Cleanup(func() {
			observe.UseTracerProvider(nil)
			_ = tp.Shutdown(context.Background())
		})
		run(b, true, "")
	})
}

// BenchmarkQueryTracerOff is the pgx tracer's cost per statement with tracing off: the calls pgx
// makes on it for one statement, against none (a pool without a tracer).
func BenchmarkQueryTracerOff(b *testing.B) {
	if observe.TracingEnabled() {
		b.Fatal("tracing is on")
	}
	qt := observe.QueryTracer()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := qt.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: productSQL})
		qt.TraceQueryEnd(c, nil, pgx.TraceQueryEndData{})
	}
}
