package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SchemaVersion is the schema_version of the reports this package writes.
// ReadReport accepts any "lantern.metrics/v1[.minor]": minor versions only
// add fields.
const SchemaVersion = "lantern.metrics/v1"

// Overall is the name of the pseudo-split that holds every row.
const Overall = "overall"

// Task is what a model predicts.
type Task string

// Tasks.
const (
	TaskRegression     Task = "regression"
	TaskClassification Task = "classification"
)

// Report is the evaluation of one trained model: what a training job
// stores as metrics.json next to the model, and flattens with Metrics into
// the registry version's lineage.
type Report struct {
	SchemaVersion string `json:"schema_version"`
	Task          Task   `json:"task"`
	// PrimarySplit is the split the headline metrics (Metrics without a
	// prefix) and, by default, the gates are taken from: "test" when the
	// data has one, else "overall".
	PrimarySplit   string                `json:"primary_split"`
	Regression     *RegressionReport     `json:"regression,omitempty"`
	Classification *ClassificationReport `json:"classification,omitempty"`
	// Gates is the outcome of Gate, when the job ran it.
	Gates *GateResult `json:"gates,omitempty"`
}

// RegressionReport is a demand model's evaluation.
type RegressionReport struct {
	// Overall scores every row; Splits each split, in order of first
	// appearance in the data.
	Overall RegressionSplit   `json:"overall"`
	Splits  []RegressionSplit `json:"splits,omitempty"`
}

// RegressionSplit scores the model and the seasonal-naive baseline on one split.
type RegressionSplit struct {
	Split string `json:"split"`
	// Rows is the number of rows in the split; Skipped of them had no
	// actual value and are not scored.
	Rows    int `json:"rows"`
	Skipped int `json:"skipped"`
	// Model scores the model on every scored row.
	Model RegressionMetrics `json:"model"`
	// Baseline scores the seasonal-naive forecast on the rows it covers.
	Baseline RegressionMetrics `json:"baseline"`
	// ModelOnBaselineRows scores the model on the rows the baseline
	// covers, when that is not all of them: the comparison with the
	// baseline (WAPEImprovement, the gate) is made on these rows.
	ModelOnBaselineRows *RegressionMetrics `json:"model_on_baseline_rows,omitempty"`
	// BaselineCoverage is the fraction of scored rows the baseline covers;
	// BaselineSources counts the rows per rule ("lag12", "lag24",
	// "year_mean", "none").
	BaselineCoverage Metric         `json:"baseline_coverage"`
	BaselineSources  map[string]int `json:"baseline_sources,omitempty"`
	// WAPEImprovement is 1 − model WAPE / baseline WAPE on the same rows:
	// 0.2 means the model's error is 20% below the baseline's; negative
	// means the baseline is better.
	WAPEImprovement Metric `json:"wape_improvement"`
	// WorstDistricts (primary split only, when asked for) are the
	// districts with the largest share of the split's absolute error.
	WorstDistricts []DistrictResult `json:"worst_districts,omitempty"`
}

// comparable returns the model's metrics on the rows the baseline covers.
func (s *RegressionSplit) comparable() RegressionMetrics {
	if s.ModelOnBaselineRows != nil {
		return *s.ModelOnBaselineRows
	}
	return s.Model
}

// DistrictResult is one district's error in a split.
type DistrictResult struct {
	District string `json:"district"`
	Rows     int    `json:"rows"`
	WAPE     Metric `json:"wape"`
	Bias     Metric `json:"bias"`
	MAE      Metric `json:"mae"`
	// AbsError is Σ|y−ŷ|; ErrorShare is its fraction of the split's.
	AbsError   float64 `json:"abs_error"`
	ErrorShare Metric  `json:"error_share"`
	// BaselineWAPE is the seasonal-naive WAPE on the district's covered rows.
	BaselineWAPE Metric `json:"baseline_wape"`
}

// ClassificationReport is a classifier's evaluation.
type ClassificationReport struct {
	Overall ClassificationSplit   `json:"overall"`
	Splits  []ClassificationSplit `json:"splits,omitempty"`
}

// ClassificationSplit scores a classifier on one split.
type ClassificationSplit struct {
	Split string `json:"split"`
	// Rows is the number of rows in the split; Skipped of them had no label.
	Rows    int `json:"rows"`
	Skipped int `json:"skipped"`
	ClassificationMetrics
}

