package sketch

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// streams are the inputs the rank-error guarantee is checked on: random
// distributions and orders chosen to hurt a sketch (sorted, reversed,
// zig-zag, long runs of duplicates).
var streams = []struct {
	name string
	gen  func(n int, r *rand.Rand) []float64
}{
	{"uniform", func(n int, r *rand.Rand) []float64 { return fill(n, func(int) float64 { return r.Float64() }) }},
	{"normal", func(n int, r *rand.Rand) []float64 {
		return fill(n, func(int) float64 { return 100 + 15*r.NormFloat64() })
	}},
	{"lognormal", func(n int, r *rand.Rand) []float64 {
		return fill(n, func(int) float64 { return math.Exp(3 * r.NormFloat64()) })
	}},
	{"pareto", func(n int, r *rand.Rand) []float64 {
		return fill(n, func(int) float64 { return math.Pow(1-r.Float64(), -1/1.1) }) // alpha 1.1: infinite variance
	}},
	{"cauchy", func(n int, r *rand.Rand) []float64 {
		return fill(n, func(int) float64 { return math.Tan(math.Pi * (r.Float64() - 0.5)) })
	}},
	{"sorted", func(n int, r *rand.Rand) []float64 { return fill(n, func(i int) float64 { return float64(i) }) }},
	{"reversed", func(n int, r *rand.Rand) []float64 { return fill(n, func(i int) float64 { return float64(n - i) }) }},
	{"zigzag", func(n int, r *rand.Rand) []float64 {
		return fill(n, func(i int) float64 {
			if i%2 == 0 {
				return float64(i)
			}
			return float64(-i)
		})
	}},
	{"sorted-blocks", func(n int, r *rand.Rand) []float64 {
		// 100 sorted runs of interleaved ranges: adversarial for compaction.
		return fill(n, func(i int) float64 { return float64((i%(n/100))*100 + i/(n/100)) })
	}},
	{"discrete", func(n int, r *rand.Rand) []float64 { return fill(n, func(int) float64 { return float64(r.IntN(7)) }) }},
	{"zero-inflated", func(n int, r *rand.Rand) []float64 {
		return fill(n, func(int) float64 {
			if r.IntN(10) < 6 {
				return 0
			}
			return math.Round(r.ExpFloat64() * 40)
		})
	}},
}

