package inventory

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
	"github.com/ecompointer/ecompointer/server/events"
)

// levelNamespace derives a stock level's aggregate id: a level is keyed by product and location
// and has no id of its own, and a receiver needs one stable id per level to order its versions.
var levelNamespace = uuid.MustParse("7b0c8e42-5f3a-4d1e-9c6b-2a8f4e1d3c70")

// LevelAggregateID is the aggregate id of the level of product at location in events.
func LevelAggregateID(l Level) uuid.UUID {
	return uuid.NewSHA1(levelNamespace, append(l.Product[:], l.Location[:]...))
}

// emitMove writes the events of one move, in the change's transaction: the movement, the level
// after it, and the level's fall to its reorder point when this move crossed it (available above
// the point before, at or below after: so once per crossing, and again only after it recovered).
func (s *Stock) emitMove(ctx context.Context, l Level, availableBefore int64, m stockdb.StockMovement) error {
	mv, err := apiMovement(m)
	if err != nil {
		return err
	}
	level := s.apiLevel(l)
	agg := events.Aggregate{Type: api.EventAggregateTypeInventoryLevel, ID: LevelAggregateID(l), Version: level.Version}
	es := []events.Event{
		{Type: api.EventTypeStockMovementCreated, Aggregate: events.Aggregate{Type: api.EventAggregateTypeStockMovement, ID: m.ID, Version: 1}, Data: mv},
		{Type: api.EventTypeInventoryLevelUpdated, Aggregate: agg, Data: level},
	}
	if rp := level.ReorderPoint; rp != nil && availableBefore > *rp && level.Available <= *rp {
		es = append(es, events.Event{Type: api.EventTypeInventoryLevelLow, Aggregate: agg, Data: level})
	}
	return events.Emit(ctx, s.q, s.brand, s.now, es...)
}

// apiLevel is a locked level as the API shows it: held stock of expired holds left out.
func (s *Stock) apiLevel(l Level) api.StockLevel {
	p := s.products[l.Product]
	lv := *s.levels[l]
	lv.Reserved = s.Reserved(l)
	return apiLevel(lv, p.Sku, p.Name, p.OptionValues)
}

// reservationEvents name the end of a reservation in the feed, by the status it ends with.
var reservationEvents = map[stockdb.ReservationStatus]api.EventType{
	stockdb.ReservationStatusReleased: api.EventTypeReservationReleased,
	stockdb.ReservationStatusExpired:  api.EventTypeReservationExpired,
	stockdb.ReservationStatusConsumed: api.EventTypeReservationConsumed,
}

// endReservation ends an active reservation that Open locked with status, and tells it (nothing
// when it was no longer active).
func (s *Stock) endReservation(ctx context.Context, id uuid.UUID, status stockdb.ReservationStatus) error {
	rows, err := s.sq.ReservationEnd(ctx, stockdb.ReservationEndParams{BrandID: s.brand, ID: id, Status: status, Now: s.now})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := emitReservation(ctx, s.q, reservationEvents[status], apiReservation(r, s.held, s.now), s.now); err != nil {
			return err
		}
	}
	return nil
}

// emitReservation writes the event of typ about reservation r in q's transaction.
func emitReservation(ctx context.Context, q *db.Queries, typ api.EventType, r api.Reservation, now time.Time) error {
	return events.Emit(ctx, q, r.BrandId, now, events.Event{
		Type: typ, Data: r, Aggregate: events.Aggregate{Type: api.EventAggregateTypeReservation, ID: r.Id, Version: r.Version},
	})
}
