// Package servertest runs the real server against a fresh PostgreSQL database for a test, and
// gives the test a client generated from openapi.yaml whose every response is validated against
// that same document.
package servertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/schema"
	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/sessioncache"
)

// DefaultDatabaseURL is the server tests use unless TEST_DATABASE_URL names another.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AppRole is the application role tests run request statements under.
const AppRole = "ecompointer_app"

// The signing secrets of test servers.
const (
	AccessSecret  = "test-access-secret-0123456789abcdef0123456789"
	RefreshSecret = "test-refresh-secret-0123456789abcdef012345678"
)

// Env is one test's running server and what the test needs to talk to it.
type Env struct {
	// URL is the server's base URL.
	URL string
	// Client is the generated client; every response it receives is checked against the spec.
	Client *api.ClientWithResponses
	// HTTP is the validating HTTP client behind Client, for requests the generated client cannot
	// make (malformed bodies, wrong methods).
	HTTP *http.Client
	// Pool is connected as the application role, exactly like the server's.
	Pool *pgxpool.Pool
	// OwnerURL connects as the tables' owner, for assertions RLS would hide.
	OwnerURL string
	// Clock is the server's clock; tests move it instead of sleeping.
	Clock *Clock
	// Config is the configuration the server runs with (secrets included, to forge tokens).
	Config server.Config
	// SessionCache is the server's session cache (nil when Config.SessionCache.Off), for its
	// counters.
	SessionCache *sessioncache.Cache
	// Handler is the server itself, for the workers a test runs (RunWebhooks).
	Handler *server.Handler
	logs    *syncBuffer
}

// Logs returns everything the server has logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// Option adjusts the server's configuration before it starts.
type Option func(*server.Config)

// New starts a server on a fresh, migrated database.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return NewOn(t, Database(t), opts...)
}

// NewOn starts a server on an existing database (from Database), for tests that prepare it
// another way first.
func NewOn(t testing.TB, ownerURL string, opts ...Option) *Env {
	t.Helper()
	ctx := context.Background()

	clock := &Clock{now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	auth := server.DefaultAuthConfig()
	auth.AccessSecret = []byte(AccessSecret)
	auth.RefreshSecret = []byte(RefreshSecret)
	auth.BcryptCost = 4 // the minimum: tests hash many passwords; the cost itself is tested apart
	auth.RateLimit = 0  // tests log in often from one address; the limit has its own test
	cfg := server.Config{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
		Auth:   auth,
		DB:     server.DefaultDBConfig(),
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	// The pool comes after the options: its time limits are theirs, and an option may bring its
	// own pool (one pointing where no database answers, say).
	if cfg.Pool == nil {
		pool, err := server.NewPool(ctx, ownerURL, AppRole, server.WithTimeouts(cfg.DB.StatementTimeout, cfg.DB.LockTimeout))
		if err != nil {
			t.Fatalf("servertest: connect: %v", err)
		}
		t.Cleanup(pool.Close)
		cfg.Pool = pool
	}
	pool := cfg.Pool
	handler, err := server.New(cfg)
	if err != nil {
		t.Fatalf("servertest: server.New: %v", err)
	}
	// After the HTTP server stops, before the pool closes: the database is dropped at the end of
	// the test and no connection may remain.
	t.Cleanup(func() { _ = handler.Close() })
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	// No per-request timeout: on a loaded machine a burst of a thousand requests (the concurrency
	// tests) can keep one waiting far longer than usual, and a client-side timeout would turn that
	// into a failure that says nothing about the server. The server bounds its own work, and
	// go test's -timeout (with every goroutine's stack) bounds a hang.
	httpClient := &http.Client{Transport: NewValidatingTransport(t, http.DefaultTransport)}
	client, err := api.NewClientWithResponses(ts.URL, api.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatalf("servertest: client: %v", err)
	}
	return &Env{URL: ts.URL, Client: client, HTTP: httpClient, Pool: pool, OwnerURL: ownerURL, Clock: clock, Config: cfg,
		SessionCache: handler.SessionCache(), Handler: handler, logs: logs}
}

// Database creates a fresh database, cloned from a migrated template, and returns its URL. The
// login owns the tables; it may create roles but is not a superuser.
func Database(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, testDBConfig(t), migrator{}).URL()
}

// EmptyDatabase creates a fresh database with nothing in it, owned by the same login as Database's
// (no superuser, no BYPASSRLS: CREATEROLE and the database's ownership, as managed PostgreSQL
// grants), for tests of the migrations themselves.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	return pgtestdb.Custom(t, testDBConfig(t), pgtestdb.NoopMigrator{}).URL()
}

func testDBConfig(t testing.TB) pgtestdb.Config {
	t.Helper()
	base := databaseURL()
	checkReachable(t, base)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("servertest: TEST_DATABASE_URL: %v", err)
	}
	password, _ := u.User.Password()
	conf := pgtestdb.Config{
		DriverName: "pgx",
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Password:   password,
		Database:   strings.TrimPrefix(u.Path, "/"),
		Options:    u.RawQuery,
		TestRole: &pgtestdb.Role{
			Username:     "ecompointer_test",
			Password:     "ecompointer_test",
			Capabilities: "NOSUPERUSER NOCREATEDB CREATEROLE",
		},
	}
	return conf
}

