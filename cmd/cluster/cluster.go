package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Settings every instance shares. DRAIN_DELAY exceeds HAProxy's inter x fall (500 ms x 1).
var sharedEnv = []string{
	"APP_ENV=development",
	"JWT_ACCESS_SECRET=cluster-access-secret-0123456789abcdef0123456789",
	"JWT_REFRESH_SECRET=cluster-refresh-secret-0123456789abcdef012345678",
	"BCRYPT_COST=4",
	"LOG_LEVEL=warn",
	"AUTH_RATE_LIMIT=20",
	"LOGIN_MAX_FAILURES=3",
	"TRUSTED_PROXIES=127.0.0.1/32",
	"RESERVATION_SWEEP_INTERVAL=1s", // the reservation and pending-order sweepers' interval
	"ORDER_PENDING_TTL=30m",
	"RATE_LIMIT_REDIS_URL=redis://127.0.0.1:6379/0",
	"DRAIN_DELAY=2s",
	"SHUTDOWN_TIMEOUT=20s",
	"BRAND_POOL_WAIT=10s",
	"WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8", // the webhooks proof's receiver is on loopback
}

type instance struct {
	name        string
	port        int
	metricsPort int
	cmd         *exec.Cmd
	done        chan struct{}
}

func (i *instance) url() string { return "http://127.0.0.1:" + strconv.Itoa(i.port) }
func (i *instance) metricsURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(i.metricsPort) + "/metrics"
}

type cluster struct {
	binary    string
	dir       string
	adminURL  string // the postgres database, to create and drop ours
	dbURL     string
	dbName    string
	db        *pgx.Conn // as the owner: checks row-level security would hide
	instances []*instance
	haproxy   *exec.Cmd
	pgbouncer *exec.Cmd // CLUSTER_PGBOUNCER=1
	poolURL   string    // the request pools' URL through PgBouncer (empty: direct)
	proxy     string
	http      *http.Client
	ipSeq     int
	runTag    uint32 // this run's part of the client addresses
}

func startCluster(ctx context.Context, binary, proxyConfig string) (*cluster, error) {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, err
	}
	cfgPath, err := filepath.Abs(proxyConfig)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ecompointer-cluster-")
	if err != nil {
		return nil, err
	}
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		binary: abs, dir: dir,
		dbName: fmt.Sprintf("ecompointer_cluster_%d", os.Getpid()),
		runTag: uint32(time.Now().UnixNano()), //nolint:gosec // any 32 bits that change from run to run
		http:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
	}
	u.Path = "/postgres"
	c.adminURL = u.String()
	u.Path = "/" + c.dbName
	c.dbURL = u.String()
	if err := c.createDatabase(ctx); err != nil {
		return c, err
	}
	// Migrate once; the instances then start with --migrate=false, as a deployment would.
	mig := exec.CommandContext(ctx, c.binary, "migrate", "up")
	mig.Dir, mig.Env = dir, []string{"DATABASE_URL=" + c.dbURL}
	if out, err := mig.CombinedOutput(); err != nil {
		return c, fmt.Errorf("migrate: %w: %s", err, out)
	}
	if c.db, err = pgx.Connect(ctx, c.dbURL); err != nil {
		return c, err
	}
	if os.Getenv("CLUSTER_PGBOUNCER") != "" {
		if err := c.startPgBouncer(ctx); err != nil {
			return c, err
		}
	}
	for i := range 3 {
		in := &instance{name: "api" + strconv.Itoa(i+1), port: freePort(), metricsPort: freePort()}
		c.instances = append(c.instances, in)
		if err := c.start(ctx, in); err != nil {
			return c, err
		}
	}
	proxyPort := freePort()
	c.proxy = "http://127.0.0.1:" + strconv.Itoa(proxyPort)
	c.haproxy = exec.Command("haproxy", "-db", "-f", cfgPath)
	c.haproxy.Env = append(os.Environ(), "PROXY_PORT="+strconv.Itoa(proxyPort),
		"API1_PORT="+strconv.Itoa(c.instances[0].port), "API2_PORT="+strconv.Itoa(c.instances[1].port), "API3_PORT="+strconv.Itoa(c.instances[2].port))
	logFile, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return c, err
	}
	defer func() { _ = logFile.Close() }()
	c.haproxy.Stdout, c.haproxy.Stderr = logFile, logFile
	c.haproxy.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.haproxy.Start(); err != nil {
		return c, fmt.Errorf("haproxy (Debian: apt-get install haproxy): %w", err)
	}
	// Ready when every instance passed two health checks: the proxy then spreads over all three.
	time.Sleep(1500 * time.Millisecond)
	return c, c.waitStatus(ctx, c.proxy+"/readyz", http.StatusOK, 20*time.Second)
}

