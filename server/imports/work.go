package imports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/catalog"
	"github.com/ecompointer/ecompointer/server/csvfile"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/jobs"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// queue is river's queue of imports (queries/imports.sql enqueues on it).
const queue = "imports"

// Job bounds: an import may run long (a 50 MiB file), so its worker says it is alive every
// heartbeat instead of stretching river's rescue of every other domain's abandoned jobs.
const (
	jobTimeout = 30 * time.Minute
	heartbeat  = 10 * time.Second
)

// Domain is the import worker on the shared job queue (server/jobs).
func (h *Handlers) Domain() jobs.Domain {
	return jobs.Domain{
		Name:     "imports",
		Register: func(w *river.Workers) { river.AddWorker(w, &worker{h: h}) },
		// Two imports at once an instance: each is a long stream of batches.
		Queues: map[string]river.QueueConfig{queue: jobs.Queue(0, 2)},
		// What river's rescuer must allow between two heartbeats.
		JobTimeout: 2 * heartbeat,
		Drain:      5 * time.Second,
	}
}

type jobArgs struct {
	BrandID  uuid.UUID `json:"brandId"`
	ImportID uuid.UUID `json:"importId"`
}

func (jobArgs) Kind() string { return "csv_import" }

type worker struct {
	river.WorkerDefaults[jobArgs]
	h *Handlers
}

// Timeout bounds a whole import; the heartbeat keeps it from looking abandoned meanwhile.
func (w *worker) Timeout(*river.Job[jobArgs]) time.Duration { return jobTimeout }

func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	beatCtx, stop := context.WithCancel(ctx)
	defer stop()
	go w.h.beat(beatCtx, job.ID)
	return w.h.Work(ctx, job.Args.BrandID, job.Args.ImportID)
}

// beat tells river's rescuer the job is alive (its attempted_at, which the rescuer ages) until
// ctx ends.
func (h *Handlers) beat(ctx context.Context, jobID int64) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := h.d.Queries.ImportJobHeartbeat(ctx, jobID); err != nil && ctx.Err() == nil {
				h.d.Log.WarnContext(ctx, "import heartbeat failed", "error", err)
			}
		}
	}
}

