package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/joho/godotenv"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/events"
	"github.com/ecompointer/ecompointer/server/idempotency"
	"github.com/ecompointer/ecompointer/server/natspush"
	"github.com/ecompointer/ecompointer/server/orders"
	"github.com/ecompointer/ecompointer/server/sessioncache"
	"github.com/ecompointer/ecompointer/server/token"
	"github.com/ecompointer/ecompointer/server/webhooks"
)

// config is the process configuration, read from the environment (and .env when present).
// .env.example documents every variable.
type config struct {
	env         string // development | production
	port        int
	databaseURL string
	// directURL reaches PostgreSQL itself (DATABASE_DIRECT_URL, default DATABASE_URL): migrations
	// (a session advisory lock), the session cache's LISTEN and river's, which a transaction
	// pooler cannot carry.
	directURL string
	// pooler says what stands between DATABASE_URL and PostgreSQL (DATABASE_POOLER: none |
	// pgbouncer, a pooler in transaction mode).
	pooler string
	// execMode is how pgx sends statements on the request pool (DATABASE_EXEC_MODE).
	execMode           pgx.QueryExecMode
	appRole            string
	logLevel           slog.Level
	logFormat          string // json | text
	corsAllowedOrigins []string
	shutdownTimeout    time.Duration
	brandPoolShare     int
	brandPoolWait      time.Duration
	// jobsPoolSize is the background work's own pool (DATABASE_JOBS_POOL_SIZE; 0: 2 per CPU,
	// at least 4).
	jobsPoolSize int
	auth         server.AuthConfig
	db           server.DBConfig
	// reservationSweep is how often expired reservations are released.
	reservationSweep time.Duration
	// orderPendingTTL is how long an order may stay pending before it is cancelled (0: never).
	orderPendingTTL time.Duration
	// eventRetention is how long events stay in the feed.
	eventRetention time.Duration
	// webhooks sets webhook delivery (WEBHOOK_*).
	webhooks webhooks.Config
	// nats publishes every event to NATS JetStream (EVENTS_NATS_URL; empty URL: off).
	nats natspush.Config
	// idempotencyKeyTTL is how long the first answer to an Idempotency-Key is kept.
	idempotencyKeyTTL time.Duration
	// idempotencyBounds limit the refused answers the key store keeps.
	idempotencyBounds idempotency.Bounds
	// sessionCache is the in-memory session check (SESSION_CACHE, SESSION_CACHE_SIZE).
	sessionCache server.SessionCacheConfig
	// generatedSecrets names the secrets made up at start (development only).
	generatedSecrets []string
	// metricsAddr is the Prometheus metrics listener's address; empty turns it off.
	metricsAddr string
	// rateLimitRedisURL shares the per-IP rate limit between instances; empty keeps it in memory.
	rateLimitRedisURL string
	// drainDelay is how long /readyz answers 503 after SIGTERM before the server stops accepting.
	drainDelay time.Duration
	// getenv reads the OpenTelemetry variables (OTEL_*), which the SDK interprets itself.
	getenv func(string) string
}

func (c config) production() bool { return c.env == "production" }

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/ecompointer?sslmode=disable"

// withDotEnv returns a getenv that falls back to the values of a .env file in the working
// directory; the real environment always wins.
func withDotEnv(getenv func(string) string) (func(string) string, error) {
	values, err := godotenv.Read(".env")
	if errors.Is(err, os.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf(".env: %w", err)
	}
	return func(key string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return values[key]
	}, nil
}

// envReader collects every bad variable so that one start-up names them all.
type envReader struct {
	getenv func(string) string
	errs   []error
}

func (e *envReader) str(key, def string) string {
	if v := strings.TrimSpace(e.getenv(key)); v != "" {
		return v
	}
	return def
}

func (e *envReader) int(key string, def, min, max int) int {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		e.errs = append(e.errs, fmt.Errorf("%s must be a whole number from %d to %d, got %q", key, min, max, v))
		return def
	}
	return n
}

func (e *envReader) duration(key string, def, min, max time.Duration) time.Duration {
	v := e.getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < min || d > max {
		e.errs = append(e.errs, fmt.Errorf("%s must be a duration from %s to %s (like 15m), got %q", key, min, max, v))
		return def
	}
	return d
}

