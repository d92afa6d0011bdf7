package webhooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// newPoolEnv starts a server whose brands may each hold one request connection at once
// (BRAND_POOL_SHARE=1, a short BRAND_POOL_WAIT), with the background work on a pool of its own
// (server.Config.JobsPool), and registers a brand owner. The workers do not run yet.
func newPoolEnv(t *testing.T) (*env, *pgxpool.Pool) {
	t.Helper()
	url := servertest.Database(t)
	jobsPool, err := server.NewJobsPool(ctx, url, servertest.AppRole, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobsPool.Close)
	e := servertest.NewOn(t, url, func(c *server.Config) {
		c.Webhooks = testConfig()
		c.JobsPool = jobsPool
		c.BrandPoolShare = 1
		c.BrandPoolWait = 200 * time.Millisecond
		// The request held on a row lock below waits as long as the test needs it to.
		c.DB.LockTimeout, c.DB.StatementTimeout, c.DB.RequestTimeout = time.Minute, time.Minute, time.Minute
	})
	email := servertest.Email("whpool")
	owner := e.Register(t, email)
	return &env{Env: e, owner: owner, email: email, brand: *owner.User.BrandId}, jobsPool
}

// TestDeliveredWhileTheBrandsRequestsHoldItsShare (issue 19): a brand whose requests hold its
// whole share of the request pool still has its webhooks delivered, because the job queue and
// its workers run on the background work's own pool with a share of their own; and requests
// answer while every connection of that pool is taken.
func TestDeliveredWhileTheBrandsRequestsHoldItsShare(t *testing.T) {
	t.Parallel()

	t.Run("requests hold the brand's share: the delivery still comes", func(t *testing.T) {
		t.Parallel()
		e, _ := newPoolEnv(t)
		r := newReceiver(t, always(http.StatusNoContent))
		e.endpoint(t, r.URL+"/hook", string(api.EventTypeProductCreated))
		created := e.product(t, "POOL-1") // its product.created waits in the queue: no worker yet
		locked := e.product(t, "POOL-2")

		// The tables' owner locks POOL-2's row; a PATCH of it then waits on the lock while it
		// holds the brand's one request connection.
		owner, err := pgx.Connect(ctx, e.OwnerURL)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = owner.Close(ctx) }()
		tx, err := owner.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		// The owner too is under the brands' policies: scoped to the brand, it sees the row.
		var n int
		if err := tx.QueryRow(ctx, "SELECT set_config('app.brand_id', $1, true)", e.brand.String()).Scan(new(string)); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM products WHERE id = $1 FOR UPDATE) l", locked.Id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("lock the product: %d rows, %v", n, err)
		}
		name := "renamed"
		patched := make(chan int, 1)
		go func() {
			resp, err := e.Client.UpdateProductWithResponse(ctx, e.brand, locked.Id, nil, api.UpdateProductRequest{Name: &name}, e.auth())
			if err != nil {
				patched <- 0
				return
			}
			patched <- resp.StatusCode()
		}()
		// The share is taken once another request of the brand is turned away 503 brand_busy.
		// Until the PATCH holds it, a probe answers 200 (each busy probe waits BRAND_POOL_WAIT).
		deadline := time.Now().Add(30 * time.Second)
		for busy := false; !busy; {
			select {
			case status := <-patched:
				t.Fatalf("the PATCH ended (%d) instead of waiting on the lock", status)
			default:
			}
			resp, err := e.Client.GetProductWithResponse(ctx, e.brand, created.Id, e.auth())
			if err != nil {
				t.Fatal(err)
			}
			switch p := resp.ApplicationproblemJSON503; {
			case p != nil && p.Code == api.ProblemCodeBrandBusy:
				busy = true
			case resp.StatusCode() != http.StatusOK:
				t.Fatalf("probe = %d %s", resp.StatusCode(), resp.Body)
			case time.Now().After(deadline):
				t.Fatal("the brand's share never filled")
			}
		}

		runWorkers(t, e.Env)
		h := r.next(t)
		if typeOf(t, h) != "product.created" {
			t.Errorf("delivered %s", h.body)
		}
		select {
		case status := <-patched:
			t.Fatalf("the PATCH ended (%d) before the delivery came: the share was not held throughout", status)
		default:
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if status := <-patched; status != http.StatusOK {
			t.Errorf("PATCH after the lock went = %d", status)
		}
	})

	t.Run("the background pool is taken: requests still answer", func(t *testing.T) {
		t.Parallel()
		e, jobsPool := newPoolEnv(t)
		p := e.product(t, "POOL-3")
		var held []*pgxpool.Conn
		for range int(jobsPool.Config().MaxConns) {
			c, err := jobsPool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		defer func() {
			for _, c := range held {
				c.Release()
			}
		}()
		if resp, err := e.Client.GetProductWithResponse(ctx, e.brand, p.Id, e.auth()); err != nil || resp.StatusCode() != http.StatusOK {
			t.Fatalf("get with the background pool taken = %v %d", err, resp.StatusCode())
		}
		if got := e.product(t, "POOL-4"); got.Sku != "POOL-4" {
			t.Errorf("created %+v", got)
		}
	})
}
