package orders

import (
	"context"
	"encoding/json"
	"math"
	"math/bits"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/ordersdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// priced is an order's lines with the product as it is sold, and the totals.
type priced struct {
	currency   string
	products   map[uuid.UUID]ordersdb.OrderProductsRow
	lineTotals []int64
	subtotal   int64
}

// lineTotal is price × quantity, or false when it does not fit in an int64: both are
// non-negative, so a 128-bit product with a zero high word and a low word ≤ MaxInt64 is exact.
func lineTotal(price, quantity int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(price), uint64(quantity)) //nolint:gosec // both are ≥ 0 (schema and CHECK)
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	return int64(lo), true
}

// price snapshots the products the lines name and totals the order: unknown products are a 404,
// draft or archived ones a 422 listing the lines, several currencies or an overflow a 422.
func price(ctx context.Context, q *ordersdb.Queries, brand uuid.UUID, lines []inventory.HoldLine) (priced, error) {
	ids := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i] = l.Product
	}
	rows, err := q.OrderProducts(ctx, ordersdb.OrderProductsParams{BrandID: brand, Ids: ids})
	if err != nil {
		return priced{}, err
	}
	p := priced{products: make(map[uuid.UUID]ordersdb.OrderProductsRow, len(rows)), lineTotals: make([]int64, len(lines))}
	for _, r := range rows {
		p.products[r.ID] = r
	}
	var missing []uuid.UUID
	var unavailable []api.ProblemLine
	currencies := map[string]bool{}
	for _, l := range lines {
		r, ok := p.products[l.Product]
		switch {
		case !ok:
			missing = append(missing, l.Product)
		case r.Status != ordersdb.ProductStatusActive:
			unavailable = append(unavailable, api.ProblemLine{Index: l.Index, ProductId: l.Product})
		default:
			if !currencies[r.Currency] {
				currencies[r.Currency] = true
				p.currency = r.Currency
			}
		}
	}
	switch {
	case len(missing) > 0:
		return priced{}, &inventory.ProductsMissing{IDs: missing}
	case len(unavailable) > 0:
		return priced{}, &inventory.ProductsUnavailable{Lines: unavailable}
	case len(currencies) > 1:
		return priced{}, &CurrencyMismatch{}
	}
	for i, l := range lines {
		t, ok := lineTotal(p.products[l.Product].PriceAmount, l.Quantity)
		if !ok || t > math.MaxInt64-p.subtotal {
			return priced{}, &AmountOverflow{Index: l.Index}
		}
		p.lineTotals[i] = t
		p.subtotal += t
	}
	return p, nil
}

