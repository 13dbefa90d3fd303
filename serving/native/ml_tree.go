package native

import (
	"math"
	"sort"
	"unsafe"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	register(domainML, "TreeEnsembleRegressor", []int{1, 3}, buildTreeRegressor)
	register(domainML, "TreeEnsembleClassifier", []int{1, 3}, buildTreeClassifier)
	register(domainML, "TreeEnsemble", []int{5}, buildTreeEnsemble)
}

// Node modes. modeLeaf is 0 so that leaves are easy to test.
const (
	modeLeaf uint8 = iota
	modeLEQ
	modeLT
	modeGTE
	modeGT
	modeEQ
	modeNEQ
	modeMember
)

var modeNames = map[string]uint8{
	"LEAF": modeLeaf, "BRANCH_LEQ": modeLEQ, "BRANCH_LT": modeLT, "BRANCH_GTE": modeGTE,
	"BRANCH_GT": modeGT, "BRANCH_EQ": modeEQ, "BRANCH_NEQ": modeNEQ,
}

type aggregate uint8

const (
	aggAverage aggregate = iota // the numbering of TreeEnsemble (opset 5)
	aggSum
	aggMin
	aggMax
)

// treeNode is a node of a compiled ensemble. Branches compare x[feature]
// with value and go to node t or f; leaves hold their weights at
// weights[t:t+f], and value is their first weight.
type treeNode[T float] struct {
	value       T
	feature     int32
	mode        uint8
	missingTrue bool
	t, f        int32
	set         int32 // modeMember: index in ensemble.sets
}

type treeWeight[T float] struct {
	target int32
	value  T
}

// ensemble is a compiled tree ensemble; T is the type thresholds and scores
// are kept in: float64 for DOUBLE inputs, float32 otherwise, as in ONNX
// Runtime.
type ensemble[T float] struct {
	nodes      []treeNode[T]
	roots      []int32
	weights    []treeWeight[T]
	sets       [][]T
	nTargets   int
	agg        aggregate
	post       postTransform
	base       []T
	origin     T    // base[0] when there is exactly one base value
	useBase    bool // one base value per target
	maxFeature int
	simple     bool        // every branch is BRANCH_LEQ without missing-value tracking
	fast       *fastForest // float32 thresholds, every branch a comparison: the fast walks
}

// leaf walks a tree. A branch takes its true side when the comparison holds,
// or when x is NaN and missing values track true; NaN fails every
// comparison but NEQ.
func (e *ensemble[T]) leaf(root int32, x []T) *treeNode[T] {
	n := &e.nodes[root]
	if e.simple {
		for n.mode != modeLeaf {
			next := n.f // a conditional move rather than a mispredicted branch
			if x[n.feature] <= n.value {
				next = n.t
			}
			n = &e.nodes[next]
		}
		return n
	}
	for n.mode != modeLeaf {
		v := x[n.feature]
		var ok bool
		switch n.mode {
		case modeLEQ:
			ok = v <= n.value
		case modeLT:
			ok = v < n.value
		case modeGTE:
			ok = v >= n.value
		case modeGT:
			ok = v > n.value
		case modeEQ:
			ok = v == n.value
		case modeNEQ:
			ok = v != n.value
		case modeMember:
			for _, m := range e.sets[n.set] {
				if v == m {
					ok = true
					break
				}
			}
		}
		if !ok && n.missingTrue && v != v {
			ok = true
		}
		if ok {
			n = &e.nodes[n.t]
		} else {
			n = &e.nodes[n.f]
		}
	}
	return n
}

// score1 aggregates the trees for one target over rows of x (ONNX
// Runtime's ProcessTreeNodePrediction1 and FinalizeScores1): only the first
// weight of each leaf counts. Each tree walks every row before the next
// tree starts (as ONNX Runtime does, for the caches); each row still adds
// the trees in order.
func (e *ensemble[T]) score1(x []T, feats int, scores []T, has []bool) {
	clear(scores)
	clear(has)
	for _, r := range e.roots {
		for i := range scores {
			e.add1(scores, has, i, e.leaf(r, x[i*feats:(i+1)*feats]).value)
		}
	}
	for i := range scores {
		scores[i] = e.finalize1(scores[i], has[i])
	}
}

// add1 aggregates the weight w of a tree into the score of row i.
func (e *ensemble[T]) add1(scores []T, has []bool, i int, w T) {
	switch e.agg {
	case aggSum, aggAverage:
		scores[i] += w
	case aggMin:
		if !has[i] || w < scores[i] {
			scores[i] = w
		}
		has[i] = true
	case aggMax:
		if !has[i] || w > scores[i] {
			scores[i] = w
		}
		has[i] = true
	}
}

