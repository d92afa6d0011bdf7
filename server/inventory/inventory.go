// Package inventory is stock: locations, stock levels, the append-only ledger of movements,
// transfers and reservations. It holds the only code allowed to change those tables; other
// domains (orders) change stock through the Stock engine it exports, inside their own transaction.
package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
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
func Refused[NF kit.NotFoundResponse, CF kit.ConflictResponse, UF kit.UnprocessableResponse](ctx context.Context, err error) (any, bool) {
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
		return NF{kit.NotFound(ctx, "No such resource in this brand.")}, true
	case errors.As(err, &pm):
		return NF{kit.NotFound(ctx, "No such product: "+pm.IDs[0].String()+".")}, true
	case errors.As(err, &lm):
		return NF{kit.NotFound(ctx, "No such location: "+lm.IDs[0].String()+".")}, true
	case errors.As(err, &li):
		return CF{kit.Conflict(ctx, api.ProblemCodeLocationInactive, "Location "+li.ID.String()+" is inactive; activate it first.")}, true
	case errors.As(err, &rn):
		return CF{kit.Conflict(ctx, api.ProblemCodeReservationNotActive, "The reservation was released, expired or consumed.")}, true
	case errors.As(err, &sc):
		c := kit.Conflict(ctx, api.ProblemCodeStockChanged, "The stock on hand changed since it was counted; `lines` gives the current values.")
		c.Body.Lines = &sc.Lines
		return CF{c}, true
	case errors.As(err, &pu):
		u := kit.Unprocessable(ctx, api.ProblemCodeProductUnavailable, "Draft and archived products cannot be held or sold; `lines` lists them.")
		u.Body.Lines = &pu.Lines
		return UF{u}, true
	case errors.As(err, &is):
		observe.InsufficientStock()
		u := kit.Unprocessable(ctx, api.ProblemCodeInsufficientStock, "Not enough available stock; `lines` lists each short line.")
		u.Body.Lines = &is.Lines
		return UF{u}, true
	case errors.As(err, &ql):
		u := kit.Unprocessable(ctx, api.ProblemCodeQuantityLimit, fmt.Sprintf("A level holds at most %d units; `lines` lists each line that would pass it.", MaxLevelQuantity))
		u.Body.Lines = &ql.Lines
		return UF{u}, true
	case errors.As(err, &rm):
		u := kit.Unprocessable(ctx, api.ProblemCodeReservationMismatch, "The reservation does not hold the order's lines; `lines` lists each shortfall.")
		u.Body.Lines = &rm.Lines
		return UF{u}, true
	}
	return nil, false
}
