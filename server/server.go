// Package server implements the API that openapi.yaml describes: it fills in the generated strict
// server interface and wires the middleware that enforces the spec's contract (validation,
// authentication, permissions, problem details) around it.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/ecompointer/ecompointer"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/password"
	"github.com/ecompointer/ecompointer/server/problem"
	"github.com/ecompointer/ecompointer/server/token"
)

// DefaultBodyLimit is the largest request body an operation accepts unless the spec's
// `x-body-limit` on the operation says otherwise.
const DefaultBodyLimit = 1 << 20

// Config is everything the server depends on; New takes nothing from globals.
type Config struct {
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	// CORSAllowedOrigins lists the browser origins allowed to call the API; none by default.
	CORSAllowedOrigins []string
	// Now is the clock; tests move it to check expiry without sleeping.
	Now  func() time.Time
	Auth AuthConfig
}

// AuthConfig holds the authentication settings (.env.example documents each one).
type AuthConfig struct {
	AccessSecret      []byte
	RefreshSecret     []byte
	Issuer            string
	Audience          string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	SessionMaxAge     time.Duration
	RefreshReuseGrace time.Duration
	BcryptCost        int
	// LoginMaxFailures is how many failed logins of one email from one client address throttle
	// that address for that email; LoginAccountMaxFailures, how many from all addresses together
	// throttle the email everywhere. LoginLockout is the first delay (doubling, at most an hour).
	LoginMaxFailures        int
	LoginAccountMaxFailures int
	LoginLockout            time.Duration
	SessionsMaxPerUser      int
	// RateLimit is how many register/login/refresh requests one client IP may make per minute;
	// 0 turns the limit off.
	RateLimit      int
	TrustedProxies []netip.Prefix
}

// DefaultAuthConfig returns the documented defaults, without secrets.
func DefaultAuthConfig() AuthConfig {
	return AuthConfig{
		Issuer:                  "ecompointer",
		Audience:                "ecompointer-api",
		AccessTTL:               15 * time.Minute,
		RefreshTTL:              168 * time.Hour,
		SessionMaxAge:           720 * time.Hour,
		RefreshReuseGrace:       10 * time.Second,
		BcryptCost:              12,
		LoginMaxFailures:        5,
		LoginAccountMaxFailures: 100,
		LoginLockout:            time.Minute,
		SessionsMaxPerUser:      50,
		RateLimit:               30,
	}
}

// Server implements api.StrictServerInterface.
type Server struct {
	log     *slog.Logger
	pool    *pgxpool.Pool
	queries *db.Queries
	now     func() time.Time
	auth    AuthConfig
	tokens  *token.Tokens
	hasher  *password.Hasher
	limiter *ipLimiter
	// throttleSecret keys the emails in login_throttles (see throttleKey).
	throttleSecret []byte
	cursors        cursors
	spec           *spec
	specDoc        map[string]any // openapi.yaml, decoded once for /openapi.json
}

var _ api.StrictServerInterface = (*Server)(nil)

// New wires the router, the middleware and the generated handlers. It is the only wiring point.
func New(cfg Config) (http.Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}

	r := chi.NewRouter()
	r.Use(requestID, accessLog(s.log), recoverer(s.log))
	if len(cfg.CORSAllowedOrigins) > 0 {
		r.Use(cors.Handler(cors.Options{
			AllowedOrigins: cfg.CORSAllowedOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete},
			AllowedHeaders: []string{"Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-Id"},
			ExposedHeaders: []string{"ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Request-Id"},
			MaxAge:         600,
		}))
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		problem.WriteCode(w, r, api.ProblemCodeNotFound, "No resource at "+r.URL.Path+".")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		problem.WriteCode(w, r, api.ProblemCodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+".")
	})

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
	r.Method(http.MethodGet, "/api-docs/*", docs)

	strict := api.NewStrictHandlerWithOptions(s, nil, api.StrictHTTPServerOptions{
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
	return r, nil
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
		AccessSecret:  cfg.Auth.AccessSecret,
		RefreshSecret: cfg.Auth.RefreshSecret,
		Issuer:        cfg.Auth.Issuer,
		Audience:      cfg.Auth.Audience,
		AccessTTL:     cfg.Auth.AccessTTL,
		RefreshTTL:    cfg.Auth.RefreshTTL,
		Leeway:        token.MaxLeeway,
		Now:           now,
	})
	if err != nil {
		return nil, err
	}
	hasher, err := password.NewHasher(cfg.Auth.BcryptCost)
	if err != nil {
		return nil, err
	}
	if cfg.Auth.SessionsMaxPerUser < 1 || cfg.Auth.LoginMaxFailures < 1 || cfg.Auth.LoginAccountMaxFailures < cfg.Auth.LoginMaxFailures {
		return nil, errors.New("server: SessionsMaxPerUser and LoginMaxFailures must be at least 1, LoginAccountMaxFailures at least LoginMaxFailures")
	}
	throttleMAC := hmac.New(sha256.New, cfg.Auth.AccessSecret)
	throttleMAC.Write([]byte("ecompointer login throttle"))
	return &Server{
		log:            cfg.Logger,
		pool:           cfg.Pool,
		queries:        db.New(cfg.Pool),
		now:            now,
		auth:           cfg.Auth,
		tokens:         tokens,
		hasher:         hasher,
		limiter:        newIPLimiter(cfg.Auth.RateLimit, now),
		throttleSecret: throttleMAC.Sum(nil),
		cursors:        newCursors(cfg.Auth.AccessSecret),
		spec:           sp,
		specDoc:        specDoc,
	}, nil
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

// responseErrorHandler answers a handler that returned an error: an unexpected failure. The client
// learns only the request id; the log line with that id has the cause.
func (s *Server) responseErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		s.log.InfoContext(ctx, "client went away", "request_id", problem.RequestFrom(ctx).ID)
		return
	}
	s.internalError(w, r, err)
}

// openAPIYAML is the document served at /openapi.yaml.
var openAPIYAML = ecompointer.OpenAPI
