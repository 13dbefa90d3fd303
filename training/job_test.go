package training

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/eval"
	"github.com/lantern-mlops/lantern/training/synth"
)

// asOf fixes "now" for timeliness, so the synthetic months are not judged
// by the wall clock.
var asOf = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

func writeDemand(t *testing.T, cfg synth.DemandConfig) string {
	t.Helper()
	f, _, err := synth.DemandFrame(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "demand.csv")
	if err := data.WriteFrame(context.Background(), path, f, data.Options{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeMalnutrition(t *testing.T, cfg synth.MalnutritionConfig) string {
	t.Helper()
	f, _, err := synth.MalnutritionFrame(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "children.parquet")
	if err := data.WriteFrame(context.Background(), path, f, data.Options{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDemandJob(t *testing.T) {
	path := writeDemand(t, synth.DemandConfig{Seed: 1, Districts: 30, Months: 60})
	var stages []string
	res, err := Run(context.Background(), Config{
		Family: FamilyDemand, Data: path, Seed: 1, DataOptions: data.Options{AsOf: asOf},
		Progress: func(stage, detail string) { stages = append(stages, stage+": "+detail) },
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(stages, "\n"))
	}
	m := res.Metrics.Metrics()
	if m["wape"] >= m["baseline_wape"] || m["wape"] > 0.3 {
		t.Fatalf("model WAPE %.3f, baseline %.3f", m["wape"], m["baseline_wape"])
	}
	for _, f := range []string{"model.onnx", "profile.json", "metrics.json", "data_quality.json", "MLmodel"} {
		if len(res.Files[f]) == 0 {
			t.Errorf("no %s", f)
		}
	}
	t.Log(res.Summary)
	// Same seed, same model bytes.
	again, err := Run(context.Background(), Config{Family: FamilyDemand, Data: path, Seed: 1, DataOptions: data.Options{AsOf: asOf}})
	if err != nil || string(again.Files["model.onnx"]) != string(res.Files["model.onnx"]) {
		t.Fatalf("not deterministic: %v", err)
	}
}

func TestMalnutritionJob(t *testing.T) {
	path := writeMalnutrition(t, synth.MalnutritionConfig{Seed: 2, Records: 8000})
	for _, trainer := range []string{"mlp", "logistic"} {
		t.Run(trainer, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Family: FamilyMalnutrition, Data: path, Seed: 2, Trainer: trainer, DataOptions: data.Options{AsOf: asOf}})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Metrics.Metrics()
			if m["sam_recall"] < 0.8 || m["macro_f1"] < 0.6 {
				t.Fatalf("%s", res.Summary)
			}
			t.Log(res.Summary)
		})
	}
}

func TestGateFailure(t *testing.T) {
	path := writeMalnutrition(t, synth.MalnutritionConfig{Seed: 3, Records: 4000})
	g := eval.DefaultGates()
	strict := 0.999
	g.Classification.MinRecall = &strict
	res, err := Run(context.Background(), Config{Family: FamilyMalnutrition, Data: path, Seed: 3, Gates: &g, DataOptions: data.Options{AsOf: asOf}})
	if !errors.Is(err, ErrGate) || len(res.Failures) == 0 || !strings.Contains(err.Error(), "SAM recall") {
		t.Fatalf("got %v", err)
	}
}

func TestBadData(t *testing.T) {
	path := writeDemand(t, synth.DemandConfig{Seed: 4, Districts: 10, Months: 40, Defects: synth.Defects{synth.Duplicate: 0.1}})
	_, err := Run(context.Background(), Config{Family: FamilyDemand, Data: path, DataOptions: data.Options{AsOf: asOf}})
	if !errors.Is(err, ErrDataQuality) {
		t.Fatalf("10%% duplicates accepted: %v", err)
	}
	if _, err := Run(context.Background(), Config{Family: "weather", Data: path}); err == nil || !strings.Contains(err.Error(), "unknown model family") {
		t.Fatalf("unknown family: %v", err)
	}
}
