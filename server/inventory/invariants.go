package inventory

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
)

// The stock invariants, checked per level by the tests, the load harness and the cluster proof:
//   - ledger: a level's movements sum to its onHand and reserved (LedgerMismatches);
//   - holds: a level's reserved is what its live holds add up to, the allocations of unreleased
//     reservations plus what orders still hold, and level_hold_expiries adds up to those
//     reservation allocations (HoldMismatches).
//
// The engine keeps both by writing a movement and the hold records that explain it in one verb.

// Invariant names a stock invariant.
type Invariant string

// The invariants a Mismatch may break.
const (
	InvariantLedger Invariant = "ledger"
	InvariantHolds  Invariant = "holds"
	// InvariantIncoming: a level's incoming is what open purchase orders still bring to it.
	InvariantIncoming Invariant = "incoming"
	// InvariantBackorders: a level's backordered is what order lines' claims wait for there.
	InvariantBackorders Invariant = "backorders"
)

// Mismatch is a level that breaks an invariant, and by how much.
type Mismatch struct {
	Invariant Invariant
	Level     Level
	Detail    string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: level %s/%s: %s", m.Invariant, m.Level.Product, m.Level.Location, m.Detail)
}

// LedgerMismatches lists brand's levels whose movements do not sum to their quantities. tx must
// be scoped to brand (row-level security hides every other brand's rows, and a scope-less
// transaction sees none).
func LedgerMismatches(ctx context.Context, tx db.DBTX, brand uuid.UUID) ([]Mismatch, error) {
	rows, err := stockdb.New(tx).LedgerMismatches(ctx, brand)
	if err != nil {
		return nil, err
	}
	out := make([]Mismatch, len(rows))
	for i, r := range rows {
		out[i] = Mismatch{Invariant: InvariantLedger, Level: Level{r.ProductID, r.LocationID}, Detail: fmt.Sprintf(
			"onHand %d reserved %d, its movements sum to %d and %d", r.OnHand, r.Reserved, r.OnHandSum, r.ReservedSum)}
	}
	return out, nil
}

// HoldMismatches lists brand's levels whose reserved is not the sum of their live holds, or whose
// hold expiries do not add up to their reservations' live allocations. tx as for LedgerMismatches.
func HoldMismatches(ctx context.Context, tx db.DBTX, brand uuid.UUID) ([]Mismatch, error) {
	rows, err := stockdb.New(tx).HoldMismatches(ctx, brand)
	if err != nil {
		return nil, err
	}
	out := make([]Mismatch, len(rows))
	for i, r := range rows {
		out[i] = Mismatch{Invariant: InvariantHolds, Level: Level{r.ProductID, r.LocationID}, Detail: fmt.Sprintf(
			"reserved %d, its holds add up to %d (reservations %d, orders %d); hold expiries add up to %d",
			r.Reserved, r.Held, r.ReservationHeld, r.OrderHeld, r.Expiries)}
	}
	return out, nil
}

// IncomingMismatches lists brand's levels whose incoming is not what open purchase orders
// (ordered, partially received) still bring to them. tx as for LedgerMismatches.
func IncomingMismatches(ctx context.Context, tx db.DBTX, brand uuid.UUID) ([]Mismatch, error) {
	rows, err := stockdb.New(tx).IncomingMismatches(ctx, brand)
	if err != nil {
		return nil, err
	}
	out := make([]Mismatch, len(rows))
	for i, r := range rows {
		out[i] = Mismatch{Invariant: InvariantIncoming, Level: Level{r.ProductID, r.LocationID}, Detail: fmt.Sprintf(
			"incoming %d, open purchase orders bring %d", r.Incoming, r.Expected)}
	}
	return out, nil
}

// BackorderMismatches lists brand's levels whose backordered is not the sum of the claims waiting
// there. tx as for LedgerMismatches.
func BackorderMismatches(ctx context.Context, tx db.DBTX, brand uuid.UUID) ([]Mismatch, error) {
	rows, err := stockdb.New(tx).BackorderMismatches(ctx, brand)
	if err != nil {
		return nil, err
	}
	out := make([]Mismatch, len(rows))
	for i, r := range rows {
		out[i] = Mismatch{Invariant: InvariantBackorders, Level: Level{r.ProductID, r.LocationID}, Detail: fmt.Sprintf(
			"backordered %d, its claims add up to %d", r.Backordered, r.Claimed)}
	}
	return out, nil
}

// Mismatches lists the levels of brand that break any invariant (ledger first, then holds, then
// incoming, then backorders).
func Mismatches(ctx context.Context, tx db.DBTX, brand uuid.UUID) ([]Mismatch, error) {
	ledger, err := LedgerMismatches(ctx, tx, brand)
	if err != nil {
		return nil, err
	}
	holds, err := HoldMismatches(ctx, tx, brand)
	if err != nil {
		return nil, err
	}
	incoming, err := IncomingMismatches(ctx, tx, brand)
	if err != nil {
		return nil, err
	}
	backorders, err := BackorderMismatches(ctx, tx, brand)
	if err != nil {
		return nil, err
	}
	return append(append(append(ledger, holds...), incoming...), backorders...), nil
}
