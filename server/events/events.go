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
// the events' webhook delivery (queries/events.sql, server/webhooks). In InBrand's transaction the
// statement is sent with the transaction's next round trip (kit.SendWithCommit), so its failure
// comes from there: from InBrand, or from fn's next statement.
func Emit(ctx context.Context, q *db.Queries, brand uuid.UUID, now time.Time, es ...Event) error {
	if len(es) == 0 {
		return nil
	}
	rows := make([]row, len(es))
	types := make([]string, len(es))
	for i, e := range es {
		types[i] = string(e.Type)
		data, err := json.Marshal(e.Data)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.Type, err)
		}
		rows[i] = row{
			ID: uuid.Must(uuid.NewV7()), Type: e.Type, AggregateType: e.Aggregate.Type,
			AggregateID: e.Aggregate.ID, AggregateVersion: e.Aggregate.Version, Data: data,
		}
	}
	payload, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	// Counted by observe when the transaction commits, not here. Nothing waits for the row: in
	// InBrand's transaction it travels with the COMMIT, which saves a round trip (kit.SendWithCommit).
	return q.EventInsert(kit.SendWithCommit(observe.WritingEvents(ctx, types)), db.EventInsertParams{BrandID: brand, OccurredAt: now, Events: payload})
}

// row is one event as queries/events.sql's EventInsert reads it.
type row struct {
	ID               uuid.UUID              `json:"id"`
	Type             api.EventType          `json:"type"`
	AggregateType    api.EventAggregateType `json:"aggregateType"`
	AggregateID      uuid.UUID              `json:"aggregateId"`
	AggregateVersion int64                  `json:"aggregateVersion"`
	Data             json.RawMessage        `json:"data"`
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
