package eval

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// classReport is a one-split classification report with the given SAM
// recall (tp of 50 SAM cases), macro-F1 and Brier score.
func classReport(samTP int, macroF1, brier Metric) *Report {
	return &Report{
		SchemaVersion: SchemaVersion, Task: TaskClassification, PrimarySplit: "test",
		Classification: &ClassificationReport{Splits: []ClassificationSplit{{
			Split: "test",
			ClassificationMetrics: ClassificationMetrics{
				N: 500, MacroF1: macroF1, Brier: brier,
				Classes: []ClassMetrics{
					{Class: "none", Support: 400, Recall: 0.9},
					{Class: "mam", Support: 50, Recall: 0.5},
					{Class: "SAM", Support: 50, Recall: ratio(float64(samTP), 50)},
				},
			},
		}}},
	}
}

// demandReport is a one-split regression report.
func demandReport(wape, baseWAPE, bias Metric) *Report {
	return &Report{
		SchemaVersion: SchemaVersion, Task: TaskRegression, PrimarySplit: "test",
		Regression: &RegressionReport{Splits: []RegressionSplit{{
			Split:    "test",
			Model:    RegressionMetrics{N: 100, WAPE: wape, Bias: bias},
			Baseline: RegressionMetrics{N: 100, WAPE: baseWAPE},
		}}},
	}
}

func messages(f []Failure) []string {
	var out []string
	for _, x := range f {
		out = append(out, x.Message)
	}
	return out
}

func TestCheckMessages(t *testing.T) {
	g := DefaultGates()
	cases := []struct {
		name   string
		report *Report
		gates  Gates
		want   []string
	}{
		{"classifier passes", classReport(45, 0.7, 0.2), g, nil},
		{"sam recall", classReport(31, 0.7, 0.2), g, []string{"SAM recall 0.62 is below the gate 0.80 by 0.18"}},
		{"all classification gates", classReport(31, 0.45, 0.34), g, []string{
			"macro-F1 0.45 is below the gate 0.50 by 0.05",
			"SAM recall 0.62 is below the gate 0.80 by 0.18",
			"Brier score 0.34 is above the gate 0.30 by 0.04",
		}},
		{"no probabilities", classReport(45, 0.7, undefined), g, []string{
			"Brier score is undefined (the report has no probabilities), so the gate 0.30 is not met",
		}},
		{"recall class missing", classReport(45, 0.7, 0.2), Gates{Classification: ClassificationGates{RecallClass: "severe", MinRecall: ptr(0.8)}},
			[]string{`SEVERE recall cannot be checked: the model has no class "severe"`}},
		{"demand passes", demandReport(0.25, 0.3, 0.02), g, nil},
		{"demand loses to baseline", demandReport(0.33, 0.3, -0.02), g, []string{
			"WAPE 0.33 does not beat the seasonal-naive baseline's WAPE 0.30 (worse by 0.03)",
		}},
		{"demand beat by 10%", demandReport(0.28, 0.3, 0.02), Gates{Demand: DemandGates{BeatBaselineBy: ptr(0.1)}}, []string{
			"WAPE 0.28 does not beat the seasonal-naive baseline's WAPE 0.30 by 10%: the gate is 0.27, missed by 0.01",
		}},
		{"wape and bias", demandReport(0.6, 0.7, -0.14), g, []string{
			"WAPE 0.60 is above the gate 0.50 by 0.10",
			"|bias| 0.14 is above the gate 0.10 by 0.04 (under-forecasting by 14%)",
		}},
		{"close call gets more digits", demandReport(0.401, 0.7, 0), Gates{Demand: DemandGates{MaxWAPE: ptr(0.4)}}, []string{
			"WAPE 0.401 is above the gate 0.400 by 0.001",
		}},
		{"no baseline", demandReport(0.2, undefined, 0), g, []string{
			"the comparison with the seasonal-naive baseline cannot be made: the seasonal-naive baseline covers no row with a non-zero actual",
		}},
		{"missing split", classReport(45, 0.7, 0.2), Gates{Split: "holdout", Classification: g.Classification}, []string{
			`split "holdout" is not in the report (it has overall, test)`,
		}},
		{"zero gates check nothing", classReport(0, 0, 2), Gates{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := messages(Check(c.report, c.gates))
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

func TestFailureFields(t *testing.T) {
	f := Check(classReport(31, 0.7, 0.2), DefaultGates())
	if len(f) != 1 {
		t.Fatalf("failures %v", f)
	}
	x := f[0]
	if x.Gate != "classification.min_recall" || x.Metric != "sam_recall" || !near(x.Value, 0.62) || !near(x.Threshold, 0.8) || !near(x.Shortfall, 0.18) {
		t.Errorf("failure %+v", x)
	}
	// The SAM class with no cases in the split fails its gate.
	r := classReport(0, 0.7, 0.2)
	r.Classification.Splits[0].Classes[2] = ClassMetrics{Class: "SAM", Recall: undefined}
	f = Check(r, DefaultGates())
	if len(f) != 1 || f[0].Message != "SAM recall is undefined (the split has no SAM cases), so the gate 0.80 is not met" {
		t.Errorf("no SAM cases: %v", messages(f))
	}
	if _, err := json.Marshal(f); err != nil {
		t.Errorf("failures must encode as JSON: %v", err)
	}
	// Gate records the outcome.
	r = classReport(31, 0.7, 0.2)
	r.Gate(DefaultGates())
	if r.Gates == nil || r.Gates.Passed || r.Gates.Split != "test" || len(r.Gates.Failures) != 1 {
		t.Errorf("gate result %+v", r.Gates)
	}
}

func TestParseGates(t *testing.T) {
	g, err := ParseGates([]byte(`
split: valid
demand:
  beat_baseline_by: 0.05
  max_abs_bias: null
classification:
  min_recall: 0.9
`))
	if err != nil {
		t.Fatal(err)
	}
	if g.Split != "valid" || *g.Demand.BeatBaselineBy != 0.05 || g.Demand.MaxAbsBias != nil || *g.Demand.MaxWAPE != 0.5 ||
		*g.Classification.MinRecall != 0.9 || g.Classification.RecallClass != "sam" || *g.Classification.MaxBrier != 0.3 {
		t.Errorf("parsed %+v", g)
	}
	// JSON is YAML too.
	if g, err := ParseGates([]byte(`{"classification":{"max_brier":0.25}}`)); err != nil || *g.Classification.MaxBrier != 0.25 {
		t.Errorf("json: %+v %v", g, err)
	}
	for name, doc := range map[string]string{
		"unknown field": "demand:\n  max_wap: 0.3\n",
		"out of range":  "classification:\n  min_recall: 1.5\n",
		"negative":      "demand:\n  max_wape: -1\n",
		"no class":      "classification:\n  recall_class: \"\"\n",
	} {
		if _, err := ParseGates([]byte(doc)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Defaults survive a YAML round trip, disabled gates as null.
	d := DefaultGates()
	d.Demand.MaxAbsBias = nil
	b, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "max_abs_bias: null") {
		t.Errorf("disabled gate not written as null:\n%s", b)
	}
	back, err := ParseGates(b)
	if err != nil || back.Demand.MaxAbsBias != nil || *back.Demand.MaxWAPE != 0.5 {
		t.Errorf("round trip: %+v %v", back, err)
	}
}
