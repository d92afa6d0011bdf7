package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

func apiProduct(p db.Product) (api.Product, error) {
	attrs, err := decodeAttributes(p.Attributes)
	if err != nil {
		return api.Product{}, fmt.Errorf("product %s attributes: %w", p.ID, err)
	}
	return api.Product{
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
		Version:     p.Version,
		CreatedAt:   p.CreatedAt.UTC(),
		UpdatedAt:   p.UpdatedAt.UTC(),
	}, nil
}

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
	body := req.Body
	if bad := checkProduct("", body.Currency, body.Attributes); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	attrs, err := attributesJSON(body.Attributes)
	if err != nil {
		return nil, err
	}
	status := db.ProductStatusDraft
	if body.Status != nil {
		status = db.ProductStatus(*body.Status)
	}
	p, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Product, error) {
		p, err := q.ProductCreate(ctx, db.ProductCreateParams{
			BrandID:     req.BrandId,
			ID:          uuid.Must(uuid.NewV7()),
			Sku:         body.Sku,
			Name:        body.Name,
			Description: body.Description,
			PriceAmount: body.PriceAmount,
			Currency:    body.Currency,
			Status:      status,
			Attributes:  attrs,
			Tags:        tagsOrEmpty(body.Tags),
			Now:         h.d.Now(),
		})
		if err != nil {
			return p, err
		}
		return p, h.emit(ctx, q, req.BrandId, api.EventTypeProductCreated, p)
	})
	if kit.IsConflict(err, "products_sku_key") {
		return nil, skuTaken(body.Sku)
	}
	if err != nil {
		return nil, err
	}
	out, err := apiProduct(p)
	if err != nil {
		return nil, err
	}
	return api.CreateProduct201JSONResponse{Body: out, Headers: api.CreateProduct201ResponseHeaders{
		ETag:     respond.ETag(p.Version),
		Location: respond.Location("/brands/", p.BrandID.String(), "/products/", p.ID.String()),
	}}, nil
}

// productEvent is the event of typ about p.
func productEvent(typ api.EventType, p db.Product) (events.Event, error) {
	data, err := apiProduct(p)
	if err != nil {
		return events.Event{}, err
	}
	return events.Event{Type: typ, Aggregate: events.Aggregate{Type: api.EventAggregateTypeProduct, ID: p.ID, Version: p.Version}, Data: data}, nil
}

// emit writes the event of typ about p in q's transaction.
func (h *Handlers) emit(ctx context.Context, q *db.Queries, brand uuid.UUID, typ api.EventType, p db.Product) error {
	e, err := productEvent(typ, p)
	if err != nil {
		return err
	}
	return events.Emit(ctx, q, brand, h.d.Now(), e)
}

func skuTaken(sku string) error {
	return problem.Refuse(api.ProblemCodeSkuTaken, fmt.Sprintf("Another product of this brand has SKU %q.", sku))
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
	out, err := apiProduct(p)
	if err != nil {
		return nil, err
	}
	return productOK{Body: out, Headers: api.GetProduct200ResponseHeaders{ETag: respond.ETag(p.Version)}}, nil
}

// UpdateProduct changes the fields given, honouring If-Match.
func (h *Handlers) UpdateProduct(ctx context.Context, req api.UpdateProductRequestObject) (api.UpdateProductResponseObject, error) {
	body := req.Body
	if bad := checkProduct("", body.Currency, body.Attributes); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	params := db.ProductUpdateParams{
		BrandID:          req.BrandId,
		ID:               req.ProductId,
		Sku:              body.Sku,
		Name:             body.Name,
		PriceAmount:      body.PriceAmount,
		Currency:         body.Currency,
		Tags:             nil,
		ExpectedVersions: respond.IfMatch(req.Params.IfMatch),
		Now:              h.d.Now(),
	}
	if body.Description.IsSpecified() {
		if body.Description.IsNull() {
			params.ClearDescription = true
		} else {
			d := body.Description.MustGet()
			params.Description = &d
		}
	}
	if body.Status != nil {
		params.Status = db.NullProductStatus{ProductStatus: db.ProductStatus(*body.Status), Valid: true}
	}
	if body.Attributes != nil {
		attrs, err := attributesJSON(body.Attributes)
		if err != nil {
			return nil, err
		}
		params.Attributes = attrs
	}
	if body.Tags != nil {
		params.Tags = tagsOrEmpty(body.Tags)
	}
	p, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Product, error) {
		p, err := q.ProductUpdate(ctx, params)
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return p, kit.Stale(q.ProductGet(ctx, db.ProductGetParams{BrandID: req.BrandId, ID: req.ProductId}))
		}
		if err != nil {
			return p, err
		}
		return p, h.emit(ctx, q, req.BrandId, api.EventTypeProductUpdated, p)
	})
	if kit.IsConflict(err, "products_sku_key") {
		return nil, skuTaken(*body.Sku)
	}
	if err != nil {
		return nil, respond.Unmet(err, "No such product.", "product")
	}
	out, err := apiProduct(p)
	if err != nil {
		return nil, err
	}
	return api.UpdateProduct200JSONResponse{Body: out, Headers: api.UpdateProduct200ResponseHeaders{ETag: respond.ETag(p.Version)}}, nil
}

