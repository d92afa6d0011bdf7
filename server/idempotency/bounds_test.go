package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/idempotency"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

type reply struct {
	status   int
	replayed bool
	body     []byte
}

// post sends one raw JSON request as the token's caller, with an Idempotency-Key when key is set.
func post(t *testing.T, env *servertest.Env, token, path, key, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, replayed: resp.Header.Get(idempotency.ReplayedHeader) == "true", body: b}
}

// stock is one brand with n products and one location, and an adjustment body builder.
type stock struct {
	token, brand, location string
	products               []string
}

func newStock(t *testing.T, env *servertest.Env, n int) stock {
	t.Helper()
	owner := env.Register(t, servertest.Email("idem"))
	s := stock{token: owner.AccessToken, brand: owner.User.BrandId.String()}
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"sku":"IDEM-%d","name":"p%d","priceAmount":100,"status":"active"}`, i, i)
	}
	r := post(t, env, s.token, "/brands/"+s.brand+"/products/bulk", "", `{"items":[`+strings.Join(items, ",")+`]}`)
	if r.status != http.StatusOK {
		t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	var bulk struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(r.body, &bulk); err != nil {
		t.Fatal(err)
	}
	for _, it := range bulk.Items {
		s.products = append(s.products, it.ID)
	}
	r = post(t, env, s.token, "/brands/"+s.brand+"/locations", "", `{"code":"IDEM-WH","name":"Warehouse"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("location: %d %s", r.status, r.body)
	}
	var loc struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &loc); err != nil {
		t.Fatal(err)
	}
	s.location = loc.ID
	if len(s.products) != n {
		t.Fatalf("products = %d (%s)", len(s.products), r.body)
	}
	return s
}

// adjustment is an adjustment of delta on each of the first n products.
func (s stock) adjustment(kind string, n int, delta int) string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"productId":%q,"locationId":%q,"delta":%d}`, s.products[i], s.location, delta)
	}
	return `{"kind":"` + kind + `","lines":[` + strings.Join(lines, ",") + `]}`
}

// TestPathUUIDCaseKeepsTheFingerprint (issue 16 item 11): the server reads path UUIDs in any
// case, so a retry that spells the brand id in the other case is the same request: it gets the
// first answer replayed (it got 422 idempotency_key_reused), and the stock moved once.
func TestPathUUIDCaseKeepsTheFingerprint(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	s := newStock(t, env, 1)
	body := s.adjustment("receipt", 1, 1)
	for _, c := range []struct{ name, first, retry string }{
		{"lower then upper", strings.ToLower(s.brand), strings.ToUpper(s.brand)},
		{"upper then lower", strings.ToUpper(s.brand), strings.ToLower(s.brand)},
		{"mixed then lower", strings.ToUpper(s.brand[:8]) + s.brand[8:], strings.ToLower(s.brand)},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := "case-" + strings.ReplaceAll(c.name, " ", "-")
			first := post(t, env, s.token, "/brands/"+c.first+"/inventory/adjustments", key, body)
			if first.status != http.StatusCreated || first.replayed {
				t.Fatalf("first: %d replayed=%v %s", first.status, first.replayed, first.body)
			}
			retry := post(t, env, s.token, "/brands/"+c.retry+"/inventory/adjustments", key, body)
			if retry.status != http.StatusCreated || !retry.replayed || !bytes.Equal(retry.body, first.body) {
				t.Fatalf("retry: %d replayed=%v %s", retry.status, retry.replayed, retry.body)
			}
		})
	}
	req, err := http.NewRequest(http.MethodGet, env.URL+"/brands/"+s.brand+"/products/"+s.products[0]+"/inventory", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var level struct {
		OnHand int64 `json:"onHand"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&level); err != nil || resp.StatusCode != http.StatusOK || level.OnHand != 3 {
		t.Fatalf("level %d: onHand = %d (%v), want 3: one receipt per case", resp.StatusCode, level.OnHand, err)
	}
}

