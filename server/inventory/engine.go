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

// Each refusal knows its problem code; server/problem's table gives its status.

// Code is the refusal's problem code.
func (e *ProductsMissing) Code() api.ProblemCode { return api.ProblemCodeNotFound }

// Code is the refusal's problem code.
func (e *LocationsMissing) Code() api.ProblemCode { return api.ProblemCodeNotFound }

// Code is the refusal's problem code.
func (e *LocationInactive) Code() api.ProblemCode { return api.ProblemCodeLocationInactive }

// Code is the refusal's problem code.
func (e *ProductsUnavailable) Code() api.ProblemCode { return api.ProblemCodeProductUnavailable }

// Code is the refusal's problem code.
func (e *InsufficientStock) Code() api.ProblemCode { return api.ProblemCodeInsufficientStock }

// Code is the refusal's problem code.
func (e *StockChanged) Code() api.ProblemCode { return api.ProblemCodeStockChanged }

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
	// expired is what holds of expired, not yet released reservations keep in each locked
	// level's reserved: they never count against availability (the sweeper releases them later,
	// in its own bounded batches; a sale never pays for that).
	expired   map[Level]int64
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
// (which must be scoped to brand). Expired holds are neither locked nor released here: what they
// keep at each locked level is read (one indexed sum) and left out of availability, so an
// expired reservation never blocks a change, and a change never pays for releasing thousands of
// them (issue 16: 4,000 expired holds made the next order take 9 s). The sweeper releases them.
func Open(ctx context.Context, q *db.Queries, brand uuid.UUID, now time.Time, scope Scope) (*Stock, error) {
	s := &Stock{
		ctx: ctx, q: q, brand: brand, now: now, actor: kit.UserID(ctx), requestID: kit.RequestID(ctx),
		levels: map[Level]*db.StockLevel{}, expired: map[Level]int64{},
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

	// 1. Reservations: the one being released or consumed.
	var held []db.ReservationAllocation
	if scope.Reservation != nil {
		if _, err := q.ReservationGetForUpdate(ctx, db.ReservationGetForUpdateParams{BrandID: brand, ID: *scope.Reservation}); err != nil {
			return nil, kit.DBError(err)
		}
		if held, err = q.ReservationAllocations(ctx, db.ReservationAllocationsParams{BrandID: brand, ReservationIds: []uuid.UUID{*scope.Reservation}}); err != nil {
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
		ps, ls := uniq(lockProducts), uniq(lockLocations)
		levels, err := q.LevelsLock(ctx, db.LevelsLockParams{BrandID: brand, ProductIds: ps, LocationIds: ls})
		if err != nil {
			return nil, err
		}
		for i := range levels {
			s.levels[Level{levels[i].ProductID, levels[i].LocationID}] = &levels[i]
		}
		// 4. What expired holds keep at these levels. Read under the levels' locks: a hold is
		// created or released only by a transaction that locks its level, and an expired
		// reservation never becomes live again (extend and consume refuse it), so the figure
		// cannot change before this transaction ends.
		exp, err := q.LevelsExpiredHeld(ctx, db.LevelsExpiredHeldParams{BrandID: brand, ProductIds: ps, LocationIds: ls, Now: now})
		if err != nil {
			return nil, err
		}
		for _, e := range exp {
			s.expired[Level{e.ProductID, e.LocationID}] = e.Quantity
		}
	}

	s.held = held
	return s, nil
}

// Available is a locked level's available stock (0 for a level that does not exist): on hand
// less what live holds reserve.
func (s *Stock) Available(l Level) int64 {
	if lv := s.levels[l]; lv != nil {
		return lv.OnHand - s.Reserved(l)
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

// Reserved is a locked level's held stock: what live reservations and orders hold (holds of
// expired reservations not yet released are left out).
func (s *Stock) Reserved(l Level) int64 {
	if lv := s.levels[l]; lv != nil {
		return lv.Reserved - s.expired[l]
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
	availableBefore := s.Available(l)
	row, err := s.q.StockMove(s.ctx, db.StockMoveParams{
		BrandID: s.brand, ID: uuid.Must(uuid.NewV7()), ProductID: l.Product, LocationID: l.Location,
		Kind: m.Kind, OnHandDelta: m.OnHandDelta, ReservedDelta: m.ReservedDelta,
		Reason: m.Reason, Reference: m.Reference, ReservationID: m.Reservation, OrderID: m.Order,
		ActorID: s.actor, RequestID: s.requestID, Now: s.now,
	})
	if err != nil {
		return boundViolation(err, m.Line, l, m, lv.OnHand)
	}
	// The database no longer refuses reserved > onHand (expired holds may keep reserved above
	// onHand until the sweeper comes): the engine refuses what would hold or take stock that live
	// holds need. Every caller checks availability first, so this is a bug's last line, not a
	// refusal clients meet.
	if row.ReservedAfter-s.expired[l] > row.OnHandAfter && (m.ReservedDelta > 0 || m.OnHandDelta < 0) {
		return fmt.Errorf("inventory: level %v/%v would hold %d live units of %d on hand", l.Product, l.Location, row.ReservedAfter-s.expired[l], row.OnHandAfter)
	}
	lv.OnHand, lv.Reserved, lv.Version, lv.UpdatedAt = row.OnHandAfter, row.ReservedAfter, lv.Version+1, s.now
	s.movements = append(s.movements, row.ID)
	if !slices.Contains(s.touched, l) {
		s.touched = append(s.touched, l)
	}
	return s.emitMove(l, availableBefore, row)
}

// release gives back every hold of reservation id (its allocations among held) and ends it with
// status.
func (s *Stock) release(id uuid.UUID, held []db.ReservationAllocation, status db.ReservationStatus) error {
	for _, a := range held {
		if a.ReservationID != id {
			continue
		}
		l := Level{a.ProductID, a.LocationID}
		if !expirySecond(a.ExpiresAt).After(s.now) {
			s.expired[l] -= a.Quantity // it was counted among the expired holds: no longer
		}
		err := s.Move(l, Movement{Kind: db.MovementKindRelease, ReservedDelta: -a.Quantity, Reservation: &id})
		if err != nil {
			return err
		}
	}
	return s.endReservation(id, status)
}

// expirySecond is when a hold expiring at t starts to count as expired: the first whole second
// at or after t (schema 000011, hold_expiry_second: level_hold_expiries sums holds by it).
func expirySecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); s.Before(t) {
		return s.Add(time.Second)
	}
	return t
}

// Change is the answer every stock change gives: the levels it touched, after it, and the
// movements it appended.
func (s *Stock) Change() api.StockChange {
	out := api.StockChange{Levels: make([]api.StockLevel, 0, len(s.touched)), MovementIds: slices.Clone(s.movements)}
	if out.MovementIds == nil {
		out.MovementIds = []uuid.UUID{}
	}
	for _, l := range s.touched {
		out.Levels = append(out.Levels, s.apiLevel(l))
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
