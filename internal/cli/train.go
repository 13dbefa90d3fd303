package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lantern-mlops/lantern/training"
	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/eval"
)

// trainCmd runs a training job.
type trainCmd struct {
	clientFlags
	Model         string    `help:"Model family to train: demand-forecast or malnutrition-risk." required:"" enum:"demand-forecast,malnutrition-risk" placeholder:"FAMILY"`
	Data          string    `help:"Training data: a local path or s3://bucket/key, CSV or Parquet (see 'lantern data generate')." required:"" placeholder:"PATH_OR_S3_URI"`
	Name          string    `help:"Registered model name (default: the family)."`
	Alias         []string  `help:"Point these aliases at the new version if it passes the quality gates (e.g. challenger). Repeatable." placeholder:"ALIAS"`
	Seed          uint64    `help:"Random seed: the same data and seed give the same model bytes." default:"1"`
	Trainer       string    `help:"Classifier: mlp or logistic (demand always uses gradient-boosted trees)." default:"mlp" enum:"mlp,logistic"`
	TestMonths    int       `help:"Demand: months held out for testing (the same number before them validate)." default:"6"`
	Gates         string    `help:"YAML file of quality gates (default gates: see docs/training.md)." type:"existingfile" placeholder:"FILE"`
	RecordFailure bool      `help:"Register a version that fails a gate as FAILED_REGISTRATION with its reports, instead of registering nothing."`
	DryRun        bool      `help:"Train and evaluate, register nothing."`
	Parent        string    `help:"Lineage: the version this one retrains, as NAME/VERSION." placeholder:"NAME/VERSION"`
	AsOf          time.Time `help:"Judge data timeliness as of this date (default: now)." format:"2006-01-02" placeholder:"YYYY-MM-DD"`
	Description   string    `help:"Description of the new version."`
}

func (c *trainCmd) Run(ctx context.Context, g *Globals) error {
	cfg := training.Config{
		Family: c.Model, Name: c.Name, Data: c.Data, Seed: c.Seed, Trainer: c.Trainer, TestMonths: c.TestMonths,
		Aliases: c.Alias, RecordFailure: c.RecordFailure, Parent: c.Parent, Description: c.Description, Logger: g.logger,
		DataOptions: data.Options{AsOf: c.AsOf},
	}
	if strings.HasPrefix(c.Data, "s3://") {
		s3, err := data.S3FromEnv()
		if err != nil {
			return err
		}
		cfg.DataOptions.S3 = s3
	}
	if c.Gates != "" {
		b, err := os.ReadFile(c.Gates)
		if err != nil {
			return err
		}
		gates, err := eval.ParseGates(b)
		if err != nil {
			return fmt.Errorf("gates file %s: %w", c.Gates, err)
		}
		cfg.Gates = &gates
	}
	if !c.DryRun {
		rc, err := c.client()
		if err != nil {
			return err
		}
		cfg.Registry = rc
	}
	start := time.Now()
	cfg.Progress = func(stage, detail string) {
		fmt.Fprintf(g.stderr, "[%5.1fs] %-9s %s\n", time.Since(start).Seconds(), stage, detail)
	}
	res, err := training.Run(ctx, cfg)
	if res != nil && res.Quality != nil && errors.Is(err, training.ErrDataQuality) {
		res.Quality.WriteText(g.stderr)
	}
	if err != nil {
		if errors.Is(err, training.ErrGate) || errors.Is(err, training.ErrDataQuality) {
			return &exitError{code: 3, err: err}
		}
		return c.explain(err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"version": res.Version, "metrics": res.Metrics.Metrics(), "summary": res.Summary})
	}
	if res.Version != nil {
		fmt.Fprintf(g.stdout, "registered %s version %d: %s\n", res.Version.Name, res.Version.Version, res.Summary)
	} else {
		fmt.Fprintf(g.stdout, "dry run: %s\n", res.Summary)
	}
	return nil
}
