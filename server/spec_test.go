package server_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestSpecFollowsTheConventions walks openapi.yaml (already loaded and validated by kin-openapi)
// and checks the rules of ../shared/CONVENTIONS.md that a schema validator does not.
func TestSpecFollowsTheConventions(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)

	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s: needs an operationId, a summary and a tag", where)
			}
			if op.Security == nil {
				t.Errorf("%s: must state its security (use [] for public operations)", where)
			}
			if op.Responses.Value("500") == nil {
				t.Errorf("%s: must document its 500 problem", where)
			}
			for code, resp := range op.Responses.Map() {
				if strings.HasPrefix(code, "4") || strings.HasPrefix(code, "5") {
					if resp.Value.Content.Get(problem.ContentType) == nil {
						t.Errorf("%s %s: errors must be application/problem+json", where, code)
					}
				}
			}
			if op.RequestBody != nil {
				body := op.RequestBody.Value
				for _, status := range []string{"400", "413", "415"} {
					if op.Responses.Value(status) == nil {
						t.Errorf("%s: takes a body, so it must document %s", where, status)
					}
				}
				for ct, media := range body.Content {
					if ct != "application/json" {
						t.Errorf("%s: request bodies are application/json, not %s", where, ct)
					}
					checkClosed(t, where+" body", media.Schema)
					if media.Schema.Value.Example == nil && media.Example == nil && len(media.Examples) == 0 {
						t.Errorf("%s: request body needs an example", where)
					}
				}
			}
			if !isPublic(op) && op.Responses.Value("401") == nil {
				t.Errorf("%s: needs a token, so it must document 401", where)
			}
			// A token is checked against its session, and a body is there to be read or written:
			// either way the database is involved, and a database that is down, slow or in
			// conflict answers 503 (database_unavailable, database_timeout, write_conflict).
			if (!isPublic(op) || op.RequestBody != nil) && op.Responses.Value("503") == nil {
				t.Errorf("%s: touches the database, so it must document 503", where)
			}
		}
	}
}

// checkClosed requires additionalProperties: false on every object of a request body, so an
// unknown field is a 400 (mass assignment cannot slip a field through).
func checkClosed(t *testing.T, where string, ref *openapi3.SchemaRef) {
	t.Helper()
	if ref == nil || ref.Value == nil {
		return
	}
	s := ref.Value
	if s.Type.Is("object") && len(s.Properties) > 0 {
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("%s: object schema %s must set additionalProperties: false", where, ref.Ref)
		}
	}
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		checkClosed(t, where+"."+name, s.Properties[name])
	}
	if s.Items != nil {
		checkClosed(t, where+"[]", s.Items)
	}
}

func isPublic(op *openapi3.Operation) bool {
	return op.Security != nil && len(*op.Security) == 0
}

// TestEveryProblemCodeHasAKind keeps the spec's ProblemCode enum and the server's vocabulary in
// step: a code the spec lists but the server cannot build (or the reverse) fails here.
func TestEveryProblemCodeHasAKind(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	enum := doc.Components.Schemas["ProblemCode"].Value.Enum
	if len(enum) == 0 {
		t.Fatal("ProblemCode has no enum")
	}
	for _, v := range enum {
		code := api.ProblemCode(v.(string))
		if !problem.Known(code) {
			t.Errorf("problem code %q is in the spec but has no kind in server/problem", code)
		}
		if s := problem.Status(code); s < http.StatusBadRequest {
			t.Errorf("problem code %q maps to status %d", code, s)
		}
	}
	if got, want := problem.Count(), len(enum); got != want {
		t.Errorf("server/problem knows %d codes, the spec lists %d", got, want)
	}
}
