package orders

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// confirmOrderAnswers wraps the shared problems in ConfirmOrder's own responses.
var confirmOrderAnswers = kit.Answers[api.ConfirmOrderResponseObject]{
	BadRequest: func(r api.BadRequestApplicationProblemPlusJSONResponse) api.ConfirmOrderResponseObject {
		return api.ConfirmOrder400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: r}
	},
	NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.ConfirmOrderResponseObject {
		return api.ConfirmOrder404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
	},
	Conflict: func(r api.ConflictApplicationProblemPlusJSONResponse) api.ConfirmOrderResponseObject {
		return api.ConfirmOrder409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: r}
	},
	Unprocessable: func(r api.UnprocessableApplicationProblemPlusJSONResponse) api.ConfirmOrderResponseObject {
		return api.ConfirmOrder422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: r}
	},
}

// ConfirmOrder moves a pending order to confirmed (the payment was taken elsewhere).
func (h *Handlers) ConfirmOrder(ctx context.Context, req api.ConfirmOrderRequestObject) (api.ConfirmOrderResponseObject, error) {
	now := h.d.Now()
	var body api.ConfirmOrderRequest // the body is optional: none is {}
	if req.Body != nil {
		body = *req.Body
	}
	order, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.Order, error) {
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, req.Params.IfMatch, api.OrderActionConfirm)
		if err != nil {
			return api.Order{}, err
		}
		from := o.Status
		o, err = q.OrderTransition(ctx, db.OrderTransitionParams{
			BrandID: o.BrandID, ID: o.ID, Status: db.OrderStatusConfirmed, PaymentReference: body.PaymentReference, Now: now,
		})
		if err != nil {
			return api.Order{}, err
		}
		return event(ctx, q, o, db.OrderActionConfirm, &from, nil, now)
	})
	if errors.Is(err, kit.ErrStale) {
		return api.ConfirmOrder412ApplicationProblemPlusJSONResponse{PreconditionFailedApplicationProblemPlusJSONResponse: kit.PreconditionFailed(ctx, "order")}, nil
	}
	if resp, ok := refused(ctx, err, confirmOrderAnswers); ok {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	observe.OrderTransition(string(order.Status))
	return api.ConfirmOrder200JSONResponse{Body: order, Headers: api.ConfirmOrder200ResponseHeaders{ETag: kit.ETag(order.Version)}}, nil
}

// cancelOrderAnswers wraps the shared problems in CancelOrder's own responses.
var cancelOrderAnswers = kit.Answers[api.CancelOrderResponseObject]{
	BadRequest: func(r api.BadRequestApplicationProblemPlusJSONResponse) api.CancelOrderResponseObject {
		return api.CancelOrder400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: r}
	},
	NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.CancelOrderResponseObject {
		return api.CancelOrder404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
	},
	Conflict: func(r api.ConflictApplicationProblemPlusJSONResponse) api.CancelOrderResponseObject {
		return api.CancelOrder409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: r}
	},
	Unprocessable: func(r api.UnprocessableApplicationProblemPlusJSONResponse) api.CancelOrderResponseObject {
		return api.CancelOrder422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: r}
	},
}

// CancelOrder cancels an order, giving back every hold it has not shipped.
func (h *Handlers) CancelOrder(ctx context.Context, req api.CancelOrderRequestObject) (api.CancelOrderResponseObject, error) {
	now := h.d.Now()
	var body api.CancelOrderRequest // the body is optional: none is {}
	if req.Body != nil {
		body = *req.Body
	}
	order, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.Order, error) {
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, req.Params.IfMatch, api.OrderActionCancel)
		if err != nil {
			return api.Order{}, err
		}
		return cancel(ctx, q, o, body.Reason, now)
	})
	if errors.Is(err, kit.ErrStale) {
		return api.CancelOrder412ApplicationProblemPlusJSONResponse{PreconditionFailedApplicationProblemPlusJSONResponse: kit.PreconditionFailed(ctx, "order")}, nil
	}
	if resp, ok := refused(ctx, err, cancelOrderAnswers); ok {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	observe.OrderTransition(string(order.Status))
	return api.CancelOrder200JSONResponse{Body: order, Headers: api.CancelOrder200ResponseHeaders{ETag: kit.ETag(order.Version)}}, nil
}

