package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const password = "a fine cluster passphrase"

type authResponse struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID      string `json:"id"`
		Email   string `json:"email"`
		BrandID string `json:"brandId"`
	} `json:"user"`
}

type problem struct {
	Code string `json:"code"`
}

// owner registers (once) the brand owner the proofs share.
var ownerOnce struct {
	sync.Once
	a   authResponse
	err error
}

func (c *cluster) owner(ctx context.Context) (authResponse, error) {
	ownerOnce.Do(func() {
		ownerOnce.err = c.must(ctx, call{method: http.MethodPost, url: c.proxy + "/auth/register", ip: c.clientIP(),
			body: map[string]any{"email": "owner@cluster.example", "password": password, "name": "Cluster Owner"}}, http.StatusCreated, &ownerOnce.a)
	})
	return ownerOnce.a, ownerOnce.err
}

func (c *cluster) login(ctx context.Context, base, email string) (authResponse, error) {
	var a authResponse
	err := c.must(ctx, call{method: http.MethodPost, url: base + "/auth/login", ip: c.clientIP(),
		body: map[string]any{"email": email, "password": password}}, http.StatusOK, &a)
	return a, err
}

// proveRevocation: a logout on api1 is refused by api2 and api3 at once, and so is the token of a
// member whose role the owner changed on api1.
func (c *cluster) proveRevocation(ctx context.Context) error {
	owner, err := c.owner(ctx)
	if err != nil {
		return err
	}
	api1, api2, api3 := c.instances[0].url(), c.instances[1].url(), c.instances[2].url()
	s, err := c.login(ctx, api2, owner.User.Email)
	if err != nil {
		return err
	}
	for _, base := range []string{api2, api3} {
		if err := c.must(ctx, call{method: http.MethodGet, url: base + "/auth/profile", token: s.AccessToken}, http.StatusOK, nil); err != nil {
			return err
		}
	}
	if err := c.must(ctx, call{method: http.MethodPost, url: api1 + "/auth/logout", token: s.AccessToken}, http.StatusNoContent, nil); err != nil {
		return err
	}
	for _, base := range []string{api2, api3} {
		if err := c.refusedWithin(ctx, call{method: http.MethodGet, url: base + "/auth/profile", token: s.AccessToken}); err != nil {
			return fmt.Errorf("after logout on api1: %w", err)
		}
	}

	var inv struct {
		InviteToken string `json:"inviteToken"`
	}
	if err := c.must(ctx, call{method: http.MethodPost, url: api1 + "/brands/" + owner.User.BrandID + "/invitations", token: owner.AccessToken,
		body: map[string]any{"email": "manager@cluster.example", "role": "MANAGER"}}, http.StatusCreated, &inv); err != nil {
		return err
	}
	var member authResponse
	if err := c.must(ctx, call{method: http.MethodPost, url: api2 + "/auth/accept-invite", ip: c.clientIP(),
		body: map[string]any{"inviteToken": inv.InviteToken, "name": "Manager", "password": password}}, http.StatusCreated, &member); err != nil {
		return err
	}
	products := "/brands/" + owner.User.BrandID + "/products"
	if err := c.must(ctx, call{method: http.MethodGet, url: api3 + products, token: member.AccessToken}, http.StatusOK, nil); err != nil {
		return err
	}
	if err := c.must(ctx, call{method: http.MethodPatch, url: api1 + "/brands/" + owner.User.BrandID + "/members/" + member.User.ID, token: owner.AccessToken,
		body: map[string]any{"role": "STAFF"}}, http.StatusOK, nil); err != nil {
		return err
	}
	for _, base := range []string{api2, api3} {
		if err := c.refusedWithin(ctx, call{method: http.MethodGet, url: base + products, token: member.AccessToken}); err != nil {
			return fmt.Errorf("after a role change on api1: %w", err)
		}
	}
	return nil
}

// revocationBound is what the session cache promises another instance at worst: a change is
// applied from the notification within 100 ms normally, and a listener that falls behind leaves
// the cache untrusted 750 ms after its last heartbeat (docs/security.md), so 1 s covers both.
const revocationBound = time.Second

