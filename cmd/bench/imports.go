package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/cmd/bench/internal/load"
)

// The CSV scenarios (issue 20): a products import of as many rows as a brand has seeded products
// (100,000; 5,000 quick), with variants, against the bulk upsert endpoint writing the same kind of
// rows in the same run; then the products export of that brand, with the server's peak resident
// set during it. Their rows report products per second, not requests: an import is one upload
// and a job, an export one request for the whole catalog.

const (
	importBulkName   = "import_bulk: POST /brands/{brandId}/products/bulk, 1,000 products a request"
	importCSVName    = "import_csv: POST /brands/{brandId}/imports (products, with variants)"
	exportCSVName    = "export_csv: GET /brands/{brandId}/exports/products.csv"
	bulkItems        = 1000
	importMaxWait    = 10 * time.Minute
	variantGroupRows = 250 // one product with 3 variants in every 250 rows
)

// csvRun is what the CSV scenarios share within a harness run.
var csvRun struct {
	mu       sync.Mutex
	importID string
	rows     int
	// exported is the rows of the last export (its lines but the header).
	exported atomic.Int64
	// bulkSeq numbers the bulk requests, for fresh SKUs.
	bulkSeq atomic.Int64
}

func init() {
	scenarios = append(scenarios,
		Scenario{
			Name:   importBulkName,
			Conns:  []int{1},
			Client: newBulkClient,
			After:  perItem(bulkItems),
		},
		Scenario{
			Name:   importCSVName,
			Expect: http.StatusAccepted,
			Conns:  []int{1},
			Limits: []Limit{sameRunLimit(importBulkName)},
			Client: newImportClient,
			After:  awaitImport,
		},
		Scenario{
			Name:   exportCSVName,
			Conns:  []int{1},
			Client: newExportClient,
			After: func(_ context.Context, _ *harness, r *row) error {
				return perItem(int(csvRun.exported.Load()))(context.Background(), nil, r)
			},
		},
	)
}

// csvBrand is the brand the CSV scenarios write: the last seeded one (the search and list
// scenarios read the first ones).
func csvBrand(f *Fixture) *Session {
	ss := f.sessionsOf(f.Brands)
	return ss[0]
}

// perItem makes a run's rate items per second: each answer stood for n of them.
func perItem(n int) func(context.Context, *harness, *row) error {
	return func(_ context.Context, _ *harness, r *row) error {
		r.res.OK *= n
		return nil
	}
}

