package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// spec is the loaded OpenAPI document with what request validation needs.
type spec struct {
	doc  *openapi3.T
	ops  *operations
	opts *openapi3filter.Options
	// streamOpts are opts for an operation whose body streams to its handler (operation.streamed).
	streamOpts *openapi3filter.Options
}

// LoadSpec reads openapi.yaml as embedded in the binary: the document gen/api was generated from
// (`make check-generated` keeps the two in step). The spec served, the spec requests are
// validated against and the spec tests validate responses against are this one.
func LoadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(ecompointer.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is invalid: %w", err)
	}
	RegisterFormats(doc)
	return doc, nil
}

func loadSpec() (*spec, error) {
	doc, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	useStrictJSON()
	schemaOpts := doc.GetSchemaValidationOptions()
	bodySchemaOptions.Store(&schemaOpts)
	opts := &openapi3filter.Options{
		MultiError: true,
		// Authentication is the auth middleware's job (it parses the token once, before
		// validation); here only the shape of the request is checked.
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: doc.GetSchemaValidationOptions(),
	}
	streamOpts := *opts
	streamOpts.ExcludeRequestBody = true
	return &spec{doc: doc, ops: compileOperations(doc), opts: opts, streamOpts: &streamOpts}, nil
}

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// RegisterFormats makes the document check the string formats the API relies on; kin-openapi
// checks none of them unless told. Tests validate responses with the same set.
func RegisterFormats(doc *openapi3.T) {
	doc.SetStringFormatValidator("email", openapi3.NewCallbackValidator(func(s string) error {
		// The address alone, exactly: no display name, no surrounding spaces (those are a 400,
		// not silently trimmed, so the stored email is what the client sent).
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Address != s || addr.Name != "" {
			return errors.New("must be a valid email address")
		}
		return nil
	}))
	doc.SetStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if !canonicalUUID.MatchString(strings.ToLower(s)) {
			return errors.New("must be a UUID")
		}
		if _, err := uuid.Parse(s); err != nil {
			return errors.New("must be a UUID")
		}
		return nil
	}))
	doc.SetStringFormatValidator("date-time", openapi3.NewCallbackValidator(func(s string) error {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return errors.New("must be an RFC 3339 date-time")
		}
		return nil
	}))
}

var strictJSONOnce sync.Once

// bodySchemaOptions are the loaded spec's schema validation options (its format validators), for
// the validation the body decoder runs itself when it refuses a body (see useStrictJSON).
var bodySchemaOptions atomic.Pointer[[]openapi3.SchemaValidationOption]

// useStrictJSON replaces kin-openapi's JSON body decoder, which (with encoding/json v1) accepts
// duplicate member names and trailing data after the value: both are ways to smuggle a second
// meaning past validation, so both are a 400 here. So are bodies nesting deeper than
// MaxJSONDepth, text PostgreSQL cannot store, integers written with a fraction or exponent, and
// an explicit null for a property that is not nullable but has a default (kin-openapi would
// silently replace the null by the default: `{"active": null}` stored true).
//
// A decoder error stops kin-openapi before it validates the body against its schema, so a type
// error here would hide every other bad field (a bulk batch named only its fractional price, not
// the bad SKU three items earlier): when the decoder refuses a body it runs the schema
// validation itself and reports both, in request order.
func useStrictJSON() {
	strictJSONOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/json", func(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			data, err := io.ReadAll(body)
			if err != nil {
				return nil, err
			}
			value, err := decodeStrictJSON(data)
			if err != nil {
				return nil, err
			}
			if schema == nil || schema.Value == nil {
				return value, nil
			}
			var bad fieldErrors
			decodedFields(value, schema.Value, nil, &bad)
			if len(bad) == 0 {
				return value, nil
			}
			opts := []openapi3.SchemaValidationOption{openapi3.VisitAsRequest(), openapi3.MultiErrors()}
			if o := bodySchemaOptions.Load(); o != nil {
				opts = append(opts, *o...)
			}
			if err := schema.Value.VisitJSON(value, opts...); err != nil {
				named := make(map[string]bool, len(bad))
				for _, f := range bad {
					named[f.Field] = true
				}
				for _, f := range bodyFieldErrors(err) {
					if !named[f.Field] { // `2.5` or null: the decoder's words say it better
						bad = append(bad, f)
					}
				}
			}
			slices.SortStableFunc(bad, func(a, b api.FieldError) int { return compareFields(a.Field, b.Field) })
			// A property reached both directly and through an allOf part is named once.
			return nil, slices.Compact(bad)
		})
	})
}

