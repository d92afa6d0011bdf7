package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// Returns take shipped units back (issue 21):
//
//	requested ──receive──▶ received ──close──▶ closed
//	    │
//	    └──cancel──▶ cancelled
//
// A return counts against its order's lines (returned_quantity) from the moment it is requested,
// so that two returns can never take back more than shipped: both lock the order first (every
// return transition does, then reads the return), check what is left, and the schema's CHECK
// (returned ≤ fulfilled) is the last line behind them. Receiving restocks through the stock
// engine (inventory.RestockReturn: one `return` movement per line) or writes a line off.

// Refusals of returns and refunds.
type (
	// OverReturn: more than lines' shipped quantity less what earlier returns took (422).
	OverReturn struct{ Lines []api.ProblemLine }
	// ReturnTransitionRefused: the return's status does not allow the action (409).
	ReturnTransitionRefused struct {
		Action string
		Status ordersdb.ReturnStatus
	}
	// RefundExceedsPaid: the refunds would pass what was paid (422).
	RefundExceedsPaid struct{ Paid, Refunded int64 }
)

func (e *OverReturn) Error() string { return "over return" }
func (e *ReturnTransitionRefused) Error() string {
	return "cannot " + e.Action + " a return that is " + string(e.Status)
}
func (e *RefundExceedsPaid) Error() string { return "refund exceeds paid" }

// Code is the refusal's problem code.
func (e *OverReturn) Code() api.ProblemCode { return api.ProblemCodeOverReturn }

// Code is the refusal's problem code.
func (e *ReturnTransitionRefused) Code() api.ProblemCode {
	return api.ProblemCodeInvalidReturnTransition
}

// Code is the refusal's problem code.
func (e *RefundExceedsPaid) Code() api.ProblemCode { return api.ProblemCodeRefundExceedsPaid }

// withReturns is the status of an order whose lines are lines: a fulfilled order (or one that was
// returned to) is fulfilled, partially_returned or returned by what its returns take back; any
// other status stays.
func withReturns(status ordersdb.OrderStatus, lines []ordersdb.OrderLine) ordersdb.OrderStatus {
	switch status {
	case ordersdb.OrderStatusFulfilled, ordersdb.OrderStatusPartiallyReturned, ordersdb.OrderStatusReturned:
	default:
		return status
	}
	var returned, fulfilled int64
	for _, l := range lines {
		returned += l.ReturnedQuantity
		fulfilled += l.FulfilledQuantity
	}
	switch returned {
	case 0:
		return ordersdb.OrderStatusFulfilled
	case fulfilled:
		return ordersdb.OrderStatusReturned
	}
	return ordersdb.OrderStatusPartiallyReturned
}

// recordCancelled records, for an order being cancelled, each line's unshipped remainder as
// cancelled and its value (price × cancelled units) as the order's cancelledTotal: the original
// totals stay as placed. Every line total fits in int64 and they sum to the subtotal, so neither
// can overflow.
func recordCancelled(ctx context.Context, tx db.DBTX, o ordersdb.Order) error {
	q := ordersdb.New(tx)
	lines, err := q.OrderLinesCancelRemainder(ctx, ordersdb.OrderLinesCancelRemainderParams{BrandID: o.BrandID, OrderID: o.ID})
	if err != nil {
		return err
	}
	var total int64
	for _, l := range lines {
		total += l.PriceAmount * l.CancelledQuantity
	}
	return q.OrderSetCancelledTotal(ctx, ordersdb.OrderSetCancelledTotalParams{BrandID: o.BrandID, ID: o.ID, CancelledTotal: total})
}

// touch gives a locked order, whose lines are now lines, the status its returns give it, adds
// refunded to its refunded total and bumps its version; a change of status goes in its history.
func touch(ctx context.Context, tx db.DBTX, o ordersdb.Order, lines []ordersdb.OrderLine, refunded int64, now time.Time) (ordersdb.Order, error) {
	from := o.Status
	o, err := ordersdb.New(tx).OrderTouch(ctx, ordersdb.OrderTouchParams{
		BrandID: o.BrandID, ID: o.ID, Status: withReturns(o.Status, lines), Refunded: refunded, Now: now,
	})
	if err != nil || o.Status == from {
		return o, err
	}
	_, err = event(ctx, tx, o, ordersdb.OrderActionReturn, &from, nil, now)
	return o, err
}

