package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// countingTx is a real transaction that records the sqlc name of every statement it executes.
type countingTx struct {
	pgx.Tx
	names []string
}

func (c *countingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	name, _, _ := strings.Cut(strings.TrimPrefix(sql, "-- name: "), " ")
	c.names = append(c.names, name)
	return c.Tx.Exec(ctx, sql, args...)
}

// inserts counts the EventInsert statements c executed.
func (c *countingTx) inserts() int {
	n := 0
	for _, name := range c.names {
		if name == "EventInsert" {
			n++
		}
	}
	return n
}

// TestBatchWritesTheChangesEventsAsOneStatement: within Batch, Emit writes nothing; when fn
// succeeds, the events go in one EventInsert per run of one brand and time, in the order they were
// emitted, each with its own time; when fn fails, nothing is written at all.
func TestBatchWritesTheChangesEventsAsOneStatement(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := servertest.NewStockBrand(t, env, "batch")
	at := time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)
	later := at.Add(time.Second)
	emit := func(ctx context.Context, q *db.Queries, when time.Time, id uuid.UUID, typ api.EventType) error {
		return events.Emit(ctx, q, b.Brand, when, events.Event{
			Type: typ, Data: map[string]string{"id": id.String()},
			Aggregate: events.Aggregate{Type: api.EventAggregateTypeStockMovement, ID: id, Version: 1},
		})
	}
	type written struct {
		id   uuid.UUID
		at   time.Time
		typ  api.EventType
		xact int64
	}
	// inTx runs fn in a transaction of the brand through a countingTx, commits it, and returns the
	// statements' count and the events of aggregate ids, read back as the feed reads them.
	inTx := func(t *testing.T, ids []uuid.UUID, fn func(q *db.Queries) error) (int, []written, error) {
		t.Helper()
		var c *countingTx
		ferr := pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
			c = &countingTx{Tx: tx}
			if err := db.New(tx).BrandScopeSet(ctx, b.Brand.String()); err != nil {
				t.Fatal(err)
			}
			return fn(db.New(c))
		})
		var out []written
		err := pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
			q := db.New(tx)
			if err := q.BrandScopeSet(ctx, b.Brand.String()); err != nil {
				return err
			}
			horizon, err := q.EventsHorizon(ctx)
			if err != nil {
				return err
			}
			for _, id := range ids {
				rows, err := q.EventList(ctx, db.EventListParams{BrandID: b.Brand, Horizon: horizon, AggregateID: &id, RowLimit: 10})
				if err != nil {
					return err
				}
				for _, r := range rows {
					var e struct {
						Type       api.EventType `json:"type"`
						OccurredAt time.Time     `json:"occurredAt"`
					}
					if err := json.Unmarshal(r.Envelope, &e); err != nil {
						return err
					}
					out = append(out, written{id: id, at: e.OccurredAt, typ: e.Type, xact: r.XactID})
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return c.inserts(), out, ferr
	}
	ids := func(n int) []uuid.UUID {
		out := make([]uuid.UUID, n)
		for i := range out {
			out[i] = uuid.New()
		}
		return out
	}

	t.Run("one statement for the batch, in order", func(t *testing.T) {
		id := ids(3)
		n, got, err := inTx(t, id, func(q *db.Queries) error {
			_, err := events.Batch(ctx, q, func(ctx context.Context) (struct{}, error) {
				for i, typ := range []api.EventType{api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated, api.EventTypeOrderCreated} {
					if err := emit(ctx, q, at, id[i], typ); err != nil {
						return struct{}{}, err
					}
				}
				return struct{}{}, nil
			})
			return err
		})
		if err != nil || n != 1 {
			t.Fatalf("EventInsert statements = %d, err %v; want 1", n, err)
		}
		want := []api.EventType{api.EventTypeStockMovementCreated, api.EventTypeInventoryLevelUpdated, api.EventTypeOrderCreated}
		if len(got) != 3 {
			t.Fatalf("events = %+v", got)
		}
		for i, w := range got {
			if w.typ != want[i] || !w.at.Equal(at) || w.xact != got[0].xact {
				t.Errorf("event %d = %+v, want %s at %s in one transaction", i, w, want[i], at)
			}
		}
	})

	t.Run("a nested batch joins the outer one; each time keeps its own", func(t *testing.T) {
		id := ids(3)
		n, got, err := inTx(t, id, func(q *db.Queries) error {
			_, err := events.Batch(ctx, q, func(ctx context.Context) (int, error) {
				if err := emit(ctx, q, at, id[0], api.EventTypeStockMovementCreated); err != nil {
					return 0, err
				}
				_, err := events.Batch(ctx, q, func(ctx context.Context) (int, error) {
					return 0, emit(ctx, q, at, id[1], api.EventTypeStockMovementCreated)
				})
				if err != nil {
					return 0, err
				}
				return 0, emit(ctx, q, later, id[2], api.EventTypeOrderCreated)
			})
			return err
		})
		// Two runs: two of `at`, then one of `later` (EventInsert takes one time).
		if err != nil || n != 2 {
			t.Fatalf("EventInsert statements = %d, err %v; want 2", n, err)
		}
		if len(got) != 3 || !got[0].at.Equal(at) || !got[1].at.Equal(at) || !got[2].at.Equal(later) {
			t.Errorf("events = %+v", got)
		}
	})

	t.Run("fn failed: nothing written", func(t *testing.T) {
		id := ids(1)
		refused := errors.New("refused")
		n, got, err := inTx(t, id, func(q *db.Queries) error {
			_, err := events.Batch(ctx, q, func(ctx context.Context) (int, error) {
				if err := emit(ctx, q, at, id[0], api.EventTypeStockMovementCreated); err != nil {
					return 0, err
				}
				return 0, refused
			})
			if !errors.Is(err, refused) {
				t.Errorf("Batch = %v, want fn's error", err)
			}
			return nil // commit: the batch itself must not have written
		})
		if err != nil || n != 0 || len(got) != 0 {
			t.Errorf("EventInsert statements = %d, events %+v, err %v; want none", n, got, err)
		}
	})

	t.Run("outside a batch Emit writes at once", func(t *testing.T) {
		id := ids(2)
		n, got, err := inTx(t, id, func(q *db.Queries) error {
			if err := emit(ctx, q, at, id[0], api.EventTypeStockMovementCreated); err != nil {
				return err
			}
			return emit(ctx, q, at, id[1], api.EventTypeStockMovementCreated)
		})
		if err != nil || n != 2 || len(got) != 2 {
			t.Errorf("EventInsert statements = %d, events %+v, err %v; want 2 and 2", n, got, err)
		}
	})
}
