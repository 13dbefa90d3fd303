package features

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// Columns of a demand Frame that BuildDemand reads. District, month and
// consumption are required; a missing optional column gives NaN features.
const (
	ColDistrict    = "district_id" // string or number
	ColRegion      = "region"      // string
	ColMonth       = "month"       // dataset.Month
	ColPopulation  = "population"
	ColAdmissions  = "admissions"
	ColConsumption = "consumption" // the target; NaN when not reported
	ColStockout    = "stockout"    // bool: the month's consumption is censored
	ColFlood       = "flood"
	ColDisplaced   = "displaced"
)

// Names of the demand features, in matrix order. DemandSpec.Names appends
// the district attributes (DemandOptions.Static) after them.
const (
	ConsumptionLag1   = "consumption_lag1"   // consumption 1 month before
	ConsumptionLag2   = "consumption_lag2"   // 2 months before
	ConsumptionLag3   = "consumption_lag3"   // 3 months before
	ConsumptionLag12  = "consumption_lag12"  // 12 months before (same month last year)
	ConsumptionMean3  = "consumption_mean3"  // mean of the reported values 1–3 months before
	ConsumptionMean12 = "consumption_mean12" // mean of the reported values 1–12 months before
	StockoutLag1      = "stockout_lag1"      // 1 if last month was a stock-out (its consumption is censored)
	MonthOfYear       = "month_of_year"      // 1–12, the month being forecast
	MonthSin          = "month_sin"          // sin(2π(month_of_year−1)/12)
	MonthCos          = "month_cos"          // cos(2π(month_of_year−1)/12)
	LeanSeason        = "lean_season"        // 1 in a lean-season month
	Population        = "population"         // the district's population estimate for the month
	AdmissionsLag1    = "admissions_lag1"    // admissions last month
	DisplacedLag1     = "displaced_lag1"     // displaced people last month
	FloodLag1         = "flood_lag1"         // 1 if last month had a flood
	RegionCode        = "region_code"        // index of the region in DemandSpec.Regions
)

var demandNames = []string{
	ConsumptionLag1, ConsumptionLag2, ConsumptionLag3, ConsumptionLag12,
	ConsumptionMean3, ConsumptionMean12, StockoutLag1,
	MonthOfYear, MonthSin, MonthCos, LeanSeason,
	Population, AdmissionsLag1, DisplacedLag1, FloodLag1, RegionCode,
}

// DefaultLeanMonths are the lean-season months (June to September, the
// Sahel's hunger gap) used when DemandOptions.LeanMonths is nil.
var DefaultLeanMonths = []int{6, 7, 8, 9}

// Errors of the feature builders (wrapped).
var (
	// ErrColumn: a required column is missing or has the wrong type.
	ErrColumn = errors.New("features: bad column")
	// ErrDuplicate: two demand rows for the same district and month.
	ErrDuplicate = errors.New("features: duplicate row")
	// ErrMissing: a value needed to build a feature vector is missing.
	ErrMissing = errors.New("features: missing value")
)

// DemandOptions tune BuildDemand. The zero value works.
type DemandOptions struct {
	// LeanMonths are the months of the year (1–12) flagged lean_season;
	// nil: DefaultLeanMonths.
	LeanMonths []int
	// Regions fixes the region codes: region_code is the index of the row's
	// region in this list, NaN for a region not in it. Nil: the regions of
	// the frame, sorted. Pass the training spec's Regions when building
	// features of new data for a model already trained.
	Regions []string
	// Static names numeric columns of the frame that describe the district
	// (district attributes such as remoteness or the number of health
	// facilities); they are features as they are, under their own names.
	Static []string
}

// DemandSpec says how demand features are made: their names and the
// encodings a serving client must reproduce. It is safe for concurrent use.
type DemandSpec struct {
	// Names are the feature names, in matrix order.
	Names []string
	// Regions are the region names; region_code is an index in it.
	Regions []string
	// LeanMonths are the lean-season months (1–12).
	LeanMonths []int
	// Static are the district attribute columns, the last features.
	Static []string

	regionIndex map[string]int
	lean        [13]bool
}

// NewDemandSpec returns the spec of opts (with opts.Regions nil, no region
// is known and region_code is always NaN).
func NewDemandSpec(opts DemandOptions) *DemandSpec {
	s := &DemandSpec{
		Names:       append(slices.Clone(demandNames), opts.Static...),
		Regions:     slices.Clone(opts.Regions),
		LeanMonths:  slices.Clone(opts.LeanMonths),
		Static:      slices.Clone(opts.Static),
		regionIndex: map[string]int{},
	}
	if s.LeanMonths == nil {
		s.LeanMonths = slices.Clone(DefaultLeanMonths)
	}
	for _, m := range s.LeanMonths {
		if m >= 1 && m <= 12 {
			s.lean[m] = true
		}
	}
	for i, r := range s.Regions {
		s.regionIndex[r] = i
	}
	return s
}

