package inventory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/kit"
)

// Holds of reservations: where a line's stock comes from (Allocate), holding it for a new
// reservation (Reserve), giving it back (Release), extending it. What orders do with holds is in
// orders.go.

// HoldLine is one line to hold: a product's quantity, at a location or wherever the allocation
// rule finds it. Index is the line's position in the request, for problems.
type HoldLine struct {
	Index    int
	Product  uuid.UUID
	Location *uuid.UUID
	Quantity int64
}

// Allocation is where a line's stock is held.
type Allocation struct {
	Location uuid.UUID
	Quantity int64
}

// MergeHoldLines sums lines naming the same product (and the same location, or none), keeping the
// order in which each first appears.
func MergeHoldLines(lines []HoldLine) []HoldLine {
	type key struct {
		product  uuid.UUID
		location uuid.UUID
	}
	at := map[key]int{}
	var out []HoldLine
	for _, l := range lines {
		k := key{product: l.Product}
		if l.Location != nil {
			k.location = *l.Location
		}
		if i, ok := at[k]; ok {
			out[i].Quantity += l.Quantity
			continue
		}
		at[k] = len(out)
		out = append(out, l)
	}
	return out
}

// HoldScope is what Open must lock to hold lines.
func HoldScope(lines []HoldLine) Scope {
	var sc Scope
	for _, l := range lines {
		sc.Products = append(sc.Products, l.Product)
		if l.Location != nil {
			sc.Locations = append(sc.Locations, *l.Location)
		} else {
			sc.AnyActiveLocation = true
		}
	}
	return sc
}

// Allocate decides where each line's stock comes from, without changing anything. A line with a
// location takes that level's available stock; the others are allocated by the documented rule:
// among the brand's active locations, the one with the most available stock first, ties by
// location code, split over further locations when one is not enough. Lines with a location are
// placed first, so a line without one cannot take the stock a located line needs. Draft or
// archived products, or any short line, refuse the whole request.
func (s *Stock) Allocate(lines []HoldLine) ([][]Allocation, error) {
	out, _, err := s.allocate(lines, false)
	return out, err
}

// allocate is Allocate, and with backorder AllocateOrder: a short line of a product that allows
// backorders takes what there is and its rest waits (backorders.go).
func (s *Stock) allocate(lines []HoldLine, backorder bool) ([][]Allocation, []BackorderLine, error) {
	var unavailable []api.ProblemLine
	for _, l := range lines {
		if s.products[l.Product].Status != db.ProductStatusActive {
			unavailable = append(unavailable, api.ProblemLine{Index: l.Index, ProductId: l.Product, LocationId: l.Location})
		}
	}
	if len(unavailable) > 0 {
		return nil, nil, &ProductsUnavailable{Lines: unavailable}
	}
	free := map[Level]int64{}
	for k := range s.levels {
		free[k] = s.Available(k)
	}
	out := make([][]Allocation, len(lines))
	var short []api.ProblemLine
	var backs []BackorderLine
	shortOf := func(l HoldLine, available int64) {
		requested := l.Quantity
		short = append(short, api.ProblemLine{Index: l.Index, ProductId: l.Product, LocationId: l.Location, Requested: &requested, Available: &available})
	}
	// waits reports whether line i (short of stock, available units of it to be had) waits for
	// the rest instead of being short, and records where.
	waits := func(i int, l HoldLine, available int64) bool {
		if !backorder || !s.products[l.Product].AllowBackorder {
			return false
		}
		at, _ := s.backorderAt(l.Product, l.Location, free)
		if at == uuid.Nil {
			return false
		}
		backs = append(backs, BackorderLine{Line: i, Location: at, Quantity: l.Quantity - available})
		return true
	}
	for i, l := range lines {
		if l.Location == nil {
			continue
		}
		k := Level{l.Product, *l.Location}
		if free[k] < l.Quantity {
			if !waits(i, l, free[k]) {
				shortOf(l, free[k])
			} else if free[k] > 0 {
				out[i] = []Allocation{{Location: *l.Location, Quantity: free[k]}}
				free[k] = 0
			}
			continue
		}
		free[k] -= l.Quantity
		out[i] = []Allocation{{Location: *l.Location, Quantity: l.Quantity}}
	}
	for i, l := range lines {
		if l.Location != nil {
			continue
		}
		var candidates []db.LocationsLockSharedRow
		var total int64
		for _, loc := range s.locations {
			if loc.Active && free[Level{l.Product, loc.ID}] > 0 {
				candidates = append(candidates, loc)
				total += free[Level{l.Product, loc.ID}]
			}
		}
		need := l.Quantity
		if total < l.Quantity {
			if !waits(i, l, total) {
				shortOf(l, total)
				continue
			}
			need = total
		}
		slices.SortFunc(candidates, func(a, b db.LocationsLockSharedRow) int {
			if c := cmp.Compare(free[Level{l.Product, b.ID}], free[Level{l.Product, a.ID}]); c != 0 {
				return c
			}
			return cmp.Compare(a.Code, b.Code)
		})
		for _, loc := range candidates {
			if need == 0 {
				break
			}
			k := Level{l.Product, loc.ID}
			take := min(need, free[k])
			free[k] -= take
			need -= take
			out[i] = append(out[i], Allocation{Location: loc.ID, Quantity: take})
			if need == 0 {
				break
			}
		}
	}
	if len(short) > 0 {
		slices.SortFunc(short, func(a, b api.ProblemLine) int { return cmp.Compare(a.Index, b.Index) })
		return nil, nil, &InsufficientStock{Lines: short}
	}
	return out, backs, nil
}

