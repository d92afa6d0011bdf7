package inventory

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/problem"
)

// summed is a request's lines merged by level, in the order each level first appears: two lines
// of -1 against 1 available are one line of -2, checked once (the Vendure and Medusa bugs of
// checking each duplicate line against the same stock cannot happen).
type summed struct {
	order []Level
	first map[Level]int
	delta map[Level]int64
}

func sumLines[L any](lines []L, key func(L) Level, delta func(L) int64) summed {
	s := summed{first: map[Level]int{}, delta: map[Level]int64{}}
	for i, l := range lines {
		k := key(l)
		if _, seen := s.first[k]; !seen {
			s.first[k] = i
			s.order = append(s.order, k)
		}
		s.delta[k] += delta(l)
	}
	return s
}

func (s summed) scope(create func(Level) bool) Scope {
	var sc Scope
	for _, k := range s.order {
		sc.Products = append(sc.Products, k.Product)
		sc.Locations = append(sc.Locations, k.Location)
		if create(k) {
			sc.Create = append(sc.Create, k)
		}
	}
	return sc
}

func shortLine(index int, l Level, requested, available int64) api.ProblemLine {
	loc := l.Location
	return api.ProblemLine{Index: index, ProductId: l.Product, LocationId: &loc, Requested: &requested, Available: &available}
}

// CreateStockAdjustment receives, adjusts or returns stock, all lines or none.
func (h *Handlers) CreateStockAdjustment(ctx context.Context, req api.CreateStockAdjustmentRequestObject) (api.CreateStockAdjustmentResponseObject, error) {
	body := req.Body
	lines := sumLines(body.Lines,
		func(l api.StockAdjustmentLine) Level { return Level{l.ProductId, l.LocationId} },
		func(l api.StockAdjustmentLine) int64 { return l.Delta })
	kind := stockdb.MovementKind(body.Kind)
	costs, badCosts := manualCosts(kind, body.Lines)
	if bad := append(signErrors(kind, body.Lines), badCosts...); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	change, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.StockChange, error) {
		st, err := Open(ctx, tx, req.BrandId, h.d.Now(), lines.scope(func(l Level) bool { return lines.delta[l] > 0 }))
		if err != nil {
			return api.StockChange{}, err
		}
		var short []api.ProblemLine
		for _, l := range lines.order {
			if d := lines.delta[l]; d < 0 && st.Available(l) < -d {
				short = append(short, shortLine(lines.first[l], l, -d, st.Available(l)))
			}
		}
		if len(short) > 0 {
			return api.StockChange{}, &InsufficientStock{Lines: short}
		}
		var over []api.ProblemLine
		for _, l := range lines.order {
			if d := lines.delta[l]; !st.Fits(l, d) {
				over = append(over, limitLine(lines.first[l], l, d, st.OnHand(l)))
			}
		}
		if len(over) > 0 {
			return api.StockChange{}, &QuantityLimit{Lines: over}
		}
		for _, l := range costOrder(lines.order, costs) {
			d, note := lines.delta[l], Note{Reason: body.Reason, Reference: body.Reference}
			if cost, ok := costs[l]; ok {
				if err := st.Receive(ctx, Receipt{Level: l, Quantity: d, UnitCost: &cost, Note: note, Line: lines.first[l]}); err != nil {
					return api.StockChange{}, err
				}
			} else if d != 0 {
				if err := st.Adjust(ctx, l, kind, d, note, lines.first[l]); err != nil {
					return api.StockChange{}, err
				}
			}
		}
		return st.Change(), nil
	})
	if err != nil {
		return nil, Refusal(err)
	}
	return api.CreateStockAdjustment201JSONResponse{StockChangedJSONResponse: api.StockChangedJSONResponse{Body: change}}, nil
}

