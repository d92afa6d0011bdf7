package orders

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/respond"
)

// ConfirmOrder moves a pending order to confirmed (the payment was taken elsewhere).
func (h *Handlers) ConfirmOrder(ctx context.Context, req api.ConfirmOrderRequestObject) (api.ConfirmOrderResponseObject, error) {
	now := h.d.Now()
	var body api.ConfirmOrderRequest // the body is optional: none is {}
	if req.Body != nil {
		body = *req.Body
	}
	order, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Order, error) {
		q := ordersdb.New(tx)
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, req.Params.IfMatch, api.OrderActionConfirm)
		if err != nil {
			return api.Order{}, err
		}
		from := o.Status
		o, err = q.OrderTransition(ctx, ordersdb.OrderTransitionParams{
			BrandID: o.BrandID, ID: o.ID, Status: ordersdb.OrderStatusConfirmed, PaymentReference: body.PaymentReference, Now: now,
		})
		if err != nil {
			return api.Order{}, err
		}
		return event(ctx, tx, o, ordersdb.OrderActionConfirm, &from, nil, now)
	})
	if errors.Is(err, kit.ErrStale) {
		return nil, respond.PreconditionFailed("order")
	}
	if err != nil {
		return nil, refusal(err)
	}
	observe.OrderTransition(string(order.Status))
	return api.ConfirmOrder200JSONResponse{Body: order, Headers: api.ConfirmOrder200ResponseHeaders{ETag: respond.ETag(order.Version)}}, nil
}

// CancelOrder cancels an order, giving back every hold it has not shipped.
func (h *Handlers) CancelOrder(ctx context.Context, req api.CancelOrderRequestObject) (api.CancelOrderResponseObject, error) {
	now := h.d.Now()
	var body api.CancelOrderRequest // the body is optional: none is {}
	if req.Body != nil {
		body = *req.Body
	}
	order, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Order, error) {
		q := ordersdb.New(tx)
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, req.Params.IfMatch, api.OrderActionCancel)
		if err != nil {
			return api.Order{}, err
		}
		return cancel(ctx, tx, o, body.Reason, now)
	})
	if errors.Is(err, kit.ErrStale) {
		return nil, respond.PreconditionFailed("order")
	}
	if err != nil {
		return nil, refusal(err)
	}
	observe.OrderTransition(string(order.Status))
	return api.CancelOrder200JSONResponse{Body: order, Headers: api.CancelOrder200ResponseHeaders{ETag: respond.ETag(order.Version)}}, nil
}

// cancel releases the unshipped holds of a locked order that may be cancelled, and cancels it with
// reason (the handler's and the sweeper's one way to do it); it returns the order as cancelled.
func cancel(ctx context.Context, tx db.DBTX, o ordersdb.Order, reason *string, now time.Time) (api.Order, error) {
	if err := inventory.ReleaseOrder(ctx, tx, o.BrandID, o.ID, now, reason); err != nil {
		return api.Order{}, err
	}
	if err := recordCancelled(ctx, tx, o); err != nil {
		return api.Order{}, err
	}
	q := ordersdb.New(tx)
	from := o.Status
	o, err := q.OrderTransition(ctx, ordersdb.OrderTransitionParams{
		BrandID: o.BrandID, ID: o.ID, Status: ordersdb.OrderStatusCancelled, CancelReason: reason, Now: now,
	})
	if err != nil {
		return api.Order{}, err
	}
	return event(ctx, tx, o, ordersdb.OrderActionCancel, &from, reason, now)
}