// CreateReturn requests a return of shipped units of an order.
func (h *Handlers) CreateReturn(ctx context.Context, req api.CreateReturnRequestObject) (api.CreateReturnResponseObject, error) {
	body := req.Body
	seen := map[uuid.UUID]int{}
	for i, l := range body.Lines {
		if j, dup := seen[l.LineId]; dup {
			return nil, problem.RefuseField(fmt.Sprintf("lines[%d].lineId", i), fmt.Sprintf("names the same line as lines[%d]", j))
		}
		seen[l.LineId] = i
	}
	now := h.d.Now()
	ret, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Return, error) {
		q := ordersdb.New(tx)
		o, err := lockFor(ctx, q, req.BrandId, req.OrderId, nil, api.OrderActionReturn)
		if err != nil {
			return api.Return{}, err
		}
		lines, err := q.OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: o.BrandID, OrderIds: []uuid.UUID{o.ID}})
		if err != nil {
			return api.Return{}, err
		}
		byID := make(map[uuid.UUID]*ordersdb.OrderLine, len(lines))
		for i := range lines {
			byID[lines[i].ID] = &lines[i]
		}
		var over []api.ProblemLine
		for i, l := range body.Lines {
			ol := byID[l.LineId]
			if ol == nil {
				return api.Return{}, &UnknownLine{Index: i}
			}
			if left := ol.FulfilledQuantity - ol.ReturnedQuantity; l.Quantity > left {
				requested := l.Quantity
				over = append(over, api.ProblemLine{Index: i, ProductId: ol.ProductID, Requested: &requested, Available: &left})
			}
		}
		if len(over) > 0 {
			return api.Return{}, &OverReturn{Lines: over}
		}
		r, err := q.ReturnCreate(ctx, ordersdb.ReturnCreateParams{
			BrandID: o.BrandID, ID: uuid.Must(uuid.NewV7()), OrderID: o.ID, Note: body.Note, CreatedBy: kit.UserID(ctx), Now: now,
		})
		if err != nil {
			return api.Return{}, err
		}
		p := ordersdb.ReturnLinesAddParams{BrandID: o.BrandID, OrderID: o.ID, ReturnID: r.ID}
		for i, l := range body.Lines {
			p.LineIds = append(p.LineIds, l.LineId)
			p.LineNos = append(p.LineNos, int32(i)) //nolint:gosec // at most 250 lines
			p.Quantities = append(p.Quantities, l.Quantity)
			p.Reasons = append(p.Reasons, string(l.Reason))
			if err := q.OrderLineReturn(ctx, ordersdb.OrderLineReturnParams{BrandID: o.BrandID, ID: l.LineId, Quantity: l.Quantity}); err != nil {
				return api.Return{}, err
			}
			byID[l.LineId].ReturnedQuantity += l.Quantity
		}
		if err := q.ReturnLinesAdd(ctx, p); err != nil {
			return api.Return{}, err
		}
		if _, err := touch(ctx, tx, o, lines, 0, now); err != nil {
			return api.Return{}, err
		}
		return emitReturn(ctx, tx, r, api.EventTypeReturnRequested, now)
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.CreateReturn201JSONResponse{Body: ret, Headers: api.CreateReturn201ResponseHeaders{
		ETag:     respond.ETag(ret.Version),
		Location: respond.Location("/brands/", req.BrandId.String(), "/returns/", ret.Id.String()),
	}}, nil
}

// lockReturn locks a return's order (the lock every return transition takes first), then reads the
// return and checks that its status is from: ErrNotFound or *ReturnTransitionRefused.
func lockReturn(ctx context.Context, q *ordersdb.Queries, brand, id uuid.UUID, action string, from ordersdb.ReturnStatus) (ordersdb.Order, ordersdb.Return, error) {
	r, err := q.ReturnGet(ctx, ordersdb.ReturnGetParams{BrandID: brand, ID: id})
	if err != nil {
		return ordersdb.Order{}, ordersdb.Return{}, kit.DBError(err)
	}
	o, err := q.OrderLock(ctx, ordersdb.OrderLockParams{BrandID: brand, ID: r.OrderID})
	if err != nil {
		return ordersdb.Order{}, ordersdb.Return{}, kit.DBError(err)
	}
	// Read again under the order's lock: a concurrent transition of this return has committed.
	if r, err = q.ReturnGet(ctx, ordersdb.ReturnGetParams{BrandID: brand, ID: id}); err != nil {
		return ordersdb.Order{}, ordersdb.Return{}, kit.DBError(err)
	}
	if r.Status != from {
		return ordersdb.Order{}, ordersdb.Return{}, &ReturnTransitionRefused{Action: action, Status: r.Status}
	}
	return o, r, nil
}