// cancel releases the unshipped holds of a locked order that may be cancelled, and cancels it with
// reason (the handler's and the sweeper's one way to do it); it returns the order as cancelled.
func cancel(ctx context.Context, q *db.Queries, o db.Order, reason *string, now time.Time) (api.Order, error) {
	allocs, err := q.OrderAllocations(ctx, db.OrderAllocationsParams{BrandID: o.BrandID, OrderIds: []uuid.UUID{o.ID}})
	if err != nil {
		return api.Order{}, err
	}
	held := map[inventory.Level]int64{}
	var levels []inventory.Level
	for _, a := range allocs {
		if left := a.Quantity - a.FulfilledQuantity; left > 0 {
			k := inventory.Level{Product: a.ProductID, Location: a.LocationID}
			if _, seen := held[k]; !seen {
				levels = append(levels, k)
			}
			held[k] += left
		}
	}
	if len(levels) > 0 {
		st, err := inventory.Open(ctx, q, o.BrandID, now, inventory.OrderHeldScope(levels))
		if err != nil {
			return api.Order{}, err
		}
		for _, k := range levels {
			if err := st.ReleaseOrder(o.ID, k, held[k], reason); err != nil {
				return api.Order{}, err
			}
		}
	}
	from := o.Status
	o, err = q.OrderTransition(ctx, db.OrderTransitionParams{
		BrandID: o.BrandID, ID: o.ID, Status: db.OrderStatusCancelled, CancelReason: reason, Now: now,
	})
	if err != nil {
		return api.Order{}, err
	}
	return event(ctx, q, o, db.OrderActionCancel, &from, reason, now)
}

// createFulfilmentAnswers wraps the shared problems in CreateFulfilment's own responses.
var createFulfilmentAnswers = kit.Answers[api.CreateFulfilmentResponseObject]{
	BadRequest: func(r api.BadRequestApplicationProblemPlusJSONResponse) api.CreateFulfilmentResponseObject {
		return api.CreateFulfilment400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: r}
	},
	NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.CreateFulfilmentResponseObject {
		return api.CreateFulfilment404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
	},
	Conflict: func(r api.ConflictApplicationProblemPlusJSONResponse) api.CreateFulfilmentResponseObject {
		return api.CreateFulfilment409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: r}
	},
	Unprocessable: func(r api.UnprocessableApplicationProblemPlusJSONResponse) api.CreateFulfilmentResponseObject {
		return api.CreateFulfilment422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: r}
	},
}