// split returns the named split ("overall" included) or nil.
func (r *RegressionReport) split(name string) *RegressionSplit {
	if name == Overall {
		return &r.Overall
	}
	for i := range r.Splits {
		if r.Splits[i].Split == name {
			return &r.Splits[i]
		}
	}
	return nil
}

func (r *ClassificationReport) split(name string) *ClassificationSplit {
	if name == Overall {
		return &r.Overall
	}
	for i := range r.Splits {
		if r.Splits[i].Split == name {
			return &r.Splits[i]
		}
	}
	return nil
}

// splitNames lists "overall" and the data's splits.
func (r *Report) splitNames() []string {
	names := []string{Overall}
	switch {
	case r.Regression != nil:
		for _, s := range r.Regression.Splits {
			names = append(names, s.Split)
		}
	case r.Classification != nil:
		for _, s := range r.Classification.Splits {
			names = append(names, s.Split)
		}
	}
	return names
}

// Metrics flattens the report into the metric map a registry version keeps
// in its lineage. The primary split's metrics have plain names; every
// split's (overall included) are also there prefixed with the split's name
// ("test_wape", "overall_macro_f1"). Undefined metrics are left out.
//
// Regression: rows, wape, mape, rmse, mae, bias, baseline_wape,
// baseline_mape, baseline_rmse, baseline_mae, baseline_bias,
// baseline_coverage, wape_improvement.
//
// Classification: rows, accuracy, macro_f1, brier, log_loss, and per class
// <class>_precision, <class>_recall, <class>_f1, <class>_support
// (class names lower-cased, other characters than [a-z0-9] as "_").
func (r *Report) Metrics() map[string]float64 {
	out := make(map[string]float64)
	for _, name := range r.splitNames() {
		flat := r.splitMetrics(name)
		for k, v := range flat {
			out[key(name)+"_"+k] = v
			if name == r.PrimarySplit {
				out[k] = v
			}
		}
	}
	return out
}

func (r *Report) splitMetrics(name string) map[string]float64 {
	m := make(map[string]float64)
	put := func(k string, v Metric) {
		if v.Defined() {
			m[k] = float64(v)
		}
	}
	reg := func(prefix string, x RegressionMetrics) {
		put(prefix+"wape", x.WAPE)
		put(prefix+"mape", x.MAPE)
		put(prefix+"rmse", x.RMSE)
		put(prefix+"mae", x.MAE)
		put(prefix+"bias", x.Bias)
	}
	switch {
	case r.Regression != nil:
		s := r.Regression.split(name)
		if s == nil {
			return nil
		}
		m["rows"] = float64(s.Model.N)
		reg("", s.Model)
		reg("baseline_", s.Baseline)
		put("baseline_coverage", s.BaselineCoverage)
		put("wape_improvement", s.WAPEImprovement)
	case r.Classification != nil:
		s := r.Classification.split(name)
		if s == nil {
			return nil
		}
		m["rows"] = float64(s.N)
		put("accuracy", s.Accuracy)
		put("macro_f1", s.MacroF1)
		put("brier", s.Brier)
		put("log_loss", s.LogLoss)
		for _, c := range s.Classes {
			k := key(c.Class)
			put(k+"_precision", c.Precision)
			put(k+"_recall", c.Recall)
			put(k+"_f1", c.F1)
			m[k+"_support"] = float64(c.Support)
		}
	}
	return m
}

// key lower-cases s and replaces anything but [a-z0-9] with "_".
func key(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
}

// WriteJSON writes the report as indented JSON (metrics.json).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON. It refuses a report of
// another major schema version; fields it does not know (from a newer
// minor version) are ignored.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("read metrics report: %w", err)
	}
	if r.SchemaVersion != SchemaVersion && !strings.HasPrefix(r.SchemaVersion, SchemaVersion+".") {
		return nil, fmt.Errorf("%w: metrics report schema %q, this build reads %s", ErrInvalid, r.SchemaVersion, SchemaVersion)
	}
	if (r.Regression == nil) == (r.Classification == nil) {
		return nil, fmt.Errorf("%w: metrics report must have exactly one of regression and classification", ErrInvalid)
	}
	return &r, nil
}
