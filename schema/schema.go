// Package schema holds the database migrations, embedded in the binary, and runs them.
package schema

import "embed"

// FS holds the golang-migrate migrations (NNNNNN_name.up.sql / .down.sql).
//
//go:embed *.sql
var FS embed.FS