func (e *envReader) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(e.str(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	e.errs = append(e.errs, fmt.Errorf("%s must be one of %s, got %q", key, strings.Join(allowed, ", "), v))
	return def
}

func (e *envReader) list(key string) []string {
	var out []string
	for _, part := range strings.Split(e.getenv(key), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func loadConfig(getenv func(string) string) (config, error) {
	e := &envReader{getenv: getenv}
	c := config{
		env:                e.oneOf("APP_ENV", "development", "development", "production"),
		port:               e.int("PORT", 3000, 0, 65535),
		databaseURL:        e.str("DATABASE_URL", defaultDatabaseURL),
		appRole:            e.str("DATABASE_APP_ROLE", "ecompointer_app"),
		pooler:             e.oneOf("DATABASE_POOLER", "none", "none", "pgbouncer"),
		logFormat:          e.oneOf("LOG_FORMAT", "text", "text", "json"),
		corsAllowedOrigins: e.list("CORS_ALLOWED_ORIGINS"),
		shutdownTimeout:    e.duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute),
		// 0: half the pool. -1: no bound (one brand may take every connection).
		brandPoolShare:    e.int("BRAND_POOL_SHARE", 0, -1, 10_000),
		brandPoolWait:     e.duration("BRAND_POOL_WAIT", server.DefaultBrandShareWait, time.Millisecond, time.Minute),
		jobsPoolSize:      e.int("DATABASE_JOBS_POOL_SIZE", 0, 0, 1000),
		reservationSweep:  e.duration("RESERVATION_SWEEP_INTERVAL", 30*time.Second, time.Second, time.Hour),
		orderPendingTTL:   e.duration("ORDER_PENDING_TTL", orders.DefaultPendingTTL, 0, 30*24*time.Hour),
		eventRetention:    e.duration("EVENTS_RETENTION", events.DefaultRetention, time.Hour, 365*24*time.Hour),
		idempotencyKeyTTL: e.duration("IDEMPOTENCY_KEY_TTL", 24*time.Hour, time.Minute, 30*24*time.Hour),
		idempotencyBounds: idempotency.Bounds{
			MaxRefusedBytes:    e.int("IDEMPOTENCY_MAX_REFUSED_BYTES", idempotency.DefaultMaxRefusedBytes, 1024, 1<<20),
			MaxRefusedPerBrand: e.int("IDEMPOTENCY_MAX_REFUSED_PER_BRAND", idempotency.DefaultMaxRefusedPerBrand, 1, 1_000_000),
		},
		sessionCache: server.SessionCacheConfig{
			Off:  e.oneOf("SESSION_CACHE", "on", "on", "off") == "off",
			Size: e.int("SESSION_CACHE_SIZE", sessioncache.DefaultSize, 100, 10_000_000),
		},
		metricsAddr:       e.str("METRICS_ADDR", ""),
		rateLimitRedisURL: e.str("RATE_LIMIT_REDIS_URL", ""),
		drainDelay:        e.duration("DRAIN_DELAY", 0, 0, 5*time.Minute),
		getenv:            getenv,
	}
	switch e.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error") {
	case "debug":
		c.logLevel = slog.LevelDebug
	case "warn":
		c.logLevel = slog.LevelWarn
	case "error":
		c.logLevel = slog.LevelError
	default:
		c.logLevel = slog.LevelInfo
	}
	if u, err := url.Parse(c.databaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || strings.TrimPrefix(u.Path, "/") == "" {
		e.errs = append(e.errs, errors.New("DATABASE_URL must be a postgres:// URL naming a database"))
	}
	c.directURL = e.str("DATABASE_DIRECT_URL", c.databaseURL)
	if u, err := url.Parse(c.directURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || strings.TrimPrefix(u.Path, "/") == "" {
		e.errs = append(e.errs, errors.New("DATABASE_DIRECT_URL must be a postgres:// URL naming a database"))
	}
	c.execMode = loadExecMode(e, c.pooler)
	if c.pooler != "none" && c.directURL == c.databaseURL {
		e.errs = append(e.errs, errors.New("DATABASE_POOLER=pgbouncer needs DATABASE_DIRECT_URL: a connection to PostgreSQL itself "+
			"for the migrations and LISTEN, which a pooler in transaction mode cannot carry"))
	}
	c.auth = loadAuthConfig(e, c.production(), &c.generatedSecrets)
	c.webhooks = loadWebhookConfig(e, c.production())
	c.nats.URL = e.str("EVENTS_NATS_URL", "")
	if u, err := url.Parse(c.nats.URL); c.nats.URL != "" && (err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "") {
		e.errs = append(e.errs, fmt.Errorf("EVENTS_NATS_URL must be a nats:// or tls:// URL (nats://127.0.0.1:4222), got %q", c.nats.URL))
	}
	dbDefaults := server.DefaultDBConfig()
	c.db = server.DBConfig{
		StatementTimeout: e.duration("DB_STATEMENT_TIMEOUT", dbDefaults.StatementTimeout, time.Millisecond, time.Hour),
		LockTimeout:      e.duration("DB_LOCK_TIMEOUT", dbDefaults.LockTimeout, time.Millisecond, time.Hour),
		RequestTimeout:   e.duration("DB_REQUEST_TIMEOUT", dbDefaults.RequestTimeout, 0, time.Hour),
		TxAttempts:       e.int("DB_TX_ATTEMPTS", dbDefaults.TxAttempts, 1, 10),
		CommitTimeout:    e.duration("DB_COMMIT_TIMEOUT", dbDefaults.CommitTimeout, time.Millisecond, time.Hour),
	}
	if !validIdentifier(c.appRole) {
		e.errs = append(e.errs, fmt.Errorf("DATABASE_APP_ROLE must be a lowercase identifier ([a-z_][a-z0-9_]*), got %q", c.appRole))
	}
	return c, errors.Join(e.errs...)
}

// execModes are pgx's statement modes by their URL names (default_query_exec_mode).
var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"describe_exec":   pgx.QueryExecModeDescribeExec,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// loadExecMode reads DATABASE_EXEC_MODE. Directly on PostgreSQL the default is pgx's own
// (cache_statement: each statement prepared once per connection). PgBouncer 1.18 in transaction
// mode has no protocol-level prepared statements (a statement prepared on one server connection
// is unknown on the next), so there the default is cache_describe (unnamed statements, their
// descriptions cached: one round trip, like a prepared statement) and cache_statement is refused.
func loadExecMode(e *envReader, pooler string) pgx.QueryExecMode {
	def := "cache_statement"
	if pooler != "none" {
		def = "cache_describe"
	}
	name := e.oneOf("DATABASE_EXEC_MODE", def, "cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol")
	if pooler != "none" && name == "cache_statement" {
		e.errs = append(e.errs, errors.New("DATABASE_EXEC_MODE=cache_statement prepares statements per connection, which PgBouncer "+
			"in transaction mode cannot keep: use cache_describe (the default with DATABASE_POOLER=pgbouncer), describe_exec, exec or simple_protocol"))
	}
	return execModes[name]
}

func loadWebhookConfig(e *envReader, production bool) webhooks.Config {
	// Plain http is for local receivers: refused in production unless the setting says otherwise.
	allowHTTP := "true"
	if production {
		allowHTTP = "false"
	}
	w := webhooks.Config{
		DisableAfter: e.duration("WEBHOOK_DISABLE_AFTER", webhooks.DefaultDisableAfter, time.Minute, 90*24*time.Hour),
		AllowHTTP:    e.oneOf("WEBHOOK_ALLOW_HTTP", allowHTTP, "true", "false") == "true",
		Off:          e.oneOf("WEBHOOK_DELIVERY", "on", "on", "off") == "off",
	}
	if v := e.str("WEBHOOK_RETRY_SCHEDULE", ""); v != "" {
		s, err := webhooks.ParseRetrySchedule(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("WEBHOOK_RETRY_SCHEDULE must be up to %d comma-separated durations (5s,5m,30m): %w", webhooks.MaxRetries, err))
		}
		w.RetrySchedule = s
	}
	n, err := webhooks.ParseNetworks(e.str("WEBHOOK_ALLOWED_NETWORKS", ""))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("WEBHOOK_ALLOWED_NETWORKS must list CIDRs (127.0.0.0/8): %w", err))
	}
	w.AllowedNetworks = n
	return w
}

