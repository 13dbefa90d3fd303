package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/platform"
	"github.com/lantern-mlops/lantern/registry"
)

// upCmd runs the platform in one process.
type upCmd struct {
	storageFlags
	authFlags
	servingFlags
	HTTPAddr      string        `help:"HTTP listen address: registry APIs (MLflow and /api/v1), inference (OIP /v2, MLflow /invocations), health and metrics." default:"127.0.0.1:8080" env:"LANTERN_HTTP_ADDR"`
	DrainTimeout  time.Duration `help:"How long to let requests finish on shutdown." default:"15s" env:"LANTERN_DRAIN_TIMEOUT"`
	ShutdownDelay time.Duration `help:"On SIGTERM, keep serving this long after reporting not ready, so load balancers stop sending first (Kubernetes: a few seconds)." default:"0s" env:"LANTERN_SHUTDOWN_DELAY"`
	LeaseTTL      time.Duration `help:"How long an upload may stall before its files are garbage-collected." default:"10m" env:"LANTERN_LEASE_TTL" hidden:""`
	Reconcile     time.Duration `name:"reconcile-interval" help:"How often the registry re-lists the store and runs its janitor." default:"1m" env:"LANTERN_RECONCILE_INTERVAL" hidden:""`
}

// authFlags configure API authentication.
type authFlags struct {
	Insecure      bool   `help:"Allow every request without a token. For local experiments only: the server says so loudly." env:"LANTERN_INSECURE"`
	TokensFile    string `help:"YAML file of API token hashes (see 'lantern token create'). Re-read when it changes." type:"path" env:"LANTERN_TOKENS_FILE"`
	Tokens        string `help:"API token hashes as name:role:sha256,... (usually set as the environment variable)." env:"LANTERN_TOKENS"`
	AnonymousRead bool   `help:"Let requests without a token read (writes still need one)." env:"LANTERN_ANONYMOUS_READ"`
}

func (f *authFlags) authenticator(log *slog.Logger) (*auth.Authenticator, error) {
	a, err := auth.New(auth.Config{TokensFile: f.TokensFile, Tokens: f.Tokens, Insecure: f.Insecure, AnonymousRead: f.AnonymousRead}, log)
	if err != nil {
		return nil, err
	}
	switch {
	case f.Insecure:
		log.Warn("INSECURE MODE: every request is allowed without a token, writes included. Use only on a machine you trust, never on a network.")
	case a.Count() == 0 && !f.AnonymousRead:
		log.Warn("no API tokens configured: every API call will be refused with 401. Create one with 'lantern token create --name NAME --role writer --file tokens.yaml' and pass --tokens-file tokens.yaml, or use --insecure for local experiments")
	case a.Count() == 0:
		log.Warn("no API tokens configured: reads are open, writes are refused")
	}
	return a, nil
}

func (c *upCmd) Run(ctx context.Context, g *Globals) error {
	log := g.logger
	st, desc, err := c.open(ctx)
	if err != nil {
		return err
	}
	authn, err := c.authenticator(log)
	if err != nil {
		return err
	}
	if len(c.Model) == 0 && c.Alias == "" {
		c.Alias = "production" // lantern up serves every model in production
	}
	sc, err := c.servingFlags.config(c.DataDir, nil)
	if err != nil {
		return err
	}
	p, err := platform.Start(ctx, platform.Config{
		Store: st, StoreDesc: desc, Auth: authn, HTTPAddr: c.HTTPAddr, Serving: sc,
		DrainTimeout: c.DrainTimeout, ShutdownDelay: c.ShutdownDelay, Registry: registry.Options{LeaseTTL: c.LeaseTTL, ReconcileInterval: c.Reconcile}, Logger: log,
	})
	if err != nil {
		return err
	}
	return p.Wait()
}
