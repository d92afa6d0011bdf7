package orders

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// Refunds are records (no payment processor here): what was given back, why, for which lines.
// What was paid is the order's total once it is confirmed (this API's confirm is "payment taken
// elsewhere"; nothing was paid before). The refunded total never passes it: every refund locks
// the order first, checks, and adds to orders.refunded_total, whose CHECK (≤ total) is the last
// line behind the check.

// paid is what the order's customer paid: its total once confirmed, nothing before.
func paid(o ordersdb.Order) int64 {
	if o.ConfirmedAt == nil {
		return 0
	}
	return o.Total
}

// CreateRefund records a refund on an order.
func (h *Handlers) CreateRefund(ctx context.Context, req api.CreateRefundRequestObject) (api.CreateRefundResponseObject, error) {
	body := req.Body
	now := h.d.Now()
	refund, err := kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) (api.Refund, error) {
		q := ordersdb.New(tx)
		o, err := q.OrderLock(ctx, ordersdb.OrderLockParams{BrandID: req.BrandId, ID: req.OrderId})
		if err != nil {
			return api.Refund{}, kit.DBError(err)
		}
		lines := []api.RefundLine{}
		if body.Lines != nil {
			lines = *body.Lines
			ols, err := q.OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: o.BrandID, OrderIds: []uuid.UUID{o.ID}})
			if err != nil {
				return api.Refund{}, err
			}
			mine := make(map[uuid.UUID]bool, len(ols))
			for _, l := range ols {
				mine[l.ID] = true
			}
			for i, l := range lines {
				if !mine[l.LineId] {
					return api.Refund{}, &UnknownLine{Index: i}
				}
			}
		}
		if body.Currency != o.Currency {
			return api.Refund{}, &CurrencyMismatch{}
		}
		if left := paid(o) - o.RefundedTotal; body.Amount > left {
			return api.Refund{}, &RefundExceedsPaid{Paid: paid(o), Refunded: o.RefundedTotal}
		}
		shipping := body.Shipping != nil && *body.Shipping
		r, err := q.RefundCreate(ctx, ordersdb.RefundCreateParams{
			BrandID: o.BrandID, ID: uuid.Must(uuid.NewV7()), OrderID: o.ID, Amount: body.Amount, Currency: o.Currency,
			Reason: body.Reason, Shipping: shipping, Lines: jsonArray(lines), CreatedBy: kit.UserID(ctx), Now: now,
		})
		if err != nil {
			return api.Refund{}, err
		}
		ols, err := q.OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: o.BrandID, OrderIds: []uuid.UUID{o.ID}})
		if err != nil {
			return api.Refund{}, err
		}
		if o, err = touch(ctx, tx, o, ols, r.Amount, now); err != nil {
			return api.Refund{}, err
		}
		out, err := apiRefund(r, o)
		if err != nil {
			return api.Refund{}, err
		}
		return out, events.Emit(ctx, db.New(tx), o.BrandID, now, events.Event{
			Type: api.EventTypeRefundCreated, Data: out, Aggregate: events.Aggregate{Type: api.EventAggregateTypeRefund, ID: r.ID, Version: 1},
		})
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.CreateRefund201JSONResponse{Body: refund, Headers: api.CreateRefund201ResponseHeaders{ETag: respond.ETag(refund.OrderVersion)}}, nil
}

// apiRefund shows a refund with its order's refunded total and version as o has them.
func apiRefund(r ordersdb.Refund, o ordersdb.Order) (api.Refund, error) {
	lines, err := fromJSONArray[api.RefundLine](r.Lines)
	return api.Refund{
		Id: r.ID, OrderId: r.OrderID, Amount: r.Amount, Currency: r.Currency, Reason: r.Reason, Lines: lines, Shipping: r.Shipping,
		OrderRefundedTotal: o.RefundedTotal, OrderVersion: o.Version, CreatedAt: r.CreatedAt.UTC(),
	}, err
}

// ListRefunds pages through an order's refunds, newest first.
func (h *Handlers) ListRefunds(ctx context.Context, req api.ListRefundsRequestObject) (api.ListRefundsResponseObject, error) {
	p := req.Params
	type row struct {
		r ordersdb.Refund
		o ordersdb.Order
	}
	page, err := paging.List(h.d.Cursors, "refunds/"+req.OrderId.String(), p.Cursor, p.Limit,
		func(after *idPosition, limit int32) ([]row, error) {
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]row, error) {
				q := ordersdb.New(tx)
				o, err := q.OrderGet(ctx, ordersdb.OrderGetParams{BrandID: req.BrandId, ID: req.OrderId})
				if err != nil {
					return nil, kit.DBError(err)
				}
				rs, err := q.RefundList(ctx, ordersdb.RefundListParams{BrandID: req.BrandId, OrderID: req.OrderId, BeforeID: after.id(), RowLimit: limit})
				out := make([]row, len(rs))
				for i, r := range rs {
					out[i] = row{r: r, o: o}
				}
				return out, err
			})
		},
		func(r row) idPosition { return idPosition{ID: r.r.ID} },
		func(r row) (api.Refund, error) { return apiRefund(r.r, r.o) })
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such order.")
	case err != nil:
		return nil, err
	}
	return api.ListRefunds200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// ListCustomerOrders pages through a customer's orders, newest first: each as it was placed.
func (h *Handlers) ListCustomerOrders(ctx context.Context, req api.ListCustomerOrdersRequestObject) (api.ListCustomerOrdersResponseObject, error) {
	p := req.Params
	type row struct {
		o      ordersdb.Order
		lines  []ordersdb.OrderLine
		allocs []inventoryHold
	}
	page, err := paging.List(h.d.Cursors, "customer-orders/"+req.CustomerId.String(), p.Cursor, p.Limit,
		func(after *idPosition, limit int32) ([]row, error) {
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]row, error) {
				if _, err := db.New(tx).CustomerGet(ctx, db.CustomerGetParams{BrandID: req.BrandId, ID: req.CustomerId}); err != nil {
					return nil, kit.DBError(err)
				}
				q := ordersdb.New(tx)
				os, err := q.OrderListByCustomer(ctx, ordersdb.OrderListByCustomerParams{
					BrandID: req.BrandId, CustomerID: &req.CustomerId, BeforeID: after.id(), RowLimit: limit,
				})
				if err != nil || len(os) == 0 {
					return nil, err
				}
				lines, allocs, err := linesOf(ctx, tx, req.BrandId, os)
				out := make([]row, len(os))
				for i, o := range os {
					out[i] = row{o: o, lines: lines, allocs: allocs}
				}
				return out, err
			})
		},
		func(r row) idPosition { return idPosition{ID: r.o.ID} },
		func(r row) (api.Order, error) { return apiOrder(r.o, r.lines, r.allocs) })
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such customer.")
	case err != nil:
		return nil, err
	}
	return api.ListCustomerOrders200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}
