package inventory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
)

// The stock engine: every change of a level goes through a Stock, inside the caller's
// transaction, in the one lock order every writer shares (reservations by id, then locations FOR
// SHARE by id, then levels FOR UPDATE by product and location). Whatever the request, two
// transactions therefore never wait on each other in a cycle, and every check (available stock,
// active location) is made on rows no one else can change until the transaction ends.

// Level identifies a stock level.
type Level struct {
	Product  uuid.UUID
	Location uuid.UUID
}

func (l Level) compare(o Level) int {
	if c := bytes.Compare(l.Product[:], o.Product[:]); c != 0 {
		return c
	}
	return bytes.Compare(l.Location[:], o.Location[:])
}

// Refusals a stock change answers with, instead of changing anything. The handler maps each to
// its problem; the transaction rolls back.
type (
	// ProductsMissing: products that are not the brand's (404).
	ProductsMissing struct{ IDs []uuid.UUID }
	// LocationsMissing: locations that are not the brand's (404).
	LocationsMissing struct{ IDs []uuid.UUID }
	// LocationInactive: a change names an inactive location (409 location_inactive).
	LocationInactive struct{ ID uuid.UUID }
	// ProductsUnavailable: draft or archived products named by lines to hold or sell (422).
	ProductsUnavailable struct{ Lines []api.ProblemLine }
	// InsufficientStock: lines short of available stock (422 insufficient_stock).
	InsufficientStock struct{ Lines []api.ProblemLine }
	// StockChanged: counts whose expectedOnHand is no longer the level's (409 stock_changed).
	StockChanged struct{ Lines []api.ProblemLine }
)

func (e *ProductsMissing) Error() string     { return fmt.Sprintf("unknown products %v", e.IDs) }
func (e *LocationsMissing) Error() string    { return fmt.Sprintf("unknown locations %v", e.IDs) }
func (e *LocationInactive) Error() string    { return "inactive location " + e.ID.String() }
func (e *ProductsUnavailable) Error() string { return "products unavailable" }
func (e *InsufficientStock) Error() string   { return "insufficient stock" }
func (e *StockChanged) Error() string        { return "stock changed" }

// Stock is one transaction's view of the levels it has locked.
type Stock struct {
	ctx       context.Context
	q         *db.Queries
	brand     uuid.UUID
	now       time.Time
	actor     *uuid.UUID
	requestID *string

	products  map[uuid.UUID]db.ProductsAvailabilityRow
	locations map[uuid.UUID]db.LocationsLockSharedRow
	levels    map[Level]*db.StockLevel
	held      []db.ReservationAllocation
	movements []uuid.UUID
	touched   []Level
}

// Scope says what a stock change will touch, so that Open can lock it all, in order, up front.
type Scope struct {
	// Products the change names; every one must be the brand's.
	Products []uuid.UUID
	// Locations the change names; every one must be the brand's and active.
	Locations []uuid.UUID
	// AnyActiveLocation: lines without a location are allocated among the brand's active locations.
	AnyActiveLocation bool
	// Create lists the levels stock may arrive at; they are created (empty) when missing.
	Create []Level
	// Reservation, when set, is locked first: a release or a consumption of it.
	Reservation *uuid.UUID
	// Held are levels where an order holds stock, to ship or give back: their locations are
	// locked FOR SHARE whether active or not (a hold at a location deactivated since must still
	// be shippable and releasable), and the levels FOR UPDATE with the others.
	Held []Level
}