// RegionCode is region_code for a region name (NaN if unknown).
func (s *DemandSpec) RegionCode(region string) float32 {
	if i, ok := s.regionIndex[region]; ok {
		return float32(i)
	}
	return float32(math.NaN())
}

// Metadata returns the model metadata that describes the features:
// "feature_names" (comma-separated) and "region_codes" ("0=north,1=south").
func (s *DemandSpec) Metadata() map[string]string {
	codes := make([]string, len(s.Regions))
	for i, r := range s.Regions {
		codes[i] = strconv.Itoa(i) + "=" + r
	}
	return map[string]string{
		"feature_names": strings.Join(s.Names, ","),
		"region_codes":  strings.Join(codes, ","),
	}
}

// DemandInput is what is known when forecasting one district's consumption
// for one month: the raw record a forecasting client holds. Use NaN for an
// unknown number.
type DemandInput struct {
	// Month is the month forecast, as a dataset.Month (year*12 + month−1).
	Month int
	// Region is the district's region.
	Region string
	// Population is the district's population estimate for Month.
	Population float64
	// Consumption[k-1] is the consumption reported k months before Month
	// (k = 1..12), NaN when it was not reported.
	Consumption [12]float64
	// StockoutPrev is 1 if the previous month was a stock-out, 0 if not,
	// NaN if unknown.
	StockoutPrev float64
	// AdmissionsPrev, DisplacedPrev and FloodPrev are the previous month's
	// admissions, displaced people and flood flag (1/0).
	AdmissionsPrev float64
	DisplacedPrev  float64
	FloodPrev      float64
	// Static holds the district attributes, in the order of Spec.Static.
	Static []float64
}

// Vector appends the features of in to dst[:0] and returns it: the row a
// client sends to the exported model, in the order of s.Names.
func (s *DemandSpec) Vector(in *DemandInput, dst []float32) ([]float32, error) {
	if len(in.Static) != len(s.Static) {
		return dst, fmt.Errorf("%w: %d district attributes, the spec has %d (%s)", ErrMissing, len(in.Static), len(s.Static), strings.Join(s.Static, ", "))
	}
	c := &in.Consumption
	moy := ((in.Month%12)+12)%12 + 1
	angle := 2 * math.Pi * float64(moy-1) / 12
	lean := 0.0
	if s.lean[moy] {
		lean = 1
	}
	dst = append(dst[:0],
		float32(c[0]), float32(c[1]), float32(c[2]), float32(c[11]),
		float32(meanFinite(c[:3])), float32(meanFinite(c[:])),
		float32(in.StockoutPrev),
		float32(moy), float32(math.Sin(angle)), float32(math.Cos(angle)), float32(lean),
		float32(in.Population), float32(in.AdmissionsPrev), float32(in.DisplacedPrev), float32(in.FloodPrev),
		s.RegionCode(in.Region),
	)
	for _, v := range in.Static {
		dst = append(dst, float32(v))
	}
	return dst, nil
}

