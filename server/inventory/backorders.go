package inventory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/events"
)

// Backorders (issue 22). A product that allowBackorder may be ordered beyond what is available:
// the order holds what exists (HoldOrder) and the rest of each short line waits at one location
// as a claim (Backorder). A claim is not stock: it is in neither onHand nor reserved, so it can
// never oversell. Every arrival of stock at a level (any movement that raises onHand: a receipt,
// manual or a purchase order's, a return, a positive adjustment or count, a transfer in) first
// fills the claims waiting there, oldest order first by number, in the arrival's own transaction
// (fill, called by move): each filled unit becomes the order's hold (a `reservation` movement
// naming the order, and its allocation), and only the rest stays available; each order filled
// is then told (OrdersFilled: a new version, a history row, an order.backorder_filled event). A
// cancellation drops the order's claims (ReleaseOrder). Claims change only under their level's
// lock, so the level's `backordered` is always their sum (BackorderMismatches).

// BackorderLine is the part of an order line that waits for stock: Line indexes the lines given
// to AllocateOrder.
type BackorderLine struct {
	Line     int
	Location uuid.UUID
	Quantity int64
}

// fillBatch is how many waiting claims a fill reads at a time.
const fillBatch = 200

// AllocateOrder is Allocate for an order's lines: a line of a product that allows backorders
// takes what is available (by the same rule) instead of being short, and the rest waits at one
// location (BackorderLine): where the product has a level among the brand's active locations,
// the one with the most available first, then by code; without any such level, the first active
// location by code (its level is created by Backorder).
func (s *Stock) AllocateOrder(lines []HoldLine) ([][]Allocation, []BackorderLine, error) {
	return s.allocate(lines, true)
}

// backorderAt is where a line of product short of stock waits, and whether its level exists.
func (s *Stock) backorderAt(product uuid.UUID, located *uuid.UUID, free map[Level]int64) (uuid.UUID, bool) {
	if located != nil {
		_, ok := s.levels[Level{product, *located}]
		return *located, ok
	}
	var withLevel, active []db.LocationsLockSharedRow
	for _, loc := range s.locations {
		if !loc.Active {
			continue
		}
		active = append(active, loc)
		if s.levels[Level{product, loc.ID}] != nil {
			withLevel = append(withLevel, loc)
		}
	}
	if len(withLevel) > 0 {
		best := slices.MinFunc(withLevel, func(a, b db.LocationsLockSharedRow) int {
			if c := cmp.Compare(free[Level{product, b.ID}], free[Level{product, a.ID}]); c != 0 {
				return c
			}
			return cmp.Compare(a.Code, b.Code)
		})
		return best.ID, true
	}
	if len(active) == 0 {
		return uuid.Nil, false
	}
	first := slices.MinFunc(active, func(a, b db.LocationsLockSharedRow) int { return cmp.Compare(a.Code, b.Code) })
	return first.ID, false
}

