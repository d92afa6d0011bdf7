package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// config is the process configuration, read from the environment (and .env when present).
// .env.example documents every variable.
type config struct {
	env                string // development | production
	port               int
	databaseURL        string
	appRole            string
	logLevel           slog.Level
	logFormat          string // json | text
	corsAllowedOrigins []string
	shutdownTimeout    time.Duration
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
		logFormat:          e.oneOf("LOG_FORMAT", "text", "text", "json"),
		corsAllowedOrigins: e.list("CORS_ALLOWED_ORIGINS"),
		shutdownTimeout:    e.duration("SHUTDOWN_TIMEOUT", 15*time.Second, 0, 10*time.Minute),
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
	if !validIdentifier(c.appRole) {
		e.errs = append(e.errs, fmt.Errorf("DATABASE_APP_ROLE must be a lowercase identifier ([a-z_][a-z0-9_]*), got %q", c.appRole))
	}
	return c, errors.Join(e.errs...)
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
