package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/schema"
	"github.com/ecompointer/ecompointer/server/buildinfo"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestVersionNeedsNoConfiguration: `ecompointer version` prints the build and reads nothing
// else (an image check runs it with no database and no environment).
func TestVersionNeedsNoConfiguration(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	// A configuration that would refuse to start: version must not read it.
	env := envFunc(map[string]string{"APP_ENV": "production", "PORT": "not a port"})
	if err := run(context.Background(), []string{"ecompointer", "version"}, env, strings.NewReader(""), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	b := buildinfo.Get()
	if got, want := stdout.String(), b.String()+"\n"; got != want {
		t.Errorf("version printed %q, want %q", got, want)
	}
	for _, part := range []string{b.Version, b.Commit, b.GoVersion} {
		if !strings.Contains(stdout.String(), part) {
			t.Errorf("version output %q lacks %q", stdout.String(), part)
		}
	}
}

// TestMigrateForceRepairsADirtyDatabase is the operator's way out of a migration that failed
// half-way: `migrate up` refuses a dirty database with the exact command to run, `migrate
// version` says the same, `migrate force N` records N clean, and `migrate up` then succeeds.
func TestMigrateForceRepairsADirtyDatabase(t *testing.T) {
	t.Parallel()
	dbURL := servertest.Database(t)
	versions, err := schema.Versions()
	if err != nil || len(versions) < 2 {
		t.Fatalf("migrations: %v %v", versions, err)
	}
	latest, previous := versions[len(versions)-1], versions[len(versions)-2]
	env := envFunc(map[string]string{"DATABASE_URL": dbURL, "DATABASE_APP_ROLE": servertest.AppRole})
	migrate := func(args ...string) (string, error) {
		var stdout bytes.Buffer
		err := run(context.Background(), append([]string{"ecompointer", "migrate"}, args...), env, strings.NewReader(""), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}

	// What a migration that failed half-way leaves: its version recorded, dirty.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)

	forceLatest := fmt.Sprintf("ecompointer migrate force %d", latest)
	forcePrevious := fmt.Sprintf("ecompointer migrate force %d", previous)
	_, err = migrate("up")
	if err == nil || !strings.Contains(err.Error(), forceLatest) || !strings.Contains(err.Error(), forcePrevious) {
		t.Fatalf("migrate up on a dirty database = %v, want advice naming %q and %q", err, forceLatest, forcePrevious)
	}
	out, err := migrate("version")
	if err != nil || !strings.Contains(out, fmt.Sprintf("version %d (dirty)", latest)) || !strings.Contains(out, forceLatest) {
		t.Fatalf("migrate version on a dirty database = %q %v", out, err)
	}

	for _, bad := range [][]string{{"force"}, {"force", "x"}, {"force", "-1"}, {"force", "13", "14"}, {"force", "999999"}} {
		if _, err := migrate(bad...); err == nil {
			t.Errorf("migrate %v accepted", bad)
		}
	}

	out, err = migrate("force", fmt.Sprint(latest))
	if err != nil || out != fmt.Sprintf("version %d\n", latest) {
		t.Fatalf("migrate force %d = %q %v", latest, out, err)
	}
	if out, err := migrate("up"); err != nil || out != fmt.Sprintf("version %d\n", latest) {
		t.Fatalf("migrate up after force = %q %v", out, err)
	}

	// Forcing back one records the previous version; up then re-runs the latest migration
	// (here it was complete, so down first, as an operator undoing it would).
	if _, err := migrate("down"); err != nil {
		t.Fatal(err)
	}
	if out, err := migrate("force", fmt.Sprint(previous)); err != nil || out != fmt.Sprintf("version %d\n", previous) {
		t.Fatalf("migrate force %d = %q %v", previous, out, err)
	}
	if out, err := migrate("up"); err != nil || out != fmt.Sprintf("version %d\n", latest) {
		t.Fatalf("migrate up from %d = %q %v", previous, out, err)
	}
}

// TestPreviousSecretsAreRead: JWT_*_SECRET_PREVIOUS reach the server's configuration, and a
// short one, or one shared between the kinds, stops start-up naming the variable.
func TestPreviousSecretsAreRead(t *testing.T) {
	t.Parallel()
	access, refresh := strings.Repeat("a", 40), strings.Repeat("r", 40)
	oldAccess, oldRefresh := strings.Repeat("A", 40), strings.Repeat("R", 40)
	c, err := loadConfig(envFunc(map[string]string{
		"JWT_ACCESS_SECRET": access, "JWT_REFRESH_SECRET": refresh,
		"JWT_ACCESS_SECRET_PREVIOUS": oldAccess, "JWT_REFRESH_SECRET_PREVIOUS": oldRefresh,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.auth.AccessSecretPrevious) != oldAccess || string(c.auth.RefreshSecretPrevious) != oldRefresh {
		t.Errorf("previous secrets not read: %q %q", c.auth.AccessSecretPrevious, c.auth.RefreshSecretPrevious)
	}
	for name, env := range map[string]map[string]string{
		"JWT_ACCESS_SECRET_PREVIOUS":  {"JWT_ACCESS_SECRET_PREVIOUS": "short"},
		"JWT_REFRESH_SECRET_PREVIOUS": {"JWT_REFRESH_SECRET_PREVIOUS": access},
	} {
		env["JWT_ACCESS_SECRET"], env["JWT_REFRESH_SECRET"] = access, refresh
		if _, err := loadConfig(envFunc(env)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", env, err, name)
		}
	}
}