func fill(n int, f func(int) float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// truth is the exact rank structure of a data set.
type truth struct{ sorted []float64 }

func newTruth(xs []float64) truth {
	s := slices.Clone(xs)
	slices.Sort(s)
	return truth{s}
}

// rankLE is the exact fraction of values <= x; rankLT of values < x.
func (t truth) rankLE(x float64) float64 {
	i, _ := slices.BinarySearch(t.sorted, math.Nextafter(x, math.Inf(1)))
	return float64(i) / float64(len(t.sorted))
}

func (t truth) rankLT(x float64) float64 {
	i, _ := slices.BinarySearch(t.sorted, x)
	return float64(i) / float64(len(t.sorted))
}

// maxErrors returns the worst rank error of s over 1001 probe points (the
// true quantiles of the data) and the worst rank error of s.Quantile over
// 1001 evenly spaced ranks.
func maxErrors(t truth, s *Sketch) (rankErr, quantErr float64) {
	n := len(t.sorted)
	for i := 0; i <= 1000; i++ {
		x := t.sorted[min(n-1, i*n/1000)]
		rankErr = max(rankErr, math.Abs(s.Rank(x)-t.rankLE(x)))
		q := float64(i) / 1000
		v := s.Quantile(q)
		// v's true ranks span [rankLT, rankLE]; the error is q's distance to that span.
		lo, hi := t.rankLT(v), t.rankLE(v)
		quantErr = max(quantErr, lo-q, q-hi)
	}
	return rankErr, quantErr
}

func TestRankErrorWithinBound(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	eps := NormalizedRankError(DefaultK, false)
	for i, st := range streams {
		t.Run(st.name, func(t *testing.T) {
			xs := st.gen(n, rand.New(rand.NewPCG(uint64(i), 7)))
			s := New(0, uint64(i))
			for _, x := range xs {
				s.Add(x)
			}
			tr := newTruth(xs)
			rankErr, quantErr := maxErrors(tr, s)
			t.Logf("n=%d retained=%d bytes=%d max rank error %.4f, quantile rank error %.4f (bound %.4f)",
				s.Count(), s.Retained(), s.BinarySize(), rankErr, quantErr, eps)
			if rankErr > eps || quantErr > eps {
				t.Errorf("rank error %.4f / quantile error %.4f over the bound %.4f", rankErr, quantErr, eps)
			}
			if s.Count() != uint64(n) || s.Min() != tr.sorted[0] || s.Max() != tr.sorted[n-1] {
				t.Errorf("count/min/max = %d/%v/%v, want %d/%v/%v", s.Count(), s.Min(), s.Max(), n, tr.sorted[0], tr.sorted[n-1])
			}
			if s.Quantile(0) != s.Min() || s.Quantile(1) != s.Max() {
				t.Errorf("Quantile(0), Quantile(1) = %v, %v; want min and max", s.Quantile(0), s.Quantile(1))
			}
			if b := s.BinarySize(); b > 6<<10 {
				t.Errorf("binary size %d bytes, want a few KB", b)
			}
		})
	}
}

func TestExactWhileSmall(t *testing.T) {
	s := New(0, 1)
	xs := []float64{5, 1, 4, 1, 3, 9, 2, 6}
	for _, x := range xs {
		s.Add(x)
	}
	if !s.Exact() || s.RankError() != 0 {
		t.Fatal("sketch of 8 values should be exact")
	}
	for _, c := range []struct{ x, rank float64 }{{0, 0}, {1, 2.0 / 8}, {1.5, 2.0 / 8}, {4, 5.0 / 8}, {9, 1}, {10, 1}} {
		if got := s.Rank(c.x); got != c.rank {
			t.Errorf("Rank(%v) = %v, want %v", c.x, got, c.rank)
		}
	}
	// Inverted CDF: the smallest value whose rank reaches q.
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.25, 1}, {0.26, 2}, {0.5, 3}, {0.51, 4}, {0.875, 6}, {0.9, 9}, {1, 9}} {
		if got := s.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := s.CountLE(4); got != 5 {
		t.Errorf("CountLE(4) = %d, want 5", got)
	}
}

func TestEmptyAndSpecialValues(t *testing.T) {
	var s Sketch // zero value is usable
	if !math.IsNaN(s.Quantile(0.5)) || !math.IsNaN(s.Rank(1)) || !math.IsNaN(s.Min()) || !math.IsNaN(s.Max()) || s.Count() != 0 {
		t.Error("empty sketch should answer NaN and count 0")
	}
	s.Add(math.NaN())
	if s.Count() != 0 {
		t.Error("NaN was counted")
	}
	s.Add(math.Inf(1))
	s.Add(math.Copysign(0, -1))
	s.Add(math.Inf(-1))
	if s.Count() != 3 || s.Min() != math.Inf(-1) || s.Max() != math.Inf(1) || math.Signbit(s.Quantile(0.5)) {
		t.Errorf("got count %d min %v max %v median %v", s.Count(), s.Min(), s.Max(), s.Quantile(0.5))
	}
	if s.K() != DefaultK {
		t.Errorf("zero value K = %d", s.K())
	}
	if !math.IsNaN(s.Quantile(1.5)) || !math.IsNaN(s.Quantile(math.NaN())) {
		t.Error("quantile outside [0,1] should be NaN")
	}
}