// CreateOrder prices the order, holds its stock (or takes over a reservation's holds), numbers it
// and records it, all in one transaction: refused, nothing of it remains (its number included).
func (h *Handlers) CreateOrder(ctx context.Context, req api.CreateOrderRequestObject) (api.CreateOrderResponseObject, error) {
	body := req.Body
	raw := make([]inventory.HoldLine, len(body.Lines))
	for i, l := range body.Lines {
		raw[i] = inventory.HoldLine{Index: i, Product: l.ProductId, Quantity: l.Quantity}
	}
	lines := inventory.MergeHoldLines(raw)
	// One cap for orders and reservations, merged lines included (the spec bounds each line).
	if bad := inventory.LineOverCap(lines); bad != nil {
		return nil, problem.RefuseFields([]api.FieldError{*bad})
	}
	if bad := describedDiscounts(body); bad != nil {
		return nil, problem.RefuseFields([]api.FieldError{*bad})
	}
	if err := customerChoice(body); err != nil {
		return nil, err
	}
	address, err := json.Marshal(body.ShippingAddress)
	if err != nil {
		return nil, err
	}
	now := h.d.Now()
	order, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Order, error) {
		q := ordersdb.New(tx)
		cust, err := resolveCustomer(ctx, tx, req.BrandId, body, address, now)
		if err != nil {
			return api.Order{}, err
		}
		p, err := price(ctx, q, req.BrandId, lines)
		if err != nil {
			return api.Order{}, err
		}
		amounts, err := amountsOf(body, lines, p.lineTotals, p.subtotal)
		if err != nil {
			return api.Order{}, err
		}
		// Locks: reservation, locations, levels (inventory's order); the counter comes last.
		st, err := inventory.Open(ctx, tx, req.BrandId, now, inventory.OrderScope(lines, body.ReservationId))
		if err != nil {
			return api.Order{}, err
		}
		var allocs [][]inventory.Allocation
		var backs []inventory.BackorderLine
		if body.ReservationId != nil {
			allocs, err = st.CoverFromReservation(ctx, *body.ReservationId, lines)
		} else {
			// Lines of products that allow backorders hold what there is; the rest waits.
			allocs, backs, err = st.AllocateOrder(lines)
		}
		if err != nil {
			return api.Order{}, err
		}
		// The order's row comes last, with its number (OrderCreate): the brand's counter is then
		// held for that statement and the COMMIT, with which its history and events travel. The
		// lines and the movements name the order before it exists (checked at COMMIT,
		// schema/000025), and the answer's lines and holds are read before it too, unless a
		// backorder, which needs the number, is written after it.
		id := uuid.Must(uuid.NewV7())
		lp := ordersdb.OrderLinesAddParams{BrandID: req.BrandId, OrderID: id, Currency: p.currency}
		for i, l := range lines {
			pr := p.products[l.Product]
			lp.Ids = append(lp.Ids, uuid.Must(uuid.NewV7()))
			lp.LineNos = append(lp.LineNos, int32(i)) //nolint:gosec // at most 250 lines
			lp.ProductIds = append(lp.ProductIds, l.Product)
			lp.Skus = append(lp.Skus, pr.Sku)
			lp.Names = append(lp.Names, pr.Name)
			lp.Prices = append(lp.Prices, pr.PriceAmount)
			lp.Quantities = append(lp.Quantities, l.Quantity)
			lp.LineTotals = append(lp.LineTotals, p.lineTotals[i])
			lp.Discounts = append(lp.Discounts, string(jsonArray(amounts.lineDiscounts[i])))
			lp.TaxLines = append(lp.TaxLines, string(jsonArray(amounts.lineTaxes[i])))
			lp.DiscountTotals = append(lp.DiscountTotals, amounts.lineDiscount[i])
			lp.TaxTotals = append(lp.TaxTotals, amounts.lineTax[i])
		}
		if err := q.OrderLinesAdd(ctx, lp); err != nil {
			return api.Order{}, err
		}
		if err := st.HoldOrder(ctx, id, body.ReservationId, lp.Ids, lines, allocs); err != nil {
			return api.Order{}, err
		}
		var olines []ordersdb.OrderLine
		var holds []inventory.OrderHold
		if len(backs) == 0 {
			if olines, holds, err = contents(ctx, tx, req.BrandId, id); err != nil {
				return api.Order{}, err
			}
		}
		o, err := q.OrderCreate(ctx, ordersdb.OrderCreateParams{
			BrandID: req.BrandId, ID: id, Currency: p.currency,
			Subtotal: p.subtotal, Total: amounts.total, CustomerEmail: cust.email, CustomerName: cust.name,
			CustomerPhone: cust.phone, ShippingAddress: address, Note: body.Note, ExternalReference: body.ExternalReference,
			ReservationID: body.ReservationId, CreatedBy: kit.UserID(ctx), Now: now,
			CustomerID: &cust.id, ShippingAmount: amounts.shipping, ShippingMethod: body.ShippingMethod,
			Discounts: jsonArray(derefSlice(body.Discounts)), TaxLines: jsonArray(derefSlice(body.TaxLines)),
			DiscountTotal: amounts.discountTotal, TaxTotal: amounts.taxTotal,
		})
		if kit.IsConflict(err, "orders_external_reference_key") {
			return api.Order{}, &ExternalReferenceTaken{}
		}
		if err != nil {
			return api.Order{}, err
		}
		if len(backs) > 0 {
			if err := st.Backorder(ctx, o.ID, o.Number, lp.Ids, lines, backs); err != nil {
				return api.Order{}, err
			}
			if olines, holds, err = contents(ctx, tx, o.BrandID, o.ID); err != nil {
				return api.Order{}, err
			}
		}
		order, err := apiOrder(o, olines, holds)
		if err != nil {
			return api.Order{}, err
		}
		return order, recorded(ctx, tx, o, order, ordersdb.OrderActionCreate, nil, nil, now)
	})
	if err != nil {
		return nil, refusal(err)
	}
	observe.OrderTransition(string(order.Status))
	return api.CreateOrder201JSONResponse{Body: order, Headers: api.CreateOrder201ResponseHeaders{
		ETag:     respond.ETag(order.Version),
		Location: respond.Location("/brands/", req.BrandId.String(), "/orders/", order.Id.String()),
	}}, nil
}
