package catalog_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// tshirt creates a product with options Size (S, M, L) and Color (Black, White).
func tshirt(t *testing.T, b servertest.StockBrand, sku string) api.Product {
	t.Helper()
	active := api.Active
	opts := api.ProductOptions{{Name: "Size", Values: []string{"S", "M", "L"}}, {Name: "Color", Values: []string{"Black", "White"}}}
	return b.CreateProduct(t, api.CreateProductRequest{Sku: sku, Name: "T-shirt", PriceAmount: 1500, Status: &active, Options: &opts})
}

func variant(t *testing.T, b servertest.StockBrand, parent uuid.UUID, sku string, price int64, size, color string) api.Product {
	t.Helper()
	r := createVariant(t, b, parent, api.CreateVariantRequest{Sku: sku, PriceAmount: price, OptionValues: api.OptionValues{{Name: "Color", Value: color}, {Name: "Size", Value: size}}})
	if r.JSON201 == nil {
		t.Fatalf("create variant %s: %d %s", sku, r.StatusCode(), r.Body)
	}
	return *r.JSON201
}

func createVariant(t *testing.T, b servertest.StockBrand, parent uuid.UUID, body api.CreateVariantRequest) *api.CreateVariantResponse {
	t.Helper()
	r, err := b.Env.Client.CreateVariantWithResponse(ctx, b.Brand, parent, body, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func values(ov *api.OptionValues) string {
	if ov == nil {
		return "-"
	}
	s := ""
	for i, v := range *ov {
		if i > 0 {
			s += " / "
		}
		s += v.Name + ":" + v.Value
	}
	return s
}

// TestVariantsStockedOrderedFulfilled is the flow: a product with 2 options (3 sizes, 2
// colours) and its 6 variants, stocked per variant, ordered per variant and fulfilled, while a
// product without variants goes through the same routes exactly as before.
func TestVariantsStockedOrderedFulfilled(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "variants")
	loc := b.Location(t, "MAIN")

	plain := b.Product(t, "MUG")
	b.Receive(t, plain.Id, loc.Id, 5)
	if plain.ParentId != nil || plain.Options != nil || plain.VariantCount != nil || plain.Images != nil || plain.Barcode != nil {
		t.Errorf("a plain product shows variant fields: %+v", plain)
	}

	parent := tshirt(t, b, "TEE")
	if parent.VariantCount == nil || *parent.VariantCount != 0 || parent.PriceRange != nil || len(*parent.Options) != 2 {
		t.Fatalf("new parent = %+v", parent)
	}
	var vs []api.Product
	for i, size := range []string{"S", "M", "L"} {
		for j, color := range []string{"Black", "White"} {
			v := variant(t, b, parent.Id, fmt.Sprintf("TEE-%s-%s", size, color[:1]), int64(1500+100*i+j), size, color)
			if v.ParentId == nil || *v.ParentId != parent.Id || v.Currency != parent.Currency || v.Status != api.Active {
				t.Errorf("variant %s = %+v", v.Sku, v)
			}
			if got, want := values(v.OptionValues), "Size:"+size+" / Color:"+color; got != want {
				t.Errorf("variant %s values %q, want %q (the parent's option order)", v.Sku, got, want)
			}
			if want := "T-shirt / " + size + " / " + color; v.Name != want {
				t.Errorf("default name %q, want %q", v.Name, want)
			}
			vs = append(vs, v)
		}
	}

	// The parent's answer summarises its variants.
	got, err := env.Client.GetProductWithResponse(ctx, b.Brand, parent.Id, b.Auth)
	if err != nil || got.JSON200 == nil {
		t.Fatalf("get parent: %v %d", err, got.StatusCode())
	}
	if p := got.JSON200; *p.VariantCount != 6 || p.PriceRange == nil || p.PriceRange.MinAmount != 1500 || p.PriceRange.MaxAmount != 1701 || p.PriceRange.Currency != "USD" {
		t.Errorf("parent summary: count %v range %+v", p.VariantCount, p.PriceRange)
	}

	// Lists: the catalog shows the parent once; parentId and the variants route list its 6.
	all, err := env.Client.ListProductsWithResponse(ctx, b.Brand, &api.ListProductsParams{}, b.Auth)
	if err != nil || all.JSON200 == nil || len(all.JSON200.Items) != 2 {
		t.Fatalf("default list: %d %s", all.StatusCode(), all.Body)
	}
	for _, p := range all.JSON200.Items {
		if p.Id == parent.Id && (p.VariantCount == nil || *p.VariantCount != 6) {
			t.Errorf("parent in the list: count %v", p.VariantCount)
		}
	}
	byParent, err := env.Client.ListProductsWithResponse(ctx, b.Brand, &api.ListProductsParams{ParentId: &parent.Id}, b.Auth)
	if err != nil || byParent.JSON200 == nil || len(byParent.JSON200.Items) != 6 {
		t.Fatalf("parentId list: %d %s", byParent.StatusCode(), byParent.Body)
	}
	limit := 4
	page1, err := env.Client.ListVariantsWithResponse(ctx, b.Brand, parent.Id, &api.ListVariantsParams{Limit: &limit}, b.Auth)
	if err != nil || page1.JSON200 == nil || len(page1.JSON200.Items) != 4 || page1.JSON200.NextCursor == nil {
		t.Fatalf("variants page 1: %d %s", page1.StatusCode(), page1.Body)
	}
	page2, err := env.Client.ListVariantsWithResponse(ctx, b.Brand, parent.Id, &api.ListVariantsParams{Limit: &limit, Cursor: page1.JSON200.NextCursor}, b.Auth)
	if err != nil || page2.JSON200 == nil || len(page2.JSON200.Items) != 2 || page2.JSON200.NextCursor != nil || page2.JSON200.Items[1].Id != vs[5].Id {
		t.Fatalf("variants page 2: %d %s", page2.StatusCode(), page2.Body)
	}

	// The parent is not an item: every stock and order route refuses it.
	adj, err := env.Client.CreateStockAdjustmentWithResponse(ctx, b.Brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
		Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: parent.Id, LocationId: loc.Id, Delta: 1}},
	}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "receive the parent", adj.HTTPResponse, adj.ApplicationproblemJSON422, 422, api.ProblemCodeVariantRequired)
	res := b.Reserve(t, servertest.HoldLine(parent.Id, nil, 1))
	servertest.WantProblem(t, "reserve the parent", res.HTTPResponse, res.ApplicationproblemJSON422, 422, api.ProblemCodeVariantRequired)
	ord := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(parent.Id, 1)))
	servertest.WantProblem(t, "order the parent", ord.HTTPResponse, ord.ApplicationproblemJSON422, 422, api.ProblemCodeVariantRequired)

	// Stocked per variant: the levels show each variant's values beside its SKU and name.
	for i, v := range vs {
		b.Receive(t, v.Id, loc.Id, int64(10+i))
	}
	for i, v := range vs {
		l := b.Level(t, v.Id, loc.Id)
		if l.OnHand != int64(10+i) || l.Sku != v.Sku || values(l.OptionValues) != values(v.OptionValues) {
			t.Errorf("level of %s: onHand %d sku %s values %s", v.Sku, l.OnHand, l.Sku, values(l.OptionValues))
		}
	}
	if l := b.Level(t, plain.Id, loc.Id); l.OptionValues != nil || l.OnHand != 5 {
		t.Errorf("the plain product's level: %+v", l)
	}

	// Ordered per variant (and the plain product beside them), confirmed, fulfilled.
	lines := []api.OrderRequestLine{servertest.OrderLine(plain.Id, 2)}
	for _, v := range vs {
		lines = append(lines, servertest.OrderLine(v.Id, 3))
	}
	o := b.MustCreateOrder(t, lines...)
	if len(o.Lines) != 7 {
		t.Fatalf("order lines: %d", len(o.Lines))
	}
	var fl []api.FulfilmentRequestLine
	for _, l := range o.Lines {
		want := "-"
		for _, v := range vs {
			if v.Id == l.ProductId {
				want = values(v.OptionValues)
			}
		}
		if values(l.OptionValues) != want {
			t.Errorf("order line %s shows %s, want %s", l.Sku, values(l.OptionValues), want)
		}
		fl = append(fl, api.FulfilmentRequestLine{LineId: l.Id, Quantity: l.Quantity})
	}
	if r := b.ConfirmOrder(t, o.Id); r.JSON200 == nil {
		t.Fatalf("confirm: %d %s", r.StatusCode(), r.Body)
	}
	if r := b.Fulfil(t, o.Id, fl...); r.JSON201 == nil {
		t.Fatalf("fulfil: %d %s", r.StatusCode(), r.Body)
	}
	if g := b.GetOrder(t, o.Id); g.Status != api.OrderFulfilled {
		t.Errorf("order status %s", g.Status)
	}
	for i, v := range vs {
		b.WantLevel(t, v.Sku+" after fulfilment", v.Id, loc.Id, int64(10+i-3), 0)
	}
	b.WantLevel(t, "plain after fulfilment", plain.Id, loc.Id, 3, 0)
	env.AssertStock(t, b.Brand)

	// Renaming a value rewrites the variants (and their levels' display), not the order sold.
	renamed := updateProduct(t, b, parent.Id, api.UpdateProductRequest{Options: &[]api.ProductOptionInput{
		{Name: "Size", Values: []string{"S", "Medium", "L", "XL"}, Renames: &map[string]string{"M": "Medium"}},
		{Name: "Colour", Values: []string{"Black", "White"}},
	}})
	if renamed.JSON200 == nil {
		t.Fatalf("rename: %d %s", renamed.StatusCode(), renamed.Body)
	}
	if l := b.Level(t, vs[2].Id, loc.Id); values(l.OptionValues) != "Size:Medium / Colour:Black" {
		t.Errorf("renamed variant's level shows %s", values(l.OptionValues))
	}
	if g := b.GetOrder(t, o.Id); values(g.Lines[3].OptionValues) != "Size:M / Color:Black" && values(g.Lines[3].OptionValues) != "Size:M / Color:White" {
		t.Errorf("the order line sold as M now shows %s", values(g.Lines[3].OptionValues))
	}
	// Removing a value a variant has, or an option, is refused; nothing changed.
	for name, opts := range map[string][]api.ProductOptionInput{
		"value in use":     {{Name: "Size", Values: []string{"S", "L"}}, {Name: "Colour", Values: []string{"Black", "White"}}},
		"option removed":   {{Name: "Size", Values: []string{"S", "Medium", "L"}}},
		"option added":     {{Name: "Size", Values: []string{"S", "Medium", "L"}}, {Name: "Colour", Values: []string{"Black", "White"}}, {Name: "Fit", Values: []string{"Slim"}}},
		"options cleared":  {},
		"renamed away too": {{Name: "Size", Values: []string{"S", "L", "XL"}, Renames: &map[string]string{"Medium": "XL"}}, {Name: "Colour", Values: []string{"Black", "White"}}},
	} {
		r := updateProduct(t, b, parent.Id, api.UpdateProductRequest{Options: &opts})
		if name == "renamed away too" {
			servertest.WantProblem(t, name, r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
			continue
		}
		servertest.WantProblem(t, name, r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeOptionsInUse)
	}

	// A stocked product cannot become a parent; a duplicate combination is refused.
	mugOpts := []api.ProductOptionInput{{Name: "Size", Values: []string{"S"}}}
	r := updateProduct(t, b, plain.Id, api.UpdateProductRequest{Options: &mugOpts})
	servertest.WantProblem(t, "options on a stocked product", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeProductInUse)
	dup := createVariant(t, b, parent.Id, api.CreateVariantRequest{Sku: "TEE-DUP", PriceAmount: 1, OptionValues: api.OptionValues{{Name: "Size", Value: "S"}, {Name: "Colour", Value: "Black"}}})
	servertest.WantProblem(t, "same combination", dup.HTTPResponse, dup.ApplicationproblemJSON409, 409, api.ProblemCodeOptionValuesTaken)
	sub := createVariant(t, b, vs[0].Id, api.CreateVariantRequest{Sku: "TEE-SUB", PriceAmount: 1, OptionValues: api.OptionValues{{Name: "Size", Value: "S"}}})
	servertest.WantProblem(t, "a variant's variant", sub.HTTPResponse, sub.ApplicationproblemJSON422, 422, api.ProblemCodeOptionsRequired)
	noOpts := createVariant(t, b, plain.Id, api.CreateVariantRequest{Sku: "MUG-S", PriceAmount: 1, OptionValues: api.OptionValues{{Name: "Size", Value: "S"}}})
	servertest.WantProblem(t, "a plain product's variant", noOpts.HTTPResponse, noOpts.ApplicationproblemJSON422, 422, api.ProblemCodeOptionsRequired)

	// A variant with stock cannot be deleted, nor a parent with variants.
	del, err := env.Client.DeleteVariantWithResponse(ctx, b.Brand, parent.Id, vs[0].Id, &api.DeleteVariantParams{}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "delete a stocked variant", del.HTTPResponse, del.ApplicationproblemJSON409, 409, api.ProblemCodeProductInUse)
	delp, err := env.Client.DeleteProductWithResponse(ctx, b.Brand, parent.Id, &api.DeleteProductParams{}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "delete a parent", delp.HTTPResponse, delp.ApplicationproblemJSON409, 409, api.ProblemCodeProductInUse)

	// Archiving the parent makes its variants unsellable; the plain product is still sold.
	archived := api.Archived
	if r := updateProduct(t, b, parent.Id, api.UpdateProductRequest{Status: &archived}); r.JSON200 == nil {
		t.Fatalf("archive: %d %s", r.StatusCode(), r.Body)
	}
	sold := b.CreateOrder(t, servertest.NewKey(), servertest.OrderBody(servertest.OrderLine(vs[1].Id, 1)))
	servertest.WantProblem(t, "order a variant of an archived product", sold.HTTPResponse, sold.ApplicationproblemJSON422, 422, api.ProblemCodeProductUnavailable)
	b.MustCreateOrder(t, servertest.OrderLine(plain.Id, 1))

	// The plain product went through all of it untouched.
	after, err := env.Client.GetProductWithResponse(ctx, b.Brand, plain.Id, b.Auth)
	if err != nil || after.JSON200 == nil || after.JSON200.Version != plain.Version || string(after.Body) == "" {
		t.Fatalf("plain product after: %d %s", after.StatusCode(), after.Body)
	}
	env.AssertStock(t, b.Brand)
}

