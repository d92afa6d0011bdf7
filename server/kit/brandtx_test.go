package kit_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// roundTrips counts the protocol round trips of the connections it dialled: a read that
// follows a write (the client sent something and now waits for the answer).
type roundTrips struct {
	mu sync.Mutex
	n  int
}

func (r *roundTrips) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

type countingConn struct {
	net.Conn
	r     *roundTrips
	wrote bool
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.r.mu.Lock()
	c.wrote = true
	c.r.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	c.r.mu.Lock()
	if c.wrote {
		c.r.n++
		c.wrote = false
	}
	c.r.mu.Unlock()
	return c.Conn.Read(b)
}

// bundle is what a test of the brand-scoped transactions works with: two brands with one
// product each, on a pool of one connection (as the application role) whose round trips are
// counted.
type bundle struct {
	d        *kit.Deps
	trips    *roundTrips
	brandA   uuid.UUID
	brandB   uuid.UUID
	productA db.Product
	productB db.Product
}

func setup(t testing.TB) *bundle {
	t.Helper()
	return setupPool(t, "&pool_max_conns=1")
}

// setupPool is setup with the pool's size in the URL ("": the server's default).
func setupPool(t testing.TB, poolSize string) *bundle {
	t.Helper()
	ctx := context.Background()
	trips := &roundTrips{}
	pool, err := server.NewPool(ctx, servertest.Database(t)+poolSize, servertest.AppRole, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, r: trips}, nil
		}
		// No liveness ping on acquire: it would be a round trip of its own.
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := &bundle{d: &kit.Deps{Pool: pool, Queries: db.New(pool), TxAttempts: 3}, trips: trips}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, brand := range []*uuid.UUID{&b.brandA, &b.brandB} {
		*brand = uuid.New()
		if _, err := b.d.Queries.BrandCreate(ctx, db.BrandCreateParams{ID: *brand, Name: "Brand", Slug: "b-" + brand.String()[:8], Currency: "USD", Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	b.productA = b.createProduct(t, b.brandA, "SKU-A")
	b.productB = b.createProduct(t, b.brandB, "SKU-B")
	return b
}

func (b *bundle) createProduct(t testing.TB, brand uuid.UUID, sku string) db.Product {
	t.Helper()
	p, err := kit.InBrand(context.Background(), b.d, brand, func(q *db.Queries) (db.Product, error) {
		return q.ProductCreate(context.Background(), productParams(brand, sku))
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func productParams(brand uuid.UUID, sku string) db.ProductCreateParams {
	return db.ProductCreateParams{
		BrandID: brand, ID: uuid.Must(uuid.NewV7()), Sku: sku, Name: "Product " + sku, PriceAmount: 100,
		Status: db.ProductStatusActive, Attributes: []byte("{}"), Tags: []string{}, Now: time.Now().UTC(),
		Options: []byte("[]"), OptionValues: []byte("[]"), Images: []byte("[]"),
	}
}

// connectionIdle fails t unless the pool's connection came back outside any transaction.
func (b *bundle) connectionIdle(t *testing.T) {
	t.Helper()
	var status byte
	if err := b.d.Pool.AcquireFunc(context.Background(), func(c *pgxpool.Conn) error {
		status = c.Conn().PgConn().TxStatus()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if status != 'I' {
		t.Errorf("the connection came back in transaction status %q, want idle", status)
	}
}

// trips returns how many round trips f took.
func (b *bundle) tripsOf(t *testing.T, f func() error) int {
	t.Helper()
	before := b.trips.count()
	if err := f(); err != nil {
		t.Fatal(err)
	}
	return b.trips.count() - before
}

// TestBrandScopeRoundTrips: a brand-scoped single read is one round trip once its statement is
// prepared on the connection (the first costs one more, to prepare it); a single write through
// InBrand is two (BEGIN, set_config and the statement; COMMIT). Before the batch path both were
// four (BEGIN; set_config; the statement; COMMIT), as the last case shows.
func TestBrandScopeRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	get := func() error {
		p, err := kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
			return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: b.productA.ID})
		})
		if err == nil && p.ID != b.productA.ID {
			err = errors.New("ReadInBrand read another product")
		}
		return err
	}
	list := func() error {
		ps, err := kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) ([]db.Product, error) {
			return q.ProductList(ctx, db.ProductListParams{BrandID: b.brandA, Sort: "-createdAt", RowLimit: 21})
		})
		if err == nil && len(ps) != 1 {
			err = errors.New("the list is not the brand's one product")
		}
		return err
	}
	if got, want := b.tripsOf(t, get), 2; got != want {
		t.Errorf("first ReadInBrand get: %d round trips, want %d (prepare, then the batch)", got, want)
	}
	for range 3 {
		if got, want := b.tripsOf(t, get), 1; got != want {
			t.Errorf("ReadInBrand get: %d round trips, want %d", got, want)
		}
	}
	_ = b.tripsOf(t, list)
	if got, want := b.tripsOf(t, list), 1; got != want {
		t.Errorf("ReadInBrand list: %d round trips, want %d", got, want)
	}
	create := func() error {
		b.createProduct(t, b.brandA, "SKU-"+uuid.NewString()[:8])
		return nil
	}
	_ = b.tripsOf(t, create)
	if got, want := b.tripsOf(t, create), 2; got != want {
		t.Errorf("InBrand create: %d round trips, want %d", got, want)
	}
	twoStatements := func() error {
		_, err := kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
			if _, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: b.productA.ID}); err != nil {
				return db.Product{}, err
			}
			return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: b.productA.ID})
		})
		return err
	}
	if got, want := b.tripsOf(t, twoStatements), 3; got != want {
		t.Errorf("InBrand with two statements: %d round trips, want %d", got, want)
	}
	old := func() error { // the transaction InBrand ran before: pgx.BeginFunc, then one statement at a time
		return b.d.InTx(ctx, func(q *db.Queries) error {
			if err := q.BrandScopeSet(ctx, b.brandA.String()); err != nil {
				return err
			}
			_, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: b.productA.ID})
			return err
		})
	}
	if got, want := b.tripsOf(t, old), 4; got != want {
		t.Errorf("BEGIN; set_config; get; COMMIT: %d round trips, want %d", got, want)
	}
	if n := b.d.Pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still acquired", n)
	}
}

