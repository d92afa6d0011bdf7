package orders

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// idPosition is the keyset of the lists ordered by id (UUIDv7).
type idPosition struct {
	ID uuid.UUID `json:"id"`
}

func (p *idPosition) id() *uuid.UUID {
	if p == nil {
		return nil
	}
	return &p.ID
}

// GetOrder answers one order.
func (h *Handlers) GetOrder(ctx context.Context, req api.GetOrderRequestObject) (api.GetOrderResponseObject, error) {
	order, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (api.Order, error) {
		q := ordersdb.New(tx)
		o, err := q.OrderGet(ctx, ordersdb.OrderGetParams{BrandID: req.BrandId, ID: req.OrderId})
		if err != nil {
			return api.Order{}, kit.DBError(err)
		}
		return load(ctx, tx, o)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such order.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetOrder200JSONResponse{Body: order, Headers: api.GetOrder200ResponseHeaders{ETag: respond.ETag(order.Version)}}, nil
}

// ListOrders pages through the brand's orders, newest first.
func (h *Handlers) ListOrders(ctx context.Context, req api.ListOrdersRequestObject) (api.ListOrdersResponseObject, error) {
	p := req.Params
	var status ordersdb.NullOrderStatus
	if p.Status != nil {
		status = ordersdb.NullOrderStatus{OrderStatus: ordersdb.OrderStatus(*p.Status), Valid: true}
	}
	var qNumber *int64
	if p.Q != nil {
		if n, err := strconv.ParseInt(*p.Q, 10, 64); err == nil {
			qNumber = &n
		}
	}
	type row struct {
		o      ordersdb.Order
		lines  []ordersdb.OrderLine
		allocs []inventory.OrderHold
	}
	page, err := paging.List(h.d.Cursors, "orders/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *idPosition, limit int32) ([]row, error) {
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]row, error) {
				q := ordersdb.New(tx)
				os, err := q.OrderList(ctx, ordersdb.OrderListParams{
					BrandID: req.BrandId, Status: status, CreatedAfter: p.CreatedAfter, CreatedBefore: p.CreatedBefore,
					Q: p.Q, QNumber: qNumber, BeforeID: after.id(), RowLimit: limit,
				})
				if err != nil || len(os) == 0 {
					return nil, err
				}
				ids := make([]uuid.UUID, len(os))
				for i, o := range os {
					ids[i] = o.ID
				}
				lines, err := q.OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: req.BrandId, OrderIds: ids})
				if err != nil {
					return nil, err
				}
				allocs, err := inventory.OrderHolds(ctx, tx, req.BrandId, ids)
				if err != nil {
					return nil, err
				}
				out := make([]row, len(os))
				for i, o := range os {
					out[i] = row{o: o, lines: lines, allocs: allocs}
				}
				return out, nil
			})
		},
		func(r row) idPosition { return idPosition{ID: r.o.ID} },
		func(r row) (api.Order, error) { return apiOrder(r.o, r.lines, r.allocs) })
	if err != nil {
		return nil, err
	}
	return api.ListOrders200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// ListOrderEvents pages through an order's history, oldest first.
func (h *Handlers) ListOrderEvents(ctx context.Context, req api.ListOrderEventsRequestObject) (api.ListOrderEventsResponseObject, error) {
	p := req.Params
	page, err := paging.List(h.d.Cursors, "order-events/"+req.OrderId.String(), p.Cursor, p.Limit,
		func(after *idPosition, limit int32) ([]ordersdb.OrderEvent, error) {
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]ordersdb.OrderEvent, error) {
				q := ordersdb.New(tx)
				if _, err := q.OrderGet(ctx, ordersdb.OrderGetParams{BrandID: req.BrandId, ID: req.OrderId}); err != nil {
					return nil, kit.DBError(err)
				}
				return q.OrderEvents(ctx, ordersdb.OrderEventsParams{BrandID: req.BrandId, OrderID: req.OrderId, AfterID: after.id(), RowLimit: limit})
			})
		},
		func(e ordersdb.OrderEvent) idPosition { return idPosition{ID: e.ID} },
		func(e ordersdb.OrderEvent) (api.OrderEvent, error) {
			out := api.OrderEvent{
				Id: e.ID, Action: api.OrderEventAction(e.Action), Status: api.OrderStatus(e.Status), ActorId: e.ActorID,
				Reason: e.Reason, CreatedAt: e.CreatedAt.UTC(),
			}
			if e.FromStatus.Valid {
				from := api.OrderStatus(e.FromStatus.OrderStatus)
				out.FromStatus = &from
			}
			return out, nil
		})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such order.")
	case err != nil:
		return nil, err
	}
	return api.ListOrderEvents200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// ListFulfilments pages through an order's fulfilments, newest first.
func (h *Handlers) ListFulfilments(ctx context.Context, req api.ListFulfilmentsRequestObject) (api.ListFulfilmentsResponseObject, error) {
	p := req.Params
	type row struct {
		f     ordersdb.Fulfilment
		lines []ordersdb.FulfilmentLine
		order ordersdb.Order
	}
	page, err := paging.List(h.d.Cursors, "fulfilments/"+req.OrderId.String(), p.Cursor, p.Limit,
		func(after *idPosition, limit int32) ([]row, error) {
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]row, error) {
				q := ordersdb.New(tx)
				o, err := q.OrderGet(ctx, ordersdb.OrderGetParams{BrandID: req.BrandId, ID: req.OrderId})
				if err != nil {
					return nil, kit.DBError(err)
				}
				fs, err := q.FulfilmentList(ctx, ordersdb.FulfilmentListParams{BrandID: req.BrandId, OrderID: req.OrderId, BeforeID: after.id(), RowLimit: limit})
				if err != nil || len(fs) == 0 {
					return nil, err
				}
				ids := make([]uuid.UUID, len(fs))
				for i, f := range fs {
					ids[i] = f.ID
				}
				lines, err := q.FulfilmentLines(ctx, ordersdb.FulfilmentLinesParams{BrandID: req.BrandId, FulfilmentIds: ids})
				if err != nil {
					return nil, err
				}
				out := make([]row, len(fs))
				for i, f := range fs {
					out[i] = row{f: f, lines: lines, order: o}
				}
				return out, nil
			})
		},
		func(r row) idPosition { return idPosition{ID: r.f.ID} },
		func(r row) (api.Fulfilment, error) {
			out := api.Fulfilment{
				Id: r.f.ID, OrderId: r.f.OrderID, Carrier: r.f.Carrier, TrackingNumber: r.f.TrackingNumber,
				OrderStatus: api.OrderStatus(r.order.Status), OrderVersion: r.order.Version, CreatedAt: r.f.CreatedAt.UTC(),
				Lines: []api.FulfilmentLine{},
			}
			for _, l := range r.lines {
				if l.FulfilmentID == r.f.ID {
					out.Lines = append(out.Lines, api.FulfilmentLine{LineId: l.LineID, Quantity: l.Quantity})
				}
			}
			return out, nil
		})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such order.")
	case err != nil:
		return nil, err
	}
	return api.ListFulfilments200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

type inventoryHold = inventory.OrderHold

// linesOf reads the lines and allocations of orders os.
func linesOf(ctx context.Context, tx db.DBTX, brand uuid.UUID, os []ordersdb.Order) ([]ordersdb.OrderLine, []inventory.OrderHold, error) {
	ids := make([]uuid.UUID, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	lines, err := ordersdb.New(tx).OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: brand, OrderIds: ids})
	if err != nil {
		return nil, nil, err
	}
	allocs, err := inventory.OrderHolds(ctx, tx, brand, ids)
	return lines, allocs, err
}
