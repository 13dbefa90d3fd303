package profile

import (
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/lantern-mlops/lantern/internal/sketch"
	"github.com/lantern-mlops/lantern/training/dataset"
)

// Spec says what to profile.
type Spec struct {
	// Numeric names the numeric features, in the order of Row.Num; a
	// Batch finds them by name in its Matrix, else its Frame.
	Numeric []string
	// Categorical names the categorical features, in the order of Row.Cat;
	// a Batch finds them in its Frame (a numeric column's values become
	// categories such as "3").
	Categorical []string
	// Time names the time column and TimeType its type, dataset.Month or
	// dataset.Date: the profile records its range, and the seasonal
	// section uses its month of year. Empty for none.
	Time     string
	TimeType dataset.Type
	// Target names the label column, profiled as numeric for regression
	// and as class frequencies for classification. Empty for none.
	Target string
	// Task is what the model predicts; when set, every row carries the
	// model's prediction, which is profiled. Empty for none.
	Task Task
	// Classes names a classifier's classes; predicted classes and target
	// labels refer to them.
	Classes []string
	// Seasonal names numeric features (from Numeric) to profile per month
	// of year, next to a regression target. It needs a Time column.
	Seasonal []string
}

// Options tunes the profile. The zero value gives the defaults.
type Options struct {
	// Bins is the number of quantile bins per numeric feature (default 10:
	// deciles).
	Bins int
	// Quantiles is the number of points of the quantile function kept per
	// numeric feature (default 51: every 2%, about the sketch's rank error);
	// -1 keeps none.
	Quantiles int
	// MaxCategories caps the categories listed per categorical feature
	// (default 50); the rest are counted in "other".
	MaxCategories int
	// TrackCategories caps the distinct categories counted per feature
	// (default 10,000), bounding memory: values of categories first seen
	// past it are counted in "other" only.
	TrackCategories int
	// SketchK is the KLL sketches' accuracy parameter (default
	// sketch.DefaultK = 200: bin counts within about 1.7% of the count).
	SketchK int
	// Seed seeds the sketches' coin flips (the profile is deterministic
	// for a given seed and input order).
	Seed uint64
	// IncludeSketches embeds each top-level numeric feature's sketch
	// (about 5 KB at the default K) so a monitor can compute exact-to-
	// the-sketch KS statistics; off by default, since the quantile
	// function already bounds KS to within a quantile step.
	IncludeSketches bool
}

func (o Options) withDefaults() Options {
	if o.Bins == 0 {
		o.Bins = 10
	}
	switch {
	case o.Quantiles == 0:
		o.Quantiles = 51
	case o.Quantiles < 0:
		o.Quantiles = 0
	}
	if o.MaxCategories == 0 {
		o.MaxCategories = 50
	}
	if o.TrackCategories == 0 {
		o.TrackCategories = 10_000
	}
	if o.SketchK == 0 {
		o.SketchK = sketch.DefaultK
	}
	return o
}

// Row is one row for Builder.Add.
type Row struct {
	// Num holds the numeric features (NaN: missing), Cat the categorical
	// ones ("": missing), in Spec order.
	Num []float64
	Cat []string
	// Time is the time column's value in dataset's encoding (NaN: missing).
	Time float64
	// Target is a regression target (NaN: missing); Label a
	// classification target, one of Spec.Classes ("": missing).
	Target float64
	Label  string
	// Pred is a regression model's prediction; Class a classifier's
	// predicted class (an index into Spec.Classes) and Proba, optional,
	// its class probabilities.
	Pred  float64
	Class int
	Proba []float64
}

// Batch is a block of rows for Builder.AddBatch: columns of equal length.
type Batch struct {
	// X holds numeric features by name (the model's feature matrix).
	X *dataset.Matrix
	// Frame holds the categorical features, numeric features not in X,
	// the time column and the target.
	Frame *dataset.Frame
	// Pred holds a regression model's predictions; Class a classifier's
	// predicted classes and Proba, optional, its probabilities
	// (Proba[i][c], row-major as in package eval).
	Pred  []float64
	Class []int
	Proba [][]float64
}

// Builder computes a profile in one pass. It is not safe for concurrent
// use; profile shards in parallel with several Builders and Merge them.
type Builder struct {
	spec Spec
	opt  Options
	rows int64

	num      []*numAcc
	cat      []*catAcc
	time     timeAcc
	isDate   bool
	target   *numAcc
	labels   *catAcc
	classIdx map[string]int
	pred     *numAcc
	predCls  *catAcc
	proba    []*numAcc

	// seasonal[m-1] for month of year m; seasonalIdx maps Spec.Seasonal
	// to positions in Spec.Numeric.
	seasonal    [12]*monthAcc
	seasonalIdx []int
}

