package purchasing

import (
	"context"
	"math"
	"math/big"
	"math/bits"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
)

// valued is one level's stock on hand at its product's average cost, now or as of a time.
type valued struct {
	product, location uuid.UUID
	sku, currency     string
	onHand            int64
	averageCost       *int64
}

func valuationLine(v valued) (api.ValuationLine, error) {
	out := api.ValuationLine{ProductId: v.product, LocationId: v.location, Sku: v.sku, Currency: v.currency, OnHand: v.onHand, AverageCost: v.averageCost}
	if v.averageCost != nil {
		hi, lo := bits.Mul64(uint64(v.onHand), uint64(*v.averageCost)) //nolint:gosec // both ≥ 0 (CHECK constraints)
		if hi != 0 || lo > math.MaxInt64 {
			return out, &AmountOverflow{}
		}
		value := int64(lo)
		out.Value = &value
	}
	return out, nil
}

// totalRow is a ValuationTotals row, now or as of a time.
type totalRow struct {
	location uuid.UUID
	currency string
	value    string
	uncosted int64
}

// totals sums rows per currency and per location; a sum past int64 is a 422 amount_overflow.
func totals(rows []totalRow) (perCurrency, perLocation []api.ValuationTotal, err error) {
	sums := map[string]*big.Int{}
	uncosted := map[string]int64{}
	var currencies []string
	perLocation = []api.ValuationTotal{}
	for _, r := range rows {
		v, ok := new(big.Int).SetString(r.value, 10)
		if !ok || !v.IsInt64() {
			return nil, nil, &AmountOverflow{}
		}
		loc := r.location
		perLocation = append(perLocation, api.ValuationTotal{LocationId: &loc, Currency: r.currency, Value: v.Int64(), UncostedLines: r.uncosted})
		if sums[r.currency] == nil {
			sums[r.currency] = new(big.Int)
			currencies = append(currencies, r.currency)
		}
		sums[r.currency].Add(sums[r.currency], v)
		uncosted[r.currency] += r.uncosted
	}
	perCurrency = []api.ValuationTotal{}
	for _, c := range currencies {
		if !sums[c].IsInt64() {
			return nil, nil, &AmountOverflow{}
		}
		perCurrency = append(perCurrency, api.ValuationTotal{Currency: c, Value: sums[c].Int64(), UncostedLines: uncosted[c]})
	}
	return perCurrency, perLocation, nil
}

// GetInventoryValuation answers what the stock on hand is worth, now or (asOf) replayed from the
// ledger: a page of levels, and the totals over all of them.
func (h *Handlers) GetInventoryValuation(ctx context.Context, req api.GetInventoryValuationRequestObject) (api.GetInventoryValuationResponseObject, error) {
	p := req.Params
	var asOf *time.Time
	if p.AsOf != nil {
		t := p.AsOf.UTC()
		if t.After(h.d.Now()) {
			return nil, problem.RefuseField("asOf", "must not be in the future")
		}
		asOf = &t
	}
	page, err := paging.List(h.d.Cursors, "valuation/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *levelPosition, limit int32) ([]valued, error) {
			var ap, al *uuid.UUID
			if after != nil {
				ap, al = &after.Product, &after.Location
			}
			return kit.ListInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]valued, error) {
				if asOf != nil {
					rows, err := q.ValuationLinesAsOf(ctx, db.ValuationLinesAsOfParams{BrandID: req.BrandId, AsOf: *asOf, LocationID: p.LocationId, AfterProduct: ap, AfterLocation: al, RowLimit: limit})
					out := make([]valued, len(rows))
					for i, r := range rows {
						out[i] = valued{r.ProductID, r.LocationID, r.Sku, r.Currency, r.OnHand, r.AverageCost}
					}
					return out, err
				}
				rows, err := q.ValuationLines(ctx, db.ValuationLinesParams{BrandID: req.BrandId, LocationID: p.LocationId, AfterProduct: ap, AfterLocation: al, RowLimit: limit})
				out := make([]valued, len(rows))
				for i, r := range rows {
					out[i] = valued{r.ProductID, r.LocationID, r.Sku, r.Currency, r.OnHand, r.AverageCost}
				}
				return out, err
			})
		},
		func(v valued) levelPosition { return levelPosition{Product: v.product, Location: v.location} },
		valuationLine)
	if err != nil {
		return nil, refusal(err)
	}
	key := totalsKey{brand: req.BrandId}
	if p.LocationId != nil {
		key.location, key.byLocation = *p.LocationId, true
	}
	if asOf != nil {
		key.asOf, key.hasAsOf = asOf.UnixNano(), true
	}
	rows, err := h.totals.totals(ctx, h.d, key, func(ctx context.Context) ([]totalRow, error) {
		return kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]totalRow, error) {
			if asOf != nil {
				rs, err := q.ValuationTotalsAsOf(ctx, db.ValuationTotalsAsOfParams{BrandID: req.BrandId, AsOf: *asOf, LocationID: p.LocationId})
				out := make([]totalRow, len(rs))
				for i, r := range rs {
					out[i] = totalRow{r.LocationID, r.Currency, r.Value, r.Uncosted}
				}
				return out, err
			}
			rs, err := q.ValuationTotals(ctx, db.ValuationTotalsParams{BrandID: req.BrandId, LocationID: p.LocationId})
			out := make([]totalRow, len(rs))
			for i, r := range rs {
				out[i] = totalRow{r.LocationID, r.Currency, r.Value, r.Uncosted}
			}
			return out, err
		})
	})
	if err != nil {
		return nil, err
	}
	perCurrency, perLocation, err := totals(rows)
	if err != nil {
		return nil, refusal(err)
	}
	return api.GetInventoryValuation200JSONResponse{AsOf: asOf, Items: page.Items, Totals: perCurrency, LocationTotals: perLocation, NextCursor: page.Next}, nil
}
