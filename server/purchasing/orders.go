package purchasing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// duplicateProducts names the lines that repeat an earlier line's product: a PO has one line per
// product, so that receipts, incoming and the product's last cost each have one line to read.
func duplicateProducts(lines []api.PurchaseOrderRequestLine, field string) []api.FieldError {
	seen := map[uuid.UUID]int{}
	var bad []api.FieldError
	for i, l := range lines {
		if j, dup := seen[l.ProductId]; dup {
			bad = append(bad, api.FieldError{Field: fmt.Sprintf("%s[%d].productId", field, i), Message: fmt.Sprintf("names the product of %s[%d] again", field, j)})
			continue
		}
		seen[l.ProductId] = i
	}
	return bad
}

// supplier reads the supplier a PO names: missing is a 404, archived a 422.
func supplier(ctx context.Context, q *db.Queries, brand, id uuid.UUID) (db.Supplier, error) {
	s, err := q.SupplierGet(ctx, db.SupplierGetParams{BrandID: brand, ID: id})
	if kit.NoRows(err) {
		return s, &Missing{What: "supplier"}
	}
	if err != nil {
		return s, err
	}
	if s.ArchivedAt != nil {
		return s, &SupplierArchived{ID: id}
	}
	return s, nil
}

// checkLocation refuses a location that is not the brand's.
func checkLocation(ctx context.Context, q *db.Queries, brand, id uuid.UUID) error {
	_, err := q.LocationGet(ctx, db.LocationGetParams{BrandID: brand, ID: id})
	if kit.NoRows(err) {
		return &Missing{What: "location"}
	}
	return err
}

// checkLines refuses lines naming products that are not the brand's (404), or priced in another
// currency than the PO's (422: a product's cost is kept in its own currency), or whose total
// passes int64 (422).
func checkLines(ctx context.Context, q *db.Queries, brand uuid.UUID, currency string, lines []api.PurchaseOrderRequestLine) error {
	ids := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i] = l.ProductId
	}
	rows, err := q.PurchaseOrderProducts(ctx, db.PurchaseOrderProductsParams{BrandID: brand, Ids: ids})
	if err != nil {
		return err
	}
	byID := make(map[uuid.UUID]db.PurchaseOrderProductsRow, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	for i, l := range lines {
		p, ok := byID[l.ProductId]
		if !ok {
			return &Missing{What: "product " + l.ProductId.String()}
		}
		if p.Currency != currency {
			return &CurrencyMismatch{Index: i, Currency: p.Currency}
		}
	}
	if _, ok := total(lines); !ok {
		return &AmountOverflow{}
	}
	return nil
}

func writeLines(ctx context.Context, q *db.Queries, po db.PurchaseOrder, lines []api.PurchaseOrderRequestLine) error {
	p := db.PurchaseOrderLinesAddParams{BrandID: po.BrandID, PurchaseOrderID: po.ID}
	for i, l := range lines {
		p.Ids = append(p.Ids, uuid.Must(uuid.NewV7()))
		p.LineNos = append(p.LineNos, int32(i)) //nolint:gosec // at most 250 lines
		p.ProductIds = append(p.ProductIds, l.ProductId)
		p.Quantities = append(p.Quantities, l.Quantity)
		p.UnitCosts = append(p.UnitCosts, l.UnitCost)
	}
	return q.PurchaseOrderLinesAdd(ctx, p)
}

// draft creates a draft PO from body in q's transaction: numbered last (the counter is the last
// lock taken), told as purchase_order.created.
func (h *Handlers) draft(ctx context.Context, q *db.Queries, brand uuid.UUID, body api.CreatePurchaseOrderRequest) (api.PurchaseOrder, error) {
	now := h.d.Now()
	s, err := supplier(ctx, q, brand, body.SupplierId)
	if err != nil {
		return api.PurchaseOrder{}, err
	}
	if err := checkLocation(ctx, q, brand, body.LocationId); err != nil {
		return api.PurchaseOrder{}, err
	}
	currency := s.Currency
	if body.Currency != nil {
		currency = *body.Currency
	}
	if err := checkLines(ctx, q, brand, currency, body.Lines); err != nil {
		return api.PurchaseOrder{}, err
	}
	number, err := q.PurchaseOrderNumberNext(ctx, brand)
	if err != nil {
		return api.PurchaseOrder{}, err
	}
	po, err := q.PurchaseOrderCreate(ctx, db.PurchaseOrderCreateParams{
		BrandID: brand, ID: uuid.Must(uuid.NewV7()), Number: number, SupplierID: body.SupplierId, LocationID: body.LocationId,
		Currency: currency, ExpectedOn: toDate(body.ExpectedDate), Notes: body.Notes, CreatedBy: kit.UserID(ctx), Now: now,
	})
	if err != nil {
		return api.PurchaseOrder{}, err
	}
	if err := writeLines(ctx, q, po, body.Lines); err != nil {
		return api.PurchaseOrder{}, err
	}
	return emit(ctx, q, po, api.EventTypePurchaseOrderCreated, now)
}

