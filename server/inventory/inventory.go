// Package inventory is stock: locations, stock levels, the append-only ledger of movements,
// transfers and reservations. It holds the only code allowed to change those tables (a depguard
// rule lets no other package import their queries, gen/stockdb); other domains (orders) change
// stock through the Stock engine it exports, inside their own transaction.
package inventory

import (
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

// Refusal is the refusal a stock engine error reads as, whatever operation (a stock change here, an
// order elsewhere) met it: one place says each one's code and detail. Any other err is returned as
// it is.
func Refusal(err error) error {
	var (
		pm *ProductsMissing
		lm *LocationsMissing
		li *LocationInactive
		pu *ProductsUnavailable
		vr *VariantRequired
		is *InsufficientStock
		sc *StockChanged
		rm *ReservationMismatch
		rn *ReservationNotActive
		ql *QuantityLimit
	)
	withLines := func(code api.ProblemCode, detail string, lines []api.ProblemLine) error {
		return &problem.Error{Code: code, Detail: detail, Extend: func(p *api.Problem) { p.Lines = &lines }}
	}
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return problem.Refuse(api.ProblemCodeNotFound, "No such resource in this brand.")
	case errors.As(err, &pm):
		return problem.Refuse(pm.Code(), "No such product: "+pm.IDs[0].String()+".")
	case errors.As(err, &lm):
		return problem.Refuse(lm.Code(), "No such location: "+lm.IDs[0].String()+".")
	case errors.As(err, &li):
		return problem.Refuse(li.Code(), "Location "+li.ID.String()+" is inactive; activate it first.")
	case errors.As(err, &rn):
		return problem.Refuse(rn.Code(), "The reservation was released, expired or consumed.")
	case errors.As(err, &sc):
		return withLines(sc.Code(), "The stock on hand changed since it was counted; `lines` gives the current values.", sc.Lines)
	case errors.As(err, &vr):
		return problem.Refuse(vr.Code(), "Product "+vr.IDs[0].String()+" has variants: stock, reservations and orders name one of its variants (GET its variants).")
	case errors.As(err, &pu):
		return withLines(pu.Code(), "Draft and archived products cannot be held or sold; `lines` lists them.", pu.Lines)
	case errors.As(err, &is):
		observe.InsufficientStock()
		return withLines(is.Code(), "Not enough available stock; `lines` lists each short line.", is.Lines)
	case errors.As(err, &ql):
		return withLines(ql.Code(), fmt.Sprintf("A level holds at most %d units; `lines` lists each line that would pass it.", MaxLevelQuantity), ql.Lines)
	case errors.As(err, &rm):
		return withLines(rm.Code(), "The reservation does not hold the order's lines; `lines` lists each shortfall.", rm.Lines)
	}
	return err
}
