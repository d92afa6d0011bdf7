// Package events is the transactional outbox: Emit writes an event in the transaction of the
// change it tells, so the event exists exactly when the change committed, and the feed
// (GET /brands/{brandId}/events) serves them in an order a polling consumer can resume without
// missing one (schema/000015_events.up.sql says why).
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Aggregate is the resource an event is about and its version after the change.
type Aggregate struct {
	Type    api.EventAggregateType
	ID      uuid.UUID
	Version int64
}

// Event is one fact to write.
type Event struct {
	Type      api.EventType
	Aggregate Aggregate
	// Data is the resource as the API shows it (an api.Product, an api.User, ...).
	Data any
}

// Emit writes es, all of brand, through q, which must be inside the transaction of the change
// (kit.InBrand, or kit.InTx after Scope): rolled back with it, committed with it. Row-level
// security refuses an event of any other brand than the transaction's. The same statement enqueues
// the events' webhook delivery (queries/events.sql, server/webhooks). In InBrand's transaction, and
// in one that BeginFunc began (a keyed request's, its handler's savepoint included), the statement
// is sent with the transaction's next round trip (kit.SendWithCommit), so its failure comes from
// there: from the COMMIT, or from fn's next statement. Within Batch's fn, es are taken
// now (their data marshalled as it is) and written with the batch's others when fn returns.
func Emit(ctx context.Context, q *db.Queries, brand uuid.UUID, now time.Time, es ...Event) error {
	if len(es) == 0 {
		return nil
	}
	b, batched := ctx.Value(batchKey{}).(*batch)
	if !batched {
		b = &batch{}
	}
	for _, e := range es {
		data, err := json.Marshal(e.Data)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.Type, err)
		}
		b.rows = append(b.rows, row{
			ID: uuid.Must(uuid.NewV7()), Type: e.Type, AggregateType: e.Aggregate.Type,
			AggregateID: e.Aggregate.ID, AggregateVersion: e.Aggregate.Version, Data: data,
			brand: brand, at: now,
		})
	}
	if batched {
		return nil
	}
	return b.write(ctx, q)
}

type batchKey struct{}

// batch is the events of a Batch, in the order they were emitted.
type batch struct{ rows []row }

// Batch runs fn, in the transaction of q, with a ctx in which Emit collects its events instead
// of writing them, and writes them all when fn succeeds: one statement for a change that tells
// several (an order's stock moves and the order itself), instead of one round trip and one
// statement each. The events keep their order, and each its brand and time; the statement is the
// transaction's last when fn's change is (kit.SendWithCommit). Within an outer Batch, fn's events
// join the outer one's.
func Batch[T any](ctx context.Context, q *db.Queries, fn func(ctx context.Context) (T, error)) (T, error) {
	if _, nested := ctx.Value(batchKey{}).(*batch); nested {
		return fn(ctx)
	}
	b := &batch{}
	v, err := fn(context.WithValue(ctx, batchKey{}, b))
	if err != nil {
		return v, err
	}
	return v, b.write(ctx, q)
}

// InBrandDB is kit.InBrandDB for a change that tells several events (stock moves and the order
// that made them): fn's events are written together, by one statement (Batch). fn is given the
// ctx to emit them with.
func InBrandDB[T any](ctx context.Context, d *kit.Deps, brand uuid.UUID, fn func(ctx context.Context, tx db.DBTX) (T, error)) (T, error) {
	return kit.InBrandDB(ctx, d, brand, func(tx db.DBTX) (T, error) {
		return Batch(ctx, db.New(tx), func(ctx context.Context) (T, error) { return fn(ctx, tx) })
	})
}