type monthAcc struct {
	rows   int64
	target *numAcc
	feats  []*numAcc
}

// NewBuilder checks the spec and returns an empty Builder. opts may be nil.
func NewBuilder(spec Spec, opts *Options) (*Builder, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	if err := spec.validate(o); err != nil {
		return nil, err
	}
	b := &Builder{spec: spec, opt: o, isDate: spec.TimeType == dataset.Date}
	for _, n := range spec.Numeric {
		b.num = append(b.num, newNumAcc(n, &b.opt))
	}
	for _, n := range spec.Categorical {
		b.cat = append(b.cat, newCatAcc(n, &b.opt))
	}
	if spec.Task == Classification {
		b.classIdx = make(map[string]int, len(spec.Classes))
		for i, c := range spec.Classes {
			b.classIdx[c] = i
		}
	}
	if spec.Target != "" {
		if spec.Task == Regression {
			b.target = newNumAcc(spec.Target, &b.opt)
		} else {
			b.labels = newLabelAcc(spec.Target, spec.Classes)
		}
	}
	switch spec.Task {
	case Regression:
		b.pred = newNumAcc("prediction", &b.opt)
	case Classification:
		b.predCls = newLabelAcc("predicted_class", spec.Classes)
		for _, c := range spec.Classes {
			b.proba = append(b.proba, newNumAcc(c, &b.opt))
		}
	}
	if spec.Time != "" && (len(spec.Seasonal) > 0 || b.target != nil) {
		for _, s := range spec.Seasonal {
			b.seasonalIdx = append(b.seasonalIdx, slices.Index(spec.Numeric, s))
		}
		for m := range b.seasonal {
			ma := &monthAcc{}
			if b.target != nil {
				ma.target = newNumAcc(spec.Target, &b.opt)
			}
			for _, s := range spec.Seasonal {
				ma.feats = append(ma.feats, newNumAcc(s, &b.opt))
			}
			b.seasonal[m] = ma
		}
	}
	return b, nil
}

func (s *Spec) validate(o Options) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: spec: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if o.Bins < 2 || o.Quantiles == 1 || o.MaxCategories < 0 || o.TrackCategories < 1 || o.SketchK < sketch.MinK || o.SketchK > sketch.MaxK {
		return fmt.Errorf("%w: options out of range: %+v", ErrInvalid, o)
	}
	seen := make(map[string]bool)
	for _, n := range slices.Concat(s.Numeric, s.Categorical) {
		if n == "" || seen[n] {
			return fail("feature name %q is empty or repeated", n)
		}
		seen[n] = true
	}
	if s.Time != "" && s.TimeType != dataset.Month && s.TimeType != dataset.Date {
		return fail("time column %q has type %q, want month or date", s.Time, s.TimeType)
	}
	switch s.Task {
	case "":
		if s.Target != "" {
			return fail("a target needs a task (regression or classification)")
		}
	case Regression:
		if len(s.Classes) > 0 {
			return fail("a regression task has no classes")
		}
	case Classification:
		if len(s.Classes) < 2 {
			return fail("a classification task needs at least two classes")
		}
		cs := make(map[string]bool)
		for _, c := range s.Classes {
			if c == "" || cs[c] {
				return fail("class %q is empty or repeated", c)
			}
			cs[c] = true
		}
	default:
		return fail("unknown task %q", s.Task)
	}
	if len(s.Seasonal) > 0 && s.Time == "" {
		return fail("seasonal features need a time column")
	}
	for _, n := range s.Seasonal {
		if !slices.Contains(s.Numeric, n) {
			return fail("seasonal feature %q is not a numeric feature", n)
		}
	}
	return nil
}

// Rows is the number of rows added so far.
func (b *Builder) Rows() int64 { return b.rows }