// CreateFulfilment ships lines of a confirmed or partially fulfilled order from where their stock
// is held.
func (h *Handlers) CreateFulfilment(ctx context.Context, req api.CreateFulfilmentRequestObject) (api.CreateFulfilmentResponseObject, error) {
	body := req.Body
	now := h.d.Now()
	f, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Fulfilment, error) {
		q := ordersdb.New(tx)
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, req.Params.IfMatch, api.OrderActionFulfil)
		if err != nil {
			return api.Fulfilment{}, err
		}
		ids := []uuid.UUID{o.ID}
		lines, err := q.OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: o.BrandID, OrderIds: ids})
		if err != nil {
			return api.Fulfilment{}, err
		}
		byID := make(map[uuid.UUID]*ordersdb.OrderLine, len(lines))
		for i := range lines {
			byID[lines[i].ID] = &lines[i]
		}
		// Lines naming the same order line are summed, in the order each first appears.
		var order []uuid.UUID
		first, want := map[uuid.UUID]int{}, map[uuid.UUID]int64{}
		for i, l := range body.Lines {
			if byID[l.LineId] == nil {
				return api.Fulfilment{}, &UnknownLine{Index: i}
			}
			if _, seen := first[l.LineId]; !seen {
				first[l.LineId] = i
				order = append(order, l.LineId)
			}
			want[l.LineId] += l.Quantity
		}
		// Only held units ship: what a line still waits for (backordered) is not there yet. Read
		// before FulfilOrder reads the holds: a receipt filling a claim in between only makes
		// more held than this check allows, never less.
		claims, err := inventory.OrderBackorders(ctx, tx, o.BrandID, ids)
		if err != nil {
			return api.Fulfilment{}, err
		}
		waiting := map[uuid.UUID]int64{}
		for _, c := range claims {
			waiting[c.Line] += c.Quantity
		}
		var over []api.ProblemLine
		for _, id := range order {
			l := byID[id]
			if left := l.Quantity - l.FulfilledQuantity - waiting[id]; want[id] > left {
				requested := want[id]
				over = append(over, api.ProblemLine{Index: first[id], ProductId: l.ProductID, Requested: &requested, Available: &left})
			}
		}
		if len(over) > 0 {
			return api.Fulfilment{}, &OverFulfilment{Lines: over}
		}
		// Each line ships from its allocations in order, what each still holds.
		ship := make([]inventory.LineQuantity, len(order))
		for i, id := range order {
			ship[i] = inventory.LineQuantity{Line: id, Quantity: want[id]}
		}
		if err := inventory.FulfilOrder(ctx, tx, o.BrandID, o.ID, now, ship); err != nil {
			return api.Fulfilment{}, err
		}
		fr, err := q.FulfilmentCreate(ctx, ordersdb.FulfilmentCreateParams{
			BrandID: o.BrandID, OrderID: o.ID, ID: uuid.Must(uuid.NewV7()), Carrier: body.Carrier,
			TrackingNumber: body.TrackingNumber, CreatedBy: kit.UserID(ctx), Now: now,
		})
		if err != nil {
			return api.Fulfilment{}, err
		}
		fp := ordersdb.FulfilmentLinesAddParams{BrandID: o.BrandID, OrderID: o.ID, FulfilmentID: fr.ID}
		out := api.Fulfilment{Id: fr.ID, OrderId: o.ID, Carrier: fr.Carrier, TrackingNumber: fr.TrackingNumber, CreatedAt: fr.CreatedAt.UTC(), Lines: []api.FulfilmentLine{}}
		for _, id := range order {
			if err := q.OrderLineFulfil(ctx, ordersdb.OrderLineFulfilParams{BrandID: o.BrandID, ID: id, Quantity: want[id]}); err != nil {
				return api.Fulfilment{}, err
			}
			byID[id].FulfilledQuantity += want[id]
			fp.LineIds = append(fp.LineIds, id)
			fp.Quantities = append(fp.Quantities, want[id])
			out.Lines = append(out.Lines, api.FulfilmentLine{LineId: id, Quantity: want[id]})
		}
		if err := q.FulfilmentLinesAdd(ctx, fp); err != nil {
			return api.Fulfilment{}, err
		}
		status := ordersdb.OrderStatusFulfilled
		for _, l := range lines {
			if l.FulfilledQuantity < l.Quantity {
				status = ordersdb.OrderStatusPartiallyFulfilled
			}
		}
		status = withReturns(status, lines)
		from := o.Status
		if o, err = q.OrderTransition(ctx, ordersdb.OrderTransitionParams{BrandID: o.BrandID, ID: o.ID, Status: status, Now: now}); err != nil {
			return api.Fulfilment{}, err
		}
		if _, err := event(ctx, tx, o, ordersdb.OrderActionFulfil, &from, nil, now); err != nil {
			return api.Fulfilment{}, err
		}
		out.OrderStatus, out.OrderVersion = api.OrderStatus(o.Status), o.Version
		return out, events.Emit(ctx, db.New(tx), o.BrandID, now, events.Event{
			Type: api.EventTypeFulfilmentCreated, Data: out,
			Aggregate: events.Aggregate{Type: api.EventAggregateTypeFulfilment, ID: out.Id, Version: 1},
		})
	})
	if errors.Is(err, kit.ErrStale) {
		return nil, respond.PreconditionFailed("order")
	}
	if err != nil {
		return nil, refusal(err)
	}
	observe.OrderTransition(string(f.OrderStatus))
	return api.CreateFulfilment201JSONResponse{Body: f, Headers: api.CreateFulfilment201ResponseHeaders{ETag: respond.ETag(f.OrderVersion)}}, nil
}
