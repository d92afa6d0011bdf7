package servertest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// StrictNulls reports every null in value that a strict OpenAPI 3.0.3 validator (Prism,
// openapi-schema-validator) would refuse under schema, as JSON pointers with the reason.
//
// kin-openapi is lenient here: it accepts null wherever a schema says `nullable: true`, even
// beside a bare `allOf`/`$ref` and even when an `enum` leaves null out. OpenAPI 3.0.3 §4.7.24.1
// says otherwise: `nullable` adds null only to the `type` stated in the same schema object, and
// every other constraint (an `allOf` member, an `enum`) still applies to the null. So a null is
// accepted here only where the schema states `type` and `nullable: true`, lists null in its
// enum if it has one, and has no `allOf`/`anyOf`/`oneOf` member that would refuse null itself.
func StrictNulls(schema *openapi3.Schema, value any) []string {
	var out []string
	strictNulls(schema, value, "", &out)
	return out
}

func strictNulls(s *openapi3.Schema, v any, at string, out *[]string) {
	if s == nil {
		return
	}
	if v == nil {
		if reason := nullRefused(s); reason != "" {
			*out = append(*out, fmt.Sprintf("%s: null %s", pointer(at), reason))
		}
		return
	}
	// Members of allOf apply to the value as a whole; for anyOf/oneOf the checks below only
	// run where every member agrees (this API has none today).
	for _, sub := range s.AllOf {
		if sub != nil {
			strictNulls(sub.Value, v, at, out)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub := s.Properties[k]
			if sub == nil && s.AdditionalProperties.Schema != nil {
				sub = s.AdditionalProperties.Schema
			}
			if sub != nil {
				strictNulls(sub.Value, v[k], at+"/"+k, out)
			}
		}
	case []any:
		if s.Items != nil {
			for i, item := range v {
				strictNulls(s.Items.Value, item, at+"/"+strconv.Itoa(i), out)
			}
		}
	}
}

// nullRefused says why a strict 3.0.3 validator refuses null under s, or "" when it accepts it.
func nullRefused(s *openapi3.Schema) string {
	if len(s.AnyOf) > 0 || len(s.OneOf) > 0 {
		ok := false
		for _, group := range [][]*openapi3.SchemaRef{s.AnyOf, s.OneOf} {
			for _, sub := range group {
				if sub != nil && nullRefused(sub.Value) == "" {
					ok = true
				}
			}
		}
		if !ok {
			return "matches no anyOf/oneOf member"
		}
	}
	for _, sub := range s.AllOf {
		if sub != nil {
			if reason := nullRefused(sub.Value); reason != "" {
				return "is refused by an allOf member (" + reason + "); `nullable` beside allOf does not reach it"
			}
		}
	}
	switch {
	case s.Type == nil || len(s.Type.Slice()) == 0:
		// No type: any value, null included (the members above had their say).
		return ""
	case !s.Nullable:
		return "is not allowed: the schema is not nullable"
	case len(s.Enum) > 0 && !slices.Contains(s.Enum, any(nil)):
		return "is not in the enum (" + enumText(s.Enum) + "): a nullable enum must list null"
	}
	return ""
}

func enumText(values []any) string {
	parts := make([]string, 0, len(values))
	for _, v := range values {
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}

func pointer(at string) string {
	if at == "" {
		return "/"
	}
	return at
}