// CreateFulfilment ships lines of a confirmed or partially fulfilled order from where their stock
// is held.
func (h *Handlers) CreateFulfilment(ctx context.Context, req api.CreateFulfilmentRequestObject) (api.CreateFulfilmentResponseObject, error) {
	body := req.Body
	now := h.d.Now()
	f, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.Fulfilment, error) {
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, req.Params.IfMatch, api.OrderActionFulfil)
		if err != nil {
			return api.Fulfilment{}, err
		}
		ids := []uuid.UUID{o.ID}
		lines, err := q.OrderLines(ctx, db.OrderLinesParams{BrandID: o.BrandID, OrderIds: ids})
		if err != nil {
			return api.Fulfilment{}, err
		}
		allocs, err := q.OrderAllocations(ctx, db.OrderAllocationsParams{BrandID: o.BrandID, OrderIds: ids})
		if err != nil {
			return api.Fulfilment{}, err
		}
		byID := make(map[uuid.UUID]*db.OrderLine, len(lines))
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
		var over []api.ProblemLine
		for _, id := range order {
			l := byID[id]
			if left := l.Quantity - l.FulfilledQuantity; want[id] > left {
				requested := want[id]
				over = append(over, api.ProblemLine{Index: first[id], ProductId: l.ProductID, Requested: &requested, Available: &left})
			}
		}
		if len(over) > 0 {
			return api.Fulfilment{}, &OverFulfilment{Lines: over}
		}
		// Each line ships from its allocations in order, what each still holds.
		type ship struct {
			alloc    db.OrderAllocation
			quantity int64
		}
		var ships []ship
		var levels []inventory.Level
		for _, id := range order {
			need := want[id]
			for _, a := range allocs {
				if a.LineID != id || need == 0 {
					continue
				}
				if take := min(need, a.Quantity-a.FulfilledQuantity); take > 0 {
					ships = append(ships, ship{alloc: a, quantity: take})
					levels = append(levels, inventory.Level{Product: a.ProductID, Location: a.LocationID})
					need -= take
				}
			}
		}
		st, err := inventory.Open(ctx, q, o.BrandID, now, inventory.OrderHeldScope(levels))
		if err != nil {
			return api.Fulfilment{}, err
		}
		for _, s := range ships {
			k := inventory.Level{Product: s.alloc.ProductID, Location: s.alloc.LocationID}
			if err := st.FulfilOrder(o.ID, k, s.quantity); err != nil {
				return api.Fulfilment{}, err
			}
			if err := q.OrderAllocationFulfil(ctx, db.OrderAllocationFulfilParams{
				BrandID: o.BrandID, OrderID: o.ID, LineID: s.alloc.LineID, LocationID: s.alloc.LocationID, Quantity: s.quantity,
			}); err != nil {
				return api.Fulfilment{}, err
			}
		}
		fr, err := q.FulfilmentCreate(ctx, db.FulfilmentCreateParams{
			BrandID: o.BrandID, OrderID: o.ID, ID: uuid.Must(uuid.NewV7()), Carrier: body.Carrier,
			TrackingNumber: body.TrackingNumber, CreatedBy: kit.UserID(ctx), Now: now,
		})
		if err != nil {
			return api.Fulfilment{}, err
		}
		fp := db.FulfilmentLinesAddParams{BrandID: o.BrandID, OrderID: o.ID, FulfilmentID: fr.ID}
		out := api.Fulfilment{Id: fr.ID, OrderId: o.ID, Carrier: fr.Carrier, TrackingNumber: fr.TrackingNumber, CreatedAt: fr.CreatedAt.UTC(), Lines: []api.FulfilmentLine{}}
		for _, id := range order {
			if err := q.OrderLineFulfil(ctx, db.OrderLineFulfilParams{BrandID: o.BrandID, ID: id, Quantity: want[id]}); err != nil {
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
		status := db.OrderStatusFulfilled
		for _, l := range lines {
			if l.FulfilledQuantity < l.Quantity {
				status = db.OrderStatusPartiallyFulfilled
			}
		}
		from := o.Status
		if o, err = q.OrderTransition(ctx, db.OrderTransitionParams{BrandID: o.BrandID, ID: o.ID, Status: status, Now: now}); err != nil {
			return api.Fulfilment{}, err
		}
		if _, err := event(ctx, q, o, db.OrderActionFulfil, &from, nil, now); err != nil {
			return api.Fulfilment{}, err
		}
		out.OrderStatus, out.OrderVersion = api.OrderStatus(o.Status), o.Version
		return out, events.Emit(ctx, q, o.BrandID, now, events.Event{
			Type: api.EventTypeFulfilmentCreated, Data: out,
			Aggregate: events.Aggregate{Type: api.EventAggregateTypeFulfilment, ID: out.Id, Version: 1},
		})
	})
	if errors.Is(err, kit.ErrStale) {
		return api.CreateFulfilment412ApplicationProblemPlusJSONResponse{PreconditionFailedApplicationProblemPlusJSONResponse: kit.PreconditionFailed(ctx, "order")}, nil
	}
	if resp, ok := refused(ctx, err, createFulfilmentAnswers); ok {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	observe.OrderTransition(string(f.OrderStatus))
	return api.CreateFulfilment201JSONResponse{Body: f, Headers: api.CreateFulfilment201ResponseHeaders{ETag: kit.ETag(f.OrderVersion)}}, nil
}