// CreateStockCount sets counted levels' onHand, compare-and-set on expectedOnHand.
func (h *Handlers) CreateStockCount(ctx context.Context, req api.CreateStockCountRequestObject) (api.CreateStockCountResponseObject, error) {
	body := req.Body
	seen := map[Level]int{}
	var bad []api.FieldError
	for i, l := range body.Lines {
		k := Level{l.ProductId, l.LocationId}
		if j, dup := seen[k]; dup {
			bad = append(bad, api.FieldError{Field: fmt.Sprintf("lines[%d]", i), Message: fmt.Sprintf("counts the same level as lines[%d]", j)})
			continue
		}
		seen[k] = i
	}
	if len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	lines := sumLines(body.Lines,
		func(l api.StockCountLine) Level { return Level{l.ProductId, l.LocationId} },
		func(l api.StockCountLine) int64 { return l.OnHand })
	change, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.StockChange, error) {
		// A count may find stock where the ledger had none: such a level is created.
		st, err := Open(ctx, tx, req.BrandId, h.d.Now(), lines.scope(func(l Level) bool { return lines.delta[l] > 0 }))
		if err != nil {
			return api.StockChange{}, err
		}
		var changed, short []api.ProblemLine
		for i, l := range body.Lines {
			k := Level{l.ProductId, l.LocationId}
			if l.ExpectedOnHand != nil && *l.ExpectedOnHand != st.OnHand(k) {
				onHand, loc := st.OnHand(k), k.Location
				changed = append(changed, api.ProblemLine{Index: i, ProductId: k.Product, LocationId: &loc, ExpectedOnHand: l.ExpectedOnHand, OnHand: &onHand})
			}
			if l.OnHand < st.Reserved(k) {
				// As for an adjustment: the count takes onHand − counted units out of the available.
				short = append(short, shortLine(i, k, st.OnHand(k)-l.OnHand, st.Available(k)))
			}
		}
		if len(changed) > 0 {
			return api.StockChange{}, &StockChanged{Lines: changed}
		}
		if len(short) > 0 {
			return api.StockChange{}, &InsufficientStock{Lines: short}
		}
		for _, l := range lines.order {
			if d := lines.delta[l] - st.OnHand(l); d != 0 {
				if err := st.Adjust(ctx, l, stockdb.MovementKindCount, d, Note{Reason: body.Reason, Reference: body.Reference}, lines.first[l]); err != nil {
					return api.StockChange{}, err
				}
			}
		}
		return st.Change(), nil
	})
	if err != nil {
		return nil, Refusal(err)
	}
	return api.CreateStockCount201JSONResponse{StockChangedJSONResponse: api.StockChangedJSONResponse{Body: change}}, nil
}

// CreateStockTransfer moves available stock from one location to another in one transaction.
func (h *Handlers) CreateStockTransfer(ctx context.Context, req api.CreateStockTransferRequestObject) (api.CreateStockTransferResponseObject, error) {
	body := req.Body
	if body.FromLocationId == body.ToLocationId {
		return nil, problem.RefuseField("toLocationId", "must differ from fromLocationId")
	}
	from, to := Level{body.ProductId, body.FromLocationId}, Level{body.ProductId, body.ToLocationId}
	change, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.StockChange, error) {
		st, err := Open(ctx, tx, req.BrandId, h.d.Now(), Scope{
			Products:  []uuid.UUID{body.ProductId},
			Locations: []uuid.UUID{body.FromLocationId, body.ToLocationId},
			Create:    []Level{to},
		})
		if err != nil {
			return api.StockChange{}, err
		}
		if st.Available(from) < body.Quantity {
			return api.StockChange{}, &InsufficientStock{Lines: []api.ProblemLine{shortLine(0, from, body.Quantity, st.Available(from))}}
		}
		if !st.Fits(to, body.Quantity) {
			return api.StockChange{}, &QuantityLimit{Lines: []api.ProblemLine{limitLine(0, to, body.Quantity, st.OnHand(to))}}
		}
		if err := st.Transfer(ctx, from, to, body.Quantity, Note{Reason: body.Reason, Reference: body.Reference}); err != nil {
			return api.StockChange{}, err
		}
		return st.Change(), nil
	})
	if err != nil {
		return nil, Refusal(err)
	}
	return api.CreateStockTransfer201JSONResponse{StockChangedJSONResponse: api.StockChangedJSONResponse{Body: change}}, nil
}
