package imports_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

var ctx = context.Background()

type env struct {
	servertest.StockBrand
}

// setup starts a server with its job queue and a brand owner.
func setup(t *testing.T) env {
	t.Helper()
	e := servertest.New(t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Handler.RunJobs(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunJobs: %v", err)
		}
	})
	return env{servertest.NewStockBrand(t, e, "csv")}
}

func (e env) upload(t *testing.T, kind api.ImportKind, body string, edit func(*api.CreateImportParams)) *api.CreateImportResponse {
	t.Helper()
	p := &api.CreateImportParams{Kind: kind}
	if edit != nil {
		edit(p)
	}
	resp, err := e.Env.Client.CreateImportWithBodyWithResponse(ctx, e.Brand, p, "text/csv", strings.NewReader(body), e.Auth)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// run uploads body and waits for its import to finish.
func (e env) run(t *testing.T, kind api.ImportKind, body string, edit func(*api.CreateImportParams)) api.Import {
	t.Helper()
	resp := e.upload(t, kind, body, edit)
	if resp.JSON202 == nil {
		t.Fatalf("upload = %d %s", resp.StatusCode(), resp.Body)
	}
	if loc := resp.HTTPResponse.Header.Get("Location"); loc != "/brands/"+e.Brand.String()+"/imports/"+resp.JSON202.Id.String() {
		t.Errorf("Location = %q", loc)
	}
	return e.wait(t, resp.JSON202.Id)
}

// wait polls the import until the job has finished it (the job runs in the background).
func (e env) wait(t *testing.T, id uuid.UUID) api.Import {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute) // the machine may be loaded; a hung job still fails
	var last api.Import
	for time.Now().Before(deadline) {
		r, err := e.Env.Client.GetImportWithResponse(ctx, e.Brand, id, e.Auth)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("get import: %v %d %s\n%s", err, r.StatusCode(), r.Body, e.Env.Logs())
		}
		last = *r.JSON200
		if s := last.Status; s == api.ImportStatusSucceeded || s == api.ImportStatusFailed {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("import %s did not finish: %s, %d of %d rows done", id, last.Status, last.RowsDone, last.RowsTotal)
	return api.Import{}
}

func wantCounts(t *testing.T, what string, imp api.Import, status api.ImportStatus, created, updated, unchanged, errs int) {
	t.Helper()
	if imp.Status != status || imp.Created != created || imp.Updated != updated || imp.Unchanged != unchanged || imp.ErrorCount != errs {
		t.Errorf("%s: status %s created %d updated %d unchanged %d errors %d (%+v, failure %v), want %s %d %d %d %d",
			what, imp.Status, imp.Created, imp.Updated, imp.Unchanged, imp.ErrorCount, imp.Errors, imp.Failure, status, created, updated, unchanged, errs)
	}
}

func (e env) product(t *testing.T, sku string) api.Product {
	t.Helper()
	limit := 100
	params := &api.ListProductsParams{Limit: &limit}
	for {
		r, err := e.Env.Client.ListProductsWithResponse(ctx, e.Brand, params, e.Auth)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("list: %v %s", err, r.Body)
		}
		for _, p := range r.JSON200.Items {
			if p.Sku == sku {
				return p
			}
		}
		if r.JSON200.NextCursor == nil {
			break
		}
		params.Cursor = r.JSON200.NextCursor
	}
	t.Fatalf("no product %s", sku)
	return api.Product{}
}

func TestProductImportCreatesUpdatesAndTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	file := "\xEF\xBB\xBFsku,name,priceAmount,currency,status,description,tags,attributes\r\n" +
		"A-1,Alpha,100,USD,active,\"first, with comma\",\"[\"\"x\"\"]\",\"{\"\"color\"\":\"\"red\"\"}\"\r\n" +
		"B-2,Beta,200,,,,,\r\n" +
		"C-3,Gamma,300,EUR,draft,,,\r\n"
	wantCounts(t, "first", e.run(t, api.ImportKindProducts, file, nil), api.ImportStatusSucceeded, 3, 0, 0, 0)
	a := e.product(t, "A-1")
	if a.Name != "Alpha" || a.PriceAmount != 100 || a.Description == nil || *a.Description != "first, with comma" ||
		len(a.Tags) != 1 || a.Tags[0] != "x" || a.Attributes["color"] != "red" || a.Status != api.Active {
		t.Errorf("A-1 = %+v", a)
	}
	if b := e.product(t, "B-2"); b.Status != api.Draft || b.Description != nil {
		t.Errorf("B-2 took no defaults: %+v", b)
	}
	wantCounts(t, "again", e.run(t, api.ImportKindProducts, file, nil), api.ImportStatusSucceeded, 0, 0, 3, 0)
	if again := e.product(t, "A-1"); again.Version != a.Version {
		t.Errorf("the second import made version %d of A-1 (was %d)", again.Version, a.Version)
	}
	// Columns left out keep the stored values (the bulk upsert's rule).
	wantCounts(t, "name only", e.run(t, api.ImportKindProducts, "sku,name,priceAmount\nA-1,Alpha 2,100\nB-2,Beta,200\n", nil),
		api.ImportStatusSucceeded, 0, 1, 1, 0)
	if a2 := e.product(t, "A-1"); a2.Name != "Alpha 2" || a2.Description == nil || a2.Tags[0] != "x" || a2.Attributes["color"] != "red" || a2.Version != a.Version+1 {
		t.Errorf("A-1 after a name-only import = %+v", a2)
	}
}

func TestInvalidRowChangesNothingUnlessPartial(t *testing.T) {
	t.Parallel()
	e := setup(t)
	file := "sku,name,priceAmount,currency\n" +
		"OK-1,Fine,100,USD\n" +
		"BAD 2,Bad sku,100,USD\n" +
		"OK-3,Bad price,1.5,USD\n" +
		"OK-1,Repeat,100,USD\n" +
		"OK-5,Bad currency,100,XXX\n" +
		"OK-6,Fine too,5,\n"
	imp := e.run(t, api.ImportKindProducts, file, nil)
	wantCounts(t, "all", imp, api.ImportStatusFailed, 0, 0, 0, 4)
	want := map[string]bool{"3 sku": true, "4 priceAmount": true, "5 sku": true, "6 currency": true}
	for _, er := range imp.Errors {
		delete(want, fmt.Sprintf("%d %s", er.Row, er.Column))
	}
	if len(want) > 0 {
		t.Errorf("errors %+v miss %v", imp.Errors, want)
	}
	r, err := e.Env.Client.ListProductsWithResponse(ctx, e.Brand, nil, e.Auth)
	if err != nil || len(r.JSON200.Items) != 0 {
		t.Fatalf("a failed import created products: %v %s", err, r.Body)
	}
	csv, err := e.Env.Client.GetImportErrorsCsvWithResponse(ctx, e.Brand, imp.Id, e.Auth)
	if err != nil || csv.StatusCode() != http.StatusOK {
		t.Fatalf("errors.csv: %v %d", err, csv.StatusCode())
	}
	if lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\r\n"); len(lines) != 5 || lines[0] != "row,column,message" || !strings.HasPrefix(lines[1], "3,sku,") {
		t.Errorf("errors.csv = %q", csv.Body)
	}

	partial := api.ImportModePartial
	imp = e.run(t, api.ImportKindProducts, file, func(p *api.CreateImportParams) { p.Mode = &partial })
	wantCounts(t, "partial", imp, api.ImportStatusSucceeded, 2, 0, 0, 4)
	e.product(t, "OK-6")
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	yes := true
	imp := e.run(t, api.ImportKindProducts, "sku,name,priceAmount\nD-1,Dry,1\n", func(p *api.CreateImportParams) { p.DryRun = &yes })
	wantCounts(t, "dry run", imp, api.ImportStatusSucceeded, 0, 0, 0, 0)
	if imp.RowsTotal != 1 || !imp.DryRun {
		t.Errorf("dry run = %+v", imp)
	}
	r, _ := e.Env.Client.ListProductsWithResponse(ctx, e.Brand, nil, e.Auth)
	if len(r.JSON200.Items) != 0 {
		t.Errorf("a dry run created %d products", len(r.JSON200.Items))
	}
}