// Work runs (or resumes) an import to its end. It is what the job does; tests call it directly.
// Validation reads the whole file and changes nothing; the rows are then applied in batches, each
// committing its changes with the import's progress, so a run cut short (a crash, a restart)
// resumes after the last committed batch.
func (h *Handlers) Work(ctx context.Context, brand, id uuid.UUID) error {
	imp, err := kit.ReadInBrand(ctx, h.d, brand, func(q *db.Queries) (db.Import, error) {
		return q.ImportGet(ctx, db.ImportGetParams{BrandID: brand, ID: id})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if imp.Status == string(api.ImportStatusSucceeded) || imp.Status == string(api.ImportStatusFailed) {
		return nil
	}
	if _, err := kit.InBrand(ctx, h.d, brand, func(q *db.Queries) (struct{}, error) {
		return struct{}{}, q.ImportStart(ctx, db.ImportStartParams{BrandID: brand, ID: id, Now: h.d.Now()})
	}); err != nil {
		return err
	}
	if !imp.Validated {
		start := time.Now()
		if imp, err = h.validateAll(ctx, imp); err != nil {
			return err
		}
		h.d.Log.InfoContext(ctx, "import validated", "import_id", imp.ID, "rows", imp.RowsTotal, "errors", imp.ErrorCount, "took", time.Since(start))
		switch {
		case imp.ErrorCount > 0 && imp.Mode != string(api.ImportModePartial):
			msg := fmt.Sprintf("%d errors in the file; nothing was changed (mode=partial applies the valid rows)", imp.ErrorCount)
			return h.finish(ctx, imp, api.ImportStatusFailed, &msg)
		case imp.DryRun:
			return h.finish(ctx, imp, api.ImportStatusSucceeded, nil)
		}
	}
	start := time.Now()
	failure, err := h.apply(ctx, imp)
	if err != nil {
		return err
	}
	h.d.Log.InfoContext(ctx, "import applied", "import_id", imp.ID, "rows", imp.RowsTotal-imp.RowsDone, "took", time.Since(start))
	if failure != "" {
		return h.finish(ctx, imp, api.ImportStatusFailed, &failure)
	}
	return h.finish(ctx, imp, api.ImportStatusSucceeded, nil)
}

// finish ends the import with status and tells it with an event, in one transaction, and drops
// its file.
func (h *Handlers) finish(ctx context.Context, imp db.Import, status api.ImportStatus, failure *string) error {
	_, err := kit.InBrand(ctx, h.d, imp.BrandID, func(q *db.Queries) (struct{}, error) {
		done, err := q.ImportFinish(ctx, db.ImportFinishParams{Status: string(status), Failure: failure, Now: h.d.Now(), BrandID: imp.BrandID, ID: imp.ID})
		if err != nil {
			return struct{}{}, err
		}
		errs, err := q.ImportErrorsFirst(ctx, db.ImportErrorsFirstParams{BrandID: imp.BrandID, ImportID: imp.ID, MaxItems: shownErrors})
		if err != nil {
			return struct{}{}, err
		}
		if err := q.ImportDropFile(ctx, db.ImportDropFileParams{BrandID: imp.BrandID, ImportID: imp.ID}); err != nil {
			return struct{}{}, err
		}
		typ := api.EventTypeImportSucceeded
		if status == api.ImportStatusFailed {
			typ = api.EventTypeImportFailed
		}
		return struct{}{}, events.Emit(ctx, q, imp.BrandID, h.d.Now(), events.Event{
			Type:      typ,
			Aggregate: events.Aggregate{Type: api.EventAggregateTypeImport, ID: imp.ID, Version: 1},
			Data:      apiImport(done, errs),
		})
	})
	return err
}

// file reads an import's stored chunks in order, one at a time.
type file struct {
	ctx   context.Context //nolint:containedctx // the job's, for the reads io.Reader drives
	h     *Handlers
	brand uuid.UUID
	id    uuid.UUID
	seq   int32
	cur   []byte
}

func (f *file) Read(p []byte) (int, error) {
	for len(f.cur) == 0 {
		data, err := kit.ReadInBrand(f.ctx, f.h.d, f.brand, func(q *db.Queries) ([]byte, error) {
			return q.ImportChunkGet(f.ctx, db.ImportChunkGetParams{BrandID: f.brand, ImportID: f.id, Seq: f.seq})
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		f.cur, f.seq = data, f.seq+1
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// rows reads the import's records after the header; the header has been checked at upload.
func (h *Handlers) rows(ctx context.Context, imp db.Import) (*csvfile.Reader, header, error) {
	rd := csvfile.NewReader(&file{ctx: ctx, h: h, brand: imp.BrandID, id: imp.ID}, csvfile.DefaultLimits)
	first, err := rd.Next()
	if err != nil {
		return nil, header{}, fmt.Errorf("import %s: header: %w", imp.ID, err)
	}
	hd, bad := readHeader(api.ImportKind(imp.Kind), first.Fields)
	if len(bad) > 0 {
		return nil, header{}, fmt.Errorf("import %s: header: %s", imp.ID, bad[0].Message)
	}
	return rd, hd, nil
}

// recordErrors are a record's reading errors, by column name.
func recordErrors(hd header, rec csvfile.Record) []rowError {
	out := make([]rowError, 0, len(rec.Errors))
	for _, e := range rec.Errors {
		col := ""
		if e.Column >= 0 && e.Column < len(hd.names) {
			col = hd.names[e.Column]
		}
		out = append(out, rowError{rec.Line, col, e.Message})
	}
	if len(rec.Errors) == 0 && len(rec.Fields) != len(hd.names) {
		out = append(out, rowError{rec.Line, "", fmt.Sprintf("has %d fields; the header names %d", len(rec.Fields), len(hd.names))})
	}
	return out
}

// validateAll reads every record once and records what is wrong with each (the first
// maxStoredErrors errors), changing nothing else.
func (h *Handlers) validateAll(ctx context.Context, imp db.Import) (db.Import, error) {
	rd, hd, err := h.rows(ctx, imp)
	if err != nil {
		return imp, err
	}
	var (
		errs  []rowError
		count int32
		total int32
		batch []csvfile.Record
	)
	keep := func(bad []rowError) {
		count += int32(len(bad)) //nolint:gosec // bounded by the file
		for _, e := range bad {
			if len(errs) < maxStoredErrors {
				errs = append(errs, e)
			}
		}
	}
	v := h.newValidator(api.ImportKind(imp.Kind), hd)
	v.keepVariants = true
	flush := func() error {
		bad, _, err := v.batch(ctx, imp.BrandID, batch)
		if err != nil {
			return err
		}
		for _, b := range bad {
			keep(b)
		}
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return imp, err
		}
		total++
		batch = append(batch, rec)
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return imp, err
			}
		}
	}
	if err := flush(); err != nil {
		return imp, err
	}
	late, err := v.variantErrors(ctx, imp.BrandID)
	if err != nil {
		return imp, err
	}
	if len(late) > 0 {
		keep(late)
		slices.SortStableFunc(errs, func(a, b rowError) int { return a.row - b.row })
	}
	return kit.InBrand(ctx, h.d, imp.BrandID, func(q *db.Queries) (db.Import, error) {
		if err := addErrors(ctx, q, imp, errs); err != nil {
			return imp, err
		}
		if err := q.ImportValidated(ctx, db.ImportValidatedParams{RowsTotal: total, ErrorCount: count, Now: h.d.Now(), BrandID: imp.BrandID, ID: imp.ID}); err != nil {
			return imp, err
		}
		return q.ImportGet(ctx, db.ImportGetParams{BrandID: imp.BrandID, ID: imp.ID})
	})
}

func addErrors(ctx context.Context, q *db.Queries, imp db.Import, errs []rowError) error {
	for len(errs) > 0 {
		part := errs[:min(len(errs), 1000)]
		errs = errs[len(part):]
		p := db.ImportErrorsAddParams{BrandID: imp.BrandID, ImportID: imp.ID}
		for _, e := range part {
			p.Rows = append(p.Rows, int32(e.row)) //nolint:gosec // a line number of a 50 MiB file
			p.Columns = append(p.Columns, e.column)
			p.Messages = append(p.Messages, e.message)
		}
		if err := q.ImportErrorsAdd(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// validator checks batches of records of one kind; it remembers the SKUs (products) or levels
// (stock counts) seen, so a repeat is an error of the later row, and a file's variant rows, to
// check them against their products once the whole file has been read.
type validator struct {
	h    *Handlers
	kind api.ImportKind
	hd   header
	seen map[string]int
	// skus are the product rows seen, by SKU.
	skus map[string]skuRow
	// variants are the variant rows seen (validation only).
	variants     []productRecord
	keepVariants bool
}

// skuRow is what a variant row may need of another row of the file: its product's.
type skuRow struct {
	line    int
	variant bool
	options *api.ProductOptions
}

func (h *Handlers) newValidator(kind api.ImportKind, hd header) *validator {
	return &validator{h: h, kind: kind, hd: hd, seen: map[string]int{}, skus: map[string]skuRow{}}
}

// batch returns each record's errors (nil for a valid one), and for a products file each
// record read.
func (v *validator) batch(ctx context.Context, brand uuid.UUID, recs []csvfile.Record) ([][]rowError, []productRecord, error) {
	out := make([][]rowError, len(recs))
	if v.kind == api.ImportKindStock {
		lines, err := v.h.stockLines(ctx, brand, v.hd, recs)
		if err != nil {
			return nil, nil, err
		}
		for i, l := range lines {
			out[i] = l.errs
			if l.errs == nil && l.line.OnHand != nil {
				key := l.line.Level.Product.String() + "/" + l.line.Level.Location.String()
				if first, dup := v.seen[key]; dup {
					out[i] = []rowError{{recs[i].Line, "", fmt.Sprintf("counts the same level as row %d", first)}}
				} else {
					v.seen[key] = recs[i].Line
				}
			}
		}
		return out, nil, nil
	}
	prods := make([]productRecord, len(recs))
	// Each record's own checks (its cells against the schemas: most of validation's CPU) run on
	// every core; the checks across records follow, in order.
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(recs); i += workers {
				if bad := recordErrors(v.hd, recs[i]); len(bad) > 0 {
					out[i] = bad
					continue
				}
				prods[i], out[i] = v.h.productRow(v.hd, recs[i].Line, recs[i].Fields)
			}
		})
	}
	wg.Wait()
	for i, rec := range recs {
		if out[i] != nil {
			continue
		}
		r := prods[i]
		if first, dup := v.skus[r.it.Sku]; dup {
			out[i] = []rowError{{rec.Line, "sku", fmt.Sprintf("repeats the SKU of row %d", first.line)}}
			continue
		}
		// A barcode and a variant's combination are unique: a repeat within the file is the later
		// row's error (one already in the catalog is refused when the row is written).
		if r.it.Barcode != nil {
			if first, dup := v.seen["barcode\x00"+*r.it.Barcode]; dup {
				out[i] = []rowError{{rec.Line, "barcode", fmt.Sprintf("repeats the barcode of row %d", first)}}
				continue
			}
			v.seen["barcode\x00"+*r.it.Barcode] = rec.Line
		}
		if r.variant() {
			key := "values\x00" + r.parentSku
			for _, ov := range r.optionValues() {
				key += "\x00" + ov.Name + "\x00" + ov.Value
			}
			if first, dup := v.seen[key]; dup {
				out[i] = []rowError{{rec.Line, "option1Value", fmt.Sprintf("repeats the option values of row %d (another variant of %s)", first, r.parentSku)}}
				continue
			}
			v.seen[key] = rec.Line
			if v.keepVariants {
				v.variants = append(v.variants, r)
			}
		}
		v.skus[r.it.Sku] = skuRow{line: rec.Line, variant: r.variant(), options: r.it.Options}
	}
	return out, prods, nil
}

// variantErrors checks the file's variant rows against their products, once the whole file has
// been read (a product's row may come before or after its variants'): the product is a row of the
// file or in the catalog, is not a variant, and declares options, of which the row gives one
// value each.
func (v *validator) variantErrors(ctx context.Context, brand uuid.UUID) ([]rowError, error) {
	var lookup []string
	for _, r := range v.variants {
		if p, ok := v.skus[r.parentSku]; !ok || (!p.variant && p.options == nil) {
			lookup = append(lookup, r.parentSku)
		}
	}
	slices.Sort(lookup)
	lookup = slices.Compact(lookup)
	stored := map[string]db.Product{}
	for len(lookup) > 0 {
		part := lookup[:min(len(lookup), batchSize)]
		lookup = lookup[len(part):]
		rows, err := kit.ReadInBrand(ctx, v.h.d, brand, func(q *db.Queries) ([]db.Product, error) {
			return q.ProductsBySku(ctx, db.ProductsBySkuParams{BrandID: brand, Skus: part})
		})
		if err != nil {
			return nil, err
		}
		for _, p := range rows {
			stored[p.Sku] = p
		}
	}
	var bad []rowError
	for _, r := range v.variants {
		var opts api.ProductOptions
		p, inFile := v.skus[r.parentSku]
		s, inCatalog := stored[r.parentSku]
		switch {
		case inFile && p.variant, !inFile && inCatalog && s.ParentID != nil:
			bad = append(bad, rowError{r.line, "parentSku", fmt.Sprintf("%.64q is a variant: a variant has no variants", r.parentSku)})
			continue
		case inFile && p.options != nil:
			opts = *p.options
		case inCatalog:
			if err := json.Unmarshal(s.Options, &opts); err != nil {
				return nil, fmt.Errorf("product %s options: %w", s.ID, err)
			}
		case !inFile:
			bad = append(bad, rowError{r.line, "parentSku", fmt.Sprintf("no product has SKU %.64q, in the file or the catalog", r.parentSku)})
			continue
		}
		if len(opts) == 0 {
			bad = append(bad, rowError{r.line, "parentSku", fmt.Sprintf("product %.64q declares no options (its row's options column declares them)", r.parentSku)})
			continue
		}
		bad = append(bad, matchValues(r, opts)...)
	}
	return bad, nil
}

// matchValues checks a variant row's option columns against its product's options: one value of
// each option, in any column order.
func matchValues(r productRecord, opts api.ProductOptions) []rowError {
	var bad []rowError
	given := 0
	for k, ov := range r.values {
		if ov.Name == "" {
			continue
		}
		given++
		n := strconv.Itoa(k + 1)
		i := slices.IndexFunc(opts, func(o api.ProductOption) bool { return o.Name == ov.Name })
		switch {
		case i < 0:
			bad = append(bad, rowError{r.line, "option" + n + "Name", fmt.Sprintf("product %.64q has no option %q", r.parentSku, ov.Name)})
		case !slices.Contains(opts[i].Values, ov.Value):
			bad = append(bad, rowError{r.line, "option" + n + "Value", fmt.Sprintf("%q is not a value of %s (%s)", ov.Value, ov.Name, strings.Join(opts[i].Values, ", "))})
		}
		for j := range k {
			if r.values[j].Name == ov.Name {
				bad = append(bad, rowError{r.line, "option" + n + "Name", fmt.Sprintf("repeats option%dName", j+1)})
			}
		}
	}
	if len(bad) == 0 && given != len(opts) {
		bad = append(bad, rowError{r.line, "option1Name", fmt.Sprintf("needs a value of each of the %d options of product %.64q", len(opts), r.parentSku)})
	}
	return bad
}

// stockLine is a stock record resolved against the brand's products and locations.
type stockLine struct {
	line inventory.ImportLine
	errs []rowError
}

func optionalText(hd header, fields []string, name string, maxLen int, line int) (*string, *rowError) {
	s := hd.cell(fields, name)
	if s == "" {
		return nil, nil
	}
	if len([]rune(s)) > maxLen {
		return nil, &rowError{line, name, fmt.Sprintf("must be at most %d characters", maxLen)}
	}
	return &s, nil
}

func quantity(hd header, fields []string, name string, line int, positive bool) (*int64, *rowError) {
	s := hd.cell(fields, name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil || strings.HasPrefix(s, "+"):
		return nil, &rowError{line, name, "must be an integer written in plain digits"}
	case n < 0 || (positive && n == 0):
		return nil, &rowError{line, name, "must be positive"}
	case n > 1_000_000_000_000:
		return nil, &rowError{line, name, "must be at most 10^12"}
	}
	return &n, nil
}

// stockLines maps records to engine lines, looking their SKUs and location codes up in one read.
func (h *Handlers) stockLines(ctx context.Context, brand uuid.UUID, hd header, recs []csvfile.Record) ([]stockLine, error) {
	out := make([]stockLine, len(recs))
	var skus, codes []string
	for i, rec := range recs {
		if bad := recordErrors(hd, rec); len(bad) > 0 {
			out[i].errs = bad
			continue
		}
		l, f := &out[i], rec.Fields
		sku, code := hd.cell(f, "sku"), hd.cell(f, "locationCode")
		if sku == "" {
			l.errs = append(l.errs, rowError{rec.Line, "sku", "is required"})
		}
		if code == "" {
			l.errs = append(l.errs, rowError{rec.Line, "locationCode", "is required"})
		}
		var e1, e2, e3, e4 *rowError
		l.line.OnHand, e1 = quantity(hd, f, "onHand", rec.Line, false)
		l.line.Receive, e2 = quantity(hd, f, "receive", rec.Line, true)
		l.line.Reference, e3 = optionalText(hd, f, "reference", 100, rec.Line)
		l.line.Reason, e4 = optionalText(hd, f, "reason", 500, rec.Line)
		for _, e := range []*rowError{e1, e2, e3, e4} {
			if e != nil {
				l.errs = append(l.errs, *e)
			}
		}
		if len(l.errs) == 0 {
			switch {
			case (l.line.OnHand == nil) == (l.line.Receive == nil):
				l.errs = append(l.errs, rowError{rec.Line, "", "needs exactly one of onHand (a count) and receive (a receipt)"})
			case l.line.Receive != nil && l.line.Reference == nil:
				l.errs = append(l.errs, rowError{rec.Line, "reference", "is required for a receipt (a file imported twice then receives once)"})
			}
		}
		skus, codes = append(skus, sku), append(codes, code)
	}
	type found struct {
		products  []db.ProductIdsBySkuRow
		locations []db.LocationIdsByCodeRow
	}
	r, err := kit.InBrand(ctx, h.d, brand, func(q *db.Queries) (found, error) {
		p, err := q.ProductIdsBySku(ctx, db.ProductIdsBySkuParams{BrandID: brand, Skus: skus})
		if err != nil {
			return found{}, err
		}
		l, err := q.LocationIdsByCode(ctx, db.LocationIdsByCodeParams{BrandID: brand, Codes: codes})
		return found{p, l}, err
	})
	if err != nil {
		return nil, err
	}
	products := make(map[string]uuid.UUID, len(r.products))
	for _, p := range r.products {
		products[p.Sku] = p.ID
	}
	locations := make(map[string]db.LocationIdsByCodeRow, len(r.locations))
	for _, l := range r.locations {
		locations[l.Code] = l
	}
	for i, rec := range recs {
		l := &out[i]
		if len(l.errs) > 0 {
			continue
		}
		sku, code := hd.cell(rec.Fields, "sku"), hd.cell(rec.Fields, "locationCode")
		p, ok := products[sku]
		if !ok {
			l.errs = append(l.errs, rowError{rec.Line, "sku", fmt.Sprintf("no product has SKU %.64q", sku)})
		}
		loc, ok := locations[code]
		switch {
		case !ok:
			l.errs = append(l.errs, rowError{rec.Line, "locationCode", fmt.Sprintf("no location has code %.32q", code)})
		case !loc.Active:
			l.errs = append(l.errs, rowError{rec.Line, "locationCode", fmt.Sprintf("location %s is inactive", code)})
		}
		l.line.Level = inventory.Level{Product: p, Location: loc.ID}
	}
	return out, nil
}

// apply applies the valid rows after rows_done in batches. It answers a failure ("" for none)
// when a row turned invalid since validation without mode=partial.
//
// A variant's row may come before its product's: the variant then waits (in memory) for the
// batch that applies its product's row, and is applied right after it, in its transaction. A
// resumed import finds the waiting variants again as it skips the rows applied before.
func (h *Handlers) apply(ctx context.Context, imp db.Import) (string, error) {
	rd, hd, err := h.rows(ctx, imp)
	if err != nil {
		return "", err
	}
	a := applier{h: h, imp: imp, v: h.newValidator(api.ImportKind(imp.Kind), hd), deferred: map[string][]productRecord{}}
	if imp.Kind == string(api.ImportKindProducts) && hd.has("parentSku") {
		if a.declared, err = h.declaredProducts(ctx, imp); err != nil {
			return "", err
		}
	}
	done := imp.RowsDone
	var (
		n     int32
		batch []csvfile.Record
		prev  *inflight
	)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			_, _ = prev.wait()
			return "", err
		}
		n++
		if n <= done {
			a.skipped(hd, rec, n, done) // applied by an earlier run
			continue
		}
		batch = append(batch, rec)
		if len(batch) == batchSize {
			var stop bool
			if prev, stop, err = a.next(ctx, batch, n, prev); err != nil || stop {
				return prev.wait()
			}
			batch = nil // the batch in flight holds it
		}
	}
	if len(batch) > 0 {
		if prev, _, err = a.next(ctx, batch, n, prev); err != nil {
			return "", err
		}
	}
	return prev.wait()
}

// next prepares a batch and starts applying it while prev commits (or after it, when the batch
// must run alone); it answers the batch in flight. A failure of prev ends the import: next then
// answers prev and stop.
func (a *applier) next(ctx context.Context, recs []csvfile.Record, through int32, prev *inflight) (*inflight, bool, error) {
	p, err := a.prepare(ctx, recs, through)
	if err != nil {
		_, _ = prev.wait()
		return nil, true, err
	}
	if p.alone() {
		if failure, err := prev.wait(); failure != "" || err != nil {
			return prev, true, nil // the caller's wait answers its failure
		}
		prev = nil
	}
	cur := p.start(ctx, prev)
	if failure, err := prev.wait(); failure != "" || err != nil {
		_, _ = cur.wait() // rolled back (errBefore)
		return prev, true, nil
	}
	return cur, false, nil
}

// declaredProducts are the rows of a products file that declare options (a variant's product
// that the file creates or changes), by SKU: their record numbers.
func (h *Handlers) declaredProducts(ctx context.Context, imp db.Import) (map[string]int32, error) {
	rd, hd, err := h.rows(ctx, imp)
	if err != nil {
		return nil, err
	}
	out := map[string]int32{}
	var n int32
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		n++
		if hd.cell(rec.Fields, "parentSku") == "" && hd.cell(rec.Fields, "options") != "" {
			if _, dup := out[hd.cell(rec.Fields, "sku")]; !dup {
				out[hd.cell(rec.Fields, "sku")] = n
			}
		}
	}
}

