package inventory

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// levelPosition is the keyset of the level list.
type levelPosition struct {
	Product  uuid.UUID `json:"p"`
	Location uuid.UUID `json:"l"`
}

// ListStockLevels pages through the brand's levels by product, then location.
func (h *Handlers) ListStockLevels(ctx context.Context, req api.ListStockLevelsRequestObject) (api.ListStockLevelsResponseObject, error) {
	p := req.Params
	below := p.BelowReorderPoint != nil && *p.BelowReorderPoint
	now := h.d.Now()
	page, err := paging.List(h.d.Cursors, "inventory/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *levelPosition, limit int32) ([]stockdb.LevelListRow, error) {
			params := stockdb.LevelListParams{BrandID: req.BrandId, ProductID: p.ProductId, LocationID: p.LocationId, BelowReorderPoint: below, Now: now, RowLimit: limit}
			if after != nil {
				params.AfterProduct, params.AfterLocation = &after.Product, &after.Location
			}
			return kit.ListInBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]stockdb.LevelListRow, error) {
				return stockdb.New(tx).LevelList(ctx, params)
			})
		},
		func(r stockdb.LevelListRow) levelPosition {
			return levelPosition{Product: r.ProductID, Location: r.LocationID}
		},
		func(r stockdb.LevelListRow) (api.StockLevel, error) {
			return apiLevel(stockdb.StockLevel{
				BrandID: r.BrandID, ProductID: r.ProductID, LocationID: r.LocationID, OnHand: r.OnHand, Reserved: r.Reserved - r.ExpiredHeld,
				Incoming: r.Incoming, Backordered: r.Backordered, ReorderPoint: r.ReorderPoint, ReorderQuantity: r.ReorderQuantity, Version: r.Version, UpdatedAt: r.UpdatedAt,
			}, r.Sku, r.ProductName, r.OptionValues), nil
		})
	if err != nil {
		return nil, err
	}
	return api.ListStockLevels200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// GetProductInventory answers a product's levels by location, with their totals.
func (h *Handlers) GetProductInventory(ctx context.Context, req api.GetProductInventoryRequestObject) (api.GetProductInventoryResponseObject, error) {
	out, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (api.ProductInventory, error) {
		p, err := db.New(tx).ProductGet(ctx, db.ProductGetParams{BrandID: req.BrandId, ID: req.ProductId})
		if err != nil {
			return api.ProductInventory{}, kit.DBError(err)
		}
		rows, err := stockdb.New(tx).LevelsOfProduct(ctx, stockdb.LevelsOfProductParams{BrandID: req.BrandId, ProductID: req.ProductId, Now: h.d.Now()})
		if err != nil {
			return api.ProductInventory{}, err
		}
		inv := api.ProductInventory{ProductId: p.ID, Levels: make([]api.StockLevel, 0, len(rows))}
		for _, r := range rows {
			// Holds of expired reservations the sweeper has not released yet are not reserved.
			live := r.Reserved - r.ExpiredHeld
			inv.Levels = append(inv.Levels, apiLevel(stockdb.StockLevel{
				BrandID: r.BrandID, ProductID: r.ProductID, LocationID: r.LocationID, OnHand: r.OnHand, Reserved: live,
				Incoming: r.Incoming, Backordered: r.Backordered, ReorderPoint: r.ReorderPoint, ReorderQuantity: r.ReorderQuantity, Version: r.Version, UpdatedAt: r.UpdatedAt,
			}, p.Sku, p.Name, p.OptionValues))
			inv.OnHand += r.OnHand
			inv.Reserved += live
			inv.Incoming += r.Incoming
		}
		inv.Available = inv.OnHand - inv.Reserved
		inv.AverageCost, err = averageCost(ctx, tx, req.BrandId, req.ProductId)
		return inv, err
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such product.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetProductInventory200JSONResponse(out), nil
}

// UpdateStockLevel sets a level's reorder point (quantities change only through movements).
func (h *Handlers) UpdateStockLevel(ctx context.Context, req api.UpdateStockLevelRequestObject) (api.UpdateStockLevelResponseObject, error) {
	level, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (api.StockLevel, error) {
		q, sq := db.New(tx), stockdb.New(tx)
		l, err := sq.LevelSetReorderPoint(ctx, stockdb.LevelSetReorderPointParams{
			BrandID: req.BrandId, ProductID: req.ProductId, LocationID: req.LocationId,
			ReorderPoint: req.Body.ReorderPoint, ExpectedVersions: respond.IfMatch(req.Params.IfMatch), Now: h.d.Now(),
			SetReorderQuantity: req.Body.ReorderQuantity.IsSpecified(), ReorderQuantity: nullableInt(req.Body.ReorderQuantity),
		})
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			return api.StockLevel{}, kit.Stale(sq.LevelGet(ctx, stockdb.LevelGetParams{BrandID: req.BrandId, ProductID: req.ProductId, LocationID: req.LocationId}))
		}
		if err != nil {
			return api.StockLevel{}, err
		}
		p, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: req.BrandId, ID: req.ProductId})
		if err != nil {
			return api.StockLevel{}, err
		}
		exp, err := sq.LevelsExpiredHeld(ctx, stockdb.LevelsExpiredHeldParams{
			BrandID: req.BrandId, ProductIds: []uuid.UUID{req.ProductId}, LocationIds: []uuid.UUID{req.LocationId}, Now: h.d.Now(),
		})
		if err != nil {
			return api.StockLevel{}, err
		}
		for _, e := range exp {
			l.Reserved -= e.Quantity // expired holds not released yet are not reserved
		}
		level := apiLevel(l, p.Sku, p.Name, p.OptionValues)
		return level, events.Emit(ctx, q, req.BrandId, h.d.Now(), events.Event{
			Type: api.EventTypeInventoryLevelUpdated, Data: level,
			Aggregate: events.Aggregate{Type: api.EventAggregateTypeInventoryLevel, ID: LevelAggregateID(Level{l.ProductID, l.LocationID}), Version: l.Version},
		})
	})
	if err != nil {
		return nil, respond.Unmet(err, "No stock level for this product at this location (a level is created by its first movement).", "stock level")
	}
	return api.UpdateStockLevel200JSONResponse{Body: level, Headers: api.UpdateStockLevel200ResponseHeaders{ETag: respond.ETag(level.Version)}}, nil
}

