package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// The order scenarios (issue 11's load harness). Every order gets a new Idempotency-Key: placing
// an order requires one, and a key is what a well-behaved client sends once per order.

// orderKeys numbers the keys across every client and run: bench-<run>-<n> never repeats, so no
// request is ever a replay.
var orderKeys atomic.Int64

func newOrderKey() string { return "bench-" + strconv.FormatInt(orderKeys.Add(1), 10) }

// orderHotBrand is the brand whose hot product (Stock[b-1][0], at its first location only) the
// order_hot scenario sells: brand 2, so that reserve_hot's row (brand 1's) keeps its own stock
// and its figures.
func orderHotBrand(f *Fixture) int { return min(2, f.Brands) }

// orderBody is a new order of 1 unit of each product, with no location (the allocation rule picks).
func orderBody(products []string) []byte {
	type line struct {
		ProductID string `json:"productId"`
		Quantity  int    `json:"quantity"`
	}
	lines := make([]line, len(products))
	for i, p := range products {
		lines[i] = line{ProductID: p, Quantity: 1}
	}
	body, _ := json.Marshal(map[string]any{ // these types always marshal
		"lines":    lines,
		"customer": map[string]string{"email": "bench-buyer@example.com", "name": "Bench Buyer"},
		"shippingAddress": map[string]string{
			"line1": "12 Babbage Street", "city": "London", "postalCode": "N1 9GU", "country": "GB",
		},
	})
	return body
}

// withAmounts adds to an order body (from orderBody) what a shop's checkout sends besides the
// lines: shipping, a discount on the order and on its first line, tax on each line and on
// shipping (the bench's products cost at least 500: 10 off the first line always fits).
func withAmounts(body []byte) []byte {
	var order map[string]any
	_ = json.Unmarshal(body, &order) // orderBody's own output
	lines, _ := order["lines"].([]any)
	for i, l := range lines {
		line, _ := l.(map[string]any)
		line["taxLines"] = []map[string]any{{"name": "VAT", "rate": "20", "amount": 20 + i}}
		if i == 0 {
			line["discounts"] = []map[string]any{{"code": "LINE10", "amount": 10}}
		}
	}
	order["shippingAmount"] = 499
	order["shippingMethod"] = "Royal Mail Tracked 48"
	order["discounts"] = []map[string]any{{"code": "WELCOME5", "amount": 5}}
	order["taxLines"] = []map[string]any{{"name": "VAT on shipping", "rate": "20", "amount": 100}}
	out, _ := json.Marshal(order) // these types always marshal
	return out
}

// newOrderCreateAmountsClient is newOrderCreateClient with amounts in every order.
func newOrderCreateAmountsClient(f *Fixture, i, n int) load.Client {
	inner := newOrderCreateClient(f, i, n)
	return load.Func(func() load.Request {
		r := inner.Next()
		r.Body = withAmounts(r.Body)
		return r
	})
}

// orderRequest places an order for session s.
func orderRequest(s *Session, products []string) load.Request {
	return load.Request{Method: http.MethodPost, Path: "/brands/" + s.BrandID + "/orders", Bearer: s.Access,
		Body: orderBody(products), IdempotencyKey: newOrderKey(), Expect: http.StatusCreated}
}

// newOrderCreateClient places 3-line orders over the brand's 1,000 stock products, drawn as
// reserve_spread draws them (spreadLines), by random sessions.
func newOrderCreateClient(f *Fixture, i, _ int) load.Client {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	return load.Func(func() load.Request {
		s := f.Sessions[rng.IntN(len(f.Sessions))]
		return orderRequest(s, spreadLines(f, s.brand, rng))
	})
}

// orderHotClient sells one product: client i with i%4 == 0 receives 1 to 10 units of it at its
// location (the replenishment that keeps it from running dry for long), every other client orders
// 1 unit of it. When orders outrun the receipts, an order finds none left: a 422
// insufficient_stock, an expected refusal.
type orderHotClient struct {
	f        *Fixture
	rng      *rand.Rand
	own      []*Session
	receives bool
}

