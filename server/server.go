// Package server implements the API that openapi.yaml describes: it fills in the generated strict
// server interface and wires the middleware that enforces the spec's contract (validation,
// authentication, permissions, problem details) around it.
package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/ecompointer/ecompointer"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/catalog"
	"github.com/ecompointer/ecompointer/server/customers"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/idempotency"
	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/imports"
	"github.com/ecompointer/ecompointer/server/inventory"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/natspush"
	"github.com/ecompointer/ecompointer/server/observe"
	"github.com/ecompointer/ecompointer/server/orders"
	"github.com/ecompointer/ecompointer/server/paging"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/purchasing"
	"github.com/ecompointer/ecompointer/server/sessioncache"
	"github.com/ecompointer/ecompointer/server/token"
	"github.com/ecompointer/ecompointer/server/webhooks"
)

// DefaultBodyLimit is the largest request body an operation accepts unless the spec's
// `x-body-limit` on the operation says otherwise.
const DefaultBodyLimit = 1 << 20

// DefaultBrandShareWait is how long a brand-scoped request waits for one of its brand's slots
// unless configured otherwise.
const DefaultBrandShareWait = kit.DefaultBrandShareWait

// Config is everything the server depends on; New takes nothing from globals.
type Config struct {
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	// DirectPool reaches PostgreSQL without a transaction pooler (PgBouncer) in between, for what
	// needs a session of its own: the session cache's LISTEN and river's (DATABASE_DIRECT_URL).
	// Nil: Pool, which then must be direct.
	DirectPool *pgxpool.Pool
	// JobsPool is background work's own pool (NewJobsPool, DATABASE_JOBS_POOL_SIZE): the job
	// queue's river client and its webhook and NATS workers run on it, each brand's share of it
	// bounded apart from the brand's share of Pool, so that a brand's requests and its deliveries
	// never wait for each other's connections. It must reach PostgreSQL directly (river LISTENs).
	// Nil: they share DirectPool (or Pool) and the brand's share with its requests (tests).
	JobsPool *pgxpool.Pool
	// CORSAllowedOrigins lists the browser origins allowed to call the API (CORS_ALLOWED_ORIGINS):
	// exact origins, `*` for any, or one `*` inside an entry as a wildcard; none by default.
	CORSAllowedOrigins []string
	// Now is the clock; tests move it to check expiry without sleeping.
	Now  func() time.Time
	Auth AuthConfig
	// DB bounds each request's database work. Its StatementTimeout and LockTimeout take effect
	// through the pool (NewPool with WithTimeouts); the server applies the rest.
	DB DBConfig
	// BrandPoolShare is how many of the pool's connections one brand's requests may hold at once;
	// 0 means half the pool's maximum (at least 1), negative turns the bound off.
	BrandPoolShare int
	// BrandPoolWait is how long a brand-scoped request waits for one of its brand's connections
	// before it is answered 503 `brand_busy`; 0 means DefaultBrandShareWait.
	BrandPoolWait time.Duration
	// IdempotencyKeyTTL is how long the first answer to an Idempotency-Key is kept (default 24h).
	IdempotencyKeyTTL time.Duration
	// IdempotencyBounds limit what refused answers may take in the key store (zero: defaults).
	IdempotencyBounds idempotency.Bounds
	// RateLimitRedisURL, when set, shares the per-IP rate limit between instances through Redis.
	RateLimitRedisURL string
	// SessionCache is the in-memory session check (server/sessioncache).
	SessionCache SessionCacheConfig
	// Webhooks sets webhook delivery (WEBHOOK_* settings; zero: the defaults, https only).
	Webhooks webhooks.Config
	// NATS publishes every event to JetStream when its URL is set (EVENTS_NATS_URL); the pool must
	// then be connected WithNATSPublish, so that events.Emit enqueues the publications.
	NATS natspush.Config
}

// SessionCacheConfig sets the session cache: on unless Off, holding at most Size sessions and
// Size users (sessioncache.DefaultSize when zero).
type SessionCacheConfig struct {
	Off  bool
	Size int
}