// refusedWithin asks r again until it answers 401, for at most revocationBound after the change
// was answered; it prints how long that took. The change's own instance refuses at once (it
// answers only after its cache saw the change); the others hear of it by notification, which on a
// loaded machine can take longer than the next request takes to arrive.
func (c *cluster) refusedWithin(ctx context.Context, r call) error {
	start := time.Now()
	for {
		got, err := c.do(ctx, r, nil)
		if err != nil {
			return err
		}
		if got == http.StatusUnauthorized {
			if d := time.Since(start); d > 10*time.Millisecond {
				fmt.Printf("     %s refused %s after the change\n", r.url, d.Round(time.Millisecond))
			}
			return nil
		}
		if got != http.StatusOK {
			return fmt.Errorf("%s %s: status %d, want 401 (or 200 until the change arrives)", r.method, r.url, got)
		}
		if time.Since(start) > revocationBound {
			return fmt.Errorf("%s %s: still 200 %s after the change, want 401 within %s", r.method, r.url, time.Since(start).Round(time.Millisecond), revocationBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// proveThrottle: LOGIN_MAX_FAILURES=3 failures spread over the three instances throttle the
// email for that client on every instance, the right password included.
func (c *cluster) proveThrottle(ctx context.Context) error {
	owner, err := c.owner(ctx)
	if err != nil {
		return err
	}
	ip := c.clientIP()
	for _, in := range c.instances {
		if err := c.must(ctx, call{method: http.MethodPost, url: in.url() + "/auth/login", ip: ip,
			body: map[string]any{"email": owner.User.Email, "password": "a wrong passphrase"}}, http.StatusUnauthorized, nil); err != nil {
			return err
		}
	}
	for _, in := range c.instances {
		var p problem
		if err := c.must(ctx, call{method: http.MethodPost, url: in.url() + "/auth/login", ip: ip,
			body: map[string]any{"email": owner.User.Email, "password": password}}, http.StatusTooManyRequests, &p); err != nil {
			return fmt.Errorf("%s after 3 failures elsewhere: %w", in.name, err)
		}
		if p.Code != "account_throttled" {
			return fmt.Errorf("%s: code %q, want account_throttled", in.name, p.Code)
		}
	}
	return nil
}

// proveRateLimit: AUTH_RATE_LIMIT=20 a minute per client IP, in all: 20 requests spread over the
// instances pass the limit, the 21st (on any instance) is 429 rate_limited.
func (c *cluster) proveRateLimit(ctx context.Context) error {
	ip := c.clientIP()
	for i := range 20 {
		in := c.instances[i%3]
		got, err := c.do(ctx, call{method: http.MethodPost, url: in.url() + "/auth/refresh", ip: ip, body: map[string]any{"refreshToken": "not-a-token"}}, nil)
		if err != nil {
			return err
		}
		if got == http.StatusTooManyRequests {
			return fmt.Errorf("request %d (%s) limited within the budget", i+1, in.name)
		}
	}
	var p problem
	if err := c.must(ctx, call{method: http.MethodPost, url: c.instances[1].url() + "/auth/refresh", ip: ip,
		body: map[string]any{"refreshToken": "not-a-token"}}, http.StatusTooManyRequests, &p); err != nil {
		return fmt.Errorf("the 21st request: %w (the limit is per instance?)", err)
	}
	if p.Code != "rate_limited" {
		return fmt.Errorf("code %q, want rate_limited", p.Code)
	}
	return nil
}

const stock = 300

// stocked creates an active product (sku) and a location (code) of the owner's brand, and
// receives units of it there.
func (c *cluster) stocked(ctx context.Context, owner authResponse, sku, code string, units int) (product, location string, err error) {
	brand := "/brands/" + owner.User.BrandID
	var p, l struct {
		ID string `json:"id"`
	}
	if err := c.must(ctx, call{method: http.MethodPost, url: c.proxy + brand + "/products", token: owner.AccessToken,
		body: map[string]any{"sku": sku, "name": "Cluster product " + sku, "priceAmount": 100, "status": "active"}}, http.StatusCreated, &p); err != nil {
		return "", "", err
	}
	if err := c.must(ctx, call{method: http.MethodPost, url: c.proxy + brand + "/locations", token: owner.AccessToken,
		body: map[string]any{"code": code, "name": "Cluster warehouse " + code}}, http.StatusCreated, &l); err != nil {
		return "", "", err
	}
	if err := c.must(ctx, call{method: http.MethodPost, url: c.proxy + brand + "/inventory/adjustments", token: owner.AccessToken,
		body: map[string]any{"kind": "receipt", "lines": []any{map[string]any{"productId": p.ID, "locationId": l.ID, "delta": units}}}}, http.StatusCreated, nil); err != nil {
		return "", "", err
	}
	return p.ID, l.ID, nil
}

var stockSetup struct {
	brand, product, location string
}

// proveReservations: 1,000 concurrent 1-unit reservations of a product with 300 in stock, spread
// over the three instances, hold exactly 300: 300 answers 201 and 700 answers 422
// insufficient_stock; the level shows 300 reserved, none available, and the ledger adds up to it.
func (c *cluster) proveReservations(ctx context.Context) error {
	owner, err := c.owner(ctx)
	if err != nil {
		return err
	}
	brand := "/brands/" + owner.User.BrandID
	product, location, err := c.stocked(ctx, owner, "CLU-1", "CLU", stock)
	if err != nil {
		return err
	}
	stockSetup.brand, stockSetup.product, stockSetup.location = owner.User.BrandID, product, location

	b := c.burst(ctx, 1000, func(i int) call {
		return call{method: http.MethodPost, url: c.instances[i%3].url() + brand + "/reservations", token: owner.AccessToken,
			body: map[string]any{"lines": []any{map[string]any{"productId": product, "locationId": location, "quantity": 1}}}}
	})
	fmt.Printf("     1000 reservations in %s: %s\n", b.took.Round(time.Millisecond), b)
	if err := b.check(1000, stock); err != nil {
		return err
	}
	return c.checkLevel(ctx, owner.User.BrandID, product, location, stock, stock)
}

// burstResult counts the answers to a burst of concurrent requests.
type burstResult struct {
	created, refused, retried int64
	others                    []string
	took                      time.Duration
}

func (b burstResult) String() string {
	return fmt.Sprintf("%d created, %d insufficient_stock, %d retried after 503", b.created, b.refused, b.retried)
}

// check wants exactly want × 201 and the rest of n × 422, and no other answer.
func (b burstResult) check(n, want int64) error {
	if len(b.others) > 0 {
		return fmt.Errorf("unexpected answers: %v", b.others)
	}
	if b.created != want || b.refused != n-want {
		return fmt.Errorf("%d created and %d refused, want %d and %d", b.created, b.refused, want, n-want)
	}
	return nil
}

// burst sends n requests (request(i) builds the i-th) from 48 concurrent workers. A 503
// (write_conflict, brand_busy: "retry") is retried as a client would, the same request again
// (the same Idempotency-Key), up to 5 times, 50 ms apart; each retry is counted.
func (c *cluster) burst(ctx context.Context, n int, request func(i int) call) burstResult {
	const workers = 48
	var created, refused, retried atomic.Int64
	var other sync.Map
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				r := request(i)
				for attempt := 0; ; attempt++ {
					var p problem
					got, err := c.do(ctx, r, &p)
					switch {
					case err == nil && got == http.StatusCreated:
						created.Add(1)
					case err == nil && got == http.StatusUnprocessableEntity && p.Code == "insufficient_stock":
						refused.Add(1)
					case err == nil && got == http.StatusServiceUnavailable && attempt < 5:
						retried.Add(1)
						time.Sleep(50 * time.Millisecond)
						continue
					default:
						other.Store(fmt.Sprintf("%d %s %v", got, p.Code, err), true)
					}
					break
				}
			}
		})
	}
	start := time.Now()
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	b := burstResult{created: created.Load(), refused: refused.Load(), retried: retried.Load(), took: time.Since(start)}
	other.Range(func(k, _ any) bool { b.others = append(b.others, k.(string)); return true })
	return b
}

