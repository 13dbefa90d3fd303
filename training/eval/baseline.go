package eval

import (
	"fmt"
	"math"
)

// Series is a monthly panel: one observed value per district and month.
// Months use dataset.Month's encoding (year*12 + month−1, so consecutive
// months differ by 1); a NaN value is not observed.
type Series struct {
	District []string
	Month    []int
	Value    []float64
}

// Source says which rule produced a seasonal-naive forecast.
type Source uint8

// The seasonal-naive rules, in the order they are tried.
const (
	// SourceNone: no rule applied; the forecast is NaN.
	SourceNone Source = iota
	// SourceLag12: the district's value in the same month a year before.
	SourceLag12
	// SourceLag24: the district's value in the same month two years before.
	SourceLag24
	// SourceYearMean: the mean of the district's observed values in the
	// twelve months m−23 … m−12.
	SourceYearMean
)

var sourceNames = [...]string{"none", "lag12", "lag24", "year_mean"}

// String is the source's name: "none", "lag12", "lag24" or "year_mean".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", s)
}

// MarshalText writes the source's name.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// SeasonalNaive forecasts each (district[i], month[i]) from history, the
// way a planner without a model would: the district's value in month
// m−12. When that is missing (not in history, or NaN) it falls back, in
// order, to the value in m−24, then to the mean of the district's observed
// values over m−23 … m−12; if the district has none of those the forecast
// is NaN with SourceNone, and evaluations leave the row out of the
// baseline's metrics (and report the coverage).
//
// No rule looks later than m−12, so the baseline is fair to a model whose
// horizon is up to twelve months. History must hold at most one value per
// district and month; it usually is every actual known, training and
// test periods alike.
func SeasonalNaive(history Series, district []string, month []int) (pred []float64, src []Source, err error) {
	n := len(history.District)
	if len(history.Month) != n || len(history.Value) != n {
		return nil, nil, fmt.Errorf("%w: history has %d districts, %d months, %d values", ErrInvalid, n, len(history.Month), len(history.Value))
	}
	if len(month) != len(district) {
		return nil, nil, fmt.Errorf("%w: %d districts and %d months", ErrInvalid, len(district), len(month))
	}
	ids := make(map[string]uint64)
	key := func(id uint64, m int) uint64 { return id<<32 | uint64(uint32(int32(m))) }
	obs := make(map[uint64]float64, n)
	for i, d := range history.District {
		id, ok := ids[d]
		if !ok {
			id = uint64(len(ids))
			ids[d] = id
		}
		if math.IsNaN(history.Value[i]) {
			continue
		}
		k := key(id, history.Month[i])
		if _, dup := obs[k]; dup {
			return nil, nil, fmt.Errorf("%w: history has two values for district %q in %s", ErrInvalid, d, FormatMonth(history.Month[i]))
		}
		obs[k] = history.Value[i]
	}
	pred = make([]float64, len(district))
	src = make([]Source, len(district))
	for i, d := range district {
		pred[i] = math.NaN()
		m := month[i]
		id, ok := ids[d]
		if !ok {
			continue
		}
		look := func(m int) (float64, bool) {
			v, ok := obs[key(id, m)]
			return v, ok
		}
		if v, ok := look(m - 12); ok {
			pred[i], src[i] = v, SourceLag12
			continue
		}
		if v, ok := look(m - 24); ok {
			pred[i], src[i] = v, SourceLag24
			continue
		}
		var sum float64
		var cnt int
		for mm := m - 23; mm <= m-12; mm++ {
			if v, ok := look(mm); ok {
				sum += v
				cnt++
			}
		}
		if cnt > 0 {
			pred[i], src[i] = sum/float64(cnt), SourceYearMean
		}
	}
	return pred, src, nil
}

// FormatMonth writes a month in dataset.Month's encoding as "YYYY-MM".
func FormatMonth(m int) string {
	y, mo := m/12, m%12
	if mo < 0 {
		y, mo = y-1, mo+12
	}
	return fmt.Sprintf("%04d-%02d", y, mo+1)
}
