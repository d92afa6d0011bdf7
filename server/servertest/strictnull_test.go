package servertest_test

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestStrictNulls pins the 3.0.3 reading of `nullable` the response check applies, on schemas
// written the way Prism and openapi-schema-validator were seen to refuse (issue 16 item 14).
func TestStrictNulls(t *testing.T) {
	t.Parallel()
	const doc = `
openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
components:
  schemas:
    Address:
      type: object
      properties: {city: {type: string}}
    Status:
      type: string
      enum: [a, b]
    T:
      type: object
      properties:
        allOfNullable: {type: object, nullable: true, allOf: [{$ref: "#/components/schemas/Address"}]}
        enumWithoutNull: {type: string, nullable: true, enum: [a, b]}
        enumWithNull: {type: string, nullable: true, enum: [a, b, null]}
        plainNullable: {type: string, nullable: true}
        notNullable: {type: string}
        untyped: {}
        refStatus: {$ref: "#/components/schemas/Status"}
        list: {type: array, items: {type: string, nullable: true, enum: [a]}}
`
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	schema := spec.Components.Schemas["T"].Value
	for _, tc := range []struct {
		body    string
		refused bool
	}{
		{`{"allOfNullable": null}`, true},
		{`{"allOfNullable": {"city": "x"}}`, false},
		{`{"enumWithoutNull": null}`, true},
		{`{"enumWithNull": null}`, false},
		{`{"plainNullable": null}`, false},
		{`{"notNullable": null}`, true},
		{`{"untyped": null}`, false},
		{`{"refStatus": null}`, true},
		{`{"list": ["a", null]}`, true},
	} {
		t.Run(tc.body, func(t *testing.T) {
			t.Parallel()
			var v any
			if err := json.Unmarshal([]byte(tc.body), &v); err != nil {
				t.Fatal(err)
			}
			got := servertest.StrictNulls(schema, v)
			if (len(got) > 0) != tc.refused {
				t.Errorf("StrictNulls(%s) = %q, want refused=%v", tc.body, got, tc.refused)
			}
		})
	}
}
