package profile

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/lantern-mlops/lantern/internal/sketch"
)

// numAcc accumulates one numeric value's profile.
type numAcc struct {
	name              string
	missing, infinite int64
	n                 int64
	mean, m2          float64 // Welford, for the variance
	sum, comp         float64 // Neumaier-compensated sum, for the mean
	sk                *sketch.Sketch
	few               fewValues
}

// maxExactValues is how many distinct values a numeric feature may have
// for its bins, counts and quantiles to be computed exactly.
const maxExactValues = 32

// fewValues counts the distinct values of a discrete feature exactly, and
// gives up (for good) at the maxExactValues+1st distinct value.
type fewValues struct {
	vals []float64
	cnts []int64
	last int // index of the last value seen: runs are common
	over bool
}

func (f *fewValues) add(x float64, n int64) {
	if f.over {
		return
	}
	if f.last < len(f.vals) && f.vals[f.last] == x {
		f.cnts[f.last] += n
		return
	}
	for i, v := range f.vals {
		if v == x {
			f.cnts[i] += n
			f.last = i
			return
		}
	}
	if len(f.vals) == maxExactValues {
		f.over, f.vals, f.cnts = true, nil, nil
		return
	}
	f.vals = append(f.vals, x)
	f.cnts = append(f.cnts, n)
	f.last = len(f.vals) - 1
}

// distribution is what binning reads: a sketch, or exact counts.
type distribution interface {
	Count() uint64
	Min() float64
	Max() float64
	Quantile(q float64) float64
	CountLE(x float64) uint64
}

// exactDist is the exact distribution of a few distinct values.
type exactDist struct {
	vals []float64 // sorted
	cum  []uint64  // cum[i]: values <= vals[i]
}

func newExactDist(f *fewValues) *exactDist {
	idx := make([]int, len(f.vals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(f.vals[a], f.vals[b]) })
	d := &exactDist{}
	var c uint64
	for _, i := range idx {
		c += uint64(f.cnts[i])
		d.vals = append(d.vals, f.vals[i])
		d.cum = append(d.cum, c)
	}
	return d
}

func (d *exactDist) Count() uint64 { return d.cum[len(d.cum)-1] }
func (d *exactDist) Min() float64  { return d.vals[0] }
func (d *exactDist) Max() float64  { return d.vals[len(d.vals)-1] }

func (d *exactDist) Quantile(q float64) float64 {
	target := q * float64(d.Count())
	for i, c := range d.cum {
		if float64(c) >= target {
			return d.vals[i]
		}
	}
	return d.Max()
}

func (d *exactDist) CountLE(x float64) uint64 {
	var c uint64
	for i, v := range d.vals {
		if v > x {
			break
		}
		c = d.cum[i]
	}
	return c
}

func newNumAcc(name string, o *Options) *numAcc {
	return &numAcc{name: name, sk: sketch.New(o.SketchK, o.Seed)}
}

func (a *numAcc) add(x float64) {
	if x-x != 0 { // NaN or ±Inf
		if x != x {
			a.missing++
		} else {
			a.infinite++
		}
		return
	}
	a.n++
	d := x - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (x - a.mean)
	a.addSum(x)
	a.sk.Add(x)
	if !a.few.over {
		a.few.add(x+0, 1) // +0: -0 counts as 0
	}
}

func (a *numAcc) addSum(x float64) {
	t := a.sum + x
	if math.Abs(a.sum) >= math.Abs(x) {
		a.comp += (a.sum - t) + x
	} else {
		a.comp += (x - t) + a.sum
	}
	a.sum = t
}

