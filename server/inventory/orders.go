package inventory

import (
	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// What orders may do to stock. Each runs on a Stock that Open locked, inside the order's own
// transaction, so that an order and its holds, shipments and releases commit or roll back
// together. The order's row is locked before Open (orders come first in the lock order), and an
// order's movements name it (stock_movements.order_id references orders: insert the order first).

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

// OrderHeldScope is what Open must lock to ship or release an order's holds at levels.
func OrderHeldScope(levels []Level) Scope {
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
func (s *Stock) CoverFromReservation(reservation uuid.UUID, lines []HoldLine) ([][]Allocation, error) {
	r, err := s.q.ReservationGet(s.ctx, db.ReservationGetParams{BrandID: s.brand, ID: reservation})
	if err != nil {
		return nil, err
	}
	if r.Status != db.ReservationStatusActive || !r.ExpiresAt.After(s.now) {
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

// ConsumeReservation hands the reservation's holds over to the order (allocs from
// CoverFromReservation): for each, a `release` of the reservation's hold and a `reservation` of the
// order's, both naming the two, on a level locked throughout, so that no other transaction ever
// sees the stock free. What the order does not take is released; the reservation ends consumed.
func (s *Stock) ConsumeReservation(reservation, order uuid.UUID, lines []HoldLine, allocs [][]Allocation) error {
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
		if err := s.Move(k, Movement{Kind: db.MovementKindRelease, ReservedDelta: -a.Quantity, Reservation: &reservation, Order: orderIf(mine > 0, order)}); err != nil {
			return err
		}
		if mine > 0 {
			if err := s.Move(k, Movement{Kind: db.MovementKindReservation, ReservedDelta: mine, Reservation: &reservation, Order: &order}); err != nil {
				return err
			}
		}
	}
	return s.endReservation(reservation, db.ReservationStatusConsumed)
}

func orderIf(ok bool, order uuid.UUID) *uuid.UUID {
	if ok {
		return &order
	}
	return nil
}

// HoldForOrder holds the allocations (from Allocate) for an order: reserved grows, with
// `reservation` movements naming the order.
func (s *Stock) HoldForOrder(order uuid.UUID, lines []HoldLine, allocs [][]Allocation) error {
	for i, l := range lines {
		for _, a := range allocs[i] {
			if err := s.Move(Level{l.Product, a.Location}, Movement{Kind: db.MovementKindReservation, ReservedDelta: a.Quantity, Order: &order}); err != nil {
				return err
			}
		}
	}
	return nil
}

// FulfilOrder ships quantity units of an order's hold at l: onHand and reserved both fall, with a
// `fulfilment` movement naming the order.
func (s *Stock) FulfilOrder(order uuid.UUID, l Level, quantity int64) error {
	return s.Move(l, Movement{Kind: db.MovementKindFulfilment, OnHandDelta: -quantity, ReservedDelta: -quantity, Order: &order})
}

// ReleaseOrder gives back quantity units an order holds at l (a cancellation): reserved falls,
// with a `release` movement naming the order and the reason.
func (s *Stock) ReleaseOrder(order uuid.UUID, l Level, quantity int64, reason *string) error {
	return s.Move(l, Movement{Kind: db.MovementKindRelease, ReservedDelta: -quantity, Order: &order, Reason: reason})
}