func TestMergeEqualsUnion(t *testing.T) {
	const parts, per = 10, 100_000
	r := rand.New(rand.NewPCG(3, 4))
	var all []float64
	merged := New(0, 99)
	for p := range parts {
		// Parts differ in distribution, so the union is multi-modal.
		st := streams[p%len(streams)]
		xs := st.gen(per, r)
		for i := range xs {
			xs[i] += float64(p) * 10
		}
		all = append(all, xs...)
		s := New(0, uint64(p))
		for _, x := range xs {
			s.Add(x)
		}
		if err := merged.Merge(s); err != nil {
			t.Fatal(err)
		}
	}
	one := New(0, 99)
	for _, x := range all {
		one.Add(x)
	}
	tr := newTruth(all)
	eps := NormalizedRankError(DefaultK, false)
	mr, mq := maxErrors(tr, merged)
	or, oq := maxErrors(tr, one)
	t.Logf("merged: rank error %.4f quantile %.4f retained %d; single: %.4f %.4f retained %d; bound %.4f",
		mr, mq, merged.Retained(), or, oq, one.Retained(), eps)
	if mr > eps || mq > eps || or > eps || oq > eps {
		t.Errorf("errors over the bound %.4f", eps)
	}
	if merged.Count() != one.Count() || merged.Min() != one.Min() || merged.Max() != one.Max() {
		t.Errorf("merged count/min/max differ from the single sketch")
	}
	for q := 0.0; q <= 1; q += 0.01 {
		a, b := merged.Quantile(q), one.Quantile(q)
		if d := math.Abs(tr.rankLE(a) - tr.rankLE(b)); d > 2*eps {
			t.Errorf("q=%.2f: merged %v and single %v are %.4f apart in rank", q, a, b, d)
		}
	}
}

func TestMergeEdgeCases(t *testing.T) {
	a := New(0, 1)
	for i := range 1000 {
		a.Add(float64(i))
	}
	if err := a.Merge(New(64, 1)); err != nil {
		t.Errorf("merging an empty sketch of another K should be a no-op, got %v", err)
	}
	b := New(64, 1)
	b.Add(1)
	if err := a.Merge(b); !errors.Is(err, ErrIncompatible) {
		t.Errorf("merge of different K: %v, want ErrIncompatible", err)
	}
	if err := a.Merge(a); err != nil {
		t.Fatal(err)
	}
	if a.Count() != 2000 || math.Abs(a.Rank(499.5)-0.5) > a.RankError() {
		t.Errorf("self merge: count %d rank(499.5) %v", a.Count(), a.Rank(499.5))
	}
	var z Sketch
	if err := z.Merge(a); err != nil || z.Count() != 2000 {
		t.Errorf("merge into zero value: %v, count %d", err, z.Count())
	}
}

func TestDeterministic(t *testing.T) {
	build := func(seed uint64) []byte {
		s := New(0, seed)
		r := rand.New(rand.NewPCG(5, 6))
		for range 200_000 {
			s.Add(r.ExpFloat64())
		}
		b, _ := s.MarshalBinary()
		return b
	}
	if !bytes.Equal(build(1), build(1)) {
		t.Error("same seed and input gave different sketches")
	}
	if bytes.Equal(build(1), build(2)) {
		t.Error("different seeds gave the same sketch (the coin is not used?)")
	}
}

func TestSerialisationRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 150, 100_000} {
		s := New(0, 42)
		r := rand.New(rand.NewPCG(uint64(n), 1))
		for range n {
			s.Add(r.NormFloat64())
		}
		if n > 0 {
			s.Add(math.Inf(1)) // JSON must carry infinities
		}
		bin, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(bin) != s.BinarySize() {
			t.Errorf("n=%d: BinarySize %d, encoded %d", n, s.BinarySize(), len(bin))
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var fromBin, fromJSON Sketch
		if err := fromBin.UnmarshalBinary(bin); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if err := json.Unmarshal(js, &fromJSON); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for _, c := range []*Sketch{&fromBin, &fromJSON} {
			if c.Count() != s.Count() || c.K() != s.K() || c.Seed() != s.Seed() {
				t.Errorf("n=%d: count/k/seed differ", n)
			}
			for q := 0.0; q <= 1; q += 0.05 {
				if a, b := s.Quantile(q), c.Quantile(q); a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
					t.Errorf("n=%d: Quantile(%v) = %v after decoding, %v before", n, q, b, a)
				}
			}
			// The decoded sketch continues exactly as the original.
			orig := s.Clone()
			for i := range 50_000 {
				x := float64(i % 977)
				orig.Add(x)
				c.Add(x)
			}
			ob, _ := orig.MarshalBinary()
			cb, _ := c.MarshalBinary()
			if !bytes.Equal(ob, cb) {
				t.Errorf("n=%d: decoded sketch diverges from the original after more adds", n)
			}
		}
	}
}