// write writes the batch's rows: one EventInsert for each run of rows of one brand and time
// (queries/events.sql takes one of each), so nearly always one.
func (b *batch) write(ctx context.Context, q *db.Queries) error {
	for rows := b.rows; len(rows) > 0; {
		n := 1
		for n < len(rows) && rows[n].brand == rows[0].brand && rows[n].at.Equal(rows[0].at) {
			n++
		}
		types := make([]string, n)
		for i, r := range rows[:n] {
			types[i] = string(r.Type)
		}
		payload, err := json.Marshal(rows[:n])
		if err != nil {
			return err
		}
		// Counted by observe when the transaction commits, not here. Nothing waits for the row:
		// in InBrand's transaction it travels with the COMMIT, which saves a round trip
		// (kit.SendWithCommit).
		wctx := kit.SendWithCommit(observe.WritingEvents(ctx, types))
		if err := q.EventInsert(wctx, db.EventInsertParams{BrandID: rows[0].brand, OccurredAt: rows[0].at, Events: payload}); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// row is one event as queries/events.sql's EventInsert reads it.
type row struct {
	ID               uuid.UUID              `json:"id"`
	Type             api.EventType          `json:"type"`
	AggregateType    api.EventAggregateType `json:"aggregateType"`
	AggregateID      uuid.UUID              `json:"aggregateId"`
	AggregateVersion int64                  `json:"aggregateVersion"`
	Data             json.RawMessage        `json:"data"`

	brand uuid.UUID // the statement's, not the row's
	at    time.Time
}

// Scope puts a transaction that is not brand-scoped (kit.InTx: identity's work across users) in
// brand's scope, so that Emit may write that brand's events. Every later statement of the
// transaction runs in that scope too: call it last, just before Emit.
func Scope(ctx context.Context, q *db.Queries, brand uuid.UUID) error {
	return q.BrandScopeSet(ctx, brand.String())
}

// Handlers implements the event operations of api.StrictServerInterface.
type Handlers struct {
	d *kit.Deps
}

// New returns the event handlers.
func New(d *kit.Deps) *Handlers { return &Handlers{d: d} }

// apiEvent is the event as the API shows it: the envelope queries/events.sql reads
// (event_envelope, schema/000024, the one definition webhooks and NATS send too); api.Event is a
// union that takes those bytes as they are, so no event type needs code of its own here.
func apiEvent(envelope []byte) (api.Event, error) {
	var e api.Event
	return e, e.UnmarshalJSON(envelope)
}

// GetEvent answers one event of the brand.
func (h *Handlers) GetEvent(ctx context.Context, req api.GetEventRequestObject) (api.GetEventResponseObject, error) {
	row, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.EventGetRow, error) {
		r, err := q.EventGet(ctx, db.EventGetParams{BrandID: req.BrandId, ID: req.EventId})
		return r, kit.DBError(err)
	})
	if errors.Is(err, kit.ErrNotFound) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such event.")
	}
	if err != nil {
		return nil, err
	}
	e, err := apiEvent(row.Envelope)
	if err != nil {
		return nil, err
	}
	return api.GetEvent200JSONResponse(e), nil
}

// position is where the feed continues: the last served row's (xact_id, seq).
type position struct {
	Xact int64 `json:"x"`
	Seq  int64 `json:"s"`
}

const feedList = "events"

// ListEvents answers the feed after the cursor. Unlike other lists its nextCursor is never null:
// the feed has no last page, and a consumer resumes from where it stopped, even when nothing new
// came (the cursor it gave comes back).
func (h *Handlers) ListEvents(ctx context.Context, req api.ListEventsRequestObject) (api.ListEventsResponseObject, error) {
	p := req.Params
	var at position
	if p.Cursor != nil {
		if err := h.d.Cursors.Open(feedList, *p.Cursor, &at); err != nil {
			return nil, paging.ErrBadCursor
		}
	}
	params := db.EventListParams{BrandID: req.BrandId, RowLimit: paging.PageSize(p.Limit), AggregateID: p.AggregateId}
	if p.Cursor != nil {
		params.AfterXact, params.AfterSeq = &at.Xact, &at.Seq
	}
	if p.Type != nil {
		params.Types = make([]string, len(*p.Type))
		for i, t := range *p.Type {
			params.Types[i] = string(t)
		}
	}
	if p.AggregateType != nil {
		t := string(*p.AggregateType)
		params.AggregateType = &t
	}
	// Two statements: the rows must be read with a snapshot taken after the horizon was.
	rows, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.EventListRow, error) {
		horizon, err := q.EventsHorizon(ctx)
		if err != nil {
			return nil, err
		}
		params.Horizon = horizon
		return q.EventList(ctx, params)
	})
	if err != nil {
		return nil, err
	}
	out := api.ListEvents200JSONResponse{Items: make([]api.Event, 0, len(rows))}
	for _, r := range rows {
		e, err := apiEvent(r.Envelope)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, e)
		at = position{Xact: r.XactID, Seq: r.Seq}
	}
	next, err := h.d.Cursors.Seal(feedList, at)
	if err != nil {
		return nil, err
	}
	out.NextCursor = next
	return out, nil
}