// applier applies an import's batches in order.
type applier struct {
	h   *Handlers
	imp db.Import
	v   *validator
	// declared are the rows that declare a product's options, by SKU (declaredProducts).
	declared map[string]int32
	// deferred are the variant rows that wait for their product's row, by its SKU.
	deferred map[string][]productRecord
}

// waits says whether a variant's row (record number n) waits for its product's row.
func (a *applier) waits(r productRecord, n int32) bool {
	at, ok := a.declared[r.parentSku]
	return r.variant() && ok && at > n
}

// skipped sees a record that an earlier run applied (number n, at most done): a variant that
// waited for a product's row not applied yet waits again.
func (a *applier) skipped(hd header, rec csvfile.Record, n, done int32) {
	if a.declared == nil || hd.cell(rec.Fields, "parentSku") == "" || len(recordErrors(hd, rec)) > 0 {
		return
	}
	r, bad := a.h.productRow(hd, rec.Line, rec.Fields)
	if len(bad) == 0 && a.waits(r, n) && a.declared[r.parentSku] > done {
		a.deferred[r.parentSku] = append(a.deferred[r.parentSku], r)
	}
}

// batch applies one batch of records (ending at record number through) with the import's
// progress, in one transaction. With mode=partial, a row the catalog refuses (a barcode or SKU
// taken, a product's 101st variant) is recorded as the row's error and the batch is applied again
// without it.
func (a *applier) prepare(ctx context.Context, recs []csvfile.Record, through int32) (prepared, error) {
	h, imp, v := a.h, a.imp, a.v
	// Invalid rows were reported by validation; they are skipped here (only mode=partial gets
	// this far with any). The SKU repeats are tracked across batches by v.
	var bad [][]rowError
	var prods []productRecord
	var err error
	if imp.ErrorCount == 0 && imp.Kind == string(api.ImportKindProducts) {
		// Validation found every row valid, and a product row's validity is the file's alone:
		// its cells are mapped without validating them again.
		bad, prods = make([][]rowError, len(recs)), make([]productRecord, len(recs))
		for i, rec := range recs {
			prods[i] = h.mapRow(v.hd, rec.Line, rec.Fields)
		}
	} else if bad, prods, err = v.batch(ctx, imp.BrandID, recs); err != nil {
		return prepared{}, err
	}
	// The products to write, in order: a variant that waits for a later row is held back, and
	// those that waited for a row of this batch follow it.
	var work []productRecord
	first := through - int32(len(recs)) //nolint:gosec // a batch
	for i := range prods {
		n := first + int32(i) + 1 //nolint:gosec // a batch
		r := prods[i]
		if bad[i] == nil {
			if a.waits(r, n) {
				a.deferred[r.parentSku] = append(a.deferred[r.parentSku], r)
			} else {
				work = append(work, r)
			}
		}
		if sku := v.h.skuOf(v.hd, recs[i]); a.declared != nil && sku != "" && a.declared[sku] == n {
			work = append(work, a.deferred[sku]...)
			delete(a.deferred, sku)
		}
	}
	return prepared{a: a, recs: recs, through: through, bad: bad, work: work}, nil
}

