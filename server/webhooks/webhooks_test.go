package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/servertest"
	"github.com/ecompointer/ecompointer/server/webhooks"
)

var ctx = context.Background()

// loopback is the allowance tests deliver under: their receivers listen on 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// testConfig delivers to local http receivers and retries at once, three attempts in all.
func testConfig() webhooks.Config {
	return webhooks.Config{
		RetrySchedule:   []time.Duration{time.Millisecond, time.Millisecond},
		AllowedNetworks: loopback,
		AllowHTTP:       true,
		PollInterval:    20 * time.Millisecond,
	}
}

type env struct {
	*servertest.Env
	owner api.AuthResponse
	email string
	brand uuid.UUID
}

// newEnv starts a server with cfg and its webhook workers, and registers a brand owner.
func newEnv(t *testing.T, cfg webhooks.Config, workers bool) *env {
	t.Helper()
	e := servertest.New(t, func(c *server.Config) { c.Webhooks = cfg })
	if workers {
		runWorkers(t, e)
	}
	email := servertest.Email("wh")
	owner := e.Register(t, email)
	return &env{Env: e, owner: owner, email: email, brand: *owner.User.BrandId}
}

// runWorkers runs e's webhook workers for the rest of the test.
func runWorkers(t *testing.T, e *servertest.Env) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Handler.RunWebhooks(runCtx) }()
	// Registered after the server's own clean-ups, so it runs before them: the workers stop
	// before the pool closes.
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunWebhooks: %v", err)
		}
	})
}

// jobs counts the river jobs of e's brand (as the tables' owner: river's tables are the queue's).
func (e *env) jobs(t *testing.T) int {
	t.Helper()
	conn, err := pgx.Connect(ctx, e.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE args->>'brandId' = $1", e.brand.String()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) auth() api.RequestEditorFn { return servertest.Bearer(e.owner.AccessToken) }

// hit is one request a receiver got.
type hit struct {
	header http.Header
	body   []byte
}

// receiver is an endpoint: it answers each request with status(n) (n from 1) and reports it.
type receiver struct {
	*httptest.Server
	hits chan hit
	n    atomic.Int32
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	return newReceiverFunc(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status(n))
		_, _ = io.WriteString(w, "answer "+strings.Repeat("x", 2000))
	})
}