// treeBlock is how many rows the trees walk together: their keys, and
// the tree being walked, stay in the L1 cache.
const treeBlock = 128

func (e *ensemble[T]) finalize1(score T, has bool) T {
	switch e.agg {
	case aggSum:
		score += e.origin
	case aggAverage:
		score = score/T(len(e.roots)) + e.origin
	default:
		if has {
			score += e.origin
		} else {
			score = e.origin
		}
	}
	if e.post == postProbit {
		return T(probit32(float32(score)))
	}
	return score
}

// scoreN accumulates every weight of the leaves reached into preds (one per
// target), recording in has which targets got one.
func (e *ensemble[T]) scoreN(x []T, preds []T, has []bool) {
	clear(preds)
	clear(has)
	for _, r := range e.roots {
		e.addLeaf(preds, has, e.leaf(r, x))
	}
}

// addLeaf aggregates the weights of a leaf into preds.
func (e *ensemble[T]) addLeaf(preds []T, has []bool, lf *treeNode[T]) {
	for _, w := range e.weights[lf.t : lf.t+lf.f] {
		i := w.target
		switch e.agg {
		case aggSum, aggAverage:
			preds[i] += w.value
		case aggMin:
			if !has[i] || w.value < preds[i] {
				preds[i] = w.value
			}
		case aggMax:
			if !has[i] || w.value > preds[i] {
				preds[i] = w.value
			}
		}
		has[i] = true
	}
}

// finalizeN adds the base values (FinalizeScores of the regression
// aggregators). A target that no leaf touched scores 0, base value or not,
// as in ONNX Runtime.
func (e *ensemble[T]) finalizeN(preds []T, has []bool) {
	for i := range preds {
		var v T
		switch e.agg {
		case aggSum:
			v = preds[i]
			if e.useBase {
				v += e.base[i]
			}
		case aggAverage:
			v = preds[i] / T(len(e.roots))
			if e.useBase {
				v += e.base[i]
			}
		default:
			if e.useBase {
				v = e.base[i]
			}
			if has[i] {
				v += preds[i]
			}
		}
		if !has[i] {
			v = 0
		}
		preds[i] = v
	}
}

// rowsT reads the [N, F] or [F] input as N rows of F features of type T.
func rowsT[T float](c *runCtx, x *tensor.Tensor, tmp *[]T) (rows, feats int, data []T, err error) {
	switch len(x.Shape) {
	case 1:
		rows, feats = 1, int(x.Shape[0])
	case 2:
		rows, feats = int(x.Shape[0]), int(x.Shape[1])
	default:
		return 0, 0, nil, invalidf("input has shape %s; expected [N, F] or [F]", shapeString(x.Shape))
	}
	n := rows * feats
	var z T
	switch x.DType {
	case tensor.Float32:
		if _, ok := any(z).(float32); ok {
			return rows, feats, view[T](x.Raw)[:n], nil
		}
		d := growT(tmp, n)
		for i, v := range view[float32](x.Raw)[:n] {
			d[i] = T(v)
		}
		return rows, feats, d, nil
	case tensor.Float64:
		if _, ok := any(z).(float64); ok {
			return rows, feats, view[T](x.Raw)[:n], nil
		}
		d := growT(tmp, n)
		for i, v := range view[float64](x.Raw)[:n] {
			d[i] = T(v)
		}
		return rows, feats, d, nil
	case tensor.Int64:
		d := growT(tmp, n)
		for i, v := range view[int64](x.Raw)[:n] {
			d[i] = T(v)
		}
		return rows, feats, d, nil
	case tensor.Int32:
		d := growT(tmp, n)
		for i, v := range view[int32](x.Raw)[:n] {
			d[i] = T(v)
		}
		return rows, feats, d, nil
	}
	return 0, 0, nil, invalidf("input is %s", x.DType)
}

// treeKernel runs a regressor (TreeEnsembleRegressor, TreeEnsemble) or a
// classifier (TreeEnsembleClassifier).
type treeKernel[T float] struct {
	e *ensemble[T]
	// outType is the element type of the scores: FLOAT for the opset 1/3
	// operators, the input's for TreeEnsemble.
	outType tensor.DType
	cls     *treeClassifier
	e32     *ensemble[float32] // e, when it has the fast walks
}

type treeClassifier struct {
	ints        []int64
	strs        [][]byte
	binary      bool // two labels, one class id in the weights
	allPositive bool
}

