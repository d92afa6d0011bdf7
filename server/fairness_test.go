package server_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestSearchTheIndexCannotServeIsRefused: a search with no trigram (fewer than three consecutive
// letters or digits) scans every product of the brand, seconds on a large catalog; one client
// repeating it starves everyone, so it is a 400 naming query.q.
func TestSearchTheIndexCannotServeIsRefused(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("search"))
	createProduct(t, env, owner, api.CreateProductRequest{Sku: "ABC-1", Name: "abc shirt", PriceAmount: 1})
	brand := *owner.User.BrandId

	for _, q := range []string{"a", "ab", "%%%", "__", "a-b-c", "%a%", "ab_", "  ab  "} {
		t.Run("refused "+q, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/brands/"+brand.String()+"/products?q="+url.QueryEscape(q), nil)
			req.Header.Set("Authorization", "Bearer "+owner.AccessToken)
			resp, err := env.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
				t.Fatalf("q=%q: status %d, want %d", q, got, want)
			}
			p := servertest.ReadProblem(t, resp)
			if p.Code != api.ProblemCodeValidationFailed || p.Errors == nil || len(*p.Errors) == 0 {
				t.Fatalf("q=%q: problem %+v", q, p)
			}
			rule := false
			for _, fe := range *p.Errors {
				if fe.Field != "query.q" {
					t.Errorf("q=%q: error names %q, want query.q", q, fe.Field)
				}
				rule = rule || fe.Message == "must contain at least 3 consecutive letters or digits"
			}
			if !rule {
				t.Errorf("q=%q: no error states the rule: %+v", q, *p.Errors)
			}
		})
	}
	for q, want := range map[string]int{"abc": 1, "ABC-": 1, "shirt": 1, "xyz": 0, "sh irt": 0, "é€ab1": 0} {
		t.Run("served "+q, func(t *testing.T) {
			r, err := env.Client.ListProductsWithResponse(context.Background(), brand, &api.ListProductsParams{Q: &q}, servertest.Bearer(owner.AccessToken))
			if err != nil {
				t.Fatal(err)
			}
			if r.JSON200 == nil {
				t.Fatalf("q=%q: status %d %s", q, r.StatusCode(), r.Body)
			}
			if got := len(r.JSON200.Items); got != want {
				t.Errorf("q=%q: %d products, want %d", q, got, want)
			}
		})
	}
}

// TestOneBrandCannotStarveAnother holds every connection brand A may have (requests blocked on a
// row lock, as slow searches would be) and checks that brand B is still served at once, while
// A's next request waits only the configured time and gets a 503 brand_busy with Retry-After.
func TestOneBrandCannotStarveAnother(t *testing.T) {
	t.Parallel()
	const share = 2
	env := servertest.New(t, func(c *server.Config) {
		c.BrandPoolShare = share
		c.BrandPoolWait = 300 * time.Millisecond
	})
	ctx := context.Background()
	a := env.Register(t, servertest.Email("tenant-a"))
	b := env.Register(t, servertest.Email("tenant-b"))
	pa := createProduct(t, env, a, api.CreateProductRequest{Sku: "A-1", Name: "a product", PriceAmount: 1})
	pb := createProduct(t, env, b, api.CreateProductRequest{Sku: "B-1", Name: "b product", PriceAmount: 1})

	// Lock A's product so that updates of it hold their connection (and A's slot) until released.
	lock, err := env.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, "SELECT set_config('app.brand_id', $1, true)", a.User.BrandId.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, "SELECT 1 FROM products WHERE id = $1 FOR UPDATE", pa.Id); err != nil {
		t.Fatal(err)
	}

	var blocked sync.WaitGroup
	statuses := make(chan int, share)
	for i := range share {
		blocked.Go(func() {
			name := "renamed " + string(rune('a'+i))
			r, err := env.Client.UpdateProductWithResponse(ctx, *a.User.BrandId, pa.Id, &api.UpdateProductParams{}, api.UpdateProductRequest{Name: &name}, servertest.Bearer(a.AccessToken))
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- r.StatusCode()
		})
	}
	// Wait until both updates hold their connections (blocked on the lock).
	deadline := time.Now().Add(5 * time.Second)
	for env.Pool.Stat().AcquiredConns() < 1+share {
		if time.Now().After(deadline) {
			t.Fatalf("the blocked updates never took their connections: %d acquired", env.Pool.Stat().AcquiredConns())
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Served while A still holds every slot it may have: B does not queue behind A. (Asserted by
	// order, not by a latency bound: timings on a shared machine prove nothing.)
	t.Run("the other brand is served while A holds its share", func(t *testing.T) {
		for range 5 {
			r, err := env.Client.GetProductWithResponse(ctx, *b.User.BrandId, pb.Id, servertest.Bearer(b.AccessToken))
			if err != nil || r.JSON200 == nil {
				t.Fatalf("brand B get: %v %d %s", err, r.StatusCode(), r.Body)
			}
			if len(statuses) != 0 || env.Pool.Stat().AcquiredConns() < 1+share {
				t.Fatalf("brand A's blocked updates ended before brand B was served: the test proves nothing")
			}
		}
	})
	t.Run("the busy brand gets 503 brand_busy", func(t *testing.T) {
		start := time.Now()
		r, err := env.Client.GetProductWithResponse(ctx, *a.User.BrandId, pa.Id, servertest.Bearer(a.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if got, want := r.StatusCode(), http.StatusServiceUnavailable; got != want {
			t.Fatalf("brand A over its share: status %d, want %d: %s", got, want, r.Body)
		}
		if p := r.ApplicationproblemJSON503; p == nil || p.Code != api.ProblemCodeBrandBusy || p.RequestId == "" {
			t.Errorf("problem = %s", r.Body)
		}
		if got := r.HTTPResponse.Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
		if took < 300*time.Millisecond {
			t.Errorf("answered after %s, want after the 300ms wait", took)
		}
	})

	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	blocked.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Errorf("a blocked update ended %d, want 200 once the lock went", s)
		}
	}
	// With its slots back, brand A is served again.
	r, err := env.Client.GetProductWithResponse(ctx, *a.User.BrandId, pa.Id, servertest.Bearer(a.AccessToken))
	if err != nil || r.JSON200 == nil {
		t.Fatalf("brand A after release: %v %d %s", err, r.StatusCode(), r.Body)
	}
}

// TestReadinessIgnoresASaturatedPool: every connection of the request pool is taken (as by slow
// requests); /readyz answers from its own connection, quickly, instead of queueing for the pool
// and telling the load balancer to drain a busy but healthy instance.
func TestReadinessIgnoresASaturatedPool(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ctx := context.Background()
	var held []*pgxpool.Conn
	for range env.Pool.Config().MaxConns {
		c, err := env.Pool.Acquire(ctx)
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

	for range 3 {
		start := time.Now()
		ready, err := env.Client.GetReadyzWithResponse(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ready.StatusCode(), http.StatusOK; got != want {
			t.Fatalf("readyz with the pool saturated: %d, want %d: %s", got, want, ready.Body)
		}
		// A readiness probe that queued for the saturated pool would end in its own 2 s timeout
		// and a 503: the 200 above is the proof, the time only a guard against a hang.
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("readyz took %s with the pool saturated", took)
		}
	}
}
