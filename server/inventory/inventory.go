// Package inventory is stock: locations, stock levels, the append-only ledger of movements,
// transfers and reservations. It holds the only code allowed to change those tables (a depguard
// rule lets no other package import their queries, gen/stockdb); other domains (orders) change
// stock through the Stock engine it exports, inside their own transaction.
package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Handlers implements the inventory operations of api.StrictServerInterface.
type Handlers struct {
	d *kit.Deps
}

// New returns the inventory handlers.
func New(d *kit.Deps) *Handlers {
	return &Handlers{d: d}
}

// Refused maps the stock engine's refusals to the operation's response (ok false for any other
// error): one place says which status and code each refusal is, whatever operation (a stock
// change here, an order elsewhere) met it.
func Refused[R any](ctx context.Context, err error, a kit.Answers[R]) (resp R, ok bool) {
	var (
		pm *ProductsMissing
		lm *LocationsMissing
		li *LocationInactive
		pu *ProductsUnavailable
		is *InsufficientStock
		sc *StockChanged
		rm *ReservationMismatch
		rn *ReservationNotActive
		ql *QuantityLimit
	)
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return a.Problem(problem.New(ctx, api.ProblemCodeNotFound, "No such resource in this brand."))
	case errors.As(err, &pm):
		return a.Problem(problem.New(ctx, pm.Code(), "No such product: "+pm.IDs[0].String()+"."))
	case errors.As(err, &lm):
		return a.Problem(problem.New(ctx, lm.Code(), "No such location: "+lm.IDs[0].String()+"."))
	case errors.As(err, &li):
		return a.Problem(problem.New(ctx, li.Code(), "Location "+li.ID.String()+" is inactive; activate it first."))
	case errors.As(err, &rn):
		return a.Problem(problem.New(ctx, rn.Code(), "The reservation was released, expired or consumed."))
	case errors.As(err, &sc):
		c := problem.New(ctx, sc.Code(), "The stock on hand changed since it was counted; `lines` gives the current values.")
		c.Lines = &sc.Lines
		return a.Problem(c)
	case errors.As(err, &pu):
		u := problem.New(ctx, pu.Code(), "Draft and archived products cannot be held or sold; `lines` lists them.")
		u.Lines = &pu.Lines
		return a.Problem(u)
	case errors.As(err, &is):
		observe.InsufficientStock()
		u := problem.New(ctx, is.Code(), "Not enough available stock; `lines` lists each short line.")
		u.Lines = &is.Lines
		return a.Problem(u)
	case errors.As(err, &ql):
		u := problem.New(ctx, ql.Code(), fmt.Sprintf("A level holds at most %d units; `lines` lists each line that would pass it.", MaxLevelQuantity))
		u.Lines = &ql.Lines
		return a.Problem(u)
	case errors.As(err, &rm):
		u := problem.New(ctx, rm.Code(), "The reservation does not hold the order's lines; `lines` lists each shortfall.")
		u.Lines = &rm.Lines
		return a.Problem(u)
	}
	return resp, false
}
