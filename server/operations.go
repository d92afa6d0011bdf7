package server

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"
)

// operations is the spec compiled for the contract middleware, once at start-up: chi has already
// routed a request when the contract sees it, and its matched route names the spec operation, so a
// request costs one routing and one lookup here, never a second routing through the spec.
type operations struct {
	byRoute map[routeKey]*operation
}

// routeKey is a chi route: its method and its pattern, spelled as the spec spells the path
// (the generated router registers the spec's paths as they are).
type routeKey struct{ method, pattern string }

// operation is what the contract needs of one spec operation.
type operation struct {
	id          string
	route       *routers.Route // what kin-openapi validates against, where a compiled check does not serve
	segments    []segment      // the path template, one entry per `/`-separated segment
	bodyLimit   int64
	rateLimited bool
	bearer      bool
	permission  string
	// params are the path item's and the operation's parameters, an operation's overriding its
	// path item's of the same name and place.
	params []*param
	// headerParams are the operation's own header parameters, whose text is checked for what
	// PostgreSQL cannot store.
	headerParams []*param
	// ruled are the operation's own parameters carrying x-min-letter-digit-run.
	ruled []*param
	// compiled: no request body, and every parameter has a compiled check that accepts only what
	// kin-openapi accepts. A request whose parameters all pass needs nothing more; any other goes
	// through kin-openapi, whose words name what is wrong.
	compiled bool
	// streamed is the media type of a body the handler reads as a stream (a CSV upload of up to
	// 50 MiB): request validation checks its type but never reads it, so it is never held whole.
	streamed string
	// shadows are the spec paths that kin-openapi's matching order puts before this one and that
	// can match the same URL: the spec routes such a URL there (`/products/bulk` is not a
	// productId), where chi may have fallen back to this template for lack of the method.
	shadows []*shadow
}

// segment is one segment of a path template: a literal, or a parameter (name set).
type segment struct {
	literal, name string
}

// shadow is a spec path that takes precedence over an operation's for the URLs both match.
type shadow struct {
	segments []segment
	methods  map[string]bool
}

// param is one parameter of an operation with its checks compiled.
type param struct {
	p        *openapi3.Parameter
	in, name string
	field    string // how a problem names it: `query.limit`
	array    bool
	boolean  bool
	integer  bool
	// letterDigitRun is the parameter's x-min-letter-digit-run, 0 when it has none.
	letterDigitRun int
	// check accepts only values kin-openapi accepts, and refuses the rest for kin-openapi to word;
	// nil when the schema uses something no compiled check covers (kin-openapi then validates).
	check func(string) bool
}

// compileOperations builds the table from doc.
func compileOperations(doc *openapi3.T) *operations {
	ops := &operations{byRoute: map[routeKey]*operation{}}
	order := doc.Paths.InMatchingOrder()
	for i, path := range order {
		item := doc.Paths.Value(path)
		segments := splitTemplate(path)
		var shadows []*shadow
		for _, earlier := range order[:i] {
			if s := splitTemplate(earlier); overlaps(s, segments) {
				methods := map[string]bool{}
				for m := range doc.Paths.Value(earlier).Operations() {
					methods[m] = true
				}
				shadows = append(shadows, &shadow{segments: s, methods: methods})
			}
		}
		for method, op := range item.Operations() {
			compiled := compileOperation(doc, path, item, method, op)
			compiled.segments, compiled.shadows = segments, shadows
			ops.byRoute[routeKey{method, path}] = compiled
		}
	}
	return ops
}

// routedBy checks that router routes every operation at the spec's own path: the contract finds an
// operation by the pattern chi matched, so a route registered any other way (a base URL, a
// renamed parameter) would leave it answering 404. New refuses to start rather than serve so.
func (o *operations) routedBy(router chi.Routes) error {
	routed := map[routeKey]bool{}
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[routeKey{method, route}] = true
		return nil
	})
	if err != nil {
		return err
	}
	var missing []string
	for key := range o.byRoute {
		if !routed[key] {
			missing = append(missing, key.method+" "+key.pattern)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("server: the router does not route these spec operations at their paths: %s", strings.Join(missing, ", "))
	}
	return nil
}