// ReceiveReturn receives a requested return: each line back to stock at a location, or written off.
func (h *Handlers) ReceiveReturn(ctx context.Context, req api.ReceiveReturnRequestObject) (api.ReceiveReturnResponseObject, error) {
	body := req.Body
	for i, l := range body.Lines {
		field := fmt.Sprintf("lines[%d].", i)
		switch {
		case l.Disposition == api.DispositionRestock && l.LocationId == nil:
			return nil, problem.RefuseField(field+"locationId", "is required to restock")
		case l.Disposition == api.DispositionRestock && l.WriteOffReason != nil:
			return nil, problem.RefuseField(field+"writeOffReason", "is only for a write-off")
		case l.Disposition == api.DispositionWriteOff && l.LocationId != nil:
			return nil, problem.RefuseField(field+"locationId", "is only for a restock")
		}
	}
	now := h.d.Now()
	ret, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Return, error) {
		q := ordersdb.New(tx)
		o, r, err := lockReturn(ctx, q, req.BrandId, req.ReturnId, "receive", ordersdb.ReturnStatusRequested)
		if err != nil {
			return api.Return{}, err
		}
		rls, err := q.ReturnLines(ctx, ordersdb.ReturnLinesParams{BrandID: o.BrandID, ReturnIds: []uuid.UUID{r.ID}})
		if err != nil {
			return api.Return{}, err
		}
		mine := make(map[uuid.UUID]ordersdb.ReturnLinesRow, len(rls))
		for _, rl := range rls {
			mine[rl.LineID] = rl
		}
		// Every line of the return, each exactly once.
		stated := map[uuid.UUID]int{}
		for i, l := range body.Lines {
			if _, ok := mine[l.LineId]; !ok {
				return api.Return{}, &UnknownLine{Index: i, Message: "is not a line of this return"}
			}
			if j, dup := stated[l.LineId]; dup {
				return api.Return{}, &UnknownLine{Index: i, Message: fmt.Sprintf("names the same line as lines[%d]", j)}
			}
			stated[l.LineId] = i
		}
		for _, rl := range rls {
			if _, ok := stated[rl.LineID]; !ok {
				return api.Return{}, problem.RefuseField("lines", "must state every line of the return; "+rl.LineID.String()+" is missing")
			}
		}
		var restock []inventory.ReturnLine
		for i, l := range body.Lines {
			rl := mine[l.LineId]
			if l.Disposition == api.DispositionRestock {
				restock = append(restock, inventory.ReturnLine{Index: i, Product: rl.ProductID, Location: *l.LocationId, Quantity: rl.Quantity, Reason: string(rl.Reason)})
			}
			if err := q.ReturnLineReceive(ctx, ordersdb.ReturnLineReceiveParams{
				BrandID: o.BrandID, ReturnID: r.ID, LineID: l.LineId, Disposition: ordersdb.NullReturnDisposition{ReturnDisposition: ordersdb.ReturnDisposition(l.Disposition), Valid: true},
				LocationID: l.LocationId, WriteOffReason: l.WriteOffReason,
			}); err != nil {
				return api.Return{}, err
			}
		}
		if len(restock) > 0 {
			if err := inventory.RestockReturn(ctx, tx, o.BrandID, o.ID, r.ID, now, restock); err != nil {
				return api.Return{}, err
			}
		}
		if r, err = q.ReturnTransition(ctx, ordersdb.ReturnTransitionParams{BrandID: o.BrandID, ID: r.ID, Status: ordersdb.ReturnStatusReceived, Now: now}); err != nil {
			return api.Return{}, err
		}
		return emitReturn(ctx, tx, r, api.EventTypeReturnReceived, now)
	})
	if err != nil {
		return nil, returnRefusal(err, true)
	}
	return api.ReceiveReturn200JSONResponse{Body: ret, Headers: api.ReceiveReturn200ResponseHeaders{ETag: respond.ETag(ret.Version)}}, nil
}

