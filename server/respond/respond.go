package respond

import (
	"errors"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Unmet is the refusal for the two ways a conditional change can touch no row (see kit.Stale):
// ErrNotFound is a not_found with the detail notFound, ErrStale a precondition_failed naming what.
// Any other err is returned as it is, for the handler's own cases:
//
//	if err != nil {
//		return nil, respond.Unmet(err, "No such brand.", "brand")
//	}
func Unmet(err error, notFound, what string) error {
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return problem.Refuse(api.ProblemCodeNotFound, notFound)
	case errors.Is(err, kit.ErrStale):
		return PreconditionFailed(what)
	}
	return err
}

// PreconditionFailed refuses a change whose If-Match names a version no longer current.
func PreconditionFailed(what string) *problem.Error {
	return problem.Refuse(api.ProblemCodePreconditionFailed, "The "+what+" changed since the version If-Match names; read it again.")
}