func apiMovement(m stockdb.StockMovement) (api.StockMovement, error) {
	return api.StockMovement{
		Id: m.ID, ProductId: m.ProductID, LocationId: m.LocationID, Kind: api.MovementKind(m.Kind),
		OnHandDelta: m.OnHandDelta, ReservedDelta: m.ReservedDelta, OnHand: m.OnHandAfter, Reserved: m.ReservedAfter,
		Reason: m.Reason, Reference: m.Reference, ReservationId: m.ReservationID, OrderId: m.OrderID,
		PurchaseOrderId: m.PurchaseOrderID, UnitCost: m.UnitCost,
		ActorId: m.ActorID, RequestId: m.RequestID, CreatedAt: m.CreatedAt.UTC(),
	}, nil
}

// ListStockMovements pages through the ledger, newest first.
func (h *Handlers) ListStockMovements(ctx context.Context, req api.ListStockMovementsRequestObject) (api.ListStockMovementsResponseObject, error) {
	p := req.Params
	params := stockdb.MovementListParams{
		BrandID: req.BrandId, ProductID: p.ProductId, LocationID: p.LocationId, Reference: p.Reference,
		ReservationID: p.ReservationId, OrderID: p.OrderId, CreatedAfter: utc(p.CreatedAfter), CreatedBefore: utc(p.CreatedBefore),
	}
	if p.Kind != nil {
		params.Kind = stockdb.NullMovementKind{MovementKind: stockdb.MovementKind(*p.Kind), Valid: true}
	}
	page, err := paging.List(h.d.Cursors, "movements/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *paging.IDPosition, limit int32) ([]stockdb.StockMovement, error) {
			params.BeforeID, params.RowLimit = after.After(), limit
			return kit.ListInBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]stockdb.StockMovement, error) {
				return stockdb.New(tx).MovementList(ctx, params)
			})
		},
		func(m stockdb.StockMovement) paging.IDPosition { return paging.IDPosition{ID: m.ID} },
		apiMovement)
	if err != nil {
		return nil, err
	}
	return api.ListStockMovements200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