// Hostile files: a 400 naming the header, or per-row errors; never a 5xx.
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	e := setup(t)
	head := "sku,name,priceAmount\n"
	for _, c := range []struct {
		name   string
		body   string
		status int
		row    int
	}{
		{"empty", "", http.StatusBadRequest, 0},
		{"unknown column", "sku,name,priceAmount,price\n", http.StatusBadRequest, 0},
		{"no sku column", "name,priceAmount\n", http.StatusBadRequest, 0},
		{"1M columns in the header", strings.Repeat("sku,", 1<<20) + "\n", http.StatusBadRequest, 0},
		{"invalid UTF-8 header", "sku,n\xffame\n", http.StatusBadRequest, 0},
		{"10 MB single cell", head + "A," + strings.Repeat("x", 10<<20) + ",1\nB,ok,1\n", http.StatusAccepted, 2},
		{"1M columns in a row", head + strings.Repeat("a,", 1<<20) + "\n", http.StatusAccepted, 2},
		{"broken quoting", head + "A,\"open,1\nB,ok,1\n", http.StatusAccepted, 2},
		{"bare quote", head + "A,x\"y,1\n", http.StatusAccepted, 2},
		{"invalid UTF-8", head + "A,\xff\xfe,1\n", http.StatusAccepted, 2},
		{"NUL", head + "A,x\x00y,1\n", http.StatusAccepted, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := e.upload(t, api.ImportKindProducts, c.body, nil)
			if resp.StatusCode() != c.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode(), c.status, resp.Body)
			}
			if c.status == http.StatusBadRequest {
				if p := resp.ApplicationproblemJSON400; p == nil || p.Errors == nil || (*p.Errors)[0].Field != "header" {
					t.Errorf("400 without a header error: %s", resp.Body)
				}
				return
			}
			imp := e.wait(t, resp.JSON202.Id)
			if imp.Status != api.ImportStatusFailed || imp.ErrorCount == 0 || imp.Errors[0].Row != c.row {
				t.Errorf("import = %s, errors %+v", imp.Status, imp.Errors)
			}
		})
	}
}

func TestProductsExportReimportsToNoChange(t *testing.T) {
	t.Parallel()
	e := setup(t)
	desc := "line one\nline \"two\", with comma"
	tags := api.Tags{"a", "=b"}
	attrs := api.Attributes{"formula": "+1", "plain": "x"}
	active := api.Active
	e.CreateProduct(t, api.CreateProductRequest{Sku: "-LEADING-DASH", Name: "=HYPERLINK(\"http://evil\")", PriceAmount: 1, Description: &desc, Tags: &tags, Attributes: &attrs, Status: &active})
	e.CreateProduct(t, api.CreateProductRequest{Sku: "PLAIN", Name: "@SUM(A1)", PriceAmount: 0})
	for i := range 1200 { // more than one export batch
		e.CreateProduct(t, api.CreateProductRequest{Sku: fmt.Sprintf("N-%04d", i), Name: "n", PriceAmount: int64(i)})
	}
	r, err := e.Env.Client.ExportProductsCsvWithResponse(ctx, e.Brand, e.Auth)
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("export: %v %d %s", err, r.StatusCode(), r.Body)
	}
	body := string(r.Body)
	if ct := r.HTTPResponse.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{"'-LEADING-DASH,", "\"'=HYPERLINK(\"\"http://evil\"\")\"", "'@SUM(A1)"} {
		if !strings.Contains(body, want) {
			t.Errorf("export lacks %s", want)
		}
	}
	if n := strings.Count(body, "\r\n"); n != 1203 { // the header and the rows (the description's line break is its own \n)
		t.Errorf("export has %d line ends", n)
	}
	wantCounts(t, "re-import", e.run(t, api.ImportKindProducts, body, nil), api.ImportStatusSucceeded, 0, 0, 1202, 0)
	if p := e.product(t, "-LEADING-DASH"); p.Version != 1 || p.Name != "=HYPERLINK(\"http://evil\")" {
		t.Errorf("round trip changed %+v", p)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := setup(t)
	key := func(k string) func(p *api.CreateImportParams) {
		return func(p *api.CreateImportParams) { p.IdempotencyKey = &k }
	}
	first := e.upload(t, api.ImportKindProducts, "sku,name,priceAmount\nK-1,k,1\n", key("k1"))
	again := e.upload(t, api.ImportKindProducts, "sku,name,priceAmount\nK-1,k,1\n", key("k1"))
	if first.JSON202 == nil || again.JSON202 == nil || again.JSON202.Id != first.JSON202.Id || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %d %s, first %s", again.StatusCode(), again.Body, first.Body)
	}
	other := e.upload(t, api.ImportKindProducts, "sku,name,priceAmount\nK-2,k,1\n", key("k1"))
	servertest.WantProblem(t, "another file, same key", other.HTTPResponse, other.ApplicationproblemJSON422, http.StatusUnprocessableEntity, api.ProblemCodeIdempotencyKeyReused)
	wantCounts(t, "once", e.wait(t, first.JSON202.Id), api.ImportStatusSucceeded, 1, 0, 0, 0)
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	staff := e.Env.Member(t, e.Owner, api.InvitationRoleSTAFF)
	r, err := e.Env.Client.CreateImportWithBodyWithResponse(ctx, e.Brand, &api.CreateImportParams{Kind: api.ImportKindStock}, "text/csv",
		strings.NewReader("sku,locationCode,onHand\n"), servertest.Bearer(staff.AccessToken))
	if err != nil || r.StatusCode() != http.StatusForbidden {
		t.Errorf("staff import = %v %d", err, r.StatusCode())
	}
	resp, err := e.Env.Client.CreateImportWithBodyWithResponse(ctx, e.Brand, &api.CreateImportParams{Kind: api.ImportKindProducts}, "application/json",
		strings.NewReader("{}"), e.Auth)
	if err != nil || resp.StatusCode() != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body = %v %d", err, resp.StatusCode())
	}
}