func loadAuthConfig(e *envReader, production bool, generated *[]string) server.AuthConfig {
	d := server.DefaultAuthConfig()
	a := server.AuthConfig{
		Issuer:                  e.str("JWT_ISSUER", d.Issuer),
		Audience:                e.str("JWT_AUDIENCE", d.Audience),
		AccessTTL:               e.duration("ACCESS_TOKEN_TTL", d.AccessTTL, time.Minute, 24*time.Hour),
		RefreshTTL:              e.duration("REFRESH_TOKEN_TTL", d.RefreshTTL, time.Minute, 365*24*time.Hour),
		SessionMaxAge:           e.duration("SESSION_MAX_AGE", d.SessionMaxAge, time.Minute, 5*365*24*time.Hour),
		RefreshReuseGrace:       e.duration("REFRESH_REUSE_GRACE", d.RefreshReuseGrace, 0, time.Minute),
		BcryptCost:              e.int("BCRYPT_COST", d.BcryptCost, 4, 16),
		LoginMaxFailures:        e.int("LOGIN_MAX_FAILURES", d.LoginMaxFailures, 1, 1000),
		LoginAccountMaxFailures: e.int("LOGIN_ACCOUNT_MAX_FAILURES", d.LoginAccountMaxFailures, 1, 1_000_000),
		LoginLockout:            e.duration("LOGIN_LOCKOUT", d.LoginLockout, time.Second, time.Hour),
		SessionsMaxPerUser:      e.int("SESSIONS_MAX_PER_USER", d.SessionsMaxPerUser, 1, 1000),
		RateLimit:               e.int("AUTH_RATE_LIMIT", d.RateLimit, 0, 1_000_000),
	}
	for _, cidr := range e.list("TRUSTED_PROXIES") {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			addr, aerr := netip.ParseAddr(cidr)
			if aerr != nil {
				e.errs = append(e.errs, fmt.Errorf("TRUSTED_PROXIES must list CIDRs (10.0.0.0/8) or addresses, got %q", cidr))
				continue
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		a.TrustedProxies = append(a.TrustedProxies, p.Masked())
	}
	a.AccessSecret = e.secret("JWT_ACCESS_SECRET", production, generated)
	a.RefreshSecret = e.secret("JWT_REFRESH_SECRET", production, generated)
	if len(a.AccessSecret) > 0 && bytes.Equal(a.AccessSecret, a.RefreshSecret) {
		e.errs = append(e.errs, errors.New("JWT_REFRESH_SECRET must differ from JWT_ACCESS_SECRET"))
	}
	// A rotation: the secrets being replaced still verify what they signed, never sign.
	a.AccessSecretPrevious = e.previousSecret("JWT_ACCESS_SECRET_PREVIOUS")
	a.RefreshSecretPrevious = e.previousSecret("JWT_REFRESH_SECRET_PREVIOUS")
	for _, prev := range []struct {
		key        string
		value      []byte
		otherKinds [][]byte
	}{
		{"JWT_ACCESS_SECRET_PREVIOUS", a.AccessSecretPrevious, [][]byte{a.RefreshSecret, a.RefreshSecretPrevious}},
		{"JWT_REFRESH_SECRET_PREVIOUS", a.RefreshSecretPrevious, [][]byte{a.AccessSecret}},
	} {
		for _, other := range prev.otherKinds {
			if len(prev.value) > 0 && bytes.Equal(prev.value, other) {
				e.errs = append(e.errs, fmt.Errorf("%s must differ from the other kind's secrets (access and refresh secrets are never shared)", prev.key))
				break
			}
		}
	}
	return a
}

// secret reads a signing secret: its raw bytes, at least token.MinSecretBytes long. In development
// an unset one is generated (tokens then die with the process); in production it must be set.
func (e *envReader) secret(key string, production bool, generated *[]string) []byte {
	v := e.getenv(key)
	switch {
	case v == "" && production:
		e.errs = append(e.errs, fmt.Errorf("%s must be set in production (at least %d bytes)", key, token.MinSecretBytes))
		return nil
	case v == "":
		b := make([]byte, 48)
		_, _ = rand.Read(b)
		*generated = append(*generated, key)
		return b
	case len(v) < token.MinSecretBytes:
		e.errs = append(e.errs, fmt.Errorf("%s must be at least %d bytes, got %d", key, token.MinSecretBytes, len(v)))
		return nil
	}
	return []byte(v)
}

// previousSecret reads an optional previous secret (JWT_*_SECRET_PREVIOUS): unset is none.
func (e *envReader) previousSecret(key string) []byte {
	v := e.getenv(key)
	if v == "" {
		return nil
	}
	if len(v) < token.MinSecretBytes {
		e.errs = append(e.errs, fmt.Errorf("%s must be at least %d bytes, got %d", key, token.MinSecretBytes, len(v)))
		return nil
	}
	return []byte(v)
}

func validIdentifier(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}

func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