// Add adds one row.
func (b *Builder) Add(r Row) error {
	if len(r.Num) != len(b.num) || len(r.Cat) != len(b.cat) {
		return fmt.Errorf("%w: row has %d numeric and %d categorical values, spec has %d and %d",
			ErrInvalid, len(r.Num), len(r.Cat), len(b.num), len(b.cat))
	}
	label := -1
	if b.labels != nil && r.Label != "" {
		i, ok := b.classIdx[r.Label]
		if !ok {
			return fmt.Errorf("%w: label %q is not a class", ErrInvalid, r.Label)
		}
		label = i
	}
	if err := b.checkPrediction(r.Class, r.Proba); err != nil {
		return err
	}
	b.rows++
	for j, x := range r.Num {
		b.num[j].add(x)
	}
	for j, v := range r.Cat {
		b.cat[j].addN(v, 1)
	}
	if b.spec.Time != "" {
		b.time.add(r.Time)
	}
	if b.target != nil {
		b.target.add(r.Target)
	}
	if b.labels != nil {
		b.addLabel(label)
	}
	b.addPrediction(r.Pred, r.Class, r.Proba)
	if b.seasonal[0] != nil {
		if m := monthOfYear(r.Time, b.isDate); m > 0 {
			ma := b.seasonal[m-1]
			ma.rows++
			if ma.target != nil {
				ma.target.add(r.Target)
			}
			for k, j := range b.seasonalIdx {
				ma.feats[k].add(r.Num[j])
			}
		}
	}
	return nil
}

func (b *Builder) addLabel(class int) {
	if class < 0 {
		b.labels.addN("", 1)
	} else {
		b.labels.addN(b.spec.Classes[class], 1)
	}
}

func (b *Builder) checkPrediction(class int, proba []float64) error {
	if b.spec.Task != Classification {
		return nil
	}
	if class < 0 || class >= len(b.spec.Classes) {
		return fmt.Errorf("%w: predicted class %d not in [0, %d)", ErrInvalid, class, len(b.spec.Classes))
	}
	if proba != nil && len(proba) != len(b.spec.Classes) {
		return fmt.Errorf("%w: %d probabilities for %d classes", ErrInvalid, len(proba), len(b.spec.Classes))
	}
	return nil
}

func (b *Builder) addPrediction(pred float64, class int, proba []float64) {
	switch b.spec.Task {
	case Regression:
		b.pred.add(pred)
	case Classification:
		b.predCls.addN(b.spec.Classes[class], 1)
		for c, a := range b.proba {
			if proba == nil {
				a.add(math.NaN())
			} else {
				a.add(proba[c])
			}
		}
	}
}

// AddMatrix adds the rows of a feature matrix: for a spec of numeric
// features only, found by name in m.
func (b *Builder) AddMatrix(m *dataset.Matrix) error {
	return b.AddBatch(Batch{X: m})
}

// AddBatch adds a block of rows. Every part the spec needs must be in the
// batch (features by name in X or Frame; time and target in Frame;
// predictions), and all parts must have the same number of rows.
func (b *Builder) AddBatch(bt Batch) error {
	n, err := bt.rows()
	if err != nil {
		return err
	}
	// Resolve every column before adding anything, so a bad batch adds nothing.
	numCols := make([]func(i int) float64, len(b.num))
	f32 := make([][]float32, len(b.num))
	for j, name := range b.spec.Numeric {
		if bt.X != nil {
			if k := slices.Index(bt.X.Names, name); k >= 0 {
				f32[j] = bt.X.Cols[k]
				continue
			}
		}
		c, err := frameCol(bt.Frame, name)
		if err != nil {
			return err
		}
		if !c.Type.Numeric() {
			return fmt.Errorf("%w: numeric feature %q is a %s column", ErrInvalid, name, c.Type)
		}
		num := c.Num
		numCols[j] = func(i int) float64 { return num[i] }
	}
	catCols := make([]*dataset.Column, len(b.cat))
	for j, name := range b.spec.Categorical {
		c, err := frameCol(bt.Frame, name)
		if err != nil {
			return err
		}
		catCols[j] = c
	}
	var timeCol *dataset.Column
	if b.spec.Time != "" {
		if timeCol, err = frameCol(bt.Frame, b.spec.Time); err != nil {
			return err
		}
		if !timeCol.Type.Numeric() {
			return fmt.Errorf("%w: time column %q is a %s column", ErrInvalid, b.spec.Time, timeCol.Type)
		}
	}
	var targetNum []float64
	var labelIdx []int
	if b.spec.Target != "" {
		c, err := frameCol(bt.Frame, b.spec.Target)
		if err != nil {
			return err
		}
		if b.target != nil {
			if !c.Type.Numeric() {
				return fmt.Errorf("%w: regression target %q is a %s column", ErrInvalid, b.spec.Target, c.Type)
			}
			targetNum = c.Num
		} else if labelIdx, err = b.labelIndex(c); err != nil {
			return err
		}
	}
	switch b.spec.Task {
	case Regression:
		if len(bt.Pred) != n {
			return fmt.Errorf("%w: %d predictions for %d rows", ErrInvalid, len(bt.Pred), n)
		}
	case Classification:
		if len(bt.Class) != n || (bt.Proba != nil && len(bt.Proba) != n) {
			return fmt.Errorf("%w: %d predicted classes and %d probability rows for %d rows", ErrInvalid, len(bt.Class), len(bt.Proba), n)
		}
		for i := range n {
			var p []float64
			if bt.Proba != nil {
				p = bt.Proba[i]
			}
			if err := b.checkPrediction(bt.Class[i], p); err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
		}
	}

	// One column at a time: the sketches stay in cache.
	b.rows += int64(n)
	for j, a := range b.num {
		if col := f32[j]; col != nil {
			for _, x := range col[:n] {
				a.add(float64(x))
			}
		} else {
			get := numCols[j]
			for i := range n {
				a.add(get(i))
			}
		}
	}
	for j, a := range b.cat {
		addCategories(a, catCols[j], n)
	}
	if timeCol != nil {
		for _, t := range timeCol.Num[:n] {
			b.time.add(t)
		}
	}
	if b.target != nil {
		for _, y := range targetNum[:n] {
			b.target.add(y)
		}
	}
	if b.labels != nil {
		for _, c := range labelIdx {
			b.addLabel(c)
		}
	}
	for i := range n {
		switch b.spec.Task {
		case Regression:
			b.pred.add(bt.Pred[i])
		case Classification:
			var p []float64
			if bt.Proba != nil {
				p = bt.Proba[i]
			}
			b.addPrediction(0, bt.Class[i], p)
		}
	}
	if b.seasonal[0] != nil {
		for i := range n {
			m := monthOfYear(timeCol.Num[i], b.isDate)
			if m == 0 {
				continue
			}
			ma := b.seasonal[m-1]
			ma.rows++
			if ma.target != nil {
				ma.target.add(targetNum[i])
			}
			for k, j := range b.seasonalIdx {
				if col := f32[j]; col != nil {
					ma.feats[k].add(float64(col[i]))
				} else {
					ma.feats[k].add(numCols[j](i))
				}
			}
		}
	}
	return nil
}

