package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// The webhook scenario (issue 19): order_create again, with every brand's order.created events
// subscribed by one endpoint, a loopback receiver in this process. Its ratio is against
// order_create in the same run; beside it the report gives the delivery lag.

const (
	orderCreateName  = "order_create: POST /brands/{brandId}/orders"
	orderWebhookName = "order_webhook: POST /brands/{brandId}/orders, one subscribed endpoint"
)

// maxDeliveryWait bounds the wait, after a run, for the deliveries of its orders: a run whose
// deliveries do not all come within it reports what came (the row says how many).
const maxDeliveryWait = 2 * time.Minute

// init puts the scenario right after order_create, so the two runs are as close in time as the
// harness allows (the ratio's noise on a shared machine).
func init() {
	at := len(scenarios)
	for i, sc := range scenarios {
		if sc.Name == orderCreateName {
			at = i + 1
		}
	}
	scenarios = slices.Insert(scenarios, at, Scenario{
		// order_create's clients and requests; the endpoints are made before each run and
		// deleted after it (admin/webhook_endpoints*.sql), once its deliveries have come.
		Name:     orderWebhookName,
		Expect:   http.StatusCreated,
		Stock:    true,
		Limits:   []Limit{sameRunLimit(orderCreateName)},
		Setup:    subscribeReceiver,
		After:    awaitDeliveries,
		Client:   newOrderCreateClient,
		PairWith: orderCreateName,
	})
}

// receiver is the endpoint of every brand: it answers 204 at once and notes, per event, when it
// arrived after the event occurred.
type receiver struct {
	srv *http.Server
	url string

	mu   sync.Mutex
	lags map[string]time.Duration // by webhook-id: a redelivery is not a second event
	more chan struct{}            // signalled (without blocking) on each new event
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/hook", lags: map[string]time.Duration{}, more: make(chan struct{}, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	arrived := time.Now()
	var e struct {
		OccurredAt time.Time `json:"occurredAt"`
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &e)
	}
	id := req.Header.Get("webhook-id")
	if err != nil || id == "" || e.OccurredAt.IsZero() {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	if _, seen := r.lags[id]; !seen {
		r.lags[id] = arrived.Sub(e.OccurredAt)
	}
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// reset forgets what came before a run.
func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.lags)
}

// await waits until n events have come (or ctx ends, or maxDeliveryWait passes), then says what
// came.
func (r *receiver) await(ctx context.Context, n int) []time.Duration {
	deadline := time.NewTimer(maxDeliveryWait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := len(r.lags)
		r.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-r.more:
			continue
		case <-deadline.C:
		case <-ctx.Done():
		}
		break
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]time.Duration, 0, len(r.lags))
	for _, d := range r.lags {
		out = append(out, d)
	}
	return out
}

func (r *receiver) close() { _ = r.srv.Close() }

// deliveries is what a run's receiver got: the lag of each event from its occurredAt to its
// arrival.
type deliveries struct {
	orders    int // the run's 201s
	delivered int
	lag       load.Summary
	waited    time.Duration // from the run's end until the last came
}

// subscribeReceiver starts the receiver (once a harness) and subscribes it to every brand's
// order.created.
func subscribeReceiver(ctx context.Context, h *harness) error {
	if h.receiver == nil {
		r, err := startReceiver()
		if err != nil {
			return err
		}
		h.receiver = r
	}
	h.receiver.reset()
	n, err := h.adminExec(ctx, "webhook_endpoints.sql", pgx.NamedArgs{"url": h.receiver.url})
	if err == nil && n != h.o.brands {
		err = fmt.Errorf("webhook_endpoints.sql made %d endpoints, want one for each of %d brands", n, h.o.brands)
	}
	return err
}

// awaitDeliveries waits for an order.created delivery per order the run placed, records their
// lag on the run's row, then deletes the endpoints.
func awaitDeliveries(ctx context.Context, h *harness, r *row) error {
	ended := time.Now()
	lags := h.receiver.await(ctx, r.res.OK)
	r.deliveries = &deliveries{orders: r.res.OK, delivered: len(lags), lag: load.Summarize(lags), waited: time.Since(ended)}
	_, err := h.adminExec(ctx, "webhook_endpoints_delete.sql", nil)
	return errors.Join(ctx.Err(), err)
}

// webhookSection is the delivery table of the runs that had a receiver.
func (r report) webhookSection(p func(string, ...any)) {
	var rows []row
	for _, run := range r.runs {
		if run.deliveries != nil {
			rows = append(rows, run)
		}
	}
	if len(rows) == 0 {
		return
	}
	p("\n## Webhook delivery\n\n")
	p("Each brand has one endpoint subscribed to order.created, a loopback receiver in the harness that answers 204 at once. "+
		"Lag: from the event's `occurredAt` (stamped inside the order's transaction, before its commit: the lag is at most "+
		"a transaction longer than commit → receiver) to the delivery's arrival at the receiver, per event (a redelivery "+
		"is not counted again). It counts the fan-out job, the delivery job, the signing and the HTTP request; the poll "+
		"interval does not (river's insert notification starts both jobs). After the run the harness waits for the rest "+
		"(up to %s): delivered should equal the 201s.\n\n", maxDeliveryWait)
	p("| scenario | conns | orders (201) | delivered | lag p50 | lag p90 | lag p99 | lag max | last came after the run |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, run := range rows {
		d := run.deliveries
		p("| %s | %d | %d | %d | %s | %s | %s | %s | %s |\n", run.name, run.conns, d.orders, d.delivered,
			fmtDuration(d.lag.P50), fmtDuration(d.lag.P90), fmtDuration(d.lag.P99), fmtDuration(d.lag.Max), fmtDuration(d.waited))
	}
}
