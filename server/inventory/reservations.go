package inventory

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// DefaultReservationTTL is how long a reservation holds its stock unless the request says.
const DefaultReservationTTL = 900 * time.Second

// CreateReservation holds stock for a cart or a checkout, all lines or none.
func (h *Handlers) CreateReservation(ctx context.Context, req api.CreateReservationRequestObject) (api.CreateReservationResponseObject, error) {
	body := req.Body
	raw := make([]HoldLine, len(body.Lines))
	for i, l := range body.Lines {
		raw[i] = HoldLine{Index: i, Product: l.ProductId, Location: l.LocationId, Quantity: l.Quantity}
	}
	lines := MergeHoldLines(raw)
	if bad := LineOverCap(lines); bad != nil {
		return nil, problem.RefuseFields([]api.FieldError{*bad})
	}
	ttl := DefaultReservationTTL
	if body.TtlSeconds != nil {
		ttl = time.Duration(*body.TtlSeconds) * time.Second
	}
	now := h.d.Now()
	res, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Reservation, error) {
		st, err := Open(ctx, tx, req.BrandId, now, HoldScope(lines))
		if err != nil {
			return api.Reservation{}, err
		}
		r, allocs, err := st.Reserve(ctx, lines, body.Reference, now.Add(ttl))
		if err != nil {
			return api.Reservation{}, err
		}
		return apiReservation(r, allocs, now), nil
	})
	if err != nil {
		return nil, Refusal(err)
	}
	observe.Reservations(observe.ReservationCreated, 1)
	return api.CreateReservation201JSONResponse{Body: res, Headers: api.CreateReservation201ResponseHeaders{
		ETag:     respond.ETag(res.Version),
		Location: respond.Location("/brands/", req.BrandId.String(), "/reservations/", res.Id.String()),
	}}, nil
}

// apiReservation shows a reservation with its lines (allocations grouped by line, in line order).
// An active hold past its expiry reads expired, even before the sweeper releases it.
func apiReservation(r stockdb.Reservation, allocs []stockdb.ReservationAllocation, now time.Time) api.Reservation {
	status := api.ReservationStatus(r.Status)
	if r.Status == stockdb.ReservationStatusActive && !r.ExpiresAt.After(now) {
		status = api.ReservationExpired
	}
	out := api.Reservation{
		Id: r.ID, BrandId: r.BrandID, Status: status, ExpiresAt: r.ExpiresAt.UTC(), Reference: r.Reference,
		Lines: []api.ReservationLine{}, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	slices.SortStableFunc(allocs, func(a, b stockdb.ReservationAllocation) int { return cmp.Compare(a.LineNo, b.LineNo) })
	line := int32(-1)
	for _, a := range allocs {
		if a.ReservationID != (uuid.UUID{}) && a.ReservationID != r.ID {
			continue
		}
		if a.LineNo != line {
			line = a.LineNo
			out.Lines = append(out.Lines, api.ReservationLine{ProductId: a.ProductID, Allocations: []api.ReservationAllocation{}})
		}
		l := &out.Lines[len(out.Lines)-1]
		l.Quantity += a.Quantity
		l.Allocations = append(l.Allocations, api.ReservationAllocation{LocationId: a.LocationID, Quantity: a.Quantity})
	}
	return out
}

// GetReservation answers one reservation.
func (h *Handlers) GetReservation(ctx context.Context, req api.GetReservationRequestObject) (api.GetReservationResponseObject, error) {
	now := h.d.Now()
	res, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Reservation, error) {
		q := stockdb.New(tx)
		r, err := q.ReservationGet(ctx, stockdb.ReservationGetParams{BrandID: req.BrandId, ID: req.ReservationId})
		if err != nil {
			return api.Reservation{}, kit.DBError(err)
		}
		allocs, err := q.ReservationAllocations(ctx, stockdb.ReservationAllocationsParams{BrandID: req.BrandId, ReservationIds: []uuid.UUID{r.ID}})
		if err != nil {
			return api.Reservation{}, err
		}
		return apiReservation(r, allocs, now), nil
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such reservation.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetReservation200JSONResponse{Body: res, Headers: api.GetReservation200ResponseHeaders{ETag: respond.ETag(res.Version)}}, nil
}

// ListReservations pages through the brand's reservations, newest first.
func (h *Handlers) ListReservations(ctx context.Context, req api.ListReservationsRequestObject) (api.ListReservationsResponseObject, error) {
	p := req.Params
	now := h.d.Now()
	var status *string
	if p.Status != nil {
		s := string(*p.Status)
		status = &s
	}
	type row struct {
		r      stockdb.Reservation
		allocs []stockdb.ReservationAllocation
	}
	page, err := paging.List(h.d.Cursors, "reservations/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *paging.IDPosition, limit int32) ([]row, error) {
			return kit.InBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]row, error) {
				q := stockdb.New(tx)
				rs, err := q.ReservationList(ctx, stockdb.ReservationListParams{BrandID: req.BrandId, Status: status, Now: now, BeforeID: after.After(), RowLimit: limit})
				if err != nil || len(rs) == 0 {
					return nil, err
				}
				ids := make([]uuid.UUID, len(rs))
				for i, r := range rs {
					ids[i] = r.ID
				}
				allocs, err := q.ReservationAllocations(ctx, stockdb.ReservationAllocationsParams{BrandID: req.BrandId, ReservationIds: ids})
				if err != nil {
					return nil, err
				}
				out := make([]row, len(rs))
				for i, r := range rs {
					out[i].r = r
					for _, a := range allocs {
						if a.ReservationID == r.ID {
							out[i].allocs = append(out[i].allocs, a)
						}
					}
				}
				return out, nil
			})
		},
		func(r row) paging.IDPosition { return paging.IDPosition{ID: r.r.ID} },
		func(r row) (api.Reservation, error) { return apiReservation(r.r, r.allocs, now), nil })
	if err != nil {
		return nil, err
	}
	return api.ListReservations200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// ReleaseReservation gives a reservation's holds back. Releasing one that already ended (released