// CloseReturn closes a received return.
func (h *Handlers) CloseReturn(ctx context.Context, req api.CloseReturnRequestObject) (api.CloseReturnResponseObject, error) {
	now := h.d.Now()
	ret, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Return, error) {
		q := ordersdb.New(tx)
		o, r, err := lockReturn(ctx, q, req.BrandId, req.ReturnId, "close", ordersdb.ReturnStatusReceived)
		if err != nil {
			return api.Return{}, err
		}
		if r, err = q.ReturnTransition(ctx, ordersdb.ReturnTransitionParams{BrandID: o.BrandID, ID: r.ID, Status: ordersdb.ReturnStatusClosed, Now: now}); err != nil {
			return api.Return{}, err
		}
		return emitReturn(ctx, tx, r, api.EventTypeReturnClosed, now)
	})
	if err != nil {
		return nil, returnRefusal(err, false)
	}
	return api.CloseReturn200JSONResponse{Body: ret, Headers: api.CloseReturn200ResponseHeaders{ETag: respond.ETag(ret.Version)}}, nil
}

// CancelReturn cancels a requested return: its units may be returned again.
func (h *Handlers) CancelReturn(ctx context.Context, req api.CancelReturnRequestObject) (api.CancelReturnResponseObject, error) {
	now := h.d.Now()
	ret, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Return, error) {
		q := ordersdb.New(tx)
		o, r, err := lockReturn(ctx, q, req.BrandId, req.ReturnId, "cancel", ordersdb.ReturnStatusRequested)
		if err != nil {
			return api.Return{}, err
		}
		rls, err := q.ReturnLines(ctx, ordersdb.ReturnLinesParams{BrandID: o.BrandID, ReturnIds: []uuid.UUID{r.ID}})
		if err != nil {
			return api.Return{}, err
		}
		for _, rl := range rls {
			if err := q.OrderLineReturn(ctx, ordersdb.OrderLineReturnParams{BrandID: o.BrandID, ID: rl.LineID, Quantity: -rl.Quantity}); err != nil {
				return api.Return{}, err
			}
		}
		lines, err := q.OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: o.BrandID, OrderIds: []uuid.UUID{o.ID}})
		if err != nil {
			return api.Return{}, err
		}
		if _, err := touch(ctx, tx, o, lines, 0, now); err != nil {
			return api.Return{}, err
		}
		if r, err = q.ReturnTransition(ctx, ordersdb.ReturnTransitionParams{BrandID: o.BrandID, ID: r.ID, Status: ordersdb.ReturnStatusCancelled, Now: now}); err != nil {
			return api.Return{}, err
		}
		return emitReturn(ctx, tx, r, api.EventTypeReturnCancelled, now)
	})
	if err != nil {
		return nil, returnRefusal(err, false)
	}
	return api.CancelReturn200JSONResponse{Body: ret, Headers: api.CancelReturn200ResponseHeaders{ETag: respond.ETag(ret.Version)}}, nil
}

// returnRefusal says a return transition's refusals (a missing return, a status that does not
// allow it, a line the request may not name); with stock, also the stock engine's (a receive's
// restock). Any other err is returned as it is.
func returnRefusal(err error, stock bool) error {
	var (
		rt *ReturnTransitionRefused
		ul *UnknownLine
	)
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return problem.Refuse(api.ProblemCodeNotFound, "No such return in this brand.")
	case errors.As(err, &rt):
		return problem.Refuse(rt.Code(), "Cannot "+rt.Action+" a return that is "+string(rt.Status)+".")
	case errors.As(err, &ul):
		return problem.RefuseField(fmt.Sprintf("lines[%d].lineId", ul.Index), ul.Message)
	case stock:
		return inventory.Refusal(err)
	}
	return err
}

// emitReturn shows r with its lines and tells typ in the brand's feed.
func emitReturn(ctx context.Context, tx db.DBTX, r ordersdb.Return, typ api.EventType, now time.Time) (api.Return, error) {
	rls, err := ordersdb.New(tx).ReturnLines(ctx, ordersdb.ReturnLinesParams{BrandID: r.BrandID, ReturnIds: []uuid.UUID{r.ID}})
	if err != nil {
		return api.Return{}, err
	}
	out := apiReturn(r, rls)
	return out, events.Emit(ctx, db.New(tx), r.BrandID, now, events.Event{
		Type: typ, Data: out, Aggregate: events.Aggregate{Type: api.EventAggregateTypeReturn, ID: r.ID, Version: r.Version},
	})
}

