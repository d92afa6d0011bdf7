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
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
)

// DefaultReservationTTL is how long a reservation holds its stock unless the request says.
const DefaultReservationTTL = 900 * time.Second

// HoldLine is one line to hold: a product's quantity, at a location or wherever the allocation
// rule finds it. Index is the line's position in the request, for problems.
type HoldLine struct {
	Index    int
	Product  uuid.UUID
	Location *uuid.UUID
	Quantity int64
}

// Allocation is where a line's stock is held.
type Allocation struct {
	Location uuid.UUID
	Quantity int64
}

// MergeHoldLines sums lines naming the same product (and the same location, or none), keeping the
// order in which each first appears.
func MergeHoldLines(lines []HoldLine) []HoldLine {
	type key struct {
		product  uuid.UUID
		location uuid.UUID
	}
	at := map[key]int{}
	var out []HoldLine
	for _, l := range lines {
		k := key{product: l.Product}
		if l.Location != nil {
			k.location = *l.Location
		}
		if i, ok := at[k]; ok {
			out[i].Quantity += l.Quantity
			continue
		}
		at[k] = len(out)
		out = append(out, l)
	}
	return out
}

// HoldScope is what Open must lock to hold lines.
func HoldScope(lines []HoldLine) Scope {
	var sc Scope
	for _, l := range lines {
		sc.Products = append(sc.Products, l.Product)
		if l.Location != nil {
			sc.Locations = append(sc.Locations, *l.Location)
		} else {
			sc.AnyActiveLocation = true
		}
	}
	return sc
}

// Allocate decides where each line's stock comes from, without changing anything. A line with a
// location takes that level's available stock; the others are allocated by the documented rule:
// among the brand's active locations, the one with the most available stock first, ties by
// location code, split over further locations when one is not enough. Lines with a location are
// placed first, so a line without one cannot take the stock a located line needs. Draft or
// archived products, or any short line, refuse the whole request.
func (s *Stock) Allocate(lines []HoldLine) ([][]Allocation, error) {
	var unavailable []api.ProblemLine
	for _, l := range lines {
		if s.products[l.Product].Status != db.ProductStatusActive {
			unavailable = append(unavailable, api.ProblemLine{Index: l.Index, ProductId: l.Product, LocationId: l.Location})
		}
	}
	if len(unavailable) > 0 {
		return nil, &ProductsUnavailable{Lines: unavailable}
	}
	free := map[Level]int64{}
	for k := range s.levels {
		free[k] = s.Available(k)
	}
	out := make([][]Allocation, len(lines))
	var short []api.ProblemLine
	shortOf := func(l HoldLine, available int64) {
		requested := l.Quantity
		short = append(short, api.ProblemLine{Index: l.Index, ProductId: l.Product, LocationId: l.Location, Requested: &requested, Available: &available})
	}
	for i, l := range lines {
		if l.Location == nil {
			continue
		}
		k := Level{l.Product, *l.Location}
		if free[k] < l.Quantity {
			shortOf(l, free[k])
			continue
		}
		free[k] -= l.Quantity
		out[i] = []Allocation{{Location: *l.Location, Quantity: l.Quantity}}
	}
	for i, l := range lines {
		if l.Location != nil {
			continue
		}
		var candidates []db.LocationsLockSharedRow
		var total int64
		for _, loc := range s.locations {
			if loc.Active && free[Level{l.Product, loc.ID}] > 0 {
				candidates = append(candidates, loc)
				total += free[Level{l.Product, loc.ID}]
			}
		}
		if total < l.Quantity {
			shortOf(l, total)
			continue
		}
		slices.SortFunc(candidates, func(a, b db.LocationsLockSharedRow) int {
			if c := cmp.Compare(free[Level{l.Product, b.ID}], free[Level{l.Product, a.ID}]); c != 0 {
				return c
			}
			return cmp.Compare(a.Code, b.Code)
		})
		need := l.Quantity
		for _, loc := range candidates {
			k := Level{l.Product, loc.ID}
			take := min(need, free[k])
			free[k] -= take
			need -= take
			out[i] = append(out[i], Allocation{Location: loc.ID, Quantity: take})
			if need == 0 {
				break
			}
		}
	}
	if len(short) > 0 {
		slices.SortFunc(short, func(a, b api.ProblemLine) int { return cmp.Compare(a.Index, b.Index) })
		return nil, &InsufficientStock{Lines: short}
	}
	return out, nil
}

