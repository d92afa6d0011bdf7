package events_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// written is ecompointer_events_written_total{type=typ} as /metrics shows it.
func written(t *testing.T, typ string) float64 {
	t.Helper()
	mfs, err := observe.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ecompointer_events_written_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && l.GetValue() == typ {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

var errRolledBack = errors.New("rolled back on purpose")

// TestEventsWrittenCountsCommittedOnly is not parallel: the counter is the process's, and the
// package's parallel tests write events too; they wait until this one ends.
func TestEventsWrittenCountsCommittedOnly(t *testing.T) {
	env := servertest.New(t)
	w, owner := newFeedWriter(t, env)
	ok := func() error { return nil }
	fail := func() error { return errRolledBack }
	one := func() []uuid.UUID { return []uuid.UUID{uuid.Must(uuid.NewV7())} }

	cases := []struct {
		name  string
		typ   api.EventType
		write func(t *testing.T)
		want  float64
	}{
		{"committed: counted once per event", api.EventTypeProductUpdated, func(t *testing.T) {
			if err := w.write(ctx, []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())}, ok); err != nil {
				t.Fatal(err)
			}
		}, 2},
		{"a change through the API (the event after the change's statements)", api.EventTypeProductCreated, func(t *testing.T) {
			r, err := env.Client.CreateProductWithResponse(ctx, w.brand, api.CreateProductRequest{Sku: "METRIC-1", Name: "Counted", PriceAmount: 1}, servertest.Bearer(owner.AccessToken))
			if err != nil || r.JSON201 == nil {
				t.Fatalf("create = %v %d %s", err, r.StatusCode(), r.Body)
			}
		}, 1},
		{"rolled back: not counted", api.EventTypeProductUpdated, func(t *testing.T) {
			if err := w.write(ctx, one(), fail); !errors.Is(err, errRolledBack) {
				t.Fatalf("write = %v", err)
			}
		}, 0},
		{"savepoint rolled back inside a committed transaction: only the kept event counted", api.EventTypeProductUpdated, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
				in := kit.WithTx(ctx, tx)
				if err := w.write(in, one(), ok); err != nil {
					return err
				}
				if err := w.write(in, one(), fail); !errors.Is(err, errRolledBack) {
					t.Errorf("savepoint write = %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"whole transaction rolled back after its savepoints: nothing counted", api.EventTypeProductUpdated, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
				if err := w.write(kit.WithTx(ctx, tx), one(), ok); err != nil {
					return err
				}
				return errRolledBack
			})
			if !errors.Is(err, errRolledBack) {
				t.Fatalf("transaction = %v", err)
			}
		}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := written(t, string(c.typ))
			c.write(t)
			if got := written(t, string(c.typ)) - before; got != c.want {
				t.Errorf("events_written_total{type=%q} rose by %v, want %v", c.typ, got, c.want)
			}
		})
	}
}
