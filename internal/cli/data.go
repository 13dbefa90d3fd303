package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/synth"
)

type dataCmd struct {
	Generate dataGenerateCmd `cmd:"" help:"Write a synthetic dataset (deterministic by seed) as CSV or Parquet, to a file or s3://bucket/key."`
}

type dataGenerateCmd struct {
	Dataset   string   `help:"demand (monthly consumption per district) or malnutrition (child records)." required:"" enum:"demand,malnutrition"`
	Out       string   `help:"Where to write: a path or s3://bucket/key; .csv or .parquet." required:"" placeholder:"PATH_OR_S3_URI"`
	Seed      uint64   `help:"Random seed." default:"1"`
	Districts int      `help:"Number of districts." default:"60"`
	Months    int      `help:"Number of months." default:"72"`
	Start     string   `help:"First month, YYYY-MM." default:"2020-01"`
	Records   int      `help:"Malnutrition: number of visits." default:"20000"`
	Shift     []string `help:"Drift: flood these districts (e.g. D003) from --shift-from on; demand rises, nutrition worsens." placeholder:"DISTRICT"`
	ShiftFrom string   `help:"Drift: first affected month, YYYY-MM." placeholder:"YYYY-MM"`
}

func (c *dataGenerateCmd) Run(ctx context.Context, g *Globals) error {
	opts := data.Options{}
	if strings.HasPrefix(c.Out, "s3://") {
		s3, err := data.S3FromEnv()
		if err != nil {
			return err
		}
		opts.S3 = s3
	}
	var shift *synth.Shift
	if len(c.Shift) > 0 {
		if c.ShiftFrom == "" {
			return fmt.Errorf("--shift needs --shift-from YYYY-MM")
		}
		shift = &synth.Shift{FloodDistricts: c.Shift, FromMonth: c.ShiftFrom}
	}
	var (
		w    *data.Writer
		err  error
		rows int
	)
	switch c.Dataset {
	case "demand":
		if w, err = data.NewWriter(ctx, c.Out, synth.DemandSchema(), opts); err != nil {
			return err
		}
		var st synth.DemandStats
		st, err = synth.Demand(synth.DemandConfig{Seed: c.Seed, Districts: c.Districts, Months: c.Months, Start: c.Start, Shift: shift}, w.Write)
		rows = st.Rows
	default:
		if w, err = data.NewWriter(ctx, c.Out, synth.MalnutritionSchema(), opts); err != nil {
			return err
		}
		var st synth.MalnutritionStats
		st, err = synth.Malnutrition(synth.MalnutritionConfig{Seed: c.Seed, Records: c.Records, Districts: c.Districts, Months: c.Months, Start: c.Start, Shift: shift}, w.Write)
		rows = st.Rows
	}
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "wrote %d rows (%d bytes, sha256 %s) to %s\n", rows, w.Bytes(), w.SHA256(), c.Out)
	return nil
}
