// Command lantern is the Lantern MLOps platform: model registry, ONNX
// serving, rollouts, drift monitoring and training in one binary.
// Run "lantern --help" for the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lantern-mlops/lantern/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