// decodeStrictJSON decodes exactly one JSON value after scanJSON has passed it, numbers as
// json.Number. The scan comes first and is iterative, so nothing recursive ever sees a body
// nesting deeper than MaxJSONDepth.
func decodeStrictJSON(data []byte) (any, error) {
	if err := scanJSON(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, err
	}
	return value, nil
}

// decodedFields lists what the decoder refuses, by field:
//   - the numbers that an integer schema receives with a fraction or an exponent (`1.0`, `1e3`).
//     JSON Schema counts 1.0 as an integer and kin-openapi accepts it, but the generated decoder
//     then cannot put it in an int64 and could only blame the whole request;
//   - an explicit null for a property that is not nullable and has a default, which kin-openapi
//     would replace by the default before validating (issue 16 item 12).
func decodedFields(v any, s *openapi3.Schema, path []string, out *fieldErrors) {
	if s == nil {
		return
	}
	if v == nil {
		if len(path) > 0 && hasDefault(s) && !permitsNull(s) {
			*out = append(*out, api.FieldError{Field: fieldPath(path), Message: "must not be null"})
		}
		return
	}
	for _, group := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			if sub != nil {
				decodedFields(v, sub.Value, path, out)
			}
		}
	}
	switch v := v.(type) {
	case json.Number:
		if s.Type.Is(openapi3.TypeInteger) && strings.ContainsAny(string(v), ".eE") {
			*out = append(*out, api.FieldError{Field: fieldPath(path), Message: "must be an integer, written without a fraction or exponent"})
		}
	case map[string]any:
		for k, item := range v {
			sub := s.Properties[k]
			if sub == nil {
				sub = s.AdditionalProperties.Schema
			}
			if sub != nil {
				decodedFields(item, sub.Value, append(slices.Clip(path), k), out)
			}
		}
	case []any:
		if s.Items != nil {
			for i, item := range v {
				decodedFields(item, s.Items.Value, append(slices.Clip(path), strconv.Itoa(i)), out)
			}
		}
	}
}

// hasDefault says whether kin-openapi would fill a default in for s (its own or an allOf part's).
func hasDefault(s *openapi3.Schema) bool {
	if s.Default != nil {
		return true
	}
	for _, sub := range s.AllOf {
		if sub != nil && sub.Value != nil && hasDefault(sub.Value) {
			return true
		}
	}
	return false
}

// permitsNull says whether the spec lets s be null (`nullable`, or a nullable anyOf/oneOf branch).
func permitsNull(s *openapi3.Schema) bool {
	if s.Nullable {
		return true
	}
	for _, group := range [][]*openapi3.SchemaRef{s.AnyOf, s.OneOf} {
		for _, sub := range group {
			if sub != nil && sub.Value != nil && permitsNull(sub.Value) {
				return true
			}
		}
	}
	return false
}

// compareFields orders field paths as the request has them: `items[2]` before `items[10]`.
func compareFields(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// requestProblem turns a kin-openapi validation error into the problem the client gets.
func requestProblem(r *http.Request, err error) api.Problem {
	ctx := r.Context()
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return problem.New(ctx, api.ProblemCodePayloadTooLarge, fmt.Sprintf("The request body is over the limit of %d bytes.", tooLarge.Limit))
	}
	var fields []api.FieldError
	for _, re := range requestErrors(err) {
		switch {
		case re.RequestBody != nil && strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
			return problem.New(ctx, api.ProblemCodeUnsupportedMediaType, "The request body must be application/json.")
		case re.RequestBody != nil && re.Reason == "failed to decode request body":
			var text *badTextError
			var bad fieldErrors
			switch {
			case errors.As(re.Err, &text):
				fields = append(fields, api.FieldError{Field: text.field, Message: text.message})
			case errors.As(re.Err, &bad):
				fields = append(fields, bad...)
			default:
				return problem.New(ctx, api.ProblemCodeMalformedJson, "The request body is not one well-formed JSON value: "+jsonErrorText(re.Err))
			}
		case re.RequestBody != nil:
			fields = append(fields, bodyFieldErrors(re.Err)...)
		case re.Parameter != nil:
			fields = append(fields, api.FieldError{
				Field:   re.Parameter.In + "." + re.Parameter.Name,
				Message: parameterMessage(re),
			})
		default:
			fields = append(fields, api.FieldError{Field: "request", Message: re.Reason})
		}
	}
	if len(fields) == 0 {
		fields = append(fields, api.FieldError{Field: "request", Message: "is invalid"})
	}
	p := problem.Invalid(ctx, fields)
	if len(fields) == 1 && missingRequiredKey(r, err) {
		// The spec marks the key required where the operation is `x-idempotency: required`; a
		// request whose only fault is the missing key still gets the code a client switches on
		// (with the field). Other faults as well make it a plain validation_failed naming all,
		// as before the key was in the spec (validation ran before the key was looked at).
		p.Code = api.ProblemCodeIdempotencyKeyRequired
		detail := "This operation needs an Idempotency-Key header, so that a retry cannot do it twice."
		p.Detail = &detail
	}
	return p
}