// CreatePurchaseOrder drafts a purchase order.
func (h *Handlers) CreatePurchaseOrder(ctx context.Context, req api.CreatePurchaseOrderRequestObject) (api.CreatePurchaseOrderResponseObject, error) {
	if bad := duplicateProducts(req.Body.Lines, "lines"); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	po, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.PurchaseOrder, error) {
		return h.draft(ctx, q, req.BrandId, *req.Body)
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.CreatePurchaseOrder201JSONResponse{Body: po, Headers: api.CreatePurchaseOrder201ResponseHeaders{
		ETag:     respond.ETag(po.Version),
		Location: respond.Location("/brands/", req.BrandId.String(), "/purchase-orders/", po.Id.String()),
	}}, nil
}

// GetPurchaseOrder answers one purchase order with its lines.
func (h *Handlers) GetPurchaseOrder(ctx context.Context, req api.GetPurchaseOrderRequestObject) (api.GetPurchaseOrderResponseObject, error) {
	po, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.PurchaseOrder, error) {
		po, err := q.PurchaseOrderGet(ctx, db.PurchaseOrderGetParams{BrandID: req.BrandId, ID: req.PurchaseOrderId})
		if err != nil {
			return api.PurchaseOrder{}, kit.DBError(err)
		}
		return load(ctx, q, po)
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.GetPurchaseOrder200JSONResponse{Body: po, Headers: api.GetPurchaseOrder200ResponseHeaders{ETag: respond.ETag(po.Version)}}, nil
}

// ListPurchaseOrders pages through the brand's purchase orders, newest first.
func (h *Handlers) ListPurchaseOrders(ctx context.Context, req api.ListPurchaseOrdersRequestObject) (api.ListPurchaseOrdersResponseObject, error) {
	p := req.Params
	params := db.PurchaseOrderListParams{BrandID: req.BrandId, SupplierID: p.SupplierId}
	if p.Status != nil {
		params.Status = db.NullPurchaseOrderStatus{PurchaseOrderStatus: db.PurchaseOrderStatus(*p.Status), Valid: true}
	}
	type page struct {
		pos   []db.PurchaseOrder
		lines []db.PurchaseOrderLinesRow
	}
	var lines []db.PurchaseOrderLinesRow
	out, err := paging.List(h.d.Cursors, "purchase-orders/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *paging.IDPosition, limit int32) ([]db.PurchaseOrder, error) {
			params.BeforeID, params.RowLimit = after.After(), limit
			pg, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (page, error) {
				pos, err := q.PurchaseOrderList(ctx, params)
				if err != nil || len(pos) == 0 {
					return page{pos: pos}, err
				}
				ids := make([]uuid.UUID, len(pos))
				for i, po := range pos {
					ids[i] = po.ID
				}
				ls, err := q.PurchaseOrderLines(ctx, db.PurchaseOrderLinesParams{BrandID: req.BrandId, PurchaseOrderIds: ids})
				return page{pos: pos, lines: ls}, err
			})
			lines = pg.lines
			return pg.pos, err
		},
		func(po db.PurchaseOrder) paging.IDPosition { return paging.IDPosition{ID: po.ID} },
		func(po db.PurchaseOrder) (api.PurchaseOrder, error) { return apiPO(po, lines), nil })
	if err != nil {
		return nil, err
	}
	return api.ListPurchaseOrders200JSONResponse{Items: out.Items, NextCursor: out.Next}, nil
}

