package server

import (
	"fmt"
	"net/http"
	"net/url"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/gen/api"
)

// ExtMinLetterDigitRun is the schema extension for a rule no portable `pattern` can state: the
// value holds at least N consecutive Unicode letters or digits. `[\p{L}\p{N}]{3}` says it in RE2,
// but ECMA-262 without the `u` flag (Swagger UI, generated clients) reads `\p` as a literal `p`
// and refuses every valid value; patterns in openapi.yaml keep to what both read alike, and the
// server enforces this extension on the parameters that carry it.
const ExtMinLetterDigitRun = "x-min-letter-digit-run"

// parameterRules checks the operation's parameters against the rules openapi.yaml states as
// extensions rather than as JSON Schema keywords. Values kin-openapi refuses anyway are checked
// too, so that one answer names every bad field.
func parameterRules(r *http.Request, op *operation, path *pathValues, query url.Values) []api.FieldError {
	var bad []api.FieldError
	for _, p := range op.ruled {
		var values []string
		switch p.in {
		case openapi3.ParameterInQuery:
			values = query[p.name]
		case openapi3.ParameterInHeader:
			values = r.Header.Values(p.name)
		case openapi3.ParameterInPath:
			if v, ok := path.get(p.name); ok {
				values = []string{v}
			}
		}
		for _, v := range values {
			if letterDigitRun(v) < p.letterDigitRun {
				bad = append(bad, api.FieldError{
					Field:   p.field,
					Message: fmt.Sprintf("must contain at least %d consecutive letters or digits", p.letterDigitRun),
				})
				break
			}
		}
	}
	return bad
}

// letterDigitRun is the length of the longest run of consecutive letters or digits in s.
func letterDigitRun(s string) int {
	longest, run := 0, 0
	for _, c := range s {
		if unicode.IsLetter(c) || unicode.IsNumber(c) {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