// A stock import racing adjustments and reservations keeps the ledger exact: every level equals
// its movements (inventory.Mismatches) and its holds (AssertStock).
func TestStockImportRacingStockChanges(t *testing.T) {
	t.Parallel()
	e := setup(t)
	main, side := e.Location(t, "MAIN"), e.Location(t, "SIDE")
	var file strings.Builder
	file.WriteString("sku,locationCode,receive,reference,onHand\n")
	var ids []uuid.UUID
	for i := range 20 {
		p := e.CreateProduct(t, api.CreateProductRequest{Sku: fmt.Sprintf("S-%02d", i), Name: "s", PriceAmount: 1})
		ids = append(ids, p.Id)
		e.Receive(t, p.Id, main.Id, 50)
		fmt.Fprintf(&file, "S-%02d,MAIN,10,PO-1,\n", i)
		fmt.Fprintf(&file, "S-%02d,SIDE,,,7\n", i)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, id := range ids {
				if (i+w)%2 == 0 {
					e.Adjust(t, api.AdjustmentAdjustment, api.StockAdjustmentLine{ProductId: id, LocationId: main.Id, Delta: -1})
				} else {
					e.Reserve(t, api.ReservationRequestLine{ProductId: id, LocationId: &side.Id, Quantity: 1})
				}
			}
		}()
	}
	imp := e.run(t, api.ImportKindStock, file.String(), nil)
	wg.Wait()
	wantCounts(t, "stock", imp, api.ImportStatusSucceeded, 0, 40, 0, 0)
	e.Env.AssertStock(t, e.Brand)
	if m := e.Env.StockMismatches(t, e.Brand); len(m) > 0 {
		t.Errorf("mismatches %+v", m)
	}
	for _, id := range ids {
		if l := e.Level(t, id, main.Id); l.OnHand != 50+10-2 {
			t.Errorf("MAIN on hand %d, want 58", l.OnHand)
		}
	}
	// Twice: the receipts' reference has been received, the counts match.
	wantCounts(t, "stock again", e.run(t, api.ImportKindStock, file.String(), nil), api.ImportStatusSucceeded, 0, 0, 40, 0)
	// The stock export re-imports (as counts) to no change.
	r, err := e.Env.Client.ExportStockCsvWithResponse(ctx, e.Brand, e.Auth)
	if err != nil || r.StatusCode() != http.StatusOK || !strings.HasPrefix(string(r.Body), "sku,locationCode,onHand,reserved,available\r\nS-00,MAIN,58,0,58\r\n") {
		t.Fatalf("stock export: %v %d %.200s", err, r.StatusCode(), r.Body)
	}
	wantCounts(t, "stock export", e.run(t, api.ImportKindStock, string(r.Body), nil), api.ImportStatusSucceeded, 0, 0, 40, 0)
	e.Env.AssertStock(t, e.Brand)
}
