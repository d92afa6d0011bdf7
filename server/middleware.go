package server

import (
	"errors"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/go-chi/chi/v5"
	"github.com/oklog/ulid/v2"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/problem"
)

// A client's own request id is kept only when it cannot smuggle anything into a log line.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID takes the client's X-Request-Id or makes a ULID, echoes it and stores it for problems
// and log lines, with the client's address (X-Forwarded-For believed only from trusted proxies)
// and User-Agent, which sessions, audit events and the rate limit record.
func requestID(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-Id")
			if !validRequestID.MatchString(id) {
				id = newRequestID()
			}
			w.Header().Set("X-Request-Id", id)
			ctx := problem.WithRequest(r.Context(), &problem.Request{
				ID: id, Path: r.URL.Path, IP: clientIP(r, trusted), UserAgent: recordable(r.UserAgent(), 512),
			})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// newRequestID is a new ULID in its text form.
func newRequestID() string {
	var text [ulid.EncodedSize]byte
	id := ulid.Make()
	_ = id.MarshalTextTo(text[:]) // cannot fail: the buffer has the encoded size
	return string(text[:])
}

// statusWriter remembers what was written, for the access log and the panic handler.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Written reports the status (0 before anything was written) and the body bytes written so far.
func (w *statusWriter) Written() (status, bytes int) { return w.status, w.bytes }

// writtenReporter is a writer that remembers what was written: statusWriter, or the one
// observe.Middleware puts in front of the access log.
type writtenReporter interface {
	http.ResponseWriter
	Written() (status, bytes int)
}

// answerStarted reports whether w, or a writer it wraps, has sent the answer's status line.
func answerStarted(w http.ResponseWriter) bool {
	for {
		if sw, ok := w.(writtenReporter); ok {
			status, _ := sw.Written()
			return status != 0
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// clientWriteFailed reports whether err is a write to the client's connection that failed: the
// client closed or reset it, or read too slowly for the server's write timeout.
func clientWriteFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "write"
}

// accessLog writes one structured line per request, named by the route pattern rather than the
// raw path so that ids do not explode the number of distinct values.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw, ok := w.(writtenReporter)
			if !ok {
				sw = &statusWriter{ResponseWriter: w}
			}
			next.ServeHTTP(sw, r)
			route := ""
			if rc := chi.RouteContext(r.Context()); rc != nil {
				route = rc.RoutePattern()
			}
			status, written := sw.Written()
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			switch {
			case status == http.StatusServiceUnavailable:
				// A documented passing state (the database down, slow or in conflict): its cause
				// is an ERROR logged once per interval (internalError), not once per request.
				level = slog.LevelWarn
			case status >= 500:
				level = slog.LevelError
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Int("bytes", written),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", problem.RequestFrom(r.Context()).ID),
				slog.String("trace_id", observe.TraceID(r.Context())),
			)
		})
	}
}

