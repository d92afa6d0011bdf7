// Command ecompointer is the EcomPointer API server and its admin tasks: `serve`,
// `migrate up|down|version|force`, `user create` and `version`.
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
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ecompointer:", err)
		stop()
		os.Exit(1)
	}
}