// UpdatePurchaseOrder changes a draft purchase order's fields and, given `lines`, replaces its
// lines.
func (h *Handlers) UpdatePurchaseOrder(ctx context.Context, req api.UpdatePurchaseOrderRequestObject) (api.UpdatePurchaseOrderResponseObject, error) {
	b := req.Body
	if b.Lines != nil {
		if bad := duplicateProducts(*b.Lines, "lines"); len(bad) > 0 {
			return nil, problem.RefuseFields(bad)
		}
	}
	now := h.d.Now()
	po, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.PurchaseOrder, error) {
		po, err := lockFor(ctx, q, req.BrandId, req.PurchaseOrderId, req.Params.IfMatch, api.PurchaseOrderActionUpdate)
		if err != nil {
			return api.PurchaseOrder{}, err
		}
		params := db.PurchaseOrderUpdateParams{BrandID: po.BrandID, ID: po.ID, SupplierID: b.SupplierId, LocationID: b.LocationId, Currency: b.Currency, Now: now}
		currency := po.Currency
		if b.SupplierId != nil {
			s, err := supplier(ctx, q, po.BrandID, *b.SupplierId)
			if err != nil {
				return api.PurchaseOrder{}, err
			}
			if b.Currency == nil {
				// A new supplier brings its currency, unless the request names one.
				currency, params.Currency = s.Currency, &s.Currency
			}
		}
		if b.Currency != nil {
			currency = *b.Currency
		}
		if b.LocationId != nil {
			if err := checkLocation(ctx, q, po.BrandID, *b.LocationId); err != nil {
				return api.PurchaseOrder{}, err
			}
		}
		if b.ExpectedDate.IsSpecified() {
			if b.ExpectedDate.IsNull() {
				params.ClearExpectedOn = true
			} else {
				d := b.ExpectedDate.MustGet()
				params.ExpectedOn = toDate(&d)
			}
		}
		if b.Notes.IsSpecified() {
			if b.Notes.IsNull() {
				params.ClearNotes = true
			} else {
				n := b.Notes.MustGet()
				params.Notes = &n
			}
		}
		lines := b.Lines
		if lines == nil {
			// The lines stay: they must still share the (perhaps new) currency.
			old, err := q.PurchaseOrderLines(ctx, db.PurchaseOrderLinesParams{BrandID: po.BrandID, PurchaseOrderIds: []uuid.UUID{po.ID}})
			if err != nil {
				return api.PurchaseOrder{}, err
			}
			keep := make([]api.PurchaseOrderRequestLine, len(old))
			for i, l := range old {
				keep[i] = api.PurchaseOrderRequestLine{ProductId: l.ProductID, Quantity: l.Quantity, UnitCost: l.UnitCost}
			}
			lines = &keep
		}
		if err := checkLines(ctx, q, po.BrandID, currency, *lines); err != nil {
			return api.PurchaseOrder{}, err
		}
		if b.Lines != nil {
			if err := q.PurchaseOrderLinesDelete(ctx, db.PurchaseOrderLinesDeleteParams{BrandID: po.BrandID, PurchaseOrderID: po.ID}); err != nil {
				return api.PurchaseOrder{}, err
			}
			if err := writeLines(ctx, q, po, *b.Lines); err != nil {
				return api.PurchaseOrder{}, err
			}
		}
		if po, err = q.PurchaseOrderUpdate(ctx, params); err != nil {
			return api.PurchaseOrder{}, err
		}
		return emit(ctx, q, po, api.EventTypePurchaseOrderUpdated, now)
	})
	if err != nil {
		return nil, refusal(err)
	}
	return api.UpdatePurchaseOrder200JSONResponse{Body: po, Headers: api.UpdatePurchaseOrder200ResponseHeaders{ETag: respond.ETag(po.Version)}}, nil
}

// transition runs one state change of a locked PO: action checked by lockFor, then stock (what
// open POs bring to levels) moved by the engine in the same transaction, then the new status and
// its event.
func (h *Handlers) transition(ctx context.Context, brand, id uuid.UUID, ifMatch *string, action api.PurchaseOrderAction) (api.PurchaseOrder, error) {
	now := h.d.Now()
	return events.InBrandDB(ctx, h.d, brand, func(ctx context.Context, tx db.DBTX) (api.PurchaseOrder, error) {
		q := db.New(tx)
		po, err := lockFor(ctx, q, brand, id, ifMatch, action)
		if err != nil {
			return api.PurchaseOrder{}, err
		}
		to, typ, sign := db.PurchaseOrderStatusOrdered, api.EventTypePurchaseOrderOrdered, int64(1)
		switch action {
		case api.PurchaseOrderActionCancel:
			to, typ, sign = db.PurchaseOrderStatusCancelled, api.EventTypePurchaseOrderCancelled, -1
		case api.PurchaseOrderActionClose:
			to, typ, sign = db.PurchaseOrderStatusClosed, api.EventTypePurchaseOrderClosed, -1
		}
		// A draft brings nothing yet: cancelling one moves no stock.
		if po.Status != db.PurchaseOrderStatusDraft || action == api.PurchaseOrderActionSubmit {
			if err := expect(ctx, tx, q, po, now, sign, action == api.PurchaseOrderActionSubmit); err != nil {
				return api.PurchaseOrder{}, err
			}
		}
		if po, err = q.PurchaseOrderTransition(ctx, db.PurchaseOrderTransitionParams{BrandID: brand, ID: id, Status: to, Now: now}); err != nil {
			return api.PurchaseOrder{}, err
		}
		return emit(ctx, q, po, typ, now)
	})
}

