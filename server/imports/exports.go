package imports

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/csvfile"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// batchBound bounds the reading and writing of one batch.
const batchBound = 20 * time.Second

// exportBatch is how many rows an export reads at a time: the server holds one batch, never the
// file.
const exportBatch = 1000

// stream is a streamed CSV answer: header, then batches from next until it has no more. An error
// after the first byte cannot change the status any more: the connection is cut
// (http.ErrAbortHandler) so that the client sees a truncated transfer, never a short file that
// looks whole.
type stream struct {
	ctx      context.Context //nolint:containedctx // the request's, for the reads the visit drives
	d        *kit.Deps
	filename string
	header   []string
	// next appends the next batch's records to b; done when there are no more.
	next func(ctx context.Context, b []byte) (out []byte, done bool, err error)
}

func (s stream) visit(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+s.filename+`"`)
	w.WriteHeader(http.StatusOK)
	b := csvfile.AppendRecord(make([]byte, 0, 64<<10), s.header...)
	rc := http.NewResponseController(w)
	for {
		if s.ctx.Err() != nil && !errors.Is(s.ctx.Err(), context.DeadlineExceeded) {
			return nil // the client went away
		}
		// The request's deadline (DB_REQUEST_TIMEOUT) and the server's write timeout bound each
		// batch, not the whole file: a 100,000-product export outlasts both on a busy machine.
		_ = rc.SetWriteDeadline(time.Now().Add(batchBound))
		batchCtx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), batchBound)
		var done bool
		var err error
		b, done, err = s.next(batchCtx, b)
		cancel()
		if err != nil {
			s.d.Log.ErrorContext(s.ctx, "export cut short", "file", s.filename, "error", err, "request_id", problem.RequestFrom(s.ctx).ID)
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(b); err != nil {
			return nil // the client went away
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		b = b[:0]
		if done {
			return nil
		}
	}
}

type productsCSV struct{ stream }

func (r productsCSV) VisitExportProductsCsvResponse(w http.ResponseWriter) error { return r.visit(w) }

// ExportProductsCsv streams the brand's products in SKU order, a batch at a time.
func (h *Handlers) ExportProductsCsv(ctx context.Context, req api.ExportProductsCsvRequestObject) (api.ExportProductsCsvResponseObject, error) {
	header := make([]string, len(productColumns))
	for i, c := range productColumns {
		header[i] = c.name
	}
	after := ""
	cells := make([]string, len(productColumns))
	return productsCSV{stream{ctx: ctx, d: h.d, filename: "products.csv", header: header,
		next: func(ctx context.Context, b []byte) ([]byte, bool, error) {
			page, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.ProductsExportPageRow, error) {
				return q.ProductsExportPage(ctx, db.ProductsExportPageParams{BrandID: req.BrandId, AfterSku: after, MaxItems: exportBatch})
			})
			if err != nil {
				return b, false, err
			}
			for _, p := range page {
				for i, c := range productColumns {
					cells[i] = c.get(p)
				}
				b = csvfile.AppendRecord(b, cells...)
			}
			if len(page) > 0 {
				after = page[len(page)-1].Product.Sku
			}
			return b, len(page) < exportBatch, nil
		}}}, nil
}

type stockCSV struct{ stream }

func (r stockCSV) VisitExportStockCsvResponse(w http.ResponseWriter) error { return r.visit(w) }

// ExportStockCsv streams the brand's stock levels by SKU then location code, a batch at a time.
func (h *Handlers) ExportStockCsv(ctx context.Context, req api.ExportStockCsvRequestObject) (api.ExportStockCsvResponseObject, error) {
	afterSku, afterCode := "", ""
	return stockCSV{stream{ctx: ctx, d: h.d, filename: "stock.csv", header: []string{"sku", "locationCode", "onHand", "reserved", "available"},
		next: func(ctx context.Context, b []byte) ([]byte, bool, error) {
			page, err := kit.ReadInBrandDB(ctx, h.d, req.BrandId, func(tx db.DBTX) ([]inventory.ExportLevel, error) {
				return inventory.ExportLevels(ctx, tx, req.BrandId, afterSku, afterCode, exportBatch)
			})
			if err != nil {
				return b, false, err
			}
			for _, l := range page {
				b = csvfile.AppendRecord(b, l.Sku, l.LocationCode, strconv.FormatInt(l.OnHand, 10),
					strconv.FormatInt(l.Reserved, 10), strconv.FormatInt(l.OnHand-l.Reserved, 10))
			}
			if len(page) > 0 {
				afterSku, afterCode = page[len(page)-1].Sku, page[len(page)-1].LocationCode
			}
			return b, len(page) < exportBatch, nil
		}}}, nil
}

type errorsCSV struct{ stream }

func (r errorsCSV) VisitGetImportErrorsCsvResponse(w http.ResponseWriter) error { return r.visit(w) }

// GetImportErrorsCsv streams an import's row errors in the order found.
func (h *Handlers) GetImportErrorsCsv(ctx context.Context, req api.GetImportErrorsCsvRequestObject) (api.GetImportErrorsCsvResponseObject, error) {
	if _, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Import, error) {
		return q.ImportGet(ctx, db.ImportGetParams{BrandID: req.BrandId, ID: req.ImportId})
	}); errors.Is(err, pgx.ErrNoRows) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such import.")
	} else if err != nil {
		return nil, err
	}
	var after int64
	return errorsCSV{stream{ctx: ctx, d: h.d, filename: "import-" + req.ImportId.String() + "-errors.csv", header: []string{"row", "column", "message"},
		next: func(ctx context.Context, b []byte) ([]byte, bool, error) {
			page, err := kit.ReadInBrand(ctx, h.d, req.BrandId, func(q *db.Queries) ([]db.ImportErrorsPageRow, error) {
				return q.ImportErrorsPage(ctx, db.ImportErrorsPageParams{BrandID: req.BrandId, ImportID: req.ImportId, AfterID: after, MaxItems: exportBatch})
			})
			if err != nil {
				return b, false, err
			}
			for _, e := range page {
				b = csvfile.AppendRecord(b, strconv.Itoa(int(e.RowNumber)), e.ColumnName, e.Message)
			}
			if len(page) > 0 {
				after = page[len(page)-1].ID
			}
			return b, len(page) < exportBatch, nil
		}}}, nil
}
