// Package orders is orders: their creation (priced, numbered, with their stock held), the state
// machine (confirm, fulfil, cancel), fulfilments and the pending-order sweeper. Stock changes only
// through inventory's engine, inside the order's own transaction.
package orders

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// Handlers implements the orders operations of api.StrictServerInterface.
type Handlers struct {
	d *kit.Deps
}

// New returns the orders handlers.
func New(d *kit.Deps) *Handlers {
	return &Handlers{d: d}
}

// The state machine, exactly as the README draws it:
//
//	pending ──confirm──▶ confirmed ──fulfil (part)──▶ partially_fulfilled ──fulfil (rest)──▶ fulfilled
//	   │                    │                               │                                  │
//	   └──────cancel────────┴──────────cancel───────────────┘──▶ cancelled          return (part)
//	                                                                                           ▼
//	                                       returned ◀──return (rest)── partially_returned
//
// Returns (returns.go) take shipped units back: a partially fulfilled order keeps its status, a
// fulfilled one becomes partially_returned or returned (withReturns).
var transitions = map[ordersdb.OrderStatus][]api.OrderAction{
	ordersdb.OrderStatusPending:            {api.OrderActionConfirm, api.OrderActionCancel},
	ordersdb.OrderStatusConfirmed:          {api.OrderActionFulfil, api.OrderActionCancel},
	ordersdb.OrderStatusPartiallyFulfilled: {api.OrderActionFulfil, api.OrderActionCancel, api.OrderActionReturn},
	ordersdb.OrderStatusFulfilled:          {api.OrderActionReturn},
	ordersdb.OrderStatusCancelled:          {},
	ordersdb.OrderStatusPartiallyReturned:  {api.OrderActionReturn},
	ordersdb.OrderStatusReturned:           {},
}

// Allowed lists the actions status allows.
func Allowed(status ordersdb.OrderStatus) []api.OrderAction {
	return slices.Clone(transitions[status])
}

// TransitionRefused: the order's status does not allow the action (409 invalid_order_transition).
type TransitionRefused struct {
	Action api.OrderAction
	Status ordersdb.OrderStatus
}

func (e *TransitionRefused) Error() string {
	return "cannot " + string(e.Action) + " an order that is " + string(e.Status)
}

// Code is the refusal's problem code; server/problem's table gives its status.
func (e *TransitionRefused) Code() api.ProblemCode { return api.ProblemCodeInvalidOrderTransition }

// Refusals of order creation and fulfilment.
type (
	// CurrencyMismatch: lines priced in more than one currency (422).
	CurrencyMismatch struct{ Currencies []string }
	// AmountOverflow: a line total or the order total past int64 (422), from line Index or, when
	// Field is set, at that request field.
	AmountOverflow struct {
		Index int
		Field string
	}
	// OverFulfilment: more than lines' unfulfilled quantities (422).
	OverFulfilment struct{ Lines []api.ProblemLine }
	// UnknownLine: a fulfilment (return, refund) names a line that is not the order's (400), or
	// one the request may not name (Message says why).
	UnknownLine struct {
		Index   int
		Message string
	}
	// ExternalReferenceTaken: another order of the brand has this externalReference (409).
	ExternalReferenceTaken struct{}
)

func (e *CurrencyMismatch) Error() string       { return "lines in several currencies" }
func (e *AmountOverflow) Error() string         { return "amount overflow" }
func (e *OverFulfilment) Error() string         { return "over fulfilment" }
func (e *UnknownLine) Error() string            { return "unknown line" }
func (e *ExternalReferenceTaken) Error() string { return "external reference taken" }

// Code is the refusal's problem code.
func (e *CurrencyMismatch) Code() api.ProblemCode { return api.ProblemCodeCurrencyMismatch }

// Code is the refusal's problem code.
func (e *AmountOverflow) Code() api.ProblemCode { return api.ProblemCodeAmountOverflow }

// Code is the refusal's problem code.
func (e *OverFulfilment) Code() api.ProblemCode { return api.ProblemCodeOverFulfilment }

