package eval

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// DemandData is a demand model's forecasts: one row per district and
// month, with the split each row belongs to.
type DemandData struct {
	District []string
	// Month uses dataset.Month's encoding (year*12 + month−1).
	Month []int
	// Split names each row's split ("train", "valid", "test"); nil puts
	// every row in "overall" only.
	Split []string
	// Actual is the observed value (NaN: not observed, the row is
	// skipped); Pred the model's forecast (NaN is an error).
	Actual []float64
	Pred   []float64
}

// DemandOptions configures EvaluateDemand. The zero value works.
type DemandOptions struct {
	// History is what the seasonal-naive baseline looks back into. Nil
	// uses the evaluated rows' own actuals, which is right when they span
	// the whole period (training rows included).
	History *Series
	// PrimarySplit is the split of the headline metrics; "" means "test"
	// when the data has one, else "overall".
	PrimarySplit string
	// WorstDistricts is how many districts to list, worst first, for the
	// primary split (0: none).
	WorstDistricts int
}

// EvaluateDemand scores a demand model and the seasonal-naive baseline
// (see SeasonalNaive) on every split and overall. The baseline is compared
// with the model on the rows it covers. WorstDistricts ranks districts by
// their share of the split's absolute error: the districts that make up
// most of the WAPE, where errors cost the most stock, rather than small
// districts whose percentage errors are large on few units.
func EvaluateDemand(d DemandData, o DemandOptions) (*Report, error) {
	n := len(d.District)
	if len(d.Month) != n || len(d.Actual) != n || len(d.Pred) != n || (d.Split != nil && len(d.Split) != n) {
		return nil, fmt.Errorf("%w: demand data has %d districts, %d months, %d actuals, %d predictions, %d splits",
			ErrInvalid, n, len(d.Month), len(d.Actual), len(d.Pred), len(d.Split))
	}
	for i, p := range d.Pred {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, fmt.Errorf("%w: prediction for district %q in %s is %v", ErrInvalid, d.District[i], FormatMonth(d.Month[i]), p)
		}
	}
	hist := Series{District: d.District, Month: d.Month, Value: d.Actual}
	if o.History != nil {
		hist = *o.History
	}
	base, src, err := SeasonalNaive(hist, d.District, d.Month)
	if err != nil {
		return nil, fmt.Errorf("seasonal-naive baseline: %w", err)
	}
	names, idx, err := splitIndex(d.Split, n)
	if err != nil {
		return nil, err
	}
	primary, err := choosePrimary(o.PrimarySplit, names)
	if err != nil {
		return nil, err
	}

	type acc struct {
		rows, skipped            int
		model, covered, baseline regAcc
		sources                  [len(sourceNames)]int
	}
	overall := &acc{}
	per := make([]acc, len(names))
	type distAcc struct{ model, baseline regAcc }
	var districts map[string]*distAcc
	if o.WorstDistricts > 0 {
		districts = make(map[string]*distAcc)
	}
	for i := range n {
		accs := []*acc{overall}
		if idx != nil {
			accs = append(accs, &per[idx[i]])
		}
		y := d.Actual[i]
		for _, a := range accs {
			a.rows++
			if math.IsNaN(y) {
				a.skipped++
				continue
			}
			a.model.add(y, d.Pred[i])
			a.sources[src[i]]++
			if src[i] != SourceNone {
				a.covered.add(y, d.Pred[i])
				a.baseline.add(y, base[i])
			}
		}
		if districts != nil && !math.IsNaN(y) && inSplit(primary, names, idx, i) {
			da := districts[d.District[i]]
			if da == nil {
				da = &distAcc{}
				districts[d.District[i]] = da
			}
			da.model.add(y, d.Pred[i])
			if src[i] != SourceNone {
				da.baseline.add(y, base[i])
			}
		}
	}
	result := func(name string, a *acc) RegressionSplit {
		s := RegressionSplit{
			Split: name, Rows: a.rows, Skipped: a.skipped,
			Model:            a.model.metrics(),
			Baseline:         a.baseline.metrics(),
			BaselineCoverage: ratio(float64(a.covered.n), float64(a.model.n)),
			BaselineSources:  make(map[string]int),
		}
		if a.covered.n != a.model.n {
			c := a.covered.metrics()
			s.ModelOnBaselineRows = &c
		}
		for src, c := range a.sources {
			if c > 0 {
				s.BaselineSources[Source(src).String()] = c
			}
		}
		s.WAPEImprovement = undefined
		if mw, bw := s.comparable().WAPE, s.Baseline.WAPE; mw.Defined() && bw.Defined() && bw != 0 {
			s.WAPEImprovement = 1 - mw/bw
		}
		return s
	}
	rep := &RegressionReport{Overall: result(Overall, overall)}
	for j, name := range names {
		rep.Splits = append(rep.Splits, result(name, &per[j]))
	}
	if districts != nil {
		ps := rep.split(primary)
		var absErr float64
		for _, da := range districts {
			absErr += da.model.absErr
		}
		var list []DistrictResult
		for name, da := range districts {
			m := da.model.metrics()
			list = append(list, DistrictResult{
				District: name, Rows: m.N, WAPE: m.WAPE, Bias: m.Bias, MAE: m.MAE,
				AbsError: da.model.absErr, ErrorShare: ratio(da.model.absErr, absErr),
				BaselineWAPE: da.baseline.metrics().WAPE,
			})
		}
		slices.SortFunc(list, func(a, b DistrictResult) int {
			if c := cmp.Compare(b.AbsError, a.AbsError); c != 0 {
				return c
			}
			return cmp.Compare(a.District, b.District)
		})
		ps.WorstDistricts = list[:min(len(list), o.WorstDistricts)]
	}
	return &Report{SchemaVersion: SchemaVersion, Task: TaskRegression, PrimarySplit: primary, Regression: rep}, nil
}

// splitIndex maps each row to the index of its split in names (order of
// first appearance). A nil split gives no names and a nil index.
func splitIndex(split []string, n int) (names []string, idx []int, err error) {
	if split == nil {
		return nil, nil, nil
	}
	pos := make(map[string]int)
	idx = make([]int, n)
	for i, s := range split {
		j, ok := pos[s]
		if !ok {
			if s == Overall || s == "" {
				return nil, nil, fmt.Errorf("%w: split name %q is reserved", ErrInvalid, s)
			}
			j = len(names)
			pos[s] = j
			names = append(names, s)
		}
		idx[i] = j
	}
	return names, idx, nil
}

// choosePrimary resolves the primary split: the one asked for, else
// "test" if present, else "overall".
func choosePrimary(want string, names []string) (string, error) {
	if want == "" {
		if slices.Contains(names, "test") {
			return "test", nil
		}
		return Overall, nil
	}
	if want != Overall && !slices.Contains(names, want) {
		return "", fmt.Errorf("%w: primary split %q is not in the data (splits: %v)", ErrInvalid, want, names)
	}
	return want, nil
}

func inSplit(primary string, names []string, idx []int, i int) bool {
	return primary == Overall || (idx != nil && names[idx[i]] == primary)
}