// TestRefusedAnswersAreBounded (issue 16 item 8): a refused answer over MaxRefusedBytes is not
// stored (a retry runs again), a brand holds at most MaxRefusedPerBrand live refusals (past it
// they are not stored), and successes are always stored.
func TestRefusedAnswersAreBounded(t *testing.T) {
	t.Parallel()
	env := servertest.New(t, func(c *server.Config) {
		c.IdempotencyBounds = idempotency.Bounds{MaxRefusedBytes: 2048, MaxRefusedPerBrand: 3}
	})
	s := newStock(t, env, 30)
	path := "/brands/" + s.brand + "/inventory/adjustments"
	stored := func(t *testing.T, key string) bool {
		t.Helper()
		var n int
		if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM idempotency_keys WHERE key = $1", key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	refusals := func(t *testing.T) int {
		t.Helper()
		var n int
		if err := env.Pool.QueryRow(ctx, "SELECT count(*) FROM idempotency_keys WHERE status >= 400").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("a small refusal is stored and replayed exactly", func(t *testing.T) {
		first := post(t, env, s.token, path, "small-1", s.adjustment("adjustment", 1, -1))
		if first.status != http.StatusUnprocessableEntity || len(first.body) > 2048 {
			t.Fatalf("first: %d, %d bytes %s", first.status, len(first.body), first.body)
		}
		retry := post(t, env, s.token, path, "small-1", s.adjustment("adjustment", 1, -1))
		if retry.status != first.status || !retry.replayed || !bytes.Equal(retry.body, first.body) {
			t.Fatalf("retry: %d replayed=%v %s", retry.status, retry.replayed, retry.body)
		}
	})
	t.Run("a refusal over the byte cap is not stored and runs again", func(t *testing.T) {
		big := s.adjustment("adjustment", 30, -1)
		first := post(t, env, s.token, path, "big-1", big)
		if first.status != http.StatusUnprocessableEntity || len(first.body) <= 2048 {
			t.Fatalf("first: %d, %d bytes", first.status, len(first.body))
		}
		if stored(t, "big-1") {
			t.Fatal("the refusal over the cap was stored")
		}
		retry := post(t, env, s.token, path, "big-1", big)
		if retry.status != http.StatusUnprocessableEntity || retry.replayed {
			t.Fatalf("retry: %d replayed=%v", retry.status, retry.replayed)
		}
		// The stock arrives; the retry with the same key now runs, succeeds and is stored.
		if r := post(t, env, s.token, path, "receipt-1", s.adjustment("receipt", 30, 1)); r.status != http.StatusCreated {
			t.Fatalf("receipt: %d %s", r.status, r.body)
		}
		ok := post(t, env, s.token, path, "big-1", big)
		if ok.status != http.StatusCreated || ok.replayed || !stored(t, "big-1") {
			t.Fatalf("retry after the receipt: %d replayed=%v stored=%v %s", ok.status, ok.replayed, stored(t, "big-1"), ok.body)
		}
	})
	t.Run("a brand holds at most MaxRefusedPerBrand refusals", func(t *testing.T) {
		// The stock is back to 0; "small-1" is the one refusal stored so far.
		for i, want := range []bool{true, true, false, false} {
			key := fmt.Sprintf("refused-%d", i+2)
			r := post(t, env, s.token, path, key, s.adjustment("adjustment", 1, -1))
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s: %d %s", key, r.status, r.body)
			}
			if got := stored(t, key); got != want {
				t.Fatalf("%s stored = %v, want %v", key, got, want)
			}
		}
		if n := refusals(t); n != 3 {
			t.Fatalf("stored refusals = %d, want 3", n)
		}
		// A success is stored however many refusals the brand holds.
		if r := post(t, env, s.token, path, "receipt-2", s.adjustment("receipt", 1, 1)); r.status != http.StatusCreated || !stored(t, "receipt-2") {
			t.Fatalf("receipt: %d stored=%v %s", r.status, stored(t, "receipt-2"), r.body)
		}
	})
}
