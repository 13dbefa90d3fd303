package sketch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// DefaultK is the accuracy parameter used by New(0, seed) and by the zero
// Sketch: about 1.3% rank error (99% confidence) in at most a few hundred
// retained values.
const DefaultK = 200

// MinK and MaxK bound the accuracy parameter.
const (
	MinK = 8
	MaxK = 1 << 16
)

// minLevelCap is KLL's m: no level's capacity is below it, so compactions
// stay cheap however many levels the sketch has.
const minLevelCap = 8

// ErrIncompatible is returned by Merge for sketches of different K.
var ErrIncompatible = errors.New("sketch: incompatible sketches")

// ErrCorrupt is returned when decoding bytes or JSON that are not a valid sketch.
var ErrCorrupt = errors.New("sketch: corrupt encoding")

// Sketch is a KLL quantile sketch. The zero value is an empty sketch with
// K = DefaultK and seed 0, ready to use. A Sketch must not be copied after
// first use (copies share storage); use Clone.
type Sketch struct {
	k    int
	seed uint64
	rng  uint64 // splitmix64 state: advances once per compaction

	n        uint64
	min, max float64
	// levels[h] holds the values kept at level h, each standing for 2^h
	// input values. Level 0 is unsorted; higher levels are sorted.
	levels   [][]float64
	caps     []int // caps[h]: capacity of level h given len(levels)
	size     int   // values retained, the sum of len(levels[h])
	capacity int   // the sum of caps: Add compacts when size reaches it

	scratch []float64

	// Sorted view for queries, rebuilt after the sketch changes.
	viewOK bool
	vItems []float64
	vCum   []uint64 // vCum[i]: total weight of vItems[:i+1]
	vTmp   []weighted
}

type weighted struct {
	v float64
	w uint64
}

// New returns an empty sketch. k (MinK..MaxK; 0 means DefaultK) trades size
// for accuracy: the rank error is about 2.3/k^0.97 (see NormalizedRankError)
// and a sketch keeps about 3k values (8 bytes each) at most. seed makes the
// sketch deterministic.
func New(k int, seed uint64) *Sketch {
	if k == 0 {
		k = DefaultK
	}
	k = min(max(k, MinK), MaxK)
	s := &Sketch{k: k, seed: seed}
	s.init()
	return s
}

func (s *Sketch) init() {
	if s.k == 0 {
		s.k = DefaultK
	}
	s.rng = s.seed
	s.min, s.max = math.Inf(1), math.Inf(-1)
	s.levels = [][]float64{make([]float64, 0, s.k)}
	s.computeCaps()
}

// K is the sketch's accuracy parameter.
func (s *Sketch) K() int {
	if s.k == 0 {
		return DefaultK
	}
	return s.k
}

// Seed is the seed the sketch was created with.
func (s *Sketch) Seed() uint64 { return s.seed }

// Count is the number of values added (NaNs are not counted).
func (s *Sketch) Count() uint64 { return s.n }

// Min is the smallest value added, or NaN if the sketch is empty.
func (s *Sketch) Min() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.min
}

// Max is the largest value added, or NaN if the sketch is empty.
func (s *Sketch) Max() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.max
}

// Retained is the number of values the sketch keeps.
func (s *Sketch) Retained() int { return s.size }

// Exact reports whether the sketch still holds every value added, in which
// case Rank and Quantile are exact.
func (s *Sketch) Exact() bool { return len(s.levels) <= 1 }

// RankError is the sketch's normalised rank error bound: with 99%
// confidence, |Rank(x) - true rank of x| <= RankError() for any single x.
// It is 0 while the sketch is exact.
func (s *Sketch) RankError() float64 {
	if s.Exact() {
		return 0
	}
	return NormalizedRankError(s.K(), false)
}

// NormalizedRankError is the rank error bound of a KLL sketch of parameter k
// at 99% confidence: for a single Rank or Quantile query (pmf false), or for
// the difference of two ranks, as in a histogram bin's mass (pmf true).
// These are the empirical fits published with Apache DataSketches' KLL
// sketch, which this implementation follows (same capacities and lazy
// compaction); the package's tests check them on a million values.
func NormalizedRankError(k int, pmf bool) float64 {
	if pmf {
		return 2.446 / math.Pow(float64(k), 0.9433)
	}
	return 2.296 / math.Pow(float64(k), 0.9723)
}

