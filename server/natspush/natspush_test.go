package natspush_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/riverqueue/river"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/natspush"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

// natsURL is the machine's NATS server (JetStream on); TEST_NATS_URL points elsewhere.
func natsURL() string {
	if u := os.Getenv("TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// jetStream connects to the test NATS and makes sure of the stream, as the server's start does.
// NATS runs on every machine of this project (.ci/run starts it when down): without it the test
// fails and says how to start it, rather than proving nothing by skipping.
func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, js, err := natspush.Connect(ctx, natspush.Config{URL: natsURL()})
	if err != nil {
		t.Fatalf("NATS with JetStream is not reachable at %s (start nats-server -js, or set TEST_NATS_URL): %v", natsURL(), err)
	}
	t.Cleanup(nc.Close)
	return js
}

type env struct {
	*servertest.Env
	js    jetstream.JetStream
	owner api.AuthResponse
	brand uuid.UUID
	deps  *kit.Deps
}

// newEnv starts a server whose pool enqueues publications (as with EVENTS_NATS_URL), and
// registers a brand owner; publishers says whether the server's NATS publisher runs. Each test
// has a brand of its own, so its subjects (ecompointer.<brand>.>) are its own in the shared stream.
func newEnv(t *testing.T, publisher bool) *env {
	t.Helper()
	return newEnvPolling(t, publisher, 20*time.Millisecond)
}

// newEnvPolling is newEnv with the publisher polling its queue every poll.
func newEnvPolling(t *testing.T, publisher bool, poll time.Duration) *env {
	t.Helper()
	js := jetStream(t)
	url := servertest.Database(t)
	pool, err := server.NewPool(ctx, url, servertest.AppRole, server.WithNATSPublish())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := servertest.NewOn(t, url, func(c *server.Config) {
		c.Pool = pool
		c.NATS = natspush.Config{URL: natsURL(), PollInterval: poll}
	})
	if publisher {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.Handler.RunNATS(runCtx) }()
		// Registered after the server's own clean-ups, so it runs before them.
		t.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("RunNATS: %v", err)
			}
		})
	}
	owner := e.Register(t, servertest.Email("nats"))
	return &env{Env: e, js: js, owner: owner, brand: *owner.User.BrandId,
		deps: &kit.Deps{Pool: pool, Queries: db.New(pool), Now: e.Clock.Now, TxAttempts: 1}}
}

func (e *env) auth() api.RequestEditorFn { return servertest.Bearer(e.owner.AccessToken) }