// DBConfig bounds the database work of requests (.env.example documents each one).
type DBConfig struct {
	// StatementTimeout is PostgreSQL's statement_timeout on every pooled connection.
	StatementTimeout time.Duration
	// LockTimeout is PostgreSQL's lock_timeout on every pooled connection.
	LockTimeout time.Duration
	// RequestTimeout is each request's deadline (waiting for a pooled connection included);
	// 0 sets none.
	RequestTimeout time.Duration
	// TxAttempts is how many times a transaction aborted by a serialization failure or a deadlock
	// runs in all before the client gets 503 write_conflict; below 1 counts as 1.
	TxAttempts int
	// CommitTimeout bounds each COMMIT on its own: the request's deadline never cancels a COMMIT
	// in flight (cutting it could answer 503 for a change that was made). A COMMIT past this
	// bound has an unknown outcome: a keyed request settles it (idempotency.Store), any other
	// answers 503 outcome_unknown. 0 means
	// kit.DefaultCommitTimeout.
	CommitTimeout time.Duration
}

// DefaultDBConfig returns the documented defaults.
func DefaultDBConfig() DBConfig {
	return DBConfig{
		StatementTimeout: 5 * time.Second,
		LockTimeout:      2 * time.Second,
		RequestTimeout:   20 * time.Second,
		TxAttempts:       3,
		CommitTimeout:    kit.DefaultCommitTimeout,
	}
}

// AuthConfig holds the authentication settings (.env.example documents each one).
type AuthConfig = identity.Config

// DefaultAuthConfig returns the documented defaults, without secrets.
func DefaultAuthConfig() AuthConfig { return identity.DefaultConfig() }

// Server implements api.StrictServerInterface: one type composed of the domain packages'
// handlers, plus the operations about the service itself (health, the spec).
type Server struct {
	*identityHandlers
	*catalogHandlers
	*inventoryHandlers
	*orderHandlers
	*purchasingHandlers
	*eventHandlers
	*webhookHandlers
	*customerHandlers
	*importHandlers

	deps *kit.Deps
	// jobDeps are the job queue's (RunJobs): deps on Config.JobsPool, with a brand gate of their
	// own; deps itself without one.
	jobDeps *kit.Deps
	natsCfg natspush.Config
	idem    *idempotency.Store
	log     *slog.Logger
	auth    AuthConfig
	db      DBConfig
	dblog   *logDeduper
	tokens  *token.Tokens
	limiter rateLimiter
	// closeLimiter ends the shared rate limit's Redis connections.
	closeLimiter func() error
	ready        *readiness
	spec         *spec
	specDoc      map[string]any // openapi.yaml, decoded once for /openapi.json
	// sessions answers the per-request session check; nil when SESSION_CACHE=off (and in the
	// baselines), which asks the database every time.
	sessions *sessioncache.Cache
	// authn resolves bearer tokens to callers, through sessions.
	authn *identity.Authenticator
}

// The domain handler types are all named Handlers: these aliases give each embedded field a name
// of its own.
type (
	identityHandlers   = identity.Handlers
	catalogHandlers    = catalog.Handlers
	inventoryHandlers  = inventory.Handlers
	orderHandlers      = orders.Handlers
	eventHandlers      = events.Handlers
	webhookHandlers    = webhooks.Handlers
	customerHandlers   = customers.Handlers
	purchasingHandlers = purchasing.Handlers
	importHandlers     = imports.Handlers
)

var _ api.StrictServerInterface = (*Server)(nil)

// Handler is the server as http.Handler; Close ends what it holds besides the pool (the
// readiness connection). Call it once the HTTP server has stopped, before closing the pool.
type Handler struct {
	http.Handler
	s *Server
	// jobsDone is closed when the job queue RunWorkers started has stopped.
	jobsDone chan struct{}
}

// Close releases the server's own connections (readiness, the session cache's listener, the
// shared rate limit's Redis). After RunWorkers, it first waits for the job queue to finish
// the jobs in flight: cancel RunWorkers' context before.
func (h *Handler) Close() error {
	if h.jobsDone != nil {
		<-h.jobsDone
	}
	h.s.sessions.Close()
	return errors.Join(h.s.ready.close(), h.s.closeLimiter())
}