func updateProduct(t *testing.T, b servertest.StockBrand, id uuid.UUID, body api.UpdateProductRequest) *api.UpdateProductResponse {
	t.Helper()
	r, err := b.Env.Client.UpdateProductWithResponse(ctx, b.Brand, id, &api.UpdateProductParams{}, body, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVariantETagsAndScope: a variant's routes honour If-Match like a product's, and only answer
// for the product's own variants.
func TestVariantETagsAndScope(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "vetag")
	parent, other := tshirt(t, b, "TEE"), tshirt(t, b, "POLO")
	v := variant(t, b, parent.Id, "TEE-S-B", 1000, "S", "Black")
	if loc := "/brands/" + b.Brand.String() + "/products/" + parent.Id.String() + "/variants/" + v.Id.String(); v.Id == uuid.Nil || loc == "" {
		t.Fatal("no id")
	}

	g, err := env.Client.GetVariantWithResponse(ctx, b.Brand, parent.Id, v.Id, b.Auth)
	if err != nil || g.JSON200 == nil || g.HTTPResponse.Header.Get("ETag") != `"1"` {
		t.Fatalf("get variant: %d %s", g.StatusCode(), g.Body)
	}
	wrong, err := env.Client.GetVariantWithResponse(ctx, b.Brand, other.Id, v.Id, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "another product's variant", wrong.HTTPResponse, wrong.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)

	price := int64(1200)
	stale := `"7"`
	r, err := env.Client.UpdateVariantWithResponse(ctx, b.Brand, parent.Id, v.Id, &api.UpdateVariantParams{IfMatch: &stale}, api.UpdateVariantRequest{PriceAmount: &price}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "stale If-Match", r.HTTPResponse, r.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	current := `"1"`
	vals := api.OptionValues{{Name: "Size", Value: "L"}, {Name: "Color", Value: "White"}}
	r, err = env.Client.UpdateVariantWithResponse(ctx, b.Brand, parent.Id, v.Id, &api.UpdateVariantParams{IfMatch: &current}, api.UpdateVariantRequest{PriceAmount: &price, OptionValues: &vals}, b.Auth)
	if err != nil || r.JSON200 == nil || r.JSON200.Version != 2 || r.JSON200.PriceAmount != 1200 || values(r.JSON200.OptionValues) != "Size:L / Color:White" {
		t.Fatalf("update variant: %d %s", r.StatusCode(), r.Body)
	}
	r, err = env.Client.UpdateVariantWithResponse(ctx, b.Brand, other.Id, v.Id, &api.UpdateVariantParams{}, api.UpdateVariantRequest{PriceAmount: &price}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "update through another product", r.HTTPResponse, r.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)

	del, err := env.Client.DeleteVariantWithResponse(ctx, b.Brand, parent.Id, v.Id, &api.DeleteVariantParams{IfMatch: &current}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "delete at a stale version", del.HTTPResponse, del.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	two := `"2"`
	del, err = env.Client.DeleteVariantWithResponse(ctx, b.Brand, parent.Id, v.Id, &api.DeleteVariantParams{IfMatch: &two}, b.Auth)
	if err != nil || del.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete: %d %s", del.StatusCode(), del.Body)
	}

	// Events: a variant is a product; its events carry parentId and its values.
	evs := env.FeedAll(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{}, 5)
	var created bool
	for _, e := range evs {
		if e.Type == api.EventTypeProductCreated && e.Aggregate.Id == v.Id {
			created = true
			var p api.Product
			if err := json.Unmarshal(e.Data, &p); err != nil {
				t.Fatal(err)
			}
			if p.ParentId == nil || *p.ParentId != parent.Id || values(p.OptionValues) != "Size:S / Color:Black" {
				t.Errorf("variant's product.created data: %+v", p)
			}
		}
	}
	if !created {
		t.Errorf("no product.created for the variant in %v", servertest.EventTypes(evs))
	}
}

// TestSkuRaceAcrossProductsAndVariants: a product and a variant created at once with one SKU:
// exactly one is created, the other is a 409 sku_taken.
func TestSkuRaceAcrossProductsAndVariants(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "skurace")
	parent := tshirt(t, b, "TEE")
	sizes := []string{"S", "M", "L"}
	for round := range 3 {
		sku := fmt.Sprintf("RACE-%d", round)
		var wg sync.WaitGroup
		var productStatus, variantStatus int
		var productCode, variantCode api.ProblemCode
		wg.Go(func() {
			r, err := env.Client.CreateProductWithResponse(ctx, b.Brand, api.CreateProductRequest{Sku: sku, Name: "racer", PriceAmount: 1}, b.Auth)
			if err != nil {
				t.Error(err)
				return
			}
			productStatus = r.StatusCode()
			if r.ApplicationproblemJSON409 != nil {
				productCode = r.ApplicationproblemJSON409.Code
			}
		})
		wg.Go(func() {
			r, err := env.Client.CreateVariantWithResponse(ctx, b.Brand, parent.Id, api.CreateVariantRequest{
				Sku: sku, PriceAmount: 1, OptionValues: api.OptionValues{{Name: "Size", Value: sizes[round]}, {Name: "Color", Value: "Black"}},
			}, b.Auth)
			if err != nil {
				t.Error(err)
				return
			}
			variantStatus = r.StatusCode()
			if r.ApplicationproblemJSON409 != nil {
				variantCode = r.ApplicationproblemJSON409.Code
			}
		})
		wg.Wait()
		switch {
		case productStatus == 201 && variantStatus == 409 && variantCode == api.ProblemCodeSkuTaken:
		case variantStatus == 201 && productStatus == 409 && productCode == api.ProblemCodeSkuTaken:
		default:
			t.Errorf("round %d: product %d %s, variant %d %s; want one 201 and one 409 sku_taken", round, productStatus, productCode, variantStatus, variantCode)
		}
		if n := env.OwnerCount(t, b.Brand, "SELECT count(*) FROM products WHERE sku = $1", sku); n != 1 {
			t.Errorf("round %d: %d products with the SKU", round, n)
		}
	}
	// Two variants racing for one SKU as well.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, color := range []string{"White", "White"} {
		wg.Go(func() {
			r, err := env.Client.CreateVariantWithResponse(ctx, b.Brand, parent.Id, api.CreateVariantRequest{
				Sku: "RACE-V", PriceAmount: 1, OptionValues: api.OptionValues{{Name: "Size", Value: sizes[i+1]}, {Name: "Color", Value: color}},
			}, b.Auth)
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.StatusCode()
		})
	}
	wg.Wait()
	switch {
	case statuses[0] == 201 && statuses[1] == 409, statuses[0] == 409 && statuses[1] == 201:
	default:
		t.Errorf("two variants racing: %v", statuses)
	}
}

