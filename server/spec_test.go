package server_test

import (
	"net/http"
	"sort"
	"strconv"
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
					if ct != "application/json" && streamedBodies[op.OperationID] != ct {
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

// streamedBodies are the only request bodies that are not application/json, by operation and
// media type: a file upload the handler reads as a stream (server/imports tests its body; the
// middleware answers 415 for any other media type). Adding one is a decision, not a default.
var streamedBodies = map[string]string{
	"createImport": "text/csv",
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
// step: a code the spec lists but the server cannot build (or the reverse) fails here. Each code
// has exactly one status, the one server/problem's table gives it and the spec's description of
// the code states; and every operation whose handler can refuse with a code lists that status
// (handlers return refusals as errors, so the compiler no longer checks that the operation has a
// response of that status: this does).
func TestEveryProblemCodeHasAKind(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	schema := doc.Components.Schemas["ProblemCode"].Value
	enum := schema.Enum
	if len(enum) == 0 {
		t.Fatal("ProblemCode has no enum")
	}
	stated := map[api.ProblemCode][]int{}
	for _, m := range specCodeStatus.FindAllStringSubmatch(schema.Description, -1) {
		status, _ := strconv.Atoi(m[2])
		stated[api.ProblemCode(m[1])] = append(stated[api.ProblemCode(m[1])], status)
	}
	for _, v := range enum {
		code := api.ProblemCode(v.(string)) //nolint:forcetypeassert // the enum is of strings
		t.Run(string(code), func(t *testing.T) {
			t.Parallel()
			if !problem.Known(code) {
				t.Fatalf("problem code %q is in the spec but has no kind in server/problem", code)
			}
			s := problem.Status(code)
			if s < http.StatusBadRequest {
				t.Errorf("problem code %q maps to status %d", code, s)
			}
			if got := stated[code]; len(got) != 1 || got[0] != s {
				t.Errorf("the spec's ProblemCode description gives %q the statuses %v; server/problem gives it %d, and a code has one", code, got, s)
			}
		})
	}
	if got, want := problem.Count(), len(enum); got != want {
		t.Errorf("server/problem knows %d codes, the spec lists %d", got, want)
	}

	src := &codeSource{root: "..", pkgs: map[string]*sourcePkg{}}
	names := codeNames(enum)
	idempotencyCodes := src.handlerCodes(t, module+"server/idempotency", "Middleware", names)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			codes := map[api.ProblemCode]bool{}
			for _, pkg := range handlerPackages {
				for c := range src.handlerCodes(t, pkg, handlerMethod(op.OperationID), names) {
					codes[c] = true
				}
			}
			if _, keyed := op.Extensions["x-idempotency"]; keyed {
				for c := range idempotencyCodes {
					codes[c] = true
				}
			}
			for _, code := range sortedCodes(codes) {
				status := strconv.Itoa(problem.Status(api.ProblemCode(code)))
				if op.Responses.Value(status) == nil {
					t.Errorf("%s %s (%s) can refuse with %s, but the spec lists no %s for it", method, path, op.OperationID, code, status)
				}
			}
		}
	}
}
