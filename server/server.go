// Package server implements the API that openapi.yaml describes: it fills in the generated strict
// server interface and wires the middleware that enforces the spec's contract (validation,
// authentication, problem details) around it.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/ecompointer/ecompointer"
	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/problem"
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
	Now func() time.Time
}

// Server implements api.StrictServerInterface.
type Server struct {
	log     *slog.Logger
	pool    *pgxpool.Pool
	queries *db.Queries
	now     func() time.Time
	specDoc map[string]any // the embedded document, decoded once for /openapi.json
}

var _ api.StrictServerInterface = (*Server)(nil)

// New wires the router, the middleware and the generated handlers. It is the only wiring point.
func New(cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Pool == nil {
		return nil, errors.New("server: a database pool is required")
	}
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
	s := &Server{
		log:     cfg.Logger,
		pool:    cfg.Pool,
		queries: db.New(cfg.Pool),
		now:     cfg.Now,
		specDoc: specDoc,
	}

	r := chi.NewRouter()
	r.Use(requestID, accessLog(cfg.Logger), recoverer(cfg.Logger))
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

	// Swagger UI is a page for people, not part of the API: it stays outside the validator.
	docs := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       sp.doc.Info.Title,
		SwaggerJSON: "/openapi.yaml",
		BasePath:    "/api-docs/",
		SettingsUI: map[string]string{
			// No call to the online validator: the page must work offline and leak nothing.
			"validatorUrl": "null",
			// Keep the bearer token across reloads (Swagger UI stores it in localStorage).
			"persistAuthorization": "true",
		},
	})
	r.Method(http.MethodGet, "/api-docs", docs)
	r.Method(http.MethodGet, "/api-docs/*", docs)

	strict := api.NewStrictHandlerWithOptions(s, nil, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  s.requestErrorHandler,
		ResponseErrorHandlerFunc: s.responseErrorHandler,
	})
	r.Group(func(r chi.Router) {
		r.Use(sp.validateRequests)
		api.HandlerWithOptions(strict, api.ChiServerOptions{
			BaseRouter:       r,
			ErrorHandlerFunc: s.requestErrorHandler,
		})
	})
	return r, nil
}

// requestErrorHandler answers a request the generated code could not decode. Validation runs
// first, so reaching this means the spec and the generated code disagree: still a client error.
func (s *Server) requestErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	s.log.InfoContext(r.Context(), "request not decodable", "request_id", problem.RequestFrom(r.Context()).ID, "error", err)
	problem.Write(w, problem.Invalid(r.Context(), "The request does not match the API description.", nil))
}

// responseErrorHandler answers a handler that returned an error: an unexpected failure. The client
// learns only the request id; the log line with that id has the cause.
func (s *Server) responseErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		s.log.InfoContext(ctx, "client went away", "request_id", problem.RequestFrom(ctx).ID)
		return
	}
	s.log.ErrorContext(ctx, "request failed", "request_id", problem.RequestFrom(ctx).ID, "error", err)
	problem.WriteCode(w, r, api.ProblemCodeInternalError, "An unexpected error occurred; quote the request id when reporting it.")
}

// OpenAPIYAML is the document served at /openapi.yaml.
var openAPIYAML = ecompointer.OpenAPI
