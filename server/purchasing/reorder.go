package purchasing

import (
	"bytes"
	"cmp"
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
)

// levelPosition is the keyset of the lists by level (product, then location).
type levelPosition struct {
	Product  uuid.UUID `json:"p"`
	Location uuid.UUID `json:"l"`
}

// suggestion shows a level to reorder: the quantity is the level's reorderQuantity, or else what
// brings available + incoming back to the reorder point (at least 1).
func suggestion(r db.ReorderSuggestionsRow) api.ReorderSuggestion {
	available := r.OnHand - r.Reserved
	out := api.ReorderSuggestion{
		ProductId: r.ProductID, LocationId: r.LocationID, Sku: r.Sku, ProductName: r.ProductName, Available: available,
		Incoming: r.Incoming, ReorderPoint: r.ReorderPoint, ReorderQuantity: r.ReorderQuantity,
		SuggestedQuantity: max(r.ReorderPoint-(available+r.Incoming), 1),
	}
	if r.ReorderQuantity != nil {
		out.SuggestedQuantity = *r.ReorderQuantity
	}
	if r.SupplierID != uuid.Nil {
		s, c, cur := r.SupplierID, r.UnitCost, r.Currency
		out.SupplierId, out.UnitCost, out.Currency = &s, &c, &cur
	}
	return out
}

// ListReorderSuggestions pages through the levels to reorder, by product then location.
func (h *Handlers) ListReorderSuggestions(ctx context.Context, req api.ListReorderSuggestionsRequestObject) (api.ListReorderSuggestionsResponseObject, error) {
	p := req.Params
	now := h.d.Now()
	page, err := paging.List(h.d.Cursors, "reorder-suggestions/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *levelPosition, limit int32) ([]db.ReorderSuggestionsRow, error) {
			params := db.ReorderSuggestionsParams{BrandID: req.BrandId, LocationID: p.LocationId, Now: now, RowLimit: limit}
			if after != nil {
				params.AfterProduct, params.AfterLocation = &after.Product, &after.Location
			}
			return kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.ReorderSuggestionsRow, error) {
				return q.ReorderSuggestions(ctx, params)
			})
		},
		func(r db.ReorderSuggestionsRow) levelPosition {
			return levelPosition{Product: r.ProductID, Location: r.LocationID}
		},
		paging.Infallible(suggestion))
	if err != nil {
		return nil, err
	}
	return api.ListReorderSuggestions200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// CreatePurchaseOrdersFromSuggestions drafts one PO per supplier and destination (and currency)
// from every current suggestion, in one transaction.
func (h *Handlers) CreatePurchaseOrdersFromSuggestions(ctx context.Context, req api.CreatePurchaseOrdersFromSuggestionsRequestObject) (api.CreatePurchaseOrdersFromSuggestionsResponseObject, error) {
	var body api.PurchaseOrdersFromSuggestionsRequest // the body is optional: none is {}
	if req.Body != nil {
		body = *req.Body
	}
	now := h.d.Now()
	pos, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]api.PurchaseOrder, error) {
		type key struct {
			supplier, location uuid.UUID
			currency           string
		}
		groups := map[key][]api.PurchaseOrderRequestLine{}
		var keys []key
		var fallback *db.Supplier
		if body.SupplierId != nil {
			s, err := supplier(ctx, q, req.BrandId, *body.SupplierId)
			if err != nil {
				return nil, err
			}
			fallback = &s
		}
		params := db.ReorderSuggestionsParams{BrandID: req.BrandId, LocationID: body.LocationId, Now: now, RowLimit: 500}
		for {
			rows, err := q.ReorderSuggestions(ctx, params)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				s := suggestion(r)
				k := key{location: r.LocationID}
				line := api.PurchaseOrderRequestLine{ProductId: r.ProductID, Quantity: s.SuggestedQuantity}
				switch {
				case s.SupplierId != nil:
					k.supplier, k.currency, line.UnitCost = *s.SupplierId, *s.Currency, *s.UnitCost
				case fallback != nil:
					k.supplier, k.currency = fallback.ID, fallback.Currency
				default:
					continue // no supplier to ask
				}
				if _, ok := groups[k]; !ok {
					keys = append(keys, k)
				}
				groups[k] = append(groups[k], line)
			}
			if len(rows) < int(params.RowLimit) {
				break
			}
			last := rows[len(rows)-1]
			params.AfterProduct, params.AfterLocation = &last.ProductID, &last.LocationID
		}
		// One PO per group, numbered in a stable order (supplier, location, currency).
		slices.SortFunc(keys, func(a, b key) int {
			if c := bytes.Compare(a.supplier[:], b.supplier[:]); c != 0 {
				return c
			}
			if c := bytes.Compare(a.location[:], b.location[:]); c != 0 {
				return c
			}
			return cmp.Compare(a.currency, b.currency)
		})
		out := make([]api.PurchaseOrder, 0, len(keys))
		for _, k := range keys {
			currency := k.currency
			po, err := h.draft(ctx, q, req.BrandId, api.CreatePurchaseOrderRequest{
				SupplierId: k.supplier, LocationId: k.location, Currency: &currency, Lines: groups[k],
			})
			if err != nil {
				return nil, err
			}
			out = append(out, po)
		}
		return out, nil
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.CreatePurchaseOrdersFromSuggestions201JSONResponse{Body: api.PurchaseOrderList{Items: pos}}, nil
}