// TestBrandScopeRowLevelSecurity: on the batch path, in both modes, a statement that does not
// filter by brand sees only the scoped brand's rows, another brand's row is invisible by id,
// and a write of another brand's row is refused by the policy.
func TestBrandScopeRowLevelSecurity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, readOnly := range []bool{true, false} {
		err := kit.InBrandRaw(ctx, b.d, b.brandA, readOnly, func(tx db.DBTX) error {
			rows, err := tx.Query(ctx, "SELECT brand_id, id FROM products")
			if err != nil {
				return err
			}
			seen, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
				Brand uuid.UUID
				ID    uuid.UUID
			}])
			if err != nil {
				return err
			}
			if len(seen) != 1 || seen[0].Brand != b.brandA || seen[0].ID != b.productA.ID {
				t.Errorf("readOnly=%v: an unfiltered SELECT saw %v, want only brand A's product", readOnly, seen)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("readOnly=%v: %v", readOnly, err)
		}
		_, err = kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
			return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandB, ID: b.productB.ID})
		})
		if readOnly {
			_, err = kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
				return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandB, ID: b.productB.ID})
			})
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("readOnly=%v: brand B's product scoped to brand A: %v, want no rows", readOnly, err)
		}
	}
	// A write of another brand's row breaks the policy's WITH CHECK (42501).
	_, err := kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductCreate(ctx, productParams(b.brandB, "SKU-X"))
	})
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("InBrand(A) creating brand B's product: %v, want a row-level security violation", err)
	}
	// ReadInBrand's transaction cannot write at all (25006), even its own brand.
	_, err = kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductCreate(ctx, productParams(b.brandA, "SKU-RO"))
	})
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "25006" {
		t.Errorf("ReadInBrand writing: %v, want read_only_sql_transaction", err)
	}
	// Nor run a second statement.
	_, err = kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		if _, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: b.productA.ID}); err != nil {
			return db.Product{}, err
		}
		return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: b.productA.ID})
	})
	if err == nil {
		t.Error("ReadInBrand ran a second statement")
	}
	// A list's read is planned for its own parameters, never a prepared statement's generic
	// plan; a get keeps the cached plan.
	for _, c := range []struct {
		name string
		run  func(fn func(tx db.DBTX) error) error
		want string
	}{
		{"ListInBrand", func(fn func(tx db.DBTX) error) error { return kit.ListInBrandRaw(ctx, b.d, b.brandA, fn) }, "force_custom_plan"},
		{"ReadInBrand", func(fn func(tx db.DBTX) error) error { return kit.InBrandRaw(ctx, b.d, b.brandA, true, fn) }, "auto"},
	} {
		var mode string
		err := c.run(func(tx db.DBTX) error {
			return tx.QueryRow(ctx, "SELECT current_setting('plan_cache_mode')").Scan(&mode)
		})
		if err != nil || mode != c.want {
			t.Errorf("%s's plan_cache_mode = %q (%v), want %s", c.name, mode, err, c.want)
		}
	}
	// Nothing of the scope outlives its transaction on the connection (the pool has one).
	err = kit.InBrandRaw(ctx, b.d, b.brandA, true, func(tx db.DBTX) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var setting, readOnly, planMode string
	if err := b.d.Pool.QueryRow(ctx, "SELECT coalesce(current_setting('app.brand_id', true), ''), current_setting('transaction_read_only'), current_setting('plan_cache_mode')").Scan(&setting, &readOnly, &planMode); err != nil {
		t.Fatal(err)
	}
	if setting != "" || readOnly != "off" || planMode != "auto" {
		t.Errorf("after the scoped transactions, the connection has app.brand_id %q, transaction_read_only %s, plan_cache_mode %s", setting, readOnly, planMode)
	}
}

