package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// otlpSink is the OTLP/HTTP endpoint the tracing variant of the server exports to: a loopback
// listener in the harness's own process that accepts POST /v1/traces, counts what arrived (export
// requests, bytes on the wire, spans) and throws it away. It stands for a collector that keeps up,
// so the figures are the server's cost of tracing, not a collector's; no external process is
// needed. Its CPU is the harness's, charged to the load generator's column.
type otlpSink struct {
	srv      *http.Server
	url      string
	requests atomic.Int64
	bytes    atomic.Int64
	spans    atomic.Int64
	bad      atomic.Int64 // bodies that were not an ExportTraceServiceRequest
}

// otlpCounts is what the sink has received.
type otlpCounts struct {
	Requests, Bytes, Spans, Bad int64
}

func (c otlpCounts) sub(o otlpCounts) otlpCounts {
	return otlpCounts{Requests: c.Requests - o.Requests, Bytes: c.Bytes - o.Bytes, Spans: c.Spans - o.Spans, Bad: c.Bad - o.Bad}
}

// startOTLPSink listens on a free loopback port.
func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.traces)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// env points a server's OTLP exporter at the sink (OTLP/HTTP with protobuf bodies, what
// otlptracehttp sends).
func (s *otlpSink) env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.url, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"}
}

// counts is what arrived so far; nil-safe, so a run without a sink reads zeros.
func (s *otlpSink) counts() otlpCounts {
	if s == nil {
		return otlpCounts{}
	}
	return otlpCounts{Requests: s.requests.Load(), Bytes: s.bytes.Load(), Spans: s.spans.Load(), Bad: s.bad.Load()}
}

func (s *otlpSink) close() { _ = s.srv.Close() }

// traces answers an export: 200 with an empty ExportTraceServiceResponse (no partial success to
// report), or 400 for a body that is not one.
func (s *otlpSink) traces(w http.ResponseWriter, r *http.Request) {
	var wire bytes.Buffer
	if _, err := wire.ReadFrom(r.Body); err != nil {
		http.Error(w, "read the body", http.StatusBadRequest)
		return
	}
	s.requests.Add(1)
	s.bytes.Add(int64(wire.Len()))
	body := wire.Bytes()
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(&wire)
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			s.bad.Add(1)
			http.Error(w, "bad gzip body", http.StatusBadRequest)
			return
		}
	}
	n, err := countSpans(body)
	if err != nil {
		s.bad.Add(1)
		http.Error(w, "not an ExportTraceServiceRequest", http.StatusBadRequest)
		return
	}
	s.spans.Add(int64(n))
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// spanPath is where spans sit in an OTLP ExportTraceServiceRequest: resource_spans = 1, then
// ResourceSpans.scope_spans = 2, then ScopeSpans.spans = 2 (opentelemetry-proto,
// collector/trace/v1 and trace/v1).
var spanPath = []protowire.Number{1, 2, 2}

// countSpans counts the spans of an ExportTraceServiceRequest by walking its protobuf encoding,
// without decoding the spans themselves: the sink must stay cheap beside the server it measures.
func countSpans(b []byte) (int, error) { return countAt(b, spanPath) }

func countAt(b []byte, path []protowire.Number) (int, error) {
	n := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, protowire.ParseError(l)
		}
		b = b[l:]
		if num == path[0] && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return 0, protowire.ParseError(l)
			}
			b = b[l:]
			if len(path) == 1 {
				n++
				continue
			}
			k, err := countAt(v, path[1:])
			if err != nil {
				return 0, err
			}
			n += k
			continue
		}
		if num == path[0] {
			return 0, errors.New("a span field that is not a message")
		}
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			return 0, protowire.ParseError(l)
		}
		b = b[l:]
	}
	return n, nil
}
