package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"iter"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
)

func month(y, m int) float64 { return float64(y*12 + m - 1) }

// smallRows is a table whose profile is worked out by hand in TestExactSmall.
func smallRows() (Spec, []Row) {
	nan := math.NaN()
	spec := Spec{
		Numeric:     []string{"x", "children", "const"},
		Categorical: []string{"region"},
		Time:        "month", TimeType: dataset.Month,
		Target: "consumption", Task: Regression,
		Seasonal: []string{"x"},
	}
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, nan, nan}
	children := []float64{0, 0, 1, 0, 2, 0, 1, 2, 0, 1, 0, 2}
	regions := []string{"a", "b", "a", "c", "a", "b", "", "a", "b", "c", "a", "b"}
	var rows []Row
	for i := range xs {
		rows = append(rows, Row{
			Num:    []float64{xs[i], children[i], 5},
			Cat:    []string{regions[i]},
			Time:   month(2020, 1+i%6), // Jan..Jun, twice
			Target: float64(10 * (i + 1)),
			Pred:   float64(10*(i+1) + 1),
		})
	}
	return spec, rows
}

func build(t testing.TB, spec Spec, opts *Options, rows []Row) *Profile {
	t.Helper()
	b, err := NewBuilder(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := b.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	p := b.Profile()
	if err := p.Validate(); err != nil {
		t.Fatalf("profile does not validate: %v", err)
	}
	return p
}

func TestExactSmall(t *testing.T) {
	spec, rows := smallRows()
	p := build(t, spec, &Options{MaxCategories: 2, Quantiles: 11}, rows)
	if p.Rows != 12 || p.Settings.Sketch.RankError != 0 {
		t.Errorf("rows %d rank error %v", p.Rows, p.Settings.Sketch.RankError)
	}
	x, _ := p.Feature("x")
	// 1..10 and two NaN: deciles 1..9 are the edges, one value per bin.
	want := Numeric{
		Name: "x", Count: 10, Missing: 2, MissingRate: 2.0 / 12, Exact: true,
		Mean: 5.5, Std: math.Sqrt(82.5 / 9), Min: 1, Max: 10,
		Edges:     []float64{1, 2, 3, 4, 5, 6, 7, 8, 9},
		Counts:    []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		Quantiles: []float64{1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
	}
	if math.Abs(x.Std-want.Std) < 1e-12 {
		x.Std = want.Std
	}
	if !reflect.DeepEqual(*x, want) {
		t.Errorf("x:\n got %+v\nwant %+v", *x, want)
	}
	// children: 0×6, 1×3, 2×3. Deciles 0,0,0,0,0,1,1,2,2: edges 0 and 1
	// (2 is the max), so each value has its own bin.
	c, _ := p.Feature("children")
	if !slices.Equal(c.Edges, []float64{0, 1}) || !slices.Equal(c.Counts, []int64{6, 3, 3}) {
		t.Errorf("children: edges %v counts %v", c.Edges, c.Counts)
	}
	k, _ := p.Feature("const")
	if !slices.Equal(k.Edges, []float64{5}) || !slices.Equal(k.Counts, []int64{12, 0}) || k.Std != 0 {
		t.Errorf("const: edges %v counts %v std %v", k.Edges, k.Counts, k.Std)
	}
	r, _ := p.CategoricalFeature("region")
	wantR := Categorical{
		Name: "region", Count: 11, Missing: 1, MissingRate: 1.0 / 12, Distinct: 3,
		Categories: []Category{{"a", 5, 5.0 / 11}, {"b", 4, 4.0 / 11}},
		Other:      Other{Count: 2, Frequency: 2.0 / 11, Categories: 1},
	}
	if !reflect.DeepEqual(*r, wantR) {
		t.Errorf("region:\n got %+v\nwant %+v", *r, wantR)
	}
	if p.Time == nil || p.Time.Min != "2020-01" || p.Time.Max != "2020-06" || p.Time.Missing != 0 {
		t.Errorf("time %+v", p.Time)
	}
	if p.Target == nil || p.Target.Numeric.Count != 12 || p.Target.Numeric.Mean != 65 {
		t.Errorf("target %+v", p.Target)
	}
	if p.Predictions == nil || p.Predictions.Value.Mean != 66 || p.Predictions.Value.Max != 121 {
		t.Errorf("predictions %+v", p.Predictions)
	}
	// Seasonal: rows i and i+6 fall in month i%6+1.
	s := p.Seasonal
	if s == nil || len(s.Months) != 12 {
		t.Fatalf("seasonal %+v", s)
	}
	jan := s.Months[0]
	if jan.Rows != 2 || jan.Target.Count != 2 || jan.Target.Mean != 40 || jan.Features[0].Count != 2 || jan.Features[0].Mean != 4 {
		t.Errorf("January: %+v", jan)
	}
	if jun := s.Months[5]; jun.Rows != 2 || jun.Features[0].Missing != 1 || jun.Features[0].Mean != 6 {
		t.Errorf("June: %+v", jun)
	}
	if dec := s.Months[11]; dec.Rows != 0 || dec.Target.Count != 0 || !slices.Equal(dec.Target.Counts, []int64{0}) {
		t.Errorf("December: %+v", dec)
	}
	if jan.Features[0].Quantiles != nil {
		t.Error("seasonal profiles keep no quantile function")
	}
}

func TestDiscreteBins(t *testing.T) {
	// A million rows of small counts and a binary flag: the sketch
	// compacts, but the exact tracker keeps bins exact.
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	r := rand.New(rand.NewPCG(1, 2))
	b, _ := NewBuilder(Spec{Numeric: []string{"children", "flag", "rare"}}, nil)
	var want [4]int64
	var flags, rare int64
	for range n {
		c := float64(min(r.IntN(8), 3)) // 0,1,2: 1/8 each; 3: 5/8
		want[int(c)]++
		f := float64(r.IntN(10) / 9) // 1 in 10% of rows
		flags += int64(f)
		z := 0.0
		if r.IntN(1000) == 0 {
			z = 7
			rare++
		}
		if err := b.Add(Row{Num: []float64{c, f, z}}); err != nil {
			t.Fatal(err)
		}
	}
	p := b.Profile()
	c, _ := p.Feature("children")
	if !c.Exact || !slices.Equal(c.Edges, []float64{0, 1, 2}) || !slices.Equal(c.Counts, want[:]) {
		t.Errorf("children: exact %v edges %v counts %v, want edges [0 1 2] counts %v", c.Exact, c.Edges, c.Counts, want)
	}
	f, _ := p.Feature("flag")
	if !slices.Equal(f.Edges, []float64{0}) || !slices.Equal(f.Counts, []int64{int64(n) - flags, flags}) {
		t.Errorf("flag: edges %v counts %v", f.Edges, f.Counts)
	}
	// 0.1% sevens: no decile reaches them, but they keep the open last bin.
	z, _ := p.Feature("rare")
	if !slices.Equal(z.Edges, []float64{0}) || !slices.Equal(z.Counts, []int64{int64(n) - rare, rare}) || z.Max != 7 {
		t.Errorf("rare: edges %v counts %v max %v", z.Edges, z.Counts, z.Max)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func TestContinuousBinsWithinSketchError(t *testing.T) {
	n := 300_000
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([]float64, n)
	b, _ := NewBuilder(Spec{Numeric: []string{"x"}}, nil)
	for i := range xs {
		xs[i] = math.Exp(r.NormFloat64())
		_ = b.Add(Row{Num: []float64{xs[i]}})
	}
	p := b.Profile()
	x := p.Numeric[0]
	if x.Exact || len(x.Edges) != 9 || p.Settings.Sketch.RankError == 0 {
		t.Fatalf("exact %v, %d edges, rank error %v", x.Exact, len(x.Edges), p.Settings.Sketch.RankError)
	}
	slices.Sort(xs)
	tol := int64(p.Settings.Sketch.RankError * float64(n))
	lo := math.Inf(-1)
	for i, c := range x.Counts {
		hi := math.Inf(1)
		if i < len(x.Edges) {
			hi = x.Edges[i]
		}
		a, _ := slices.BinarySearch(xs, math.Nextafter(lo, math.Inf(1)))
		z, _ := slices.BinarySearch(xs, math.Nextafter(hi, math.Inf(1)))
		if lo == math.Inf(-1) {
			a = 0
		}
		truth := int64(z - a)
		if d := c - truth; d > tol || -d > tol {
			t.Errorf("bin %d (%v, %v]: count %d, truth %d (tolerance %d)", i, lo, hi, c, truth, tol)
		}
		if truth < int64(n)/10-tol || truth > int64(n)/10+tol {
			t.Errorf("bin %d holds %d of %d: not a decile", i, truth, n)
		}
		lo = hi
	}
}

// onceRows yields n generated rows and fails the test if iterated twice:
// the builder must not need the data again.
func onceRows(t *testing.T, n int, seed uint64) iter.Seq[Row] {
	used := false
	return func(yield func(Row) bool) {
		if used {
			t.Fatal("the stream was read twice")
		}
		used = true
		r := rand.New(rand.NewPCG(seed, 0))
		row := Row{Num: make([]float64, 2), Cat: make([]string, 1)}
		for i := range n {
			row.Num[0] = r.NormFloat64()*10 + 50
			row.Num[1] = float64(r.IntN(5))
			row.Cat[0] = []string{"north", "south", "east"}[r.IntN(3)]
			row.Time = month(2018, 1) + float64(i%72)
			if !yield(row) {
				return
			}
		}
	}
}

func TestOnePass(t *testing.T) {
	const n = 200_000
	spec := Spec{Numeric: []string{"stock", "visits"}, Categorical: []string{"zone"}, Time: "month", TimeType: dataset.Month}
	b, _ := NewBuilder(spec, nil)
	for row := range onceRows(t, n, 9) {
		if err := b.Add(row); err != nil {
			t.Fatal(err)
		}
	}
	p := b.Profile()
	// The oracle: exact statistics from a second, independent generation.
	var sum, sumSq float64
	var zones = map[string]int64{}
	var vs [5]int64
	for row := range onceRows(t, n, 9) {
		sum += row.Num[0]
		sumSq += row.Num[0] * row.Num[0]
		zones[row.Cat[0]]++
		vs[int(row.Num[1])]++
	}
	mean := sum / n
	std := math.Sqrt((sumSq - n*mean*mean) / (n - 1))
	s := p.Numeric[0]
	if s.Count != n || math.Abs(s.Mean-mean) > 1e-9 || math.Abs(s.Std-std) > 1e-6 {
		t.Errorf("stock: count %d mean %v std %v, want %v %v", s.Count, s.Mean, s.Std, mean, std)
	}
	if v := p.Numeric[1]; !slices.Equal(v.Counts, vs[:]) {
		t.Errorf("visits counts %v, want %v", v.Counts, vs)
	}
	for _, c := range p.Categorical[0].Categories {
		if zones[c.Value] != c.Count {
			t.Errorf("zone %s: %d, want %d", c.Value, c.Count, zones[c.Value])
		}
	}
	if p.Time.Min != "2018-01" || p.Time.Max != "2023-12" {
		t.Errorf("time range %+v", p.Time)
	}
}

// wideBatch is a batch of n rows: 30 float32 features in X, and in the
// frame a district, a month and a target.
func wideBatch(n, from int, r *rand.Rand) Batch {
	m := &dataset.Matrix{Rows: n}
	for j := range 30 {
		m.Names = append(m.Names, "f"+string(rune('a'+j%26))+string(rune('0'+j/26)))
		col := make([]float32, n)
		for i := range col {
			switch j % 3 {
			case 0:
				col[i] = float32(r.NormFloat64())
			case 1:
				col[i] = float32(r.ExpFloat64() * 100)
			default:
				col[i] = float32(r.IntN(4))
			}
		}
		m.Cols = append(m.Cols, col)
	}
	district := &dataset.Column{Name: "district", Type: dataset.String}
	mon := &dataset.Column{Name: "month", Type: dataset.Month}
	target := &dataset.Column{Name: "consumption", Type: dataset.Float}
	pred := make([]float64, n)
	for i := range n {
		district.AppendString("D"+string(rune('A'+r.IntN(26)))+string(rune('A'+r.IntN(26))), false)
		mo := month(2015, 1) + float64((from+i)%120)
		mon.Num = append(mon.Num, mo)
		y := 100 + 50*math.Sin(2*math.Pi*float64(int(mo)%12)/12) + r.NormFloat64()*10
		target.Num = append(target.Num, y)
		pred[i] = y + r.NormFloat64()*5
	}
	return Batch{X: m, Frame: &dataset.Frame{Columns: []*dataset.Column{district, mon, target}}, Pred: pred}
}

func wideSpec(names []string) Spec {
	return Spec{
		Numeric: names, Categorical: []string{"district"},
		Time: "month", TimeType: dataset.Month, Target: "consumption", Task: Regression,
		Seasonal: names[:3],
	}
}

func TestSizeStaysSmall(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 200_000
	}
	r := rand.New(rand.NewPCG(5, 6))
	sizes := map[int]int{}
	for _, rows := range []int{10_000, n} {
		var b *Builder
		for done := 0; done < rows; {
			k := min(50_000, rows-done)
			bt := wideBatch(k, done, r)
			if b == nil {
				var err error
				if b, err = NewBuilder(wideSpec(bt.X.Names), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.AddBatch(bt); err != nil {
				t.Fatal(err)
			}
			done += k
		}
		p := b.Profile()
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := p.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		sizes[rows] = buf.Len()
		t.Logf("%d rows x 30 features + district + target + prediction + 3 seasonal features x 12 months: %d bytes of JSON", rows, buf.Len())
	}
	if sizes[n] > 96<<10 {
		t.Errorf("profile of %d rows is %d bytes, want kilobytes", n, sizes[n])
	}
	if float64(sizes[n]) > 1.25*float64(sizes[10_000]) {
		t.Errorf("profile grows with rows: %d bytes at 10k, %d at %d", sizes[10_000], sizes[n], n)
	}
}

func TestBatchEqualsRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	bt := wideBatch(5_000, 0, r)
	spec := wideSpec(bt.X.Names)
	fromBatch, _ := NewBuilder(spec, nil)
	if err := fromBatch.AddBatch(bt); err != nil {
		t.Fatal(err)
	}
	fromRows, _ := NewBuilder(spec, nil)
	dst := make([]float32, 30)
	for i := range bt.X.Rows {
		num := make([]float64, 30)
		for j, x := range bt.X.Row(i, dst) {
			num[j] = float64(x)
		}
		err := fromRows.Add(Row{
			Num: num, Cat: []string{bt.Frame.Col("district").String(i)},
			Time: bt.Frame.Col("month").Num[i], Target: bt.Frame.Col("consumption").Num[i], Pred: bt.Pred[i],
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := fromBatch.Profile(), fromRows.Profile()
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		t.Errorf("batch and row profiles differ:\n%s\n%s", ja[:min(len(ja), 600)], jb[:min(len(jb), 600)])
	}
}

func TestMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	spec := Spec{}
	var whole, parts []*Builder
	one := func() *Builder { b, _ := NewBuilder(spec, nil); return b }
	for p := range 4 {
		bt := wideBatch(30_000, p*30_000, r)
		if spec.Numeric == nil {
			spec = wideSpec(bt.X.Names)
			whole = []*Builder{one()}
		}
		part := one()
		if err := part.AddBatch(bt); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part)
		_ = whole[0].AddBatch(bt)
	}
	merged := parts[0]
	for _, p := range parts[1:] {
		if err := merged.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	a, b := merged.Profile(), whole[0].Profile()
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.Rows != b.Rows || !reflect.DeepEqual(a.Categorical, b.Categorical) || !reflect.DeepEqual(a.Time, b.Time) {
		t.Error("merged rows, categories or time range differ from a single pass")
	}
	tol := a.Settings.Sketch.RankError * float64(a.Rows) * 2
	for j := range a.Numeric {
		x, y := a.Numeric[j], b.Numeric[j]
		if x.Count != y.Count || x.Min != y.Min || x.Max != y.Max || math.Abs(x.Mean-y.Mean) > 1e-9*math.Max(1, math.Abs(y.Mean)) || math.Abs(x.Std-y.Std) > 1e-9*y.Std {
			t.Errorf("%s: merged %v/%v/%v/%v/%v, single %v/%v/%v/%v/%v", x.Name, x.Count, x.Min, x.Max, x.Mean, x.Std, y.Count, y.Min, y.Max, y.Mean, y.Std)
		}
		if x.Exact != y.Exact || (x.Exact && !reflect.DeepEqual(x.Counts, y.Counts)) {
			t.Errorf("%s: exact counts differ after merge", x.Name)
		}
		if !x.Exact && len(x.Counts) == len(y.Counts) {
			// Edges may differ a little; bins hold about the same mass.
			for i := range x.Counts {
				if d := math.Abs(float64(x.Counts[i] - y.Counts[i])); d > tol {
					t.Errorf("%s: bin %d holds %d merged, %d single (tolerance %.0f)", x.Name, i, x.Counts[i], y.Counts[i], tol)
				}
			}
		}
	}
	other, _ := NewBuilder(Spec{Numeric: []string{"z"}}, nil)
	if err := merged.Merge(other); !errors.Is(err, ErrInvalid) {
		t.Errorf("merge of different specs: %v", err)
	}
}

func TestClassification(t *testing.T) {
	spec := Spec{Numeric: []string{"muac"}, Target: "status", Task: Classification, Classes: []string{"none", "mam", "sam"}}
	rows := []Row{
		{Num: []float64{140}, Label: "none", Class: 0, Proba: []float64{0.9, 0.08, 0.02}},
		{Num: []float64{120}, Label: "mam", Class: 1, Proba: []float64{0.3, 0.6, 0.1}},
		{Num: []float64{110}, Label: "sam", Class: 1, Proba: []float64{0.1, 0.5, 0.4}},
		{Num: []float64{150}, Label: "", Class: 0, Proba: nil},
	}
	p := build(t, spec, nil, rows)
	lab := p.Target.Labels
	if lab.Missing != 1 || lab.Count != 3 || len(lab.Categories) != 3 || lab.Categories[2] != (Category{"sam", 1, 1.0 / 3}) {
		t.Errorf("target labels %+v", lab)
	}
	pl := p.Predictions.Labels
	if pl.Categories[0].Count != 2 || pl.Categories[1].Count != 2 || pl.Categories[2] != (Category{"sam", 0, 0}) {
		t.Errorf("predicted labels %+v", pl)
	}
	pr := p.Predictions.Probabilities
	if len(pr) != 3 || pr[2].Name != "sam" || pr[2].Count != 3 || pr[2].Missing != 1 || math.Abs(pr[2].Mean-(0.02+0.1+0.4)/3) > 1e-12 {
		t.Errorf("probabilities %+v", pr)
	}
	b, _ := NewBuilder(spec, nil)
	for name, r := range map[string]Row{
		"unknown label": {Num: []float64{1}, Label: "severe", Class: 0},
		"class range":   {Num: []float64{1}, Class: 3},
		"proba width":   {Num: []float64{1}, Class: 0, Proba: []float64{1}},
		"row width":     {Num: nil, Class: 0},
	} {
		if err := b.Add(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if b.Rows() != 0 {
		t.Errorf("refused rows were counted: %d", b.Rows())
	}
}

func TestSpecAndBatchErrors(t *testing.T) {
	for name, s := range map[string]Spec{
		"dup feature":      {Numeric: []string{"a"}, Categorical: []string{"a"}},
		"time type":        {Time: "t", TimeType: dataset.Float},
		"target, no task":  {Target: "y"},
		"classes":          {Task: Classification, Classes: []string{"one"}},
		"seasonal no time": {Numeric: []string{"a"}, Seasonal: []string{"a"}},
		"seasonal unknown": {Numeric: []string{"a"}, Time: "t", TimeType: dataset.Month, Seasonal: []string{"b"}},
		"task":             {Task: "ranking"},
	} {
		if _, err := NewBuilder(s, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewBuilder(Spec{}, &Options{Bins: 1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("1 bin: %v", err)
	}
	b, _ := NewBuilder(Spec{Numeric: []string{"a", "b"}}, nil)
	m := &dataset.Matrix{Names: []string{"a"}, Cols: [][]float32{{1, 2}}, Rows: 2}
	if err := b.AddMatrix(m); !errors.Is(err, ErrInvalid) {
		t.Errorf("missing feature: %v", err)
	}
	m = &dataset.Matrix{Names: []string{"a", "b"}, Cols: [][]float32{{1, 2}, {1}}, Rows: 2}
	if err := b.AddMatrix(m); !errors.Is(err, ErrInvalid) {
		t.Errorf("ragged matrix: %v", err)
	}
	if b.Rows() != 0 {
		t.Errorf("a refused batch added rows")
	}
}

func TestJSONRoundTripAndValidate(t *testing.T) {
	spec, rows := smallRows()
	p := build(t, spec, &Options{IncludeSketches: true}, rows)
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, back) {
		t.Error("profile changed in a JSON round trip")
	}
	if len(back.Numeric[0].Sketch) == 0 {
		t.Error("sketch not embedded")
	}

	doc := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(buf.Bytes(), &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	num0 := func(m map[string]any) map[string]any { return m["numeric"].([]any)[0].(map[string]any) }
	// A newer minor version with fields this build does not know is read.
	newer := doc(func(m map[string]any) {
		m["schema_version"] = "lantern.profile/v1.4"
		m["embeddings"] = map[string]any{"dim": 3}
		num0(m)["entropy"] = 1.5
	})
	if _, err := Read(bytes.NewReader(newer)); err != nil {
		t.Errorf("minor version: %v", err)
	}
	for name, f := range map[string]func(m map[string]any){
		"v2":      func(m map[string]any) { m["schema_version"] = "lantern.profile/v2" },
		"v0":      func(m map[string]any) { m["schema_version"] = "lantern.profile/v0.9" },
		"other":   func(m map[string]any) { m["schema_version"] = "evidently/v1" },
		"garbage": func(m map[string]any) { m["schema_version"] = "lantern.profile/v1.x" },
		"missing": func(m map[string]any) { delete(m, "schema_version") },
	} {
		if _, err := Read(bytes.NewReader(doc(f))); !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%s: %v, want ErrUnsupportedVersion", name, err)
		}
	}
	for name, f := range map[string]func(m map[string]any){
		"counts sum":     func(m map[string]any) { num0(m)["counts"].([]any)[0] = 5.0 },
		"edges order":    func(m map[string]any) { e := num0(m)["edges"].([]any); e[0], e[1] = e[1], e[0] },
		"counts length":  func(m map[string]any) { num0(m)["counts"] = []any{10.0} },
		"missing rate":   func(m map[string]any) { num0(m)["missing_rate"] = 0.5 },
		"rows":           func(m map[string]any) { m["rows"] = 13.0 },
		"quantile range": func(m map[string]any) { num0(m)["min"] = 0.0 },
		"dup name":       func(m map[string]any) { num0(m)["name"] = "children" },
		"time":           func(m map[string]any) { m["time"].(map[string]any)["min"] = "2021-13" },
		"months":         func(m map[string]any) { s := m["seasonal"].(map[string]any); s["months"] = s["months"].([]any)[:11] },
		"category sum": func(m map[string]any) {
			m["categorical"].([]any)[0].(map[string]any)["other"].(map[string]any)["count"] = 5.0
		},
		"not json": nil,
	} {
		data := []byte("{")
		if f != nil {
			data = doc(f)
		}
		if _, err := Read(bytes.NewReader(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestDateTimeColumn(t *testing.T) {
	b, err := NewBuilder(Spec{Numeric: []string{"x"}, Time: "day", TimeType: dataset.Date, Seasonal: []string{"x"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2024-01-31 is day 19753; 2024-03-01 is 19783.
	for _, d := range []float64{19753, 19783, math.NaN()} {
		_ = b.Add(Row{Num: []float64{1}, Time: d})
	}
	p := b.Profile()
	if p.Time.Min != "2024-01-31" || p.Time.Max != "2024-03-01" || p.Time.Missing != 1 {
		t.Errorf("time %+v", p.Time)
	}
	if p.Seasonal.Months[0].Rows != 1 || p.Seasonal.Months[2].Rows != 1 || p.Seasonal.Months[1].Rows != 0 {
		t.Errorf("seasonal rows by month: %d %d %d", p.Seasonal.Months[0].Rows, p.Seasonal.Months[1].Rows, p.Seasonal.Months[2].Rows)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func TestInfinityAndTracking(t *testing.T) {
	b, _ := NewBuilder(Spec{Numeric: []string{"x"}, Categorical: []string{"id"}}, &Options{TrackCategories: 3, MaxCategories: 2})
	for i, x := range []float64{1, math.Inf(1), 2, math.Inf(-1), math.NaN()} {
		_ = b.Add(Row{Num: []float64{x}, Cat: []string{string(rune('a' + i))}})
	}
	p := b.Profile()
	x := p.Numeric[0]
	if x.Count != 2 || x.Infinite != 2 || x.Missing != 1 || x.Max != 2 {
		t.Errorf("x %+v", x)
	}
	id := p.Categorical[0]
	// a, b, c tracked (a and b listed, c in other), d and e past the limit.
	if !id.Truncated || id.Distinct != 3 || len(id.Categories) != 2 || id.Other.Count != 3 || id.Other.Categories != 1 {
		t.Errorf("id %+v", id)
	}
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(&buf); err != nil {
		t.Error(err)
	}
	if strings.Contains(buf.String(), "Inf") {
		t.Error("infinities leaked into JSON")
	}
}

func BenchmarkAddMatrix30(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	bt := wideBatch(10_000, 0, r)
	spec := Spec{Numeric: bt.X.Names}
	bl, _ := NewBuilder(spec, nil)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		if err := bl.AddMatrix(bt.X); err != nil {
			b.Fatal(err)
		}
		rows += bt.X.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkAddBatchFull(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	bt := wideBatch(10_000, 0, r)
	bl, _ := NewBuilder(wideSpec(bt.X.Names), nil)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		if err := bl.AddBatch(bt); err != nil {
			b.Fatal(err)
		}
		rows += bt.X.Rows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