func TestDecodeRejectsCorrupt(t *testing.T) {
	s := New(0, 1)
	for i := range 5000 {
		s.Add(float64(i))
	}
	good, _ := s.MarshalBinary()
	mut := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	cases := map[string][]byte{
		"empty":       nil,
		"magic":       mut(func(b []byte) []byte { b[0] = 'X'; return b }),
		"version":     mut(func(b []byte) []byte { b[4] = 9; return b }),
		"levels":      mut(func(b []byte) []byte { b[5] = 0; return b }),
		"truncated":   good[:len(good)-3],
		"n":           mut(func(b []byte) []byte { b[28]++; return b }),
		"k":           mut(func(b []byte) []byte { b[8], b[9] = 1, 0; return b }),
		"nan":         mut(func(b []byte) []byte { copy(b[len(b)-8:], []byte{1, 0, 0, 0, 0, 0, 0xf8, 0x7f}); return b }),
		"unsorted":    mut(func(b []byte) []byte { copy(b[len(b)-8:], b[len(b)-16:len(b)-8]); b[len(b)-16]++; return b }),
		"outside-max": mut(func(b []byte) []byte { copy(b[44:52], []byte{0, 0, 0, 0, 0, 0, 0, 0}); return b }),
	}
	for name, b := range cases {
		var d Sketch
		if err := d.UnmarshalBinary(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
	for name, js := range map[string]string{
		"format": `{"format":"other","k":200,"seed":"0","state":"0","n":0,"levels":[[]]}`,
		"weight": `{"format":"lantern.kll/v1","k":200,"seed":"0","state":"0","n":2,"min":1,"max":1,"levels":[[1]]}`,
		"minmax": `{"format":"lantern.kll/v1","k":200,"seed":"0","state":"0","n":1,"levels":[[1]]}`,
		"syntax": `{"format":`,
	} {
		var d Sketch
		if err := d.UnmarshalJSON([]byte(js)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("json %s: got %v, want ErrCorrupt", name, err)
		}
	}
}

func TestAddAllocationFree(t *testing.T) {
	s := New(0, 1)
	r := rand.New(rand.NewPCG(1, 1))
	xs := fill(1<<16, func(int) float64 { return r.NormFloat64() })
	for _, x := range xs { // reach steady state
		s.Add(x)
	}
	i := 0
	allocs := testing.AllocsPerRun(100_000, func() {
		s.Add(xs[i&(len(xs)-1)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Add allocates %v times per call in steady state", allocs)
	}
	// Reset keeps the storage: a per-window sketch costs nothing to reuse.
	s.Reset()
	allocs = testing.AllocsPerRun(10, func() {
		for _, x := range xs[:20_000] {
			s.Add(x)
		}
		s.Reset()
	})
	if allocs > 1 {
		t.Errorf("a window of 20,000 values after Reset allocated %v times", allocs)
	}
}

func TestSizeBounded(t *testing.T) {
	for _, k := range []int{MinK, 64, DefaultK, 1000} {
		s := New(k, 1)
		for i := range 2_000_000 {
			s.Add(float64(i))
		}
		// Capacity is about 3k plus m per level; lazy compaction keeps it below.
		if limit := 3*k + minLevelCap*len(s.levels) + 8; s.Retained() > limit {
			t.Errorf("k=%d: %d retained values, want <= %d", k, s.Retained(), limit)
		}
		t.Logf("k=%d: %d values retained in %d levels (%d bytes), rank error bound %.4f",
			k, s.Retained(), len(s.levels), s.BinarySize(), NormalizedRankError(k, false))
	}
}

func BenchmarkAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := fill(1<<16, func(int) float64 { return r.NormFloat64() })
	s := New(0, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(xs[i&(len(xs)-1)])
		i++
	}
}

func BenchmarkAddSorted(b *testing.B) {
	s := New(0, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(float64(i))
		i++
	}
}

func BenchmarkMerge(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	parts := make([]*Sketch, 10)
	for p := range parts {
		parts[p] = New(0, uint64(p))
		for range 100_000 {
			parts[p].Add(r.NormFloat64())
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		m := New(0, 1)
		for _, p := range parts {
			_ = m.Merge(p)
		}
	}
}

func BenchmarkQuantile(b *testing.B) {
	s := New(0, 1)
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		s.Add(r.NormFloat64())
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Quantile(0.9)
	}
}
