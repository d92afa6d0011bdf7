package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

// unbounded lifts the brand's share of the pool: the races send 21 requests of one brand at once,
// and a 503 brand_busy would hide what they test.
func unbounded(c *server.Config) { c.BrandPoolShare = -1 }

// raceBrand is a brand with an owner, for the race tests.
type raceBrand struct {
	env   *servertest.Env
	brand uuid.UUID
	auth  api.RequestEditorFn
}

func newRaceBrand(t *testing.T, env *servertest.Env) raceBrand {
	t.Helper()
	owner := env.Register(t, servertest.Email("races"))
	return raceBrand{env: env, brand: *owner.User.BrandId, auth: servertest.Bearer(owner.AccessToken)}
}

func (b raceBrand) product(t *testing.T, sku string) uuid.UUID {
	t.Helper()
	active := api.Active
	resp, err := b.env.Client.CreateProductWithResponse(ctx, b.brand, api.CreateProductRequest{Sku: sku, Name: sku, PriceAmount: 100, Status: &active}, b.auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create product %s: %v %s", sku, err, body(resp, err))
	}
	return resp.JSON201.Id
}

func (b raceBrand) location(t *testing.T, code string) uuid.UUID {
	t.Helper()
	resp, err := b.env.Client.CreateLocationWithResponse(ctx, b.brand, api.CreateLocationRequest{Code: code, Name: code}, b.auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create location %s: %v %s", code, err, body(resp, err))
	}
	return resp.JSON201.Id
}

func (b raceBrand) receive(t *testing.T, product, location uuid.UUID, n int64) {
	t.Helper()
	resp, err := b.env.Client.CreateStockAdjustmentWithResponse(ctx, b.brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
		Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: product, LocationId: location, Delta: n}},
	}, b.auth)
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("receive: %v %s", err, body(resp, err))
	}
}

// onHand is a level's stock on hand (0 when there is no level).
func (b raceBrand) onHand(t *testing.T, product, location uuid.UUID) int64 {
	t.Helper()
	resp, err := b.env.Client.ListStockLevelsWithResponse(ctx, b.brand, &api.ListStockLevelsParams{ProductId: &product, LocationId: &location}, b.auth)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("list levels: %v %s", err, body(resp, err))
	}
	var n int64
	for _, l := range resp.JSON200.Items {
		n += l.OnHand
	}
	return n
}

func body(resp interface{ StatusCode() int }, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(resp.StatusCode())
}

// outcome is one racing request's status and problem code (empty for a success).
type outcome struct {
	what   string
	status int
	code   string
	body   string
}

func outcomeOf(what string, status int, raw []byte) outcome {
	o := outcome{what: what, status: status, body: string(raw)}
	if status >= 400 {
		var p struct{ Code string }
		_ = json.Unmarshal(raw, &p)
		o.code = p.Code
	}
	return o
}

// race runs every write and the delete together, released at once, and returns their outcomes.
func race(writes []func() outcome, del func() outcome) (outcome, []outcome) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	out := make([]outcome, len(writes))
	var d outcome
	for i, w := range writes {
		wg.Go(func() {
			<-start
			out[i] = w()
		})
	}
	wg.Go(func() {
		<-start
		d = del()
	})
	close(start)
	wg.Wait()
	return d, out
}

// TestWritesRacingProductDelete: a product deleted while the first writes that would stock it
// are in flight (receipts, counts; 20 of them against one delete, several rounds), on two
// instances of the server sharing one database (the writes alternate, the delete goes to the
// second). Before the fix
// most of them answered 500 (the stock_levels foreign key, 23503). Now each write either happened
// before the delete (then the delete is 409 product_in_use) or after it (then the write is 404),
// never a 5xx, and what the answers say is what the database holds.
func TestWritesRacingProductDelete(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, unbounded)
	other := servertest.NewOn(t, env.OwnerURL, unbounded)
	clients := []*api.ClientWithResponses{env.Client, other.Client}
	b := newRaceBrand(t, env)
	loc := b.location(t, "RACE-1")

	receipt := func(p uuid.UUID, c *api.ClientWithResponses) func() outcome {
		return func() outcome {
			resp, err := c.CreateStockAdjustmentWithResponse(ctx, b.brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
				Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: p, LocationId: loc, Delta: 1}},
			}, b.auth)
			if err != nil {
				return outcome{what: "receipt", body: err.Error()}
			}
			return outcomeOf("receipt", resp.StatusCode(), resp.Body)
		}
	}
	count := func(p uuid.UUID, c *api.ClientWithResponses) func() outcome {
		return func() outcome {
			resp, err := c.CreateStockCountWithResponse(ctx, b.brand, &api.CreateStockCountParams{}, api.StockCountRequest{
				Lines: []api.StockCountLine{{ProductId: p, LocationId: loc, OnHand: 1}},
			}, b.auth)
			if err != nil {
				return outcome{what: "count", body: err.Error()}
			}
			return outcomeOf("count", resp.StatusCode(), resp.Body)
		}
	}
	for _, tc := range []struct {
		name  string
		write func(uuid.UUID, *api.ClientWithResponses) func() outcome
		// applied is the stock on hand one successful write leaves, and each further one adds.
		first, each int64
	}{
		{"receipt", receipt, 1, 1},
		{"count", count, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 4 {
				p := b.product(t, fmt.Sprintf("R-%s-%d", tc.name, round))
				writes := make([]func() outcome, 20)
				for i := range writes {
					writes[i] = tc.write(p, clients[i%2])
				}
				d, outs := race(writes, func() outcome {
					resp, err := other.Client.DeleteProductWithResponse(ctx, b.brand, p, &api.DeleteProductParams{}, b.auth)
					if err != nil {
						return outcome{what: "delete", body: err.Error()}
					}
					return outcomeOf("delete", resp.StatusCode(), resp.Body)
				})
				applied := 0
				for _, o := range outs {
					switch o.status {
					case http.StatusCreated:
						applied++
					case http.StatusNotFound:
					default:
						t.Errorf("round %d: %s answered %d %s, want 201 or 404", round, o.what, o.status, o.body)
					}
				}
				switch d.status {
				case http.StatusNoContent:
					if applied != 0 {
						t.Errorf("round %d: the product was deleted, yet %d writes answered 201", round, applied)
					}
				case http.StatusConflict:
					if d.code != string(api.ProblemCodeProductInUse) || applied == 0 {
						t.Errorf("round %d: delete answered 409 %s with %d writes applied, want product_in_use after at least one", round, d.code, applied)
					}
					want := int64(0)
					if applied > 0 {
						want = tc.first + int64(applied-1)*tc.each
					}
					if got := b.onHand(t, p, loc); got != want {
						t.Errorf("round %d: onHand %d after %d applied writes, want %d", round, got, applied, want)
					}
				default:
					t.Errorf("round %d: delete answered %d %s, want 204 or 409", round, d.status, d.body)
				}
			}
		})
	}
	env.AssertStock(t, b.brand)
}

