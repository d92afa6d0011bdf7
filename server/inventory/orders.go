package inventory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
)

// What orders may do to stock: hold it (HoldOrder), ship it (FulfilOrder), give it back
// (ReleaseOrder), read where it is held (OrderHolds). Each runs inside the order's own
// transaction, so that an order and its holds, shipments and releases commit or roll back
// together, and each writes the order's allocations together with the movements they explain. The
// order's row is locked before (orders come first in the lock order), and an order's movements name
// it (stock_movements.order_id references orders: insert the order first).

// ReservationMismatch: the reservation an order names does not hold its lines (422).
type ReservationMismatch struct{ Lines []api.ProblemLine }

// ReservationNotActive: the reservation an order names was released, expired or consumed (409).
type ReservationNotActive struct{ ID uuid.UUID }

func (e *ReservationMismatch) Error() string { return "reservation does not hold the order's lines" }
func (e *ReservationNotActive) Error() string {
	return "reservation " + e.ID.String() + " is not active"
}

// Code is the refusal's problem code.
func (e *ReservationMismatch) Code() api.ProblemCode { return api.ProblemCodeReservationMismatch }

// Code is the refusal's problem code.
func (e *ReservationNotActive) Code() api.ProblemCode { return api.ProblemCodeReservationNotActive }

// OrderScope is what Open must lock to place an order: the levels its lines may be allocated
// from or, with a reservation, that reservation (first) and the levels it holds stock at.
func OrderScope(lines []HoldLine, reservation *uuid.UUID) Scope {
	if reservation == nil {
		return HoldScope(lines)
	}
	sc := Scope{Reservation: reservation}
	for _, l := range lines {
		sc.Products = append(sc.Products, l.Product)
	}
	return sc
}

// orderHeldScope is what Open must lock to ship or release an order's holds at levels.
func orderHeldScope(levels []Level) Scope {
	sc := Scope{Held: levels}
	for _, l := range levels {
		sc.Products = append(sc.Products, l.Product)
	}
	return sc
}

// CoverFromReservation decides which of an active reservation's holds (locked by Open with
// OrderScope) each order line takes over, without changing anything: per product, the
// reservation's allocations in its own line and location order. Every line's product must be
// active, and the reservation must hold at least each line's quantity of it.
func (s *Stock) CoverFromReservation(ctx context.Context, reservation uuid.UUID, lines []HoldLine) ([][]Allocation, error) {
	r, err := s.sq.ReservationGet(ctx, stockdb.ReservationGetParams{BrandID: s.brand, ID: reservation})
	if err != nil {
		return nil, err
	}
	if r.Status != stockdb.ReservationStatusActive || !r.ExpiresAt.After(s.now) {
		return nil, &ReservationNotActive{ID: reservation}
	}
	var unavailable []api.ProblemLine
	for _, l := range lines {
		if s.products[l.Product].Status != db.ProductStatusActive {
			unavailable = append(unavailable, api.ProblemLine{Index: l.Index, ProductId: l.Product})
		}
	}
	if len(unavailable) > 0 {
		return nil, &ProductsUnavailable{Lines: unavailable}
	}
	// What the reservation holds of each product, where; several order lines of one product are
	// merged before they get here, but taking from a shared remainder keeps this correct anyway.
	left := map[uuid.UUID][]Allocation{}
	for _, a := range s.held {
		if a.ReservationID == reservation {
			left[a.ProductID] = append(left[a.ProductID], Allocation{Location: a.LocationID, Quantity: a.Quantity})
		}
	}
	out := make([][]Allocation, len(lines))
	var short []api.ProblemLine
	for i, l := range lines {
		var have int64
		for _, a := range left[l.Product] {
			have += a.Quantity
		}
		if have < l.Quantity {
			requested := l.Quantity
			short = append(short, api.ProblemLine{Index: l.Index, ProductId: l.Product, Requested: &requested, Available: &have})
			continue
		}
		need := l.Quantity
		for j := range left[l.Product] {
			a := &left[l.Product][j]
			take := min(need, a.Quantity)
			if take == 0 {
				continue
			}
			a.Quantity -= take
			need -= take
			out[i] = append(out[i], Allocation{Location: a.Location, Quantity: take})
			if need == 0 {
				break
			}
		}
	}
	if len(short) > 0 {
		return nil, &ReservationMismatch{Lines: short}
	}
	return out, nil
}