// expect moves each line's outstanding quantity (ordered, not yet received: never below zero)
// into incoming at the PO's location (sign +1, on submit) or out of it (-1, on cancel and close),
// through the stock engine. Submitting needs an active location and creates the levels it names;
// giving up locks the levels whether the location is still active or not (like an order's
// holds), so a PO to a location deactivated since can still be cancelled or closed.
func expect(ctx context.Context, tx db.DBTX, q *db.Queries, po db.PurchaseOrder, now time.Time, sign int64, submit bool) error {
	lines, err := q.PurchaseOrderLines(ctx, db.PurchaseOrderLinesParams{BrandID: po.BrandID, PurchaseOrderIds: []uuid.UUID{po.ID}})
	if err != nil {
		return err
	}
	products := make([]uuid.UUID, len(lines))
	levels := make([]inventory.Level, len(lines))
	for i, l := range lines {
		products[i], levels[i] = l.ProductID, inventory.Level{Product: l.ProductID, Location: po.LocationID}
	}
	scope := inventory.ExpectedScope(levels)
	if submit {
		scope = inventory.PurchaseScope(po.LocationID, products)
	}
	st, err := inventory.Open(ctx, tx, po.BrandID, now, scope)
	if err != nil {
		return err
	}
	for i, l := range lines {
		if left := max(l.Quantity-l.ReceivedQuantity, 0); left > 0 {
			if err := st.Expect(ctx, levels[i], sign*left); err != nil {
				return err
			}
		}
	}
	return nil
}

// SubmitPurchaseOrder orders a draft PO: its quantities become incoming.
func (h *Handlers) SubmitPurchaseOrder(ctx context.Context, req api.SubmitPurchaseOrderRequestObject) (api.SubmitPurchaseOrderResponseObject, error) {
	po, err := h.transition(ctx, req.BrandId, req.PurchaseOrderId, req.Params.IfMatch, api.PurchaseOrderActionSubmit)
	if err != nil {
		return nil, refusal(err)
	}
	return api.SubmitPurchaseOrder200JSONResponse{Body: po, Headers: api.SubmitPurchaseOrder200ResponseHeaders{ETag: respond.ETag(po.Version)}}, nil
}

// CancelPurchaseOrder cancels a draft or ordered PO: an ordered one's quantities leave incoming.
func (h *Handlers) CancelPurchaseOrder(ctx context.Context, req api.CancelPurchaseOrderRequestObject) (api.CancelPurchaseOrderResponseObject, error) {
	po, err := h.transition(ctx, req.BrandId, req.PurchaseOrderId, req.Params.IfMatch, api.PurchaseOrderActionCancel)
	if err != nil {
		return nil, refusal(err)
	}
	return api.CancelPurchaseOrder200JSONResponse{Body: po, Headers: api.CancelPurchaseOrder200ResponseHeaders{ETag: respond.ETag(po.Version)}}, nil
}

// ClosePurchaseOrder gives up on the rest of a partially received PO: it leaves incoming.
func (h *Handlers) ClosePurchaseOrder(ctx context.Context, req api.ClosePurchaseOrderRequestObject) (api.ClosePurchaseOrderResponseObject, error) {
	po, err := h.transition(ctx, req.BrandId, req.PurchaseOrderId, req.Params.IfMatch, api.PurchaseOrderActionClose)
	if err != nil {
		return nil, refusal(err)
	}
	return api.ClosePurchaseOrder200JSONResponse{Body: po, Headers: api.ClosePurchaseOrder200ResponseHeaders{ETag: respond.ETag(po.Version)}}, nil
}
