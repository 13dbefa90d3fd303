package eval

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Gates are the thresholds a model must meet to be registered. A nil
// threshold is a gate that is off. The zero Gates checks nothing;
// DefaultGates are the recommended ones. Gates are read from YAML or JSON
// with ParseGates, over the defaults:
//
//	split: test
//	demand:
//	  beat_baseline_by: 0.05   # WAPE at least 5% below the seasonal-naive baseline's
//	  max_wape: 0.4
//	  max_abs_bias: null       # off
//	classification:
//	  recall_class: sam
//	  min_recall: 0.85
type Gates struct {
	// Split is the split the gates are checked on: "" means the report's
	// primary split ("test" when there is one, else "overall").
	Split          string              `json:"split,omitempty"`
	Demand         DemandGates         `json:"demand"`
	Classification ClassificationGates `json:"classification"`
}

// DemandGates apply to regression reports.
type DemandGates struct {
	// BeatBaselineBy x requires the model's WAPE to be strictly below the
	// seasonal-naive baseline's WAPE × (1 − x), on the rows the baseline
	// covers. Default 0: beat the baseline at all.
	BeatBaselineBy *float64 `json:"beat_baseline_by"`
	// MaxWAPE is the largest acceptable WAPE. Default 0.5.
	MaxWAPE *float64 `json:"max_wape"`
	// MaxAbsBias is the largest acceptable |bias|, in either direction: a
	// systematic under-forecast means stock-outs, an over-forecast stock
	// that expires. Default 0.1.
	MaxAbsBias *float64 `json:"max_abs_bias"`
}

// ClassificationGates apply to classification reports.
type ClassificationGates struct {
	// MinMacroF1 is the smallest acceptable macro-F1. Default 0.5.
	MinMacroF1 *float64 `json:"min_macro_f1"`
	// RecallClass names the class whose recall is gated (matched without
	// regard to case). Default "sam": missing a severe acute malnutrition
	// case is the costliest error.
	RecallClass string `json:"recall_class"`
	// MinRecall is the smallest acceptable recall of RecallClass. Default 0.8.
	MinRecall *float64 `json:"min_recall"`
	// MaxBrier is the largest acceptable multi-class Brier score (0..2).
	// Default 0.3; for reference, always predicting the prevalence of an
	// 80/15/5% none/MAM/SAM split scores 0.335.
	MaxBrier *float64 `json:"max_brier"`
}

// DefaultGates returns the recommended gates: beat the seasonal-naive
// baseline, WAPE <= 0.5, |bias| <= 0.1; macro-F1 >= 0.5, SAM recall >= 0.8,
// Brier <= 0.3.
func DefaultGates() Gates {
	return Gates{
		Demand: DemandGates{
			BeatBaselineBy: ptr(0),
			MaxWAPE:        ptr(0.5),
			MaxAbsBias:     ptr(0.1),
		},
		Classification: ClassificationGates{
			MinMacroF1:  ptr(0.5),
			RecallClass: "sam",
			MinRecall:   ptr(0.8),
			MaxBrier:    ptr(0.3),
		},
	}
}

func ptr(f float64) *float64 { return &f }

// ParseGates reads gates from YAML or JSON, starting from DefaultGates: a
// threshold the document leaves out keeps its default, and one set to null
// is turned off. Unknown fields are an error (a misspelt gate must not be
// silently ignored), and so are thresholds out of range.
func ParseGates(data []byte) (Gates, error) {
	g := DefaultGates()
	if err := yaml.UnmarshalStrict(data, &g); err != nil {
		return Gates{}, fmt.Errorf("%w: gates: %v", ErrInvalid, err)
	}
	if err := g.Validate(); err != nil {
		return Gates{}, err
	}
	return g, nil
}