// SessionCache is the server's session cache, nil when it is off (tests read its counters).
func (h *Handler) SessionCache() *sessioncache.Cache { return h.s.sessions }

// Tokens is the server's token issuer and verifier (its counters are metrics).
func (h *Handler) Tokens() *token.Tokens { return h.s.tokens }

// New wires the router, the middleware and the generated handlers. It is the only wiring point.
func New(cfg Config) (*Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.SessionCache.Off {
		s.sessions = sessioncache.New(sessioncache.Config{
			Queries: s.deps.Queries, ConnConfig: cmp.Or(cfg.DirectPool, cfg.Pool).Config().ConnConfig, Size: cfg.SessionCache.Size, Logger: s.log,
		})
		s.authn = identity.NewAuthenticator(s.deps, s.tokens, s.sessions)
	}

	r := chi.NewRouter()
	// HEAD is GET without the body (RFC 9110 §9.3.2): every GET route answers it, with GET's
	// headers (net/http drops the body).
	r.Use(requestID(s.auth.TrustedProxies), observe.Middleware, accessLog(s.log), recoverer(s.log), middleware.GetHead, s.requestDeadline)
	// Always on: with no origin allowed, a preflight still learns which setting allows one.
	r.Use(newCORS(cfg.CORSAllowedOrigins, s.spec.doc).middleware)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		problem.WriteCode(w, r, api.ProblemCodeNotFound, "No resource at "+r.URL.Path+".")
	})
	r.MethodNotAllowed(s.methodNotAllowed)

	// Swagger UI is a page for people, not part of the API: it stays outside the contract.
	docs := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       s.spec.doc.Info.Title,
		SwaggerJSON: "/openapi.yaml",
		BasePath:    "/api-docs/",
		SettingsUI: map[string]string{
			// No call to the online validator: the page must work offline and leak nothing.
			"validatorUrl": "null",
			// Keep the bearer token across reloads (Swagger UI stores it in localStorage).
			"persistAuthorization": "true",
			// Show the schemas section, collapsed.
			"defaultModelsExpandDepth": "0",
		},
	})
	r.Method(http.MethodGet, "/api-docs", docs)
	r.Method(http.MethodGet, "/api-docs/*", notFoundAsProblem(docs))

	strict := api.NewStrictHandlerWithOptions(s, []api.StrictMiddlewareFunc{s.idem.Middleware, s.syncSessions}, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  s.requestErrorHandler,
		ResponseErrorHandlerFunc: s.responseErrorHandler,
	})
	r.Group(func(r chi.Router) {
		r.Use(s.contract)
		api.HandlerWithOptions(strict, api.ChiServerOptions{
			BaseRouter:       r,
			ErrorHandlerFunc: s.requestErrorHandler,
		})
	})
	if err := s.spec.ops.routedBy(r); err != nil {
		return nil, err
	}
	return &Handler{Handler: r, s: s}, nil
}