// rows is the batch's row count; every part present must agree.
func (bt *Batch) rows() (int, error) {
	n := -1
	var bad bool
	see := func(k int) {
		if n < 0 {
			n = k
		} else if k != n {
			bad = true
		}
	}
	if bt.X != nil {
		see(bt.X.Rows)
		for _, c := range bt.X.Cols {
			if len(c) != bt.X.Rows {
				bad = true
			}
		}
	}
	if bt.Frame != nil {
		see(bt.Frame.Len())
		for _, c := range bt.Frame.Columns {
			see(c.Len())
		}
	}
	if bt.Pred != nil {
		see(len(bt.Pred))
	}
	if bt.Class != nil {
		see(len(bt.Class))
	}
	if bad {
		return 0, fmt.Errorf("%w: batch parts have different numbers of rows", ErrInvalid)
	}
	return max(n, 0), nil
}

func frameCol(f *dataset.Frame, name string) (*dataset.Column, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: column %q: the batch has no frame", ErrInvalid, name)
	}
	c := f.Col(name)
	if c == nil {
		return nil, fmt.Errorf("%w: the batch has no column %q", ErrInvalid, name)
	}
	return c, nil
}

// addCategories counts a column's values: String columns by dictionary
// code (one map update per category per batch), numeric ones by value.
func addCategories(a *catAcc, c *dataset.Column, n int) {
	if !c.Type.Numeric() {
		counts := make([]int64, len(c.Dict))
		for _, code := range c.Codes[:n] {
			if code < 0 {
				a.missing++
			} else {
				counts[code]++
			}
		}
		for code, k := range counts {
			if k > 0 {
				a.addN(c.Dict[code], k)
			}
		}
		return
	}
	for _, x := range c.Num[:n] {
		if x != x {
			a.addN("", 1)
		} else {
			a.addN(formatNumber(x), 1)
		}
	}
}

// labelIndex maps a target column to class indices (-1: missing).
func (b *Builder) labelIndex(c *dataset.Column) ([]int, error) {
	out := make([]int, c.Len())
	if c.Type.Numeric() { // class indices
		for i, x := range c.Num {
			switch {
			case x != x:
				out[i] = -1
			case x != math.Trunc(x) || x < 0 || int(x) >= len(b.spec.Classes):
				return nil, fmt.Errorf("%w: target %q row %d: %v is not a class index", ErrInvalid, b.spec.Target, i, x)
			default:
				out[i] = int(x)
			}
		}
		return out, nil
	}
	codeClass := make([]int, len(c.Dict))
	for code, v := range c.Dict {
		i, ok := b.classIdx[v]
		if !ok {
			i = -2
		}
		codeClass[code] = i
	}
	for i, code := range c.Codes {
		if code < 0 {
			out[i] = -1
			continue
		}
		if codeClass[code] == -2 {
			return nil, fmt.Errorf("%w: target %q row %d: label %q is not a class", ErrInvalid, b.spec.Target, i, c.Dict[code])
		}
		out[i] = codeClass[code]
	}
	return out, nil
}

