package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// The webhook scenario's figures: its ratio is order_create's row of the same run at the same
// connections, and its lag table shows what the receiver got.
func TestWebhookScenarioReport(t *testing.T) {
	t.Parallel()
	var sc []Scenario
	for _, s := range scenarios {
		if s.Name == orderCreateName || s.Name == orderWebhookName {
			sc = append(sc, s)
		}
	}
	if len(sc) != 2 || sc[0].Name != orderCreateName || sc[1].Name != orderWebhookName {
		t.Fatalf("order_webhook does not run right after order_create: %v", sc)
	}
	res := func(ok int) load.Result { return load.Result{OK: ok, Elapsed: 10 * time.Second} }
	r := report{o: options{conns: []int{16, 64}}, scenarios: sc, runs: []row{
		{name: orderCreateName, conns: 16, res: res(1000)},
		{name: orderCreateName, conns: 64, res: res(2000)},
		{name: orderWebhookName, conns: 16, res: res(900), deliveries: &deliveries{orders: 900, delivered: 900,
			lag: load.Summary{P50: 40 * time.Millisecond, P90: 80 * time.Millisecond, P99: 120 * time.Millisecond, Max: 300 * time.Millisecond}}},
		{name: orderWebhookName, conns: 64, res: res(1000), deliveries: &deliveries{orders: 1000, delivered: 999}},
	}}
	md := r.markdown()
	for _, want := range []string{
		"| 100/s order_create, same run | 90% |",
		"| 200/s order_create, same run | 50% |",
		"| " + orderWebhookName + " | 16 | 900 | 900 | 40.0 ms | 80.0 ms | 120.0 ms | 300.0 ms |",
		"| " + orderWebhookName + " | 64 | 1000 | 999 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

// The receiver counts each event once, however often it is delivered, and times it from its
// occurredAt.
func TestReceiverCountsEventsOnce(t *testing.T) {
	t.Parallel()
	r, err := startReceiver()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	send := func(id string, occurred time.Time) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.url, strings.NewReader(`{"id":"`+id+`","occurredAt":"`+occurred.UTC().Format(time.RFC3339Nano)+`"}`))
		req.Header.Set("webhook-id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	past := time.Now().Add(-time.Second)
	for _, id := range []string{"a", "a", "b"} {
		if got := send(id, past); got != http.StatusNoContent {
			t.Fatalf("delivery %s answered %d", id, got)
		}
	}
	lags := r.await(context.Background(), 2)
	if len(lags) != 2 {
		t.Fatalf("%d events, want 2", len(lags))
	}
	for _, l := range lags {
		if l < time.Second || l > time.Minute {
			t.Errorf("lag %s, want about a second", l)
		}
	}
	r.reset()
	if lags := r.await(context.Background(), 0); len(lags) != 0 {
		t.Errorf("after reset: %v", lags)
	}
}