// Open locks what scope names and returns the Stock to change it with, inside q's transaction
// (which must be scoped to brand). Expired holds on the scope's products are released first, so
// that an expired reservation never blocks a change, even before the sweeper comes by.
func Open(ctx context.Context, q *db.Queries, brand uuid.UUID, now time.Time, scope Scope) (*Stock, error) {
	s := &Stock{
		ctx: ctx, q: q, brand: brand, now: now, actor: kit.UserID(ctx), requestID: kit.RequestID(ctx),
		levels: map[Level]*db.StockLevel{},
	}
	products := uniq(scope.Products)
	rows, err := q.ProductsAvailability(ctx, db.ProductsAvailabilityParams{BrandID: brand, Ids: products})
	if err != nil {
		return nil, err
	}
	s.products = make(map[uuid.UUID]db.ProductsAvailabilityRow, len(rows))
	for _, r := range rows {
		s.products[r.ID] = r
	}
	if missing := absent(products, s.products); len(missing) > 0 {
		return nil, &ProductsMissing{IDs: missing}
	}

	// 1. Reservations: the one being released or consumed, then expired holds on these products.
	var held []db.ReservationAllocation
	var expired []uuid.UUID
	if scope.Reservation != nil {
		if _, err := q.ReservationGetForUpdate(ctx, db.ReservationGetForUpdateParams{BrandID: brand, ID: *scope.Reservation}); err != nil {
			return nil, kit.DBError(err)
		}
	}
	if len(products) > 0 {
		expired, err = q.ReservationsExpiredLock(ctx, db.ReservationsExpiredLockParams{BrandID: brand, Now: now, ProductIds: products})
		if err != nil {
			return nil, err
		}
		expired = slices.DeleteFunc(expired, func(id uuid.UUID) bool { return scope.Reservation != nil && id == *scope.Reservation })
	}
	holders := expired
	if scope.Reservation != nil {
		holders = append(slices.Clone(expired), *scope.Reservation)
	}
	if len(holders) > 0 {
		if held, err = q.ReservationAllocations(ctx, db.ReservationAllocationsParams{BrandID: brand, ReservationIds: holders}); err != nil {
			return nil, err
		}
	}

	// 2. Locations, FOR SHARE: none can be deactivated while stock moves at it.
	named := uniq(scope.Locations)
	lockIDs := slices.Clone(named)
	for _, a := range held {
		lockIDs = append(lockIDs, a.LocationID)
	}
	for _, l := range scope.Held {
		lockIDs = append(lockIDs, l.Location)
	}
	locs, err := q.LocationsLockShared(ctx, db.LocationsLockSharedParams{BrandID: brand, Ids: uniq(lockIDs), AllActive: scope.AnyActiveLocation})
	if err != nil {
		return nil, err
	}
	s.locations = make(map[uuid.UUID]db.LocationsLockSharedRow, len(locs))
	for _, l := range locs {
		s.locations[l.ID] = l
	}
	if missing := absent(named, s.locations); len(missing) > 0 {
		return nil, &LocationsMissing{IDs: missing}
	}
	for _, id := range named {
		if !s.locations[id].Active {
			return nil, &LocationInactive{ID: id}
		}
	}

	// 3. Levels: create the missing ones stock may arrive at, then lock every level in scope.
	if len(scope.Create) > 0 {
		create := slices.Clone(scope.Create)
		slices.SortFunc(create, Level.compare)
		p, l := make([]uuid.UUID, len(create)), make([]uuid.UUID, len(create))
		for i, c := range create {
			p[i], l[i] = c.Product, c.Location
		}
		if err := q.LevelsEnsure(ctx, db.LevelsEnsureParams{BrandID: brand, ProductIds: p, LocationIds: l, Now: now}); err != nil {
			return nil, err
		}
	}
	lockProducts := slices.Clone(products)
	lockLocations := make([]uuid.UUID, 0, len(s.locations))
	for id := range s.locations {
		lockLocations = append(lockLocations, id)
	}
	for _, a := range held {
		lockProducts = append(lockProducts, a.ProductID)
	}
	for _, l := range scope.Held {
		lockProducts = append(lockProducts, l.Product)
	}
	if len(lockProducts) > 0 && len(lockLocations) > 0 {
		levels, err := q.LevelsLock(ctx, db.LevelsLockParams{BrandID: brand, ProductIds: uniq(lockProducts), LocationIds: uniq(lockLocations)})
		if err != nil {
			return nil, err
		}
		for i := range levels {
			s.levels[Level{levels[i].ProductID, levels[i].LocationID}] = &levels[i]
		}
	}

	s.held = held
	// 4. Expired holds give their stock back before anything is checked against it.
	for _, id := range expired {
		if err := s.release(id, held, db.ReservationStatusExpired); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Available is a locked level's available stock (0 for a level that does not exist).
func (s *Stock) Available(l Level) int64 {
	if lv := s.levels[l]; lv != nil {
		return lv.OnHand - lv.Reserved
	}
	return 0
}

// OnHand is a locked level's stock on hand (0 for a level that does not exist).
func (s *Stock) OnHand(l Level) int64 {
	if lv := s.levels[l]; lv != nil {
		return lv.OnHand
	}
	return 0
}

// Reserved is a locked level's held stock.
func (s *Stock) Reserved(l Level) int64 {
	if lv := s.levels[l]; lv != nil {
		return lv.Reserved
	}
	return 0
}

// Movement is what a change says about itself in the ledger.
type Movement struct {
	Kind          db.MovementKind
	OnHandDelta   int64
	ReservedDelta int64
	Reason        *string
	Reference     *string
	Reservation   *uuid.UUID
	Order         *uuid.UUID
	// Line is the request line the movement is for, named if the level's bound refuses it.
	Line int
}

// Move applies m to level l and appends it to the ledger (one statement: the level and its
// movement cannot disagree). The level must be in the locked scope.
func (s *Stock) Move(l Level, m Movement) error {
	lv := s.levels[l]
	if lv == nil {
		return fmt.Errorf("inventory: level %v/%v moved without being locked", l.Product, l.Location)
	}
	row, err := s.q.StockMove(s.ctx, db.StockMoveParams{
		BrandID: s.brand, ID: uuid.Must(uuid.NewV7()), ProductID: l.Product, LocationID: l.Location,
		Kind: m.Kind, OnHandDelta: m.OnHandDelta, ReservedDelta: m.ReservedDelta,
		Reason: m.Reason, Reference: m.Reference, ReservationID: m.Reservation, OrderID: m.Order,
		ActorID: s.actor, RequestID: s.requestID, Now: s.now,
	})
	if err != nil {
		return boundViolation(err, m.Line, l, m, lv.OnHand)
	}
	lv.OnHand, lv.Reserved, lv.Version, lv.UpdatedAt = row.OnHandAfter, row.ReservedAfter, lv.Version+1, s.now
	s.movements = append(s.movements, row.ID)
	if !slices.Contains(s.touched, l) {
		s.touched = append(s.touched, l)
	}
	return nil
}

// release gives back every hold of reservation id (its allocations among held) and ends it with
// status.
func (s *Stock) release(id uuid.UUID, held []db.ReservationAllocation, status db.ReservationStatus) error {
	for _, a := range held {
		if a.ReservationID != id {
			continue
		}
		err := s.Move(Level{a.ProductID, a.LocationID}, Movement{Kind: db.MovementKindRelease, ReservedDelta: -a.Quantity, Reservation: &id})
		if err != nil {
			return err
		}
	}
	return s.q.ReservationEnd(s.ctx, db.ReservationEndParams{BrandID: s.brand, ID: id, Status: status, Now: s.now})
}

// Change is the answer every stock change gives: the levels it touched, after it, and the
// movements it appended.
func (s *Stock) Change() api.StockChange {
	out := api.StockChange{Levels: make([]api.StockLevel, 0, len(s.touched)), MovementIds: slices.Clone(s.movements)}
	if out.MovementIds == nil {
		out.MovementIds = []uuid.UUID{}
	}
	for _, l := range s.touched {
		p := s.products[l.Product]
		out.Levels = append(out.Levels, apiLevel(*s.levels[l], p.Sku, p.Name))
	}
	return out
}

func apiLevel(l db.StockLevel, sku, name string) api.StockLevel {
	return api.StockLevel{
		ProductId: l.ProductID, LocationId: l.LocationID, Sku: sku, ProductName: name,
		OnHand: l.OnHand, Reserved: l.Reserved, Available: l.OnHand - l.Reserved,
		ReorderPoint: l.ReorderPoint, Version: l.Version, UpdatedAt: l.UpdatedAt.UTC(),
	}
}

func uniq(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(out)
}

func absent[V any](ids []uuid.UUID, found map[uuid.UUID]V) []uuid.UUID {
	var out []uuid.UUID
	for _, id := range ids {
		if _, ok := found[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}
