package imports_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
)

const variantHeader = "sku,name,priceAmount,currency,parentSku,options,option1Name,option1Value,option2Name,option2Value,barcode,weightGrams,images\n"

// A products file with variants: TEE's variants come before its row, MUG's after; both work.
// The export of the result re-imports to no change.
func TestVariantsImportAndRoundTrip(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var f strings.Builder
	f.WriteString(variantHeader)
	// Variants first: they wait for their product's row (further down, in a later batch too).
	for i, size := range []string{"S", "M", "L"} {
		for j, colour := range []string{"Black", "White"} {
			fmt.Fprintf(&f, "TEE-%s-%s,T-shirt %s %s,%d,,TEE,,Size,%s,Colour,%s,,%d,\n", size, colour, size, colour, 1000+i*10+j, size, colour, 180+i)
		}
	}
	for i := range 1100 { // the product's row in a later batch than its variants'
		fmt.Fprintf(&f, "FILL-%04d,Filler,%d,,,,,,,,,,\n", i, i)
	}
	f.WriteString(`TEE,T-shirt,1000,EUR,,"[{""name"":""Size"",""values"":[""S"",""M"",""L""]},{""name"":""Colour"",""values"":[""Black"",""White""]}]",,,,,,,"[{""url"":""https://cdn.example.com/tee.jpg"",""alt"":""The tee""}]"` + "\n")
	// A product before its variants, with a barcode on one of them.
	f.WriteString(`MUG,Mug,900,,,"[{""name"":""Colour"",""values"":[""Red"",""Blue""]}]",,,,,,350,` + "\n")
	f.WriteString("MUG-RED,Red mug,900,,MUG,,Colour,Red,,,4006381333931,,\n")
	f.WriteString("MUG-BLUE,Blue mug,950,,MUG,,Colour,Blue,,,,,\n")
	imp := e.run(t, api.ImportKindProducts, f.String(), nil)
	wantCounts(t, "import", imp, api.ImportStatusSucceeded, 6+1100+1+1+2, 0, 0, 0)

	tee := e.product(t, "TEE")
	if tee.Options == nil || len(*tee.Options) != 2 || tee.Currency != "EUR" || tee.Images == nil || (*tee.Images)[0].Url != "https://cdn.example.com/tee.jpg" {
		t.Errorf("TEE = %+v", tee)
	}
	v := e.variant(t, tee.Id, "TEE-M-White")
	if v.ParentId == nil || *v.ParentId != tee.Id || v.OptionValues == nil || fmt.Sprint(*v.OptionValues) != "[{Size M} {Colour White}]" || v.Currency != "EUR" || v.WeightGrams == nil || *v.WeightGrams != 181 {
		t.Errorf("TEE-M-White = %+v (options %v)", v, v.OptionValues)
	}
	if red := e.variant(t, e.product(t, "MUG").Id, "MUG-RED"); red.Barcode == nil || *red.Barcode != "4006381333931" {
		t.Errorf("MUG-RED = %+v", red)
	}

	r, err := e.Env.Client.ExportProductsCsvWithResponse(ctx, e.Brand, e.Auth)
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("export: %v %d %s", err, r.StatusCode(), r.Body)
	}
	body := string(r.Body)
	for _, want := range []string{",TEE,,Size,M,Colour,White,,,,181,", `"[{""name"":""Colour"",""values"":[""Red"",""Blue""]}]"`, ",4006381333931,"} {
		if !strings.Contains(body, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	wantCounts(t, "re-import", e.run(t, api.ImportKindProducts, body, nil), api.ImportStatusSucceeded, 0, 0, 6+1100+1+1+2, 0)
	if again := e.variant(t, tee.Id, "TEE-M-White"); again.Version != v.Version {
		t.Errorf("the round trip changed the variant: version %d, was %d", again.Version, v.Version)
	}
	if again := e.product(t, "TEE"); again.Version != tee.Version {
		t.Errorf("the round trip changed the product: version %d, was %d", again.Version, tee.Version)
	}

	// A changed variant row is an update, of that row only.
	changed := strings.Replace(body, "TEE-M-White,T-shirt M White,1011,", "TEE-M-White,T-shirt M White,1999,", 1)
	if changed == body {
		t.Fatal("the export does not have the row expected")
	}
	wantCounts(t, "changed", e.run(t, api.ImportKindProducts, changed, nil), api.ImportStatusSucceeded, 0, 1, 6+1100+1+1+2-1, 0)
	if p := e.variant(t, tee.Id, "TEE-M-White"); p.PriceAmount != 1999 {
		t.Errorf("price %d", p.PriceAmount)
	}
}

// A bad variant row is an error of its row, naming its column; the file then changes nothing.
func TestVariantRowErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.CreateProduct(t, api.CreateProductRequest{Sku: "TAKEN-BARCODE", Name: "b", PriceAmount: 1, Barcode: ptr("4006381333931")})
	parent := `SHIRT,Shirt,100,,,"[{""name"":""Size"",""values"":[""S"",""M""]}]",,,,,,,` + "\n"
	for _, c := range []struct {
		name, row, column string
	}{
		{"a value the option lacks", "SHIRT-XL,x,1,,SHIRT,,Size,XL,,,,,", "option1Value"},
		{"an option the product lacks", "SHIRT-S,x,1,,SHIRT,,Fit,S,,,,,", "option1Name"},
		{"a name without a value", "SHIRT-S,x,1,,SHIRT,,Size,,,,,,", "option1Value"},
		{"no option values", "SHIRT-S,x,1,,SHIRT,,,,,,,,", "option1Name"},
		{"an unknown product", "SHIRT-S,x,1,,NOPE,,Size,S,,,,,", "parentSku"},
		{"its own product", "SHIRT-S,x,1,,SHIRT-S,,Size,S,,,,,", "parentSku"},
		{"a variant's currency", "SHIRT-S,x,1,EUR,SHIRT,,Size,S,,,,,", "currency"},
		{"a variant's options", `SHIRT-S,x,1,,SHIRT,"[{""name"":""A"",""values"":[""b""]}]",Size,S,,,,,`, "options"},
		{"option values on a product", "SOLO,x,1,,,,Size,S,,,,,", "option1Name"},
		{"a bad check digit", "SHIRT-S,x,1,,SHIRT,,Size,S,,,4006381333932,,", "barcode"},
		{"an http image", `SHIRT-S,x,1,,SHIRT,,Size,S,,,,,"[{""url"":""http://cdn.example.com/a.jpg""}]"`, "images"},
		{"a negative weight", "SHIRT-S,x,1,,SHIRT,,Size,S,,,,-5,", "weightGrams"},
		{"options not JSON", "SOLO,x,1,,,Size:S,,,,,,,", "options"},
		{"a repeated combination", "SHIRT-S,x,1,,SHIRT,,Size,S,,,,,\nSHIRT-S2,x,1,,SHIRT,,Size,S,,,,,", "option1Value"},
		{"a variant of a variant", "SHIRT-S,x,1,,SHIRT,,Size,S,,,,,\nSHIRT-S-X,x,1,,SHIRT-S,,Size,S,,,,,", "parentSku"},
	} {
		t.Run(c.name, func(t *testing.T) {
			imp := e.run(t, api.ImportKindProducts, variantHeader+parent+c.row+"\n", nil)
			if imp.Status != api.ImportStatusFailed || imp.ErrorCount != 1 || len(imp.Errors) != 1 || imp.Errors[0].Column != c.column {
				t.Fatalf("import = %s, %d errors %+v; want one error naming %s", imp.Status, imp.ErrorCount, imp.Errors, c.column)
			}
		})
	}
	if n := e.count(t); n != 1 {
		t.Errorf("the failed files wrote products: %d", n)
	}

	// A refusal only the catalog can make (a barcode another product holds) is the row's error
	// with mode=partial; the other rows are applied.
	partial := func(p *api.CreateImportParams) { m := api.ImportModePartial; p.Mode = &m }
	imp := e.run(t, api.ImportKindProducts, variantHeader+parent+"SHIRT-S,x,1,,SHIRT,,Size,S,,,4006381333931,,\nSHIRT-M,x,1,,SHIRT,,Size,M,,,,,\n", partial)
	if imp.Status != api.ImportStatusSucceeded || imp.Created != 2 || imp.ErrorCount != 1 || len(imp.Errors) != 1 || imp.Errors[0].Column != "barcode" || imp.Errors[0].Row != 3 {
		t.Fatalf("partial import = %s created %d, errors %+v", imp.Status, imp.Created, imp.Errors)
	}
}

