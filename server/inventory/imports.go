package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
)

// ImportLine is one row of a stock import: a count (OnHand) or a receipt (Receive, with its
// Reference) at a level.
type ImportLine struct {
	Level     Level
	OnHand    *int64
	Receive   *int64
	Reference *string
	Reason    *string
}

// ImportOutcome is what one line came to: Changed, or left as it was, or refused (Error says why).
type ImportOutcome struct {
	Changed bool
	Error   string
}

// Import applies a batch of stock import lines in transaction tx (scoped to brand), in order,
// through the ledger like any other change: a count is a `count` movement of the difference (none
// when it matches), a receipt a `receipt` movement, left unchanged when the level has already
// received one with its reference (so a file imported twice receives once). The levels are locked
// up front as every stock change locks them, so an import racing orders and adjustments keeps the
// ledger exact. A line that cannot apply (a count below what is reserved, a receipt past the
// level's bound) is refused alone; the caller decides whether that fails the batch.
func Import(ctx context.Context, tx db.DBTX, brand uuid.UUID, now time.Time, lines []ImportLine) ([]ImportOutcome, error) {
	var sc Scope
	seen := map[Level]bool{}
	for _, l := range lines {
		if !seen[l.Level] {
			seen[l.Level] = true
			sc.Products = append(sc.Products, l.Level.Product)
			sc.Locations = append(sc.Locations, l.Level.Location)
			sc.Create = append(sc.Create, l.Level)
		}
	}
	st, err := Open(ctx, tx, brand, now, sc)
	if err != nil {
		return nil, err
	}
	out := make([]ImportOutcome, len(lines))
	for i, l := range lines {
		note := Note{Reason: l.Reason, Reference: l.Reference}
		switch {
		case l.OnHand != nil:
			d := *l.OnHand - st.OnHand(l.Level)
			switch {
			case d == 0:
			case *l.OnHand < st.Reserved(l.Level):
				out[i].Error = fmt.Sprintf("counts %d on hand, below the %d reserved", *l.OnHand, st.Reserved(l.Level))
			case !st.Fits(l.Level, d):
				out[i].Error = "would take the level past its bound"
			default:
				if err := st.Adjust(ctx, l.Level, stockdb.MovementKindCount, d, note, i); err != nil {
					return nil, err
				}
				out[i].Changed = true
			}
		case l.Receive != nil && l.Reference != nil:
			received, err := st.sq.MovementReceiptExists(ctx, stockdb.MovementReceiptExistsParams{
				BrandID: brand, ProductID: l.Level.Product, LocationID: l.Level.Location, Reference: *l.Reference,
			})
			if err != nil {
				return nil, err
			}
			switch {
			case received:
			case !st.Fits(l.Level, *l.Receive):
				out[i].Error = "would take the level past its bound"
			default:
				if err := st.Adjust(ctx, l.Level, stockdb.MovementKindReceipt, *l.Receive, note, i); err != nil {
					return nil, err
				}
				out[i].Changed = true
			}
		default:
			return nil, fmt.Errorf("inventory: import line %d is neither a count nor a referenced receipt", i)
		}
	}
	return out, nil
}

// ExportLevel is one row of the stock export.
type ExportLevel = stockdb.LevelsExportPageRow

// ExportLevels reads the brand's levels by SKU then location code after the given pair, at most
// limit (the stock export pages through them).
func ExportLevels(ctx context.Context, tx db.DBTX, brand uuid.UUID, afterSku, afterCode string, limit int32) ([]ExportLevel, error) {
	return stockdb.New(tx).LevelsExportPage(ctx, stockdb.LevelsExportPageParams{BrandID: brand, AfterSku: afterSku, AfterCode: afterCode, MaxItems: limit})
}
