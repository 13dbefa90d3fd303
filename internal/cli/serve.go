package cli

import (
	"context"
	"errors"
	"time"

	"github.com/lantern-mlops/lantern/internal/platform"
	"github.com/lantern-mlops/lantern/registry/client"
	"github.com/lantern-mlops/lantern/serving"
)

// serveCmd runs serving alone against a registry reached over HTTP.
type serveCmd struct {
	authFlags
	servingFlags
	Registry      string        `help:"Registry to serve models from (a 'lantern up' or 'lantern registry')." default:"http://127.0.0.1:8080" env:"LANTERN_REGISTRY" placeholder:"URL"`
	Token         string        `help:"API token for the registry (reader role). Prefer the environment variable." env:"LANTERN_TOKEN" placeholder:"TOKEN"`
	DataDir       string        `help:"Directory for the model cache (serving keeps working from it while the registry is unreachable)." default:"./lantern-data" env:"LANTERN_DATA_DIR" type:"path"`
	HTTPAddr      string        `help:"HTTP listen address: OIP REST (/v2), MLflow scoring (/invocations), health, metrics." default:"127.0.0.1:8080" env:"LANTERN_HTTP_ADDR"`
	DrainTimeout  time.Duration `help:"How long to let requests finish on shutdown." default:"15s" env:"LANTERN_DRAIN_TIMEOUT"`
	ShutdownDelay time.Duration `help:"On SIGTERM, keep serving this long after reporting not ready, so load balancers stop sending first." default:"0s" env:"LANTERN_SHUTDOWN_DELAY"`
}

func (c *serveCmd) Run(ctx context.Context, g *Globals) error {
	if len(c.Model) == 0 && c.Alias == "" {
		return errors.New("say which models to serve: --model NAME@ALIAS (repeatable) or --alias ALIAS")
	}
	rc, err := client.New(c.Registry, c.Token)
	if err != nil {
		return err
	}
	authn, err := c.authenticator(g.logger)
	if err != nil {
		return err
	}
	sc, err := c.servingFlags.config(c.DataDir, serving.RemoteSource(rc))
	if err != nil {
		return err
	}
	p, err := platform.Start(ctx, platform.Config{Auth: authn, HTTPAddr: c.HTTPAddr, Serving: sc, DrainTimeout: c.DrainTimeout, ShutdownDelay: c.ShutdownDelay, Logger: g.logger})
	if err != nil {
		return err
	}
	return p.Wait()
}
