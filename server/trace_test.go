package server_test

import (
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestTraceOfABrandScopedRequest serves one authenticated, brand-scoped request with a W3C
// traceparent and checks its span tree in the SDK's in-memory exporter: a server span named by
// the route pattern, child of the caller's span, and under it the token verification and one span
// per SQL statement, named by its sqlc query name. The tracer provider is process-wide, so the
// test does not run in parallel with others (it still keeps only its own trace's spans).
func TestTraceOfABrandScopedRequest(t *testing.T) { //nolint:paralleltest // swaps the process's tracer provider
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "traced")
	b.Product(t, "TR-1")

	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	observe.UseTracerProvider(tp)
	t.Cleanup(func() { observe.UseTracerProvider(nil); _ = tp.Shutdown(ctx) })

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.URL+"/brands/"+b.Brand.String()+"/products", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.Owner.AccessToken)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list products: %d", resp.StatusCode)
	}

	var mine []tracetest.SpanStub
	for _, s := range exporter.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			mine = append(mine, s)
		}
	}
	var root *tracetest.SpanStub
	for i, s := range mine {
		if s.SpanKind == trace.SpanKindServer {
			root = &mine[i]
		}
	}
	if root == nil {
		t.Fatalf("no server span in trace %s; spans: %v", traceID, names(mine))
	}
	if got, want := root.Name, "GET /brands/{brandId}/products"; got != want {
		t.Errorf("server span %q, want %q", got, want)
	}
	if got := root.Parent.SpanID().String(); got != parentID || !root.Parent.IsRemote() {
		t.Errorf("server span's parent %s (remote %v), want the traceparent's %s", got, root.Parent.IsRemote(), parentID)
	}
	children := map[string]bool{}
	for _, s := range mine {
		if s.Parent.SpanID() == root.SpanContext.SpanID() {
			children[s.Name] = true
		}
	}
	for _, want := range []string{"token.verify", "ProductList"} {
		if !children[want] {
			t.Errorf("no %s span under the server span; children: %v", want, children)
		}
	}
	for name := range children {
		if strings.Contains(name, "SELECT ") || strings.Contains(name, "$1") {
			t.Errorf("span named by SQL text: %q", name)
		}
	}
	if !strings.Contains(env.Logs(), "trace_id="+traceID) {
		t.Errorf("the access log does not carry the trace id %s", traceID)
	}
}

func names(spans []tracetest.SpanStub) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
