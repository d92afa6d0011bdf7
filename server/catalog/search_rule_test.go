package catalog_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestSearchRuleIsAnExtensionTheServerEnforces: listProducts' `q` states "at least 3 consecutive
// letters or digits" as `x-min-letter-digit-run: 3`, not as a `pattern` (no portable pattern can
// name Unicode letters), and the server enforces it: a `q` without such a run is a 400 naming
// `query.q` (beside any other bad parameter), letters and digits of any script count.
func TestSearchRuleIsAnExtensionTheServerEnforces(t *testing.T) {
	t.Parallel()

	doc, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	op := doc.Paths.Find("/brands/{brandId}/products").Get
	q := op.Parameters.GetByInAndName("query", "q")
	if q == nil {
		t.Fatal("listProducts has no query parameter q")
	}
	schema := q.Schema.Value
	if schema.Pattern != "" {
		t.Errorf("q has pattern %q: the rule is the extension's, a pattern cannot say it portably", schema.Pattern)
	}
	if got, ok := schema.Extensions[server.ExtMinLetterDigitRun].(float64); !ok || got != 3 {
		t.Errorf("q: %s = %v, want 3", server.ExtMinLetterDigitRun, schema.Extensions[server.ExtMinLetterDigitRun])
	}
	if !strings.Contains(q.Description, server.ExtMinLetterDigitRun) {
		t.Errorf("q's description does not explain %s: %q", server.ExtMinLetterDigitRun, q.Description)
	}

	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("qrule"))
	brand := *owner.User.BrandId
	for _, p := range []api.CreateProductRequest{
		{Sku: "RU-1", Name: "жёлтый свитер", PriceAmount: 1},
		{Sku: "DE-1", Name: "Weißer Schal", PriceAmount: 1},
		{Sku: "JA-1", Name: "日本語の本", PriceAmount: 1},
		{Sku: "AR-1", Name: "قميص ٣٤٥", PriceAmount: 1},
		{Sku: "EN-1", Name: "linen shirt", PriceAmount: 1},
	} {
		env.CreateProduct(t, owner, p)
	}

	get := func(t *testing.T, query string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/brands/"+brand.String()+"/products?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+owner.AccessToken)
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	refused := []struct {
		name, query string
		fields      []string
	}{
		{"two letters", "q=" + url.QueryEscape("ab"), []string{"query.q"}},
		{"letters apart", "q=" + url.QueryEscape("a-b-c"), []string{"query.q"}},
		{"wildcards only", "q=" + url.QueryEscape("%%%"), []string{"query.q"}},
		{"two Cyrillic letters", "q=" + url.QueryEscape("жё"), []string{"query.q"}},
		{"symbols are not letters", "q=" + url.QueryEscape("€€€"), []string{"query.q"}},
		{"with a bad limit, both named", "limit=0&q=ab", []string{"query.limit", "query.q"}},
	}
	for _, tc := range refused {
		t.Run("refused "+tc.name, func(t *testing.T) {
			resp := get(t, tc.query)
			if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
				t.Fatalf("%s: status %d, want %d", tc.query, got, want)
			}
			p := servertest.ReadProblem(t, resp)
			if p.Code != api.ProblemCodeValidationFailed || p.Errors == nil {
				t.Fatalf("%s: problem %+v", tc.query, p)
			}
			var fields []string
			for _, fe := range *p.Errors {
				fields = append(fields, fe.Field)
				if fe.Field == "query.q" && fe.Message != "must contain at least 3 consecutive letters or digits" {
					t.Errorf("%s: query.q message %q", tc.query, fe.Message)
				}
			}
			slices.Sort(fields)
			if !slices.Equal(fields, tc.fields) {
				t.Errorf("%s: errors name %v, want %v", tc.query, fields, tc.fields)
			}
		})
	}

	served := map[string]string{
		"жёл":   "RU-1",
		"ШАЛ":   "", // case-insensitive, but no product has it
		"weiß":  "DE-1",
		"日本語":   "JA-1",
		"٣٤٥":   "AR-1",
		"shirt": "EN-1",
		"%shi":  "",
	}
	for term, sku := range served {
		t.Run("served "+term, func(t *testing.T) {
			r, err := env.Client.ListProductsWithResponse(context.Background(), brand, &api.ListProductsParams{Q: &term}, servertest.Bearer(owner.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			if r.JSON200 == nil {
				t.Fatalf("q=%q: status %d %s", term, r.StatusCode(), r.Body)
			}
			var skus []string
			for _, p := range r.JSON200.Items {
				skus = append(skus, p.Sku)
			}
			var want []string
			if sku != "" {
				want = []string{sku}
			}
			if !slices.Equal(skus, want) { // nil and empty are equal here
				t.Errorf("q=%q: %v, want %v", term, skus, want)
			}
		})
	}
}