// or expired) changes nothing and answers 204 too: DELETE is idempotent.
func (h *Handlers) ReleaseReservation(ctx context.Context, req api.ReleaseReservationRequestObject) (api.ReleaseReservationResponseObject, error) {
	now := h.d.Now()
	var ended stockdb.ReservationStatus // how this call ended it, if it did: counted once committed
	_, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (struct{}, error) {
		var err error
		ended, err = releaseReservation(ctx, tx, req.BrandId, req.ReservationId, now)
		return struct{}{}, err
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such reservation.")
	case errors.Is(err, errConsumed):
		return nil, problem.Refuse(api.ProblemCodeReservationNotActive, "An order took this reservation over; cancel the order instead.")
	case err != nil:
		return nil, err
	}
	observe.Reservations(string(ended), 1)
	return api.ReleaseReservation204Response{}, nil
}

// ExtendReservation moves an active reservation's expiry to now + ttlSeconds (the default TTL
// when the body or the member is left out, as for a new reservation).
func (h *Handlers) ExtendReservation(ctx context.Context, req api.ExtendReservationRequestObject) (api.ExtendReservationResponseObject, error) {
	now := h.d.Now()
	ttl := DefaultReservationTTL
	if req.Body != nil && req.Body.TtlSeconds != nil {
		ttl = time.Duration(*req.Body.TtlSeconds) * time.Second
	}
	res, err := events.InBrandDB(ctx, h.d, req.BrandId, func(ctx context.Context, tx db.DBTX) (api.Reservation, error) {
		r, held, err := extendReservation(ctx, tx, req.BrandId, req.ReservationId, now, now.Add(ttl))
		if err != nil {
			return api.Reservation{}, err
		}
		return apiReservation(r, held, now), nil
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such reservation.")
	case errors.Is(err, errNotActive):
		return nil, problem.Refuse(api.ProblemCodeReservationNotActive, "The reservation is no longer active (released, expired or consumed).")
	case err != nil:
		return nil, err
	}
	return api.ExtendReservation200JSONResponse{Body: res, Headers: api.ExtendReservation200ResponseHeaders{ETag: respond.ETag(res.Version)}}, nil
}