// HoldOrder holds an order's stock: allocs (from Allocate, or from CoverFromReservation when
// the order takes over reservation) for its lines, whose ids are lineIDs (lines[i] is line
// lineIDs[i]). It records where each line is held (the order's allocations) with the movements.
func (s *Stock) HoldOrder(ctx context.Context, order uuid.UUID, reservation *uuid.UUID, lineIDs []uuid.UUID, lines []HoldLine, allocs [][]Allocation) error {
	var err error
	if reservation != nil {
		err = s.consumeReservation(ctx, *reservation, order, lines, allocs)
	} else {
		err = s.holdForOrder(ctx, order, lines, allocs)
	}
	if err != nil {
		return err
	}
	p := stockdb.OrderAllocationsAddParams{BrandID: s.brand, OrderID: order}
	for i, l := range lines {
		for seq, a := range allocs[i] {
			p.LineIds = append(p.LineIds, lineIDs[i])
			p.Seqs = append(p.Seqs, int32(seq)) //nolint:gosec // a handful of locations
			p.ProductIds = append(p.ProductIds, l.Product)
			p.LocationIds = append(p.LocationIds, a.Location)
			p.Quantities = append(p.Quantities, a.Quantity)
		}
	}
	return s.sq.OrderAllocationsAdd(ctx, p)
}

// consumeReservation hands the reservation's holds over to the order (allocs from
// CoverFromReservation): for each, a `release` of the reservation's hold and a `reservation` of the
// order's, both naming the two, on a level locked throughout, so that no other transaction ever
// sees the stock free. What the order does not take is released; the reservation ends consumed.
func (s *Stock) consumeReservation(ctx context.Context, reservation, order uuid.UUID, lines []HoldLine, allocs [][]Allocation) error {
	taken := map[Level]int64{}
	for i, l := range lines {
		for _, a := range allocs[i] {
			taken[Level{l.Product, a.Location}] += a.Quantity
		}
	}
	for _, a := range s.held {
		if a.ReservationID != reservation {
			continue
		}
		k := Level{a.ProductID, a.LocationID}
		mine := min(taken[k], a.Quantity)
		taken[k] -= mine
		if err := s.move(ctx, k, movement{kind: stockdb.MovementKindRelease, reservedDelta: -a.Quantity, reservation: &reservation, order: orderIf(mine > 0, order)}); err != nil {
			return err
		}
		if mine > 0 {
			if err := s.move(ctx, k, movement{kind: stockdb.MovementKindReservation, reservedDelta: mine, reservation: &reservation, order: &order}); err != nil {
				return err
			}
		}
	}
	return s.endReservation(ctx, reservation, stockdb.ReservationStatusConsumed)
}

func orderIf(ok bool, order uuid.UUID) *uuid.UUID {
	if ok {
		return &order
	}
	return nil
}

// holdForOrder holds the allocations (from Allocate) for an order: reserved grows, with
// `reservation` movements naming the order.
func (s *Stock) holdForOrder(ctx context.Context, order uuid.UUID, lines []HoldLine, allocs [][]Allocation) error {
	for i, l := range lines {
		for _, a := range allocs[i] {
			if err := s.move(ctx, Level{l.Product, a.Location}, movement{kind: stockdb.MovementKindReservation, reservedDelta: a.Quantity, order: &order}); err != nil {
				return err
			}
		}
	}
	return nil
}

// OrderHold is where an order line's stock is held, and how much of it shipped; or, with
// Backordered > 0 (and Quantity 0), what the line still waits for at Location.
type OrderHold struct {
	Order       uuid.UUID
	Line        uuid.UUID
	Location    uuid.UUID
	Quantity    int64
	Fulfilled   int64
	Backordered int64
}

// OrderHolds reads where the orders hold stock, by order, line and allocation order, then what
// their lines wait for (backorders).
func OrderHolds(ctx context.Context, tx db.DBTX, brand uuid.UUID, orders []uuid.UUID) ([]OrderHold, error) {
	sq := stockdb.New(tx)
	// Claims before holds: a fill committing between the two reads then shows at worst as both
	// claimed and held, never as neither.
	claims, err := sq.OrderBackorders(ctx, stockdb.OrderBackordersParams{BrandID: brand, OrderIds: orders})
	if err != nil {
		return nil, err
	}
	rows, err := sq.OrderAllocations(ctx, stockdb.OrderAllocationsParams{BrandID: brand, OrderIds: orders})
	if err != nil {
		return nil, err
	}
	out := make([]OrderHold, len(rows), len(rows)+len(claims))
	for i, r := range rows {
		out[i] = OrderHold{Order: r.OrderID, Line: r.LineID, Location: r.LocationID, Quantity: r.Quantity, Fulfilled: r.FulfilledQuantity}
	}
	for _, c := range claims {
		out = append(out, OrderHold{Order: c.OrderID, Line: c.LineID, Location: c.LocationID, Backordered: c.Quantity})
	}
	return out, nil
}

// LineQuantity is a quantity of one order line.
type LineQuantity struct {
	Line     uuid.UUID
	Quantity int64
}