// Hold reserves the allocations (reserved grows, `reservation` movements naming the reservation),
// for a reservation row that exists in this transaction.
func (s *Stock) Hold(reservation uuid.UUID, lines []HoldLine, allocs [][]Allocation) error {
	for i, l := range lines {
		for _, a := range allocs[i] {
			if err := s.Move(Level{l.Product, a.Location}, Movement{Kind: db.MovementKindReservation, ReservedDelta: a.Quantity, Reservation: &reservation}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Release gives back every hold of a reservation that Open locked (Scope.Reservation) and ends it
// with status (released, expired).
func (s *Stock) Release(reservation uuid.UUID, status db.ReservationStatus) error {
	return s.release(reservation, s.held, status)
}

// createReservationAnswers wraps the shared problems in CreateReservation's own responses.
var createReservationAnswers = kit.Answers[api.CreateReservationResponseObject]{
	NotFound: func(r api.NotFoundApplicationProblemPlusJSONResponse) api.CreateReservationResponseObject {
		return api.CreateReservation404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: r}
	},
	Conflict: func(r api.ConflictApplicationProblemPlusJSONResponse) api.CreateReservationResponseObject {
		return api.CreateReservation409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: r}
	},
	Unprocessable: func(r api.UnprocessableApplicationProblemPlusJSONResponse) api.CreateReservationResponseObject {
		return api.CreateReservation422ApplicationProblemPlusJSONResponse{UnprocessableApplicationProblemPlusJSONResponse: r}
	},
}

// CreateReservation holds stock for a cart or a checkout, all lines or none.
func (h *Handlers) CreateReservation(ctx context.Context, req api.CreateReservationRequestObject) (api.CreateReservationResponseObject, error) {
	body := req.Body
	raw := make([]HoldLine, len(body.Lines))
	for i, l := range body.Lines {
		raw[i] = HoldLine{Index: i, Product: l.ProductId, Location: l.LocationId, Quantity: l.Quantity}
	}
	lines := MergeHoldLines(raw)
	if bad := LineOverCap(lines); bad != nil {
		return api.CreateReservation400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: kit.InvalidFields(ctx, []api.FieldError{*bad})}, nil
	}
	ttl := DefaultReservationTTL
	if body.TtlSeconds != nil {
		ttl = time.Duration(*body.TtlSeconds) * time.Second
	}
	now := h.d.Now()
	res, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.Reservation, error) {
		st, err := Open(ctx, q, req.BrandId, now, HoldScope(lines))
		if err != nil {
			return api.Reservation{}, err
		}
		allocs, err := st.Allocate(lines)
		if err != nil {
			return api.Reservation{}, err
		}
		r, err := q.ReservationCreate(ctx, db.ReservationCreateParams{
			BrandID: req.BrandId, ID: uuid.Must(uuid.NewV7()), Reference: body.Reference,
			ExpiresAt: now.Add(ttl), CreatedBy: kit.UserID(ctx), Now: now,
		})
		if err != nil {
			return api.Reservation{}, err
		}
		if err := st.Hold(r.ID, lines, allocs); err != nil {
			return api.Reservation{}, err
		}
		params := db.ReservationAllocationsAddParams{BrandID: req.BrandId, ReservationID: r.ID}
		var rows []db.ReservationAllocation
		for i, l := range lines {
			for _, a := range allocs[i] {
				params.LineNos = append(params.LineNos, int32(i)) //nolint:gosec // at most 250 lines
				params.ProductIds = append(params.ProductIds, l.Product)
				params.LocationIds = append(params.LocationIds, a.Location)
				params.Quantities = append(params.Quantities, a.Quantity)
				rows = append(rows, db.ReservationAllocation{LineNo: int32(i), ProductID: l.Product, LocationID: a.Location, Quantity: a.Quantity}) //nolint:gosec // at most 250 lines
			}
		}
		if err := q.ReservationAllocationsAdd(ctx, params); err != nil {
			return api.Reservation{}, err
		}
		res := apiReservation(r, rows, now)
		return res, emitReservation(ctx, q, api.EventTypeReservationCreated, res, now)
	})
	if resp, ok := Refused(ctx, err, createReservationAnswers); ok {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	observe.Reservations(observe.ReservationCreated, 1)
	return api.CreateReservation201JSONResponse{Body: res, Headers: api.CreateReservation201ResponseHeaders{
		ETag:     kit.ETag(res.Version),
		Location: kit.Location("/brands/", req.BrandId.String(), "/reservations/", res.Id.String()),
	}}, nil
}