func (k *treeKernel[T]) run(c *runCtx, in, out []*tensor.Tensor) error {
	e := k.e
	rows, feats, x, err := rowsT(c, in[0], scratchT[T](c))
	if err != nil {
		return err
	}
	if e.maxFeature >= feats {
		return invalidf("the trees read feature %d but the input has %d features", e.maxFeature, feats)
	}
	nt := e.nTargets
	if tooLarge(rows, nt) {
		return invalidf("%d rows of %d scores is too large", rows, nt)
	}
	t, _ := c.sc.task.(*treeTask[T])
	if t == nil {
		t = &treeTask[T]{}
		c.sc.task = t
	}
	*t = treeTask[T]{k: k, x: x, feats: feats}
	if k.cls != nil {
		if y := out[0]; y != nil {
			if k.cls.strs != nil {
				ensure1(y, tensor.String, int64(rows))
			} else {
				ensure1(y, tensor.Int64, int64(rows))
			}
			t.label = y
		}
		if len(out) > 1 && out[1] != nil {
			ensure2(out[1], tensor.Float32, int64(rows), int64(nt))
			t.z = view[float32](out[1].Raw)
		}
	} else {
		ensure2(out[0], k.outType, int64(rows), int64(nt))
		t.y = out[0]
	}
	// Scores in T, and for several targets float32 copies for the
	// post-transforms, in one buffer of 8-byte words.
	size := int(unsafe.Sizeof(T(0)))
	nf := 0
	if nt > 1 {
		nf = rows * nt
	}
	buf := growI64(&c.sc.i64, (rows*nt*size+nf*4+7)/8)
	t.scores = view[T](bytesOf(buf))[:rows*nt]
	t.f = view[float32](bytesOf(buf)[rows*nt*size:])[:nf]
	flags := growBool(&c.sc.b, rows*nt+rows)
	t.has, t.nan = flags[:rows*nt], flags[rows*nt:]
	if e.fast != nil {
		trees := len(e.roots)
		ints := growI32(&c.sc.i32, rows*feats+rows+2*trees)
		t.xk, ints = ints[:rows*feats], ints[rows*feats:]
		t.pos, ints = ints[:rows], ints[rows:]
		t.tpos, t.tat = ints[:trees], ints[trees:]
	}
	units := (rows + treeUnit - 1) / treeUnit
	threads := 1
	if rows >= parallelRows && rows*len(e.roots) >= treeParallelWork {
		threads = c.threads()
	}
	parallelFor(c.job(), t, units, threads)
	*t = treeTask[T]{} // drop the references to the run's buffers
	return nil
}

// fewRows is the number of rows under which each row walks every tree at
// once (fastForest.scoreRows) rather than each tree every row. Such a run
// is never split across threads.
const fewRows = 8

// treeUnit is the number of rows of the ranges a parallel run is cut into
// (the last one aside).
const treeUnit = 16

// treeParallelWork is the number of (row, tree) walks from which a run is
// split across threads.
const treeParallelWork = 1 << 12

// scratchT is the node's scratch buffer of T.
func scratchT[T float](c *runCtx) *[]T {
	if p, ok := any(&c.sc.f32).(*[]T); ok {
		return p
	}
	return any(&c.sc.f64).(*[]T)
}

// treeTask is a run of a tree kernel: rows of x go by blocks of treeBlock,
// in ranges of treeUnit rows that threads can share. Every buffer has a
// part per row, so that ranges need nothing of their own.
type treeTask[T float] struct {
	k      *treeKernel[T]
	x      []T
	feats  int
	scores []T            // rows·nTargets: the aggregated scores
	has    []bool         // rows·nTargets: the targets a leaf touched
	f      []float32      // rows·nTargets if nTargets > 1: scores for the post-transform
	nan    []bool         // rows: the row holds a NaN (fast walks)
	xk     []int32        // rows·feats: the keys of x (fast walks)
	pos    []int32        // rows: where each row is in the tree being walked
	tpos   []int32        // trees: where a row is in each tree (runs of few rows)
	tat    []int32        // trees: scratch of fastForest.rowWalk
	y      *tensor.Tensor // regressor: the scores
	label  *tensor.Tensor // classifier: the labels, if wanted
	z      []float32      // classifier: the scores, if wanted
}

func (t *treeTask[T]) runRange(lo, hi int) {
	rows := len(t.nan)
	for r0 := lo * treeUnit; r0 < min(hi*treeUnit, rows); r0 += treeBlock {
		t.block(r0, min(r0+treeBlock, hi*treeUnit, rows))
	}
}