// Code is the refusal's problem code (a request naming a line the order lacks is invalid).
func (e *UnknownLine) Code() api.ProblemCode { return api.ProblemCodeValidationFailed }

// Code is the refusal's problem code.
func (e *ExternalReferenceTaken) Code() api.ProblemCode { return api.ProblemCodeExternalReferenceTaken }

// lockFor locks the order (the first lock of every transition) and checks If-Match and the
// state machine: ErrNotFound, ErrStale or *TransitionRefused.
func lockFor(ctx context.Context, q *ordersdb.Queries, brand, id uuid.UUID, ifMatch *string, action api.OrderAction) (ordersdb.Order, error) {
	o, err := q.OrderLock(ctx, ordersdb.OrderLockParams{BrandID: brand, ID: id})
	if err != nil {
		return ordersdb.Order{}, kit.DBError(err)
	}
	if versions := respond.IfMatch(ifMatch); versions != nil && !slices.Contains(versions, o.Version) {
		return ordersdb.Order{}, kit.ErrStale
	}
	if !slices.Contains(transitions[o.Status], action) {
		return ordersdb.Order{}, &TransitionRefused{Action: action, Status: o.Status}
	}
	return o, nil
}

// event records a transition (actor: the caller, or none for the sweeper) and returns the order
// as it now is (load, then recorded).
func event(ctx context.Context, tx db.DBTX, o ordersdb.Order, action ordersdb.OrderAction, from *ordersdb.OrderStatus, reason *string, now time.Time) (api.Order, error) {
	order, err := load(ctx, tx, o)
	if err != nil {
		return order, err
	}
	return order, recorded(ctx, tx, o, order, action, from, reason, now)
}

// recorded writes the order's history row and the event of its new status in the brand's feed,
// with order (o as the API shows it). Nothing waits for either: both travel with the transaction's
// COMMIT (kit.SendWithCommit), which the order's creation relies on, since it holds the brand's
// order counter until then.
func recorded(ctx context.Context, tx db.DBTX, o ordersdb.Order, order api.Order, action ordersdb.OrderAction, from *ordersdb.OrderStatus, reason *string, now time.Time) error {
	var fromStatus ordersdb.NullOrderStatus
	if from != nil {
		fromStatus = ordersdb.NullOrderStatus{OrderStatus: *from, Valid: true}
	}
	if err := ordersdb.New(tx).OrderEventAdd(kit.SendWithCommit(ctx), ordersdb.OrderEventAddParams{
		BrandID: o.BrandID, OrderID: o.ID, ID: uuid.Must(uuid.NewV7()), Action: action, FromStatus: fromStatus,
		Status: o.Status, ActorID: kit.UserID(ctx), Reason: reason, RequestID: kit.RequestID(ctx), Now: now,
	}); err != nil {
		return err
	}
	if o.Status == ordersdb.OrderStatusPartiallyReturned || o.Status == ordersdb.OrderStatusReturned {
		// A return's own events (return.requested, return.cancelled) tell this change, with the
		// return that made it; the order's history above records the status.
		return nil
	}
	return events.Emit(ctx, db.New(tx), o.BrandID, now, orderEvent(eventType(o.Status, ctx, reason), o, order))
}

// orderEvent is the feed's event of type about o, carrying order (o as the API shows it).
func orderEvent(typ api.EventType, o ordersdb.Order, order api.Order) events.Event {
	return events.Event{Type: typ, Data: order, Aggregate: events.Aggregate{Type: api.EventAggregateTypeOrder, ID: o.ID, Version: o.Version}}
}

// eventType is the feed's name for an order reaching status: a cancellation by the pending-order
// sweeper (no caller, reason `expired`) is order.expired.
func eventType(status ordersdb.OrderStatus, ctx context.Context, reason *string) api.EventType {
	switch status {
	case ordersdb.OrderStatusPending:
		return api.EventTypeOrderCreated
	case ordersdb.OrderStatusConfirmed:
		return api.EventTypeOrderConfirmed
	case ordersdb.OrderStatusPartiallyFulfilled:
		return api.EventTypeOrderPartiallyFulfilled
	case ordersdb.OrderStatusFulfilled:
		return api.EventTypeOrderFulfilled
	}
	if kit.UserID(ctx) == nil && reason != nil && *reason == ExpiredReason {
		return api.EventTypeOrderExpired
	}
	return api.EventTypeOrderCancelled
}

