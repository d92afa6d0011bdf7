package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// webhookOrders is the webhooks proof's number of orders: the orders proof's burst size, which
// CLUSTER_QUICK runs in full too.
const webhookOrders = 1000

// receiver is a webhook endpoint on loopback: it answers 204 to every delivery and records it;
// full closes when want distinct webhook-ids have arrived.
type receiver struct {
	want int
	full chan struct{}

	mu         sync.Mutex
	seen       map[string]bool // webhook-id
	aggregates map[string]int  // order id → order.created deliveries naming it
	received   int
	duplicates int
	foreign    []string // deliveries that are not an order.created with webhook-id = the event's id
	last       time.Time
}

func newReceiver(want int) *receiver {
	return &receiver{want: want, full: make(chan struct{}), seen: map[string]bool{}, aggregates: map[string]int{}}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	var ev struct {
		ID        string `json:"id"`
		Type      string `json:"type"`
		Aggregate struct {
			ID string `json:"id"`
		} `json:"aggregate"`
	}
	if err == nil {
		err = json.Unmarshal(body, &ev)
	}
	id := req.Header.Get("webhook-id")
	w.WriteHeader(http.StatusNoContent)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.received++
	r.last = time.Now()
	switch {
	case err != nil || ev.Type != "order.created" || ev.ID != id:
		r.foreign = append(r.foreign, fmt.Sprintf("webhook-id %q type %q event %q (%v)", id, ev.Type, ev.ID, err))
	case r.seen[id]:
		r.duplicates++
	default:
		r.seen[id] = true
		r.aggregates[ev.Aggregate.ID]++
		if len(r.seen) == r.want {
			close(r.full)
		}
	}
}

// proveWebhooks: an endpoint of a fresh brand subscribed to order.created, a receiver in this
// process, and webhookOrders concurrent single-unit orders through HAProxy (stock enough for all):
// the river workers of the three instances deliver each order's event exactly once, none lost,
// none doubled, nothing else; every delivery succeeded at its one attempt (so none can still
// come); the stock invariants hold.
func (c *cluster) proveWebhooks(ctx context.Context) error {
	n := webhookOrders
	rec := newReceiver(n)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()

	var owner authResponse
	if err := c.must(ctx, call{method: http.MethodPost, url: c.proxy + "/auth/register", ip: c.clientIP(),
		body: map[string]any{"email": "webhooks@cluster.example", "password": password, "name": "Webhook Owner"}}, http.StatusCreated, &owner); err != nil {
		return err
	}
	brand := c.proxy + "/brands/" + owner.User.BrandID
	product, location, err := c.stocked(ctx, owner, "CLU-WH", "CLU-WH", n)
	if err != nil {
		return err
	}
	var endpoint struct {
		ID string `json:"id"`
	}
	if err := c.must(ctx, call{method: http.MethodPost, url: brand + "/webhook-endpoints", token: owner.AccessToken,
		body: map[string]any{"url": "http://" + ln.Addr().String() + "/hook", "eventTypes": []string{"order.created"}}}, http.StatusCreated, &endpoint); err != nil {
		return err
	}

	before := c.counterValues(ctx, "ecompointer_webhook_attempts_total", "outcome", "succeeded")
	b := c.burst(ctx, n, func(i int) call { return orderCall(brand, owner.AccessToken, product, "cluster-webhook-order", i) })
	lastOrder := time.Now()
	fmt.Printf("     %d orders in %s: %s\n", n, b.took.Round(time.Millisecond), b)
	if err := b.check(int64(n), int64(n)); err != nil {
		return err
	}

	const bound = 5 * time.Minute
	select {
	case <-rec.full:
	case <-time.After(bound):
	case <-ctx.Done():
		return ctx.Err()
	}
	// A delivery is marked succeeded after its answer arrived: wait for the marks, bounded.
	var deliveries, once int
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1
				AND (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) = 1)
			FROM webhook_deliveries d WHERE endpoint_id = $1`, endpoint.ID).Scan(&deliveries, &once); err != nil {
			return err
		}
		if once == deliveries || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	rows, err := c.db.Query(ctx, `SELECT id::text FROM orders WHERE brand_id = $1`, owner.User.BrandID)
	if err != nil {
		return err
	}
	var orders []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		orders = append(orders, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}

	rec.mu.Lock()
	received, distinct, duplicates, foreign, last := rec.received, len(rec.seen), rec.duplicates, rec.foreign, rec.last
	var missing, doubled int
	for _, id := range orders {
		switch rec.aggregates[id] {
		case 0:
			missing++
		case 1:
		default:
			doubled++
		}
	}
	strangers := 0 // aggregates delivered that are not these orders
	known := make(map[string]bool, len(orders))
	for _, id := range orders {
		known[id] = true
	}
	for id := range rec.aggregates {
		if !known[id] {
			strangers++
		}
	}
	rec.mu.Unlock()

	shares, _ := c.settledShares(ctx, before, float64(n), "ecompointer_webhook_attempts_total", "outcome", "succeeded")
	fmt.Printf("     %d order.created deliveries (%d distinct, %d duplicates), last %s after the last order; delivered by %s\n",
		received, distinct, duplicates, last.Sub(lastOrder).Round(time.Millisecond), shares)
	switch {
	case len(orders) != n:
		return fmt.Errorf("%d orders in the brand, want %d", len(orders), n)
	case len(foreign) > 0:
		return fmt.Errorf("%d deliveries not an order.created of these orders: %v", len(foreign), foreign[:min(len(foreign), 5)])
	case distinct != n || missing != 0:
		return fmt.Errorf("%d distinct events arrived within %s, %d orders without one; want %d", distinct, bound, missing, n)
	case duplicates != 0 || doubled != 0 || strangers != 0:
		return fmt.Errorf("%d webhook-ids arrived twice, %d orders with two events, %d events of other aggregates", duplicates, doubled, strangers)
	case deliveries != n || once != n:
		return fmt.Errorf("%d deliveries recorded, %d succeeded at their one attempt; want %d", deliveries, once, n)
	}
	return c.checkLevel(ctx, owner.User.BrandID, product, location, int64(n), int64(n))
}
