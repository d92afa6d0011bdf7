package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ecompointer/ecompointer/server"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func envFunc(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestServeStartsAndStopsGracefully runs the binary's whole start-up against a fresh database,
// waits for /healthz, then cancels the context as SIGTERM would.
func TestServeStartsAndStopsGracefully(t *testing.T) {
	t.Parallel()
	dbURL := servertest.Database(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ecompointer", "serve"}, envFunc(map[string]string{
			"PORT":              fmt.Sprint(port),
			"DATABASE_URL":      dbURL,
			"DATABASE_APP_ROLE": servertest.AppRole,
			"LOG_FORMAT":        "json",
		}), strings.NewReader(""), &stdout, &stderr)
	}()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Generous: a liveness bound, not a speed claim (under -race on a busy 2-core machine the
	// migrations alone can take many seconds).
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 90s\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of cancellation")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no graceful stop logged:\n%s", stderr.String())
	}
}

func TestUnreachableDatabaseIsOneClearLine(t *testing.T) {
	t.Parallel()
	port := freePort(t) // nothing listens there
	err := run(context.Background(), []string{"ecompointer", "serve"}, envFunc(map[string]string{
		"DATABASE_URL": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/ecompointer?sslmode=disable", port),
	}), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("serve succeeded without a database")
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("127.0.0.1:%d", port), "pg_ctlcluster", "DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is more than one line: %q", msg)
	}
}

func TestBadConfigurationNamesTheVariables(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"ecompointer", "serve"}, envFunc(map[string]string{
		"PORT":       "http",
		"LOG_FORMAT": "xml",
		"APP_ENV":    "staging",
	}), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for _, name := range []string{"PORT", "LOG_FORMAT", "APP_ENV"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestMigrateVersion(t *testing.T) {
	t.Parallel()
	dbURL := servertest.Database(t)
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"ecompointer", "migrate", "version"}, envFunc(map[string]string{
		"DATABASE_URL": dbURL,
	}), strings.NewReader(""), &stdout, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "version ") {
		t.Errorf("migrate version printed %q", stdout.String())
	}
}

func TestUserCreateReadsOneLineOfStdin(t *testing.T) {
	t.Parallel()
	dbURL := servertest.Database(t)
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"ecompointer", "user", "create", "--email", "root@example.com", "--name", "Root", "--role", "ADMIN", "--password-stdin"},
		envFunc(map[string]string{"DATABASE_URL": dbURL, "DATABASE_APP_ROLE": servertest.AppRole, "BCRYPT_COST": "4"}),
		strings.NewReader("a fine admin passphrase\nthe next line is not read\n"), &stdout, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "created ADMIN root@example.com") {
		t.Errorf("stdout = %q", stdout.String())
	}

	// The trailing newline was not part of the password: the admin logs in with the line's text.
	env := servertest.NewOn(t, dbURL)
	env.Login(t, "root@example.com", "a fine admin passphrase")

	// The same rules as registration apply.
	err = run(context.Background(), []string{"ecompointer", "user", "create", "--email", "weak@example.com", "--name", "Weak", "--password-stdin"},
		envFunc(map[string]string{"DATABASE_URL": dbURL, "DATABASE_APP_ROLE": servertest.AppRole, "BCRYPT_COST": "4"}),
		strings.NewReader("password\n"), &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "common") {
		t.Errorf("a common password was accepted: %v", err)
	}
}

func TestProductionRefusesWeakSecrets(t *testing.T) {
	t.Parallel()
	strong := strings.Repeat("a", 32)
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing", map[string]string{"APP_ENV": "production"}, "JWT_ACCESS_SECRET"},
		{"missing refresh", map[string]string{"APP_ENV": "production", "JWT_ACCESS_SECRET": strong}, "JWT_REFRESH_SECRET"},
		{"short", map[string]string{"APP_ENV": "production", "JWT_ACCESS_SECRET": "short", "JWT_REFRESH_SECRET": strings.Repeat("b", 32)}, "JWT_ACCESS_SECRET"},
		{"equal", map[string]string{"APP_ENV": "production", "JWT_ACCESS_SECRET": strong, "JWT_REFRESH_SECRET": strong}, "JWT_REFRESH_SECRET must differ"},
		{"short in development too", map[string]string{"JWT_REFRESH_SECRET": "short"}, "JWT_REFRESH_SECRET"},
	}
	for _, c := range cases {
		err := run(context.Background(), []string{"ecompointer", "serve"}, envFunc(c.env), strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v does not name %q", c.name, err, c.want)
		}
	}
}

// TestDatabaseLimitsConfig: the DB_* variables reach server.DBConfig, with the documented
// defaults, and a bad one is named.
func TestDatabaseLimitsConfig(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(envFunc(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if c.db != server.DefaultDBConfig() {
		t.Errorf("defaults = %+v, want %+v", c.db, server.DefaultDBConfig())
	}
	c, err = loadConfig(envFunc(map[string]string{
		"DB_STATEMENT_TIMEOUT": "750ms", "DB_LOCK_TIMEOUT": "250ms", "DB_REQUEST_TIMEOUT": "3s", "DB_TX_ATTEMPTS": "5",
		"DB_COMMIT_TIMEOUT": "4s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (server.DBConfig{StatementTimeout: 750 * time.Millisecond, LockTimeout: 250 * time.Millisecond, RequestTimeout: 3 * time.Second, TxAttempts: 5,
		CommitTimeout: 4 * time.Second}); c.db != want {
		t.Errorf("config = %+v, want %+v", c.db, want)
	}
	_, err = loadConfig(envFunc(map[string]string{"DB_LOCK_TIMEOUT": "soon", "DB_TX_ATTEMPTS": "0"}))
	for _, name := range []string{"DB_LOCK_TIMEOUT", "DB_TX_ATTEMPTS"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