// prepared is a batch ready to apply.
type prepared struct {
	a       *applier
	recs    []csvfile.Record
	through int32
	bad     [][]rowError
	work    []productRecord
}

// alone says whether the batch must run alone, after the one before it has committed: a stock
// batch (two may lock the same levels), and one that saves rows one at a time (a variant needs
// its product committed). Other product batches write rows no other batch writes (SKUs are
// unique in the file), so one runs while the one before it commits.
func (p prepared) alone() bool {
	return p.a.imp.Kind != string(api.ImportKindProducts) || slices.ContainsFunc(p.work, productRecord.saved)
}

// inflight is a batch being applied.
type inflight struct {
	done    chan struct{}
	failure string
	err     error
}

func (f *inflight) wait() (string, error) {
	if f == nil {
		return "", nil
	}
	<-f.done
	return f.failure, f.err
}

// errBefore rolls back a batch whose predecessor failed.
var errBefore = errors.New("import: the batch before failed")

// start applies p in the background; it commits only after prev (nil: none) has, so that the
// import's progress (rows_done) only ever names a prefix of the file that is all applied.
func (p prepared) start(ctx context.Context, prev *inflight) *inflight {
	f := &inflight{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.failure, f.err = p.apply(ctx, prev)
	}()
	return f
}

// apply applies the batch with the import's progress, in one transaction, once prev committed.
func (p prepared) apply(ctx context.Context, prev *inflight) (string, error) {
	a, recs, through, bad, work := p.a, p.recs, p.through, p.bad, p.work
	h, imp, v := a.h, a.imp, a.v
	partial := imp.Mode == string(api.ImportModePartial)
	first := through - int32(len(recs)) //nolint:gosec // a batch
	var err error
	type result struct {
		created, updated, unchanged int32
		late                        []rowError
	}
	var failure string
	var refused []rowError
	skip := map[int]bool{}
	for {
		_, err = kit.InBrandDB(ctx, h.d, imp.BrandID, func(tx db.DBTX) (struct{}, error) {
			failure = ""
			q := db.New(tx)
			if err := q.ImportBatchAsyncCommit(ctx); err != nil {
				return struct{}{}, err
			}
			r := result{late: slices.Clone(refused)}
			if imp.Kind == string(api.ImportKindStock) {
				lines, err := h.stockLines(ctx, imp.BrandID, v.hd, recs)
				if err != nil {
					return struct{}{}, err
				}
				var apply []inventory.ImportLine
				var at []int
				for i, l := range lines {
					if bad[i] != nil {
						continue
					}
					if l.errs != nil { // valid at validation, not any more
						r.late = append(r.late, l.errs...)
						continue
					}
					apply, at = append(apply, l.line), append(at, i)
				}
				if len(apply) > 0 {
					outs, err := inventory.Import(ctx, tx, imp.BrandID, h.d.Now(), apply)
					if err != nil {
						return struct{}{}, err
					}
					for j, o := range outs {
						switch {
						case o.Error != "":
							r.late = append(r.late, rowError{recs[at[j]].Line, "", o.Error})
						case o.Changed:
							r.updated++
						default:
							r.unchanged++
						}
					}
				}
			} else {
				var items []api.CreateProductRequest
				var saved []productRecord
				for _, p := range work {
					switch {
					case skip[p.line]:
					case p.saved():
						saved = append(saved, p)
					default:
						items = append(items, p.it)
					}
				}
				if len(items) > 0 {
					rows, err := catalog.BulkUpsert(ctx, q, imp.BrandID, h.d.Now(), items, true)
					if err != nil {
						return struct{}{}, err
					}
					for _, row := range rows {
						if row.Created {
							r.created++
						} else {
							r.updated++
						}
					}
					r.unchanged += int32(len(items) - len(rows)) //nolint:gosec // a batch
				}
				if len(saved) > 0 {
					c, u, same, err := h.saveEach(ctx, q, imp.BrandID, saved)
					if err != nil {
						return struct{}{}, err
					}
					r.created, r.updated, r.unchanged = r.created+c, r.updated+u, r.unchanged+same
				}
			}
			if len(r.late) > len(refused) && !partial {
				// Nothing of this batch is kept; the failure and its rows are recorded on their own.
				failure = fmt.Sprintf("%d rows became invalid while the import ran (from row %d); the rows before them were applied", len(r.late), r.late[0].row)
				return struct{}{}, errRollback{errs: r.late}
			}
			if failure, err := prev.wait(); failure != "" || err != nil {
				return struct{}{}, errBefore
			}
			if err := addErrors(ctx, q, imp, r.late); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, q.ImportProgress(ctx, db.ImportProgressParams{
				RowsDone: through, Created: r.created, Updated: r.updated, Unchanged: r.unchanged, Errors: int32(len(r.late)), //nolint:gosec // a batch
				Now: h.d.Now(), BrandID: imp.BrandID, ID: imp.ID,
			})
		})
		var rb errRollback
		switch {
		case errors.As(err, &rb) && rb.retry && partial:
			// The catalog refused a row: it is the row's error, and the batch goes again without it.
			for _, e := range rb.errs {
				skip[e.row] = true
			}
			refused = append(refused, rb.errs...)
			continue
		case errors.As(err, &rb):
			if rb.retry {
				failure = fmt.Sprintf("row %d: %s %s; the rows before its batch were applied", rb.errs[0].row, rb.errs[0].column, rb.errs[0].message)
			}
			_, err = kit.InBrand(ctx, h.d, imp.BrandID, func(q *db.Queries) (struct{}, error) {
				if err := addErrors(ctx, q, imp, rb.errs); err != nil {
					return struct{}{}, err
				}
				return struct{}{}, q.ImportProgress(ctx, db.ImportProgressParams{Errors: int32(len(rb.errs)), RowsDone: first, Now: h.d.Now(), BrandID: imp.BrandID, ID: imp.ID}) //nolint:gosec // a batch
			})
			return failure, err
		}
		return "", err
	}
}

