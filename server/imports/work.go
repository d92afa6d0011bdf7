package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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
		if imp, err = h.validateAll(ctx, imp); err != nil {
			return err
		}
		switch {
		case imp.ErrorCount > 0 && imp.Mode != string(api.ImportModePartial):
			msg := fmt.Sprintf("%d errors in the file; nothing was changed (mode=partial applies the valid rows)", imp.ErrorCount)
			return h.finish(ctx, imp, api.ImportStatusFailed, &msg)
		case imp.DryRun:
			return h.finish(ctx, imp, api.ImportStatusSucceeded, nil)
		}
	}
	failure, err := h.apply(ctx, imp)
	if err != nil {
		return err
	}
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
	flush := func() error {
		bad, err := v.batch(ctx, imp.BrandID, batch)
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
// (stock counts) seen, so a repeat is an error of the later row.
type validator struct {
	h    *Handlers
	kind api.ImportKind
	hd   header
	seen map[string]int
}

func (h *Handlers) newValidator(kind api.ImportKind, hd header) *validator {
	return &validator{h: h, kind: kind, hd: hd, seen: map[string]int{}}
}

// batch returns each record's errors (nil for a valid one).
func (v *validator) batch(ctx context.Context, brand uuid.UUID, recs []csvfile.Record) ([][]rowError, error) {
	out := make([][]rowError, len(recs))
	if v.kind == api.ImportKindStock {
		lines, err := v.h.stockLines(ctx, brand, v.hd, recs)
		if err != nil {
			return nil, err
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
		return out, nil
	}
	for i, rec := range recs {
		if bad := recordErrors(v.hd, rec); len(bad) > 0 {
			out[i] = bad
			continue
		}
		it, bad := v.h.productRow(v.hd, rec.Line, rec.Fields)
		if len(bad) > 0 {
			out[i] = bad
			continue
		}
		if first, dup := v.seen[it.Sku]; dup {
			out[i] = []rowError{{rec.Line, "sku", fmt.Sprintf("repeats the SKU of row %d", first)}}
			continue
		}
		v.seen[it.Sku] = rec.Line
	}
	return out, nil
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
func (h *Handlers) apply(ctx context.Context, imp db.Import) (string, error) {
	rd, hd, err := h.rows(ctx, imp)
	if err != nil {
		return "", err
	}
	done := imp.RowsDone
	var (
		n     int32
		batch []csvfile.Record
	)
	v := h.newValidator(api.ImportKind(imp.Kind), hd)
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		n++
		if n <= done {
			continue // applied by an earlier run
		}
		batch = append(batch, rec)
		if len(batch) == batchSize {
			if failure, err := h.applyBatch(ctx, imp, v, batch, n); failure != "" || err != nil {
				return failure, err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		return h.applyBatch(ctx, imp, v, batch, n)
	}
	return "", nil
}

// applyBatch applies one batch of records (ending at record number through) with the import's
// progress, in one transaction.
func (h *Handlers) applyBatch(ctx context.Context, imp db.Import, v *validator, recs []csvfile.Record, through int32) (string, error) {
	partial := imp.Mode == string(api.ImportModePartial)
	// Invalid rows were reported by validation; they are skipped here (only mode=partial gets
	// this far with any). The SKU repeats are tracked across batches by v.
	bad, err := v.batch(ctx, imp.BrandID, recs)
	if err != nil {
		return "", err
	}
	type result struct {
		created, updated, unchanged int32
		late                        []rowError
	}
	var failure string
	_, err = kit.InBrandDB(ctx, h.d, imp.BrandID, func(tx db.DBTX) (struct{}, error) {
		failure = ""
		q := db.New(tx)
		var r result
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
			for i, rec := range recs {
				if bad[i] != nil {
					continue
				}
				it, _ := h.productRow(v.hd, rec.Line, rec.Fields)
				items = append(items, it)
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
				r.unchanged = int32(len(items) - len(rows)) //nolint:gosec // a batch
			}
		}
		if len(r.late) > 0 && !partial {
			// Nothing of this batch is kept; the failure and its rows are recorded on their own.
			failure = fmt.Sprintf("%d rows became invalid while the import ran (from row %d); the rows before them were applied", len(r.late), r.late[0].row)
			return struct{}{}, errRollback{r.late}
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
	if errors.As(err, &rb) {
		_, err = kit.InBrand(ctx, h.d, imp.BrandID, func(q *db.Queries) (struct{}, error) {
			if err := addErrors(ctx, q, imp, rb.errs); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, q.ImportProgress(ctx, db.ImportProgressParams{Errors: int32(len(rb.errs)), RowsDone: through - int32(len(recs)), Now: h.d.Now(), BrandID: imp.BrandID, ID: imp.ID}) //nolint:gosec // a batch
		})
		return failure, err
	}
	return "", err
}

// errRollback rolls a batch back, carrying the rows that made it.
type errRollback struct{ errs []rowError }

func (errRollback) Error() string { return "import batch rolled back" }