// TestInBrandRollsBack: whatever fails after a write (a later statement, or fn's own refusal),
// the write is rolled back; the connection comes back idle.
func TestInBrandRollsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	refused := errors.New("refused")
	for name, then := range map[string]func(q *db.Queries) error{
		"a failing statement": func(q *db.Queries) error {
			_, err := q.ProductCreate(ctx, productParams(b.brandA, "SKU-A")) // taken: 23505
			return err
		},
		"fn's own refusal": func(*db.Queries) error { return refused },
	} {
		sku := "SKU-" + uuid.NewString()[:8]
		_, err := kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (struct{}, error) {
			if _, err := q.ProductCreate(ctx, productParams(b.brandA, sku)); err != nil {
				return struct{}{}, err
			}
			return struct{}{}, then(q)
		})
		if err == nil {
			t.Fatalf("%s: InBrand succeeded", name)
		}
		ps, err := kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) ([]db.Product, error) {
			return q.ProductList(ctx, db.ProductListParams{BrandID: b.brandA, Sort: "-createdAt", RowLimit: 100})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Sku == sku {
				t.Errorf("%s: the first write was committed", name)
			}
		}
	}
	// The first statement itself failing (its batch carries BEGIN and the scope) rolls back too.
	_, err := kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductCreate(ctx, productParams(b.brandA, "SKU-A"))
	})
	if !kit.IsConflict(err, "products_sku_key") {
		t.Errorf("a taken SKU as the first statement: %v, want the unique violation", err)
	}
	b.connectionIdle(t)
}

