package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

func apiProduct(p db.Product) (api.Product, error) { return apiProductSummed(p, nil) }

// apiProductSummed is apiProduct with a parent's variant count and price range (sum nil: not a
// parent).
func apiProductSummed(p db.Product, sum *summary) (api.Product, error) {
	attrs, err := decodeAttributes(p.Attributes)
	if err != nil {
		return api.Product{}, fmt.Errorf("product %s attributes: %w", p.ID, err)
	}
	out := api.Product{
		Id:          p.ID,
		BrandId:     p.BrandID,
		Sku:         p.Sku,
		Name:        p.Name,
		Description: p.Description,
		PriceAmount: p.PriceAmount,
		Currency:    p.Currency,
		Status:      api.ProductStatus(p.Status),
		Attributes:  attrs,
		Tags:        p.Tags,
		ParentId:    p.ParentID,
		Barcode:     p.Barcode,
		WeightGrams: p.WeightGrams,
		Version:     p.Version,
		// Present when true only: a product that does not allow backorders reads as before.
		AllowBackorder: trueOrNil(p.AllowBackorder),
		CreatedAt:      p.CreatedAt.UTC(),
		UpdatedAt:      p.UpdatedAt.UTC(),
	}
	// The variant fields are stored as the API writes them; "[]" (none) stays out of the answer.
	// Each is decoded into a value of its own, so that out itself stays off the heap.
	if out.Options, err = storedField[api.ProductOptions](p.ID, p.Options); err != nil {
		return api.Product{}, err
	}
	if out.OptionValues, err = storedField[api.OptionValues](p.ID, p.OptionValues); err != nil {
		return api.Product{}, err
	}
	if out.Images, err = storedField[api.ProductImages](p.ID, p.Images); err != nil {
		return api.Product{}, err
	}
	if sum != nil {
		n := sum.count
		out.VariantCount = &n
		if n > 0 {
			out.PriceRange = &api.PriceRange{MinAmount: sum.min, MaxAmount: sum.max, Currency: p.Currency}
		}
	}
	return out, nil
}

// storedField decodes a stored variant field, nil when it holds none.
func storedField[T any](id uuid.UUID, raw []byte) (*T, error) {
	if !holds(raw) {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("product %s: %w", id, err)
	}
	return v, nil
}

// holds says whether a stored variant field (options, option values, images: a JSON array) holds
// anything: "[]" is none.
func holds(raw []byte) bool { return len(raw) > 2 }

// isParent: the product declares options.
func isParent(p *db.Product) bool { return holds(p.Options) }

// withSummaries pairs products read with the summaries of the parents among them: one more read
// when there are parents, none otherwise (a catalog without variants pays nothing).
func (h *Handlers) withSummaries(ctx context.Context, brand uuid.UUID, rows []db.Product) ([]productRow, error) {
	var parents []uuid.UUID
	for i := range rows {
		if isParent(&rows[i]) {
			parents = append(parents, rows[i].ID)
		}
	}
	var sums map[uuid.UUID]summary
	if len(parents) > 0 {
		var err error
		if sums, err = kit.ReadInBrand(ctx, h.d, brand, func(q *db.Queries) (map[uuid.UUID]summary, error) {
			return summaries(ctx, q, brand, parents)
		}); err != nil {
			return nil, err
		}
	}
	out := make([]productRow, len(rows))
	for i := range rows {
		out[i].Product = &rows[i]
		if isParent(&rows[i]) {
			s := sums[rows[i].ID]
			out[i].sum = &s
		}
	}
	return out, nil
}

// productRow is a product read with its summary, as GetProduct and ListProducts answer it: the
// answers are written from the row itself (productjson.go), which stays where the query put it.
// Copying it into an api.Product (and the row into a pair) cost a page of twenty 17 KB more for
// the collector, and decoding its attributes into a map three allocations a product, all to be
// read once.
type productRow struct {
	*db.Product
	sum *summary
}

// decoded is the row's api.Product.
func (r productRow) decoded() (api.Product, error) { return apiProductSummed(*r.Product, r.sum) }