// proveSweepers: the 300 holds are made due (their expiry moved into the past in the database, as
// the 60 s minimum TTL would otherwise pass), and the three instances' sweepers (every second)
// release them: each reservation ends expired with exactly one release movement per hold, and the
// instances' ecompointer_reservations_total{event="expired"} add up to 300.
func (c *cluster) proveSweepers(ctx context.Context) error {
	before := c.counterValues(ctx, "ecompointer_reservations_total", "event", "expired")
	tag, err := c.db.Exec(ctx, `UPDATE reservations SET expires_at = now() - interval '1 second' WHERE status = 'active'`)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != stock {
		return fmt.Errorf("%d active reservations, want %d", tag.RowsAffected(), stock)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var active int
		if err := c.db.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE status = 'active'`).Scan(&active); err != nil {
			return err
		}
		if active == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d reservations still active after 30 s", active)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var expired, releases, twice int
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM reservations WHERE status = 'expired'`).Scan(&expired); err != nil {
		return err
	}
	if err := c.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n <> 1) FROM (
		SELECT r.id, count(m.*) AS n FROM reservations r LEFT JOIN stock_movements m ON m.reservation_id = r.id AND m.kind = 'release'
		GROUP BY r.id) x`).Scan(&releases, &twice); err != nil {
		return err
	}
	var reserved int64
	if err := c.db.QueryRow(ctx, `SELECT reserved FROM stock_levels WHERE product_id = $1 AND location_id = $2`, stockSetup.product, stockSetup.location).Scan(&reserved); err != nil {
		return err
	}
	shares, total := c.settledShares(ctx, before, stock, "ecompointer_reservations_total", "event", "expired")
	fmt.Printf("     %d expired; released by %s\n", expired, shares)
	switch {
	case expired != stock:
		return fmt.Errorf("%d expired, want %d", expired, stock)
	case twice != 0:
		return fmt.Errorf("%d reservations without exactly one release movement", twice)
	case reserved != 0:
		return fmt.Errorf("%d still reserved", reserved)
	case total != stock:
		return fmt.Errorf("the sweepers counted %.0f releases, want %d", total, stock)
	}
	return c.checkInvariants(ctx, stockSetup.brand)
}

// counterValues reads each instance's counter family{label="value"} (0 when absent).
func (c *cluster) counterValues(ctx context.Context, family, label, value string) []float64 {
	out := make([]float64, len(c.instances))
	for i, in := range c.instances {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.metricsURL(), nil)
		resp, err := c.http.Do(req)
		if err != nil {
			continue
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			continue
		}
		for _, m := range fams[family].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					out[i] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// settledShares waits (up to 5 s) for the instances' family{label="value"} to have grown by want
// in all since before (a sweeper counts its batch after committing it, so the database may show
// the work done a moment before the counters do), and reports the shares.
func (c *cluster) settledShares(ctx context.Context, before []float64, want float64, family, label, value string) (string, float64) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		shares, total := c.shares(before, c.counterValues(ctx, family, label, value))
		if total >= want || time.Now().After(deadline) || ctx.Err() != nil {
			return shares, total
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shares reports after-before per instance ("api1 100, api2 100, api3 100") and their total.
func (c *cluster) shares(before, after []float64) (string, float64) {
	var parts []string
	total := 0.0
	for i := range after {
		d := after[i] - before[i]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.0f", c.instances[i].name, d))
	}
	return strings.Join(parts, ", "), total
}

// lintMetrics runs `promtool check metrics` (Debian's prometheus package) on a scrape of api1; a
// missing promtool fails the proof.
func (c *cluster) lintMetrics(ctx context.Context) error {
	if _, err := exec.LookPath("promtool"); err != nil {
		return fmt.Errorf("promtool not installed (Debian: apt-get install prometheus; .ci/run installs it): %w", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.instances[0].metricsURL(), nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	cmd := exec.CommandContext(ctx, "promtool", "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("promtool: %w\n%s", err, out)
	}
	return nil
}

// rollingRestart: closed-loop clients read the profile and a product through the proxy while each
// instance in turn gets SIGTERM, drains (/readyz 503 at once, in-flight requests finish), stops and
// comes back. Every request must succeed.
func (c *cluster) rollingRestart(ctx context.Context, quick bool) error {
	owner, err := c.owner(ctx)
	if err != nil {
		return err
	}
	workers, settle := 32, 5*time.Second
	if quick {
		workers, settle = 16, time.Second
	}
	targets := []string{c.proxy + "/auth/profile"}
	var mu sync.Mutex
	var latencies []time.Duration
	var sent, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					latencies = append(latencies, mine...)
					mu.Unlock()
					return
				default:
				}
				t0 := time.Now()
				got, err := c.do(ctx, call{method: http.MethodGet, url: targets[(w+i)%len(targets)], token: owner.AccessToken}, nil)
				mine = append(mine, time.Since(t0))
				sent.Add(1)
				if err != nil || got != http.StatusOK {
					failed.Add(1)
					failures.Store(fmt.Sprintf("%d %v", got, err), true)
				}
			}
		})
	}
	rollStart := time.Now()
	time.Sleep(settle)
	var rollErr error
	for _, in := range c.instances {
		t0 := time.Now()
		if err := c.stop(in, 30*time.Second); err != nil {
			rollErr = err
			break
		}
		stopped := time.Since(t0)
		if err := c.start(ctx, in); err != nil {
			rollErr = err
			break
		}
		// Back in the proxy's rotation after two passing checks (rise 2, inter 500 ms).
		time.Sleep(1500 * time.Millisecond)
		fmt.Printf("     %s: SIGTERM to exit %s, back in %s\n", in.name, stopped.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	}
	time.Sleep(settle)
	close(stop)
	wg.Wait()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))].Round(10 * time.Microsecond)
	}
	fmt.Printf("     rolling restart, %d clients through HAProxy for %s: %d requests sent, %d failed, p50 %s, p99 %s, max %s\n",
		workers, time.Since(rollStart).Round(100*time.Millisecond), sent.Load(), failed.Load(), pct(0.5), pct(0.99), pct(1))
	if rollErr != nil {
		return rollErr
	}
	if failed.Load() > 0 {
		var kinds []string
		failures.Range(func(k, _ any) bool { kinds = append(kinds, k.(string)); return true })
		return fmt.Errorf("%d of %d requests failed: %v", failed.Load(), sent.Load(), kinds)
	}
	return nil
}