// TestSendWithCommit: an Exec sent with kit.SendWithCommit after a transaction's first statement
// travels with its COMMIT. A product and its event cost the two round trips the product alone
// costs; the event failing (row-level security refuses another brand's) fails InBrand and
// commits neither; a statement fn runs after it sees its row.
func TestSendWithCommit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	event := func(brand uuid.UUID, p db.Product, id uuid.UUID) db.EventInsertParams {
		return eventParams(t, brand, p, id)
	}
	// create writes a product of brand A and its event, of eventBrand, and reads the event back
	// in the transaction when readBack is set.
	create := func(eventBrand uuid.UUID, readBack bool) (db.Product, db.EventGetRow, error) {
		var seen db.EventGetRow
		id := uuid.Must(uuid.NewV7())
		p, err := kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
			p, err := q.ProductCreate(ctx, productParams(b.brandA, "SKU-"+uuid.NewString()[:8]))
			if err != nil {
				return p, err
			}
			if err := q.EventInsert(kit.SendWithCommit(ctx), event(eventBrand, p, id)); err != nil {
				return p, err
			}
			if readBack {
				seen, err = q.EventGet(ctx, db.EventGetParams{BrandID: b.brandA, ID: id})
			}
			return p, err
		})
		return p, seen, err
	}
	t.Run("one round trip with the COMMIT", func(t *testing.T) {
		var p db.Product
		run := func() error {
			var err error
			p, _, err = create(b.brandA, false)
			return err
		}
		_ = b.tripsOf(t, run) // prepares the statements on the connection
		if got, want := b.tripsOf(t, run), 2; got != want {
			t.Errorf("a product and its event: %d round trips, want %d (as the product alone)", got, want)
		}
		if !b.committed(t, p) {
			t.Error("the product was not committed")
		}
	})
	t.Run("several held writes travel together", func(t *testing.T) {
		typ := "test.held." + uuid.NewString()
		var p db.Product
		run := func() error {
			var err error
			p, err = kit.InBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
				p, err := q.ProductCreate(ctx, productParams(b.brandA, "SKU-"+uuid.NewString()[:8]))
				if err != nil {
					return p, err
				}
				if err := q.EventInsert(kit.SendWithCommit(ctx), event(b.brandA, p, uuid.Must(uuid.NewV7()))); err != nil {
					return p, err
				}
				return p, q.AuditEventCreate(kit.SendWithCommit(ctx), db.AuditEventCreateParams{ID: uuid.Must(uuid.NewV7()), Type: typ, Now: time.Now().UTC()})
			})
			return err
		}
		_ = b.tripsOf(t, run) // prepares the statements on the connection
		if got, want := b.tripsOf(t, run), 2; got != want {
			t.Errorf("a product, its event and another held write: %d round trips, want %d", got, want)
		}
		rows, err := b.d.Queries.AuditEventList(ctx, db.AuditEventListParams{Type: &typ, RowLimit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !b.committed(t, p) || len(rows) != 2 {
			t.Errorf("the product committed: %v, the held writes committed: %d of 2", b.committed(t, p), len(rows))
		}
	})
	t.Run("its failure commits nothing", func(t *testing.T) {
		p, _, err := create(b.brandB, false)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Fatalf("an event of brand B in brand A's transaction: %v, want row-level security's refusal (42501)", err)
		}
		if b.committed(t, p) {
			t.Error("the product was committed without its event")
		}
		b.connectionIdle(t)
	})
	t.Run("a later statement sees its row", func(t *testing.T) {
		p, seen, err := create(b.brandA, true)
		if err != nil {
			t.Fatal(err)
		}
		if seen.Type != "product.created" || !strings.Contains(string(seen.Envelope), p.Sku) {
			t.Errorf("the transaction's own read of the event: %q %s, want its product.created", seen.Type, seen.Envelope)
		}
		if !b.committed(t, p) {
			t.Error("the product was not committed")
		}
	})
}

// committed reports whether brand A's product p was committed.
func (b *bundle) committed(t *testing.T, p db.Product) bool {
	t.Helper()
	ctx := context.Background()
	_, err := kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: p.ID})
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	return err == nil
}