// checkProduct applies the rule OpenAPI 3.0 cannot state in a schema (the spec's
// `x-property-names` on Attributes says it): attribute names of 1 to 50 characters without
// surrounding white space. The currency is the spec's enum, checked by request validation. It
// returns the bad fields under prefix ("", or "items[3].").
func checkProduct(prefix string, _ *string, attrs *api.Attributes) []api.FieldError {
	var bad []api.FieldError
	if attrs != nil {
		for name := range *attrs {
			if n := len([]rune(name)); n < 1 || n > 50 || strings.TrimSpace(name) != name {
				bad = append(bad, api.FieldError{Field: prefix + "attributes", Message: fmt.Sprintf("attribute name %q must be 1 to 50 characters without surrounding spaces", name)})
			}
		}
	}
	return bad
}

func attributesJSON(attrs *api.Attributes) ([]byte, error) {
	if attrs == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(*attrs)
}

func tagsOrEmpty(tags *api.Tags) []string {
	if tags == nil {
		return []string{}
	}
	return *tags
}

// CreateProduct adds a product to the brand's catalog.
func (h *Handlers) CreateProduct(ctx context.Context, req api.CreateProductRequestObject) (api.CreateProductResponseObject, error) {
	b := req.Body
	it := Item{
		Sku: &b.Sku, Name: &b.Name, PriceAmount: &b.PriceAmount, Currency: b.Currency, Status: b.Status,
		Attributes: b.Attributes, Tags: b.Tags, Images: b.Images, AllowBackorder: b.AllowBackorder,
	}
	if b.Description != nil {
		it.Description = nullable.NewNullableWithValue(*b.Description)
	}
	if b.Options != nil {
		opts := make([]api.ProductOptionInput, len(*b.Options))
		for i, o := range *b.Options {
			opts[i] = api.ProductOptionInput{Name: o.Name, Values: o.Values}
		}
		it.Options = &opts
	}
	if b.Barcode != nil {
		it.Barcode = nullable.NewNullableWithValue(*b.Barcode)
	}
	if b.WeightGrams != nil {
		it.WeightGrams = nullable.NewNullableWithValue(*b.WeightGrams)
	}
	saved, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (Saved, error) {
		return h.Save(ctx, q, req.BrandId, Target{Mode: Create}, it)
	})
	if err != nil {
		return nil, err
	}
	out, err := apiProductSummed(saved.Product, saved.Summary)
	if err != nil {
		return nil, err
	}
	p := saved.Product
	return api.CreateProduct201JSONResponse{Body: out, Headers: api.CreateProduct201ResponseHeaders{
		ETag:     respond.ETag(p.Version),
		Location: respond.Location("/brands/", p.BrandID.String(), "/products/", p.ID.String()),
	}}, nil
}

// productEvent is the event of typ about p (with sum when p is a parent).
func productEvent(typ api.EventType, p db.Product, sum *summary) (events.Event, error) {
	data, err := apiProductSummed(p, sum)
	if err != nil {
		return events.Event{}, err
	}
	return events.Event{Type: typ, Aggregate: events.Aggregate{Type: api.EventAggregateTypeProduct, ID: p.ID, Version: p.Version}, Data: data}, nil
}

// emit writes the event of typ about p in q's transaction.
func (h *Handlers) emit(ctx context.Context, q *db.Queries, brand uuid.UUID, typ api.EventType, p db.Product, sum *summary) error {
	e, err := productEvent(typ, p, sum)
	if err != nil {
		return err
	}
	return events.Emit(ctx, q, brand, h.d.Now(), e)
}

func skuTaken(sku string) error {
	return problem.Refuse(api.ProblemCodeSkuTaken, fmt.Sprintf("Another product or variant of this brand has SKU %q.", sku))
}

// GetProduct answers one product with its version as ETag.
func (h *Handlers) GetProduct(ctx context.Context, req api.GetProductRequestObject) (api.GetProductResponseObject, error) {
	p, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Product, error) {
		p, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: req.BrandId, ID: req.ProductId})
		return p, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such product.")
	}
	if err != nil {
		return nil, err
	}
	rows, err := h.withSummaries(ctx, req.BrandId, []db.Product{p})
	if err != nil {
		return nil, err
	}
	return productOK{row: rows[0], etag: respond.ETag(p.Version)}, nil
}

