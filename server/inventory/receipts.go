package inventory

import (
	"context"
	"errors"
	"math"
	"math/big"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/events"
)

// What purchasing may do to stock (server/purchasing calls these inside the purchase order's own
// transaction, the PO's row locked first): say what is on its way to a level (Expect: a PO
// submitted, received, cancelled or closed) and receive stock at a cost (Receive). Incoming is
// kept on the level, beside onHand and reserved, and never counts as available.

// PurchaseScope is what Open must lock to change incoming or receive stock of products at one
// location: the levels are created when missing (a PO may order a product never stocked there).
func PurchaseScope(location uuid.UUID, products []uuid.UUID) Scope {
	sc := Scope{Locations: []uuid.UUID{location}}
	for _, p := range products {
		sc.Products = append(sc.Products, p)
		sc.Create = append(sc.Create, Level{p, location})
	}
	return sc
}

// ExpectedScope is what Open must lock to take what open POs bring out of existing levels
// (cancel, close): their locations FOR SHARE whether active or not, like an order's holds.
func ExpectedScope(levels []Level) Scope {
	sc := Scope{Held: levels}
	for _, l := range levels {
		sc.Products = append(sc.Products, l.Product)
	}
	return sc
}

// Expect changes what open purchase orders bring to the locked level l by delta (positive when a
// PO is submitted, negative as it is received, cancelled or closed), and tells the level's new
// state. Incoming is not a movement: the ledger records stock on hand and held, and incoming is
// proved by IncomingMismatches against the open POs instead.
func (s *Stock) Expect(ctx context.Context, l Level, delta int64) error {
	lv := s.levels[l]
	if lv == nil {
		return errors.New("inventory: incoming changed at a level that is not locked")
	}
	if delta == 0 {
		return nil
	}
	row, err := s.sq.LevelAddIncoming(ctx, stockdb.LevelAddIncomingParams{
		BrandID: s.brand, ProductID: l.Product, LocationID: l.Location, Delta: delta, Now: s.now,
	})
	if err != nil {
		return err
	}
	lv.Incoming, lv.Version, lv.UpdatedAt = row.Incoming, row.Version, s.now
	level := s.apiLevel(l)
	return events.Emit(ctx, s.q, s.brand, s.now, events.Event{
		Type: api.EventTypeInventoryLevelUpdated, Data: level,
		Aggregate: events.Aggregate{Type: api.EventAggregateTypeInventoryLevel, ID: LevelAggregateID(l), Version: level.Version},
	})
}

// Incoming is a locked level's incoming (0 for a level that does not exist).
func (s *Stock) Incoming(l Level) int64 {
	if lv := s.levels[l]; lv != nil {
		return lv.Incoming
	}
	return 0
}

// Receipt is stock that arrived at a level: quantity units, at unitCost each (minor units of the
// product's currency; nil when unknown), for purchase order po (nil for a manual receipt).
type Receipt struct {
	Level    Level
	Quantity int64
	UnitCost *int64
	PO       *uuid.UUID
	Note     Note
	// Line is the request line, named if the level's bound refuses it.
	Line int
}

// Receive appends a `receipt` movement for r at its locked level and, when it has a cost, moves
// the product's average cost (AverageAfter) in the same transaction. The caller checks the level
// bound first (Fits). Several costed receipts in one transaction must come in product order (the
// cost rows are locked as they come: the shared lock order).
func (s *Stock) Receive(ctx context.Context, r Receipt) error {
	m := movement{kind: stockdb.MovementKindReceipt, onHandDelta: r.Quantity, unitCost: r.UnitCost,
		purchaseOrder: r.PO, reason: r.Note.Reason, reference: r.Note.Reference, line: r.Line}
	if r.UnitCost != nil {
		// The cost row is locked after the levels (the shared lock order): receipts of one product
		// serialize here, so each average is taken over the one before it.
		old, err := s.sq.ProductCostLock(ctx, stockdb.ProductCostLockParams{BrandID: s.brand, ProductID: r.Level.Product, Now: s.now})
		if err != nil {
			return err
		}
		before, err := s.sq.ProductOnHand(ctx, stockdb.ProductOnHandParams{BrandID: s.brand, ProductID: r.Level.Product})
		if err != nil {
			return err
		}
		avg := AverageAfter(before, old, r.Quantity, *r.UnitCost)
		if err := s.sq.ProductCostSet(ctx, stockdb.ProductCostSetParams{BrandID: s.brand, ProductID: r.Level.Product, AverageCost: &avg, Now: s.now}); err != nil {
			return err
		}
		m.averageCost = &avg
		p := s.products[r.Level.Product]
		p.AverageCost = &avg
		s.products[r.Level.Product] = p
	}
	return s.move(ctx, r.Level, m)
}

// AverageAfter is the moving average unit cost after receiving quantity units at unitCost, with
// onHand units on hand before at average old (nil: none yet). The rule the spec states:
// (onHand·old + quantity·unitCost) / (onHand + quantity), rounded half up to a whole minor unit;
// with nothing (or less than nothing) on hand before, or no average yet, it is unitCost. Exact
// for any quantities and costs (big integers; the result lies between old and unitCost).
func AverageAfter(onHand int64, old *int64, quantity, unitCost int64) int64 {
	if onHand <= 0 || old == nil {
		return unitCost
	}
	num := new(big.Int).Mul(big.NewInt(onHand), big.NewInt(*old))
	num.Add(num, new(big.Int).Mul(big.NewInt(quantity), big.NewInt(unitCost)))
	den := big.NewInt(onHand + quantity)
	// round half up: floor((2·num + den) / (2·den))
	num.Mul(num, big.NewInt(2)).Add(num, den)
	den.Mul(den, big.NewInt(2))
	q := num.Quo(num, den)
	if !q.IsInt64() {
		return math.MaxInt64 // unreachable: the average lies between two int64 costs
	}
	return q.Int64()
}

// averageCost is a product's moving average cost, or nil before its first costed receipt.
func averageCost(ctx context.Context, tx db.DBTX, brand, product uuid.UUID) (*int64, error) {
	rows, err := db.New(tx).ProductsAvailability(ctx, db.ProductsAvailabilityParams{BrandID: brand, Ids: []uuid.UUID{product}})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0].AverageCost, nil
}

// AverageCost is a product's moving average cost in tx (scoped to brand), nil before its first
// costed receipt.
func AverageCost(ctx context.Context, tx db.DBTX, brand, product uuid.UUID) (*int64, error) {
	return averageCost(ctx, tx, brand, product)
}

func nullableInt(n nullable.Nullable[int64]) *int64 {
	if !n.IsSpecified() || n.IsNull() {
		return nil
	}
	v := n.MustGet()
	return &v
}