// TestVariantValidationNamesFields: what the schema cannot say is a 400 naming the field; unique
// barcodes and the variant limit are their own problems.
func TestVariantValidationNamesFields(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "vcheck")
	parent := tshirt(t, b, "TEE")
	str := func(s string) *string { return &s }
	imgs := func(urls ...string) *api.ProductImages {
		out := api.ProductImages{}
		for _, u := range urls {
			out = append(out, api.ProductImage{Url: u, Alt: str("alt")})
		}
		return &out
	}
	good := b.CreateProduct(t, api.CreateProductRequest{Sku: "GOOD", Name: "good", PriceAmount: 1, Barcode: str("4006381333931"), Images: imgs("https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg")})
	if good.Barcode == nil || *good.Barcode != "4006381333931" || good.Images == nil || len(*good.Images) != 2 || (*good.Images)[1].Url != "https://cdn.example.com/b.jpg" {
		t.Errorf("barcode and images: %+v", good)
	}

	products := []struct {
		name  string
		body  api.CreateProductRequest
		field string
	}{
		{"barcode check digit", api.CreateProductRequest{Sku: "B1", Name: "x", PriceAmount: 1, Barcode: str("4006381333932")}, "barcode"},
		{"barcode GTIN-8 check digit", api.CreateProductRequest{Sku: "B2", Name: "x", PriceAmount: 1, Barcode: str("96385075")}, "barcode"},
		{"barcode length", api.CreateProductRequest{Sku: "B3", Name: "x", PriceAmount: 1, Barcode: str("123456789")}, "barcode"},
		{"http image", api.CreateProductRequest{Sku: "I1", Name: "x", PriceAmount: 1, Images: imgs("https://ok.example/a.png", "http://cdn.example.com/a.jpg")}, "images[1].url"},
		{"image without host", api.CreateProductRequest{Sku: "I2", Name: "x", PriceAmount: 1, Images: imgs("https:///a.jpg")}, "images[0].url"},
		{"image with credentials", api.CreateProductRequest{Sku: "I3", Name: "x", PriceAmount: 1, Images: imgs("https://user:pw@cdn.example.com/a.jpg")}, "images[0].url"},
		{"four options", api.CreateProductRequest{Sku: "O1", Name: "x", PriceAmount: 1, Options: &api.ProductOptions{{Name: "A", Values: []string{"1"}}, {Name: "B", Values: []string{"1"}}, {Name: "C", Values: []string{"1"}}, {Name: "D", Values: []string{"1"}}}}, "options"},
		{"option named twice", api.CreateProductRequest{Sku: "O2", Name: "x", PriceAmount: 1, Options: &api.ProductOptions{{Name: "Size", Values: []string{"S"}}, {Name: "size", Values: []string{"M"}}}}, "options[1].name"},
		{"value twice", api.CreateProductRequest{Sku: "O3", Name: "x", PriceAmount: 1, Options: &api.ProductOptions{{Name: "Size", Values: []string{"S", "S"}}}}, "options[0].values"},
		{"option name with a space", api.CreateProductRequest{Sku: "O5", Name: "x", PriceAmount: 1, Options: &api.ProductOptions{{Name: "Size ", Values: []string{"S"}}}}, "options[0].name"},
		{"image URL with a space", api.CreateProductRequest{Sku: "I4", Name: "x", PriceAmount: 1, Images: imgs("https://cdn.example.com/a b.jpg")}, "images[0].url"},
		{"option without values", api.CreateProductRequest{Sku: "O4", Name: "x", PriceAmount: 1, Options: &api.ProductOptions{{Name: "Size", Values: []string{}}}}, "options[0].values"},
	}
	for _, c := range products {
		t.Run(c.name, func(t *testing.T) {
			r, err := env.Client.CreateProductWithResponse(ctx, b.Brand, c.body, b.Auth)
			if err != nil {
				t.Fatal(err)
			}
			servertest.WantProblem(t, c.name, r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
			if p := r.ApplicationproblemJSON400; p != nil && (p.Errors == nil || (*p.Errors)[0].Field != c.field) {
				t.Errorf("errors %+v, want the first naming %s", p.Errors, c.field)
			}
		})
	}

	variants := []struct {
		name   string
		values api.OptionValues
		field  string
	}{
		{"missing an option", api.OptionValues{{Name: "Size", Value: "S"}}, "optionValues"},
		{"unknown option", api.OptionValues{{Name: "Size", Value: "S"}, {Name: "Fit", Value: "Slim"}}, "optionValues[1].name"},
		{"unknown value", api.OptionValues{{Name: "Size", Value: "XXL"}, {Name: "Color", Value: "Black"}}, "optionValues[0].value"},
		{"option twice", api.OptionValues{{Name: "Size", Value: "S"}, {Name: "Size", Value: "M"}}, "optionValues[1].name"},
	}
	for _, c := range variants {
		t.Run(c.name, func(t *testing.T) {
			r := createVariant(t, b, parent.Id, api.CreateVariantRequest{Sku: "V-BAD", PriceAmount: 1, OptionValues: c.values})
			servertest.WantProblem(t, c.name, r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
			if p := r.ApplicationproblemJSON400; p != nil && (p.Errors == nil || (*p.Errors)[0].Field != c.field) {
				t.Errorf("errors %+v, want the first naming %s", p.Errors, c.field)
			}
		})
	}

	// Barcodes are unique per brand, across products and variants.
	r := createVariant(t, b, parent.Id, api.CreateVariantRequest{Sku: "V-BC", PriceAmount: 1, Barcode: str("4006381333931"), OptionValues: api.OptionValues{{Name: "Size", Value: "S"}, {Name: "Color", Value: "Black"}}})
	servertest.WantProblem(t, "barcode taken", r.HTTPResponse, r.ApplicationproblemJSON409, 409, api.ProblemCodeBarcodeTaken)
	other := servertest.NewStockBrand(t, env, "vcheck-other")
	other.CreateProduct(t, api.CreateProductRequest{Sku: "GOOD", Name: "same barcode, other brand", PriceAmount: 1, Barcode: str("4006381333931")})

	// A variant takes its currency and options from its parent.
	cur := "EUR"
	v := variant(t, b, parent.Id, "V-1", 1, "S", "Black")
	u := updateProduct(t, b, v.Id, api.UpdateProductRequest{Currency: &cur})
	servertest.WantProblem(t, "a variant's currency", u.HTTPResponse, u.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
	u = updateProduct(t, b, parent.Id, api.UpdateProductRequest{Currency: &cur})
	if u.JSON200 == nil {
		t.Fatalf("parent currency: %d %s", u.StatusCode(), u.Body)
	}
	if g, _ := env.Client.GetVariantWithResponse(ctx, b.Brand, parent.Id, v.Id, b.Auth); g.JSON200 == nil || g.JSON200.Currency != "EUR" {
		t.Errorf("the parent's currency was not carried to its variant: %s", g.Body)
	}

	// Bulk upsert takes barcodes (checked) but not options.
	bulk, err := env.Client.BulkUpsertProductsWithResponse(ctx, b.Brand, api.BulkUpsertProductsRequest{Items: []api.CreateProductRequest{
		{Sku: "BULK-1", Name: "x", PriceAmount: 1, Barcode: str("036000291453")},
		{Sku: "BULK-2", Name: "x", PriceAmount: 1, Options: &api.ProductOptions{{Name: "Size", Values: []string{"S"}}}},
	}}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "bulk", bulk.HTTPResponse, bulk.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
	if p := bulk.ApplicationproblemJSON400; p != nil && (p.Errors == nil || len(*p.Errors) != 2 || (*p.Errors)[0].Field != "items[0].barcode" || (*p.Errors)[1].Field != "items[1].options") {
		t.Errorf("bulk errors %+v", p.Errors)
	}
	bulk, err = env.Client.BulkUpsertProductsWithResponse(ctx, b.Brand, api.BulkUpsertProductsRequest{Items: []api.CreateProductRequest{
		{Sku: "BULK-1", Name: "x", PriceAmount: 1, Barcode: str("4006381333931")},
	}}, b.Auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "bulk barcode taken", bulk.HTTPResponse, bulk.ApplicationproblemJSON409, 409, api.ProblemCodeBarcodeTaken)
}

// TestVariantLimit: a product has at most 100 variants.
func TestVariantLimit(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "vlimit")
	var vals []string
	for i := range 101 {
		vals = append(vals, fmt.Sprintf("v%d", i))
	}
	opts := api.ProductOptions{{Name: "N", Values: vals[:100]}, {Name: "M", Values: []string{"a", "b"}}}
	parent := b.CreateProduct(t, api.CreateProductRequest{Sku: "MANY", Name: "many", PriceAmount: 1, Options: &opts})
	for i := range 100 {
		r := createVariant(t, b, parent.Id, api.CreateVariantRequest{Sku: fmt.Sprintf("MANY-%d", i), PriceAmount: 1, OptionValues: api.OptionValues{{Name: "N", Value: vals[i]}, {Name: "M", Value: "a"}}})
		if r.JSON201 == nil {
			t.Fatalf("variant %d: %d %s", i, r.StatusCode(), r.Body)
		}
	}
	r := createVariant(t, b, parent.Id, api.CreateVariantRequest{Sku: "MANY-X", PriceAmount: 1, OptionValues: api.OptionValues{{Name: "N", Value: "v0"}, {Name: "M", Value: "b"}}})
	servertest.WantProblem(t, "101st variant", r.HTTPResponse, r.ApplicationproblemJSON422, 422, api.ProblemCodeVariantLimit)
}
