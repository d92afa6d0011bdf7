package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// The formation `make failover` starts (deploy/failover/drill.sh): pg_auto_failover's monitor and
// two nodes, the primary and a synchronous standby, in CLUSTER_FAILOVER_DIR.
var failoverNodes = []struct {
	name string
	port int
}{{"node1", 55433}, {"node2", 55434}}

// proveFailover: under order and reservation load on the three instances, the primary is killed
// (SIGKILL to its keeper and PostgreSQL); pg_auto_failover promotes the synchronous standby and
// the instances find it through the multi-host DATABASE_URL (target_session_attrs=read-write).
// Meanwhile every answer is a 2xx, a 4xx the load expects, or a 503 with Retry-After: never
// another 5xx, never a hang. An order is created again within 30 s of the kill; every order
// acknowledged with 201 exists afterwards, and the ledger and holds invariants hold.
func (c *cluster) proveFailover(ctx context.Context, dir string, quick bool) error {
	owner, err := c.owner(ctx)
	if err != nil {
		return err
	}
	brand := "/brands/" + owner.User.BrandID
	product, location, err := c.stocked(ctx, owner, "CLU-FO", "CLU-FO", 1_000_000)
	if err != nil {
		return err
	}
	warm, after := 10*time.Second, 10*time.Second
	if quick {
		warm, after = 3*time.Second, 3*time.Second
	}

	var (
		mu        sync.Mutex
		acked     []string // ids of orders answered 201
		answers   = map[string]int{}
		bad       []string
		stoppedAt time.Time
		backAt    time.Time // the first 201 to an order sent after the kill
		slowest   time.Duration
	)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				base := c.instances[(w+i)%len(c.instances)].url() + brand
				r := orderCall(base, owner.AccessToken, product, fmt.Sprintf("failover-%d", w), i)
				if i%2 == 1 {
					r = call{method: http.MethodPost, url: base + "/reservations", token: owner.AccessToken,
						body: map[string]any{"lines": []any{map[string]any{"productId": product, "locationId": location, "quantity": 1}}}}
				}
				sent := time.Now()
				a, err := c.answer(loadCtx, r)
				took := time.Since(sent)
				mu.Lock()
				slowest = max(slowest, took)
				switch {
				case loadCtx.Err() != nil:
				case err != nil:
					bad = append(bad, fmt.Sprintf("%s after %s: %v", r.url, took.Round(time.Millisecond), err))
				case a.status == http.StatusCreated:
					answers["201"]++
					if a.id != "" && strings.HasSuffix(r.url, "/orders") {
						acked = append(acked, a.id)
						if !stoppedAt.IsZero() && backAt.IsZero() && sent.After(stoppedAt) {
							backAt = time.Now()
						}
					}
				case a.status == http.StatusServiceUnavailable:
					answers["503 "+a.code]++
					if a.retryAfter == "" {
						bad = append(bad, fmt.Sprintf("503 %s without Retry-After", a.code))
					}
				case a.status == http.StatusUnprocessableEntity && a.code == "insufficient_stock":
					answers["422 "+a.code]++
				default:
					answers[strconv.Itoa(a.status)+" "+a.code]++
					bad = append(bad, fmt.Sprintf("%s: %d %s", r.url, a.status, a.code))
				}
				if took > 25*time.Second {
					bad = append(bad, fmt.Sprintf("%s hung %s", r.url, took.Round(time.Millisecond)))
				}
				mu.Unlock()
				if err != nil || (a.status >= 500) {
					time.Sleep(100 * time.Millisecond) // a client honouring Retry-After would wait longer
				}
			}
		}()
	}

	time.Sleep(warm)
	primary, err := failoverPrimary(ctx)
	if err != nil {
		stopLoad()
		wg.Wait()
		return err
	}
	pid, err := os.ReadFile(filepath.Join(dir, primary+".pid"))
	if err != nil {
		stopLoad()
		wg.Wait()
		return fmt.Errorf("the primary's keeper pid: %w", err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err != nil {
		stopLoad()
		wg.Wait()
		return err
	}
	mu.Lock()
	ackedBefore := len(acked)
	stoppedAt = time.Now()
	mu.Unlock()
	// The keeper runs in its own process group with its PostgreSQL: both die at once, as when the
	// machine goes.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		stopLoad()
		wg.Wait()
		return fmt.Errorf("kill the primary (%s, process group %d): %w", primary, pgid, err)
	}
	fmt.Printf("     killed the primary %s after %s of load (%d orders acknowledged)\n", primary, warm, ackedBefore)

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		back := backAt
		mu.Unlock()
		if !back.IsZero() || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(after)
	stopLoad()
	wg.Wait()

	var errs []error
	if backAt.IsZero() {
		errs = append(errs, errors.New("no order was created within 60 s of the kill"))
	} else if took := backAt.Sub(stoppedAt); took > 30*time.Second {
		errs = append(errs, fmt.Errorf("orders were refused for %s after the kill, want at most 30 s", took.Round(time.Millisecond)))
	}
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%s × %d", k, answers[k]))
	}
	fmt.Printf("     answers: %s; slowest %s\n", strings.Join(summary, ", "), slowest.Round(time.Millisecond))
	if !backAt.IsZero() {
		fmt.Printf("     switch: orders created again %s after the kill\n", backAt.Sub(stoppedAt).Round(100*time.Millisecond))
	}
	if len(bad) > 0 {
		errs = append(errs, fmt.Errorf("%d unexpected answers, first: %s", len(bad), bad[0]))
	}

	// The proof's own connection went with the old primary: find the new one.
	_ = c.db.Close(ctx)
	if c.db, err = pgx.Connect(ctx, c.dbURL); err != nil {
		return errors.Join(append(errs, fmt.Errorf("reconnect to the new primary: %w", err))...)
	}
	var found int
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM orders WHERE brand_id = $1 AND id = ANY($2::uuid[])`,
		owner.User.BrandID, acked).Scan(&found); err != nil {
		return errors.Join(append(errs, err)...)
	}
	fmt.Printf("     %d orders acknowledged with 201, %d found on the new primary: lost %d\n", len(acked), found, len(acked)-found)
	if found != len(acked) {
		errs = append(errs, fmt.Errorf("%d acknowledged orders lost", len(acked)-found))
	}
	if err := c.checkInvariants(ctx, owner.User.BrandID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// failoverPrimary names the formation's node that accepts writes.
func failoverPrimary(ctx context.Context) (string, error) {
	for _, n := range failoverNodes {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", n.port))
		if err != nil {
			continue
		}
		var standby bool
		err = conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby)
		_ = conn.Close(ctx)
		if err == nil && !standby {
			return n.name, nil
		}
	}
	return "", errors.New("no node of the formation accepts writes")
}

type answer struct {
	status     int
	code, id   string
	retryAfter string
}

// answer sends r and reads the status, the problem's code or the created resource's id, and
// Retry-After.
func (c *cluster) answer(ctx context.Context, r call) (answer, error) {
	b, err := json.Marshal(r.body)
	if err != nil {
		return answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, bytes.NewReader(b))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token)
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	var out struct {
		Code string `json:"code"`
		ID   string `json:"id"`
	}
	_ = json.Unmarshal(raw, &out)
	return answer{status: resp.StatusCode, code: out.Code, id: out.ID, retryAfter: resp.Header.Get("Retry-After")}, nil
}