func databaseURL() string {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		return v
	}
	return DefaultDatabaseURL
}

var (
	reachOnce sync.Once
	reachErr  error
)

// checkReachable fails the test, never skips it, when there is no database to test against.
func checkReachable(t testing.TB, base string) {
	t.Helper()
	reachOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			reachErr = err
			return
		}
		reachErr = conn.Close(ctx)
	})
	if reachErr != nil {
		t.Fatalf("servertest: no PostgreSQL to test against at %s (%v).\n"+
			"Start the local one (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)\n"+
			"or set TEST_DATABASE_URL to a server where this login may create databases and roles.", redact(base), reachErr)
	}
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "TEST_DATABASE_URL"
	}
	return u.Redacted()
}

// migrator runs the production migration path (schema.Up) to build pgtestdb's template.
type migrator struct{}

func (migrator) Hash() (string, error) {
	h := sha256.New()
	entries, err := schema.FS.ReadDir(".")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		data, err := schema.FS.ReadFile(e.Name())
		if err != nil {
			return "", err
		}
		_, _ = fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(data))
		h.Write(data)
	}
	h.Write([]byte(AppRole))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	return schema.Up(ctx, conf.URL(), AppRole)
}

// Clock is a settable clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

// ValidatingTransport checks every response against openapi.yaml and fails the test on any drift:
// an undocumented status, a body or header that breaks its schema, a wrong content type.
type ValidatingTransport struct {
	t      testing.TB
	next   http.RoundTripper
	router routers.Router
	opts   *openapi3filter.Options
}

var (
	specOnce   sync.Once
	specRouter routers.Router
	specOpts   *openapi3filter.Options
	specErr    error
)

func loadSpec() {
	doc, err := server.LoadSpec()
	if err != nil {
		specErr = err
		return
	}
	doc.Servers = nil
	// kin-openapi decodes no HTML; the spec describes /api-docs as text/html, a string.
	openapi3filter.RegisterBodyDecoder("text/html", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		data, err := io.ReadAll(body)
		return string(data), err
	})
	specRouter, specErr = gorillamux.NewRouter(doc)
	specOpts = &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              true,
		SchemaValidationOptions: doc.GetSchemaValidationOptions(),
	}
}

// NewValidatingTransport wraps next.
func NewValidatingTransport(t testing.TB, next http.RoundTripper) *ValidatingTransport {
	specOnce.Do(loadSpec)
	if specErr != nil {
		t.Fatalf("servertest: load spec: %v", specErr)
	}
	return &ValidatingTransport{t: t, next: next, router: specRouter, opts: specOpts}
}

// RoundTrip sends the request and validates the response.
func (v *ValidatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	v.check(req, resp, body)
	return resp, nil
}

func (v *ValidatingTransport) check(req *http.Request, resp *http.Response, body []byte) {
	t := v.t
	t.Helper()
	where := req.Method + " " + req.URL.Path
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("response drift: %s answered %d with Content-Type %q, want application/problem+json", where, resp.StatusCode, ct)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("response drift: %s answered %d without X-Request-Id", where, resp.StatusCode)
		}
	}
	route, pathParams, err := v.router.FindRoute(req)
	if err != nil {
		// Not an operation of the spec (a router 404/405, /api-docs): only the problem shape
		// above applies.
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
			Options:    v.opts,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: v.opts,
	}
	if err := openapi3filter.ValidateResponse(req.Context(), input); err != nil {
		t.Errorf("response drift: %s answered %d, which openapi.yaml does not allow: %v\nbody: %s", where, resp.StatusCode, err, truncate(body))
		return
	}
	// kin-openapi accepts null wherever `nullable: true` appears; strict 3.0.3 validators do not.
	if schema := responseSchema(route.Operation, resp); schema != nil && len(body) > 0 {
		var value any
		if err := json.Unmarshal(body, &value); err == nil {
			for _, problem := range StrictNulls(schema, value) {
				t.Errorf("response drift: %s answered %d with a null a strict OpenAPI 3.0.3 validator refuses: %s", where, resp.StatusCode, problem)
			}
		}
	}
}

// responseSchema is the schema the spec gives resp's status and JSON content type, or nil.
func responseSchema(op *openapi3.Operation, resp *http.Response) *openapi3.Schema {
	if op == nil || op.Responses == nil {
		return nil
	}
	ref := op.Responses.Status(resp.StatusCode)
	if ref == nil {
		ref = op.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return nil
	}
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	media := ref.Value.Content.Get(strings.TrimSpace(ct))
	if media == nil || media.Schema == nil || !strings.HasSuffix(ct, "json") {
		return nil
	}
	return media.Schema.Value
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// Doc returns the loaded spec, for tests that walk it.
func Doc(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := server.LoadSpec()
	if err != nil {
		t.Fatalf("servertest: load spec: %v", err)
	}
	return doc
}

// ReadProblem decodes a problem+json response and closes its body.
func ReadProblem(t testing.TB, resp *http.Response) api.Problem {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	return p
}