// block scores the rows [r0, r1) and writes their outputs.
func (t *treeTask[T]) block(r0, r1 int) {
	k, e := t.k, t.k.e
	feats, nt := t.feats, e.nTargets
	x := t.x[r0*feats : r1*feats]
	scores, has := t.scores[r0*nt:r1*nt], t.has[r0*nt:r1*nt]
	switch {
	case e.fast != nil:
		// T is float32.
		x32 := view[float32](bytesOf(x))
		xk, nan := t.xk[r0*feats:r1*feats], t.nan[r0:r1]
		keys(x32, xk, feats, nan)
		s32 := view[float32](bytesOf(scores))[:len(scores)]
		switch {
		case len(t.nan) < fewRows:
			// Too few rows for the tree-by-tree walks to overlap: each
			// row walks every tree at once.
			e.fast.scoreRows(k.e32, x32, xk, feats, s32, has, nan, t.tpos, t.tat)
		case nt == 1:
			e.fast.score1(k.e32, x32, xk, feats, s32, has, nan, t.pos[r0:r1])
		default:
			e.fast.scoreN(k.e32, x32, xk, feats, s32, has, nan, t.pos[r0:r1])
		}
	case nt == 1:
		e.score1(x, feats, scores, has)
	default:
		for r := range r1 - r0 {
			e.scoreN(x[r*feats:(r+1)*feats], scores[r*nt:(r+1)*nt], has[r*nt:(r+1)*nt])
		}
	}
	switch {
	case k.cls != nil:
		t.classify(r0, r1)
	case nt == 1:
		if k.outType == tensor.Float64 {
			y := view[float64](t.y.Raw)[r0:r1]
			for i, s := range scores {
				y[i] = float64(s)
			}
		} else {
			y := view[float32](t.y.Raw)[r0:r1]
			for i, s := range scores {
				y[i] = float32(s)
			}
		}
	default:
		for r := r0; r < r1; r++ {
			preds, f := t.scores[r*nt:(r+1)*nt], t.f[r*nt:(r+1)*nt]
			e.finalizeN(preds, t.has[r*nt:(r+1)*nt])
			if e.post == postNone && k.outType == tensor.Float64 {
				dst := view[float64](t.y.Raw)[r*nt : (r+1)*nt]
				for i, v := range preds {
					dst[i] = float64(v)
				}
				continue
			}
			for i, v := range preds {
				f[i] = float32(v)
			}
			transformRow(e.post, f)
			if k.outType == tensor.Float64 {
				dst := view[float64](t.y.Raw)[r*nt : (r+1)*nt]
				for i, v := range f {
					dst[i] = float64(v)
				}
			} else {
				copy(view[float32](t.y.Raw)[r*nt:(r+1)*nt], f)
			}
		}
	}
}

// classify is TreeEnsembleClassifier's output for the rows [r0, r1), whose
// scores are aggregated: ONNX Runtime's TreeAggregatorClassifier.
func (t *treeTask[T]) classify(r0, r1 int) {
	e, cl := t.k.e, t.k.cls
	nc := e.nTargets
	for r := r0; r < r1; r++ {
		preds, has, f := t.scores[r*nc:(r+1)*nc], t.has[r*nc:(r+1)*nc], t.f[r*nc:(r+1)*nc]
		label, literal, size, add := finalizeClass(cl, e, preds, has)
		if y := t.label; y != nil {
			switch {
			case cl.strs != nil:
				y.Strings[r] = cl.strs[label]
			case literal:
				view[int64](y.Raw)[r] = int64(label)
			default:
				view[int64](y.Raw)[r] = cl.ints[label]
			}
		}
		if t.z != nil {
			for i := 0; i < size; i++ {
				f[i] = 0
				if has[i] {
					f[i] = float32(preds[i])
				}
			}
			writeScores(e.post, f[:size], t.z[r*nc:(r+1)*nc], add)
		}
	}
}

// finalizeClass adds the base values and picks the label of one row, as
// ONNX Runtime's TreeAggregatorClassifier.FinalizeScores. It returns the
// label index (or, when literal, the label itself: ONNX Runtime answers 1
// or 0 for a two-class model whose weights name both classes), how many
// scores to write, and how to make the second column of a binary model.
func finalizeClass[T float](cl *treeClassifier, e *ensemble[T], preds []T, has []bool) (label int, literal bool, size, add int) {
	nc := e.nTargets
	if nc > 2 {
		for i, b := range e.base[:min(len(e.base), nc)] {
			if !has[i] {
				has[i], preds[i] = true, b
			} else {
				preds[i] += b
			}
		}
		best := -1
		var bw T
		for i, v := range preds {
			if has[i] && (best < 0 || v > bw) {
				best, bw = i, v
			}
		}
		return max(best, 0), false, nc, -1
	}
	add, size = -1, 2
	switch len(e.base) {
	case 2:
		if has[1] {
			// base[0] is not used: ONNX Runtime assumes both are equal.
			preds[1] = e.base[1] + preds[0]
			preds[0] = -preds[1]
		} else {
			preds[1] += e.base[1]
			preds[0] += e.base[0]
		}
	case 1:
		preds[0] += e.base[0]
		if !has[1] {
			size = 1
		}
	case 0:
		add = 3
		if !has[1] {
			size = 1
		}
	}
	var pos T
	switch {
	case size == 2 && has[1]:
		pos = preds[1]
	case has[0]:
		pos = preds[0]
	}
	if !cl.binary {
		if pos > 0 {
			return 1, cl.strs == nil, size, add
		}
		return 0, cl.strs == nil, size, add
	}
	if cl.allPositive {
		if pos > 0.5 {
			return 1, false, size, 0
		}
		return 0, false, size, 1
	}
	if pos > 0 {
		return 1, false, size, 2
	}
	return 0, false, size, 3
}

