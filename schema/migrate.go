package schema

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
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
	if err := db.New(conn).ProductSearchEnsure(ctx, appRole); err != nil {
		return fmt.Errorf("ensure the product search's role %q: %w", appRole+"_search", err)
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
