// Package purchasing is where stock comes from: suppliers, purchase orders (numbered per brand,
// gapless, PO-1001), their receipts, reorder suggestions and what the stock is worth. Stock moves
// only through inventory's engine, inside the purchase order's own transaction: a submitted PO's
// quantities become `incoming` on its destination's levels (Stock.Expect), a receipt is a
// `receipt` movement with the line's unit cost (Stock.Receive) that also moves the product's
// average cost.
package purchasing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// Handlers implements the purchasing operations of api.StrictServerInterface.
type Handlers struct {
	d *kit.Deps
	// totals caches the valuation's totals (valuation_cache.go).
	totals *totalsCache
}

// New returns the purchasing handlers.
func New(d *kit.Deps) *Handlers {
	return &Handlers{d: d, totals: newTotalsCache()}
}

// The state machine, as openapi.yaml's PurchaseOrderStatus draws it:
//
//	draft ──submit──▶ ordered ──receive (part)──▶ partially_received ──receive (rest)──▶ received
//	  │                 │                                │
//	  └────cancel───────┴──▶ cancelled                   └──close──▶ closed
var transitions = map[db.PurchaseOrderStatus][]api.PurchaseOrderAction{
	db.PurchaseOrderStatusDraft:             {api.PurchaseOrderActionUpdate, api.PurchaseOrderActionSubmit, api.PurchaseOrderActionCancel},
	db.PurchaseOrderStatusOrdered:           {api.PurchaseOrderActionReceive, api.PurchaseOrderActionCancel},
	db.PurchaseOrderStatusPartiallyReceived: {api.PurchaseOrderActionReceive, api.PurchaseOrderActionClose},
	db.PurchaseOrderStatusReceived:          {},
	db.PurchaseOrderStatusCancelled:         {},
	db.PurchaseOrderStatusClosed:            {},
}

// Allowed lists the actions status allows.
func Allowed(status db.PurchaseOrderStatus) []api.PurchaseOrderAction {
	return slices.Clone(transitions[status])
}

// Refusals of purchasing; each knows its code, server/problem's table its status.
type (
	// TransitionRefused: the PO's status does not allow the action (409).
	TransitionRefused struct {
		Action api.PurchaseOrderAction
		Status db.PurchaseOrderStatus
	}
	// OverReceipt: more than lines' outstanding quantities without allowOverReceipt (422).
	OverReceipt struct{ Lines []api.ProblemLine }
	// SupplierArchived: a PO names an archived supplier (422).
	SupplierArchived struct{ ID uuid.UUID }
	// CurrencyMismatch: a line's product is priced in another currency than the PO's (422).
	CurrencyMismatch struct {
		Index    int
		Currency string
	}
	// AmountOverflow: the PO's total does not fit in int64 (422).
	AmountOverflow struct{}
	// Missing: the named supplier, location or product is not the brand's (404).
	Missing struct{ What string }
)

func (e *TransitionRefused) Error() string {
	return "cannot " + string(e.Action) + " a purchase order that is " + string(e.Status)
}
func (e *OverReceipt) Error() string      { return "over receipt" }
func (e *SupplierArchived) Error() string { return "supplier archived" }
func (e *CurrencyMismatch) Error() string { return "currency mismatch" }
func (e *AmountOverflow) Error() string   { return "amount overflow" }
func (e *Missing) Error() string          { return "no such " + e.What }

// Code is the refusal's problem code: updating a PO that is no longer a draft has its own.
func (e *TransitionRefused) Code() api.ProblemCode {
	if e.Action == api.PurchaseOrderActionUpdate {
		return api.ProblemCodePurchaseOrderNotDraft
	}
	return api.ProblemCodeInvalidPurchaseOrderTransition
}

// Code is the refusal's problem code.
func (e *OverReceipt) Code() api.ProblemCode { return api.ProblemCodeOverReceipt }

// Code is the refusal's problem code.
func (e *SupplierArchived) Code() api.ProblemCode { return api.ProblemCodeSupplierArchived }

// Code is the refusal's problem code.
func (e *CurrencyMismatch) Code() api.ProblemCode { return api.ProblemCodeCurrencyMismatch }

// Code is the refusal's problem code.
func (e *AmountOverflow) Code() api.ProblemCode { return api.ProblemCodeAmountOverflow }

// Code is the refusal's problem code.
func (e *Missing) Code() api.ProblemCode { return api.ProblemCodeNotFound }

// refusal is the problem an error of purchasing (or of the stock engine) reads as.
func refusal(err error) error {
	var (
		tr *TransitionRefused
		or *OverReceipt
		sa *SupplierArchived
		cm *CurrencyMismatch
		ao *AmountOverflow
		mi *Missing
	)
	switch {
	case errors.Is(err, kit.ErrStale):
		return respond.PreconditionFailed("purchase order")
	case errors.Is(err, kit.ErrNotFound):
		return problem.Refuse(api.ProblemCodeNotFound, "No such purchase order in this brand.")
	case errors.As(err, &mi):
		return problem.Refuse(mi.Code(), "No such "+mi.What+" in this brand.")
	case errors.As(err, &tr):
		if tr.Action == api.PurchaseOrderActionUpdate {
			return problem.Refuse(tr.Code(), "Only a draft purchase order changes; this one is "+string(tr.Status)+".")
		}
		return problem.Refuse(tr.Code(), "Cannot "+string(tr.Action)+" a purchase order that is "+string(tr.Status)+"; its `allowedActions` lists what it allows.")
	case errors.As(err, &or):
		return &problem.Error{Code: or.Code(), Detail: "More than a line's outstanding quantity; `lines` gives what is outstanding (send allowOverReceipt to accept it).",
			Extend: func(p *api.Problem) { p.Lines = &or.Lines }}
	case errors.As(err, &sa):
		return problem.Refuse(sa.Code(), "Supplier "+sa.ID.String()+" is archived.")
	case errors.As(err, &cm):
		return problem.Refuse(cm.Code(), fmt.Sprintf("The product of line %d is priced in %s: a purchase order's lines share its currency (a product's cost is kept in its own).", cm.Index, cm.Currency))
	case errors.As(err, &ao):
		return problem.Refuse(ao.Code(), "The purchase order's total does not fit in 64-bit minor units.")
	}
	return inventory.Refusal(err)
}