// Building.

func buildTreeRegressor(b *builder) error  { return buildTreeV3(b, false) }
func buildTreeClassifier(b *builder) error { return buildTreeV3(b, true) }

func buildTreeV3(b *builder, classifier bool) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	if b.in[0].dtype == tensor.Float64 {
		return buildTreeV3T[float64](b, classifier)
	}
	return buildTreeV3T[float32](b, classifier)
}

// floatsOrTensor reads name (FLOATS) or name_as_tensor (a DOUBLE tensor, from
// opset 3) as T.
func floatsOrTensor[T float](b *builder, name string) ([]T, error) {
	fs, ok, err := b.attrs.floats(name)
	if err != nil {
		return nil, err
	}
	var okT bool
	var t *tensor.Tensor
	if b.version >= 3 {
		if t, okT, err = b.attrs.tensor(name + "_as_tensor"); err != nil {
			return nil, err
		}
	}
	if ok && okT {
		return nil, invalidModelf("both %s and %s_as_tensor are set", name, name)
	}
	if okT {
		vs, err := tensorAsF64(t)
		if err != nil {
			return nil, err
		}
		out := make([]T, len(vs))
		for i, v := range vs {
			out[i] = T(v)
		}
		return out, nil
	}
	out := make([]T, len(fs))
	for i, v := range fs {
		out[i] = T(v)
	}
	return out, nil
}

