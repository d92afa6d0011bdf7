package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/kit"
)

// The stock engine: every change of a level goes through a Stock, inside the caller's
// transaction, in the one lock order every writer shares (the products it names FOR KEY SHARE by
// id, then reservations by id, then locations FOR SHARE by id, then levels FOR UPDATE by product
// and location). Whatever the request, two
// transactions therefore never wait on each other in a cycle, and every check (available stock,
// active location) is made on rows no one else can change until the transaction ends.
//
// The engine also keeps the records of what is held (reservation and order allocations), in the
// same transaction as the levels they explain: its verbs (Reserve, Release, HoldOrder, FulfilOrder,
// ReleaseOrder; Adjust for receipts, returns, adjustments and counts; Transfer) are the only way
// stock is held, consumed, shipped, released or moved, so "reserved is the sum of live holds"
// (HoldMismatches) and "the ledger sums to the level" (LedgerMismatches) are kept in one place.
// Its tables' queries are generated into gen/stockdb, which only this package may import
// (.golangci.yml, depguard).

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
	// VariantRequired: products that declare options (parents of variants) named by a change:
	// only their variants are stocked and sold (422 variant_required).
	VariantRequired struct{ IDs []uuid.UUID }
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
func (e *VariantRequired) Error() string     { return fmt.Sprintf("products with variants %v", e.IDs) }
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
func (e *VariantRequired) Code() api.ProblemCode { return api.ProblemCodeVariantRequired }

// Code is the refusal's problem code.
func (e *InsufficientStock) Code() api.ProblemCode { return api.ProblemCodeInsufficientStock }

// Code is the refusal's problem code.
func (e *StockChanged) Code() api.ProblemCode { return api.ProblemCodeStockChanged }