// skuOf is a record's SKU cell.
func (h *Handlers) skuOf(hd header, rec csvfile.Record) string { return hd.cell(rec.Fields, "sku") }

// saveEach writes rows one at a time through catalog.Save (the product and variant routes' save,
// with its rules and events), leaving a row equal to the stored product alone. A refusal of a
// row is an errRollback naming its column.
func (h *Handlers) saveEach(ctx context.Context, q *db.Queries, brand uuid.UUID, rows []productRecord) (created, updated, unchanged int32, err error) {
	skus := make([]string, 0, 2*len(rows))
	for _, r := range rows {
		skus = append(skus, r.it.Sku)
		if r.variant() {
			skus = append(skus, r.parentSku)
		}
	}
	stored, err := q.ProductsBySku(ctx, db.ProductsBySkuParams{BrandID: brand, Skus: skus})
	if err != nil {
		return 0, 0, 0, err
	}
	bySku := make(map[string]db.Product, len(stored))
	for _, p := range stored {
		bySku[p.Sku] = p
	}
	for _, r := range rows {
		var parent *uuid.UUID
		if r.variant() {
			p, ok := bySku[r.parentSku]
			if !ok {
				return 0, 0, 0, errRollback{errs: []rowError{{r.line, "parentSku", fmt.Sprintf("no product has SKU %.64q", r.parentSku)}}, retry: true}
			}
			parent = &p.ID
		}
		if cur, ok := bySku[r.it.Sku]; ok && sameProduct(cur, parent, r) {
			unchanged++
			continue
		}
		saved, err := h.catalog.Save(ctx, q, brand, catalog.Target{Mode: catalog.Upsert, Parent: parent}, itemOf(r))
		var pe *problem.Error
		switch {
		case errors.As(err, &pe):
			return 0, 0, 0, errRollback{errs: refusalErrors(r.line, pe), retry: true}
		case errors.Is(err, kit.ErrNotFound):
			return 0, 0, 0, errRollback{errs: []rowError{{r.line, "parentSku", fmt.Sprintf("no product has SKU %.64q", r.parentSku)}}, retry: true}
		case err != nil:
			return 0, 0, 0, err
		case saved.Created:
			created++
		default:
			updated++
		}
		bySku[r.it.Sku] = saved.Product
	}
	return created, updated, unchanged, nil
}