// eventParams is a product.created event of p, written as brand's.
func eventParams(t *testing.T, brand uuid.UUID, p db.Product, id uuid.UUID) db.EventInsertParams {
	t.Helper()
	rows, err := json.Marshal([]map[string]any{{
		"id": id, "type": "product.created", "aggregateType": "product",
		"aggregateId": p.ID, "aggregateVersion": p.Version, "data": map[string]any{"sku": p.Sku},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return db.EventInsertParams{BrandID: brand, OccurredAt: time.Now().UTC(), Events: rows}
}

// TestOwnedTransaction: the transaction a keyed request runs in (Deps.BeginFunc, owned by the
// idempotency layer, the handler's InBrand joined in a savepoint through WithTx) spends no round
// trip releasing the savepoint, and what the handler's savepoint and the owner mark SendWithCommit
// (an order's history and events; the stored answer) is held and travels with the COMMIT in one
// pipeline: a product and its event in the savepoint and the owner's write take 5 round trips
// (BEGIN, SAVEPOINT, the brand's scope, the product; the held writes and the COMMIT). They took 6
// while a savepoint sent its writes at once, and 8 before the owner's write travelled with the
// COMMIT and the savepoint went unreleased (RELEASE, the write, COMMIT). A savepoint rolled back
// drops what it held, unsent, and the owner still commits its own.
func TestOwnedTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	errRefused := errors.New("refused")
	type outcome struct {
		product db.Product
		event   uuid.UUID
		audit   string
	}
	// keyed writes a product of brand A in the handler's savepoint and holds its event, written as
	// eventBrand's (refused after it when refuse is set); then the owner holds an audit row of its
	// own.
	keyed := func(eventBrand uuid.UUID, refuse bool) (outcome, error) {
		o := outcome{event: uuid.Must(uuid.NewV7())}
		o.audit = "test.owner." + o.event.String()
		err := b.d.BeginFunc(ctx, func(tx pgx.Tx) error {
			var err error
			o.product, err = kit.InBrand(kit.WithTx(ctx, tx), b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
				p, err := q.ProductCreate(ctx, productParams(b.brandA, "SKU-"+uuid.NewString()[:8]))
				if err != nil {
					return p, err
				}
				if err := q.EventInsert(kit.SendWithCommit(ctx), eventParams(t, eventBrand, p, o.event)); err != nil {
					return p, err
				}
				if refuse {
					return p, errRefused
				}
				return p, nil
			})
			if err != nil && (!refuse || !errors.Is(err, errRefused)) {
				return err
			}
			return db.New(tx).AuditEventCreate(kit.SendWithCommit(ctx), db.AuditEventCreateParams{
				ID: uuid.Must(uuid.NewV7()), Type: o.audit, Now: time.Now().UTC(),
			})
		})
		return o, err
	}
	eventCommitted := func(t *testing.T, id uuid.UUID) bool {
		t.Helper()
		_, err := kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.EventGetRow, error) {
			return q.EventGet(ctx, db.EventGetParams{BrandID: b.brandA, ID: id})
		})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		return err == nil
	}
	auditCommitted := func(t *testing.T, typ string) bool {
		t.Helper()
		rows, err := b.d.Queries.AuditEventList(ctx, db.AuditEventListParams{Type: &typ, RowLimit: 2})
		if err != nil {
			t.Fatal(err)
		}
		return len(rows) == 1
	}
	t.Run("the savepoint's write goes with the owner's and the COMMIT", func(t *testing.T) {
		var o outcome
		run := func() error {
			var err error
			o, err = keyed(b.brandA, false)
			return err
		}
		_ = b.tripsOf(t, run) // prepares the statements on the connection
		if got, want := b.tripsOf(t, run), 5; got != want {
			t.Errorf("a product and its event in a savepoint, and the owner's write: %d round trips, want %d", got, want)
		}
		if !b.committed(t, o.product) || !eventCommitted(t, o.event) || !auditCommitted(t, o.audit) {
			t.Errorf("committed: product %v, its event %v, the owner's write %v; want all three",
				b.committed(t, o.product), eventCommitted(t, o.event), auditCommitted(t, o.audit))
		}
		b.connectionIdle(t)
	})
	t.Run("a rolled-back savepoint drops what it held", func(t *testing.T) {
		o, err := keyed(b.brandA, true)
		if err != nil {
			t.Fatal(err)
		}
		if b.committed(t, o.product) || eventCommitted(t, o.event) {
			t.Error("the refused handler's product or its held event was committed")
		}
		if !auditCommitted(t, o.audit) {
			t.Error("the owner's write was not committed")
		}
		b.connectionIdle(t)
	})
	t.Run("its failure commits nothing", func(t *testing.T) {
		o, err := keyed(b.brandB, false)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Fatalf("an event of brand B held in brand A's savepoint: %v, want row-level security's refusal (42501)", err)
		}
		if b.committed(t, o.product) || auditCommitted(t, o.audit) {
			t.Error("the product or the owner's write was committed though the transaction failed")
		}
		b.connectionIdle(t)
	})
}