// Stock is one transaction's view of the levels it has locked.
type Stock struct {
	tx        db.DBTX
	q         *db.Queries
	sq        *stockdb.Queries
	brand     uuid.UUID
	now       time.Time
	actor     *uuid.UUID
	requestID *string

	products  map[uuid.UUID]db.ProductsAvailabilityRow
	locations map[uuid.UUID]db.LocationsLockSharedRow
	levels    map[Level]*stockdb.StockLevel
	// expired is what holds of expired, not yet released reservations keep in each locked
	// level's reserved: they never count against availability (the sweeper releases them later,
	// in its own bounded batches; a sale never pays for that).
	expired   map[Level]int64
	held      []stockdb.ReservationAllocation
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

// Open locks what scope names and returns the Stock to change it with, inside transaction tx
// (which must be scoped to brand). Expired holds are neither locked nor released here: what they
// keep at each locked level is read (one indexed sum) and left out of availability, so an
// expired reservation never blocks a change, and a change never pays for releasing thousands of
// them (issue 16: 4,000 expired holds made the next order take 9 s). The sweeper releases them.
func Open(ctx context.Context, tx db.DBTX, brand uuid.UUID, now time.Time, scope Scope) (*Stock, error) {
	q, sq := db.New(tx), stockdb.New(tx)
	s := &Stock{
		tx: tx, q: q, sq: sq, brand: brand, now: now, actor: kit.UserID(ctx), requestID: kit.RequestID(ctx),
		levels: map[Level]*stockdb.StockLevel{}, expired: map[Level]int64{},
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
	// A product with options is the parent of variants, not an item: no change may hold or move
	// its stock (issue 20). Checked here, where every stock change resolves its products, so that
	// no route can forget it; the rows are read FOR KEY SHARE, so the product cannot take options
	// until this transaction ends.
	var parents []uuid.UUID
	for _, id := range products {
		if s.products[id].HasOptions {
			parents = append(parents, id)
		}
	}
	if len(parents) > 0 {
		return nil, &VariantRequired{IDs: parents}
	}

	// 1. Reservations: the one being released or consumed.
	var held []stockdb.ReservationAllocation
	if scope.Reservation != nil {
		if _, err := sq.ReservationGetForUpdate(ctx, stockdb.ReservationGetForUpdateParams{BrandID: brand, ID: *scope.Reservation}); err != nil {
			return nil, kit.DBError(err)
		}
		if held, err = sq.ReservationAllocations(ctx, stockdb.ReservationAllocationsParams{BrandID: brand, ReservationIds: []uuid.UUID{*scope.Reservation}}); err != nil {
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
		if err := sq.LevelsEnsure(ctx, stockdb.LevelsEnsureParams{BrandID: brand, ProductIds: p, LocationIds: l, Now: now}); err != nil {
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
		levels, err := sq.LevelsLock(ctx, stockdb.LevelsLockParams{BrandID: brand, ProductIds: ps, LocationIds: ls})
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
		exp, err := sq.LevelsExpiredHeld(ctx, stockdb.LevelsExpiredHeldParams{BrandID: brand, ProductIds: ps, LocationIds: ls, Now: now})
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

// movement is what a change says about itself in the ledger.
type movement struct {
	kind          stockdb.MovementKind
	onHandDelta   int64
	reservedDelta int64
	reason        *string
	reference     *string
	reservation   *uuid.UUID
	order         *uuid.UUID
	// unitCost: a receipt's cost, or (filled in by move) the product's average cost on a movement
	// that takes stock away; averageCost: the product's average after a costed receipt
	// (receipts.go). purchaseOrder: the PO a receipt receives.
	unitCost      *int64
	averageCost   *int64
	purchaseOrder *uuid.UUID
	// refill: a release that gives stock back (an order's or a reservation's, not one handed
	// over to an order): like an arrival, it goes to the backorders waiting at the level first.
	refill bool
	// line is the request line the movement is for, named if the level's bound refuses it.
	line int
}

// move applies m to level l and appends it to the ledger (one statement: the level and its
// movement cannot disagree). The level must be in the locked scope. Only the engine's verbs call
// it, each with the hold records that explain the movement.
func (s *Stock) move(ctx context.Context, l Level, m movement) error {
	lv := s.levels[l]
	if lv == nil {
		return fmt.Errorf("inventory: level %v/%v moved without being locked", l.Product, l.Location)
	}
	availableBefore := s.Available(l)
	if m.onHandDelta < 0 && m.unitCost == nil {
		// Stock leaving carries what it was worth, so that cost of goods sold is a sum over the ledger.
		m.unitCost = s.products[l.Product].AverageCost
	}
	row, err := s.sq.StockMove(ctx, stockdb.StockMoveParams{
		BrandID: s.brand, ID: uuid.Must(uuid.NewV7()), ProductID: l.Product, LocationID: l.Location,
		Kind: m.kind, OnHandDelta: m.onHandDelta, ReservedDelta: m.reservedDelta,
		Reason: m.reason, Reference: m.reference, ReservationID: m.reservation, OrderID: m.order,
		ActorID: s.actor, RequestID: s.requestID, Now: s.now,
		UnitCost: m.unitCost, AverageCost: m.averageCost, PurchaseOrderID: m.purchaseOrder,
	})
	if err != nil {
		return boundViolation(err, m.line, l, m, lv.OnHand)
	}
	// The database no longer refuses reserved > onHand (expired holds may keep reserved above
	// onHand until the sweeper comes): the engine refuses what would hold or take stock that live
	// holds need. Every caller checks availability first, so this is a bug's last line, not a
	// refusal clients meet.
	if row.ReservedAfter-s.expired[l] > row.OnHandAfter && (m.reservedDelta > 0 || m.onHandDelta < 0) {
		return fmt.Errorf("inventory: level %v/%v would hold %d live units of %d on hand", l.Product, l.Location, row.ReservedAfter-s.expired[l], row.OnHandAfter)
	}
	lv.OnHand, lv.Reserved, lv.Version, lv.UpdatedAt = row.OnHandAfter, row.ReservedAfter, lv.Version+1, s.now
	s.movements = append(s.movements, row.ID)
	if !slices.Contains(s.touched, l) {
		s.touched = append(s.touched, l)
	}
	if err := s.emitMove(ctx, l, availableBefore, row); err != nil {
		return err
	}
	if (m.onHandDelta > 0 || m.refill) && lv.Backordered > 0 {
		// Stock arrived, or came free, where orders wait for it: they take it first (backorders.go).
		return s.fill(ctx, l)
	}
	return nil
}

// Note is what a client says about a change of stock on hand, kept with its movements.
type Note struct {
	Reason    *string
	Reference *string
}

// Adjust changes onHand at l by delta (a receipt, a return, an adjustment or a count: kind), for
// request line line. Availability and the level bound are the caller's to check first (with
// Available and Fits), so that it can name every short line at once.
func (s *Stock) Adjust(ctx context.Context, l Level, kind stockdb.MovementKind, delta int64, note Note, line int) error {
	return s.move(ctx, l, movement{kind: kind, onHandDelta: delta, reason: note.Reason, reference: note.Reference, line: line})
}

// Transfer moves quantity units on hand from one level to another: `transfer_out` then
// `transfer_in`, checked as for Adjust.
func (s *Stock) Transfer(ctx context.Context, from, to Level, quantity int64, note Note) error {
	if err := s.move(ctx, from, movement{kind: stockdb.MovementKindTransferOut, onHandDelta: -quantity, reason: note.Reason, reference: note.Reference}); err != nil {
		return err
	}
	return s.move(ctx, to, movement{kind: stockdb.MovementKindTransferIn, onHandDelta: quantity, reason: note.Reason, reference: note.Reference})
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

// apiLevel is a level as the API shows it, with its product's SKU, name and (a variant's) option
// values beside it.
func apiLevel(l stockdb.StockLevel, sku, name string, optionValues []byte) api.StockLevel {
	// The values are stored by the catalog as api.OptionValues (a CHECK keeps them an array): one
	// that does not decode is left out of the answer rather than failing a stock change.
	ov, _ := OptionValues(optionValues)
	return api.StockLevel{
		ProductId: l.ProductID, LocationId: l.LocationID, Sku: sku, ProductName: name, OptionValues: ov,
		OnHand: l.OnHand, Reserved: l.Reserved, Available: l.OnHand - l.Reserved, Incoming: l.Incoming, Backordered: l.Backordered,
		ReorderPoint: l.ReorderPoint, ReorderQuantity: l.ReorderQuantity, Version: l.Version, UpdatedAt: l.UpdatedAt.UTC(),
	}
}

// OptionValues decodes a variant's stored option values for an answer: nil (left out) for a
// product that is not a variant.
func OptionValues(raw []byte) (*api.OptionValues, error) {
	if len(raw) <= 2 { // "[]"
		return nil, nil
	}
	var v api.OptionValues
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("option values: %w", err)
	}
	return &v, nil
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