func (c *cluster) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.adminURL)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{c.dbName}.Sanitize())
	return err
}

func (c *cluster) start(ctx context.Context, in *instance) error {
	logFile, err := os.OpenFile(filepath.Join(c.dir, in.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(c.binary, "serve", "--migrate=false")
	cmd.Dir = c.dir
	cmd.Env = append(c.serveEnv(), append([]string{"PORT=" + strconv.Itoa(in.port),
		"METRICS_ADDR=127.0.0.1:" + strconv.Itoa(in.metricsPort)}, sharedEnv...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	in.cmd, in.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(in.done) }()
	return c.waitStatus(ctx, in.url()+"/readyz", http.StatusOK, 30*time.Second)
}

// stop sends SIGTERM and waits for the instance to exit.
func (c *cluster) stop(in *instance, timeout time.Duration) error {
	if in.cmd == nil {
		return nil
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
		return nil
	case <-time.After(timeout):
		_ = in.cmd.Process.Kill()
		<-in.done
		return fmt.Errorf("%s did not stop within %s", in.name, timeout)
	}
}

func (c *cluster) close() {
	if c.haproxy != nil && c.haproxy.Process != nil {
		_ = c.haproxy.Process.Signal(syscall.SIGTERM)
		_ = c.haproxy.Wait()
	}
	for _, in := range c.instances {
		_ = c.stop(in, 30*time.Second)
	}
	c.stopPgBouncer()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.db != nil {
		_ = c.db.Close(ctx)
	}
	if conn, err := pgx.Connect(ctx, c.adminURL); err == nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{c.dbName}.Sanitize()+" WITH (FORCE)")
		_ = conn.Close(ctx)
	}
	if os.Getenv("CLUSTER_KEEP_LOGS") == "" {
		_ = os.RemoveAll(c.dir)
	}
}

func (c *cluster) instanceURLs() []string {
	var out []string
	for _, in := range c.instances {
		out = append(out, in.url())
	}
	return out
}

func (c *cluster) waitStatus(ctx context.Context, url string, status int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.http.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == status {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not answer %d within %s (logs in %s)", url, status, timeout, c.dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clientIP is a fresh client address for X-Forwarded-For, so that one proof's auth requests do
// not spend another's rate limit (the instances trust the header from loopback only). The
// addresses are new on every run too: the per-IP limit lives in Redis and outlives a run by a
// minute, so a second run right after the first must not find its clients' budget spent.
func (c *cluster) clientIP() string {
	c.ipSeq++
	return fmt.Sprintf("fd77:%x:%x::%x", c.runTag>>16, c.runTag&0xffff, c.ipSeq)
}

// call sends a JSON request and decodes a JSON answer into out (when not nil).
type call struct {
	method, url, token, ip string
	key                    string // Idempotency-Key, when not empty
	body                   any
}

func (c *cluster) do(ctx context.Context, r call, out any) (int, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return 0, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.ip != "" {
		req.Header.Set("X-Forwarded-For", r.ip)
	}
	if r.key != "" {
		req.Header.Set("Idempotency-Key", r.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", r.method, r.url, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *cluster) must(ctx context.Context, r call, want int, out any) error {
	got, err := c.do(ctx, r, out)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s %s: status %d, want %d", r.method, r.url, got, want)
	}
	return nil
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}