// merge adds o's values (Chan et al.'s parallel variance update).
func (a *numAcc) merge(o *numAcc) {
	a.missing += o.missing
	a.infinite += o.infinite
	if o.n > 0 {
		n := a.n + o.n
		d := o.mean - a.mean
		a.mean += d * float64(o.n) / float64(n)
		a.m2 += o.m2 + d*d*float64(a.n)*float64(o.n)/float64(n)
		a.n = n
		a.addSum(o.sum)
		a.addSum(o.comp)
	}
	_ = a.sk.Merge(o.sk) // same K: the builders' options are equal
	if o.few.over {
		a.few.over, a.few.vals, a.few.cnts = true, nil, nil
	}
	for i, v := range o.few.vals {
		a.few.add(v, o.few.cnts[i])
	}
}

// dist is the distribution to bin: exact for a discrete feature or one
// the sketch still holds whole, the sketch otherwise.
func (a *numAcc) dist() (distribution, bool) {
	if !a.few.over && len(a.few.vals) > 0 {
		return newExactDist(&a.few), true
	}
	return a.sk, a.sk.Exact()
}

// summary renders the profile: bins from the sketch at i/bins, counts from
// its CDF at the edges, and (quantiles > 1) the quantile function.
func (a *numAcc) summary(o *Options, quantiles int, withSketch bool) Numeric {
	rows := a.n + a.missing + a.infinite
	out := Numeric{Name: a.name, Count: a.n, Missing: a.missing, Infinite: a.infinite, Edges: []float64{}}
	if rows > 0 {
		out.MissingRate = float64(a.missing) / float64(rows)
	}
	if a.n == 0 {
		out.Counts = []int64{0}
		return out
	}
	out.Mean = (a.sum + a.comp) / float64(a.n)
	if a.n > 1 {
		out.Std = math.Sqrt(a.m2 / float64(a.n-1))
	}
	d, exact := a.dist()
	out.Exact = exact
	out.Min, out.Max = d.Min(), d.Max()
	out.Edges = binEdges(d, o.Bins)
	out.Counts = binCounts(d, out.Edges)
	if quantiles > 1 {
		out.Quantiles = make([]float64, quantiles)
		for i := range out.Quantiles {
			out.Quantiles[i] = d.Quantile(float64(i) / float64(quantiles-1))
		}
	}
	if withSketch {
		out.Sketch, _ = a.sk.MarshalBinary()
	}
	return out
}

// binEdges returns the inner edges of at most bins quantile bins: the
// sketch's quantiles at 1/bins … (bins−1)/bins, deduplicated, without
// those at or above the maximum (which would leave the last bin empty).
// A feature with a single value gets that value as its only edge, so a
// live value above it lands in a bin of its own.
func binEdges(sk distribution, bins int) []float64 {
	mx := sk.Max()
	edges := make([]float64, 0, bins-1)
	for i := 1; i < bins; i++ {
		e := sk.Quantile(float64(i) / float64(bins))
		if e >= mx {
			break
		}
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	if len(edges) == 0 {
		edges = append(edges, mx)
	}
	return edges
}

// binCounts counts values per bin, (−∞, e0], (e0, e1], …, (e_last, +∞),
// from the sketch's estimated number of values <= each edge.
func binCounts(sk distribution, edges []float64) []int64 {
	counts := make([]int64, len(edges)+1)
	var prev uint64
	for i, e := range edges {
		le := sk.CountLE(e)
		counts[i] = int64(le - prev)
		prev = le
	}
	counts[len(edges)] = int64(sk.Count() - prev)
	return counts
}

// catAcc accumulates one categorical value's frequencies.
type catAcc struct {
	name      string
	missing   int64
	n         int64
	counts    map[string]int64
	untracked int64 // values of categories past the tracking limit
	limit     int
	// fixed, for class labels: the classes, listed in order, all of them.
	fixed []string
}

func newCatAcc(name string, o *Options) *catAcc {
	return &catAcc{name: name, counts: make(map[string]int64), limit: o.TrackCategories}
}

func newLabelAcc(name string, classes []string) *catAcc {
	a := &catAcc{name: name, counts: make(map[string]int64, len(classes)), limit: len(classes), fixed: classes}
	for _, c := range classes {
		a.counts[c] = 0
	}
	return a
}

// addN counts n values of category v ("" is missing).
func (a *catAcc) addN(v string, n int64) {
	if v == "" {
		a.missing += n
		return
	}
	a.n += n
	if c, ok := a.counts[v]; ok {
		a.counts[v] = c + n
		return
	}
	if len(a.counts) >= a.limit {
		a.untracked += n
		return
	}
	a.counts[v] = n
}

func (a *catAcc) merge(o *catAcc) {
	a.missing += o.missing
	a.untracked += o.untracked
	// Categories in map order would make truncation depend on it: add
	// them in a fixed order.
	keys := make([]string, 0, len(o.counts))
	for k := range o.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if c := o.counts[k]; c > 0 {
			a.addN(k, c)
		}
	}
}