// apiReturn shows a return with its lines; rls may hold other returns' lines, which are skipped.
func apiReturn(r ordersdb.Return, rls []ordersdb.ReturnLinesRow) api.Return {
	out := api.Return{
		Id: r.ID, OrderId: r.OrderID, Status: api.ReturnStatus(r.Status), Lines: []api.ReturnLine{}, Note: r.Note, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), ReceivedAt: utc(r.ReceivedAt), ClosedAt: utc(r.ClosedAt), CancelledAt: utc(r.CancelledAt),
	}
	for _, l := range rls {
		if l.ReturnID != r.ID {
			continue
		}
		line := api.ReturnLine{
			LineId: l.LineID, ProductId: l.ProductID, Quantity: l.Quantity, Reason: api.ReturnReason(l.Reason),
			LocationId: l.LocationID, WriteOffReason: l.WriteOffReason,
		}
		if l.Disposition.Valid {
			d := api.ReturnDisposition(l.Disposition.ReturnDisposition)
			line.Disposition = &d
		}
		out.Lines = append(out.Lines, line)
	}
	return out
}

// GetReturn answers one return.
func (h *Handlers) GetReturn(ctx context.Context, req api.GetReturnRequestObject) (api.GetReturnResponseObject, error) {
	ret, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Return, error) {
		q := ordersdb.New(tx)
		r, err := q.ReturnGet(ctx, ordersdb.ReturnGetParams{BrandID: req.BrandId, ID: req.ReturnId})
		if err != nil {
			return api.Return{}, kit.DBError(err)
		}
		rls, err := q.ReturnLines(ctx, ordersdb.ReturnLinesParams{BrandID: req.BrandId, ReturnIds: []uuid.UUID{r.ID}})
		return apiReturn(r, rls), err
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such return in this brand.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetReturn200JSONResponse{Body: ret, Headers: api.GetReturn200ResponseHeaders{ETag: respond.ETag(ret.Version)}}, nil
}

// listReturns pages through the brand's returns, or one order's (checked to exist), newest first.
func (h *Handlers) listReturns(ctx context.Context, brand uuid.UUID, order *uuid.UUID, status *api.ReturnStatus, cursor *string, limit *int) (paging.Page[api.Return], error) {
	var st ordersdb.NullReturnStatus
	if status != nil {
		st = ordersdb.NullReturnStatus{ReturnStatus: ordersdb.ReturnStatus(*status), Valid: true}
	}
	scope := "returns/" + brand.String()
	if order != nil {
		scope = "order-returns/" + order.String()
	}
	type row struct {
		r     ordersdb.Return
		lines []ordersdb.ReturnLinesRow
	}
	page, err := paging.List(h.d.Cursors, scope, cursor, limit,
		func(after *idPosition, limit int32) ([]row, error) {
			return kit.InBrandDB(ctx, h.d, brand, func(tx db.DBTX) ([]row, error) {
				q := ordersdb.New(tx)
				if order != nil {
					if _, err := q.OrderGet(ctx, ordersdb.OrderGetParams{BrandID: brand, ID: *order}); err != nil {
						return nil, kit.DBError(err)
					}
				}
				rs, err := q.ReturnList(ctx, ordersdb.ReturnListParams{BrandID: brand, OrderID: order, Status: st, BeforeID: after.id(), RowLimit: limit})
				if err != nil || len(rs) == 0 {
					return nil, err
				}
				ids := make([]uuid.UUID, len(rs))
				for i, r := range rs {
					ids[i] = r.ID
				}
				rls, err := q.ReturnLines(ctx, ordersdb.ReturnLinesParams{BrandID: brand, ReturnIds: ids})
				if err != nil {
					return nil, err
				}
				out := make([]row, len(rs))
				for i, r := range rs {
					out[i] = row{r: r, lines: rls}
				}
				return out, nil
			})
		},
		func(r row) idPosition { return idPosition{ID: r.r.ID} },
		func(r row) (api.Return, error) { return apiReturn(r.r, r.lines), nil })
	if errors.Is(err, kit.ErrNotFound) {
		return page, problem.Refuse(api.ProblemCodeNotFound, "No such order.")
	}
	return page, err
}

// ListReturns pages through the brand's returns, newest first, by status if asked.
func (h *Handlers) ListReturns(ctx context.Context, req api.ListReturnsRequestObject) (api.ListReturnsResponseObject, error) {
	page, err := h.listReturns(ctx, req.BrandId, nil, req.Params.Status, req.Params.Cursor, req.Params.Limit)
	if err != nil {
		return nil, err
	}
	return api.ListReturns200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// ListOrderReturns pages through an order's returns, newest first.
func (h *Handlers) ListOrderReturns(ctx context.Context, req api.ListOrderReturnsRequestObject) (api.ListOrderReturnsResponseObject, error) {
	page, err := h.listReturns(ctx, req.BrandId, &req.OrderId, nil, req.Params.Cursor, req.Params.Limit)
	if err != nil {
		return nil, err
	}
	return api.ListOrderReturns200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}