// Backorder records the claims of an order (number) placed in this transaction: backs from
// AllocateOrder, lineIDs as for HoldOrder. A level that does not exist yet is created and locked
// here: nobody else can hold a row that did not exist (a concurrent creator makes this wait, and a
// deadlock, should one arise, is retried as every transaction is).
func (s *Stock) Backorder(ctx context.Context, order uuid.UUID, number int64, lineIDs []uuid.UUID, lines []HoldLine, backs []BackorderLine) error {
	for _, b := range backs {
		l := Level{lines[b.Line].Product, b.Location}
		if s.levels[l] == nil {
			if err := s.sq.LevelsEnsure(ctx, stockdb.LevelsEnsureParams{BrandID: s.brand, ProductIds: []uuid.UUID{l.Product}, LocationIds: []uuid.UUID{l.Location}, Now: s.now}); err != nil {
				return err
			}
			rows, err := s.sq.LevelsLock(ctx, stockdb.LevelsLockParams{BrandID: s.brand, ProductIds: []uuid.UUID{l.Product}, LocationIds: []uuid.UUID{l.Location}})
			if err != nil {
				return err
			}
			if len(rows) != 1 {
				return fmt.Errorf("inventory: backorder level %v/%v not created", l.Product, l.Location)
			}
			s.levels[l] = &rows[0]
		}
		if err := s.sq.BackorderAdd(ctx, stockdb.BackorderAddParams{
			BrandID: s.brand, OrderID: order, LineID: lineIDs[b.Line], OrderNumber: number,
			ProductID: l.Product, LocationID: l.Location, Quantity: b.Quantity, Now: s.now,
		}); err != nil {
			return err
		}
		lv := s.levels[l]
		lv.Backordered += b.Quantity
		lv.Version++
		lv.UpdatedAt = s.now
		if err := s.levelUpdated(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// levelUpdated emits the level's inventory.level_updated event for a change that is not a
// movement (incoming, backordered).
func (s *Stock) levelUpdated(ctx context.Context, l Level) error {
	if !slices.Contains(s.touched, l) {
		s.touched = append(s.touched, l)
	}
	level := s.apiLevel(l)
	return events.Emit(ctx, s.q, s.brand, s.now, events.Event{
		Type: api.EventTypeInventoryLevelUpdated, Data: level,
		Aggregate: events.Aggregate{Type: api.EventAggregateTypeInventoryLevel, ID: LevelAggregateID(l), Version: level.Version},
	})
}

// OrdersFilled is told which orders a fill at one level gave stock to, in the filling
// transaction tx, after the fill: the orders domain bumps their versions and tells their events
// (server/orders, filled.go).
type OrdersFilled func(ctx context.Context, tx db.DBTX, brand uuid.UUID, now time.Time, orders []uuid.UUID) error

// ordersFilled is the registered OrdersFilled. The engine lives below the orders domain (orders
// import inventory), so the orders package registers it (OnOrdersFilled) rather than the engine
// calling it by name.
var ordersFilled OrdersFilled

// OnOrdersFilled registers what a fill tells the orders it gave stock to. The orders package
// calls it when it is loaded; a fill with nothing registered fails its transaction.
func OnOrdersFilled(fn OrdersFilled) { ordersFilled = fn }

// fill gives what is available at the locked level l to the claims waiting there, oldest order
// first (by number, then line), until either runs out, then tells the orders it filled
// (OrdersFilled). move calls it after every movement that raises onHand, so no arrival can forget
// it.
func (s *Stock) fill(ctx context.Context, l Level) error {
	orders, err := s.fillClaims(ctx, l)
	if err != nil || len(orders) == 0 {
		return err
	}
	if ordersFilled == nil {
		return errors.New("inventory: orders were filled, and no OrdersFilled is registered to tell them")
	}
	return ordersFilled(ctx, s.tx, s.brand, s.now, orders)
}

// fillClaims is fill's work on the claims; it returns the orders it filled, each once.
func (s *Stock) fillClaims(ctx context.Context, l Level) ([]uuid.UUID, error) {
	var orders []uuid.UUID
	lv := s.levels[l]
	for lv.Backordered > 0 {
		free := s.Available(l)
		if free <= 0 {
			return orders, nil
		}
		queue, err := s.sq.BackorderQueue(ctx, stockdb.BackorderQueueParams{BrandID: s.brand, ProductID: l.Product, LocationID: l.Location, RowLimit: fillBatch})
		if err != nil {
			return nil, err
		}
		if len(queue) == 0 {
			return nil, fmt.Errorf("inventory: level %v/%v has %d backordered and no claims", l.Product, l.Location, lv.Backordered)
		}
		for _, c := range queue {
			take := min(free, c.Quantity)
			if take == 0 {
				return orders, nil
			}
			if err := s.sq.BackorderTake(ctx, stockdb.BackorderTakeParams{
				BrandID: s.brand, OrderID: c.OrderID, LineID: c.LineID, ProductID: l.Product, LocationID: l.Location, Quantity: take, Now: s.now,
			}); err != nil {
				return nil, err
			}
			lv.Backordered -= take
			lv.Version++
			if err := s.sq.OrderAllocationGrow(ctx, stockdb.OrderAllocationGrowParams{
				BrandID: s.brand, OrderID: c.OrderID, LineID: c.LineID, ProductID: l.Product, LocationID: l.Location, Quantity: take,
			}); err != nil {
				return nil, err
			}
			order := c.OrderID
			if err := s.move(ctx, l, movement{kind: stockdb.MovementKindReservation, reservedDelta: take, order: &order}); err != nil {
				return nil, err
			}
			if !slices.Contains(orders, order) {
				orders = append(orders, order)
			}
			free -= take
		}
	}
	return orders, nil
}

// dropBackorders drops order's claims at the locked levels (a cancellation): their levels'
// backordered falls, and each level tells its new state.
func (s *Stock) dropBackorders(ctx context.Context, order uuid.UUID, claims []stockdb.OrderBackorder) error {
	if len(claims) == 0 {
		return nil
	}
	if err := s.sq.BackordersDrop(ctx, stockdb.BackordersDropParams{BrandID: s.brand, OrderID: order, Now: s.now}); err != nil {
		return err
	}
	var levels []Level
	for _, c := range claims {
		l := Level{c.ProductID, c.LocationID}
		lv := s.levels[l]
		if lv == nil {
			return fmt.Errorf("inventory: backorder level %v/%v dropped without being locked", l.Product, l.Location)
		}
		lv.Backordered -= c.Quantity
		if !slices.Contains(levels, l) {
			levels = append(levels, l)
			lv.Version++
			lv.UpdatedAt = s.now
		}
	}
	for _, l := range levels {
		if err := s.levelUpdated(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// OrderBackorder is what an order line still waits for, and where.
type OrderBackorder struct {
	Order    uuid.UUID
	Line     uuid.UUID
	Location uuid.UUID
	Quantity int64
}

// OrderBackorders reads what the orders' lines still wait for.
func OrderBackorders(ctx context.Context, tx db.DBTX, brand uuid.UUID, orders []uuid.UUID) ([]OrderBackorder, error) {
	rows, err := stockdb.New(tx).OrderBackorders(ctx, stockdb.OrderBackordersParams{BrandID: brand, OrderIds: orders})
	if err != nil {
		return nil, err
	}
	out := make([]OrderBackorder, len(rows))
	for i, r := range rows {
		out[i] = OrderBackorder{Order: r.OrderID, Line: r.LineID, Location: r.LocationID, Quantity: r.Quantity}
	}
	return out, nil
}