func compileOperation(doc *openapi3.T, path string, item *openapi3.PathItem, method string, op *openapi3.Operation) *operation {
	o := &operation{
		id:          op.OperationID,
		route:       &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
		bodyLimit:   bodyLimit(op),
		rateLimited: op.Extensions["x-rate-limit"] != nil,
		bearer:      needsBearer(op),
	}
	o.permission, _ = op.Extensions["x-permission"].(string)
	seen := map[string]bool{}
	all := slices.Concat(op.Parameters, item.Parameters) // an operation's parameter overrides its path item's
	for _, ref := range all {
		p := ref.Value
		if p == nil || seen[p.In+"\x00"+p.Name] {
			continue
		}
		seen[p.In+"\x00"+p.Name] = true
		o.params = append(o.params, compileParam(p))
	}
	for _, ref := range op.Parameters {
		p := ref.Value
		if p == nil {
			continue
		}
		cp := compileParam(p)
		if p.In == openapi3.ParameterInHeader {
			o.headerParams = append(o.headerParams, cp)
		}
		if cp.letterDigitRun > 0 {
			o.ruled = append(o.ruled, cp)
		}
	}
	o.compiled = op.RequestBody == nil
	if rb := op.RequestBody; rb != nil && rb.Value != nil && rb.Value.Content.Get("application/json") == nil {
		for mt := range rb.Value.Content {
			o.streamed = mt
		}
	}
	for _, p := range o.params {
		if p.check == nil {
			o.compiled = false
		}
	}
	return o
}

func compileParam(p *openapi3.Parameter) *param {
	cp := &param{p: p, in: p.In, name: p.Name, field: p.In + "." + p.Name}
	if p.Schema == nil || p.Schema.Value == nil {
		return cp
	}
	s := p.Schema.Value
	cp.array = s.Type.Is(openapi3.TypeArray)
	cp.boolean = s.Type.Is(openapi3.TypeBoolean)
	cp.integer = s.Type.Is(openapi3.TypeInteger)
	if n, ok := s.Extensions[ExtMinLetterDigitRun].(float64); ok {
		cp.letterDigitRun = int(n)
	}
	if defaultSerialization(p) {
		cp.check = compileCheck(s)
	}
	return cp
}

// defaultSerialization says whether p is sent the plain way (style and explode as OpenAPI's
// defaults for its place, no content, no empty value allowed), the only way the compiled checks
// read a parameter.
func defaultSerialization(p *openapi3.Parameter) bool {
	if p.Content != nil || p.AllowEmptyValue || p.AllowReserved || p.Explode != nil {
		return false
	}
	switch p.In {
	case openapi3.ParameterInPath, openapi3.ParameterInHeader:
		return p.Style == "" || p.Style == openapi3.SerializationSimple
	case openapi3.ParameterInQuery:
		return p.Style == "" || p.Style == openapi3.SerializationForm
	}
	return false
}

// checkedKeywords are the schema keywords a compiled check enforces (or, like a description,
// that validate nothing). A parameter whose schema uses any other is left to kin-openapi.
var checkedKeywords = map[string]bool{
	"Extensions": true, "Origin": true, "Type": true, "Title": true, "Format": true,
	"Description": true, "Enum": true, "Default": true, "Example": true, "ExternalDocs": true,
	"Deprecated": true, "Min": true, "Max": true, "MinLength": true, "MaxLength": true,
}

// maxExactInteger bounds the integers a compiled check takes: beyond it a float64 bound compares
// inexactly, and kin-openapi decides.
const maxExactInteger = 1 << 53

// compileCheck returns a check that accepts a primitive parameter's raw value exactly when
// kin-openapi's decoding and schema validation (with the formats RegisterFormats sets) would, or
// nil when s uses anything it does not cover. It refuses the empty value: kin-openapi words that
// case itself.
func compileCheck(s *openapi3.Schema) func(string) bool {
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		if !checkedKeywords[v.Type().Field(i).Name] && !v.Field(i).IsZero() {
			return nil
		}
	}
	if s.ExclusiveMin.IsSet() || s.ExclusiveMax.IsSet() {
		return nil
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		if s.Format != "" && s.Format != "uuid" || s.Min != nil || s.Max != nil {
			return nil
		}
		enum := make([]string, 0, len(s.Enum))
		for _, e := range s.Enum {
			str, ok := e.(string)
			if !ok {
				return nil
			}
			enum = append(enum, str)
		}
		uuidFormat, minLen, maxLen := s.Format == "uuid", s.MinLength, s.MaxLength
		return func(v string) bool {
			if v == "" || uuidFormat && !isUUID(v) {
				return false
			}
			if n := uint64(utf8.RuneCountInString(v)); n < minLen || maxLen != nil && n > *maxLen {
				return false
			}
			return len(enum) == 0 || slices.Contains(enum, v)
		}
	case s.Type.Is(openapi3.TypeInteger):
		if s.Format != "" || len(s.Enum) > 0 || s.MinLength != 0 || s.MaxLength != nil {
			return nil
		}
		lo, hi := s.Min, s.Max
		return func(v string) bool {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n > maxExactInteger || n < -maxExactInteger {
				return false
			}
			return (lo == nil || float64(n) >= *lo) && (hi == nil || float64(n) <= *hi)
		}
	}
	return nil
}