// Validate checks that every threshold that is set is in range.
func (g Gates) Validate() error {
	var errs []error
	check := func(name string, v *float64, lo, hi float64) {
		if v != nil && !(*v >= lo && *v <= hi) {
			errs = append(errs, fmt.Errorf("%s = %v, want a value in [%g, %g]", name, *v, lo, hi))
		}
	}
	check("demand.beat_baseline_by", g.Demand.BeatBaselineBy, 0, 0.99)
	check("demand.max_wape", g.Demand.MaxWAPE, 0, math.MaxFloat64)
	check("demand.max_abs_bias", g.Demand.MaxAbsBias, 0, math.MaxFloat64)
	check("classification.min_macro_f1", g.Classification.MinMacroF1, 0, 1)
	check("classification.min_recall", g.Classification.MinRecall, 0, 1)
	check("classification.max_brier", g.Classification.MaxBrier, 0, 2)
	if g.Classification.MinRecall != nil && g.Classification.RecallClass == "" {
		errs = append(errs, errors.New("classification.min_recall is set but recall_class is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: gates: %v", ErrInvalid, err)
	}
	return nil
}

// Failure is a gate the model did not pass.
type Failure struct {
	// Gate names the gate as in the configuration ("demand.max_wape").
	Gate string `json:"gate"`
	// Metric is the flat metric name the gate reads ("wape", "sam_recall").
	Metric string `json:"metric"`
	// Value is the model's value (null when undefined on the data),
	// Threshold the value it had to reach, Shortfall how far it is from
	// it (null when Value is).
	Value     Metric `json:"value"`
	Threshold Metric `json:"threshold"`
	Shortfall Metric `json:"shortfall"`
	// Message says it in words: "SAM recall 0.62 is below the gate 0.80 by 0.18".
	Message string `json:"message"`
}

func (f Failure) String() string { return f.Message }

// GateResult records a gate check in the report.
type GateResult struct {
	Split    string    `json:"split"`
	Gates    Gates     `json:"gates"`
	Passed   bool      `json:"passed"`
	Failures []Failure `json:"failures"`
}

// Gate checks the report against g (see Check), records the outcome in
// r.Gates, and returns the failures.
func (r *Report) Gate(g Gates) []Failure {
	f := Check(r, g)
	r.Gates = &GateResult{Split: gateSplit(r, g), Gates: g, Passed: len(f) == 0, Failures: f}
	if f == nil {
		r.Gates.Failures = []Failure{}
	}
	return f
}

func gateSplit(r *Report, g Gates) string {
	if g.Split != "" {
		return g.Split
	}
	return r.PrimarySplit
}

// Check returns the gates of g that the report fails, nil if it passes.
// Demand gates apply to regression reports, classification gates to
// classification reports. A gated metric that is undefined on the data
// (no SAM case in the split, every actual 0) fails its gate: a gate that
// cannot be measured has not been passed.
func Check(r *Report, g Gates) []Failure {
	split := gateSplit(r, g)
	var out []Failure
	fail := func(f Failure) { out = append(out, f) }
	missing := func() []Failure {
		return []Failure{{Gate: "split", Value: undefined, Threshold: undefined, Shortfall: undefined,
			Message: fmt.Sprintf("split %q is not in the report (it has %s)", split, strings.Join(r.splitNames(), ", "))}}
	}
	switch {
	case r.Regression != nil:
		s := r.Regression.split(split)
		if s == nil {
			return missing()
		}
		dg := g.Demand
		if x := dg.BeatBaselineBy; x != nil {
			if f, bad := beatBaseline(s, *x); bad {
				fail(f)
			}
		}
		if t := dg.MaxWAPE; t != nil {
			if f, bad := atMost("demand.max_wape", "wape", "WAPE", s.Model.WAPE, *t, ""); bad {
				fail(f)
			}
		}
		if t := dg.MaxAbsBias; t != nil {
			b := s.Model.Bias
			dir := ""
			if b > 0 {
				dir = fmt.Sprintf(" (over-forecasting by %.0f%%)", 100*float64(b))
			} else if b < 0 {
				dir = fmt.Sprintf(" (under-forecasting by %.0f%%)", -100*float64(b))
			}
			if f, bad := atMost("demand.max_abs_bias", "bias", "|bias|", Metric(math.Abs(float64(b))), *t, dir); bad {
				f.Value = b
				fail(f)
			}
		}
	case r.Classification != nil:
		s := r.Classification.split(split)
		if s == nil {
			return missing()
		}
		cg := g.Classification
		if t := cg.MinMacroF1; t != nil {
			if f, bad := atLeast("classification.min_macro_f1", "macro_f1", "macro-F1", s.MacroF1, *t, ""); bad {
				fail(f)
			}
		}
		if t := cg.MinRecall; t != nil {
			name := strings.ToUpper(cg.RecallClass) + " recall"
			metric := key(cg.RecallClass) + "_recall"
			var cm *ClassMetrics
			for i := range s.Classes {
				if strings.EqualFold(s.Classes[i].Class, cg.RecallClass) {
					cm = &s.Classes[i]
				}
			}
			switch {
			case cm == nil:
				fail(Failure{Gate: "classification.min_recall", Metric: metric, Value: undefined, Threshold: Metric(*t), Shortfall: undefined,
					Message: fmt.Sprintf("%s cannot be checked: the model has no class %q", name, cg.RecallClass)})
			default:
				why := ""
				if cm.Support == 0 {
					why = fmt.Sprintf(" (the split has no %s cases)", strings.ToUpper(cg.RecallClass))
				}
				if f, bad := atLeast("classification.min_recall", metric, name, cm.Recall, *t, why); bad {
					fail(f)
				}
			}
		}
		if t := cg.MaxBrier; t != nil {
			why := ""
			if !s.Brier.Defined() {
				why = " (the report has no probabilities)"
			}
			if f, bad := atMost("classification.max_brier", "brier", "Brier score", s.Brier, *t, why); bad {
				fail(f)
			}
		}
	}
	return out
}

func beatBaseline(s *RegressionSplit, x float64) (Failure, bool) {
	model, base := s.comparable().WAPE, s.Baseline.WAPE
	f := Failure{Gate: "demand.beat_baseline_by", Metric: "wape", Value: model, Threshold: undefined, Shortfall: undefined}
	if !base.Defined() || !model.Defined() {
		why := "the seasonal-naive baseline covers no row with a non-zero actual"
		if base.Defined() {
			why = "the model's WAPE is undefined (every actual is 0)"
		}
		f.Message = fmt.Sprintf("the comparison with the seasonal-naive baseline cannot be made: %s", why)
		return f, true
	}
	limit := float64(base) * (1 - x)
	f.Threshold = Metric(limit)
	if float64(model) < limit {
		return f, false
	}
	f.Shortfall = Metric(float64(model) - limit)
	d := digits(float64(model), limit)
	if x == 0 {
		f.Message = fmt.Sprintf("WAPE %s does not beat the seasonal-naive baseline's WAPE %s (worse by %s)",
			num(float64(model), d), num(limit, d), num(float64(f.Shortfall), d))
	} else {
		f.Message = fmt.Sprintf("WAPE %s does not beat the seasonal-naive baseline's WAPE %s by %s%%: the gate is %s, missed by %s",
			num(float64(model), d), num(float64(base), d), strconv.FormatFloat(100*x, 'f', -1, 64), num(limit, d), num(float64(f.Shortfall), d))
	}
	return f, true
}

// atMost fails when v > t (or v is undefined); atLeast when v < t.
func atMost(gate, metric, name string, v Metric, t float64, why string) (Failure, bool) {
	return bound(gate, metric, name, v, t, why, false)
}

func atLeast(gate, metric, name string, v Metric, t float64, why string) (Failure, bool) {
	return bound(gate, metric, name, v, t, why, true)
}

func bound(gate, metric, name string, v Metric, t float64, why string, lower bool) (Failure, bool) {
	f := Failure{Gate: gate, Metric: metric, Value: v, Threshold: Metric(t), Shortfall: undefined}
	if !v.Defined() {
		f.Message = fmt.Sprintf("%s is undefined%s, so the gate %s is not met", name, why, num(t, 2))
		return f, true
	}
	x := float64(v)
	if (lower && x >= t) || (!lower && x <= t) {
		return f, false
	}
	f.Shortfall = Metric(math.Abs(x - t))
	d := digits(x, t)
	word := "above"
	if lower {
		word = "below"
	}
	f.Message = fmt.Sprintf("%s %s is %s the gate %s by %s%s", name, num(x, d), word, num(t, d), num(float64(f.Shortfall), d), why)
	return f, true
}

// digits is the number of decimals (2 to 6) that tells a and b apart.
func digits(a, b float64) int {
	d := 2
	for d < 6 && num(a, d) == num(b, d) {
		d++
	}
	return d
}

func num(x float64, d int) string { return strconv.FormatFloat(x, 'f', d, 64) }
