package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/server"
)

// pgbouncerLogin is the login the instances' request pools use through PgBouncer. Behind a pooler
// in transaction mode the session settings cannot travel as start-up parameters, so they are this
// login's defaults in the cluster's database (ALTER ROLE … IN DATABASE … SET), which
// DROP DATABASE removes with it.
const pgbouncerLogin = "ecompointer_pooler"

// startPgBouncer puts Debian's PgBouncer (transaction pooling) between the instances' request
// pools and PostgreSQL (CLUSTER_PGBOUNCER=1). The instances keep a direct connection
// (DATABASE_DIRECT_URL) for LISTEN: the session cache and river.
func (c *cluster) startPgBouncer(ctx context.Context) error {
	if _, err := exec.LookPath("pgbouncer"); err != nil {
		return fmt.Errorf("pgbouncer is not installed (Debian: apt-get install pgbouncer): %w", err)
	}
	timeouts := server.DefaultDBConfig()
	db := pgx.Identifier{c.dbName}.Sanitize()
	for _, stmt := range []string{
		// Roles are cluster-wide: made once, reused by later runs.
		`DO $$ BEGIN
		   IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '` + pgbouncerLogin + `') THEN
		     CREATE ROLE ` + pgbouncerLogin + ` LOGIN NOSUPERUSER NOBYPASSRLS;
		   END IF;
		 END $$`,
		`GRANT ecompointer_app TO ` + pgbouncerLogin,
		`ALTER ROLE ` + pgbouncerLogin + ` IN DATABASE ` + db + ` SET role = 'ecompointer_app'`,
		fmt.Sprintf(`ALTER ROLE %s IN DATABASE %s SET statement_timeout = %d`, pgbouncerLogin, db, timeouts.StatementTimeout.Milliseconds()),
		fmt.Sprintf(`ALTER ROLE %s IN DATABASE %s SET lock_timeout = %d`, pgbouncerLogin, db, timeouts.LockTimeout.Milliseconds()),
	} {
		if _, err := c.db.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pooler login: %w", err)
		}
	}

	dbURL, err := url.Parse(c.dbURL)
	if err != nil {
		return err
	}
	port := freePort()
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
; Three instances of up to 8 request connections each share these server connections.
default_pool_size = 16
max_client_conn = 200
server_reset_query =
logfile = %s
`, c.dbName, dbURL.Hostname(), dbURL.Port(), c.dbName, port,
		filepath.Join(c.dir, "pgbouncer.users"), filepath.Join(c.dir, "pgbouncer.log"))
	if err := os.WriteFile(filepath.Join(c.dir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "pgbouncer.users"), []byte(`"`+pgbouncerLogin+`" ""`+"\n"), 0o644); err != nil {
		return err
	}
	args := []string{filepath.Join(c.dir, "pgbouncer.ini")}
	name := "pgbouncer"
	if os.Geteuid() == 0 {
		// PgBouncer refuses to run as root; the directory must be reachable for its log.
		if err := os.Chmod(c.dir, 0o777); err != nil { //nolint:gosec // a throwaway directory of this run
			return err
		}
		name, args = "setpriv", append([]string{"--reuid=postgres", "--regid=postgres", "--init-groups", "pgbouncer"}, args...)
	}
	c.pgbouncer = exec.Command(name, args...)
	c.pgbouncer.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := c.pgbouncer.Start(); err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	c.poolURL = fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", pgbouncerLogin, port, c.dbName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.poolURL+"&default_query_exec_mode=cache_describe")
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgbouncer did not answer on port %d: %w (log: %s)", port, err, filepath.Join(c.dir, "pgbouncer.log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serveEnv is how an instance reaches the database: directly, or through PgBouncer with a direct
// connection for LISTEN.
func (c *cluster) serveEnv() []string {
	if c.poolURL == "" {
		return []string{"DATABASE_URL=" + c.dbURL}
	}
	return []string{"DATABASE_URL=" + c.poolURL, "DATABASE_DIRECT_URL=" + c.dbURL, "DATABASE_POOLER=pgbouncer"}
}

func (c *cluster) stopPgBouncer() {
	if c.pgbouncer != nil && c.pgbouncer.Process != nil {
		_ = c.pgbouncer.Process.Signal(syscall.SIGTERM)
		_ = c.pgbouncer.Wait()
	}
}