// newReceiverFunc is a receiver that answers with answer.
func newReceiverFunc(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	r := &receiver{hits: make(chan hit, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		answer(int(r.n.Add(1)), w, req)
		r.hits <- hit{header: req.Header.Clone(), body: b}
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the receiver's next request.
func (r *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-r.hits:
		return h
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery came")
		return hit{}
	}
}

// typeOf is the type of the event a request delivered.
func typeOf(t *testing.T, h hit) string {
	t.Helper()
	var e struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(h.body, &e); err != nil {
		t.Fatalf("delivered %s: %v", h.body, err)
	}
	return e.Type
}

func always(status int) func(int) int { return func(int) int { return status } }

func (e *env) endpoint(t *testing.T, url string, types ...string) api.WebhookEndpoint {
	t.Helper()
	if len(types) == 0 {
		types = []string{"*"}
	}
	resp, err := e.Client.CreateWebhookEndpointWithResponse(ctx, e.brand, api.CreateWebhookEndpointRequest{Url: url, EventTypes: types}, e.auth())
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create endpoint = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if resp.JSON201.Secret == nil || !strings.HasPrefix(*resp.JSON201.Secret, "whsec_") {
		t.Fatalf("secret = %v", resp.JSON201.Secret)
	}
	return *resp.JSON201
}

func (e *env) product(t *testing.T, sku string) api.Product {
	t.Helper()
	resp, err := e.Client.CreateProductWithResponse(ctx, e.brand, api.CreateProductRequest{Sku: sku, Name: sku, PriceAmount: 100}, e.auth())
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create product = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func (e *env) deliveries(t *testing.T, endpoint uuid.UUID) []api.WebhookDelivery {
	t.Helper()
	resp, err := e.Client.ListWebhookDeliveriesWithResponse(ctx, e.brand, endpoint, nil, e.auth())
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("deliveries = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Items
}

// settled waits until the endpoint's newest delivery is no longer pending. The receiver has
// answered by then; the worker records the attempt just after, so this polls the API briefly.
func (e *env) settled(t *testing.T, endpoint uuid.UUID) api.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds := e.deliveries(t, endpoint)
		if len(ds) > 0 && ds[0].Status != api.WebhookDeliveryPending {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery still pending: %+v", ds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric is a counter's value (with the outcome label given) or a histogram's sample count.
func metric(t *testing.T, name, outcome string) float64 {
	t.Helper()
	families, err := observe.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s %s", name, outcome)
	return 0
}

func verify(t *testing.T, secret string, h hit) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Errorf("signature with %s…: %v (header %q)", secret[:10], err, h.header.Get("webhook-signature"))
	}
}

func TestDeliveredOnceSigned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	succeeded, lags := metric(t, "ecompointer_webhook_attempts_total", "succeeded"), metric(t, "ecompointer_webhook_delivery_lag_seconds", "")
	r := newReceiver(t, always(http.StatusAccepted))
	ep := e.endpoint(t, r.URL+"/hook", string(api.EventTypeProductCreated))
	p := e.product(t, "WH-1")

	h := r.next(t)
	verify(t, *ep.Secret, h)
	var body struct {
		ID        uuid.UUID          `json:"id"`
		Type      string             `json:"type"`
		Aggregate api.EventAggregate `json:"aggregate"`
		Data      api.Product        `json:"data"`
	}
	if err := json.Unmarshal(h.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "product.created" || body.Data.Id != p.Id || body.Aggregate.Id != p.Id || h.header.Get("webhook-id") != body.ID.String() {
		t.Errorf("delivered %s with webhook-id %s", h.body, h.header.Get("webhook-id"))
	}
	// The event is in the feed under the same id, and the body is the feed's event, field for
	// field (one definition: event_envelope, schema/000024).
	got, err := e.Client.GetEventWithResponse(ctx, e.brand, body.ID, e.auth())
	if err != nil || got.JSON200 == nil {
		t.Fatalf("event %s in the feed = %v %d", body.ID, err, got.StatusCode())
	}
	var sent, fed any
	if err := errors.Join(json.Unmarshal(h.body, &sent), json.Unmarshal(got.Body, &fed)); err != nil || !reflect.DeepEqual(sent, fed) {
		t.Errorf("delivered %s\nthe feed has %s (%v)", h.body, got.Body, err)
	}
	d := e.settled(t, ep.Id)
	if d.Status != api.WebhookDeliverySucceeded || len(d.Attempts) != 1 || d.EventId != body.ID {
		t.Fatalf("delivery = %+v", d)
	}
	a := d.Attempts[0]
	if !a.Succeeded || a.ResponseStatus == nil || *a.ResponseStatus != http.StatusAccepted || len(a.ResponseBody) != 1024 || !strings.HasPrefix(a.ResponseBody, "answer ") {
		t.Errorf("attempt = %+v (body %d bytes)", a, len(a.ResponseBody))
	}
	// Counted (other tests run alongside: at least this one).
	if got := metric(t, "ecompointer_webhook_attempts_total", "succeeded"); got < succeeded+1 {
		t.Errorf("succeeded attempts %v, was %v", got, succeeded)
	}
	if got := metric(t, "ecompointer_webhook_delivery_lag_seconds", ""); got < lags+1 {
		t.Errorf("lag observations %v, was %v", got, lags)
	}
	// Exactly once: a later event (a ping) arrives next, nothing in between.
	if resp, err := e.Client.TestWebhookEndpointWithResponse(ctx, e.brand, ep.Id, e.auth()); err != nil || resp.JSON202 == nil {
		t.Fatalf("ping = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if h := r.next(t); typeOf(t, h) != "ping" {
		t.Errorf("after the event came %s, not the ping", h.body)
	}
}

func TestRetriedWithTheSameID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	r := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ep := e.endpoint(t, r.URL)
	e.product(t, "WH-RETRY")
	first, second := r.next(t), r.next(t)
	if id := first.header.Get("webhook-id"); id == "" || id != second.header.Get("webhook-id") || string(first.body) != string(second.body) {
		t.Errorf("webhook-id %q then %q", id, second.header.Get("webhook-id"))
	}
	verify(t, *ep.Secret, second)
	d := e.settled(t, ep.Id)
	if d.Status != api.WebhookDeliverySucceeded || len(d.Attempts) != 2 || d.Attempts[0].Succeeded || *d.Attempts[0].ResponseStatus != 500 || !d.Attempts[1].Succeeded {
		t.Errorf("delivery = %+v", d)
	}
}

func TestFailedAfterTheLastRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	r := newReceiver(t, always(http.StatusServiceUnavailable))
	ep := e.endpoint(t, r.URL)
	e.product(t, "WH-FAIL")
	for range 3 {
		r.next(t)
	}
	d := e.settled(t, ep.Id)
	if d.Status != api.WebhookDeliveryFailed || len(d.Attempts) != 3 {
		t.Fatalf("delivery = %+v", d)
	}
	// A manual retry sends it once more, with the same id.
	resp, err := e.Client.RetryWebhookDeliveryWithResponse(ctx, e.brand, ep.Id, d.Id, e.auth())
	if err != nil || resp.JSON202 == nil || resp.JSON202.Status != api.WebhookDeliveryPending {
		t.Fatalf("retry = %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if h := r.next(t); h.header.Get("webhook-id") != d.EventId.String() {
		t.Errorf("retry sent webhook-id %s, want %s", h.header.Get("webhook-id"), d.EventId)
	}
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	gone := newReceiver(t, always(http.StatusGone))
	watcher := newReceiver(t, always(http.StatusOK))
	ep := e.endpoint(t, gone.URL, string(api.EventTypeProductCreated))
	e.endpoint(t, watcher.URL, string(api.EventTypeWebhookEndpointDisabled))
	e.product(t, "WH-GONE")
	gone.next(t)
	// The other endpoint hears of it.
	h := watcher.next(t)
	if typeOf(t, h) != "webhook_endpoint.disabled" || !strings.Contains(string(h.body), ep.Id.String()) {
		t.Errorf("watcher got %s", h.body)
	}
	got, err := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, ep.Id, e.auth())
	if err != nil || got.JSON200 == nil || got.JSON200.Enabled || got.JSON200.DisabledReason == nil || got.JSON200.Secret != nil {
		t.Fatalf("endpoint = %v %s", err, got.Body)
	}
	if d := e.settled(t, ep.Id); d.Status != api.WebhookDeliveryFailed || len(d.Attempts) != 1 {
		t.Errorf("delivery = %+v", d)
	}
	// No retry reached it: the 410 was its only request.
	e.product(t, "WH-GONE-2")
	if n := gone.n.Load(); n != 1 {
		t.Errorf("a disabled endpoint got %d requests", n)
	}
}

var errRollback = errors.New("roll back")

func TestRolledBackChangeDeliversNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	r := newReceiver(t, always(http.StatusOK))
	e.endpoint(t, r.URL)
	d := &kit.Deps{Pool: e.Pool, Queries: db.New(e.Pool), Now: e.Clock.Now, TxAttempts: 1}
	lost := uuid.Must(uuid.NewV7())
	_, err := kit.InBrand(ctx, d, e.brand, func(q *db.Queries) (struct{}, error) {
		err := events.Emit(ctx, q, e.brand, d.Now(), events.Event{
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
	// No job was left behind to deliver it.
	if jobs := e.jobs(t); jobs != 0 {
		t.Errorf("%d jobs after a rolled-back change", jobs)
	}
	// The next committed change is the first and only thing delivered.
	p := e.product(t, "WH-COMMIT")
	if h := r.next(t); !strings.Contains(string(h.body), p.Id.String()) || strings.Contains(string(h.body), lost.String()) {
		t.Errorf("delivered %s", h.body)
	}
}

func TestRotationSignsWithBoth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), true)
	r := newReceiver(t, always(http.StatusOK))
	ep := e.endpoint(t, r.URL)
	rot, err := e.Client.RotateWebhookEndpointSecretWithResponse(ctx, e.brand, ep.Id, e.auth())
	if err != nil || rot.JSON200 == nil || rot.JSON200.Secret == nil || *rot.JSON200.Secret == *ep.Secret {
		t.Fatalf("rotate = %v %d %s", err, rot.StatusCode(), rot.Body)
	}
	e.product(t, "WH-ROT")
	h := r.next(t)
	if sigs := strings.Fields(h.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("signatures %q", sigs)
	}
	verify(t, *rot.JSON200.Secret, h)
	verify(t, *ep.Secret, h)
	// After the overlap only the new secret signs.
	e.Clock.Advance(webhooks.RotationOverlap + time.Minute)
	e.owner = e.Login(t, e.email, servertest.Password)
	e.product(t, "WH-ROT-2")
	h = r.next(t)
	verify(t, *rot.JSON200.Secret, h)
	if sigs := strings.Fields(h.header.Get("webhook-signature")); len(sigs) != 1 {
		t.Errorf("signatures after the overlap %q", sigs)
	}
}

// An endpoint that failed every attempt for WEBHOOK_DISABLE_AFTER is disabled at the attempt
// that crosses it, with an event; its delivery ends failed, and no retry follows.
// TestSuccessEndsTheFailureStreak: a delivered attempt ends the endpoint's failure streak, so a
// failure long after it starts a new one instead of disabling the endpoint at once.
func TestSuccessEndsTheFailureStreak(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DisableAfter = time.Hour
	e := newEnv(t, cfg, true)
	r := newReceiver(t, func(n int) int {
		if n%2 == 1 { // each event's first attempt fails, its retry succeeds
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ep := e.endpoint(t, r.URL, string(api.EventTypeProductCreated))
	e.product(t, "WH-STREAK-1")
	r.next(t)
	r.next(t)
	if d := e.settled(t, ep.Id); d.Status != api.WebhookDeliverySucceeded {
		t.Fatalf("first delivery = %+v", d)
	}
	e.Clock.Advance(2 * time.Hour) // past DisableAfter since the first failure
	e.owner = e.Login(t, e.email, servertest.Password)
	e.product(t, "WH-STREAK-2")
	r.next(t)
	r.next(t)
	if d := e.settled(t, ep.Id); d.Status != api.WebhookDeliverySucceeded || len(d.Attempts) != 2 {
		t.Fatalf("second delivery = %+v", d)
	}
	got, err := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, ep.Id, e.auth())
	if err != nil || got.JSON200 == nil || !got.JSON200.Enabled || got.JSON200.DisabledReason != nil {
		t.Errorf("endpoint = %v %s, want still enabled", err, got.Body)
	}
}

func TestDisabledAfterFailingTooLong(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DisableAfter = time.Hour
	cfg.RetrySchedule = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	e := newEnv(t, cfg, true)
	watcher := newReceiver(t, always(http.StatusOK))
	failing := newReceiver(t, func(n int) int {
		if n == 1 {
			// Between the first attempt and the second, more than DisableAfter passes.
			e.Clock.Advance(2 * time.Hour)
		}
		return http.StatusInternalServerError
	})
	ep := e.endpoint(t, failing.URL, string(api.EventTypeProductCreated))
	e.endpoint(t, watcher.URL, string(api.EventTypeWebhookEndpointDisabled))
	e.product(t, "WH-LONG")
	failing.next(t)
	failing.next(t)
	h := watcher.next(t)
	if typeOf(t, h) != "webhook_endpoint.disabled" || !strings.Contains(string(h.body), ep.Id.String()) {
		t.Errorf("watcher got %s", h.body)
	}
	e.owner = e.Login(t, e.email, servertest.Password)
	d := e.settled(t, ep.Id)
	if d.Status != api.WebhookDeliveryFailed || len(d.Attempts) != 2 {
		t.Errorf("delivery = %+v", d)
	}
	got, _ := e.Client.GetWebhookEndpointWithResponse(ctx, e.brand, ep.Id, e.auth())
	if got.JSON200 == nil || got.JSON200.Enabled || got.JSON200.DisabledReason == nil || !strings.Contains(*got.JSON200.DisabledReason, "1h0m0s") {
		t.Fatalf("endpoint = %s", got.Body)
	}
	if n := failing.n.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	// Enabled again, it starts afresh.
	upd, _ := e.Client.UpdateWebhookEndpointWithResponse(ctx, e.brand, ep.Id, nil, api.UpdateWebhookEndpointRequest{Enabled: new(true)}, e.auth())
	if upd.JSON200 == nil || !upd.JSON200.Enabled || upd.JSON200.DisabledReason != nil {
		t.Errorf("re-enabled = %s", upd.Body)
	}
}

// Deliveries older than 14 days are pruned with their attempts; younger ones stay.
func TestHistoryPruned(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	ep := e.endpoint(t, "https://hooks.example.com/old")
	if r, err := e.Client.TestWebhookEndpointWithResponse(ctx, e.brand, ep.Id, e.auth()); err != nil || r.JSON202 == nil {
		t.Fatalf("ping = %v %d", err, r.StatusCode())
	}
	d := &kit.Deps{Pool: e.Pool, Queries: db.New(e.Pool), Now: e.Clock.Now, TxAttempts: 1}
	e.Clock.Advance(webhooks.HistoryRetention - time.Minute)
	if n, err := webhooks.Prune(ctx, d); err != nil || n != 0 {
		t.Fatalf("prune before 14 days = %d %v", n, err)
	}
	e.Clock.Advance(2 * time.Minute)
	if n, err := webhooks.Prune(ctx, d); err != nil || n != 1 {
		t.Fatalf("prune after 14 days = %d %v", n, err)
	}
	e.owner = e.Login(t, e.email, servertest.Password)
	if ds := e.deliveries(t, ep.Id); len(ds) != 0 {
		t.Errorf("deliveries after the prune: %+v", ds)
	}
}

// A brand without an enabled endpoint queues no webhook work for its events.
// TestNoEndpointNoJob: an event costs a job only for an endpoint that takes it (the fan-out is
// in the event's own statement, queries/events.sql), and then exactly one delivery and its job.
func TestNoEndpointNoJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	e.product(t, "WH-NONE")
	if n := e.jobs(t); n != 0 {
		t.Errorf("%d jobs without an endpoint", n)
	}
	other := e.endpoint(t, "https://hooks.example.com/orders", string(api.EventTypeOrderCreated))
	e.product(t, "WH-OTHER")
	if n := e.jobs(t); n != 0 {
		t.Errorf("%d jobs with an endpoint for other events only", n)
	}
	if ds := e.deliveries(t, other.Id); len(ds) != 0 {
		t.Errorf("deliveries of events the endpoint does not take: %+v", ds)
	}
	ep := e.endpoint(t, "https://hooks.example.com/x")
	e.product(t, "WH-ONE")
	if n := e.jobs(t); n != 1 {
		t.Errorf("%d jobs with an endpoint, want 1", n)
	}
	ds := e.deliveries(t, ep.Id)
	if len(ds) != 1 || ds[0].EventType != string(api.EventTypeProductCreated) || ds[0].Status != api.WebhookDeliveryPending || ds[0].Id.Version() != 7 {
		t.Errorf("deliveries = %+v, want one pending product.created with a UUIDv7", ds)
	}
}

// TestPrunedEventStillDelivered: a delivery keeps no copy of its event (schema/000024) until the
// event is pruned; pruned while the delivery waits, the event leaves it the same body.
func TestPrunedEventStillDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	r := newReceiver(t, always(http.StatusOK))
	ep := e.endpoint(t, r.URL, string(api.EventTypeProductCreated))
	p := e.product(t, "WH-PRUNED")
	feed, err := e.Client.ListEventsWithResponse(ctx, e.brand, &api.ListEventsParams{AggregateId: &p.Id}, e.auth())
	if err != nil || feed.JSON200 == nil || len(feed.JSON200.Items) != 1 {
		t.Fatalf("the product's events = %v %d %s", err, feed.StatusCode(), feed.Body)
	}
	fed, err := feed.JSON200.Items[0].MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Hour)
	if n, err := server.PruneEvents(ctx, e.Pool, e.Clock.Now, time.Hour); err != nil || n < 1 {
		t.Fatalf("pruned %d events: %v", n, err)
	}
	e.owner = e.Login(t, e.email, servertest.Password)
	if again, err := e.Client.ListEventsWithResponse(ctx, e.brand, &api.ListEventsParams{AggregateId: &p.Id}, e.auth()); err != nil || again.JSON200 == nil || len(again.JSON200.Items) != 0 {
		t.Fatalf("the product's events after pruning = %v %s", err, again.Body)
	}
	runWorkers(t, e.Env)
	h := r.next(t)
	verify(t, *ep.Secret, h)
	var sent, want any
	if err := errors.Join(json.Unmarshal(h.body, &sent), json.Unmarshal(fed, &want)); err != nil || !reflect.DeepEqual(sent, want) {
		t.Errorf("delivered %s\nthe feed had %s (%v)", h.body, fed, err)
	}
	if d := e.settled(t, ep.Id); d.Status != api.WebhookDeliverySucceeded {
		t.Errorf("delivery = %+v", d)
	}
}

// TestEarlierReleasesFanOutJobs: a fan-out job an earlier release enqueued (one per event,
// queries/events.sql before schema/000024), still waiting after an upgrade, is worked: its event
// is delivered once, and a second run of it makes no second delivery.
func TestEarlierReleasesFanOutJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig(), false)
	p := e.product(t, "WH-LEGACY") // before the endpoint: no delivery of its own
	r := newReceiver(t, always(http.StatusOK))
	ep := e.endpoint(t, r.URL, string(api.EventTypeProductCreated))
	conn, err := pgx.Connect(ctx, e.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	feed, err := e.Client.ListEventsWithResponse(ctx, e.brand, &api.ListEventsParams{AggregateId: &p.Id}, e.auth())
	if err != nil || feed.JSON200 == nil || len(feed.JSON200.Items) != 1 {
		t.Fatalf("the product's events = %v %d %s", err, feed.StatusCode(), feed.Body)
	}
	var created struct {
		ID uuid.UUID `json:"id"`
	}
	raw, err := feed.JSON200.Items[0].MarshalJSON()
	if err == nil {
		err = json.Unmarshal(raw, &created)
	}
	if err != nil {
		t.Fatal(err)
	}
	event := created.ID
	// The test waits for the jobs' ends, not for time: a trigger of this test's own database
	// tells a listener when a fan-out job has finished.
	for _, stmt := range []string{
		`CREATE FUNCTION test_fanout_ended() RETURNS trigger LANGUAGE plpgsql
		 AS $$ BEGIN PERFORM pg_notify('test_fanout_ended', NEW.id::text); RETURN NEW; END $$`,
		`CREATE TRIGGER test_fanout_ended AFTER UPDATE OF state ON river_job FOR EACH ROW
		 WHEN (NEW.kind = 'webhook_fanout' AND NEW.state IN ('completed', 'discarded', 'cancelled'))
		 EXECUTE FUNCTION test_fanout_ended()`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	listener, err := pgx.Connect(ctx, e.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = listener.Close(ctx) }()
	if _, err := listener.Exec(ctx, "LISTEN test_fanout_ended"); err != nil {
		t.Fatal(err)
	}
	// The row the earlier EventInsert wrote, twice: a fan-out that ran again after a crash.
	for range 2 {
		if _, err := conn.Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, scheduled_at)
			VALUES (jsonb_build_object('brandId', $1::uuid, 'eventId', $2::uuid), 'webhook_fanout', 25, 'webhooks', 'available', 1, now())`, e.brand, event); err != nil {
			t.Fatal(err)
		}
	}
	runWorkers(t, e.Env)
	h := r.next(t)
	if h.header.Get("webhook-id") != event.String() {
		t.Errorf("delivered webhook-id %s, want the event %s", h.header.Get("webhook-id"), event)
	}
	verify(t, *ep.Secret, h)
	if d := e.settled(t, ep.Id); d.Status != api.WebhookDeliverySucceeded || len(d.Attempts) != 1 {
		t.Errorf("delivery = %+v", d)
	}
	// Both jobs have ended (their trigger told the listener); then one delivery exists.
	for i := range 2 {
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := listener.WaitForNotification(waitCtx)
		cancel()
		if err != nil {
			t.Fatalf("fan-out job %d of 2 did not end: %v", i+1, err)
		}
	}
	if ds := e.deliveries(t, ep.Id); len(ds) != 1 {
		t.Errorf("%d deliveries, want 1: %+v", len(ds), ds)
	}
}

// TestPickedUpAtOnce: the delivery job an event enqueues is picked up at once on river's insert
// notification (queries/events.sql), not at the next poll: with the poll an hour apart, the
// receiver still gets both events. The first delivery proves the worker's producer running, hence
// listening (river listens before it first fetches); the second could only come by notification.
func TestPickedUpAtOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.PollInterval = time.Hour
	e := newEnv(t, cfg, true)
	r := newReceiver(t, always(http.StatusOK))
	e.endpoint(t, r.URL+"/hook", string(api.EventTypeProductCreated))
	for _, sku := range []string{"WH-FAST-1", "WH-FAST-2"} {
		p := e.product(t, sku)
		var body struct {
			Data api.Product `json:"data"`
		}
		h := r.next(t)
		if err := json.Unmarshal(h.body, &body); err != nil || body.Data.Id != p.Id {
			t.Fatalf("delivered %s (%v), want %s's product.created", h.body, err, sku)
		}
	}
}