// TestBrandScopeRetriesConflicts: a deadlock raised by the database inside the batch path's
// transaction (the first statement, or a later one) rolls back and runs fn again.
func TestBrandScopeRetriesConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	const deadlock = "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40P01'; END $$"
	for _, tc := range []struct {
		name     string
		readOnly bool
		later    bool // the deadlock comes from a second statement
	}{
		{"ReadInBrand", true, false},
		{"InBrand, first statement", false, false},
		{"InBrand, later statement", false, true},
		{"InBrand, later statement sent with the COMMIT", false, true},
	} {
		runs := 0
		err := kit.InBrandRaw(ctx, b.d, b.brandA, tc.readOnly, func(tx db.DBTX) error {
			runs++
			if tc.later {
				if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
					return err
				}
			}
			if runs < 3 {
				sctx := ctx
				if strings.HasSuffix(tc.name, "with the COMMIT") {
					sctx = kit.SendWithCommit(ctx)
				}
				_, err := tx.Exec(sctx, deadlock)
				return err
			}
			_, err := tx.Exec(ctx, "SELECT 1")
			return err
		})
		if err != nil || runs != 3 {
			t.Errorf("%s: ran %d times, err %v; want 3 runs, success", tc.name, runs, err)
		}
	}
}

// TestInBrandJoinsTheOwnersTransaction: inside a transaction WithTx put in ctx (the idempotency
// layer's), InBrand and ReadInBrand run in it, scoped, and its owner decides the outcome.
func TestInBrandJoinsTheOwnersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	tx, err := b.d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	joined := kit.WithTx(ctx, tx)
	created, err := kit.InBrand(joined, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductCreate(joined, productParams(b.brandA, "SKU-JOINED"))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := kit.ReadInBrand(joined, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductGet(joined, db.ProductGetParams{BrandID: b.brandA, ID: created.ID})
	})
	if err != nil || got.ID != created.ID {
		t.Fatalf("ReadInBrand in the owner's transaction: %v, %v", got.ID, err)
	}
	_, err = kit.ReadInBrand(joined, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductGet(joined, db.ProductGetParams{BrandID: b.brandB, ID: b.productB.ID})
	})
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("brand B's product in the owner's transaction scoped to A: %v, want no rows", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = kit.ReadInBrand(ctx, b.d, b.brandA, func(q *db.Queries) (db.Product, error) {
		return q.ProductGet(ctx, db.ProductGetParams{BrandID: b.brandA, ID: created.ID})
	})
	if !errors.Is(err, pgx.ErrNoRows) {
		t.Errorf("after the owner rolled back: %v, want the product gone", err)
	}
}

// BenchmarkBrandScopedGet: a product by id in its brand's scope, 64 concurrent callers on the
// server's default pool: as InBrand ran it before (BEGIN; set_config; the query; COMMIT) and
// through ReadInBrand (one round trip). The two alternate with -count, so a busy machine weighs
// on both alike.
func BenchmarkBrandScopedGet(b *testing.B) {
	bb := setupPool(b, "")
	ctx := context.Background()
	key := db.ProductGetParams{BrandID: bb.brandA, ID: bb.productA.ID}
	b.Run("begin-set-get-commit", func(b *testing.B) {
		b.SetParallelism(32) // 64 goroutines on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				err := bb.d.InTx(ctx, func(q *db.Queries) error {
					if err := q.BrandScopeSet(ctx, bb.brandA.String()); err != nil {
						return err
					}
					_, err := q.ProductGet(ctx, key)
					return err
				})
				if err != nil {
					b.Error(err)
				}
			}
		})
	})
	b.Run("ReadInBrand", func(b *testing.B) {
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, err := kit.ReadInBrand(ctx, bb.d, bb.brandA, func(q *db.Queries) (db.Product, error) {
					return q.ProductGet(ctx, key)
				})
				if err != nil {
					b.Error(err)
				}
			}
		})
	})
}
