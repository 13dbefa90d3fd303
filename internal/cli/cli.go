package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/alecthomas/kong"

	"github.com/lantern-mlops/lantern/internal/buildinfo"
)

// Globals are the flags every command has.
type Globals struct {
	Config    kong.ConfigFlag `help:"YAML file of flag values (keys are flag names, e.g. 'data-dir: /srv/lantern'). Environment variables and flags override it." env:"LANTERN_CONFIG" placeholder:"FILE"`
	LogLevel  string          `help:"Log level: debug, info, warn or error." default:"info" enum:"debug,info,warn,error" env:"LANTERN_LOG_LEVEL"`
	LogFormat string          `help:"Log format: text, json, or auto (json unless stderr is a terminal)." default:"auto" enum:"auto,text,json" env:"LANTERN_LOG_FORMAT"`

	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
}

// CLI is the whole command line.
type CLI struct {
	Globals

	Up      upCmd      `cmd:"" help:"Run the platform in one process: registry (MLflow-compatible and native APIs) and serving (OIP REST and gRPC, MLflow scoring)."`
	Serve   serveCmd   `cmd:"" help:"Serve models from a registry over HTTP: OIP REST and gRPC, MLflow scoring."`
	Demo    demoCmd    `cmd:"" help:"Run the whole platform on loopback with a throw-away data directory and show it working."`
	Train   trainCmd   `cmd:"" help:"Train a model on a dataset, evaluate it against a baseline and quality gates, and register it."`
	Data    dataCmd    `cmd:"" help:"Synthetic datasets."`
	Models  modelsCmd  `cmd:"" help:"Register, list, inspect, download and delete models in a registry."`
	Audit   auditCmd   `cmd:"" help:"Show the registry's audit log."`
	Token   tokenCmd   `cmd:"" help:"Create API tokens."`
	Version versionCmd `cmd:"" help:"Print the version."`
}

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run parses args, runs the command and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c CLI
	c.stdout, c.stderr = stdout, stderr
	exited := -1 // set when kong has printed help or the version and wants to exit
	parser, err := kong.New(&c,
		kong.Name("lantern"),
		kong.Description("Lantern: a model registry, ONNX serving, canary rollouts and drift monitoring in one binary.\n\nStart with 'lantern demo'; run the platform with 'lantern up'."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Configuration(yamlResolver),
		kong.Vars{"version": buildinfo.String()},
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exited = code }),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		fmt.Fprintln(stderr, "lantern:", err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if exited >= 0 {
		return exited // --help: printed, nothing to run
	}
	if err != nil {
		var pe *kong.ParseError
		if errors.As(err, &pe) {
			fmt.Fprintln(stderr, "lantern:", err)
			return 2
		}
		fmt.Fprintln(stderr, "lantern:", err)
		return 2
	}
	if kctx.Command() == "" {
		parser.Printf("choose a command; see lantern --help")
		return 2
	}
	c.logger = newLogger(c.LogLevel, c.LogFormat, stderr)
	if err := kctx.Run(&c.Globals); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(stderr, "lantern:", ee.err)
			}
			return ee.code
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return 130
		}
		fmt.Fprintln(stderr, "lantern:", err)
		return 1
	}
	return 0
}

func newLogger(level, format string, w io.Writer) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTTY(f) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

type versionCmd struct{}

func (versionCmd) Run(g *Globals) error {
	fmt.Fprintln(g.stdout, "lantern", buildinfo.String())
	return nil
}