// missingRequiredKey says whether err refuses a required Idempotency-Key that is absent or empty.
func missingRequiredKey(r *http.Request, err error) bool {
	if r.Header.Get(idempotencyKeyHeader) != "" {
		return false
	}
	for _, re := range requestErrors(err) {
		if re.Parameter != nil && re.Parameter.In == openapi3.ParameterInHeader && re.Parameter.Required &&
			http.CanonicalHeaderKey(re.Parameter.Name) == idempotencyKeyHeader {
			return true
		}
	}
	return false
}

const idempotencyKeyHeader = "Idempotency-Key"

func requestErrors(err error) []*openapi3filter.RequestError {
	// A RequestError unwraps to its cause, which may itself be a MultiError of schema errors:
	// look for the RequestError first, so the causes stay attached to their request part.
	if re, ok := err.(*openapi3filter.RequestError); ok { //nolint:errorlint // only this level
		return []*openapi3filter.RequestError{re}
	}
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		var out []*openapi3filter.RequestError
		for _, e := range multi {
			out = append(out, requestErrors(e)...)
		}
		return out
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		return []*openapi3filter.RequestError{re}
	}
	return []*openapi3filter.RequestError{{Reason: "is invalid"}}
}

var unsupportedProperty = regexp.MustCompile(`^property "(.*)" is unsupported$`)

// bodyFieldErrors lists schema failures by field path (`items[3].sku`). It reads Reason, never
// Error(): kin-openapi's Error() quotes the offending value, and that may be a password.
func bodyFieldErrors(err error) []api.FieldError {
	if errors.Is(err, openapi3filter.ErrInvalidRequired) {
		return []api.FieldError{{Field: "body", Message: "is required"}}
	}
	var multi openapi3.MultiError
	if errors.As(err, &multi) {
		var out []api.FieldError
		for _, e := range multi {
			out = append(out, bodyFieldErrors(e)...)
		}
		return out
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		return []api.FieldError{{Field: "body", Message: "is invalid"}}
	}
	path := se.JSONPointer()
	message := se.Reason
	if m := unsupportedProperty.FindStringSubmatch(se.Reason); m != nil {
		path = append(path, m[1])
		message = "is not an allowed field"
	} else if se.SchemaField == "required" {
		message = "is required"
	} else if msg := patternMessage(se); msg != "" {
		message = msg
	} else if se.SchemaField == "format" {
		// `string doesn't match the format "email": must be a valid email address`: keep the
		// validator's own words.
		if i := strings.LastIndex(message, ": "); i >= 0 {
			message = message[i+2:]
		}
	}
	return []api.FieldError{{Field: fieldPath(path), Message: message}}
}

// fieldPath renders a JSON pointer's tokens as `items[3].sku`.
func fieldPath(tokens []string) string {
	if len(tokens) == 0 {
		return "body"
	}
	var b strings.Builder
	for _, t := range tokens {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

func parameterMessage(re *openapi3filter.RequestError) string {
	if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
		return "is required"
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if msg := patternMessage(se); msg != "" {
			return msg
		}
		if se.Origin != nil {
			return se.Origin.Error()
		}
		return se.Reason
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return "has the wrong type"
	}
	if re.Reason != "" {
		return re.Reason
	}
	return "is invalid"
}

// patternMessage is the worded rule of a pattern failure, "" for any other failure. A regular
// expression says little to a client ("must match ^[A-Z0-9_-]{1,32}$"): the spec words each
// pattern's rule in `x-pattern-message` beside it (TestPatternsAreWorded fails for a pattern
// without one), so the words and the rule are reviewed, and served, together.
func patternMessage(se *openapi3.SchemaError) string {
	if se.Schema == nil || se.SchemaField != "pattern" {
		return ""
	}
	msg, _ := se.Schema.Extensions["x-pattern-message"].(string)
	return msg
}

// jsonErrorText describes a decoding failure without quoting the body.
func jsonErrorText(err error) string {
	var scan *jsonSyntaxError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "invalid JSON"
	case errors.As(err, &scan):
		return scan.Error()
	case errors.As(err, &syntax):
		return fmt.Sprintf("%s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("unexpected %s at byte %d", typeErr.Value, typeErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected end of input"
	default:
		return err.Error()
	}
}