func newOrderHotClient(f *Fixture, i, _ int) load.Client {
	return &orderHotClient{f: f, rng: rand.New(rand.NewPCG(seed, uint64(i))), own: f.sessionsOf(orderHotBrand(f)), receives: i%4 == 0}
}

func (c *orderHotClient) Next() load.Request {
	b := orderHotBrand(c.f)
	s := c.own[c.rng.IntN(len(c.own))]
	hot := c.f.Stock[b-1][0]
	if c.receives {
		body, _ := json.Marshal(map[string]any{ // these types always marshal
			"kind": "receipt", "reference": "BENCH-PO",
			"lines": []map[string]any{{"productId": hot, "locationId": c.f.locationID(b, 1), "delta": 1 + c.rng.IntN(10)}},
		})
		return load.Request{Method: http.MethodPost, Path: "/brands/" + s.BrandID + "/inventory/adjustments", Bearer: s.Access,
			Body: body, Expect: http.StatusCreated}
	}
	r := orderRequest(s, []string{hot})
	r.Refusal = http.StatusUnprocessableEntity
	return r
}

func (c *orderHotClient) Done(status int, body []byte, _ error) error {
	if status == http.StatusUnprocessableEntity && !bytes.Contains(body, []byte(`"insufficient_stock"`)) {
		return errors.New("422 other than insufficient_stock")
	}
	return nil
}

// orderLifecycleClient takes an order through its life: it places a 3-line order (as
// order_create), confirms it, then ships every line in one fulfilment, and starts again. A step
// that fails starts a new order (the harness's stock check covers what it left).
type orderLifecycleClient struct {
	f     *Fixture
	rng   *rand.Rand
	cur   *Session
	order string   // the order in progress; empty: place one next
	lines []string // its line ids
	next  string   // "create", "confirm" or "fulfil": the request in flight
}

func newOrderLifecycleClient(f *Fixture, i, _ int) load.Client {
	return &orderLifecycleClient{f: f, rng: rand.New(rand.NewPCG(seed, uint64(i))), next: "create"}
}

func (c *orderLifecycleClient) Next() load.Request {
	switch c.next {
	case "confirm":
		return load.Request{Method: http.MethodPost, Path: "/brands/" + c.cur.BrandID + "/orders/" + c.order + "/confirm",
			Bearer: c.cur.Access, Body: []byte(`{}`), Expect: http.StatusOK}
	case "fulfil":
		type line struct {
			LineID   string `json:"lineId"`
			Quantity int    `json:"quantity"`
		}
		lines := make([]line, len(c.lines))
		for i, id := range c.lines {
			lines[i] = line{LineID: id, Quantity: 1}
		}
		body, _ := json.Marshal(map[string]any{"lines": lines}) // these types always marshal
		return load.Request{Method: http.MethodPost, Path: "/brands/" + c.cur.BrandID + "/orders/" + c.order + "/fulfilments",
			Bearer: c.cur.Access, Body: body, Expect: http.StatusCreated}
	}
	c.cur = c.f.Sessions[c.rng.IntN(len(c.f.Sessions))]
	return orderRequest(c.cur, spreadLines(c.f, c.cur.brand, c.rng))
}

func (c *orderLifecycleClient) Done(status int, body []byte, err error) error {
	step := c.next
	c.next = "create"
	if err != nil {
		return nil
	}
	switch step {
	case "create":
		if status != http.StatusCreated {
			return nil
		}
		var o struct {
			ID    string `json:"id"`
			Lines []struct {
				ID string `json:"id"`
			} `json:"lines"`
		}
		if err := json.Unmarshal(body, &o); err != nil || o.ID == "" || len(o.Lines) == 0 {
			return errors.New("order answer without an id or lines")
		}
		c.order, c.lines = o.ID, c.lines[:0]
		for _, l := range o.Lines {
			c.lines = append(c.lines, l.ID)
		}
		c.next = "confirm"
	case "confirm":
		if status == http.StatusOK {
			c.next = "fulfil"
		}
	}
	return nil
}
