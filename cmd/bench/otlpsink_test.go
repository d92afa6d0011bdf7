package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// TestOTLPSinkCountsWhatTheSDKExports: the real OTLP/HTTP exporter, pointed at the sink, gets its
// spans counted, gzip-compressed or not; a body that is not an export is refused and counted apart.
func TestOTLPSinkCountsWhatTheSDKExports(t *testing.T) {
	t.Parallel()
	sink, err := startOTLPSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.close()
	ctx := context.Background()
	export := func(spans int, opts ...otlptracehttp.Option) {
		t.Helper()
		exp, err := otlptracehttp.New(ctx, append(opts, otlptracehttp.WithEndpointURL(sink.url+"/v1/traces"))...)
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
		tr := tp.Tracer("bench-test")
		for range spans {
			c, parent := tr.Start(ctx, "request")
			_, child := tr.Start(c, "query")
			child.End()
			parent.End()
		}
		if err := tp.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	export(3)
	if c := sink.counts(); c.Spans != 6 || c.Requests < 1 || c.Bytes == 0 || c.Bad != 0 {
		t.Errorf("after 6 spans: %+v", c)
	}
	export(2, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if c := sink.counts(); c.Spans != 10 || c.Bad != 0 {
		t.Errorf("after 4 more, gzipped: %+v", c)
	}

	before := sink.counts()
	resp, err := http.Post(sink.url+"/v1/traces", "application/x-protobuf", bytes.NewReader([]byte{0x0a, 0xff}))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := sink.counts().sub(before); resp.StatusCode != http.StatusBadRequest || got.Bad != 1 || got.Spans != 0 {
		t.Errorf("a truncated body: status %d, %+v", resp.StatusCode, got)
	}
	if n, err := countSpans(nil); n != 0 || err != nil {
		t.Errorf("an empty export: %d, %v", n, err)
	}
}
