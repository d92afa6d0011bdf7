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
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/inventory"
)

const (
	password = "correct horse battery staple"
	// Fixed secrets: tokens issued before the dump are checked against the restored copy too.
	accessSecret  = "drill-access-secret-0123456789abcdef0123456789"
	refreshSecret = "drill-refresh-secret-0123456789abcdef012345678"
)

// drill is one run: a work directory, the admin connection's URL and the databases it made.
type drill struct {
	binary   string
	dir      string
	adminURL *url.URL
	dbs      []string
	http     *http.Client
}

func backupDrill(ctx context.Context, binary string) (err error) {
	started := time.Now()
	abs, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ecompointer-drill-")
	if err != nil {
		return err
	}
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := url.Parse(base)
	if err != nil {
		return err
	}
	d := &drill{binary: abs, dir: dir, adminURL: admin, http: &http.Client{Timeout: 30 * time.Second}}
	defer func() {
		d.cleanup()
		if err != nil {
			err = fmt.Errorf("%w (logs in %s)", err, dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()

	tag := strconv.Itoa(os.Getpid())
	source, restored := "ecompointer_drill_src_"+tag, "ecompointer_drill_dst_"+tag
	if err := d.createDatabase(ctx, source); err != nil {
		return err
	}

	// 1. A populated database: a brand with stock, a reservation, an order confirmed and partly
	// shipped, so the ledger, levels, holds and orders all have rows.
	srv, err := d.serve(ctx, source, "source")
	if err != nil {
		return err
	}
	state, err := populate(ctx, d, srv)
	if stopErr := srv.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return fmt.Errorf("populate: %w", err)
	}

	// 2. The operator's backup: a custom-format dump, the server stopped or not (pg_dump reads
	// one consistent snapshot either way).
	dump := filepath.Join(dir, "ecompointer.dump")
	if err := d.pg(ctx, "pg_dump", "-Fc", "-f", dump, "--dbname", d.dbURL(source)); err != nil {
		return err
	}
	info, err := os.Stat(dump)
	if err != nil {
		return err
	}

	// 3. Restore into a fresh database, as onto a new server: create it, pg_restore, then start
	// the server on it (which runs `migrate up`: nothing to apply, the application role ensured).
	if err := d.createDatabase(ctx, restored); err != nil {
		return err
	}
	if err := d.pg(ctx, "pg_restore", "--exit-on-error", "--no-owner", "--dbname", d.dbURL(restored), dump); err != nil {
		return err
	}
	copySrv, err := d.serve(ctx, restored, "restored")
	if err != nil {
		return err
	}
	defer func() { _ = copySrv.stop() }()

	// 4. The copy: the same stock and orders, the invariants, a login, and a token issued before
	// the backup still accepted (same secrets; sessions are in the dump).
	if err := state.check(ctx, d, copySrv); err != nil {
		return fmt.Errorf("restored copy: %w", err)
	}
	if err := d.invariants(ctx, restored, state.brand); err != nil {
		return fmt.Errorf("restored copy: %w", err)
	}
	fmt.Printf("backup drill: dump %.1f KiB, restored into %s; stock invariants hold, %d levels and %d movements as before, order %s, login ok (%.1f s)\n",
		float64(info.Size())/1024, restored, len(state.levels), state.movements, state.orderStatus, time.Since(started).Seconds())
	return nil
}

func (d *drill) dbURL(name string) string {
	u := *d.adminURL
	u.Path = "/" + name
	return u.String()
}

func (d *drill) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, d.adminURL.String())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return err
	}
	d.dbs = append(d.dbs, name)
	return nil
}

func (d *drill) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.adminURL.String())
	if err != nil {
		return
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, name := range d.dbs {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// pg runs one of PostgreSQL's client programs, its output kept in the work directory.
func (d *drill) pg(ctx context.Context, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, program, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", program, err, out.String())
	}
	return nil
}

// invariants runs the stock engine's two invariant queries on the copy, in the brand's scope, as
// the tables' owner would see them through the application role.
func (d *drill) invariants(ctx context.Context, database string, brand uuid.UUID) error {
	conn, err := pgx.Connect(ctx, d.dbURL(database))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	var bad []inventory.Mismatch
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE ecompointer_app"); err != nil {
			return err
		}
		if err := db.New(tx).BrandScopeSet(ctx, brand.String()); err != nil {
			return err
		}
		bad, err = inventory.Mismatches(ctx, tx, brand)
		return err
	})
	if err != nil {
		return fmt.Errorf("stock invariants: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("stock invariants broken: %v", bad)
	}
	return nil
}

// server is one running instance of the binary.
type server struct {
	url  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (d *drill) serve(ctx context.Context, database, name string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	logFile, err := os.Create(filepath.Join(d.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(d.binary, "serve")
	cmd.Dir = d.dir
	cmd.Env = []string{
		"DATABASE_URL=" + d.dbURL(database), "PORT=" + strconv.Itoa(port), "APP_ENV=production",
		"JWT_ACCESS_SECRET=" + accessSecret, "JWT_REFRESH_SECRET=" + refreshSecret,
		"BCRYPT_COST=4", "AUTH_RATE_LIMIT=0", "WEBHOOK_DELIVERY=off", "LOG_FORMAT=json",
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{url: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := d.http.Get(s.url + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s server exited at start (see %s.log)", name, name)
		case <-ctx.Done():
			_ = s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("%s server not ready after 90 s", name)
		}
	}
}

func (s *server) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("server did not stop within 30 s of SIGTERM")
	}
}

// call sends one JSON request and decodes the answer into out (when not nil), requiring want.
func (d *drill) call(ctx context.Context, s *server, method, path, token string, headers map[string]string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