// Reset empties the sketch but keeps its storage, K and seed (the coin
// generator restarts from the seed).
func (s *Sketch) Reset() {
	if s.levels == nil {
		s.init()
		return
	}
	s.rng = s.seed
	s.n = 0
	s.min, s.max = math.Inf(1), math.Inf(-1)
	for h := range s.levels {
		s.levels[h] = s.levels[h][:0]
	}
	s.levels = s.levels[:1]
	s.size = 0
	s.viewOK = false
	s.computeCaps()
}

// Add adds x to the sketch. NaN is ignored; -0 is added as +0; ±Inf are
// ordinary values (larger or smaller than any other).
func (s *Sketch) Add(x float64) {
	if x != x {
		return
	}
	if s.levels == nil {
		s.init()
	}
	x += 0 // -0 -> +0, so equal values sort the same whatever the input order
	if x < s.min {
		s.min = x
	}
	if x > s.max {
		s.max = x
	}
	s.n++
	s.levels[0] = append(s.levels[0], x)
	s.size++
	s.viewOK = false
	if s.size >= s.capacity {
		s.compress()
	}
}

// levelCap is the capacity of a level at the given depth below the top:
// max(m, ceil(k * (2/3)^depth)), computed in integers so every platform
// agrees.
func levelCap(k, depth int) int {
	if depth > 30 { // k*(2/3)^30 < 0.4 for k <= MaxK
		return minLevelCap
	}
	num := uint64(k) << depth
	den := uint64(1)
	for range depth {
		den *= 3
	}
	return max(minLevelCap, int((num+den-1)/den))
}

func (s *Sketch) computeCaps() {
	nl := len(s.levels)
	s.caps = s.caps[:0]
	s.capacity = 0
	for h := range nl {
		c := levelCap(s.k, nl-1-h)
		s.caps = append(s.caps, c)
		s.capacity += c
	}
}

// compress compacts the lowest level that is at or over its capacity until
// the sketch is under its total capacity (lazy compaction).
func (s *Sketch) compress() {
	for s.size >= s.capacity {
		h := 0
		for h < len(s.levels)-1 && len(s.levels[h]) < s.caps[h] {
			h++
		}
		if h == len(s.levels)-1 {
			s.addLevel()
		}
		s.compact(h)
	}
}

// addLevel adds an empty top level, reusing the storage a Reset left.
func (s *Sketch) addLevel() {
	if n := len(s.levels); n < cap(s.levels) {
		s.levels = s.levels[:n+1]
		s.levels[n] = s.levels[n][:0]
	} else {
		s.levels = append(s.levels, nil)
	}
	s.computeCaps()
}

// compact halves level h into level h+1: it sorts the level, leaves its
// smallest value behind if the count is odd, and promotes every other value
// of the rest, starting at a random offset of 0 or 1.
func (s *Sketch) compact(h int) {
	lv := s.levels[h]
	if h == 0 {
		sortFloats(lv)
	}
	odd := len(lv) & 1
	pairs := (len(lv) - odd) / 2
	if pairs == 0 {
		return
	}
	off := odd + s.coin()
	half := s.scratch[:0]
	for j := range pairs {
		half = append(half, lv[off+2*j])
	}
	s.scratch = half
	s.levels[h] = lv[:odd]
	s.levels[h+1] = mergeInto(s.levels[h+1], half)
	s.size -= pairs
}

// coin returns 0 or 1 from a splitmix64 generator.
func (s *Sketch) coin() int {
	s.rng += 0x9e3779b97f4a7c15
	z := s.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z >> 63)
}

// mergeInto merges sorted b into sorted a in place (from the back), growing
// a's storage only when it is too small.
func mergeInto(a, b []float64) []float64 {
	na, nb := len(a), len(b)
	if nb == 0 {
		return a
	}
	a = slices.Grow(a, nb)[:na+nb]
	i, j, k := na-1, nb-1, na+nb-1
	for j >= 0 {
		if i >= 0 && a[i] > b[j] {
			a[k] = a[i]
			i--
		} else {
			a[k] = b[j]
			j--
		}
		k--
	}
	return a
}

// sortFloats sorts values that contain no NaN: insertion sort for short
// runs, the standard library's pdqsort otherwise.
func sortFloats(v []float64) {
	if len(v) <= 12 {
		for i := 1; i < len(v); i++ {
			x := v[i]
			j := i - 1
			for j >= 0 && v[j] > x {
				v[j+1] = v[j]
				j--
			}
			v[j+1] = x
		}
		return
	}
	slices.Sort(v)
}

