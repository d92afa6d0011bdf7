package purchasing

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// CreatePurchaseOrderReceipt receives stock of an ordered PO: per line a `receipt` movement
// with the line's unit cost (the product's average cost moves with it), the line's received
// quantity, incoming and the PO's status, all in one transaction on the locked PO, so that
// concurrent receipts of one PO serialize and never together receive more than was ordered.
func (h *Handlers) CreatePurchaseOrderReceipt(ctx context.Context, req api.CreatePurchaseOrderReceiptRequestObject) (api.CreatePurchaseOrderReceiptResponseObject, error) {
	body := req.Body
	allowOver := body.AllowOverReceipt != nil && *body.AllowOverReceipt
	// Lines naming the same PO line are summed, in the order each first appears.
	var order []uuid.UUID
	first, want := map[uuid.UUID]int{}, map[uuid.UUID]int64{}
	for i, l := range body.Lines {
		if _, seen := first[l.LineId]; !seen {
			first[l.LineId] = i
			order = append(order, l.LineId)
		}
		want[l.LineId] += l.Quantity
	}
	now := h.d.Now()
	out, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.PurchaseOrderReceipt, error) {
		q := db.New(tx)
		po, err := lockFor(ctx, q, req.BrandId, req.PurchaseOrderId, req.Params.IfMatch, api.PurchaseOrderActionReceive)
		if err != nil {
			return api.PurchaseOrderReceipt{}, err
		}
		lines, err := q.PurchaseOrderLines(ctx, db.PurchaseOrderLinesParams{BrandID: po.BrandID, PurchaseOrderIds: []uuid.UUID{po.ID}})
		if err != nil {
			return api.PurchaseOrderReceipt{}, err
		}
		byID := make(map[uuid.UUID]*db.PurchaseOrderLinesRow, len(lines))
		for i := range lines {
			byID[lines[i].ID] = &lines[i]
		}
		var unknown []api.FieldError
		var over []api.ProblemLine
		products := make([]uuid.UUID, 0, len(order))
		for _, id := range order {
			l := byID[id]
			if l == nil {
				unknown = append(unknown, api.FieldError{Field: fmt.Sprintf("lines[%d].lineId", first[id]), Message: "is not a line of this purchase order"})
				continue
			}
			products = append(products, l.ProductID)
			if outstanding := max(l.Quantity-l.ReceivedQuantity, 0); want[id] > outstanding && !allowOver {
				requested := want[id]
				over = append(over, api.ProblemLine{Index: first[id], ProductId: l.ProductID, Requested: &requested, Available: &outstanding})
			}
		}
		if len(unknown) > 0 {
			return api.PurchaseOrderReceipt{}, problem.RefuseFields(unknown)
		}
		if len(over) > 0 {
			return api.PurchaseOrderReceipt{}, &OverReceipt{Lines: over}
		}
		st, err := inventory.Open(ctx, tx, po.BrandID, now, inventory.PurchaseScope(po.LocationID, products))
		if err != nil {
			return api.PurchaseOrderReceipt{}, err
		}
		var limit []api.ProblemLine
		for _, id := range order {
			lv := inventory.Level{Product: byID[id].ProductID, Location: po.LocationID}
			if !st.Fits(lv, want[id]) {
				onHand, loc := st.OnHand(lv), po.LocationID
				requested := want[id]
				limit = append(limit, api.ProblemLine{Index: first[id], ProductId: lv.Product, LocationId: &loc, Requested: &requested, OnHand: &onHand})
			}
		}
		if len(limit) > 0 {
			return api.PurchaseOrderReceipt{}, &inventory.QuantityLimit{Lines: limit}
		}
		reference := Reference(po.Number)
		if body.Reference != nil {
			reference = *body.Reference
		}
		// Received in product order: each costed receipt locks its product's cost row, and two
		// receipts naming the same products in opposite orders would otherwise wait on each other.
		byProduct := slices.Clone(order)
		slices.SortFunc(byProduct, func(a, b uuid.UUID) int {
			pa, pb := byID[a].ProductID, byID[b].ProductID
			return bytes.Compare(pa[:], pb[:])
		})
		for _, id := range byProduct {
			l := byID[id]
			lv := inventory.Level{Product: l.ProductID, Location: po.LocationID}
			cost := l.UnitCost
			if err := st.Receive(ctx, inventory.Receipt{
				Level: lv, Quantity: want[id], UnitCost: &cost, PO: &po.ID, Note: inventory.Note{Reference: &reference}, Line: first[id],
			}); err != nil {
				return api.PurchaseOrderReceipt{}, err
			}
			// What arrived is no longer on its way; an excess never was.
			if err := st.Expect(ctx, lv, -min(want[id], max(l.Quantity-l.ReceivedQuantity, 0))); err != nil {
				return api.PurchaseOrderReceipt{}, err
			}
			if err := q.PurchaseOrderLineReceive(ctx, db.PurchaseOrderLineReceiveParams{BrandID: po.BrandID, ID: id, Quantity: want[id]}); err != nil {
				return api.PurchaseOrderReceipt{}, err
			}
			l.ReceivedQuantity += want[id]
		}
		status := db.PurchaseOrderStatusReceived
		for _, l := range lines {
			if l.ReceivedQuantity < l.Quantity {
				status = db.PurchaseOrderStatusPartiallyReceived
			}
		}
		if po, err = q.PurchaseOrderTransition(ctx, db.PurchaseOrderTransitionParams{BrandID: po.BrandID, ID: po.ID, Status: status, Now: now}); err != nil {
			return api.PurchaseOrderReceipt{}, err
		}
		out, err := emit(ctx, q, po, api.EventTypePurchaseOrderReceived, now)
		if err != nil {
			return api.PurchaseOrderReceipt{}, err
		}
		change := st.Change()
		return api.PurchaseOrderReceipt{PurchaseOrder: out, MovementIds: change.MovementIds, Levels: change.Levels}, nil
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.CreatePurchaseOrderReceipt201JSONResponse{Body: out, Headers: api.CreatePurchaseOrderReceipt201ResponseHeaders{
		ETag: respond.ETag(out.PurchaseOrder.Version),
	}}, nil
}
