// Package imports is CSV import and export (issue 20): a file uploaded to POST /imports is stored
// in chunks and worked by a durable job on the shared queue (server/jobs); the exports stream the
// catalog and the stock levels in batches. Products go through the bulk upsert's one path
// (catalog.BulkUpsert), stock through the stock engine (inventory.Import): this package maps rows,
// it holds no catalog or stock logic of its own.
package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/catalog"
	"github.com/ecompointer/ecompointer/server/csvfile"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/respond"
)

// Sizes of the work.
const (
	// chunkSize is how much of the file one stored chunk holds.
	chunkSize = 1 << 20
	// batchSize is how many rows one transaction applies.
	batchSize = 1000
	// maxStoredErrors is how many row errors an import keeps (errorCount counts them all).
	maxStoredErrors = 10000
	// shownErrors is how many the import's JSON shows.
	shownErrors = 100
)

var (
	unneutralise = csvfile.Unneutralise
	catalogCheck = func(it api.CreateProductRequest) []api.FieldError { return catalog.CheckItem("", it) }
)

// Handlers implements the import and export operations of api.StrictServerInterface, and works
// the import jobs.
type Handlers struct {
	d       *kit.Deps
	catalog *catalog.Handlers
	product *openapi3.Schema
	// option is the OptionValue schema (a variant row's option columns).
	option     *openapi3.Schema
	schemaOpts []openapi3.SchemaValidationOption
}

// New returns the handlers; doc is the loaded spec, whose CreateProductRequest schema validates
// each imported product row as request validation validates a bulk item.
func New(d *kit.Deps, doc *openapi3.T) (*Handlers, error) {
	ref := doc.Components.Schemas["CreateProductRequest"]
	if ref == nil || ref.Value == nil {
		return nil, errors.New("imports: the spec has no CreateProductRequest schema")
	}
	opt := doc.Components.Schemas["OptionValue"]
	if opt == nil || opt.Value == nil {
		return nil, errors.New("imports: the spec has no OptionValue schema")
	}
	opts := append([]openapi3.SchemaValidationOption{openapi3.VisitAsRequest()}, doc.GetSchemaValidationOptions()...)
	return &Handlers{d: d, catalog: catalog.New(d), product: ref.Value, option: opt.Value, schemaOpts: opts}, nil
}

// needs is the permission an import of kind needs besides imports:write: it changes the catalog
// or the stock, so the caller must be allowed to change them directly too.
func needs(kind api.ImportKind) string {
	if kind == api.ImportKindStock {
		return "inventory:write"
	}
	return "products:write"
}

// CreateImport stores the uploaded file and queues its import.
func (h *Handlers) CreateImport(ctx context.Context, req api.CreateImportRequestObject) (api.CreateImportResponseObject, error) {
	kind := req.Params.Kind
	if perm := needs(kind); !identity.CallerCan(kit.CallerFrom(ctx), perm) {
		return nil, problem.Refuse(api.ProblemCodeForbidden, fmt.Sprintf("Importing %s needs the %s permission.", kind, perm))
	}
	mode := api.ImportModeAll
	if req.Params.Mode != nil {
		mode = *req.Params.Mode
	}
	dryRun := req.Params.DryRun != nil && *req.Params.DryRun

	// The header is read as the file streams into its chunks: a file that is no CSV of this kind
	// is refused before anything is stored.
	store := &chunker{}
	body := io.TeeReader(req.Body, store)
	rd := csvfile.NewReader(body, csvfile.DefaultLimits)
	first, err := rd.Next()
	if errors.Is(err, io.EOF) {
		return nil, problem.RefuseField("header", "the file is empty: it needs a header row naming its columns")
	}
	if err != nil {
		return nil, bodyError(err)
	}
	if len(first.Errors) > 0 {
		return nil, problem.RefuseField("header", "the header row "+first.Errors[0].Message)
	}
	if _, bad := readHeader(kind, first.Fields); len(bad) > 0 {
		return nil, problem.RefuseFields(bad)
	}
	id := uuid.Must(uuid.NewV7())
	imp, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (db.Import, error) {
		store.reset(ctx, q, req.BrandId, id)
		// The rest of the body streams into the chunks, a chunk at a time.
		if _, err := io.Copy(store, req.Body); err != nil {
			return db.Import{}, err
		}
		if err := store.flush(); err != nil {
			return db.Import{}, err
		}
		imp, err := q.ImportCreate(ctx, db.ImportCreateParams{
			BrandID: req.BrandId, ID: id, Kind: string(kind), Mode: string(mode), DryRun: dryRun,
			FileBytes: store.total, CreatedBy: kit.UserID(ctx), Now: h.d.Now(),
		})
		if err != nil {
			return imp, err
		}
		if err := store.write(); err != nil {
			return imp, err
		}
		return imp, q.ImportEnqueue(ctx, db.ImportEnqueueParams{BrandID: req.BrandId, ImportID: id})
	})
	if err != nil {
		return nil, bodyError(err)
	}
	return api.CreateImport202JSONResponse{
		Body:    apiImport(imp, nil),
		Headers: api.CreateImport202ResponseHeaders{Location: respond.Location("/brands/", req.BrandId.String(), "/imports/", id.String())},
	}, nil
}