// isUUID is the uuid format as RegisterFormats checks it: the canonical 8-4-4-4-12 hexadecimal
// form, in either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func splitTemplate(path string) []segment {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	out := make([]segment, len(parts))
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			out[i] = segment{name: p[1 : len(p)-1]}
		} else {
			out[i] = segment{literal: p}
		}
	}
	return out
}

// overlaps says whether some URL matches both templates.
func overlaps(a, b []segment) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name == "" && b[i].name == "" && a[i].literal != b[i].literal {
			return false
		}
	}
	return true
}

// maxPathParams bounds the parameters of one path; the spec's deepest has three.
const maxPathParams = 8

// pathValues are a request's path parameters, by name, as kin-openapi's router reads them: from
// the escaped path, undecoded.
type pathValues struct {
	n            int
	names, value [maxPathParams]string
}

func (v *pathValues) get(name string) (string, bool) {
	for i := range v.n {
		if v.names[i] == name {
			return v.value[i], true
		}
	}
	return "", false
}

// asMap is the values as kin-openapi's validation input takes them.
func (v *pathValues) asMap() map[string]string {
	m := make(map[string]string, v.n)
	for i := range v.n {
		m[v.names[i]] = v.value[i]
	}
	return m
}

// match reads the escaped path against the template: the parameters' values, and false when the
// path does not match it (a literal differs, or a parameter is empty: the spec's router requires
// at least one character, where chi's tree lets an empty one through).
func match(template []segment, escaped string, out *pathValues) bool {
	rest := strings.TrimPrefix(escaped, "/")
	out.n = 0
	for i, seg := range template {
		part, after, found := strings.Cut(rest, "/")
		if found == (i == len(template)-1) {
			return false // too many segments, or too few
		}
		rest = after
		if seg.name == "" {
			if part != seg.literal {
				return false
			}
			continue
		}
		if part == "" || out.n == maxPathParams {
			return false
		}
		out.names[out.n], out.value[out.n] = seg.name, part
		out.n++
	}
	return true
}

// lookupMiss is why lookup found no operation for a request chi routed.
type lookupMiss int

const (
	lookupFound lookupMiss = iota
	lookupNotFound
	lookupMethodNotAllowed
)

// lookup finds the operation chi routed r to, with its path parameters. HEAD is the GET of the
// same path (chi serves it so, through middleware.GetHead).
func (o *operations) lookup(r *http.Request, values *pathValues) (*operation, lookupMiss) {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return nil, lookupNotFound
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	op := o.byRoute[routeKey{method, rctx.RoutePattern()}]
	if op == nil {
		return nil, lookupNotFound
	}
	escaped := r.URL.EscapedPath()
	for _, s := range op.shadows {
		var ignored pathValues
		if match(s.segments, escaped, &ignored) {
			if s.methods[method] {
				return nil, lookupNotFound // never so: chi prefers the literal segment too
			}
			return nil, lookupMethodNotAllowed
		}
	}
	if !match(op.segments, escaped, values) {
		return nil, lookupNotFound
	}
	return op, lookupFound
}

// allowedAt lists the methods the spec path matching the escaped path answers, in
// routedMethods' order (HEAD after GET), and whether a spec path matched it at all.
func (o *operations) allowedAt(doc *openapi3.T, escaped string) ([]string, bool) {
	for _, path := range doc.Paths.InMatchingOrder() {
		var ignored pathValues
		if !match(splitTemplate(path), escaped, &ignored) {
			continue
		}
		var allow []string
		item := doc.Paths.Value(path)
		for _, m := range routedMethods {
			if item.GetOperation(m) != nil {
				allow = append(allow, m)
				if m == http.MethodGet {
					allow = append(allow, http.MethodHead)
				}
			}
		}
		return allow, true
	}
	return nil, false
}