// TestWritesRacingLocationDeactivation: receipts, transfers, reservations and orders at a
// location that is deactivated meanwhile. Each write happens before the deactivation (which then
// answers 409 location_in_use, as the location holds stock) or is refused after it (409
// location_inactive, or 422 when no active location has the stock); never a 5xx.
func TestWritesRacingLocationDeactivation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, unbounded)
	b := newRaceBrand(t, env)
	for round := range 3 {
		p := b.product(t, fmt.Sprintf("D-%d", round))
		from := b.location(t, fmt.Sprintf("FROM-%d", round))
		to := b.location(t, fmt.Sprintf("TO-%d", round))
		b.receive(t, p, from, 1000)
		var writes []func() outcome
		for i := range 5 {
			writes = append(writes,
				func() outcome {
					resp, err := env.Client.CreateStockAdjustmentWithResponse(ctx, b.brand, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
						Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: p, LocationId: to, Delta: 1}},
					}, b.auth)
					if err != nil {
						return outcome{what: "receipt", body: err.Error()}
					}
					return outcomeOf("receipt", resp.StatusCode(), resp.Body)
				},
				func() outcome {
					resp, err := env.Client.CreateStockTransferWithResponse(ctx, b.brand, &api.CreateStockTransferParams{}, api.StockTransferRequest{
						ProductId: p, FromLocationId: from, ToLocationId: to, Quantity: 1,
					}, b.auth)
					if err != nil {
						return outcome{what: "transfer", body: err.Error()}
					}
					return outcomeOf("transfer", resp.StatusCode(), resp.Body)
				},
				func() outcome {
					resp, err := env.Client.CreateReservationWithResponse(ctx, b.brand, &api.CreateReservationParams{}, api.CreateReservationRequest{
						Lines: []api.ReservationRequestLine{{ProductId: p, LocationId: &to, Quantity: 1}},
					}, b.auth)
					if err != nil {
						return outcome{what: "reservation", body: err.Error()}
					}
					return outcomeOf("reservation", resp.StatusCode(), resp.Body)
				},
				func() outcome {
					key := fmt.Sprintf("race-%d-%d", round, i)
					resp, err := env.Client.CreateOrderWithResponse(ctx, b.brand, &api.CreateOrderParams{IdempotencyKey: key}, api.CreateOrderRequest{
						Customer:        &api.Customer{Name: "Race", Email: "race@example.com"},
						ShippingAddress: api.Address{Line1: "1 Race Road", City: "Raceton", Country: "FR"},
						Lines:           []api.OrderRequestLine{{ProductId: p, Quantity: 1}},
					}, b.auth)
					if err != nil {
						return outcome{what: "order", body: err.Error()}
					}
					return outcomeOf("order", resp.StatusCode(), resp.Body)
				})
		}
		inactive := false
		d, outs := race(writes, func() outcome {
			resp, err := env.Client.UpdateLocationWithResponse(ctx, b.brand, to, &api.UpdateLocationParams{}, api.UpdateLocationRequest{Active: &inactive}, b.auth)
			if err != nil {
				return outcome{what: "deactivate", body: err.Error()}
			}
			return outcomeOf("deactivate", resp.StatusCode(), resp.Body)
		})
		for _, o := range outs {
			switch {
			case o.status == http.StatusCreated:
			case o.status == http.StatusConflict && o.code == string(api.ProblemCodeLocationInactive):
			case o.status == http.StatusUnprocessableEntity && o.what == "reservation":
			default:
				t.Errorf("round %d: %s answered %d %s", round, o.what, o.status, o.body)
			}
		}
		if d.status != http.StatusOK && (d.status != http.StatusConflict || d.code != string(api.ProblemCodeLocationInUse)) {
			t.Errorf("round %d: deactivation answered %d %s, want 200 or 409 location_in_use", round, d.status, d.body)
		}
	}
	env.AssertStock(t, b.brand)
}
