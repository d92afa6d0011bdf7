package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// A variant is a product with a parent (schema 000017): these routes are the product routes
// scoped to one parent, so that every stock, reservation and order route keeps taking the one
// productId it always took.

var errNoVariant = problem.Refuse(api.ProblemCodeNotFound, "No such variant of this product.")

// CreateVariant adds a variant to a product that declares options.
func (h *Handlers) CreateVariant(ctx context.Context, req api.CreateVariantRequestObject) (api.CreateVariantResponseObject, error) {
	b := req.Body
	it := Item{
		Sku: &b.Sku, Name: b.Name, PriceAmount: &b.PriceAmount, Status: b.Status, Attributes: b.Attributes,
		Tags: b.Tags, Images: b.Images, OptionValues: &b.OptionValues, AllowBackorder: b.AllowBackorder,
	}
	setOptional(&it, b.Description, b.Barcode, b.WeightGrams)
	saved, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (Saved, error) {
		return h.Save(ctx, q, req.BrandId, Target{Mode: Create, Parent: &req.ProductId}, it)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such product.")
	}
	if err != nil {
		return nil, err
	}
	out, err := apiProduct(saved.Product)
	if err != nil {
		return nil, err
	}
	p := saved.Product
	return api.CreateVariant201JSONResponse{Body: out, Headers: api.CreateVariant201ResponseHeaders{
		ETag:     respond.ETag(p.Version),
		Location: respond.Location("/brands/", p.BrandID.String(), "/products/", req.ProductId.String(), "/variants/", p.ID.String()),
	}}, nil
}

// GetVariant answers one variant of a product with its version as ETag.
func (h *Handlers) GetVariant(ctx context.Context, req api.GetVariantRequestObject) (api.GetVariantResponseObject, error) {
	p, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Product, error) {
		p, err := q.VariantGet(ctx, db.VariantGetParams{BrandID: req.BrandId, ParentID: &req.ProductId, ID: req.VariantId})
		return p, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, errNoVariant
	}
	if err != nil {
		return nil, err
	}
	out, err := apiProduct(p)
	if err != nil {
		return nil, err
	}
	return api.GetVariant200JSONResponse{Body: out, Headers: api.GetVariant200ResponseHeaders{ETag: respond.ETag(p.Version)}}, nil
}

// UpdateVariant changes the fields given, honouring If-Match.
func (h *Handlers) UpdateVariant(ctx context.Context, req api.UpdateVariantRequestObject) (api.UpdateVariantResponseObject, error) {
	b := req.Body
	it := Item{
		Sku: b.Sku, Name: b.Name, Description: b.Description, PriceAmount: b.PriceAmount, Status: b.Status,
		Attributes: b.Attributes, Tags: b.Tags, Images: b.Images, OptionValues: b.OptionValues,
		Barcode: b.Barcode, WeightGrams: b.WeightGrams, AllowBackorder: b.AllowBackorder,
	}
	saved, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (Saved, error) {
		return h.Save(ctx, q, req.BrandId, Target{Mode: Update, ID: req.VariantId, Parent: &req.ProductId, ExpectedVersions: respond.IfMatch(req.Params.IfMatch)}, it)
	})
	if err != nil {
		return nil, respond.Unmet(err, "No such variant of this product.", "variant")
	}
	out, err := apiProduct(saved.Product)
	if err != nil {
		return nil, err
	}
	return api.UpdateVariant200JSONResponse{Body: out, Headers: api.UpdateVariant200ResponseHeaders{ETag: respond.ETag(saved.Product.Version)}}, nil
}

// DeleteVariant deletes a variant that was never stocked or ordered, honouring If-Match.
func (h *Handlers) DeleteVariant(ctx context.Context, req api.DeleteVariantRequestObject) (api.DeleteVariantResponseObject, error) {
	if err := h.deleteProduct(ctx, req.BrandId, req.VariantId, &req.ProductId, req.Params.IfMatch); err != nil {
		return nil, respond.Unmet(err, "No such variant of this product.", "variant")
	}
	return api.DeleteVariant204Response{}, nil
}

// variantPosition is the keyset of a product's variants, oldest first.
type variantPosition struct {
	Created time.Time `json:"c"`
	ID      uuid.UUID `json:"i"`
}

// ListVariants pages through a product's variants, oldest first.
func (h *Handlers) ListVariants(ctx context.Context, req api.ListVariantsRequestObject) (api.ListVariantsResponseObject, error) {
	list := "variants/" + req.BrandId.String() + "/" + req.ProductId.String()
	page, err := paging.List(h.d.Cursors, list, req.Params.Cursor, req.Params.Limit,
		func(pos *variantPosition, limit int32) ([]db.Product, error) {
			// The product itself must be the brand's: another brand's id is a 404, not an empty
			// list.
			if _, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Product, error) {
				p, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: req.BrandId, ID: req.ProductId})
				return p, kit.DBError(err)
			}); err != nil {
				return nil, err
			}
			return kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.Product, error) {
				params := db.VariantListParams{BrandID: req.BrandId, ParentID: &req.ProductId, RowLimit: limit}
				if pos != nil {
					params.AfterCreated, params.AfterID = &pos.Created, &pos.ID
				}
				return q.VariantList(ctx, params)
			})
		},
		func(p db.Product) variantPosition { return variantPosition{Created: p.CreatedAt, ID: p.ID} },
		apiProduct)
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such product.")
	}
	if err != nil {
		return nil, err
	}
	return api.ListVariants200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// setOptional sets the optional create fields given as plain pointers.
func setOptional(it *Item, description *string, barcode *string, weight *int64) {
	if description != nil {
		it.Description.Set(*description)
	}
	if barcode != nil {
		it.Barcode.Set(*barcode)
	}
	if weight != nil {
		it.WeightGrams.Set(*weight)
	}
}