// Reserve allocates lines (Allocate's rule) and holds them for a new reservation expiring at
// expiresAt: the reservation, its allocations and the `reservation` movements naming it are
// written together. Open must have locked HoldScope(lines).
func (s *Stock) Reserve(ctx context.Context, lines []HoldLine, reference *string, expiresAt time.Time) (stockdb.Reservation, []stockdb.ReservationAllocation, error) {
	allocs, err := s.Allocate(lines)
	if err != nil {
		return stockdb.Reservation{}, nil, err
	}
	r, err := s.sq.ReservationCreate(ctx, stockdb.ReservationCreateParams{
		BrandID: s.brand, ID: uuid.Must(uuid.NewV7()), Reference: reference,
		ExpiresAt: expiresAt, CreatedBy: s.actor, Now: s.now,
	})
	if err != nil {
		return stockdb.Reservation{}, nil, err
	}
	params := stockdb.ReservationAllocationsAddParams{BrandID: s.brand, ReservationID: r.ID}
	var rows []stockdb.ReservationAllocation
	for i, l := range lines {
		for _, a := range allocs[i] {
			err := s.move(ctx, Level{l.Product, a.Location}, movement{kind: stockdb.MovementKindReservation, reservedDelta: a.Quantity, reservation: &r.ID})
			if err != nil {
				return stockdb.Reservation{}, nil, err
			}
			params.LineNos = append(params.LineNos, int32(i)) //nolint:gosec // at most 250 lines
			params.ProductIds = append(params.ProductIds, l.Product)
			params.LocationIds = append(params.LocationIds, a.Location)
			params.Quantities = append(params.Quantities, a.Quantity)
			rows = append(rows, stockdb.ReservationAllocation{ReservationID: r.ID, LineNo: int32(i), ProductID: l.Product, LocationID: a.Location, Quantity: a.Quantity}) //nolint:gosec // at most 250 lines
		}
	}
	if err := s.sq.ReservationAllocationsAdd(ctx, params); err != nil {
		return stockdb.Reservation{}, nil, err
	}
	return r, rows, emitReservation(ctx, s.q, api.EventTypeReservationCreated, apiReservation(r, rows, s.now), s.now)
}

// Release gives back every hold of a reservation that Open locked (Scope.Reservation) and ends it
// with status (released, expired).
func (s *Stock) Release(ctx context.Context, reservation uuid.UUID, status stockdb.ReservationStatus) error {
	for _, a := range s.held {
		if a.ReservationID != reservation {
			continue
		}
		l := Level{a.ProductID, a.LocationID}
		if !expirySecond(a.ExpiresAt).After(s.now) {
			s.expired[l] -= a.Quantity // it was counted among the expired holds: no longer
		}
		err := s.move(ctx, l, movement{kind: stockdb.MovementKindRelease, reservedDelta: -a.Quantity, reservation: &reservation, refill: true})
		if err != nil {
			return err
		}
	}
	return s.endReservation(ctx, reservation, status)
}

// errConsumed refuses to release a reservation an order took over.
var errConsumed = errors.New("reservation consumed")

// releaseReservation gives reservation id's holds back, in tx (scoped to brand), and says how it
// ended it ("" when it had already ended: released or expired; errConsumed when an order took it).
func releaseReservation(ctx context.Context, tx db.DBTX, brand, id uuid.UUID, now time.Time) (stockdb.ReservationStatus, error) {
	r, err := stockdb.New(tx).ReservationGetForUpdate(ctx, stockdb.ReservationGetForUpdateParams{BrandID: brand, ID: id})
	if err != nil {
		return "", kit.DBError(err)
	}
	switch {
	case r.Status == stockdb.ReservationStatusConsumed:
		return "", errConsumed
	case r.Status != stockdb.ReservationStatusActive:
		return "", nil
	}
	st, err := Open(ctx, tx, brand, now, Scope{Reservation: &r.ID})
	if err != nil {
		return "", err
	}
	status := stockdb.ReservationStatusReleased
	if !r.ExpiresAt.After(now) {
		status = stockdb.ReservationStatusExpired
	}
	return status, st.Release(ctx, r.ID, status)
}

// errNotActive refuses to extend a reservation that ended.
var errNotActive = errors.New("reservation not active")

// extendReservation moves an active reservation's expiry to expiresAt, in tx (scoped to brand),
// and answers it with its holds.
func extendReservation(ctx context.Context, tx db.DBTX, brand, id uuid.UUID, now, expiresAt time.Time) (stockdb.Reservation, []stockdb.ReservationAllocation, error) {
	// A sale counts a hold as gone once it expired, without locking the reservation. A request
	// whose clock read just before the expiry could otherwise revive a hold whose stock a sale
	// (reading just after) has taken: so the extension first locks the reservation and its levels
	// (the shared lock order) and refuses when they no longer cover the hold.
	st, err := Open(ctx, tx, brand, now, Scope{Reservation: &id})
	if err != nil {
		return stockdb.Reservation{}, nil, err
	}
	r, err := st.sq.ReservationExtend(ctx, stockdb.ReservationExtendParams{BrandID: brand, ID: id, ExpiresAt: expiresAt, Now: now})
	if errors.Is(kit.DBError(err), kit.ErrNotFound) {
		if _, err := st.sq.ReservationGet(ctx, stockdb.ReservationGetParams{BrandID: brand, ID: id}); err != nil {
			return stockdb.Reservation{}, nil, kit.DBError(err)
		}
		return stockdb.Reservation{}, nil, errNotActive
	}
	if err != nil {
		return stockdb.Reservation{}, nil, err
	}
	for _, a := range st.held {
		if st.Available(Level{a.ProductID, a.LocationID}) < 0 {
			return stockdb.Reservation{}, nil, errNotActive
		}
	}
	return r, st.held, nil
}