// lockFor locks the PO (the first lock of every change) and checks If-Match and the state
// machine: kit.ErrNotFound, kit.ErrStale or *TransitionRefused.
func lockFor(ctx context.Context, q *db.Queries, brand, id uuid.UUID, ifMatch *string, action api.PurchaseOrderAction) (db.PurchaseOrder, error) {
	po, err := q.PurchaseOrderLock(ctx, db.PurchaseOrderLockParams{BrandID: brand, ID: id})
	if err != nil {
		return db.PurchaseOrder{}, kit.DBError(err)
	}
	if versions := respond.IfMatch(ifMatch); versions != nil && !slices.Contains(versions, po.Version) {
		return db.PurchaseOrder{}, kit.ErrStale
	}
	if !slices.Contains(transitions[po.Status], action) {
		return db.PurchaseOrder{}, &TransitionRefused{Action: action, Status: po.Status}
	}
	return po, nil
}

// Reference is how people see a PO's number.
func Reference(number int64) string { return "PO-" + strconv.FormatInt(number, 10) }

// load reads a PO's lines and shows it.
func load(ctx context.Context, q *db.Queries, po db.PurchaseOrder) (api.PurchaseOrder, error) {
	lines, err := q.PurchaseOrderLines(ctx, db.PurchaseOrderLinesParams{BrandID: po.BrandID, PurchaseOrderIds: []uuid.UUID{po.ID}})
	if err != nil {
		return api.PurchaseOrder{}, err
	}
	return apiPO(po, lines), nil
}

// apiPO shows a PO with its lines (lines may hold other POs' rows, which are skipped).
func apiPO(po db.PurchaseOrder, lines []db.PurchaseOrderLinesRow) api.PurchaseOrder {
	out := api.PurchaseOrder{
		Id: po.ID, BrandId: po.BrandID, Number: po.Number, Reference: Reference(po.Number), SupplierId: po.SupplierID,
		LocationId: po.LocationID, Status: api.PurchaseOrderStatus(po.Status), AllowedActions: Allowed(po.Status),
		Currency: po.Currency, ExpectedDate: fromDate(po.ExpectedOn), Notes: po.Notes, Lines: []api.PurchaseOrderLine{},
		Version: po.Version, OrderedAt: utc(po.OrderedAt), EndedAt: utc(po.EndedAt), CreatedAt: po.CreatedAt.UTC(), UpdatedAt: po.UpdatedAt.UTC(),
	}
	for _, l := range lines {
		if l.PurchaseOrderID != po.ID {
			continue
		}
		out.Lines = append(out.Lines, api.PurchaseOrderLine{
			Id: l.ID, ProductId: l.ProductID, Sku: l.Sku, Quantity: l.Quantity, UnitCost: l.UnitCost, ReceivedQuantity: l.ReceivedQuantity,
		})
		// Checked when the lines were written (total): cannot overflow here.
		out.Total += l.Quantity * l.UnitCost
	}
	return out
}

// emit writes the event typ about a PO as it now is, in q's transaction, and returns the PO.
func emit(ctx context.Context, q *db.Queries, po db.PurchaseOrder, typ api.EventType, now time.Time) (api.PurchaseOrder, error) {
	out, err := load(ctx, q, po)
	if err != nil {
		return out, err
	}
	return out, events.Emit(ctx, q, po.BrandID, now, events.Event{
		Type: typ, Data: out, Aggregate: events.Aggregate{Type: api.EventAggregateTypePurchaseOrder, ID: po.ID, Version: po.Version},
	})
}

// total is Σ quantity × unitCost of lines, or false past int64 (both factors are ≥ 0).
func total(lines []api.PurchaseOrderRequestLine) (int64, bool) {
	var sum int64
	for _, l := range lines {
		hi, lo := bits.Mul64(uint64(l.Quantity), uint64(l.UnitCost)) //nolint:gosec // both ≥ 0 (the spec's minimums)
		if hi != 0 || lo > math.MaxInt64 || int64(lo) > math.MaxInt64-sum {
			return 0, false
		}
		sum += int64(lo)
	}
	return sum, true
}

func fromDate(d pgtype.Date) *openapi_types.Date {
	if !d.Valid {
		return nil
	}
	return &openapi_types.Date{Time: d.Time}
}

func toDate(d *openapi_types.Date) pgtype.Date {
	if d == nil {
		return pgtype.Date{}
	}
	return pgtype.Date{Time: d.Time, Valid: true}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