func (a *catAcc) summary(maxCategories int) Categorical {
	rows := a.n + a.missing
	out := Categorical{Name: a.name, Count: a.n, Missing: a.missing, Distinct: int64(len(a.counts)), Truncated: a.untracked > 0}
	if rows > 0 {
		out.MissingRate = float64(a.missing) / float64(rows)
	}
	freq := func(c int64) float64 {
		if a.n == 0 {
			return 0
		}
		return float64(c) / float64(a.n)
	}
	if a.fixed != nil {
		out.Categories = make([]Category, len(a.fixed))
		for i, c := range a.fixed {
			out.Categories[i] = Category{Value: c, Count: a.counts[c], Frequency: freq(a.counts[c])}
		}
		return out
	}
	all := make([]Category, 0, len(a.counts))
	for v, c := range a.counts {
		all = append(all, Category{Value: v, Count: c})
	}
	slices.SortFunc(all, func(x, y Category) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return cmp.Compare(x.Value, y.Value)
	})
	k := min(len(all), maxCategories)
	out.Categories = all[:k:k]
	for i := range out.Categories {
		out.Categories[i].Frequency = freq(out.Categories[i].Count)
	}
	out.Other.Count = a.untracked
	for _, c := range all[k:] {
		out.Other.Count += c.Count
	}
	out.Other.Categories = int64(len(all) - k)
	out.Other.Frequency = freq(out.Other.Count)
	return out
}

// timeAcc tracks the range of the time column.
type timeAcc struct {
	min, max float64
	n        int64
	missing  int64
}

func (a *timeAcc) add(t float64) {
	if t != t {
		a.missing++
		return
	}
	if a.n == 0 || t < a.min {
		a.min = t
	}
	if a.n == 0 || t > a.max {
		a.max = t
	}
	a.n++
}

func (a *timeAcc) merge(o *timeAcc) {
	a.missing += o.missing
	if o.n == 0 {
		return
	}
	if a.n == 0 || o.min < a.min {
		a.min = o.min
	}
	if a.n == 0 || o.max > a.max {
		a.max = o.max
	}
	a.n += o.n
}

// Month and Date encodings of package dataset.

func formatMonth(m int) string {
	y, mo := m/12, m%12
	if mo < 0 {
		y, mo = y-1, mo+12
	}
	return fmt.Sprintf("%04d-%02d", y, mo+1)
}

func parseMonth(s string) (int, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return 0, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return t.Year()*12 + int(t.Month()) - 1, nil
}

func formatDate(d int) string {
	return time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02")
}

func parseDate(s string) (int, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return int(t.Unix() / 86400), nil
}

// monthOfYear is 1..12 for a time value, 0 if missing.
func monthOfYear(t float64, isDate bool) int {
	if t != t || math.IsInf(t, 0) {
		return 0
	}
	if isDate {
		return int(time.Unix(int64(t)*86400, 0).UTC().Month())
	}
	m := int(t) % 12
	if m < 0 {
		m += 12
	}
	return m + 1
}

// formatNumber writes a numeric category value ("3", "2.5").
func formatNumber(x float64) string {
	return strconv.FormatFloat(x, 'g', -1, 64)
}