// newBulkClient upserts 1,000 new products a request.
func newBulkClient(f *Fixture, _, _ int) load.Client {
	s := csvBrand(f)
	run := time.Now().UnixNano()
	return load.Func(func() load.Request {
		seq := csvRun.bulkSeq.Add(1)
		var b strings.Builder
		b.WriteString(`{"items":[`)
		for i := range bulkItems {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"sku":"BULK-%d-%d-%04d","name":"Bulk product %d","priceAmount":%d,"currency":"USD","status":"active","description":"A product to measure the import with","tags":["bench"],"attributes":{"size":"M"}}`,
				run, seq, i, i, 100+i)
		}
		b.WriteString("]}")
		return load.Request{Method: http.MethodPost, Path: "/brands/" + s.BrandID + "/products/bulk", Bearer: s.Access, Body: []byte(b.String())}
	})
}

// importFile is a products file of rows rows with fresh SKUs: plain products, and in every 250
// rows a product with two options and three variants (the variants first: they wait for their
// product's row).
func importFile(rows int) []byte {
	run := time.Now().UnixNano()
	var b strings.Builder
	b.WriteString("sku,name,priceAmount,currency,status,description,tags,attributes,parentSku,options,option1Name,option1Value,option2Name,option2Value,weightGrams\n")
	for i := 0; i < rows; {
		if i%variantGroupRows == 0 && rows-i >= 4 {
			parent := fmt.Sprintf("IMP-%d-%07d", run, i)
			for j, size := range []string{"S", "M", "L"} {
				fmt.Fprintf(&b, "%s-%s,Tee %s,%d,,active,,,,%s,,Size,%s,Colour,Black,%d\n", parent, size, size, 1000+j, parent, size, 180+j)
			}
			fmt.Fprintf(&b, "%s,Tee,1000,USD,active,A tee,,,,\"[{\"\"name\"\":\"\"Size\"\",\"\"values\"\":[\"\"S\"\",\"\"M\"\",\"\"L\"\"]},{\"\"name\"\":\"\"Colour\"\",\"\"values\"\":[\"\"Black\"\"]}]\",,,,,\n", parent)
			i += 4
			continue
		}
		fmt.Fprintf(&b, "IMP-%d-%07d,Imported product %d,%d,USD,active,A product to measure the import with,\"[\"\"bench\"\"]\",\"{\"\"size\"\":\"\"M\"\"}\",,,,,,,\n", run, i, i, 100+i)
		i++
	}
	return []byte(b.String())
}

// importClient uploads one file, then reads its import until the run ends (awaitImport waits
// for the rest).
type importClient struct {
	s    *Session
	file []byte
	sent bool
}

func newImportClient(f *Fixture, _, _ int) load.Client {
	csvRun.mu.Lock()
	csvRun.importID, csvRun.rows = "", f.Products
	csvRun.mu.Unlock()
	return &importClient{s: csvBrand(f), file: importFile(f.Products)}
}

func (c *importClient) Next() load.Request {
	csvRun.mu.Lock()
	id := csvRun.importID
	csvRun.mu.Unlock()
	if !c.sent || id == "" {
		c.sent = true
		return load.Request{Method: http.MethodPost, Path: "/brands/" + c.s.BrandID + "/imports?kind=products", Bearer: c.s.Access, Body: c.file, ContentType: "text/csv"}
	}
	return load.Request{Method: http.MethodGet, Path: "/brands/" + c.s.BrandID + "/imports/" + id, Bearer: c.s.Access, Expect: http.StatusOK}
}

func (c *importClient) Done(status int, body []byte, err error) error {
	if err != nil || status != http.StatusAccepted {
		return nil
	}
	var imp struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &imp); err != nil || imp.ID == "" {
		return fmt.Errorf("import answer: %w", err)
	}
	csvRun.mu.Lock()
	csvRun.importID = imp.ID
	csvRun.mu.Unlock()
	return nil
}

// awaitImport waits for the run's import to end, and makes the row's rate its rows per second,
// from its upload to its end (the job's queueing, validation and writing).
func awaitImport(ctx context.Context, h *harness, r *row) error {
	csvRun.mu.Lock()
	id, rows := csvRun.importID, csvRun.rows
	csvRun.mu.Unlock()
	if id == "" {
		return fmt.Errorf("no import was uploaded")
	}
	deadline := time.Now().Add(importMaxWait)
	for {
		ms, err := h.adminExec(ctx, "import_wait.sql", pgx.NamedArgs{"id": id})
		switch {
		case err != nil:
			return err
		case ms == -2:
			return fmt.Errorf("import %s failed", id)
		case ms > 0:
			took := time.Duration(ms) * time.Millisecond
			h.logf("%s: %d rows in %s", importCSVName, rows, took)
			r.res.OK, r.res.Elapsed = rows, took
			r.res.Latency.P99, r.res.Latency.Max = took, took
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("import %s still running after %s", id, importMaxWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// newExportClient reads the brand's whole products export, again and again.
func newExportClient(f *Fixture, _, _ int) load.Client {
	s := csvBrand(f)
	return exportClient{path: "/brands/" + s.BrandID + "/exports/products.csv", bearer: s.Access}
}

type exportClient struct{ path, bearer string }

func (c exportClient) Next() load.Request {
	return load.Request{Method: http.MethodGet, Path: c.path, Bearer: c.bearer}
}

func (exportClient) Done(status int, body []byte, err error) error {
	if err == nil && status == http.StatusOK {
		csvRun.exported.Store(int64(strings.Count(string(body), "\r\n") - 1))
	}
	return nil
}