// recoverer turns a panic into a 500 problem; the stack goes to the log, never to the client.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared as net/http does
					panic(rec)
				}
				log.ErrorContext(r.Context(), "panic", "request_id", problem.RequestFrom(r.Context()).ID,
					"panic", rec, "stack", string(debug.Stack()))
				if answerStarted(w) {
					return // nothing sensible can follow a started answer
				}
				problem.WriteCode(w, r, api.ProblemCodeInternalError, "An unexpected error occurred; quote the request id when reporting it.")
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// contract enforces, before any handler runs, what the spec says of the operation a request is
// routed to: its body limit, its rate limit, its security, its permission, and the shape of its
// parameters and body. The order matters: an unauthenticated client learns nothing about what a
// valid request would look like, and a rate limit counts malformed requests too.
//
// chi has routed the request: its matched route names the operation in the table compiled from
// the spec at start-up (operations), so nothing routes it a second time.
func (s *Server) contract(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var path pathValues
		op, miss := s.spec.ops.lookup(r, &path)
		switch miss {
		case lookupMethodNotAllowed:
			// chi routed it to a sibling template (`/products/{productId}` for `/products/bulk`).
			s.methodNotAllowed(w, r)
			return
		case lookupNotFound:
			// chi routed it, so this is a path or method the spec does not describe.
			problem.WriteCode(w, r, api.ProblemCodeNotFound, "No resource at "+r.URL.Path+".")
			return
		}
		if r.ContentLength > op.bodyLimit {
			problem.Write(w, requestProblem(r, &http.MaxBytesError{Limit: op.bodyLimit}))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, op.bodyLimit)
		}

		ctx := r.Context()
		meta := problem.RequestFrom(ctx)
		if op.rateLimited {
			if ok, retry := s.limiter.allow(meta.IP); !ok {
				observe.RateLimited()
				w.Header().Set("Retry-After", strconv.Itoa(retry))
				problem.WriteCode(w, r, api.ProblemCodeRateLimited, "Too many requests from this client; try again later.")
				return
			}
		}
		if op.bearer {
			c, ok := s.authenticate(w, r)
			if !ok {
				return
			}
			brand, scoped := path.get("brandId")
			if refused := identity.KeyRefused(c, scoped); refused != nil {
				writeUnauthorized(w, r, refused.Code, refused.Detail)
				return
			}
			// Tenant isolation first: another brand answers 404 exactly like a missing one, so a
			// caller learns nothing of other tenants, not even which permission they lack there.
			if scoped && !s.reachesBrand(w, r, c, brand) {
				return
			}
			if op.permission != "" && !identity.CallerCan(c, op.permission) {
				problem.WriteCode(w, r, api.ProblemCodeForbidden, "This operation needs the "+op.permission+" permission.")
				return
			}
			r = r.WithContext(kit.WithCaller(ctx, c))
		}

		var query url.Values // parsed once, for every check below; nil when there is none
		if r.URL.RawQuery != "" {
			query = r.URL.Query()
		}
		if bad := append(badTextParameters(r, op, &path, query), parameterShapes(r, op, query)...); len(bad) > 0 {
			problem.Write(w, problem.Invalid(ctx, bad))
			return
		}
		rules := parameterRules(r, op, &path, query)
		if op.compiled && compiledValid(r, op, &path, query) {
			// Every parameter passed a check that accepts only what kin-openapi accepts, and
			// there is no body: kin-openapi would find nothing more.
			if len(rules) > 0 {
				problem.Write(w, problem.Invalid(ctx, rules))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		opts := s.spec.opts
		if op.streamed != "" {
			// The body streams to the handler: validate the parameters here, the media type
			// after them (below), so a bad header is a 400 naming it as on every other operation.
			opts = s.spec.streamOpts
		}
		input := &openapi3filter.RequestValidationInput{
			Request:     r,
			PathParams:  path.asMap(),
			QueryParams: query,
			Route:       op.route,
			Options:     opts,
		}
		if err := openapi3filter.ValidateRequest(ctx, input); err != nil {
			p := requestProblem(r, err)
			if len(rules) > 0 && p.Code == api.ProblemCodeValidationFailed && p.Errors != nil {
				p = problem.Invalid(ctx, append(*p.Errors, rules...))
			}
			problem.Write(w, p)
			return
		}
		if len(rules) > 0 {
			problem.Write(w, problem.Invalid(ctx, rules))
			return
		}
		if op.streamed != "" {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != op.streamed {
				problem.WriteCode(w, r, api.ProblemCodeUnsupportedMediaType, "The request body must be "+op.streamed+".")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// compiledValid runs op's compiled parameter checks: true when every parameter sent passes and
// every required one is sent.
func compiledValid(r *http.Request, op *operation, path *pathValues, query url.Values) bool {
	for _, p := range op.params {
		var v string
		var sent bool
		switch p.in {
		case openapi3.ParameterInPath:
			v, sent = path.get(p.name)
		case openapi3.ParameterInQuery:
			if vs := query[p.name]; len(vs) > 0 {
				v, sent = vs[0], true
			}
		case openapi3.ParameterInHeader:
			if vs := r.Header.Values(p.name); len(vs) > 0 {
				v, sent = vs[0], true
			}
		default:
			return false
		}
		if !sent {
			if p.p.Required {
				return false
			}
			continue
		}
		if !p.check(v) {
			return false
		}
	}
	return true
}

// recordable makes a header value that is only recorded (the User-Agent of sessions and audit
// events) storable as PostgreSQL text: invalid UTF-8 and control characters (NUL included) are
// dropped rather than refused, so a client's odd header can neither fail nor dodge a logout, a
// login or the audit trail.
func recordable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return truncate(s, n)
}

// badTextParameters names the parameters holding text PostgreSQL cannot store, a NUL or invalid
// UTF-8 (`?q=%00`, `?q=%ff`): refused here, as a 400 naming them, rather than reaching a query and
// failing there as a 500. Query parameters the spec does not declare are checked too: they are
// ignored today, but nothing lets one reach a handler later unchecked.
func badTextParameters(r *http.Request, op *operation, path *pathValues, query url.Values) []api.FieldError {
	var bad []api.FieldError
	check := func(in, name string, values ...string) {
		for _, v := range values {
			if msg := badText(v); msg != "" {
				bad = append(bad, api.FieldError{Field: in + "." + strings.ToValidUTF8(name, "\uFFFD"), Message: msg})
				return
			}
		}
	}
	// By name, as the problem lists them; a path has at most a handful.
	var done [maxPathParams]bool
	for range path.n {
		next := -1
		for i := range path.n {
			if !done[i] && (next < 0 || path.names[i] < path.names[next]) {
				next = i
			}
		}
		done[next] = true
		check("path", path.names[next], path.value[next])
	}
	if len(query) > 0 {
		for _, name := range slices.Sorted(maps.Keys(query)) {
			if msg := badText(name); msg != "" {
				bad = append(bad, api.FieldError{Field: "query", Message: "parameter names " + msg})
				continue
			}
			check("query", name, query[name]...)
		}
	}
	for _, p := range op.headerParams {
		check("header", p.name, r.Header.Values(p.name)...)
	}
	return bad
}

// plainInteger says whether s is how the spec writes an integer parameter: digits, with a minus
// for a negative.
func plainInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parameterShapes refuses, naming the parameter, what kin-openapi's parameter decoding lets
// through or blames on `request`: a query or header parameter sent twice (the spec declares none
// of them repeatable; a doubled Idempotency-Key named `request`), a boolean other than `true` or
// `false` (strconv.ParseBool took 0, 1, t, TRUE) and an integer that is not plain digits
// (strconv.ParseInt took `+5`). Only what the spec says gets through.
func parameterShapes(r *http.Request, op *operation, query url.Values) []api.FieldError {
	var bad []api.FieldError
	for _, p := range op.params {
		if p.p.Schema == nil || p.p.Schema.Value == nil {
			continue
		}
		var values []string
		switch p.in {
		case openapi3.ParameterInQuery:
			values = query[p.name]
		case openapi3.ParameterInHeader:
			values = r.Header.Values(p.name)
		default:
			continue
		}
		if len(values) > 1 && !p.array {
			bad = append(bad, api.FieldError{Field: p.field, Message: "must be sent once"})
			continue
		}
		for _, v := range values {
			switch {
			case p.boolean && v != "true" && v != "false":
				bad = append(bad, api.FieldError{Field: p.field, Message: "must be true or false"})
			case p.integer && !plainInteger(v):
				bad = append(bad, api.FieldError{Field: p.field, Message: "must be an integer written in plain digits"})
			}
		}
	}
	slices.SortFunc(bad, func(a, b api.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return bad
}

// badText says what is wrong with text PostgreSQL cannot store, or "" when nothing is.
func badText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain a NUL character"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// bodyLimit is the operation's `x-body-limit` (bytes) or DefaultBodyLimit.
func bodyLimit(op *openapi3.Operation) int64 {
	if op != nil {
		if v, ok := op.Extensions["x-body-limit"].(float64); ok && v > 0 {
			return int64(v)
		}
	}
	return DefaultBodyLimit
}