// UpdateProduct changes the fields given, honouring If-Match.
func (h *Handlers) UpdateProduct(ctx context.Context, req api.UpdateProductRequestObject) (api.UpdateProductResponseObject, error) {
	b := req.Body
	it := Item{
		Sku: b.Sku, Name: b.Name, Description: b.Description, PriceAmount: b.PriceAmount, Currency: b.Currency,
		Status: b.Status, Attributes: b.Attributes, Tags: b.Tags, Options: b.Options, Images: b.Images,
		Barcode: b.Barcode, WeightGrams: b.WeightGrams, AllowBackorder: b.AllowBackorder,
	}
	saved, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (Saved, error) {
		return h.Save(ctx, q, req.BrandId, Target{Mode: Update, ID: req.ProductId, ExpectedVersions: respond.IfMatch(req.Params.IfMatch)}, it)
	})
	if err != nil {
		return nil, respond.Unmet(err, "No such product.", "product")
	}
	out, err := apiProductSummed(saved.Product, saved.Summary)
	if err != nil {
		return nil, err
	}
	return api.UpdateProduct200JSONResponse{Body: out, Headers: api.UpdateProduct200ResponseHeaders{ETag: respond.ETag(saved.Product.Version)}}, nil
}

// errInUse refuses the delete of a product other rows (stock, orders) refer to.
var errInUse = problem.Refuse(api.ProblemCodeProductInUse, "The product was stocked or ordered, or has variants; archive it instead (status: archived), or delete its variants first.")

// DeleteProduct deletes a product that nothing refers to, honouring If-Match.
func (h *Handlers) DeleteProduct(ctx context.Context, req api.DeleteProductRequestObject) (api.DeleteProductResponseObject, error) {
	err := h.deleteProduct(ctx, req.BrandId, req.ProductId, nil, req.Params.IfMatch)
	if err != nil {
		return nil, respond.Unmet(err, "No such product.", "product")
	}
	return api.DeleteProduct204Response{}, nil
}

// deleteProduct deletes a product (a variant of parent, when parent is set) that nothing refers
// to: its stock, order lines and variants refuse the delete by their foreign keys.
func (h *Handlers) deleteProduct(ctx context.Context, brand, id uuid.UUID, parent *uuid.UUID, ifMatch *string) error {
	_, err := kit.InBrand(ctx, h.d, brand, func(q *db.Queries) (db.Product, error) {
		if parent != nil {
			// Another product's variant (or a product) is not this product's variant.
			if _, err := q.VariantGet(ctx, db.VariantGetParams{BrandID: brand, ParentID: parent, ID: id}); err != nil {
				return db.Product{}, kit.DBError(err)
			}
		}
		p, err := q.ProductDelete(ctx, db.ProductDeleteParams{BrandID: brand, ID: id, ExpectedVersions: respond.IfMatch(ifMatch)})
		if kit.IsReferenced(err) { // stocked, ordered, or a parent with variants
			return p, errInUse
		}
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return p, kit.Stale(q.ProductGet(ctx, db.ProductGetParams{BrandID: brand, ID: id}))
		}
		if err != nil {
			return p, err
		}
		// The deletion is the product's next version: a receiver that keeps the highest version
		// it applied must not take it for the update it already has.
		var sum *summary
		if isParent(&p) {
			sum = &summary{}
		}
		e, err := productEvent(api.EventTypeProductDeleted, p, sum)
		if err != nil {
			return p, err
		}
		e.Aggregate.Version++
		return p, events.Emit(ctx, q, brand, h.d.Now(), e)
	})
	return err
}

// productPosition is the keyset of the product list in any of its orders.
type productPosition struct {
	Created time.Time `json:"c,omitzero"`
	Name    string    `json:"n,omitempty"`
	ID      uuid.UUID `json:"i"`
}

// ListProducts pages through the brand's products in the requested order.
func (h *Handlers) ListProducts(ctx context.Context, req api.ListProductsRequestObject) (api.ListProductsResponseObject, error) {
	p := req.Params
	sort := api.SortNewest
	if p.Sort != nil {
		sort = *p.Sort
	}
	// The cursor is bound to the order it was made for: a position by name means nothing to
	// the list by date.
	list := "products/" + req.BrandId.String() + "/" + string(sort)
	f := productFilter{brand: req.BrandId, parent: p.ParentId}
	if p.ParentId != nil {
		list += "/" + p.ParentId.String()
	}
	if p.Status != nil {
		f.status = db.NullProductStatus{ProductStatus: db.ProductStatus(*p.Status), Valid: true}
	}
	f.tag = p.Tag
	if p.Q != nil {
		pattern := "%" + escapeLike(*p.Q) + "%"
		f.pattern = &pattern
	}
	page, err := paging.List(h.d.Cursors, list, p.Cursor, p.Limit,
		func(pos *productPosition, limit int32) ([]productRow, error) {
			rows, err := kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.Product, error) {
				return listProducts(ctx, q, sort, f, pos, limit)
			})
			if err != nil {
				return nil, err
			}
			return h.withSummaries(ctx, req.BrandId, rows)
		},
		func(p productRow) productPosition {
			if sort == api.SortName || sort == api.SortNameDesc {
				return productPosition{Name: p.Name, ID: p.ID}
			}
			return productPosition{Created: p.CreatedAt, ID: p.ID}
		},
		func(r productRow) (productRow, error) { return r, nil })
	if err != nil {
		return nil, err
	}
	return productPageOK{items: page.Items, next: page.Next}, nil
}