// meanFinite is the mean of the values that are not NaN (NaN if none).
func meanFinite(v []float64) float64 {
	sum, n := 0.0, 0
	for _, x := range v {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Demand is the demand feature matrix of a frame, one row per frame row, in
// the frame's order.
type Demand struct {
	// X holds the features (Spec.Names).
	X *dataset.Matrix
	// Y is the target: the row's consumption, NaN when it was not reported
	// or is censored by a stock-out. Train and evaluate on Labeled rows only.
	Y []float64
	// District and Month identify each row (Month is a dataset.Month).
	District []string
	Month    []int
	// Censored marks stock-out rows (Y is NaN there).
	Censored []bool
	// Spec says how the features were made.
	Spec *DemandSpec
}

// Labeled returns the rows whose target is known, in order.
func (d *Demand) Labeled() []int {
	var rows []int
	for i, y := range d.Y {
		if !math.IsNaN(y) {
			rows = append(rows, i)
		}
	}
	return rows
}

// SplitByMonth splits the labeled rows in time: train holds the months
// before cutoff (a dataset.Month), valid the months from cutoff on.
func (d *Demand) SplitByMonth(cutoff int) (train, valid []int) {
	for i, y := range d.Y {
		if math.IsNaN(y) {
			continue
		}
		if d.Month[i] < cutoff {
			train = append(train, i)
		} else {
			valid = append(valid, i)
		}
	}
	return train, valid
}

// BuildDemand computes the demand features of every row of f.
//
// A row's features use only what was known before its month: the
// consumption lags and rolling means look at months m−1..m−12 of the same
// district (by calendar month, so a missing report gives a NaN lag rather
// than shifting the series), and admissions, displacement, flood and
// stock-out are taken from month m−1. Month m's own values never appear
// among its features. Stock-out months keep their (censored) consumption as
// lags of later months, flagged by stockout_lag1, but their own target is
// NaN.
func BuildDemand(f *dataset.Frame, opts DemandOptions) (*Demand, error) {
	district, err := f.MustCol(ColDistrict)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrColumn, err)
	}
	month, err := numCol(f, ColMonth, true)
	if err != nil {
		return nil, err
	}
	consumption, err := numCol(f, ColConsumption, true)
	if err != nil {
		return nil, err
	}
	var opt [5][]float64 // population, admissions, stockout, flood, displaced
	for k, name := range []string{ColPopulation, ColAdmissions, ColStockout, ColFlood, ColDisplaced} {
		if opt[k], err = numCol(f, name, false); err != nil {
			return nil, err
		}
	}
	population, admissions, stockout, flood, displaced := opt[0], opt[1], opt[2], opt[3], opt[4]
	static := make([][]float64, len(opts.Static))
	for k, name := range opts.Static {
		if static[k], err = numCol(f, name, true); err != nil {
			return nil, err
		}
	}
	region := f.Col(ColRegion)
	if region != nil && region.Type != dataset.String {
		return nil, fmt.Errorf("%w: %q is %s, want string", ErrColumn, ColRegion, region.Type)
	}
	if opts.Regions == nil && region != nil {
		opts.Regions = slices.Clone(region.Dict)
		slices.Sort(opts.Regions)
		opts.Regions = slices.Compact(opts.Regions)
	}
	spec := NewDemandSpec(opts)

	n := f.Len()
	key := make([]float64, n)
	names := make([]string, n)
	for i := range n {
		if district.Missing(i) {
			return nil, fmt.Errorf("%w: row %d has no %s", ErrMissing, i, ColDistrict)
		}
		if math.IsNaN(month[i]) {
			return nil, fmt.Errorf("%w: row %d has no %s", ErrMissing, i, ColMonth)
		}
		if district.Type == dataset.String {
			key[i] = float64(district.Codes[i])
			names[i] = district.Dict[district.Codes[i]]
		} else {
			key[i] = district.Num[i]
			names[i] = strconv.FormatFloat(district.Num[i], 'f', -1, 64)
		}
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(key[a], key[b]); c != 0 {
			return c
		}
		return cmp.Compare(month[a], month[b])
	})

	d := &Demand{
		X:        &dataset.Matrix{Names: spec.Names, Cols: make([][]float32, len(spec.Names)), Rows: n},
		Y:        make([]float64, n),
		District: names,
		Month:    make([]int, n),
		Censored: make([]bool, n),
		Spec:     spec,
	}
	for j := range d.X.Cols {
		d.X.Cols[j] = make([]float32, n)
	}
	at := func(col []float64, i int) float64 {
		if col == nil {
			return math.NaN()
		}
		return col[i]
	}
	var in DemandInput
	in.Static = make([]float64, len(static))
	row := make([]float32, 0, len(spec.Names))
	start := 0
	for p, i32 := range order {
		i := int(i32)
		if p == 0 || key[i] != key[order[p-1]] {
			start = p
		} else if month[i] == month[order[p-1]] {
			return nil, fmt.Errorf("%w: district %s has two rows for month %s", ErrDuplicate, names[i], monthString(int(month[i])))
		}
		m := int(month[i])
		in.Month = m
		in.Region = ""
		if region != nil {
			in.Region = region.String(i)
		}
		in.Population = at(population, i)
		for k := range in.Consumption {
			in.Consumption[k] = math.NaN()
		}
		in.StockoutPrev, in.AdmissionsPrev, in.DisplacedPrev, in.FloodPrev = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		for q := p - 1; q >= start; q-- {
			j := int(order[q])
			lag := m - int(month[j])
			if lag > 12 {
				break
			}
			in.Consumption[lag-1] = consumption[j]
			if lag == 1 {
				in.StockoutPrev = at(stockout, j)
				in.AdmissionsPrev = at(admissions, j)
				in.DisplacedPrev = at(displaced, j)
				in.FloodPrev = at(flood, j)
			}
		}
		for k, col := range static {
			in.Static[k] = col[i]
		}
		row, _ = spec.Vector(&in, row)
		for j, v := range row {
			d.X.Cols[j][i] = v
		}
		d.Month[i] = m
		d.Censored[i] = at(stockout, i) == 1
		d.Y[i] = consumption[i]
		if d.Censored[i] {
			d.Y[i] = math.NaN()
		}
	}
	return d, nil
}

// numCol returns the values of a numeric column (nil if it is absent and
// not required).
func numCol(f *dataset.Frame, name string, required bool) ([]float64, error) {
	c := f.Col(name)
	if c == nil {
		if required {
			return nil, fmt.Errorf("%w: no column %q", ErrColumn, name)
		}
		return nil, nil
	}
	if !c.Type.Numeric() {
		return nil, fmt.Errorf("%w: %q is %s, want a number", ErrColumn, name, c.Type)
	}
	return c.Num, nil
}

func monthString(m int) string {
	return fmt.Sprintf("%04d-%02d", m/12, m%12+1)
}