// itemOf is a row as catalog.Save takes it: the cells left empty are left out.
func itemOf(r productRecord) catalog.Item {
	it := catalog.Item{
		Sku: &r.it.Sku, Name: &r.it.Name, PriceAmount: &r.it.PriceAmount, Currency: r.it.Currency,
		Status: r.it.Status, Attributes: r.it.Attributes, Tags: r.it.Tags, Images: r.it.Images,
	}
	if r.it.Description != nil {
		it.Description.Set(*r.it.Description)
	}
	if r.it.Barcode != nil {
		it.Barcode.Set(*r.it.Barcode)
	}
	if r.it.WeightGrams != nil {
		it.WeightGrams.Set(*r.it.WeightGrams)
	}
	if r.it.Options != nil {
		opts := make([]api.ProductOptionInput, len(*r.it.Options))
		for i, o := range *r.it.Options {
			opts[i] = api.ProductOptionInput{Name: o.Name, Values: o.Values}
		}
		it.Options = &opts
	}
	if r.variant() {
		values := r.optionValues()
		it.OptionValues = &values
	}
	return it
}

// sameProduct says whether writing r would change nothing of cur (the import's skip of unchanged
// rows, as the bulk upsert's skip_unchanged does for the others).
func sameProduct(cur db.Product, parent *uuid.UUID, r productRecord) bool {
	it := r.it
	if (cur.ParentID == nil) != (parent == nil) || (parent != nil && *cur.ParentID != *parent) ||
		cur.Name != it.Name || cur.PriceAmount != it.PriceAmount {
		return false
	}
	eqJSON := func(raw []byte, v any, zero any) bool {
		if err := json.Unmarshal(raw, zero); err != nil {
			return false
		}
		a, _ := json.Marshal(zero)
		b, _ := json.Marshal(v)
		return string(a) == string(b)
	}
	switch {
	case it.Currency != nil && *it.Currency != cur.Currency,
		it.Status != nil && string(*it.Status) != string(cur.Status),
		it.Description != nil && (cur.Description == nil || *cur.Description != *it.Description),
		it.Barcode != nil && (cur.Barcode == nil || *cur.Barcode != *it.Barcode),
		it.WeightGrams != nil && (cur.WeightGrams == nil || *cur.WeightGrams != *it.WeightGrams),
		it.Tags != nil && !slices.Equal(cur.Tags, *it.Tags),
		it.Attributes != nil && !eqJSON(cur.Attributes, *it.Attributes, &api.Attributes{}),
		it.Images != nil && !eqJSON(cur.Images, *it.Images, &api.ProductImages{}),
		it.Options != nil && !eqJSON(cur.Options, *it.Options, &api.ProductOptions{}):
		return false
	}
	if r.variant() {
		var stored api.OptionValues
		if json.Unmarshal(cur.OptionValues, &stored) != nil {
			return false
		}
		given := r.optionValues()
		if len(given) != len(stored) {
			return false
		}
		for _, g := range given {
			if !slices.Contains(stored, g) {
				return false
			}
		}
	}
	return true
}

