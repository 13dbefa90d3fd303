package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/training"
	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/synth"
)

// The demo's synthetic data ends in December 2025; timeliness is judged
// as of the start of February 2026 so the result does not depend on today.
var demoAsOf = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

func (r *run) demandPath() string { return filepath.Join(r.dir, "data", "demand.parquet") }
func (r *run) childPath() string  { return filepath.Join(r.dir, "data", "children.parquet") }

// generate writes the two synthetic datasets.
func (r *run) generate(ctx context.Context) error {
	r.w.title("1. Data (synthetic, deterministic by seed)")
	if err := os.MkdirAll(filepath.Join(r.dir, "data"), 0o755); err != nil {
		return err
	}
	w, err := data.NewWriter(ctx, r.demandPath(), synth.DemandSchema(), data.Options{})
	if err != nil {
		return err
	}
	ds, err := synth.Demand(synth.DemandConfig{Seed: r.o.Seed}, w.Write)
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	r.w.line("demand:       %d district-months of RUTF consumption (60 districts, 2020-01..2025-12), with lean seasons, floods, stock-outs, missing and late reports", ds.Rows)
	w, err = data.NewWriter(ctx, r.childPath(), synth.MalnutritionSchema(), data.Options{})
	if err != nil {
		return err
	}
	ms, err := synth.Malnutrition(synth.MalnutritionConfig{Seed: r.o.Seed}, w.Write)
	if err != nil {
		w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	r.w.line("malnutrition: %d child visits (MUAC, weight, height, oedema) labelled none/MAM/SAM by WHO-style rules, SAM rare", ms.Rows)
	return nil
}

// train trains and registers both models under the production alias.
func (r *run) train(ctx context.Context) error {
	r.w.title("2. Training, evaluation against quality gates, registration")
	for _, job := range []struct{ family, path, what string }{
		{training.FamilyDemand, r.demandPath(), "gradient-boosted trees on lags 1/2/3/12, rolling means, season, population, admissions"},
		{training.FamilyMalnutrition, r.childPath(), "MLP classifier (class-weighted: SAM recall matters most)"},
	} {
		start := time.Now()
		res, err := training.Run(ctx, training.Config{
			Family: job.family, Data: job.path, Seed: r.o.Seed, Aliases: []string{"production"},
			Registry: r.c, DataOptions: data.Options{AsOf: demoAsOf},
		})
		if err != nil {
			return fmt.Errorf("train %s: %w", job.family, err)
		}
		v := res.Version
		r.w.line("%s v%d (%s), %.1fs: %s", v.Name, v.Version, job.what, time.Since(start).Seconds(), res.Summary)
		r.w.line("    quality gates passed; data quality: %d rows loaded of %d read; files: %s; alias production → v%d", res.Quality.Rows.Loaded, res.Quality.Rows.Read, fileList(v), v.Version)
	}
	return nil
}

func fileList(v *registry.Version) string {
	s := ""
	for i, a := range v.Artifacts {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s (%s)", a.Path, size(a.Size))
	}
	return s
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// serve waits until serving has loaded both production versions.
func (r *run) serve(ctx context.Context) error {
	r.w.title("3. Serving (follows the production alias; no restart, no config)")
	deadline := time.Now().Add(20 * time.Second)
	for _, name := range []string{training.FamilyDemand, training.FamilyMalnutrition} {
		for !r.p.Serving.ModelReady(name, "") {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s was not served within 20s: %+v", name, r.p.Serving.Status())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	for _, st := range r.p.Serving.Status() {
		r.w.line("%s v%d loaded on the %s engine (OIP REST /v2, OIP gRPC, MLflow /invocations)", st.Model, st.Version, st.Engine)
	}
	return nil
}

// registryView shows the registry through MLflow's API and the audit log.
func (r *run) registryView(ctx context.Context) error {
	r.w.title("5. The registry, as MLflow clients and auditors see it")
	u := "http://" + r.http + "/api/2.0/mlflow/registered-models/search?" + url.Values{"max_results": {"10"}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		RegisteredModels []struct {
			Name    string `json:"name"`
			Aliases []struct {
				Alias   string `json:"alias"`
				Version string `json:"version"`
			} `json:"aliases"`
		} `json:"registered_models"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("MLflow search: %w", err)
	}
	for _, m := range out.RegisteredModels {
		for _, a := range m.Aliases {
			r.w.line("MLflow REST: %s@%s → version %s (mlflow.set_tracking_uri(\"http://%s\"))", m.Name, a.Alias, a.Version, r.http)
		}
	}
	evs, _, err := r.c.Audit(ctx, registry.AuditQuery{Limit: 6})
	if err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		ver := ""
		if e.Version > 0 {
			ver = fmt.Sprintf(" v%d", e.Version)
		}
		detail := ""
		if a := e.Details["alias"]; a != "" {
			detail = fmt.Sprintf(" %s→v%s", a, e.Details["version"])
		}
		r.w.line("audit %s  %-15s %s%s%s by %s", e.Time.Format("15:04:05.000"), e.Action, e.Model, ver, detail, e.Actor)
	}
	return nil
}