func newServer(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Pool == nil {
		return nil, errors.New("server: a database pool is required")
	}
	now := databaseClock(cfg.Now)

	sp, err := loadSpec()
	if err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(sp.doc)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	var specDoc map[string]any
	if err := json.Unmarshal(specJSON, &specDoc); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	tokens, err := token.New(token.Config{
		AccessSecret:          cfg.Auth.AccessSecret,
		RefreshSecret:         cfg.Auth.RefreshSecret,
		AccessSecretPrevious:  cfg.Auth.AccessSecretPrevious,
		RefreshSecretPrevious: cfg.Auth.RefreshSecretPrevious,
		Issuer:                cfg.Auth.Issuer,
		Audience:              cfg.Auth.Audience,
		AccessTTL:             cfg.Auth.AccessTTL,
		RefreshTTL:            cfg.Auth.RefreshTTL,
		Leeway:                token.MaxLeeway,
		Now:                   now,
		// One access token in use per live session: as many as the session cache holds.
		Remember: cmp.Or(cfg.SessionCache.Size, sessioncache.DefaultSize),
	})
	if err != nil {
		return nil, err
	}
	cfg.DB.TxAttempts = max(cfg.DB.TxAttempts, 1)
	deps := newDeps(cfg)
	ident, err := identity.New(deps, cfg.Auth, tokens)
	if err != nil {
		return nil, err
	}
	importer, err := imports.New(deps, sp.doc)
	if err != nil {
		return nil, err
	}
	limiter, closeLimiter, err := newRateLimiter(cfg.Auth.RateLimit, cfg.RateLimitRedisURL, now, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Server{
		identityHandlers:   ident,
		catalogHandlers:    catalog.New(deps),
		inventoryHandlers:  inventory.New(deps),
		orderHandlers:      orders.New(deps),
		eventHandlers:      events.New(deps),
		webhookHandlers:    webhooks.New(deps, cfg.Webhooks),
		customerHandlers:   customers.New(deps),
		deps:               deps,
		jobDeps:            newJobDeps(cfg, deps),
		natsCfg:            cfg.NATS,
		idem:               idempotency.New(deps, cfg.IdempotencyKeyTTL, idempotentOperations(sp.doc)).Bounded(cfg.IdempotencyBounds),
		log:                cfg.Logger,
		auth:               cfg.Auth,
		db:                 cfg.DB,
		dblog:              newLogDeduper(dbLogInterval, time.Now),
		tokens:             tokens,
		authn:              identity.NewAuthenticator(deps, tokens, nil),
		limiter:            limiter,
		closeLimiter:       closeLimiter,
		ready:              newReadiness(cfg.Pool.Config().ConnConfig, readyTimeout),
		spec:               sp,
		specDoc:            specDoc,
		purchasingHandlers: purchasing.New(deps),
		importHandlers:     importer,
	}, nil
}

// newDeps builds the dependencies of the domain packages from cfg. It is the one constructor:
// requests and the background workers (Handler.RunWorkers, and the one-shot sweeps the tests and
// tools call) run with the same transaction attempts, commit bound, brand gate and clock.
func newDeps(cfg Config) *kit.Deps {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &kit.Deps{
		Log: cfg.Logger, Pool: cfg.Pool, DirectPool: cmp.Or(cfg.DirectPool, cfg.Pool), Queries: db.New(cfg.Pool), Now: databaseClock(cfg.Now),
		Cursors: paging.NewCursors(cfg.Auth.AccessSecret, cfg.Auth.AccessSecretPrevious), TxAttempts: max(cfg.DB.TxAttempts, 1),
		CommitTimeout: cfg.DB.CommitTimeout,
		Gate:          kit.NewBrandShare(brandPoolShare(cfg), cfg.BrandPoolWait),
	}
}

// newJobDeps are the background work's dependencies: deps on cfg.JobsPool (which is direct, so
// river may LISTEN on it), each brand holding at most half of it at once (a brand with a backlog
// of deliveries leaves the other half to the other brands), waiting as long as a request would.
// Without a JobsPool, deps.
func newJobDeps(cfg Config, deps *kit.Deps) *kit.Deps {
	if cfg.JobsPool == nil {
		return deps
	}
	jd := *deps
	jd.Pool, jd.DirectPool, jd.Queries = cfg.JobsPool, cfg.JobsPool, db.New(cfg.JobsPool)
	jd.Gate = kit.NewBrandShare(max(1, int(cfg.JobsPool.Config().MaxConns)/2), cfg.BrandPoolWait)
	return &jd
}

// brandPoolShare is the number of connections one brand may hold: the configured share, or half
// the pool so that at least as many connections always remain for the other brands.
func brandPoolShare(cfg Config) int {
	if cfg.BrandPoolShare != 0 {
		return cfg.BrandPoolShare
	}
	return max(1, int(cfg.Pool.Config().MaxConns)/2)
}

// routedMethods are the methods the router serves routes for (HEAD follows GET).
var routedMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// notFoundAsProblem answers next's 404s (Swagger UI's file server writes them as text/plain) as
// the problem every other 404 is.
func notFoundAsProblem(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&notFoundWriter{ResponseWriter: w, r: r}, r)
	})
}

type notFoundWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if code != http.StatusNotFound {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.replaced = true
	h := w.Header()
	h.Del("Content-Length")
	h.Del("X-Content-Type-Options")
	problem.WriteCode(w.ResponseWriter, w.r, api.ProblemCodeNotFound, "No resource at "+w.r.URL.Path+".")
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil // the file server's own text, replaced by the problem
	}
	return w.ResponseWriter.Write(b)
}

// methodNotAllowed answers 405 with Allow, the methods the resource does support (RFC 9110
// §15.5.6).
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", s.allowedMethods(r))
	problem.WriteCode(w, r, api.ProblemCodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+".")
}

// allowedMethods lists the methods r's path answers, as an Allow value. The spec decides for its
// own paths: chi's tree alone would also count the methods of a sibling template
// (`/products/{productId}` matches `/products/bulk`). Paths outside the spec (Swagger UI's) are
// asked of the router.
func (s *Server) allowedMethods(r *http.Request) string {
	allow, inSpec := s.spec.ops.allowedAt(s.spec.doc, r.URL.EscapedPath())
	if rctx := chi.RouteContext(r.Context()); !inSpec && rctx != nil && rctx.Routes != nil {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		for _, m := range routedMethods {
			if rctx.Routes.Match(chi.NewRouteContext(), m, path) {
				allow = append(allow, m)
				if m == http.MethodGet {
					allow = append(allow, http.MethodHead)
				}
			}
		}
	}
	return strings.Join(allow, ", ")
}

// idempotentOperations maps the operations whose spec declares `x-idempotency` to its mode.
func idempotentOperations(doc *openapi3.T) map[string]idempotency.Mode {
	ops := map[string]idempotency.Mode{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if mode, ok := op.Extensions["x-idempotency"].(string); ok {
				ops[op.OperationID] = idempotency.Mode(mode)
			}
		}
	}
	return ops
}

// databaseClock cuts clock's times to PostgreSQL's precision, microseconds, so that a time read
// back equals the time written (refresh tokens are re-derived from stored times). A nil clock is
// the system's.
func databaseClock(clock func() time.Time) func() time.Time {
	if clock == nil {
		clock = time.Now
	}
	return func() time.Time { return clock().UTC().Truncate(time.Microsecond) }
}

// requestErrorHandler answers a request the generated code could not decode. Validation runs
// first, so reaching this means the spec and the generated code disagree: still a client error.
func (s *Server) requestErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	s.log.InfoContext(r.Context(), "request not decodable", "request_id", problem.RequestFrom(r.Context()).ID, "error", err)
	problem.Write(w, problem.Invalid(r.Context(), []api.FieldError{{Field: "request", Message: "does not match the API description"}}))
}

// responseErrorHandler answers a handler that returned an error. A refusal (*problem.Error) is
// written here, once, with the status server/problem's table gives its code. Anything else is an
// unexpected failure: the client learns only the request id; the log line with that id has the
// cause.
//
// An error once the answer has started is a failure to deliver it (the generated code hands this
// writing the answer's error too): nothing can follow a status line already sent. A client that
// went away mid-answer breaks the write with a reset or a broken pipe, a *net.OpError like the
// database's own, so it is told apart here, before the database's states are looked for: it is
// neither a 503 to count nor the database to alert on.
func (s *Server) responseErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if answerStarted(w) {
		if clientWriteFailed(err) {
			s.log.InfoContext(ctx, "client went away", "request_id", problem.RequestFrom(ctx).ID, "error", err)
		} else {
			s.log.ErrorContext(ctx, "answer cut short", "request_id", problem.RequestFrom(ctx).ID, "error", err)
		}
		return
	}
	if problem.Answer(w, r, err) {
		return
	}
	if errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
		s.log.InfoContext(ctx, "client went away", "request_id", problem.RequestFrom(ctx).ID)
		return
	}
	if errors.Is(err, kit.ErrBrandBusy) {
		w.Header().Set("Retry-After", strconv.Itoa(kit.BrandBusyRetryAfter))
		problem.WriteCode(w, r, api.ProblemCodeBrandBusy, "This brand has too many requests in progress; try again shortly.")
		return
	}
	s.internalError(w, r, err)
}

// openAPIYAML is the document served at /openapi.yaml.
var openAPIYAML = ecompointer.OpenAPI