// refusalErrors are a catalog refusal of the row at line, by column.
func refusalErrors(line int, pe *problem.Error) []rowError {
	if len(pe.Fields) > 0 {
		out := make([]rowError, len(pe.Fields))
		for i, f := range pe.Fields {
			out[i] = rowError{line, columnOf(f.Field), f.Message}
		}
		return out
	}
	col := map[api.ProblemCode]string{
		api.ProblemCodeSkuTaken: "sku", api.ProblemCodeBarcodeTaken: "barcode",
		api.ProblemCodeOptionValuesTaken: "option1Value", api.ProblemCodeVariantLimit: "parentSku",
		api.ProblemCodeOptionsRequired: "parentSku", api.ProblemCodeOptionsInUse: "options",
		api.ProblemCodeProductInUse: "options",
	}[pe.Code]
	msg := pe.Detail
	if msg == "" {
		msg = string(pe.Code)
	}
	return []rowError{{line, col, msg}}
}

// columnOf is the column of a field the catalog names ("images[0].url" is the images column,
// "optionValues[1].value" the option columns').
func columnOf(field string) string {
	name := field
	if i := strings.IndexAny(name, "[."); i >= 0 {
		name = name[:i]
	}
	if name == "optionValues" {
		if strings.HasSuffix(field, ".value") {
			return "option1Value"
		}
		return "option1Name"
	}
	if slices.ContainsFunc(productColumns, func(c productColumn) bool { return c.name == name }) {
		return name
	}
	return ""
}

// errRollback rolls a batch back, carrying the rows that made it.
type errRollback struct {
	errs []rowError
	// retry: the catalog refused a row (mode=partial applies the batch again without it).
	retry bool
}

func (errRollback) Error() string { return "import batch rolled back" }
