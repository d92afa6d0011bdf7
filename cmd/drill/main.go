// Command drill runs the operator's drills against the built binary and this machine's
// PostgreSQL. `drill backup` (make backup-drill, CI) is the backup and restore drill of
// docs/operating.md, exactly as an operator would run it: a populated database is dumped with
// `pg_dump -Fc`, restored with `pg_restore` into a fresh database, and the server started on the
// copy must hold both stock invariants, serve the same stock, orders and ledger, and log in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "drill:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "backup" {
		return errors.New("usage: drill backup --server bin/ecompointer")
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	server := fs.String("server", "bin/ecompointer", "the built server binary")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	return backupDrill(ctx, *server)
}
