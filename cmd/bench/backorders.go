package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// backorderScenario (issue 22): a receipt that fills 100 waiting backorders. Each client owns one
// product of brand 2 that Setup makes for the scenario (no other scenario knows it, so none
// stocks it), allowing backorders; it places 100 one-unit orders of it, none in stock, so that each waits in
// full, then receives 100 units where they wait: that receipt fills the 100 orders, oldest first,
// in its own transaction (100 `reservation` movements and allocations). The row's figures mix the
// 100 orders and the receipt; the receipts' own latencies are logged after each run.
var backorderScenario = Scenario{
	Name:   "backorder_fill: POST /brands/{brandId}/inventory/adjustments filling 100 waiting backorders",
	Expect: http.StatusCreated,
	Stock:  true,
	Conns:  []int{1, 4},
	Setup:  seedBackorderProducts,
	After:  reportBackorderReceipts,
	Client: newBackorderClient,
}

// backorderWaiting is how many orders wait before each receipt.
const backorderWaiting = 100

// backorderClients bounds the clients (and so the products) the scenario uses.
const backorderClients = 16

// benchKindBackorderProduct numbers the scenario's own products: a kind no seed file uses, and
// below the catalog's (3), so that the reset before every run (admin/products_reset.sql, which
// deletes every product sorting after the catalog) keeps them.
const benchKindBackorderProduct = 0

// backorderProduct is client i's product.
func backorderProduct(_ *Fixture, i int) string {
	return benchUUID(benchKindBackorderProduct, int64(i%backorderClients))
}

func seedBackorderProducts(ctx context.Context, h *harness) error {
	ids := make([]string, backorderClients)
	for i := range ids {
		ids[i] = backorderProduct(h.fixture, i)
	}
	n, err := h.adminExec(ctx, "backorder_products.sql", pgx.NamedArgs{"brand": benchUUID(benchKindBrand, int64(orderHotBrand(h.fixture))), "products": ids})
	if err == nil && n != len(ids) {
		err = fmt.Errorf("backorder_products.sql changed %d products, want %d", n, len(ids))
	}
	backorderReceipts.reset()
	return err
}

// backorderReceipts are the receipts' latencies of the current run.
var backorderReceipts latencies

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) reset() { l.mu.Lock(); l.d = nil; l.mu.Unlock() }
func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func reportBackorderReceipts(_ context.Context, h *harness, r *row) error {
	backorderReceipts.mu.Lock()
	d := slices.Clone(backorderReceipts.d)
	backorderReceipts.mu.Unlock()
	backorderReceipts.reset()
	if len(d) == 0 {
		h.logf("backorder_fill at %d connections: no receipt completed (each needs %d orders first)", r.conns, backorderWaiting)
		return nil
	}
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	h.logf("backorder_fill at %d connections: %d receipts each filling %d backorders: p50 %s p99 %s max %s",
		r.conns, len(d), backorderWaiting, at(0.50).Round(time.Microsecond), at(0.99).Round(time.Microsecond), d[len(d)-1].Round(time.Microsecond))
	return nil
}

// backorderClient places backorderWaiting one-unit orders of its product, then receives as many
// where they wait, and starts again.
type backorderClient struct {
	f        *Fixture
	rng      *rand.Rand
	own      []*Session
	product  string
	location string // where its orders wait (from the first order's answer)
	placed   int
	sent     time.Time
}

func newBackorderClient(f *Fixture, i, _ int) load.Client {
	return &backorderClient{f: f, rng: rand.New(rand.NewPCG(seed, uint64(i))), own: f.sessionsOf(orderHotBrand(f)), product: backorderProduct(f, i)}
}

func (c *backorderClient) Next() load.Request {
	s := c.own[c.rng.IntN(len(c.own))]
	if c.placed < backorderWaiting || c.location == "" {
		return orderRequest(s, []string{c.product})
	}
	body, _ := json.Marshal(map[string]any{ // these types always marshal
		"kind": "receipt", "reference": "BENCH-BACKORDERS",
		"lines": []map[string]any{{"productId": c.product, "locationId": c.location, "delta": backorderWaiting}},
	})
	c.sent = time.Now()
	return load.Request{Method: http.MethodPost, Path: "/brands/" + s.BrandID + "/inventory/adjustments", Bearer: s.Access,
		Body: body, Expect: http.StatusCreated}
}

func (c *backorderClient) Done(status int, body []byte, err error) error {
	if !c.sent.IsZero() { // the receipt
		if err == nil && status == http.StatusCreated {
			backorderReceipts.add(time.Since(c.sent))
			c.placed = 0
		}
		c.sent = time.Time{}
		return nil
	}
	if err != nil || status != http.StatusCreated {
		return nil
	}
	var o struct {
		Backordered bool `json:"backordered"`
		Lines       []struct {
			BackorderLocationID string `json:"backorderLocationId"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(body, &o); err != nil || len(o.Lines) != 1 {
		return errors.New("order answer without its line")
	}
	if !o.Backordered || o.Lines[0].BackorderLocationID == "" {
		return errors.New("order not backordered: the product has stock")
	}
	c.location = o.Lines[0].BackorderLocationID
	c.placed++
	return nil
}