func buildTreeV3T[T float](b *builder, classifier bool) error {
	a := b.attrs
	prefix := "target_"
	if classifier {
		prefix = "class_"
	}
	intNames := []string{"nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_truenodeids",
		"nodes_falsenodeids", "nodes_missing_value_tracks_true", prefix + "treeids", prefix + "nodeids", prefix + "ids"}
	var lists [9][]int64
	for i, name := range intNames {
		var err error
		if lists[i], _, err = a.ints(name); err != nil {
			return err
		}
	}
	treeIDs, nodeIDs, featIDs, trueIDs, falseIDs, missing := lists[0], lists[1], lists[2], lists[3], lists[4], lists[5]
	wTrees, wNodes, wIDs := lists[6], lists[7], lists[8]
	modeStrs, _, err := a.strs("nodes_modes")
	if err != nil {
		return err
	}
	values, err := floatsOrTensor[T](b, "nodes_values")
	if err != nil {
		return err
	}
	wValues, err := floatsOrTensor[T](b, prefix+"weights")
	if err != nil {
		return err
	}
	base, err := floatsOrTensor[T](b, "base_values")
	if err != nil {
		return err
	}
	n := len(nodeIDs)
	for i, l := range []int{len(treeIDs), len(featIDs), len(trueIDs), len(falseIDs), len(modeStrs), len(values)} {
		if l != n {
			names := []string{"nodes_treeids", "nodes_featureids", "nodes_truenodeids", "nodes_falsenodeids", "nodes_modes", "nodes_values"}
			return invalidModelf("%s has %d entries, nodes_nodeids %d", names[i], l, n)
		}
	}
	if len(wTrees) != len(wIDs) || len(wNodes) != len(wIDs) || len(wValues) != len(wIDs) {
		return invalidModelf("the %s* attributes have different lengths", prefix)
	}
	e := &ensemble[T]{base: base}
	var cl *treeClassifier
	if classifier {
		cl = &treeClassifier{}
		li, _, err := a.ints("classlabels_int64s")
		if err != nil {
			return err
		}
		ls, _, err := a.strs("classlabels_strings")
		if err != nil {
			return err
		}
		if (len(li) > 0) == (len(ls) > 0) {
			return invalidModelf("exactly one of classlabels_int64s and classlabels_strings must be set")
		}
		cl.ints, cl.strs = li, ls
		e.nTargets = len(li) + len(ls)
		if e.nTargets < 2 {
			return invalidModelf("a classifier needs at least 2 class labels, has %d", e.nTargets)
		}
		e.agg = aggSum // the classifier has no aggregate_function
	} else {
		nt, err := a.int("n_targets", 0)
		if err != nil {
			return err
		}
		if nt < 1 || nt > 1<<20 {
			return invalidModelf("n_targets=%d", nt)
		}
		e.nTargets = int(nt)
		agg, err := a.str("aggregate_function", "SUM")
		if err != nil {
			return err
		}
		switch agg {
		case "SUM":
			e.agg = aggSum
		case "AVERAGE":
			e.agg = aggAverage
		case "MIN":
			e.agg = aggMin
		case "MAX":
			e.agg = aggMax
		default:
			return invalidModelf("aggregate_function %q is not SUM, AVERAGE, MIN or MAX", agg)
		}
	}
	ps, err := a.str("post_transform", "NONE")
	if err != nil {
		return err
	}
	if e.post, err = parsePost(ps); err != nil {
		return err
	}
	if len(base) == 1 {
		e.origin = base[0]
	}
	e.useBase = len(base) == e.nTargets

	// Nodes, indexed by (tree id, node id). A tree starts wherever the tree
	// id changes, as in ONNX Runtime.
	type key struct{ tree, node int64 }
	idx := make(map[key]int32, n)
	e.nodes = make([]treeNode[T], n)
	for i := 0; i < n; i++ {
		k := key{treeIDs[i], nodeIDs[i]}
		if _, dup := idx[k]; dup {
			return invalidModelf("node %d of tree %d is defined twice", k.node, k.tree)
		}
		idx[k] = int32(i)
		m, ok := modeNames[string(modeStrs[i])]
		if !ok {
			return invalidModelf("node mode %q", modeStrs[i])
		}
		nd := &e.nodes[i]
		nd.mode, nd.value = m, values[i]
		if featIDs[i] > math.MaxInt32 || featIDs[i] < 0 && m != modeLeaf {
			return invalidModelf("node %d of tree %d reads feature %d", k.node, k.tree, featIDs[i])
		}
		if featIDs[i] > 0 {
			nd.feature = int32(featIDs[i])
		}
		e.maxFeature = max(e.maxFeature, int(nd.feature))
		nd.missingTrue = i < len(missing) && missing[i] == 1
		if i == 0 || treeIDs[i] != treeIDs[i-1] {
			e.roots = append(e.roots, int32(i))
		}
	}
	for i := range e.nodes {
		nd := &e.nodes[i]
		if nd.mode == modeLeaf {
			continue
		}
		t, okT := idx[key{treeIDs[i], trueIDs[i]}]
		f, okF := idx[key{treeIDs[i], falseIDs[i]}]
		if !okT || !okF {
			return invalidModelf("node %d of tree %d points to a node that does not exist", nodeIDs[i], treeIDs[i])
		}
		if t == int32(i) || f == int32(i) {
			return invalidModelf("node %d of tree %d points to itself", nodeIDs[i], treeIDs[i])
		}
		nd.t, nd.f = t, f
	}
	// Leaf weights, sorted by (tree, node), then in attribute order.
	order := make([]int, len(wIDs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool {
		a, b := order[x], order[y]
		if wTrees[a] != wTrees[b] {
			return wTrees[a] < wTrees[b]
		}
		return wNodes[a] < wNodes[b]
	})
	for _, w := range order {
		i, ok := idx[key{wTrees[w], wNodes[w]}]
		if !ok {
			return invalidModelf("a weight is for node %d of tree %d, which does not exist", wNodes[w], wTrees[w])
		}
		nd := &e.nodes[i]
		if nd.mode != modeLeaf {
			continue // ONNX Runtime ignores weights of branches (old converters wrote some)
		}
		if wIDs[w] < 0 || wIDs[w] >= int64(e.nTargets) {
			return invalidModelf("a weight is for target %d; there are %d", wIDs[w], e.nTargets)
		}
		if nd.f == 0 {
			nd.t = int32(len(e.weights))
			nd.value = wValues[w]
		}
		nd.f++
		e.weights = append(e.weights, treeWeight[T]{int32(wIDs[w]), wValues[w]})
	}
	for i, nd := range e.nodes {
		if nd.mode == modeLeaf && nd.f == 0 {
			return invalidModelf("leaf %d of tree %d has no weight", nodeIDs[i], treeIDs[i])
		}
	}
	if err := e.prepare(); err != nil {
		return err
	}
	nDim := batchDim(b.in[0].shape)
	if cl != nil {
		classes := map[int64]bool{}
		cl.allPositive = true
		for i, id := range wIDs {
			classes[id] = true
			if wValues[i] < 0 {
				cl.allPositive = false
			}
		}
		cl.binary = e.nTargets == 2 && len(classes) == 1
		yType := tensor.Int64
		if cl.strs != nil {
			yType = tensor.String
		}
		b.outputs(valueType{yType, []int64{nDim}}, valueType{tensor.Float32, []int64{nDim, int64(e.nTargets)}})
	} else {
		b.outputs(valueType{tensor.Float32, []int64{nDim, int64(e.nTargets)}})
	}
	b.k = newTreeKernel(e, tensor.Float32, cl)
	return nil
}

// prepare checks the trees and picks the fast walk when it applies.
func (e *ensemble[T]) prepare() error {
	e.simple = true
	for _, n := range e.nodes {
		if n.mode != modeLeaf && (n.mode != modeLEQ || n.missingTrue) {
			e.simple = false
		}
	}
	if err := e.checkAcyclic(); err != nil {
		return err
	}
	if e32, ok := any(e).(*ensemble[float32]); ok {
		e32.fast = newFastForest(e32)
	}
	return nil
}

// newTreeKernel is the kernel of a prepared ensemble.
func newTreeKernel[T float](e *ensemble[T], outType tensor.DType, cl *treeClassifier) *treeKernel[T] {
	k := &treeKernel[T]{e: e, outType: outType, cls: cl}
	if e.fast != nil {
		k.e32 = any(e).(*ensemble[float32])
	}
	return k
}

// checkAcyclic makes sure that every walk from a root ends at a leaf.
func (e *ensemble[T]) checkAcyclic() error {
	state := make([]uint8, len(e.nodes)) // 0 new, 1 on the path, 2 done
	type frame struct {
		node int32
		next uint8 // 0: visit t, 1: visit f, 2: done
	}
	var stack []frame
	for _, r := range e.roots {
		if state[r] == 2 {
			continue
		}
		stack = append(stack[:0], frame{node: r})
		state[r] = 1
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			nd := &e.nodes[top.node]
			if nd.mode == modeLeaf || top.next == 2 {
				state[top.node] = 2
				stack = stack[:len(stack)-1]
				continue
			}
			child := nd.t
			if top.next == 1 {
				child = nd.f
			}
			top.next++
			switch state[child] {
			case 1:
				return invalidModelf("the trees have a cycle")
			case 0:
				state[child] = 1
				stack = append(stack, frame{node: child})
			}
		}
	}
	return nil
}

