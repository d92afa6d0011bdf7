package imports_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
)

// The import's throughput, and the export's memory: an export of every product holds one batch,
// so the heap in use while it streams stays within 50 MiB of what it was before, however many
// products there are. CSV_MEASURE_ROWS sets how many (5,000 by default; the README's figure is of
// 100,000). The server runs in this process, so the heap measured is the server's and the
// client's together, the client discarding what it reads.
func TestImportThroughputAndExportMemory(t *testing.T) {
	t.Parallel()
	rows := 5000
	if v := os.Getenv("CSV_MEASURE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		rows = n
	}
	e := setup(t)
	var file strings.Builder
	file.WriteString("sku,name,priceAmount,currency,status,description,tags,attributes\n")
	for i := range rows {
		fmt.Fprintf(&file, "M-%07d,Measured product %d,%d,USD,active,A product to measure the import with,\"[\"\"bench\"\"]\",\"{\"\"size\"\":\"\"M\"\"}\"\n", i, i, 100+i)
	}
	body := file.String()
	start := time.Now()
	imp := e.run(t, api.ImportKindProducts, body, nil)
	took := time.Since(start)
	wantCounts(t, "measured import", imp, api.ImportStatusSucceeded, rows, 0, 0, 0)
	for _, l := range strings.Split(e.Env.Logs(), "\n") {
		if strings.Contains(l, "msg=\"import validated\"") || strings.Contains(l, "msg=\"import applied\"") {
			t.Log(l)
		}
	}
	t.Logf("imported %d products (%d bytes) in %s: %.0f rows/s", rows, len(body), took.Round(time.Millisecond), float64(rows)/took.Seconds())
	file.Reset() // the file's bytes are garbage from here (body is not used again), so the GC below frees them

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	start = time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Env.URL+"/brands/"+e.Brand.String()+"/exports/products.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.Owner.AccessToken)
	resp, err := http.DefaultClient.Do(req) // not the validating client: it would hold the body
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	close(stop)
	<-sampled
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %v %d", err, resp.StatusCode)
	}
	growth := int64(peak.Load()) - int64(before.HeapInuse) //nolint:gosec // heap sizes
	t.Logf("exported %d products (%d bytes) in %s: %.0f rows/s; heap in use %d MiB before, peak %d MiB during (+%d MiB)",
		rows, n, time.Since(start).Round(time.Millisecond), float64(rows)/time.Since(start).Seconds(), before.HeapInuse>>20, peak.Load()>>20, growth>>20)
	if growth > 50<<20 {
		t.Errorf("the export grew the heap by %d MiB", growth>>20)
	}
}
