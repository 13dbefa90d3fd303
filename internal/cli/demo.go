package cli

import (
	"context"

	"github.com/lantern-mlops/lantern/internal/demo"
)

type demoCmd struct {
	DataDir  string `help:"Keep the demo's data here (default: a temporary directory, removed at the end)." type:"path" env:"LANTERN_DEMO_DATA_DIR"`
	HTTPAddr string `help:"HTTP listen address (default: a free loopback port)." default:"127.0.0.1:0" env:"LANTERN_DEMO_HTTP_ADDR"`
	Keep     bool   `help:"Keep the platform running after the demo, until Ctrl-C."`
	Verbose  bool   `help:"Show the platform's logs (by default only warnings and errors, so the summary stays readable)."`
}

func (c *demoCmd) Run(ctx context.Context, g *Globals) error {
	log := g.logger
	if !c.Verbose && g.LogLevel == "info" {
		log = newLogger("warn", g.LogFormat, g.stderr)
	}
	return demo.Run(ctx, demo.Options{DataDir: c.DataDir, HTTPAddr: c.HTTPAddr, Keep: c.Keep, Out: g.stdout, Logger: log})
}