// variant is the variant of parent with SKU sku.
func (e env) variant(t *testing.T, parent uuid.UUID, sku string) api.Product {
	t.Helper()
	limit := 100
	r, err := e.Env.Client.ListProductsWithResponse(ctx, e.Brand, &api.ListProductsParams{Limit: &limit, ParentId: &parent}, e.Auth)
	if err != nil || r.JSON200 == nil {
		t.Fatalf("list: %v %s", err, r.Body)
	}
	for _, p := range r.JSON200.Items {
		if p.Sku == sku {
			return p
		}
	}
	t.Fatalf("no variant %s", sku)
	return api.Product{}
}

func ptr[T any](v T) *T { return &v }

// count is how many products the brand has.
func (e env) count(t *testing.T) int {
	t.Helper()
	r, err := e.Env.Client.ExportProductsCsvWithResponse(ctx, e.Brand, e.Auth)
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("export: %v %d", err, r.StatusCode())
	}
	return strings.Count(string(r.Body), "\r\n") - 1
}

// allowBackorder is a column: true or false, anything else the row's error naming it; the export
// writes it, and re-importing the export changes nothing.
func TestAllowBackorderColumn(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partial := func(p *api.CreateImportParams) { m := api.ImportModePartial; p.Mode = &m }
	imp := e.run(t, api.ImportKindProducts, "sku,name,priceAmount,allowBackorder\nBO-1,x,1,true\nBO-2,x,1,false\nBO-3,x,1,yes\nBO-4,x,1,\n", partial)
	if imp.Status != api.ImportStatusSucceeded || imp.Created != 3 || len(imp.Errors) != 1 || imp.Errors[0].Column != "allowBackorder" || imp.Errors[0].Row != 4 {
		t.Fatalf("import = %s created %d, errors %+v; want 3 created and row 4's allowBackorder refused", imp.Status, imp.Created, imp.Errors)
	}
	for sku, want := range map[string]bool{"BO-1": true, "BO-2": false, "BO-4": false} {
		if p := e.product(t, sku); (p.AllowBackorder != nil && *p.AllowBackorder) != want {
			t.Errorf("%s allowBackorder = %v, want %v", sku, p.AllowBackorder, want)
		}
	}
	r, err := e.Env.Client.ExportProductsCsvWithResponse(ctx, e.Brand, e.Auth)
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("export: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if !strings.Contains(strings.SplitN(string(r.Body), "\n", 2)[0], ",allowBackorder,") || !strings.Contains(string(r.Body), ",true,") {
		t.Errorf("export lacks the allowBackorder column or BO-1's true:\n%s", r.Body)
	}
	again := e.run(t, api.ImportKindProducts, string(r.Body), nil)
	wantCounts(t, "re-import", again, api.ImportStatusSucceeded, 0, 0, 3, 0)
}