// load reads an order's lines and allocations and shows the order.
func load(ctx context.Context, tx db.DBTX, o ordersdb.Order) (api.Order, error) {
	lines, allocs, err := contents(ctx, tx, o.BrandID, o.ID)
	if err != nil {
		return api.Order{}, err
	}
	return apiOrder(o, lines, allocs)
}

// contents reads orders' lines and where they hold stock (or wait for it).
func contents(ctx context.Context, tx db.DBTX, brand uuid.UUID, ids ...uuid.UUID) ([]ordersdb.OrderLine, []inventory.OrderHold, error) {
	lines, err := ordersdb.New(tx).OrderLines(ctx, ordersdb.OrderLinesParams{BrandID: brand, OrderIds: ids})
	if err != nil {
		return nil, nil, err
	}
	allocs, err := inventory.OrderHolds(ctx, tx, brand, ids)
	return lines, allocs, err
}

// apiOrder shows an order with its lines (in line order) and their allocations; lines and allocs
// may hold other orders' rows, which are skipped.
func apiOrder(o ordersdb.Order, lines []ordersdb.OrderLine, allocs []inventory.OrderHold) (api.Order, error) {
	var addr api.Address
	if err := json.Unmarshal(o.ShippingAddress, &addr); err != nil {
		return api.Order{}, err
	}
	discounts, err := fromJSONArray[api.Discount](o.Discounts)
	if err != nil {
		return api.Order{}, err
	}
	taxes, err := fromJSONArray[api.TaxLine](o.TaxLines)
	if err != nil {
		return api.Order{}, err
	}
	out := api.Order{
		Id: o.ID, BrandId: o.BrandID, Number: o.Number, Status: api.OrderStatus(o.Status), AllowedActions: Allowed(o.Status),
		Currency: o.Currency, Lines: []api.OrderLine{}, Subtotal: o.Subtotal, Total: o.Total,
		CustomerId: o.CustomerID, ShippingAmount: o.ShippingAmount, ShippingMethod: o.ShippingMethod, ShippingTotal: o.ShippingAmount,
		Discounts: discounts, TaxLines: taxes, DiscountTotal: o.DiscountTotal, TaxTotal: o.TaxTotal,
		CancelledTotal: o.CancelledTotal, RefundedTotal: o.RefundedTotal,
		Customer:        api.Customer{Email: openapi_types.Email(o.CustomerEmail), Name: o.CustomerName, Phone: o.CustomerPhone},
		ShippingAddress: addr, Note: o.Note, ExternalReference: o.ExternalReference, ReservationId: o.ReservationID,
		PaymentReference: o.PaymentReference, CancelReason: o.CancelReason, Version: o.Version,
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(), ConfirmedAt: utc(o.ConfirmedAt), CancelledAt: utc(o.CancelledAt),
	}
	for _, l := range lines {
		if l.OrderID != o.ID {
			continue
		}
		ov, err := inventory.OptionValues(l.OptionValues) // a variant's, as sold
		if err != nil {
			return api.Order{}, err
		}
		ld, err := fromJSONArray[api.Discount](l.Discounts)
		if err != nil {
			return api.Order{}, err
		}
		lt, err := fromJSONArray[api.TaxLine](l.TaxLines)
		if err != nil {
			return api.Order{}, err
		}
		line := api.OrderLine{
			Id: l.ID, ProductId: l.ProductID, Sku: l.Sku, Name: l.Name, OptionValues: ov, PriceAmount: l.PriceAmount, Currency: l.Currency,
			Quantity: l.Quantity, FulfilledQuantity: l.FulfilledQuantity, LineTotal: l.LineTotal, Allocations: []api.OrderAllocation{},
			QuantityFulfilled: l.FulfilledQuantity, QuantityCancelled: l.CancelledQuantity, QuantityReturned: l.ReturnedQuantity,
			Discounts: ld, TaxLines: lt, DiscountTotal: l.DiscountTotal, TaxTotal: l.TaxTotal,
		}
		for _, a := range allocs {
			if a.Order == o.ID && a.Line == l.ID && a.Backordered > 0 {
				line.QuantityBackordered += a.Backordered
				line.BackorderLocationId = &a.Location
				out.Backordered = true
				continue
			}
			if a.Order == o.ID && a.Line == l.ID {
				line.Allocations = append(line.Allocations, api.OrderAllocation{LocationId: a.Location, Quantity: a.Quantity, FulfilledQuantity: a.Fulfilled})
			}
		}
		out.Lines = append(out.Lines, line)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// refusal is the refusal an error of orders or of the stock engine reads as: one place says each
// one's code and detail. Any other err is returned as it is.
func refusal(err error) error {
	var (
		tr    *TransitionRefused
		cm    *CurrencyMismatch
		ao    *AmountOverflow
		of    *OverFulfilment
		ul    *UnknownLine
		et    *ExternalReferenceTaken
		dt    *DiscountTooLarge
		cmiss *CustomerMissing
		orr   *OverReturn
		rep   *RefundExceedsPaid
	)
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return problem.Refuse(api.ProblemCodeNotFound, "No such order, or reservation, in this brand.")
	case errors.As(err, &ul) && ul.Message != "":
		return problem.RefuseField("lines["+itoa(ul.Index)+"].lineId", ul.Message)
	case errors.As(err, &ul):
		return problem.RefuseField("lines["+itoa(ul.Index)+"].lineId", "is not a line of this order")
	case errors.As(err, &tr):
		status, allowed := api.OrderStatus(tr.Status), Allowed(tr.Status)
		return &problem.Error{
			Code:   tr.Code(),
			Detail: "Cannot " + string(tr.Action) + " an order that is " + string(tr.Status) + "; `allowedActions` lists what it allows.",
			Extend: func(p *api.Problem) { p.CurrentStatus, p.AllowedActions = &status, &allowed },
		}
	case errors.As(err, &et):
		return problem.Refuse(et.Code(), "Another order of this brand has this externalReference.")
	case errors.As(err, &cm):
		return problem.Refuse(cm.Code(), "An order has one currency; its products are priced in several.")
	case errors.As(err, &ao) && ao.Field != "":
		return problem.Refuse(ao.Code(), "The order's total does not fit in 64-bit minor units (at `"+ao.Field+"`).")
	case errors.As(err, &ao):
		return problem.Refuse(ao.Code(), "The order's total does not fit in 64-bit minor units (from line "+itoa(ao.Index)+").")
	case errors.As(err, &dt):
		return problem.Refuse(dt.Code(), "The discounts at `"+dt.Field+"` take off more than what they apply to.")
	case errors.As(err, &cmiss):
		return problem.Refuse(cmiss.Code(), "No such customer in this brand.")
	case errors.As(err, &orr):
		return &problem.Error{
			Code:   orr.Code(),
			Detail: "More than a line's shipped quantity less what earlier returns took; `lines` gives what may still be returned.",
			Extend: func(p *api.Problem) { p.Lines = &orr.Lines },
		}
	case errors.As(err, &rep):
		return problem.Refuse(rep.Code(), "The refund would take the refunded total to more than was paid ("+strconv.FormatInt(rep.Paid, 10)+
			", of which "+strconv.FormatInt(rep.Refunded, 10)+" is refunded already).")
	case errors.As(err, &of):
		return &problem.Error{
			Code:   of.Code(),
			Detail: "More than a line's unfulfilled quantity; `lines` gives what is left to ship.",
			Extend: func(p *api.Problem) { p.Lines = &of.Lines },
		}
	}
	// The stock engine's refusals read the same whoever met them.
	return inventory.Refusal(err)
}

func itoa(i int) string { return strconv.Itoa(i) }