// apiReservation shows a reservation with its lines (allocations grouped by line, in line order).
// An active hold past its expiry reads expired, even before the sweeper releases it.
func apiReservation(r db.Reservation, allocs []db.ReservationAllocation, now time.Time) api.Reservation {
	status := api.ReservationStatus(r.Status)
	if r.Status == db.ReservationStatusActive && !r.ExpiresAt.After(now) {
		status = api.ReservationExpired
	}
	out := api.Reservation{
		Id: r.ID, BrandId: r.BrandID, Status: status, ExpiresAt: r.ExpiresAt.UTC(), Reference: r.Reference,
		Lines: []api.ReservationLine{}, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	slices.SortStableFunc(allocs, func(a, b db.ReservationAllocation) int { return cmp.Compare(a.LineNo, b.LineNo) })
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
	res, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.Reservation, error) {
		r, err := q.ReservationGet(ctx, db.ReservationGetParams{BrandID: req.BrandId, ID: req.ReservationId})
		if err != nil {
			return api.Reservation{}, kit.DBError(err)
		}
		allocs, err := q.ReservationAllocations(ctx, db.ReservationAllocationsParams{BrandID: req.BrandId, ReservationIds: []uuid.UUID{r.ID}})
		if err != nil {
			return api.Reservation{}, err
		}
		return apiReservation(r, allocs, now), nil
	})
	if errors.Is(err, kit.ErrNotFound) {
		return api.GetReservation404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: kit.NotFound(ctx, "No such reservation.")}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.GetReservation200JSONResponse{Body: res, Headers: api.GetReservation200ResponseHeaders{ETag: kit.ETag(res.Version)}}, nil
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
		r      db.Reservation
		allocs []db.ReservationAllocation
	}
	page, err := kit.List(h.d, "reservations/"+req.BrandId.String(), p.Cursor, p.Limit,
		func(after *kit.IDPosition, limit int32) ([]row, error) {
			return kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]row, error) {
				rs, err := q.ReservationList(ctx, db.ReservationListParams{BrandID: req.BrandId, Status: status, Now: now, BeforeID: after.After(), RowLimit: limit})
				if err != nil || len(rs) == 0 {
					return nil, err
				}
				ids := make([]uuid.UUID, len(rs))
				for i, r := range rs {
					ids[i] = r.ID
				}
				allocs, err := q.ReservationAllocations(ctx, db.ReservationAllocationsParams{BrandID: req.BrandId, ReservationIds: ids})
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
		func(r row) kit.IDPosition { return kit.IDPosition{ID: r.r.ID} },
		func(r row) (api.Reservation, error) { return apiReservation(r.r, r.allocs, now), nil })
	if errors.Is(err, kit.ErrBadCursor) {
		return api.ListReservations400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: kit.BadCursor(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.ListReservations200JSONResponse{Items: page.Items, NextCursor: page.Next}, nil
}

// errConsumed refuses to release a reservation an order took over.
var errConsumed = errors.New("reservation consumed")

// ReleaseReservation gives a reservation's holds back. Releasing one that already ended (released
// or expired) changes nothing and answers 204 too: DELETE is idempotent.
func (h *Handlers) ReleaseReservation(ctx context.Context, req api.ReleaseReservationRequestObject) (api.ReleaseReservationResponseObject, error) {
	now := h.d.Now()
	var ended db.ReservationStatus // how this call ended it, if it did: counted once committed
	_, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (struct{}, error) {
		ended = ""
		r, err := q.ReservationGetForUpdate(ctx, db.ReservationGetForUpdateParams{BrandID: req.BrandId, ID: req.ReservationId})
		if err != nil {
			return struct{}{}, kit.DBError(err)
		}
		switch {
		case r.Status == db.ReservationStatusConsumed:
			return struct{}{}, errConsumed
		case r.Status != db.ReservationStatusActive:
			return struct{}{}, nil
		}
		st, err := Open(ctx, q, req.BrandId, now, Scope{Reservation: &r.ID})
		if err != nil {
			return struct{}{}, err
		}
		status := db.ReservationStatusReleased
		if !r.ExpiresAt.After(now) {
			status = db.ReservationStatusExpired
		}
		ended = status
		return struct{}{}, st.Release(r.ID, status)
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return api.ReleaseReservation404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: kit.NotFound(ctx, "No such reservation.")}, nil
	case errors.Is(err, errConsumed):
		return api.ReleaseReservation409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: kit.Conflict(ctx,
			api.ProblemCodeReservationNotActive, "An order took this reservation over; cancel the order instead.")}, nil
	case err != nil:
		return nil, err
	}
	observe.Reservations(string(ended), 1)
	return api.ReleaseReservation204Response{}, nil
}

