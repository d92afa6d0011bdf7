package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/inventory"
)

var orderSetup struct {
	brand, product, location string
}

// proveOrders: 1,000 concurrent single-unit orders (each with its own Idempotency-Key) of a
// product with 300 in stock, through HAProxy (round robin over the three instances), sell exactly
// the stock: 300 × 201 and 700 × 422 insufficient_stock; the orders are numbered 1001-1300 with no
// gap; the level shows 300 on hand and 300 reserved, and the ledger adds up to it.
func (c *cluster) proveOrders(ctx context.Context) error {
	owner, err := c.owner(ctx)
	if err != nil {
		return err
	}
	brand := "/brands/" + owner.User.BrandID
	product, location, err := c.stocked(ctx, owner, "CLU-ORD", "CLU-ORD", stock)
	if err != nil {
		return err
	}
	orderSetup.brand, orderSetup.product, orderSetup.location = owner.User.BrandID, product, location

	before := c.counterValues(ctx, "ecompointer_order_transitions_total", "to", "pending")
	b := c.burst(ctx, 1000, func(i int) call { return orderCall(c.proxy+brand, owner.AccessToken, product, "cluster-order", i) })
	shares, _ := c.settledShares(ctx, before, stock, "ecompointer_order_transitions_total", "to", "pending")
	fmt.Printf("     1000 orders in %s: %s; placed by %s\n", b.took.Round(time.Millisecond), b, shares)
	if err := b.check(1000, stock); err != nil {
		return err
	}
	var count, distinct, lowest, highest int64
	if err := c.db.QueryRow(ctx, `SELECT count(*), count(DISTINCT number), coalesce(min(number), 0), coalesce(max(number), 0)
		FROM orders WHERE brand_id = $1`, owner.User.BrandID).Scan(&count, &distinct, &lowest, &highest); err != nil {
		return err
	}
	if count != stock || distinct != stock || lowest != 1001 || highest != 1000+stock {
		return fmt.Errorf("%d orders, %d numbers from %d to %d; want %d numbered 1001-%d", count, distinct, lowest, highest, stock, 1000+stock)
	}
	var pending, allocated, holds int64
	if err := c.db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM orders WHERE brand_id = $1 AND status = 'pending'),
		(SELECT coalesce(sum(quantity), 0) FROM order_allocations WHERE brand_id = $1 AND product_id = $2 AND location_id = $3),
		(SELECT count(DISTINCT order_id) FROM stock_movements WHERE brand_id = $1 AND product_id = $2 AND location_id = $3
			AND kind = 'reservation' AND reserved_delta = 1 AND order_id IS NOT NULL)`,
		owner.User.BrandID, product, location).Scan(&pending, &allocated, &holds); err != nil {
		return err
	}
	if pending != stock || allocated != stock || holds != stock {
		return fmt.Errorf("%d pending, %d allocated, %d orders with a hold movement; want %d each", pending, allocated, holds, stock)
	}
	return c.checkLevel(ctx, owner.User.BrandID, product, location, stock, stock)
}

// orderCall is the i-th single-unit order of product through base (a brand's URL), with its own
// Idempotency-Key (prefix-i).
func orderCall(base, token, product, prefix string, i int) call {
	return call{method: http.MethodPost, url: base + "/orders", token: token,
		key: fmt.Sprintf("%s-%04d", prefix, i),
		body: map[string]any{
			"lines":           []any{map[string]any{"productId": product, "quantity": 1}},
			"customer":        map[string]any{"email": fmt.Sprintf("buyer%d@cluster.example", i), "name": "Buyer"},
			"shippingAddress": map[string]any{"line1": "1 Cluster Road", "city": "Loopback", "country": "GB"},
		}}
}

// checkLevel wants the level at onHand and reserved, its movements adding up to it, and both of
// the stock engine's invariants holding at every level of brand.
func (c *cluster) checkLevel(ctx context.Context, brand, product, location string, onHand, reserved int64) error {
	var gotOnHand, gotReserved, sumOnHand, sumReserved int64
	if err := c.db.QueryRow(ctx, `SELECT l.on_hand, l.reserved, coalesce(sum(m.on_hand_delta), 0), coalesce(sum(m.reserved_delta), 0)
		FROM stock_levels l LEFT JOIN stock_movements m
			ON m.brand_id = l.brand_id AND m.product_id = l.product_id AND m.location_id = l.location_id
		WHERE l.product_id = $1 AND l.location_id = $2
		GROUP BY l.on_hand, l.reserved`, product, location).Scan(&gotOnHand, &gotReserved, &sumOnHand, &sumReserved); err != nil {
		return err
	}
	switch {
	case gotOnHand != onHand || gotReserved != reserved:
		return fmt.Errorf("level on hand %d reserved %d, want %d and %d", gotOnHand, gotReserved, onHand, reserved)
	case sumOnHand != gotOnHand || sumReserved != gotReserved:
		return fmt.Errorf("the ledger adds up to on hand %d reserved %d, the level says %d and %d", sumOnHand, sumReserved, gotOnHand, gotReserved)
	}
	return c.checkInvariants(ctx, brand)
}

// checkInvariants runs the stock engine's two invariant queries over brand's levels (the ledger
// sums to each level; each level's reserved is the sum of its live holds): none may name a level.
// They run inside the brand's scope, as the application does: row-level security then shows them
// that brand's rows whoever the proof connects as (an empty answer must not come from seeing none).
func (c *cluster) checkInvariants(ctx context.Context, brand string) error {
	id, err := uuid.Parse(brand)
	if err != nil {
		return err
	}
	var bad []inventory.Mismatch
	err = pgx.BeginFunc(ctx, c.db, func(tx pgx.Tx) error {
		if err := db.New(tx).BrandScopeSet(ctx, brand); err != nil {
			return err
		}
		bad, err = inventory.Mismatches(ctx, tx, id)
		return err
	})
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("stock invariants broken: %v", bad)
	}
	fmt.Printf("     stock invariants hold (ledger, holds) at every level of brand %s\n", brand)
	return nil
}

// proveOrderSweepers: the 300 pending orders are made due (their created_at moved back past
// ORDER_PENDING_TTL=30m in the database), and the three instances' pending-order sweepers (every
// second) cancel them: each order ends cancelled with reason expired, with exactly one cancel
// event (from pending, no actor) and exactly one release movement per allocation giving back its
// quantity; the level is back to 0 reserved, the ledger adds up, and the instances'
// ecompointer_order_transitions_total{to="cancelled"} add up to 300.
func (c *cluster) proveOrderSweepers(ctx context.Context) error {
	if orderSetup.product == "" {
		return fmt.Errorf("no orders to sweep (the orders proof failed)")
	}
	brand := orderSetup.brand
	before := c.counterValues(ctx, "ecompointer_order_transitions_total", "to", "cancelled")
	tag, err := c.db.Exec(ctx, `UPDATE orders SET created_at = created_at - interval '31 minutes' WHERE brand_id = $1 AND status = 'pending'`, brand)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != stock {
		return fmt.Errorf("%d pending orders, want %d", tag.RowsAffected(), stock)
	}
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		var pending int
		if err := c.db.QueryRow(ctx, `SELECT count(*) FROM orders WHERE brand_id = $1 AND status = 'pending'`, brand).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d orders still pending after 30 s", pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	var expired, badEvents, badReleases int64
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM orders WHERE brand_id = $1 AND status = 'cancelled' AND cancel_reason = 'expired'`, brand).Scan(&expired); err != nil {
		return err
	}
	// Exactly one cancel event per order, and it is the sweeper's: from pending, reason expired, no actor.
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT o.id,
			count(e.id) FILTER (WHERE e.action = 'cancel') AS cancels,
			count(e.id) FILTER (WHERE e.action = 'cancel' AND e.from_status = 'pending' AND e.status = 'cancelled'
				AND e.reason = 'expired' AND e.actor_id IS NULL) AS sweeps
		FROM orders o LEFT JOIN order_events e ON e.brand_id = o.brand_id AND e.order_id = o.id
		WHERE o.brand_id = $1 GROUP BY o.id) x WHERE cancels <> 1 OR sweeps <> 1`, brand).Scan(&badEvents); err != nil {
		return err
	}
	// Exactly one release movement per allocation, giving back the allocation's quantity.
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT a.quantity, count(m.id) AS n, coalesce(sum(-m.reserved_delta), 0) AS released
		FROM order_allocations a LEFT JOIN stock_movements m ON m.brand_id = a.brand_id AND m.order_id = a.order_id
			AND m.product_id = a.product_id AND m.location_id = a.location_id AND m.kind = 'release'
		WHERE a.brand_id = $1 GROUP BY a.brand_id, a.order_id, a.line_id, a.location_id, a.quantity) x
		WHERE n <> 1 OR released <> quantity`, brand).Scan(&badReleases); err != nil {
		return err
	}
	shares, total := c.settledShares(ctx, before, stock, "ecompointer_order_transitions_total", "to", "cancelled")
	fmt.Printf("     %d expired in %s; cancelled by %s\n", expired, took.Round(100*time.Millisecond), shares)
	switch {
	case expired != stock:
		return fmt.Errorf("%d cancelled as expired, want %d", expired, stock)
	case badEvents != 0:
		return fmt.Errorf("%d orders without exactly one sweeper cancel event", badEvents)
	case badReleases != 0:
		return fmt.Errorf("%d allocations without exactly one release movement of their quantity", badReleases)
	case total != stock:
		return fmt.Errorf("the sweepers counted %.0f cancellations, want %d", total, stock)
	}
	return c.checkLevel(ctx, orderSetup.brand, orderSetup.product, orderSetup.location, stock, 0)
}