type productFilter struct {
	brand   uuid.UUID
	parent  *uuid.UUID
	status  db.NullProductStatus
	tag     *string
	pattern *string
}

// listProducts runs the list query in the requested order (one query: see ProductList), or its
// search twin when there is a pattern (ProductSearch: the trigram indexes under row-level security).
func listProducts(ctx context.Context, q *db.Queries, sort api.ListProductsParamsSort, f productFilter, pos *productPosition, limit int32) ([]db.Product, error) {
	params := db.ProductListParams{BrandID: f.brand, ParentID: f.parent, Status: f.status, Tag: f.tag, Sort: string(sort), RowLimit: limit}
	if pos != nil {
		params.AfterID = &pos.ID
		if sort == api.SortName || sort == api.SortNameDesc {
			params.AfterName = &pos.Name
		} else {
			params.AfterCreated = &pos.Created
		}
	}
	if f.pattern != nil {
		return q.ProductSearch(ctx, db.ProductSearchParams{BrandID: params.BrandID, Pattern: *f.pattern, ParentID: params.ParentID, Status: params.Status,
			Tag: params.Tag, Sort: params.Sort, AfterCreated: params.AfterCreated, AfterID: params.AfterID,
			AfterName: params.AfterName, RowLimit: params.RowLimit})
	}
	return q.ProductList(ctx, params)
}

// escapeLike makes a search text match literally inside an ILIKE pattern.
func escapeLike(s string) string { return likeEscaper.Replace(s) }

// likeEscaper is built once: a Replacer is safe for concurrent use, and building one cost every
// search 2 µs and 6.7 KB.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// bulkItem is one product of a bulk upsert as the SQL statement reads it, under the API's field
// names. An optional field the client left out stays out of the JSON (omitempty on a nil pointer):
// the statement tells "left out" (keep the stored value on update) from "given" by the key's
// presence.
type bulkItem struct {
	ID          uuid.UUID          `json:"id"`
	Name        string             `json:"name"`
	Description *string            `json:"description,omitempty"`
	PriceAmount int64              `json:"priceAmount"`
	Currency    *string            `json:"currency,omitempty"`
	Status      *api.ProductStatus `json:"status,omitempty"`
	Attributes  *api.Attributes    `json:"attributes,omitempty"`
	Tags        *api.Tags          `json:"tags,omitempty"`
	Images      *api.ProductImages `json:"images,omitempty"`
	Barcode     *string            `json:"barcode,omitempty"`
	WeightGrams *int64             `json:"weightGrams,omitempty"`
	// AllowBackorder left out keeps the stored flag on update (false on create).
	AllowBackorder *bool `json:"allowBackorder,omitempty"`
}

// CheckItem is what a bulk item (or an imported row) breaks beyond its schema, under prefix:
// attribute names, and the rules Save checks before it writes (a barcode's check digit, image
// URLs, option names and values without surrounding white space).
func CheckItem(prefix string, it api.CreateProductRequest) []api.FieldError {
	var extra Item
	extra.Currency, extra.Attributes, extra.Images = it.Currency, it.Attributes, it.Images
	setOptional(&extra, nil, it.Barcode, nil)
	if it.Options != nil {
		opts := make([]api.ProductOptionInput, len(*it.Options))
		for i, o := range *it.Options {
			opts[i] = api.ProductOptionInput{Name: o.Name, Values: o.Values}
		}
		extra.Options = &opts
	}
	bad := checkItem(extra)
	for i := range bad {
		bad[i].Field = prefix + bad[i].Field
	}
	return bad
}