// bodyError is a failure to read the upload: over the limit is a 413, anything else unexpected.
func bodyError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return problem.Refuse(api.ProblemCodePayloadTooLarge, fmt.Sprintf("The file is over the limit of %d bytes.", tooLarge.Limit))
	}
	return err
}

// chunker cuts the upload into chunks. Until reset it only buffers (the header is read before
// the transaction); then it stores every full chunk as it fills.
type chunker struct {
	buf   bytes.Buffer
	total int64
	seq   int32
	ctx   context.Context //nolint:containedctx // the transaction's, for the writes io.Copy drives
	q     *db.Queries
	brand uuid.UUID
	id    uuid.UUID
	// pending: chunks are written after the import's row exists (their foreign key); until then
	// the first full chunks wait here.
	pending [][]byte
	created bool
}

func (c *chunker) reset(ctx context.Context, q *db.Queries, brand, id uuid.UUID) {
	c.ctx, c.q, c.brand, c.id, c.seq, c.pending, c.created = ctx, q, brand, id, 0, nil, false
}

func (c *chunker) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	c.buf.Write(p)
	if c.q == nil {
		return len(p), nil // reading the header: bounded by the reader's record limit
	}
	for c.buf.Len() >= chunkSize {
		if err := c.emit(chunkSize); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// emit stores (or, before the import's row exists, keeps) the first n buffered bytes as a chunk.
func (c *chunker) emit(n int) error {
	data := bytes.Clone(c.buf.Next(n))
	if !c.created {
		c.pending = append(c.pending, data)
		return nil
	}
	err := c.q.ImportChunkAdd(c.ctx, db.ImportChunkAddParams{BrandID: c.brand, ImportID: c.id, Seq: c.seq, Data: data})
	c.seq++
	return err
}

// flush keeps what is left as the last chunks.
func (c *chunker) flush() error {
	for c.buf.Len() > 0 {
		if err := c.emit(min(c.buf.Len(), chunkSize)); err != nil {
			return err
		}
	}
	return nil
}

// write stores the chunks kept back until the import's row existed.
func (c *chunker) write() error {
	c.created = true
	for _, data := range c.pending {
		if err := c.q.ImportChunkAdd(c.ctx, db.ImportChunkAddParams{BrandID: c.brand, ImportID: c.id, Seq: c.seq, Data: data}); err != nil {
			return err
		}
		c.seq++
	}
	c.pending = nil
	return nil
}

// GetImport answers an import's progress, with its first errors.
func (h *Handlers) GetImport(ctx context.Context, req api.GetImportRequestObject) (api.GetImportResponseObject, error) {
	type read struct {
		imp  db.Import
		errs []db.ImportErrorsFirstRow
	}
	r, err := kit.InBrand(ctx, h.d, req.BrandId, func(q *db.Queries) (read, error) {
		imp, err := q.ImportGet(ctx, db.ImportGetParams{BrandID: req.BrandId, ID: req.ImportId})
		if err != nil {
			return read{}, err
		}
		errs, err := q.ImportErrorsFirst(ctx, db.ImportErrorsFirstParams{BrandID: req.BrandId, ImportID: req.ImportId, MaxItems: shownErrors})
		return read{imp, errs}, err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, problem.Refuse(api.ProblemCodeNotFound, "No such import.")
	}
	if err != nil {
		return nil, err
	}
	return api.GetImport200JSONResponse(apiImport(r.imp, r.errs)), nil
}

func apiImport(i db.Import, errs []db.ImportErrorsFirstRow) api.Import {
	out := api.Import{
		Id: i.ID, BrandId: i.BrandID, Kind: api.ImportKind(i.Kind), Mode: api.ImportMode(i.Mode), DryRun: i.DryRun,
		Status: api.ImportStatus(i.Status), FileBytes: i.FileBytes, RowsTotal: int(i.RowsTotal), RowsDone: int(i.RowsDone),
		Created: int(i.CreatedCount), Updated: int(i.UpdatedCount), Unchanged: int(i.UnchangedCount), ErrorCount: int(i.ErrorCount),
		Errors: make([]api.ImportRowError, len(errs)), Failure: i.Failure, CreatedAt: i.CreatedAt.UTC(), UpdatedAt: i.UpdatedAt.UTC(),
	}
	if i.FinishedAt != nil {
		t := i.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	for j, e := range errs {
		out.Errors[j] = api.ImportRowError{Row: int(e.RowNumber), Column: e.ColumnName, Message: e.Message}
	}
	return out
}