// errNotActive refuses to extend a reservation that ended.
var errNotActive = errors.New("reservation not active")

// ExtendReservation moves an active reservation's expiry to now + ttlSeconds (the default TTL
// when the body or the member is left out, as for a new reservation).
func (h *Handlers) ExtendReservation(ctx context.Context, req api.ExtendReservationRequestObject) (api.ExtendReservationResponseObject, error) {
	now := h.d.Now()
	ttl := DefaultReservationTTL
	if req.Body != nil && req.Body.TtlSeconds != nil {
		ttl = time.Duration(*req.Body.TtlSeconds) * time.Second
	}
	res, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (api.Reservation, error) {
		// A sale counts a hold as gone once it expired, without locking the reservation. A
		// request whose clock read just before the expiry could otherwise revive a hold whose
		// stock a sale (reading just after) has taken: so the extension first locks the
		// reservation and its levels (the shared lock order) and refuses when they no longer
		// cover the hold.
		st, err := Open(ctx, q, req.BrandId, now, Scope{Reservation: &req.ReservationId})
		if err != nil {
			return api.Reservation{}, err
		}
		r, err := q.ReservationExtend(ctx, db.ReservationExtendParams{
			BrandID: req.BrandId, ID: req.ReservationId, ExpiresAt: now.Add(ttl), Now: now,
		})
		if errors.Is(kit.DBError(err), kit.ErrNotFound) {
			if _, err := q.ReservationGet(ctx, db.ReservationGetParams{BrandID: req.BrandId, ID: req.ReservationId}); err != nil {
				return api.Reservation{}, kit.DBError(err)
			}
			return api.Reservation{}, errNotActive
		}
		if err != nil {
			return api.Reservation{}, err
		}
		for _, a := range st.held {
			if st.Available(Level{a.ProductID, a.LocationID}) < 0 {
				return api.Reservation{}, errNotActive
			}
		}
		return apiReservation(r, st.held, now), nil
	})
	switch {
	case errors.Is(err, kit.ErrNotFound):
		return api.ExtendReservation404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: kit.NotFound(ctx, "No such reservation.")}, nil
	case errors.Is(err, errNotActive):
		return api.ExtendReservation409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: kit.Conflict(ctx,
			api.ProblemCodeReservationNotActive, "The reservation is no longer active (released, expired or consumed).")}, nil
	case err != nil:
		return nil, err
	}
	return api.ExtendReservation200JSONResponse{Body: res, Headers: api.ExtendReservation200ResponseHeaders{ETag: kit.ETag(res.Version)}}, nil
}