// BulkUpsert creates or updates items (distinct SKUs) by SKU in q's transaction, with their events:
// the bulk upsert's one path, which CSV imports take too. An optional field an item leaves out
// (nil) keeps the stored value on update. With skipUnchanged, an item equal to the stored
// product changes nothing (no version, no event) and has no row in the answer.
func BulkUpsert(ctx context.Context, q *db.Queries, brand uuid.UUID, now time.Time, items []api.CreateProductRequest, skipUnchanged bool) ([]db.ProductBulkUpsertRow, error) {
	// Keyed by SKU (unique in the batch, checked by the caller): the statement looks an item up
	// by the SKU of the row it conflicts with.
	batch := make(map[string]bulkItem, len(items))
	for _, it := range items {
		batch[it.Sku] = bulkItem{
			ID: uuid.Must(uuid.NewV7()), Name: it.Name, Description: it.Description, PriceAmount: it.PriceAmount,
			Currency: it.Currency, Status: it.Status, Attributes: it.Attributes, Tags: it.Tags,
			Images: it.Images, Barcode: it.Barcode, WeightGrams: it.WeightGrams, AllowBackorder: it.AllowBackorder,
		}
	}
	payload, err := json.Marshal(batch)
	if err != nil {
		return nil, err
	}
	rows, err := q.ProductBulkUpsert(ctx, db.ProductBulkUpsertParams{BrandID: brand, Items: payload, Now: now, SkipUnchanged: skipUnchanged})
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	es := make([]events.Event, len(rows))
	for i, r := range rows {
		typ := api.EventTypeProductUpdated
		if r.Created {
			typ = api.EventTypeProductCreated
		}
		if es[i], err = productEvent(typ, db.Product{
			BrandID: r.BrandID, ID: r.ID, Sku: r.Sku, Name: r.Name, Description: r.Description, PriceAmount: r.PriceAmount,
			Currency: r.Currency, Status: r.Status, Attributes: r.Attributes, Tags: r.Tags, Version: r.Version,
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ParentID: r.ParentID, Options: r.Options,
			OptionValues: r.OptionValues, Images: r.Images, Barcode: r.Barcode, WeightGrams: r.WeightGrams,
			AllowBackorder: r.AllowBackorder,
		}, nil); err != nil {
			return rows, err
		}
	}
	return rows, events.Emit(ctx, q, brand, now, es...)
}

// BulkUpsertProducts creates or updates up to 1,000 products by SKU, all or nothing.
func (h *Handlers) BulkUpsertProducts(ctx context.Context, req api.BulkUpsertProductsRequestObject) (api.BulkUpsertProductsResponseObject, error) {
	items := req.Body.Items
	var bad []api.FieldError
	first := map[string]int{}
	for i, it := range items {
		prefix := fmt.Sprintf("items[%d].", i)
		bad = append(bad, checkProduct(prefix, it.Currency, it.Attributes)...)
		if it.Options != nil {
			bad = append(bad, api.FieldError{Field: prefix + "options", Message: "options are declared with PATCH on the product, not in a bulk upsert"})
		}
		var extra Item
		extra.Images = it.Images
		setOptional(&extra, nil, it.Barcode, nil)
		for _, e := range checkItem(extra) {
			e.Field = prefix + e.Field
			bad = append(bad, e)
		}
		if j, seen := first[it.Sku]; seen {
			bad = append(bad, api.FieldError{Field: prefix + "sku", Message: fmt.Sprintf("repeats the SKU of items[%d]", j)})
			continue
		}
		first[it.Sku] = i
	}
	if len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	rows, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.ProductBulkUpsertRow, error) {
		return BulkUpsert(ctx, q, req.BrandId, h.d.Now(), items, false)
	})
	if kit.IsConflict(err, "products_barcode_key") {
		return nil, problem.Refuse(api.ProblemCodeBarcodeTaken, "An item's barcode is another product's: nothing was written.")
	}
	if err != nil {
		return nil, err
	}
	bySku := make(map[string]db.ProductBulkUpsertRow, len(rows))
	for _, r := range rows {
		bySku[r.Sku] = r
	}
	out := api.BulkUpsertResult{Items: make([]api.BulkItemResult, len(items))}
	for i, it := range items {
		r, ok := bySku[it.Sku]
		if !ok {
			return nil, fmt.Errorf("bulk upsert: no row came back for SKU %q", it.Sku)
		}
		out.Items[i] = api.BulkItemResult{Index: i, Sku: it.Sku, Id: r.ID, Created: r.Created}
	}
	return api.BulkUpsertProducts200JSONResponse(out), nil
}

// trueOrNil is &true for true, nil (left out of the answer) for false.
func trueOrNil(b bool) *bool {
	if !b {
		return nil
	}
	return &b
}
