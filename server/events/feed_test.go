package events_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var errRollback = errors.New("roll back")

// feedWriter writes events straight through the outbox, as a handler does, so a test controls
// when each transaction commits.
type feedWriter struct {
	d     *kit.Deps
	brand uuid.UUID
	data  api.Product // every event's data: a valid product, since responses are checked
}

func newFeedWriter(t *testing.T, env *servertest.Env) (feedWriter, api.AuthResponse) {
	t.Helper()
	owner := env.Register(t, servertest.Email("feed"))
	brand := *owner.User.BrandId
	p, err := env.Client.CreateProductWithResponse(ctx, brand, api.CreateProductRequest{Sku: "FEED-1", Name: "Feed", PriceAmount: 1}, servertest.Bearer(owner.AccessToken))
	if err != nil || p.JSON201 == nil {
		t.Fatalf("create = %d %s", p.StatusCode(), p.Body)
	}
	d := &kit.Deps{Log: slog.New(slog.DiscardHandler), Pool: env.Pool, Queries: db.New(env.Pool), Now: env.Clock.Now, TxAttempts: 3}
	return feedWriter{d: d, brand: brand, data: *p.JSON201}, owner
}

// write emits one event per aggregate id in one transaction; before it returns (commits, or rolls
// back with errRollback) it calls hold.
func (w feedWriter) write(ctx context.Context, ids []uuid.UUID, hold func() error) error {
	_, err := kit.InBrand(ctx, w.d, w.brand, func(q *db.Queries) (struct{}, error) {
		es := make([]events.Event, len(ids))
		for i, id := range ids {
			es[i] = events.Event{Type: api.EventTypeProductUpdated, Aggregate: events.Aggregate{Type: api.EventAggregateTypeProduct, ID: id, Version: 1}, Data: w.data}
		}
		if err := events.Emit(ctx, q, w.brand, w.d.Now(), es...); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, hold()
	})
	return err
}

// TestFeedHoldsBackWhatCommittedAheadOfAnOpenWriter: B writes after A and commits first. A feed
// read by sequence would serve B, move its position past A's row, and never serve A once it
// commits. This feed serves neither until A ended, then both.
func TestFeedHoldsBackWhatCommittedAheadOfAnOpenWriter(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	w, owner := newFeedWriter(t, env)
	// Start after the product.created event of the setup.
	_, cursor := env.FeedN(t, owner.AccessToken, w.brand, api.ListEventsParams{}, 1)

	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	emitted, hold := make(chan struct{}), make(chan struct{})
	// A failure must still let A end: the pool's cleanup waits for its connection.
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	aDone := make(chan error, 1)
	go func() {
		aDone <- w.write(ctx, []uuid.UUID{a}, func() error { close(emitted); <-hold; return nil })
	}()
	<-emitted
	if err := w.write(ctx, []uuid.UUID{b}, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got, next := env.FeedPage(t, owner.AccessToken, w.brand, api.ListEventsParams{Cursor: &cursor}); len(got) != 0 || next != cursor {
		t.Fatalf("while A is open the feed served %d events and moved on: B must wait for A", len(got))
	}
	release()
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	var seen []uuid.UUID
	page, _ := env.FeedN(t, owner.AccessToken, w.brand, api.ListEventsParams{Cursor: &cursor}, 2)
	for _, e := range page {
		seen = append(seen, e.Aggregate.Id)
	}
	if len(seen) != 2 || seen[0] != a || seen[1] != b {
		t.Fatalf("after A committed the feed served %v, want A (%s) then B (%s)", seen, a, b)
	}
}

// TestFeedConsumerSeesEveryEventOnce: 16 writers commit (or roll back) in whatever order the
// scheduler gives while a consumer polls the feed in small pages; the consumer must end with
// exactly the committed events, each once.
func TestFeedConsumerSeesEveryEventOnce(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	w, owner := newFeedWriter(t, env)
	_, cursor := env.FeedN(t, owner.AccessToken, w.brand, api.ListEventsParams{}, 1)

	const writers, txs = 16, 20
	var mu sync.Mutex
	committed := map[uuid.UUID]bool{}
	rolledBack := map[uuid.UUID]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range txs {
				ids := make([]uuid.UUID, 1+rand.IntN(3))
				for i := range ids {
					ids[i] = uuid.Must(uuid.NewV7())
				}
				rollback := rand.IntN(5) == 0
				err := w.write(ctx, ids, func() error {
					// Commit at a random moment, so that transactions commit out of the order
					// they wrote in.
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					if rollback {
						return errRollback
					}
					return nil
				})
				if err != nil && (!rollback || !errors.Is(err, errRollback)) {
					errs <- err
					return
				}
				mu.Lock()
				for _, id := range ids {
					if rollback {
						rolledBack[id] = true
					} else {
						committed[id] = true
					}
				}
				mu.Unlock()
			}
		})
	}
	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()

	seen := map[uuid.UUID]int{}
	limit := 7
	polls := 0
	done := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		select {
		case <-writing:
			done = true
		default:
		}
		var page []servertest.FeedEvent
		page, cursor = env.FeedPage(t, owner.AccessToken, w.brand, api.ListEventsParams{Limit: &limit, Cursor: &cursor})
		polls++
		for _, e := range page {
			seen[e.Aggregate.Id]++
		}
		mu.Lock()
		caughtUp := done && len(seen) >= len(committed)
		mu.Unlock()
		if caughtUp && len(page) == 0 {
			break
		}
		if len(page) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	if !done {
		t.Fatal("the writers did not finish in time")
	}
	for id, n := range seen {
		switch {
		case rolledBack[id]:
			t.Errorf("event of a rolled-back transaction served: %s", id)
		case !committed[id]:
			t.Errorf("unknown event %s", id)
		case n != 1:
			t.Errorf("event %s served %d times", id, n)
		}
	}
	missed := 0
	for id := range committed {
		if seen[id] == 0 {
			missed++
		}
	}
	if missed > 0 {
		t.Errorf("consumer missed %d of %d committed events", missed, len(committed))
	}
	t.Logf("%d writers: %d events committed, %d rolled back, consumer polled %d times", writers, len(committed), len(rolledBack), polls)
}

func TestEventsArePrunedAfterRetention(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	w, owner := newFeedWriter(t, env)
	if got := env.FeedAll(t, owner.AccessToken, w.brand, api.ListEventsParams{}, 1); len(got) != 1 {
		t.Fatalf("feed = %v", servertest.EventTypes(got))
	}
	retention := 30 * 24 * time.Hour
	env.Clock.Advance(retention - time.Minute)
	if n, err := server.PruneEvents(ctx, env.Pool, env.Clock.Now, retention); err != nil || n != 0 {
		t.Fatalf("prune within retention = %d, %v", n, err)
	}
	env.Clock.Advance(2 * time.Minute)
	if n, err := server.PruneEvents(ctx, env.Pool, env.Clock.Now, retention); err != nil || n != 1 {
		t.Fatalf("prune past retention = %d, %v", n, err)
	}
	// The owner's token expired with the clock's move: count in the database.
	if n := env.OwnerCount(t, w.brand, "SELECT count(*) FROM events"); n != 0 {
		t.Fatalf("%d events left after prune", n)
	}
}
