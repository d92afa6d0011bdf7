package main

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestPoolerConfig: directly on PostgreSQL nothing changes (pgx's statement cache, one URL);
// behind PgBouncer the exec mode defaults to one without per-connection prepared statements, a
// direct URL is required (migrations and LISTEN), and the statement cache is refused by name.
func TestPoolerConfig(t *testing.T) {
	t.Parallel()
	const pooled, direct = "postgres://ecompointer_pooler@pgbouncer:6432/ecompointer", "postgres://ecompointer@db:5432/ecompointer"
	for _, c := range []struct {
		name      string
		env       map[string]string
		mode      pgx.QueryExecMode
		directURL string
		wantErr   string // in the error; empty: none
	}{
		{"direct", map[string]string{"DATABASE_URL": direct}, pgx.QueryExecModeCacheStatement, direct, ""},
		{"direct, exec mode", map[string]string{"DATABASE_URL": direct, "DATABASE_EXEC_MODE": "exec"}, pgx.QueryExecModeExec, direct, ""},
		{"pgbouncer", map[string]string{"DATABASE_URL": pooled, "DATABASE_DIRECT_URL": direct, "DATABASE_POOLER": "pgbouncer"},
			pgx.QueryExecModeCacheDescribe, direct, ""},
		{"pgbouncer, simple protocol", map[string]string{"DATABASE_URL": pooled, "DATABASE_DIRECT_URL": direct, "DATABASE_POOLER": "pgbouncer",
			"DATABASE_EXEC_MODE": "simple_protocol"}, pgx.QueryExecModeSimpleProtocol, direct, ""},
		{"pgbouncer without a direct URL", map[string]string{"DATABASE_URL": pooled, "DATABASE_POOLER": "pgbouncer"}, 0, "", "DATABASE_DIRECT_URL"},
		{"pgbouncer with the statement cache", map[string]string{"DATABASE_URL": pooled, "DATABASE_DIRECT_URL": direct, "DATABASE_POOLER": "pgbouncer",
			"DATABASE_EXEC_MODE": "cache_statement"}, 0, "", "DATABASE_EXEC_MODE"},
		{"unknown pooler", map[string]string{"DATABASE_POOLER": "pgpool"}, 0, "", "DATABASE_POOLER"},
		{"unknown exec mode", map[string]string{"DATABASE_EXEC_MODE": "prepared"}, 0, "", "DATABASE_EXEC_MODE"},
		{"bad direct URL", map[string]string{"DATABASE_DIRECT_URL": "mysql://db/x"}, 0, "", "DATABASE_DIRECT_URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadConfig(envFunc(c.env))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.execMode != c.mode || got.directURL != c.directURL {
				t.Errorf("exec mode %v, direct URL %q; want %v, %q", got.execMode, got.directURL, c.mode, c.directURL)
			}
		})
	}
}

// TestJobsPoolSizeConfig: DATABASE_JOBS_POOL_SIZE sizes background work's own pool; unset is 0
// (server.DefaultJobsPoolSize), and a value that is not a size is refused by name.
func TestJobsPoolSizeConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value   string
		want    int
		wantErr bool
	}{{"", 0, false}, {"8", 8, false}, {"0", 0, false}, {"-1", 0, true}, {"many", 0, true}, {"1001", 0, true}} {
		t.Run(c.value, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if c.value != "" {
				env["DATABASE_JOBS_POOL_SIZE"] = c.value
			}
			got, err := loadConfig(envFunc(env))
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "DATABASE_JOBS_POOL_SIZE") {
					t.Fatalf("error %v, want one naming DATABASE_JOBS_POOL_SIZE", err)
				}
				return
			}
			if err != nil || got.jobsPoolSize != c.want {
				t.Errorf("size %d, %v; want %d", got.jobsPoolSize, err, c.want)
			}
		})
	}
}
