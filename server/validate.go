package server

import (
	"bytes"
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
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
)

// spec is the loaded OpenAPI document with what request validation needs.
type spec struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
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
	// Route on paths only: the document's server URL is relative and says nothing about hosts.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("route spec: %w", err)
	}
	useStrictJSON()
	return &spec{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			MultiError: true,
			// Authentication is the auth middleware's job (it parses the token once, before
			// validation); here only the shape of the request is checked.
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: doc.GetSchemaValidationOptions(),
		},
	}, nil
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

// useStrictJSON replaces kin-openapi's JSON body decoder, which (with encoding/json v1) accepts
// duplicate member names and trailing data after the value: both are ways to smuggle a second
// meaning past validation, so both are a 400 here. So are bodies nesting deeper than
// MaxJSONDepth, text PostgreSQL cannot store, and integers written with a fraction or exponent.
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
			if schema != nil {
				var bad fieldErrors
				integerFields(value, schema.Value, nil, &bad)
				if len(bad) > 0 {
					slices.SortFunc(bad, func(a, b api.FieldError) int { return strings.Compare(a.Field, b.Field) })
					return nil, bad
				}
			}
			return value, nil
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

// integerFields lists the numbers that an integer schema receives with a fraction or an exponent
// (`1.0`, `1e3`). JSON Schema counts 1.0 as an integer and kin-openapi accepts it, but the
// generated decoder then cannot put it in an int64 and could only blame the whole request; here it
// is refused naming its field.
func integerFields(v any, s *openapi3.Schema, path []string, out *fieldErrors) {
	if s == nil {
		return
	}
	for _, group := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			if sub != nil {
				integerFields(v, sub.Value, path, out)
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
				integerFields(item, sub.Value, append(slices.Clip(path), k), out)
			}
		}
	case []any:
		if s.Items != nil {
			for i, item := range v {
				integerFields(item, s.Items.Value, append(slices.Clip(path), strconv.Itoa(i)), out)
			}
		}
	}
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
		// A regular expression says little to a client: the spec words the rule in
		// `x-pattern-message`.
		if se.Schema != nil && se.SchemaField == "pattern" {
			if msg, ok := se.Schema.Extensions["x-pattern-message"].(string); ok {
				return msg
			}
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