// Profile returns the profile of the rows added so far. The Builder can
// go on afterwards.
func (b *Builder) Profile() *Profile {
	o := &b.opt
	p := &Profile{
		SchemaVersion: SchemaVersion,
		Rows:          b.rows,
		Task:          b.spec.Task,
		Settings: Settings{
			Bins: o.Bins, Quantiles: o.Quantiles, MaxCategories: o.MaxCategories,
			Sketch: SketchInfo{Algorithm: "kll", K: o.SketchK},
		},
		Numeric:     make([]Numeric, 0, len(b.num)),
		Categorical: make([]Categorical, 0, len(b.cat)),
	}
	exact := true
	num := func(a *numAcc, quantiles int, withSketch bool) Numeric {
		n := a.summary(o, quantiles, withSketch)
		exact = exact && (n.Exact || n.Count == 0)
		return n
	}
	for _, a := range b.num {
		p.Numeric = append(p.Numeric, num(a, o.Quantiles, o.IncludeSketches))
	}
	for _, a := range b.cat {
		p.Categorical = append(p.Categorical, a.summary(o.MaxCategories))
	}
	if b.spec.Time != "" {
		t := &TimeRange{Column: b.spec.Time, Type: b.spec.TimeType, Missing: b.time.missing}
		if b.time.n > 0 {
			f := formatMonth
			if b.isDate {
				f = formatDate
			}
			t.Min, t.Max = f(int(b.time.min)), f(int(b.time.max))
		}
		p.Time = t
	}
	switch {
	case b.target != nil:
		n := num(b.target, o.Quantiles, false)
		p.Target = &Target{Name: b.spec.Target, Numeric: &n}
	case b.labels != nil:
		l := b.labels.summary(0)
		p.Target = &Target{Name: b.spec.Target, Labels: &l}
	}
	switch b.spec.Task {
	case Regression:
		v := num(b.pred, o.Quantiles, false)
		p.Predictions = &Predictions{Task: Regression, Value: &v}
	case Classification:
		l := b.predCls.summary(0)
		p.Predictions = &Predictions{Task: Classification, Labels: &l}
		for _, a := range b.proba {
			p.Predictions.Probabilities = append(p.Predictions.Probabilities, num(a, o.Quantiles, false))
		}
	}
	if b.seasonal[0] != nil {
		s := &Seasonal{Column: b.spec.Time, Months: make([]Month, 12)}
		for m, ma := range b.seasonal {
			mo := Month{Month: m + 1, Rows: ma.rows}
			if ma.target != nil {
				t := num(ma.target, 0, false)
				mo.Target = &t
			}
			for _, a := range ma.feats {
				mo.Features = append(mo.Features, num(a, 0, false))
			}
			s.Months[m] = mo
		}
		p.Seasonal = s
	}
	if !exact {
		p.Settings.Sketch.RankError = sketch.NormalizedRankError(o.SketchK, true)
	}
	return p
}

// Merge adds the rows profiled by other, a Builder with the same spec and
// options (typically another shard of the same data), to b.
func (b *Builder) Merge(other *Builder) error {
	if !reflect.DeepEqual(b.spec, other.spec) || b.opt != other.opt {
		return fmt.Errorf("%w: merge of builders with different specs or options", ErrInvalid)
	}
	if other == b {
		return fmt.Errorf("%w: merge of a builder into itself", ErrInvalid)
	}
	b.rows += other.rows
	for j := range b.num {
		b.num[j].merge(other.num[j])
	}
	for j := range b.cat {
		b.cat[j].merge(other.cat[j])
	}
	b.time.merge(&other.time)
	if b.target != nil {
		b.target.merge(other.target)
	}
	if b.labels != nil {
		b.labels.merge(other.labels)
	}
	if b.pred != nil {
		b.pred.merge(other.pred)
	}
	if b.predCls != nil {
		b.predCls.merge(other.predCls)
	}
	for c := range b.proba {
		b.proba[c].merge(other.proba[c])
	}
	if b.seasonal[0] != nil {
		for m, ma := range b.seasonal {
			om := other.seasonal[m]
			ma.rows += om.rows
			if ma.target != nil {
				ma.target.merge(om.target)
			}
			for k := range ma.feats {
				ma.feats[k].merge(om.feats[k])
			}
		}
	}
	return nil
}