func (e *env) product(t *testing.T, sku string) api.Product {
	t.Helper()
	resp, err := e.Client.CreateProductWithResponse(ctx, e.brand, api.CreateProductRequest{Sku: sku, Name: sku, PriceAmount: 100}, e.auth())
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create product = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// feed is every event the brand has committed, as the feed serves them. The feed serves an event
// only once every older transaction of the cluster has ended (other tests' included), so it waits
// for as many as the table holds rather than reading once.
func (e *env) feed(t *testing.T) []servertest.FeedEvent {
	t.Helper()
	committed := e.OwnerCount(t, e.brand, "SELECT count(*) FROM events")
	return e.FeedAll(t, e.owner.AccessToken, e.brand, api.ListEventsParams{}, committed)
}

// eventJSON is the event as GET /brands/{brandId}/events/{eventId} serves it, decoded.
func (e *env) eventJSON(t *testing.T, id uuid.UUID) any {
	t.Helper()
	resp, err := e.Client.GetEventWithResponse(ctx, e.brand, id, e.auth())
	if err != nil || resp.StatusCode() != 200 {
		t.Fatalf("get event = %v %d", err, resp.StatusCode())
	}
	var v any
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// consumer reads the brand's messages of the stream from the first.
func (e *env) consumer(t *testing.T) jetstream.Consumer {
	t.Helper()
	c, err := e.js.OrderedConsumer(ctx, natspush.Stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natspush.SubjectPrefix + "." + e.brand.String() + ".>"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// next waits for the consumer's next message (bounded, so that a lost message fails the test).
func next(t *testing.T, c jetstream.Consumer) jetstream.Msg {
	t.Helper()
	m, err := c.Next(jetstream.FetchMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	return m
}

// stored counts the brand's messages in the stream.
func (e *env) stored(t *testing.T) uint64 {
	t.Helper()
	s, err := e.js.Stream(ctx, natspush.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(natspush.SubjectPrefix+"."+e.brand.String()+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// TestCommittedEventsArePublished: every committed event of the brand arrives on
// ecompointer.<brandId>.<type>, with its id as Nats-Msg-Id and the feed's JSON as the body.
func TestCommittedEventsArePublished(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	c := e.consumer(t)
	e.product(t, "NATS-1")
	feed := e.feed(t)
	if len(feed) == 0 || feed[len(feed)-1].Type != api.EventTypeProductCreated {
		t.Fatalf("feed = %+v", feed)
	}
	want := map[string]servertest.FeedEvent{}
	for _, ev := range feed {
		want[ev.ID.String()] = ev
	}
	for range feed {
		m := next(t, c)
		id := m.Headers().Get(jetstream.MsgIDHeader)
		ev, ok := want[id]
		if !ok {
			t.Fatalf("message %q (%s) is no event of the feed, or came twice", id, m.Subject())
		}
		delete(want, id)
		if s := natspush.Subject(e.brand, string(ev.Type)); m.Subject() != s {
			t.Errorf("subject = %s, want %s", m.Subject(), s)
		}
		var got any
		if err := json.Unmarshal(m.Data(), &got); err != nil {
			t.Fatal(err)
		}
		if w := e.eventJSON(t, ev.ID); !reflect.DeepEqual(got, w) {
			t.Errorf("body = %s\nwant the feed's %v", m.Data(), w)
		}
	}
	if n := e.stored(t); n != uint64(len(feed)) {
		t.Errorf("%d messages of the brand stored, want %d", n, len(feed))
	}
}

var errRollback = errors.New("roll back")

// TestRolledBackChangePublishesNothing: an event emitted in a transaction that rolls back leaves
// no job, and only the next committed change reaches the stream.
func TestRolledBackChangePublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	before := len(e.feed(t))
	lost := uuid.Must(uuid.NewV7())
	_, err := kit.InBrand(ctx, e.deps, e.brand, func(q *db.Queries) (struct{}, error) {
		err := events.Emit(ctx, q, e.brand, e.deps.Now(), events.Event{
			Type: api.EventTypeProductUpdated, Aggregate: events.Aggregate{Type: api.EventAggregateTypeProduct, ID: lost, Version: 1},
			Data: map[string]string{"id": lost.String()},
		})
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if n := e.publishJobs(t); n != before {
		t.Errorf("%d publication jobs after a rolled-back change, want %d (the brand's committed events)", n, before)
	}
	c := e.consumer(t)
	e.product(t, "NATS-COMMIT")
	for range before + 1 {
		m := next(t, c)
		var body struct {
			Aggregate struct{ ID uuid.UUID } `json:"aggregate"`
		}
		if err := json.Unmarshal(m.Data(), &body); err != nil {
			t.Fatal(err)
		}
		if body.Aggregate.ID == lost {
			t.Fatalf("the rolled-back event was published: %s", m.Data())
		}
	}
	if n := e.stored(t); n != uint64(before+1) {
		t.Errorf("%d messages of the brand stored, want %d (none for the rolled-back change)", n, before+1)
	}
}

// publishJobs counts the brand's nats_publish jobs (as the tables' owner: river's tables are the
// queue's).
func (e *env) publishJobs(t *testing.T) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, e.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'nats_publish' AND args->>'brandId' = $1", e.brand.String()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPublishedTwiceStoredOnce: the job of one event run twice (a crash after the publication,
// before river marked it done) leaves one message: the Nats-Msg-Id duplicate is dropped.
func TestPublishedTwiceStoredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.product(t, "NATS-TWICE")
	feed := e.feed(t)
	last := feed[len(feed)-1]
	for range 2 {
		if err := natspush.Publish(ctx, e.deps, e.js, e.brand, last.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.stored(t); n != 1 {
		t.Errorf("%d messages after publishing one event twice, want 1", n)
	}
	if n := e.publishJobs(t); n != len(feed) {
		t.Errorf("%d publication jobs, want one per event (%d)", n, len(feed))
	}
}

// TestPublishedAtOnce: a publication job is picked up at once on river's insert notification
// (queries/events.sql), not at the next poll: with the poll an hour apart, both products' events
// are still published. The first proves the publisher's producer running, hence listening (river
// listens before it first fetches); the second could only come by notification.
func TestPublishedAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnvPolling(t, true, time.Hour)
	c := e.consumer(t)
	for _, sku := range []string{"NATS-FAST-1", "NATS-FAST-2"} {
		p := e.product(t, sku)
		for {
			m := next(t, c)
			var got struct {
				Type string      `json:"type"`
				Data api.Product `json:"data"`
			}
			if err := json.Unmarshal(m.Data(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Type == string(api.EventTypeProductCreated) && got.Data.Id == p.Id {
				break // earlier events of the brand (its registration's) come first, in any order
			}
			if got.Type == string(api.EventTypeProductCreated) {
				t.Fatalf("published %s while waiting for %s", got.Data.Sku, sku)
			}
		}
	}
}

// queueDepths is ecompointer_job_queue_depth by queue, as /metrics shows it.
func queueDepths(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := observe.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "ecompointer_job_queue_depth" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "queue" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// TestQueueDepthMetric: ecompointer_job_queue_depth counts the unfinished jobs of both queues at
// scrape time: a publication per event (nobody publishes here), a webhook fan-out per event once
// the brand has an endpoint. Not parallel: the count it sets is the process's.
func TestQueueDepthMetric(t *testing.T) {
	e := newEnv(t, false)
	observe.SetJobQueues(events.QueueDepths(e.deps.Queries))
	t.Cleanup(func() { observe.SetJobQueues(nil) })
	before := len(e.feed(t))
	if got, want := queueDepths(t), map[string]float64{"nats": float64(before), "webhooks": 0}; !reflect.DeepEqual(got, want) {
		t.Fatalf("depths after registering = %v, want %v", got, want)
	}
	if r, err := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{Url: "https://hooks.example.com/x", EventTypes: []string{"*"}}, e.auth()); err != nil || r.JSON201 == nil {
		t.Fatalf("create endpoint = %v %d %s", err, r.StatusCode(), r.Body)
	}
	e.product(t, "NATS-DEPTH-1")
	e.product(t, "NATS-DEPTH-2")
	after := len(e.feed(t))
	if got, want := queueDepths(t), map[string]float64{"nats": float64(after), "webhooks": float64(after - before)}; !reflect.DeepEqual(got, want) {
		t.Errorf("depths after two products = %v, want %v (events %d, then %d)", got, want, before, after)
	}
}

// TestBusyBrandIsNotAnAttempt: a publication whose brand holds its whole share of the pool past
// the gate's wait is snoozed (available again at once, not counted as an attempt), so a long load
// cannot spend the job's attempts and drop it unpublished; once a slot frees it publishes.
func TestBusyBrandIsNotAnAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	e.product(t, "NATS-BUSY")
	feed := e.feed(t)
	last := feed[len(feed)-1]
	d := *e.deps
	d.Gate = kit.NewBrandShare(1, time.Millisecond)
	release, err := d.Gate.Acquire(ctx, e.brand) // the brand's requests hold its one slot
	if err != nil {
		t.Fatal(err)
	}
	var snooze *river.JobSnoozeError
	if err := natspush.Work(ctx, &d, e.js, e.brand, last.ID); !errors.As(err, &snooze) || snooze.Duration != 0 {
		t.Fatalf("work on a busy brand = %v, want a snooze of 0", err)
	}
	if n := e.stored(t); n != 0 {
		t.Errorf("%d messages while the brand was busy", n)
	}
	release()
	if err := natspush.Work(ctx, &d, e.js, e.brand, last.ID); err != nil {
		t.Fatalf("work once a slot freed = %v", err)
	}
	if n := e.stored(t); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
