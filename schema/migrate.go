package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
)

// Up applies every pending migration, then makes sure the application role exists and holds the
// grants request statements need (roles are cluster-wide, so this runs every time, idempotently).
func Up(ctx context.Context, databaseURL, appRole string) error {
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer closeMigrate(m)
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		var dirty migrate.ErrDirty
		if errors.As(err, &dirty) {
			return Dirty(uint(max(dirty.Version, 0)))
		}
		return fmt.Errorf("migrate up: %w", err)
	}
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := db.New(conn).AppRoleEnsure(ctx, appRole); err != nil {
		return fmt.Errorf("ensure application role %q: %w", appRole, err)
	}
	return nil
}

// Down reverts the newest `steps` migrations.
func Down(databaseURL string, steps int) error {
	if steps < 1 {
		return fmt.Errorf("migrate down: steps must be at least 1, got %d", steps)
	}
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer closeMigrate(m)
	if err := m.Steps(-steps); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// Force records version as applied and clean without running anything: the way out of a dirty
// database once an operator has repaired it by hand (golang-migrate's force). Version 0 records
// that no migration is applied. Only versions this binary has are accepted.
func Force(databaseURL string, version uint) error {
	target := int(version)
	if version == 0 {
		target = database.NilVersion
	} else if _, ok, err := known(version); err != nil || !ok {
		if err != nil {
			return err
		}
		return fmt.Errorf("migrate force: this binary has no migration %d", version)
	}
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer closeMigrate(m)
	if err := m.Force(target); err != nil {
		return fmt.Errorf("migrate force: %w", err)
	}
	return nil
}

// Versions lists the migrations this binary carries, oldest first.
func Versions() ([]uint, error) {
	src, err := iofs.New(FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	defer func() { _ = src.Close() }()
	v, err := src.First()
	var out []uint
	for err == nil {
		out = append(out, v)
		v, err = src.Next(v)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return out, nil
}

// known reports whether version is one of this binary's migrations, and the one before it (0:
// none before).
func known(version uint) (prev uint, ok bool, err error) {
	versions, err := Versions()
	if err != nil {
		return 0, false, err
	}
	for i, v := range versions {
		if v == version {
			if i > 0 {
				prev = versions[i-1]
			}
			return prev, true, nil
		}
	}
	return 0, false, nil
}

// DirtyError is a database left dirty by a migration that failed half-way. Its message tells the
// operator what to run; nothing is retried on a dirty database, since the failed migration's
// partial changes would meet it a second time.
type DirtyError struct {
	Version, Previous uint
}

func (e *DirtyError) Error() string {
	return fmt.Sprintf("the database is dirty at migration %d: it failed half-way and nothing more is applied until it is repaired. "+
		"Read the failure in the log of the run that failed, then either finish migration %d by hand and run `ecompointer migrate force %d`, "+
		"or undo its partial changes and run `ecompointer migrate force %d`; then `ecompointer migrate up` (docs/operating.md, \"Upgrades and rollbacks\")",
		e.Version, e.Version, e.Version, e.Previous)
}

// Dirty is the DirtyError of a database dirty at version: what `migrate up` answers, and what
// `migrate version` prints, so the operator reads the same advice from both.
func Dirty(version uint) *DirtyError {
	prev, _, _ := known(version) // unknown (a newer binary's migration): advise 0, the operator reads on
	return &DirtyError{Version: version, Previous: prev}
}

// Version reports the applied version; ok is false on a database with no migration applied.
func Version(databaseURL string) (version uint, dirty, ok bool, err error) {
	m, err := open(databaseURL)
	if err != nil {
		return 0, false, false, err
	}
	defer closeMigrate(m)
	version, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("migrate version: %w", err)
	}
	return version, dirty, true, nil
}

func open(databaseURL string) (*migrate.Migrate, error) {
	src, err := iofs.New(FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("DATABASE_URL must be a postgres:// URL")
	}
	// golang-migrate picks its driver by scheme; pgx5:// is the pgx/v5 one.
	target := "pgx5" + strings.TrimPrefix(databaseURL, u.Scheme)
	m, err := migrate.NewWithSourceInstance("iofs", src, target)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return m, nil
}

func closeMigrate(m *migrate.Migrate) {
	_, _ = m.Close()
}
