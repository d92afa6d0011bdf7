package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

func TestProductLifecycleWithETags(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("etag"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)

	desc := "first description"
	attrs := api.Attributes{"color": "black"}
	tags := api.Tags{"summer"}
	created, err := env.Client.CreateProductWithResponse(ctx, brand, api.CreateProductRequest{
		Sku: "AE-1", Name: "Engine", PriceAmount: 1999, Description: &desc, Attributes: &attrs, Tags: &tags,
	}, auth)
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create = %d %s", created.StatusCode(), created.Body)
	}
	p := created.JSON201
	if p.Currency != "USD" || p.Status != api.Draft || p.Version != 1 || p.BrandId != brand {
		t.Errorf("defaults: %+v", p)
	}
	if loc := created.HTTPResponse.Header.Get("Location"); loc != fmt.Sprintf("/brands/%s/products/%s", brand, p.Id) {
		t.Errorf("Location = %q", loc)
	}
	if tag := created.HTTPResponse.Header.Get("ETag"); tag != `"1"` {
		t.Errorf("ETag = %q", tag)
	}

	got, err := env.Client.GetProductWithResponse(ctx, brand, p.Id, auth)
	if err != nil || got.JSON200 == nil || got.HTTPResponse.Header.Get("ETag") != `"1"` {
		t.Fatalf("get = %d %s", got.StatusCode(), got.Body)
	}

	update := func(ifMatch string, body api.UpdateProductRequest) *api.UpdateProductResponse {
		t.Helper()
		params := &api.UpdateProductParams{}
		if ifMatch != "" {
			params.IfMatch = &ifMatch
		}
		r, err := env.Client.UpdateProductWithResponse(ctx, brand, p.Id, params, body, auth)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	price := int64(2499)
	r := update(`"1"`, api.UpdateProductRequest{PriceAmount: &price})
	if r.JSON200 == nil || r.JSON200.PriceAmount != 2499 || r.JSON200.Version != 2 || r.HTTPResponse.Header.Get("ETag") != `"2"` {
		t.Fatalf("update with the current ETag = %d %s", r.StatusCode(), r.Body)
	}
	if *r.JSON200.Description != desc || r.JSON200.Attributes["color"] != "black" {
		t.Errorf("fields not given changed: %s", r.Body)
	}

	price = 1
	stale := update(`"1"`, api.UpdateProductRequest{PriceAmount: &price})
	servertest.WantProblem(t, "stale If-Match", stale.HTTPResponse, stale.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	garbage := update(`W/"2"`, api.UpdateProductRequest{PriceAmount: &price})
	servertest.WantProblem(t, "weak If-Match", garbage.HTTPResponse, garbage.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	if g, _ := env.Client.GetProductWithResponse(ctx, brand, p.Id, auth); g.JSON200.PriceAmount != 2499 {
		t.Fatal("a refused update changed the product")
	}

	// null clears the description; absent leaves it; several tags, one matching, pass.
	r = update(`"9", "2"`, api.UpdateProductRequest{Description: nullable.NewNullNullable[string]()})
	if r.JSON200 == nil || r.JSON200.Description != nil || r.JSON200.Version != 3 {
		t.Fatalf("clear description = %d %s", r.StatusCode(), r.Body)
	}
	r = update("*", api.UpdateProductRequest{Name: ptr("Engine v2")})
	if r.JSON200 == nil || r.JSON200.Name != "Engine v2" || r.JSON200.Description != nil {
		t.Fatalf("If-Match * = %d %s", r.StatusCode(), r.Body)
	}

	del := func(ifMatch string) *api.DeleteProductResponse {
		t.Helper()
		r, err := env.Client.DeleteProductWithResponse(ctx, brand, p.Id, &api.DeleteProductParams{IfMatch: &ifMatch}, auth)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	d := del(`"3"`)
	servertest.WantProblem(t, "stale delete", d.HTTPResponse, d.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	if d := del(`"4"`); d.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete = %d %s", d.StatusCode(), d.Body)
	}
	gone, _ := env.Client.GetProductWithResponse(ctx, brand, p.Id, auth)
	servertest.WantProblem(t, "deleted product", gone.HTTPResponse, gone.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
	d = del(`"4"`)
	servertest.WantProblem(t, "delete twice", d.HTTPResponse, d.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)
}

func ptr[T any](v T) *T { return &v }

func TestSkuAndCurrencyRules(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("sku"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)
	first := env.CreateProduct(t, owner, api.CreateProductRequest{Sku: "SKU-1", Name: "One", PriceAmount: 1})
	second := env.CreateProduct(t, owner, api.CreateProductRequest{Sku: "SKU-2", Name: "Two", PriceAmount: 2})

	dup, err := env.Client.CreateProductWithResponse(ctx, brand, api.CreateProductRequest{Sku: "SKU-1", Name: "Again", PriceAmount: 1}, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "duplicate SKU", dup.HTTPResponse, dup.ApplicationproblemJSON409, 409, api.ProblemCodeSkuTaken)
	upd, err := env.Client.UpdateProductWithResponse(ctx, brand, second.Id, nil, api.UpdateProductRequest{Sku: ptr("SKU-1")}, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "rename to a taken SKU", upd.HTTPResponse, upd.ApplicationproblemJSON409, 409, api.ProblemCodeSkuTaken)

	// The same SKU in another brand is fine.
	other := env.Register(t, servertest.Email("sku-other"))
	env.CreateProduct(t, other, api.CreateProductRequest{Sku: "SKU-1", Name: "Theirs", PriceAmount: 1})

	for name, body := range map[string]string{
		"unknown currency":     `{"sku":"C-1","name":"x","priceAmount":1,"currency":"XYZ"}`,
		"lowercase currency":   `{"sku":"C-2","name":"x","priceAmount":1,"currency":"usd"}`,
		"negative price":       `{"sku":"C-3","name":"x","priceAmount":-1}`,
		"fractional price":     `{"sku":"C-4","name":"x","priceAmount":19.99}`,
		"bad SKU":              `{"sku":"has space","name":"x","priceAmount":1}`,
		"brandId in the body":  `{"sku":"C-5","name":"x","priceAmount":1,"brandId":"` + other.User.BrandId.String() + `"}`,
		"version in the body":  `{"sku":"C-6","name":"x","priceAmount":1,"version":7}`,
		"empty attribute name": `{"sku":"C-7","name":"x","priceAmount":1,"attributes":{"":"x"}}`,
		"non-string attribute": `{"sku":"C-8","name":"x","priceAmount":1,"attributes":{"size":42}}`,
		"repeated tag":         `{"sku":"C-9","name":"x","priceAmount":1,"tags":["a","a"]}`,
	} {
		resp := postJSONAuth(t, env, "/brands/"+brand.String()+"/products", body, owner.AccessToken)
		p := servertest.ReadProblem(t, resp)
		if resp.StatusCode != 400 || p.Code != api.ProblemCodeValidationFailed {
			t.Errorf("%s: %d %+v", name, resp.StatusCode, p)
		}
	}

	// A brand's currency is the default of new products; existing ones keep theirs.
	eur := "EUR"
	b, err := env.Client.UpdateBrandWithResponse(ctx, brand, nil, api.UpdateBrandRequest{Currency: &eur}, auth)
	if err != nil || b.JSON200 == nil || b.JSON200.Currency != "EUR" || b.JSON200.Version != 2 {
		t.Fatalf("brand currency = %d %s", b.StatusCode(), b.Body)
	}
	if p := env.CreateProduct(t, owner, api.CreateProductRequest{Sku: "EUR-1", Name: "Euro", PriceAmount: 5}); p.Currency != "EUR" {
		t.Errorf("new product currency = %s", p.Currency)
	}
	if g, _ := env.Client.GetProductWithResponse(ctx, brand, first.Id, auth); g.JSON200.Currency != "USD" {
		t.Errorf("existing product currency changed to %s", g.JSON200.Currency)
	}
}

func postJSONAuth(t *testing.T, env *servertest.Env, path, body, token string) *http.Response {
	t.Helper()
	return env.PostJSON(t, path, body, map[string]string{"Authorization": "Bearer " + token})
}

func TestBrandETag(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("brand"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)

	got, err := env.Client.GetBrandWithResponse(ctx, brand, auth)
	if err != nil || got.JSON200 == nil || got.HTTPResponse.Header.Get("ETag") != `"1"` {
		t.Fatalf("get brand = %d %s", got.StatusCode(), got.Body)
	}
	name := "Renamed"
	stale := `"0"`
	r, err := env.Client.UpdateBrandWithResponse(ctx, brand, &api.UpdateBrandParams{IfMatch: &stale}, api.UpdateBrandRequest{Name: &name}, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "stale brand update", r.HTTPResponse, r.ApplicationproblemJSON412, 412, api.ProblemCodePreconditionFailed)
	current := `"1"`
	r, err = env.Client.UpdateBrandWithResponse(ctx, brand, &api.UpdateBrandParams{IfMatch: &current}, api.UpdateBrandRequest{Name: &name}, auth)
	if err != nil || r.JSON200 == nil || r.JSON200.Name != name || r.HTTPResponse.Header.Get("ETag") != `"2"` {
		t.Fatalf("update brand = %d %s", r.StatusCode(), r.Body)
	}
	if r.JSON200.Slug != got.JSON200.Slug {
		t.Error("renaming changed the slug")
	}

	// ADMIN lists brands; a brand owner may not.
	admin := env.Admin(t)
	list, err := env.Client.ListBrandsWithResponse(ctx, nil, servertest.Bearer(admin.AccessToken))
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 {
		t.Fatalf("admin brand list = %d %s", list.StatusCode(), list.Body)
	}
	list, err = env.Client.ListBrandsWithResponse(ctx, nil, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "owner lists brands", list.HTTPResponse, list.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)
}

// TestPaginationOverFiltersAndOrders pages through 250 products in every order, with and without
// filters, and checks each walk returns exactly the matching products, in order, none twice.
func TestPaginationOverFiltersAndOrders(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("pages"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)

	type want struct {
		sku, name string
		status    api.ProductStatus
		tags      []string
		created   time.Time
	}
	var all []want
	statuses := []api.ProductStatus{api.Draft, api.Active, api.Archived}
	for batch := 0; batch < 5; batch++ {
		items := make([]api.CreateProductRequest, 0, 50)
		for i := 0; i < 50; i++ {
			n := batch*50 + i
			st := statuses[n%3]
			tags := api.Tags{fmt.Sprintf("t%d", n%4)}
			// Names repeat (ties broken by id) and one in ten has a LIKE wildcard in it.
			name := fmt.Sprintf("Item %03d", n%97)
			if n%10 == 0 {
				name = fmt.Sprintf("50%% off_%d", n)
			}
			items = append(items, api.CreateProductRequest{Sku: fmt.Sprintf("P-%04d", n), Name: name, PriceAmount: int64(n), Status: &st, Tags: &tags})
			all = append(all, want{sku: fmt.Sprintf("P-%04d", n), name: name, status: st, tags: tags, created: env.Clock.Now()})
		}
		r, err := env.Client.BulkUpsertProductsWithResponse(ctx, brand, api.BulkUpsertProductsRequest{Items: items}, auth)
		if err != nil || r.JSON200 == nil || len(r.JSON200.Items) != 50 {
			t.Fatalf("bulk = %d %s", r.StatusCode(), r.Body)
		}
		env.Clock.Advance(time.Minute) // each batch shares one created_at: ties across 50 rows
	}

	walk := func(params api.ListProductsParams) []api.Product {
		t.Helper()
		limit := 7
		params.Limit = &limit
		var out []api.Product
		seen := map[uuid.UUID]bool{}
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("pagination does not end")
			}
			r, err := env.Client.ListProductsWithResponse(ctx, brand, &params, auth)
			if err != nil || r.JSON200 == nil {
				t.Fatalf("list %+v = %d %s", params, r.StatusCode(), r.Body)
			}
			for _, p := range r.JSON200.Items {
				if seen[p.Id] {
					t.Fatalf("product %s twice", p.Sku)
				}
				seen[p.Id] = true
			}
			out = append(out, r.JSON200.Items...)
			if r.JSON200.NextCursor == nil {
				return out
			}
			params.Cursor = r.JSON200.NextCursor
		}
	}
	active := api.Active
	tag := "t1"
	q := "50% OFF" // case-insensitive, and % is literal
	filters := map[string]struct {
		params api.ListProductsParams
		match  func(w want) bool
	}{
		"all":             {api.ListProductsParams{}, func(want) bool { return true }},
		"status=active":   {api.ListProductsParams{Status: &active}, func(w want) bool { return w.status == api.Active }},
		"tag=t1":          {api.ListProductsParams{Tag: &tag}, func(w want) bool { return w.tags[0] == "t1" }},
		"q=50% OFF":       {api.ListProductsParams{Q: &q}, func(w want) bool { return strings.Contains(strings.ToLower(w.name), "50% off") }},
		"q=p-010 and tag": {api.ListProductsParams{Q: ptr("p-010"), Tag: &tag}, func(w want) bool { return strings.HasPrefix(w.sku, "P-010") && w.tags[0] == "t1" }},
	}
	for _, sortBy := range []api.ListProductsParamsSort{api.SortNewest, api.SortOldest, api.SortName, api.SortNameDesc} {
		for name, f := range filters {
			params := f.params
			params.Sort = &sortBy
			got := walk(params)
			var expected []string
			for _, w := range all {
				if f.match(w) {
					expected = append(expected, w.sku)
				}
			}
			gotSkus := make([]string, len(got))
			for i, p := range got {
				gotSkus[i] = p.Sku
			}
			if len(got) != len(expected) {
				t.Errorf("sort %s, %s: %d products, want %d", sortBy, name, len(got), len(expected))
				continue
			}
			if !sort.SliceIsSorted(got, func(i, j int) bool { return before(sortBy, got[i], got[j]) }) {
				t.Errorf("sort %s, %s: out of order: %v", sortBy, name, gotSkus)
			}
			sort.Strings(gotSkus)
			sort.Strings(expected)
			if strings.Join(gotSkus, ",") != strings.Join(expected, ",") {
				t.Errorf("sort %s, %s: wrong products", sortBy, name)
			}
		}
	}

	// A cursor of one order is refused by another.
	limit := 5
	first, err := env.Client.ListProductsWithResponse(ctx, brand, &api.ListProductsParams{Limit: &limit}, auth)
	if err != nil || first.JSON200.NextCursor == nil {
		t.Fatal("no cursor")
	}
	byName := api.SortName
	r, err := env.Client.ListProductsWithResponse(ctx, brand, &api.ListProductsParams{Sort: &byName, Cursor: first.JSON200.NextCursor}, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "cursor of another order", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
}

// before is the order each sort promises, ties broken by id.
func before(s api.ListProductsParamsSort, a, b api.Product) bool {
	switch s {
	case api.SortOldest:
		return a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.Id.String() < b.Id.String()
	case api.SortName:
		return a.Name < b.Name || a.Name == b.Name && a.Id.String() < b.Id.String()
	case api.SortNameDesc:
		return a.Name > b.Name || a.Name == b.Name && a.Id.String() > b.Id.String()
	default:
		return a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.Id.String() > b.Id.String()
	}
}

func TestBulkUpsertIsAllOrNothing(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("bulk"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)
	existing := env.CreateProduct(t, owner, api.CreateProductRequest{Sku: "KEEP-1", Name: "Old name", PriceAmount: 5})

	count := func() int {
		t.Helper()
		limit := 100
		r, err := env.Client.ListProductsWithResponse(ctx, brand, &api.ListProductsParams{Limit: &limit}, auth)
		if err != nil || r.JSON200 == nil {
			t.Fatal(err)
		}
		return len(r.JSON200.Items)
	}

	item := func(sku string) map[string]any {
		return map[string]any{"sku": sku, "name": "n " + sku, "priceAmount": 1}
	}
	items := []map[string]any{item("B-0"), item("B-1"), item("B-2"), item("bad sku"), item("B-4"), item("B-1"), {"sku": "B-6", "name": "x", "priceAmount": 1, "currency": "XYZ"}}
	body, _ := json.Marshal(map[string]any{"items": items[:4]})
	resp := postJSONAuth(t, env, "/brands/"+brand.String()+"/products/bulk", string(body), owner.AccessToken)
	p := servertest.ReadProblem(t, resp)
	if resp.StatusCode != 400 || p.Errors == nil || (*p.Errors)[0].Field != "items[3].sku" {
		t.Fatalf("invalid item = %d %+v", resp.StatusCode, p)
	}
	body, _ = json.Marshal(map[string]any{"items": append(items[:3:3], items[4:]...)})
	resp = postJSONAuth(t, env, "/brands/"+brand.String()+"/products/bulk", string(body), owner.AccessToken)
	p = servertest.ReadProblem(t, resp)
	fields := map[string]bool{}
	if p.Errors != nil {
		for _, e := range *p.Errors {
			fields[e.Field] = true
		}
	}
	// The currency is the spec's enum, so request validation refuses it before the handler's own
	// checks run (the duplicate SKU): one problem at a time, each naming its field.
	if resp.StatusCode != 400 || !fields["items[5].currency"] {
		t.Fatalf("duplicate SKU and bad currency = %d %+v", resp.StatusCode, p)
	}
	body, _ = json.Marshal(map[string]any{"items": append(items[:3:3], items[4:6]...)})
	resp = postJSONAuth(t, env, "/brands/"+brand.String()+"/products/bulk", string(body), owner.AccessToken)
	if p = servertest.ReadProblem(t, resp); resp.StatusCode != 400 || p.Errors == nil || (*p.Errors)[0].Field != "items[4].sku" {
		t.Fatalf("duplicate SKU = %d %+v", resp.StatusCode, p)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d products after refused batches, want the 1 that was there", n)
	}

	// A good batch creates the new and replaces the existing, by SKU.
	st := api.Active
	ok, err := env.Client.BulkUpsertProductsWithResponse(ctx, brand, api.BulkUpsertProductsRequest{Items: []api.CreateProductRequest{
		{Sku: "N-1", Name: "New", PriceAmount: 10},
		{Sku: "KEEP-1", Name: "New name", PriceAmount: 7, Status: &st},
	}}, auth)
	if err != nil || ok.JSON200 == nil {
		t.Fatalf("bulk = %d %s", ok.StatusCode(), ok.Body)
	}
	res := ok.JSON200.Items
	if !res[0].Created || res[0].Index != 0 || res[1].Created || res[1].Id != existing.Id || res[1].Sku != "KEEP-1" {
		t.Errorf("results = %+v", res)
	}
	g, _ := env.Client.GetProductWithResponse(ctx, brand, existing.Id, auth)
	if g.JSON200.Name != "New name" || g.JSON200.PriceAmount != 7 || g.JSON200.Status != api.Active || g.JSON200.Version != 2 {
		t.Errorf("replaced product = %s", g.Body)
	}

	// 1,000 items fit the 8 MiB limit; 1,001 break the schema; 9 MiB is a 413.
	big := make([]api.CreateProductRequest, 1000)
	for i := range big {
		big[i] = api.CreateProductRequest{Sku: fmt.Sprintf("BIG-%d", i), Name: strings.Repeat("n", 200), PriceAmount: int64(i)}
	}
	r, err := env.Client.BulkUpsertProductsWithResponse(ctx, brand, api.BulkUpsertProductsRequest{Items: big}, auth)
	if err != nil || r.JSON200 == nil || len(r.JSON200.Items) != 1000 {
		t.Fatalf("1,000 items = %d", r.StatusCode())
	}
	r, err = env.Client.BulkUpsertProductsWithResponse(ctx, brand, api.BulkUpsertProductsRequest{Items: append(big, api.CreateProductRequest{Sku: "ONE-MORE", Name: "x"})}, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "1,001 items", r.HTTPResponse, r.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)
	huge := `{"items":[{"sku":"H","name":"` + strings.Repeat("x", 9<<20) + `","priceAmount":1}]}`
	resp = postJSONAuth(t, env, "/brands/"+brand.String()+"/products/bulk", huge, owner.AccessToken)
	if p := servertest.ReadProblem(t, resp); resp.StatusCode != 413 || p.Code != api.ProblemCodePayloadTooLarge {
		t.Errorf("9 MiB bulk = %d %+v", resp.StatusCode, p)
	}
	// The single-product route keeps the 1 MiB default.
	resp = postJSONAuth(t, env, "/brands/"+brand.String()+"/products", `{"sku":"H","name":"`+strings.Repeat("x", 2<<20)+`","priceAmount":1}`, owner.AccessToken)
	if p := servertest.ReadProblem(t, resp); resp.StatusCode != 413 {
		t.Errorf("2 MiB create = %d %+v", resp.StatusCode, p)
	}
}
