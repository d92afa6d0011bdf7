// Command bench is the load harness: it seeds a fresh database, starts the server (bin/ecompointer)
// against it, drives every scenario over loopback from this separate process, measures the
// limits the figures are compared to (baseline servers, pgbench, bcrypt) in the same run, and
// writes a markdown table. `make bench` runs it; see `bench help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}