// Merge adds other's values to s. Both must have the same K; other is not
// changed (it may be s itself). The result has the guarantee of a sketch
// of the concatenated streams.
func (s *Sketch) Merge(other *Sketch) error {
	if other == nil || other.n == 0 {
		return nil
	}
	if s.levels == nil {
		s.init()
	}
	if other.K() != s.K() {
		return fmt.Errorf("%w: merge K=%d into K=%d", ErrIncompatible, other.K(), s.K())
	}
	if other == s {
		other = s.Clone()
	}
	for len(s.levels) < len(other.levels) {
		s.addLevel()
	}
	s.levels[0] = append(s.levels[0], other.levels[0]...)
	for h := 1; h < len(other.levels); h++ {
		s.levels[h] = mergeInto(s.levels[h], other.levels[h])
	}
	s.n += other.n
	s.size += other.size
	s.min = min(s.min, other.min)
	s.max = max(s.max, other.max)
	s.viewOK = false
	s.compress()
	return nil
}

// Clone returns a deep copy of s (same state, same future coin flips).
func (s *Sketch) Clone() *Sketch {
	c := &Sketch{k: s.k, seed: s.seed, rng: s.rng, n: s.n, min: s.min, max: s.max, size: s.size}
	if s.levels == nil {
		c.init()
		return c
	}
	c.levels = make([][]float64, len(s.levels))
	for h, lv := range s.levels {
		c.levels[h] = slices.Clone(lv)
	}
	c.levels[0] = slices.Grow(c.levels[0], max(0, s.capacity-len(c.levels[0])))
	c.computeCaps()
	return c
}

// view builds the sorted (value, cumulative weight) arrays queries search.
func (s *Sketch) view() {
	if s.viewOK {
		return
	}
	t := s.vTmp[:0]
	for h, lv := range s.levels {
		w := uint64(1) << h
		for _, v := range lv {
			t = append(t, weighted{v, w})
		}
	}
	slices.SortFunc(t, func(a, b weighted) int { return cmp.Compare(a.v, b.v) })
	s.vItems, s.vCum = s.vItems[:0], s.vCum[:0]
	var cum uint64
	for i, e := range t {
		cum += e.w
		if i > 0 && s.vItems[len(s.vItems)-1] == e.v {
			s.vCum[len(s.vCum)-1] = cum
			continue
		}
		s.vItems = append(s.vItems, e.v)
		s.vCum = append(s.vCum, cum)
	}
	s.vTmp = t
	s.viewOK = true
}

// Rank is the estimated fraction of values <= x (the empirical CDF at x):
// 0 below Min, 1 at or above Max, and NaN for an empty sketch or a NaN x.
func (s *Sketch) Rank(x float64) float64 {
	if s.n == 0 || x != x {
		return math.NaN()
	}
	return float64(s.CountLE(x)) / float64(s.n)
}

// CountLE is the estimated number of values <= x (exact while Exact).
func (s *Sketch) CountLE(x float64) uint64 {
	if s.n == 0 || x != x || x < s.min {
		return 0
	}
	if x >= s.max {
		return s.n
	}
	s.view()
	i := sort.SearchFloat64s(s.vItems, x) // first item >= x
	if i < len(s.vItems) && s.vItems[i] == x {
		return s.vCum[i]
	}
	if i == 0 {
		return 0
	}
	return s.vCum[i-1]
}

// Quantile is the value whose rank is q: the smallest retained value v
// with Rank(v) >= q (the "inverted CDF" definition, so the answer is always
// a value that was added). Quantile(0) is Min and Quantile(1) is Max; it is
// NaN for an empty sketch or q outside [0, 1].
func (s *Sketch) Quantile(q float64) float64 {
	if s.n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	if q == 0 {
		return s.min
	}
	if q == 1 {
		return s.max
	}
	s.view()
	target := q * float64(s.n)
	i := sort.Search(len(s.vCum), func(i int) bool { return float64(s.vCum[i]) >= target })
	if i >= len(s.vItems) {
		return s.max
	}
	return s.vItems[i]
}

// Quantiles returns Quantile(q) for each q.
func (s *Sketch) Quantiles(qs []float64) []float64 {
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = s.Quantile(q)
	}
	return out
}
