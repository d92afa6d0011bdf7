package catalog_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestSearchFollowsProductWrites: `q` reads names and SKUs from product_search_terms, which
// triggers on products keep (schema/000028). Every write that gives a product a name or a SKU
// (create, update, bulk upsert, variant) shows in the next search, a delete takes the product's
// row with it, and the table holds exactly the brand's products' names and SKUs throughout.
// The subtests run in order: each builds on the writes before it.
func TestSearchFollowsProductWrites(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "searchwrites")
	other := servertest.NewStockBrand(t, env, "searchwritesother")

	search := func(t *testing.T, brand servertest.StockBrand, q string) []string {
		t.Helper()
		resp, err := env.Client.ListProductsWithResponse(ctx, brand.Brand, &api.ListProductsParams{Q: &q}, brand.Auth)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("search %q: %v %d %s", q, err, resp.StatusCode(), resp.Body)
		}
		var skus []string
		for _, p := range resp.JSON200.Items {
			skus = append(skus, p.Sku)
		}
		slices.Sort(skus)
		return skus
	}
	want := func(t *testing.T, brand servertest.StockBrand, q string, skus ...string) {
		t.Helper()
		if got := search(t, brand, q); !slices.Equal(got, skus) {
			t.Errorf("q=%s found %v, want %v", q, got, skus)
		}
	}
	owner, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = owner.Close(ctx) }()
	// inSync compares the table with the brand's products, as their owner (in the brand's scope:
	// the owner is under the brands' policies too).
	inSync := func(t *testing.T, brand uuid.UUID) {
		t.Helper()
		var products, terms, differ int
		err := pgx.BeginFunc(ctx, owner, func(tx pgx.Tx) error {
			if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `
				SELECT (SELECT count(*) FROM products WHERE brand_id = $1),
				       (SELECT count(*) FROM product_search_terms WHERE brand_id = $1),
				       (SELECT count(*) FROM products p FULL JOIN (SELECT * FROM product_search_terms WHERE brand_id = $1) s
				          ON s.brand_id = p.brand_id AND s.id = p.id
				        WHERE p.id IS NULL OR s.id IS NULL OR s.name <> p.name OR s.sku <> p.sku)`, brand).
				Scan(&products, &terms, &differ)
		})
		if err != nil {
			t.Fatal(err)
		}
		if products != terms || differ != 0 {
			t.Errorf("brand %s: %d products, %d search rows, %d differ", brand, products, terms, differ)
		}
	}
	update := func(t *testing.T, id uuid.UUID, body api.UpdateProductRequest) {
		t.Helper()
		resp, err := env.Client.UpdateProductWithResponse(ctx, b.Brand, id, nil, body, b.Auth)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("update: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
	}

	p := b.CreateProduct(t, api.CreateProductRequest{Sku: "QXA-1", Name: "Quokka lamp", PriceAmount: 100})
	other.CreateProduct(t, api.CreateProductRequest{Sku: "QXA-1", Name: "Quokka lamp", PriceAmount: 100})

	t.Run("created", func(t *testing.T) {
		want(t, b, "quokka", "QXA-1")
		want(t, b, "qxa-1", "QXA-1")
		inSync(t, b.Brand)
	})
	t.Run("renamed", func(t *testing.T) {
		update(t, p.Id, api.UpdateProductRequest{Name: ptr("Wombat lamp")})
		want(t, b, "quokka")
		want(t, b, "wombat", "QXA-1")
		inSync(t, b.Brand)
	})
	t.Run("new SKU", func(t *testing.T) {
		update(t, p.Id, api.UpdateProductRequest{Sku: ptr("WBT-7")})
		want(t, b, "qxa-1")
		want(t, b, "wbt-7", "WBT-7")
		inSync(t, b.Brand)
	})
	t.Run("other fields leave the row alone", func(t *testing.T) {
		update(t, p.Id, api.UpdateProductRequest{PriceAmount: ptr(int64(250))})
		want(t, b, "wombat", "WBT-7")
		inSync(t, b.Brand)
	})
	// A search ignores the case of any letter, not only ASCII's, and _ in a term is literal.
	t.Run("case of any letter", func(t *testing.T) {
		crm := b.CreateProduct(t, api.CreateProductRequest{Sku: "Cr-Bru_1", Name: "Crème BRÛLÉE dish", PriceAmount: 100})
		for _, q := range []string{"brûlée", "CRÈME", "ème brû", "cr-bru_1", "CR-BRU_1"} {
			want(t, b, q, "Cr-Bru_1")
		}
		want(t, b, "cr-bru-1") // _ is literal in a term, not any character
		want(t, b, "creme")
		resp, err := env.Client.GetProductWithResponse(ctx, b.Brand, crm.Id, b.Auth)
		if err != nil || resp.JSON200 == nil || resp.JSON200.Name != "Crème BRÛLÉE dish" || resp.JSON200.Sku != "Cr-Bru_1" {
			t.Errorf("the product as stored: %v %+v", err, resp.JSON200)
		}
		inSync(t, b.Brand)
	})
	t.Run("bulk upsert", func(t *testing.T) {
		resp, err := env.Client.BulkUpsertProductsWithResponse(ctx, b.Brand, api.BulkUpsertProductsRequest{Items: []api.CreateProductRequest{
			{Sku: "WBT-7", Name: "Numbat lamp", PriceAmount: 100},
			{Sku: "NBT-2", Name: "Numbat shade", PriceAmount: 100},
		}}, b.Auth)
		if err != nil || resp.JSON200 == nil {
			t.Fatalf("bulk: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		want(t, b, "numbat", "NBT-2", "WBT-7")
		want(t, b, "wombat")
		inSync(t, b.Brand)
	})
	t.Run("variant", func(t *testing.T) {
		opts := api.ProductOptions{{Name: "Size", Values: []string{"S", "M"}}}
		parent := b.CreateProduct(t, api.CreateProductRequest{Sku: "NB-TEE", Name: "Numbat tee", PriceAmount: 100, Options: &opts})
		resp, err := env.Client.CreateVariantWithResponse(ctx, b.Brand, parent.Id, api.CreateVariantRequest{
			Sku: "NB-TEE-S", PriceAmount: 100, OptionValues: api.OptionValues{{Name: "Size", Value: "S"}},
		}, b.Auth)
		if err != nil || resp.JSON201 == nil {
			t.Fatalf("variant: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		// The list shows top-level products; the variant is found among its parent's.
		want(t, b, "numbat", "NB-TEE", "NBT-2", "WBT-7")
		q := "nb-tee-s"
		vs, err := env.Client.ListProductsWithResponse(ctx, b.Brand, &api.ListProductsParams{Q: &q, ParentId: &parent.Id}, b.Auth)
		if err != nil || vs.JSON200 == nil || len(vs.JSON200.Items) != 1 || vs.JSON200.Items[0].Id != resp.JSON201.Id {
			t.Errorf("variant search: %v %d %s", err, vs.StatusCode(), vs.Body)
		}
		inSync(t, b.Brand)
	})
	t.Run("deleted", func(t *testing.T) {
		anyVersion := "*"
		resp, err := env.Client.DeleteProductWithResponse(ctx, b.Brand, p.Id, &api.DeleteProductParams{IfMatch: &anyVersion}, b.Auth)
		if err != nil || resp.StatusCode() != 204 {
			t.Fatalf("delete: %v %d %s", err, resp.StatusCode(), resp.Body)
		}
		want(t, b, "numbat", "NB-TEE", "NBT-2")
		var left int
		if err := owner.QueryRow(ctx, `SELECT count(*) FROM product_search_terms WHERE id = $1`, p.Id).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("the deleted product's search row is still there (%d)", left)
		}
		inSync(t, b.Brand)
	})
	// Renames race: whichever commits last is the product's name and its search row's, never a
	// mix (the trigger writes under the product's row lock).
	t.Run("concurrent renames", func(t *testing.T) {
		target := b.CreateProduct(t, api.CreateProductRequest{Sku: "RACE-1", Name: "Race lamp", PriceAmount: 100})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				anyVersion := "*"
				resp, err := env.Client.UpdateProductWithResponse(ctx, b.Brand, target.Id, &api.UpdateProductParams{IfMatch: &anyVersion},
					api.UpdateProductRequest{Name: ptr(fmt.Sprintf("Race lamp %d", i)), Sku: ptr(fmt.Sprintf("RACE-%d", 100+i))}, b.Auth)
				if err != nil || resp.JSON200 == nil {
					t.Errorf("rename %d: %v %d %s", i, err, resp.StatusCode(), resp.Body)
				}
			})
		}
		wg.Wait()
		inSync(t, b.Brand)
		got, err := env.Client.GetProductWithResponse(ctx, b.Brand, target.Id, b.Auth)
		if err != nil || got.JSON200 == nil {
			t.Fatalf("get: %v", err)
		}
		want(t, b, got.JSON200.Sku, got.JSON200.Sku)
	})
	t.Run("other brand untouched", func(t *testing.T) {
		want(t, other, "quokka", "QXA-1")
		inSync(t, other.Brand)
	})
}