// errInUse refuses the delete of a product other rows (stock, orders) refer to.
var errInUse = problem.Refuse(api.ProblemCodeProductInUse, "The product was stocked or ordered; archive it instead (status: archived).")

// DeleteProduct deletes a product that nothing refers to, honouring If-Match.
func (h *Handlers) DeleteProduct(ctx context.Context, req api.DeleteProductRequestObject) (api.DeleteProductResponseObject, error) {
	_, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Product, error) {
		p, err := q.ProductDelete(ctx, db.ProductDeleteParams{BrandID: req.BrandId, ID: req.ProductId, ExpectedVersions: respond.IfMatch(req.Params.IfMatch)})
		if kit.IsReferenced(err) { // stocked or ordered
			return p, errInUse
		}
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return p, kit.Stale(q.ProductGet(ctx, db.ProductGetParams{BrandID: req.BrandId, ID: req.ProductId}))
		}
		if err != nil {
			return p, err
		}
		// The deletion is the product's next version: a receiver that keeps the highest version
		// it applied must not take it for the update it already has.
		e, err := productEvent(api.EventTypeProductDeleted, p)
		if err != nil {
			return p, err
		}
		e.Aggregate.Version++
		return p, events.Emit(ctx, q, req.BrandId, h.d.Now(), e)
	})
	if err != nil {
		return nil, respond.Unmet(err, "No such product.", "product")
	}
	return api.DeleteProduct204Response{}, nil
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
	f := productFilter{brand: req.BrandId}
	if p.Status != nil {
		f.status = db.NullProductStatus{ProductStatus: db.ProductStatus(*p.Status), Valid: true}
	}
	f.tag = p.Tag
	if p.Q != nil {
		pattern := "%" + escapeLike(*p.Q) + "%"
		f.pattern = &pattern
	}
	page, err := paging.List(h.d.Cursors, list, p.Cursor, p.Limit,
		func(pos *productPosition, limit int32) ([]db.Product, error) {
			return kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.Product, error) {
				return listProducts(ctx, q, sort, f, pos, limit)
			})
		},
		func(p db.Product) productPosition {
			if sort == api.SortName || sort == api.SortNameDesc {
				return productPosition{Name: p.Name, ID: p.ID}
			}
			return productPosition{Created: p.CreatedAt, ID: p.ID}
		},
		apiProduct)
	if err != nil {
		return nil, err
	}
	return productPageOK{Items: page.Items, NextCursor: page.Next}, nil
}

type productFilter struct {
	brand   uuid.UUID
	status  db.NullProductStatus
	tag     *string
	pattern *string
}

// listProducts runs the list query in the requested order (one query: see ProductList).
func listProducts(ctx context.Context, q *db.Queries, sort api.ListProductsParamsSort, f productFilter, pos *productPosition, limit int32) ([]db.Product, error) {
	params := db.ProductListParams{BrandID: f.brand, Status: f.status, Tag: f.tag, Pattern: f.pattern, Sort: string(sort), RowLimit: limit}
	if pos != nil {
		params.AfterID = &pos.ID
		if sort == api.SortName || sort == api.SortNameDesc {
			params.AfterName = &pos.Name
		} else {
			params.AfterCreated = &pos.Created
		}
	}
	return q.ProductList(ctx, params)
}

// escapeLike makes a search text match literally inside an ILIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

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
}

// CheckItem is what a bulk item (or an imported row) breaks beyond its schema, under prefix.
func CheckItem(prefix string, it api.CreateProductRequest) []api.FieldError {
	return checkProduct(prefix, it.Currency, it.Attributes)
}

// Upsert creates or updates items (distinct SKUs) by SKU in q's transaction, with their events:
// the bulk upsert's one path, which CSV imports take too. An optional field an item leaves out
// (nil) keeps the stored value on update. With skipUnchanged, an item equal to the stored
// product changes nothing (no version, no event) and has no row in the answer.
func Upsert(ctx context.Context, q *db.Queries, brand uuid.UUID, now time.Time, items []api.CreateProductRequest, skipUnchanged bool) ([]db.ProductBulkUpsertRow, error) {
	// Keyed by SKU (unique in the batch, checked by the caller): the statement looks an item up
	// by the SKU of the row it conflicts with.
	batch := make(map[string]bulkItem, len(items))
	for _, it := range items {
		batch[it.Sku] = bulkItem{
			ID: uuid.Must(uuid.NewV7()), Name: it.Name, Description: it.Description, PriceAmount: it.PriceAmount,
			Currency: it.Currency, Status: it.Status, Attributes: it.Attributes, Tags: it.Tags,
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
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		}); err != nil {
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
		return Upsert(ctx, q, req.BrandId, h.d.Now(), items, false)
	})
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
