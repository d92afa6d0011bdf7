package observe

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Middleware counts and times every request by route pattern, method and status class, and, when
// tracing is on, serves it inside a server span named after its route (a W3C traceparent from the
// client becomes the span's parent). With tracing off, a client's traceparent still sets the trace
// id the access log shows, so a caller's trace can be followed into the log. Mount it at the top
// of the chain, after the request id and before the access log, so the log line sees the span.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		httpInFlight.Inc()
		defer httpInFlight.Dec()
		ctx := r.Context()
		var span trace.Span
		switch {
		case tracingOn.Load():
			ctx = propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
			ctx, span = tracer.Load().t.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()
		case r.Header.Get("Traceparent") != "":
			ctx = propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		sw := &statusRecorder{ResponseWriter: w}
		if ctx != r.Context() {
			r = r.WithContext(ctx) // a copy of the request: only when there is a trace to carry
		}
		next.ServeHTTP(sw, r)

		route := "unmatched"
		if rc := chi.RouteContext(ctx); rc != nil {
			if p := rc.RoutePattern(); p != "" {
				route = p
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		method := boundedMethod(r.Method)
		class := statusClass(status)
		httpRequests.WithLabelValues(route, method, class).Inc()
		httpDuration.WithLabelValues(route, method, class).Observe(time.Since(start).Seconds())
		if span != nil {
			span.SetName(method + " " + route)
			span.SetAttributes(
				attribute.String("http.request.method", method),
				attribute.String("http.route", route),
				attribute.Int("http.response.status_code", status),
			)
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
	})
}

// boundedMethod keeps the method label a small set: a client may send any token as a method.
func boundedMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusRecorder remembers the status and the body bytes written. The access log reads them
// through Written rather than wrapping the writer a second time.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Written reports the status (0 before anything was written) and the body bytes written so far.
func (w *statusRecorder) Written() (status, bytes int) { return w.status, w.bytes }

// Unwrap lets http.ResponseController reach the real writer (flush, deadlines).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