// TreeEnsemble (ai.onnx.ml 5).

func buildTreeEnsemble(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	switch b.in[0].dtype {
	case tensor.Float32:
		return buildTreeV5T[float32](b)
	case tensor.Float64:
		return buildTreeV5T[float64](b)
	}
	return unsupportedf("on %s", b.in[0].dtype.ONNX())
}

func tensorAttrT[T float](b *builder, name string, required bool) ([]T, error) {
	t, ok, err := b.attrs.tensor(name)
	if err != nil {
		return nil, err
	}
	if !ok {
		if required {
			return nil, invalidModelf("attribute %s is required", name)
		}
		return nil, nil
	}
	vs, err := tensorAsF64(t)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(vs))
	for i, v := range vs {
		out[i] = T(v)
	}
	return out, nil
}

func buildTreeV5T[T float](b *builder) error {
	a := b.attrs
	names := [8]string{"tree_roots", "nodes_featureids", "nodes_truenodeids", "nodes_trueleafs",
		"nodes_falsenodeids", "nodes_falseleafs", "leaf_targetids", "nodes_missing_value_tracks_true"}
	var lists [8][]int64
	for i, name := range names {
		v, ok, err := a.ints(name)
		if err != nil {
			return err
		}
		if !ok && i < 7 {
			return invalidModelf("attribute %s is required", name)
		}
		lists[i] = v
	}
	roots, feats, trueIDs, trueLeaf, falseIDs, falseLeaf, leafTargets, missing :=
		lists[0], lists[1], lists[2], lists[3], lists[4], lists[5], lists[6], lists[7]
	modesT, ok, err := a.tensor("nodes_modes")
	if err != nil {
		return err
	}
	if !ok {
		return invalidModelf("attribute nodes_modes is required")
	}
	modes, err := tensorAsI64(modesT)
	if err != nil {
		return err
	}
	splits, err := tensorAttrT[T](b, "nodes_splits", true)
	if err != nil {
		return err
	}
	weights, err := tensorAttrT[T](b, "leaf_weights", true)
	if err != nil {
		return err
	}
	members, err := tensorAttrT[T](b, "membership_values", false)
	if err != nil {
		return err
	}
	n, nl := len(feats), len(leafTargets)
	for i, l := range []int{len(trueIDs), len(trueLeaf), len(falseIDs), len(falseLeaf), len(modes), len(splits)} {
		if l != n {
			names := []string{"nodes_truenodeids", "nodes_trueleafs", "nodes_falsenodeids", "nodes_falseleafs", "nodes_modes", "nodes_splits"}
			return invalidModelf("%s has %d entries, nodes_featureids %d", names[i], l, n)
		}
	}
	if len(weights) != nl {
		return invalidModelf("leaf_weights has %d entries, leaf_targetids %d", len(weights), nl)
	}
	if len(missing) != 0 && len(missing) != n {
		return invalidModelf("nodes_missing_value_tracks_true has %d entries, nodes_featureids %d", len(missing), n)
	}
	e := &ensemble[T]{}
	nt, err := a.int("n_targets", 0)
	if err != nil {
		return err
	}
	if nt < 1 || nt > 1<<20 {
		return invalidModelf("n_targets=%d", nt)
	}
	e.nTargets = int(nt)
	agg, err := a.int("aggregate_function", 1)
	if err != nil {
		return err
	}
	if agg < 0 || agg > 3 {
		return invalidModelf("aggregate_function=%d", agg)
	}
	e.agg = aggregate(agg)
	post, err := a.int("post_transform", 0)
	if err != nil {
		return err
	}
	// The integer codes: 0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO, 4 PROBIT.
	posts := []postTransform{postNone, postSoftmax, postLogistic, postSoftmaxZero, postProbit}
	if post < 0 || post >= int64(len(posts)) {
		return invalidModelf("post_transform=%d", post)
	}
	e.post = posts[post]

	// Branches first, then one node per leaf.
	e.nodes = make([]treeNode[T], n+nl)
	child := func(id, leaf int64) (int32, bool) {
		if leaf != 0 {
			return int32(n) + int32(id), id >= 0 && id < int64(nl)
		}
		return int32(id), id >= 0 && id < int64(n)
	}
	next := 0 // position in membership_values
	for i := 0; i < n; i++ {
		nd := &e.nodes[i]
		if modes[i] < 0 || modes[i] > 6 {
			return invalidModelf("node %d has mode %d", i, modes[i])
		}
		nd.mode = uint8(modes[i]) + modeLEQ
		if feats[i] < 0 || feats[i] > math.MaxInt32 {
			return invalidModelf("node %d reads feature %d", i, feats[i])
		}
		nd.feature = int32(feats[i])
		e.maxFeature = max(e.maxFeature, int(nd.feature))
		nd.value = splits[i]
		nd.missingTrue = len(missing) > 0 && missing[i] == 1
		var okT, okF bool
		nd.t, okT = child(trueIDs[i], trueLeaf[i])
		nd.f, okF = child(falseIDs[i], falseLeaf[i])
		if !okT || !okF {
			return invalidModelf("node %d points to a node or leaf that does not exist", i)
		}
		if nd.mode == modeMember {
			// membership_values lists the sets of the MEMBER nodes in
			// order, each ended by NaN.
			nd.set = int32(len(e.sets))
			var s []T
			for next < len(members) && members[next] == members[next] {
				s = append(s, members[next])
				next++
			}
			next++
			e.sets = append(e.sets, s)
		}
	}
	for j := 0; j < nl; j++ {
		if leafTargets[j] < 0 || leafTargets[j] >= nt {
			return invalidModelf("leaf %d is for target %d; there are %d", j, leafTargets[j], nt)
		}
		nd := &e.nodes[n+j]
		nd.mode, nd.value, nd.t, nd.f = modeLeaf, weights[j], int32(len(e.weights)), 1
		e.weights = append(e.weights, treeWeight[T]{int32(leafTargets[j]), weights[j]})
	}
	for _, r := range roots {
		if r < 0 || r >= int64(n) {
			return invalidModelf("tree root %d does not exist", r)
		}
		// A tree that is a single leaf: both branches of its root name it.
		if trueIDs[r] == falseIDs[r] && trueLeaf[r] != 0 && falseLeaf[r] != 0 {
			e.roots = append(e.roots, int32(n)+int32(trueIDs[r]))
			continue
		}
		e.roots = append(e.roots, int32(r))
	}
	if err := e.prepare(); err != nil {
		return err
	}
	b.k = newTreeKernel(e, b.in[0].dtype, nil)
	b.outputs(valueType{b.in[0].dtype, []int64{batchDim(b.in[0].shape), nt}})
	return nil
}