// FulfilOrder ships ship (per order line, at most what each line still holds: the caller checks
// against its lines) from where each line's stock is held, its allocations in order: onHand and
// reserved both fall, with `fulfilment` movements naming the order, and the allocations record
// what shipped. It runs in tx (scoped to brand), the order's row locked.
func FulfilOrder(ctx context.Context, tx db.DBTX, brand, order uuid.UUID, now time.Time, ship []LineQuantity) error {
	sq := stockdb.New(tx)
	allocs, err := sq.OrderAllocations(ctx, stockdb.OrderAllocationsParams{BrandID: brand, OrderIds: []uuid.UUID{order}})
	if err != nil {
		return err
	}
	type take struct {
		alloc    stockdb.OrderAllocation
		quantity int64
	}
	var takes []take
	var levels []Level
	for _, s := range ship {
		need := s.Quantity
		for _, a := range allocs {
			if a.LineID != s.Line || need == 0 {
				continue
			}
			if n := min(need, a.Quantity-a.FulfilledQuantity); n > 0 {
				takes = append(takes, take{alloc: a, quantity: n})
				levels = append(levels, Level{a.ProductID, a.LocationID})
				need -= n
			}
		}
		if need > 0 {
			return fmt.Errorf("inventory: order %v line %v holds %d units fewer than it ships", order, s.Line, need)
		}
	}
	st, err := Open(ctx, tx, brand, now, orderHeldScope(levels))
	if err != nil {
		return err
	}
	for _, t := range takes {
		k := Level{t.alloc.ProductID, t.alloc.LocationID}
		if err := st.move(ctx, k, movement{kind: stockdb.MovementKindFulfilment, onHandDelta: -t.quantity, reservedDelta: -t.quantity, order: &order}); err != nil {
			return err
		}
		if err := sq.OrderAllocationFulfil(ctx, stockdb.OrderAllocationFulfilParams{
			BrandID: brand, OrderID: order, LineID: t.alloc.LineID, LocationID: t.alloc.LocationID, Quantity: t.quantity,
		}); err != nil {
			return err
		}
	}
	return nil
}

// unshipped is what an order's allocations hold and have not shipped, per level, and the levels in
// the order they were first seen.
func unshipped(allocs []stockdb.OrderAllocation) (map[Level]int64, []Level) {
	held := map[Level]int64{}
	var levels []Level
	for _, a := range allocs {
		if left := a.Quantity - a.FulfilledQuantity; left > 0 {
			k := Level{a.ProductID, a.LocationID}
			if _, seen := held[k]; !seen {
				levels = append(levels, k)
			}
			held[k] += left
		}
	}
	return held, levels
}

// ReleaseOrder gives back every unit an order holds and has not shipped (a cancellation): reserved
// falls, with `release` movements naming the order and the reason. It runs in tx (scoped to
// brand), the order's row locked; the order then no longer holds anything (HoldMismatches counts
// a cancelled order's allocations as released).
func ReleaseOrder(ctx context.Context, tx db.DBTX, brand, order uuid.UUID, now time.Time, reason *string) error {
	sq := stockdb.New(tx)
	// The claims first, then the holds: a receipt filling a claim (under the level's lock) turns
	// it into a hold, so read in this order, what was a claim and became a hold is seen as a hold
	// at the latest, and the release below finds it (re-read under the lock).
	claims, err := sq.OrderBackorders(ctx, stockdb.OrderBackordersParams{BrandID: brand, OrderIds: []uuid.UUID{order}})
	if err != nil {
		return err
	}
	allocs, err := sq.OrderAllocations(ctx, stockdb.OrderAllocationsParams{BrandID: brand, OrderIds: []uuid.UUID{order}})
	if err != nil {
		return err
	}
	held, levels := unshipped(allocs)
	scope := slices.Clone(levels)
	for _, c := range claims {
		scope = append(scope, Level{c.ProductID, c.LocationID})
	}
	if len(scope) == 0 {
		return nil
	}
	st, err := Open(ctx, tx, brand, now, orderHeldScope(scope))
	if err != nil {
		return err
	}
	if len(claims) > 0 {
		// Under the levels' locks, what the order holds and waits for can no longer change: read
		// both again (a receipt may have filled a claim between the reads above and the locks).
		if claims, err = st.sq.OrderBackorders(ctx, stockdb.OrderBackordersParams{BrandID: brand, OrderIds: []uuid.UUID{order}}); err != nil {
			return err
		}
		if allocs, err = st.sq.OrderAllocations(ctx, stockdb.OrderAllocationsParams{BrandID: brand, OrderIds: []uuid.UUID{order}}); err != nil {
			return err
		}
		held, levels = unshipped(allocs)
		if err := st.dropBackorders(ctx, order, claims); err != nil {
			return err
		}
	}
	for _, k := range levels {
		if err := st.move(ctx, k, movement{kind: stockdb.MovementKindRelease, reservedDelta: -held[k], order: &order, reason: reason, refill: true}); err != nil {
			return err
		}
	}
	return nil
}
