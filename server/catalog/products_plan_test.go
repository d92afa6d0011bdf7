package catalog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestProductListUsesItsIndex: the product list is one query for its four orders (ProductList),
// whose CASEs the planner folds to the order asked for when the query is planned for its
// parameters, as kit.ListInBrand runs it. Each order, first page and next, must then walk its own
// index (no sort of the brand's products): the plans the four queries it replaced had. (A search
// adds only its own condition, the same as before; a brand this small is scanned for it.)
func TestProductListUsesItsIndex(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "plans")
	conn, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, b.Brand.String()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO products (brand_id, id, sku, name, price_amount, currency, status, attributes, tags, created_at, updated_at)
			SELECT $1, gen_random_uuid(), 'PLAN-' || i, md5(i::text), 100, 'USD',
			       (CASE WHEN i % 10 = 0 THEN 'archived' WHEN i % 3 = 0 THEN 'draft' ELSE 'active' END)::product_status,
			       '{}', CASE WHEN i % 7 = 0 THEN ARRAY['sale'] ELSE ARRAY[]::text[] END,
			       now() - make_interval(secs => i), now()
			FROM generate_series(1, 20000) AS i`, b.Brand)
		return err
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE products`); err != nil {
		t.Fatalf("analyze: %v", err)
	}

	when, name, id := time.Now().Add(-time.Hour), "8", uuid.New()
	active := db.NullProductStatus{ProductStatus: db.ProductStatusActive, Valid: true}
	sale := "sale"
	for _, c := range []struct {
		name   string
		params db.ProductListParams
		want   string // in the plan
	}{
		{"newest", db.ProductListParams{Sort: string(api.SortNewest)}, "Index Scan using products_created_idx"},
		{"newest, next page", db.ProductListParams{Sort: string(api.SortNewest), AfterCreated: &when, AfterID: &id}, "Index Scan using products_created_idx"},
		{"oldest", db.ProductListParams{Sort: string(api.SortOldest)}, "Index Scan Backward using products_created_idx"},
		{"oldest, next page", db.ProductListParams{Sort: string(api.SortOldest), AfterCreated: &when, AfterID: &id}, "Index Scan Backward using products_created_idx"},
		{"name, active", db.ProductListParams{Sort: string(api.SortName), Status: active}, "Index Scan using products_name_idx"},
		{"name, next page", db.ProductListParams{Sort: string(api.SortName), AfterName: &name, AfterID: &id}, "Index Scan using products_name_idx"},
		{"-name, next page", db.ProductListParams{Sort: string(api.SortNameDesc), AfterName: &name, AfterID: &id}, "Index Scan Backward using products_name_idx"},
		{"newest, tag", db.ProductListParams{Sort: string(api.SortNewest), Tag: &sale}, "Index Scan using products_created_idx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := env.PlanOf(t, b.Brand, func(ctx context.Context, tx db.DBTX) error {
				params := c.params
				params.BrandID, params.RowLimit = b.Brand, 21
				_, err := db.New(tx).ProductList(ctx, params)
				return err
			})
			if !strings.Contains(plan, c.want) {
				t.Errorf("plan without %q:\n%s", c.want, plan)
			}
			if strings.Contains(plan, "Seq Scan on products") {
				t.Errorf("sequential scan of the products:\n%s", plan)
			}
			if strings.Contains(plan, "Sort") {
				t.Errorf("the brand's products are sorted, not walked in index order:\n%s", plan)
			}
		})
	}
}
