package native

import (
	"math"
	"sort"

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
	key         int32 // thresholdKey(value) in a keyed ensemble
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
	simple     bool // every branch is BRANCH_LEQ without missing-value tracking
	keyed      bool // simple, with float32 thresholds: walks compare int32 keys
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

// Fast walks. In an ensemble of float32 thresholds whose branches are all
// BRANCH_LEQ without missing-value tracking, each threshold and each input
// value also get an int32 key that orders like the float (NaN inputs above
// everything, NaN thresholds below), so that a branch compares integers,
// which compiles to a conditional move instead of a branch the processor
// mispredicts half the time on real data.

// floatKey maps a float32 to an int32 with the same order; NaN is the
// largest key, so that x <= t fails for a NaN input.
func floatKey(f float32) int32 {
	if f != f {
		return math.MaxInt32
	}
	if f == 0 {
		return 0 // -0 == +0
	}
	b := int32(math.Float32bits(f))
	return b ^ (b >> 31 & 0x7fffffff)
}

// thresholdKey is floatKey for thresholds: NaN is the smallest key, so that
// x <= NaN fails for every x.
func thresholdKey(f float32) int32 {
	if f != f {
		return math.MinInt32
	}
	return floatKey(f)
}

// branch returns the child of n that x (a key) goes to, without a jump.
func branch[T float](n *treeNode[T], x int32) int32 {
	m := int32((int64(n.key) - int64(x)) >> 63) // -1 when x > threshold
	return n.t ^ (n.t^n.f)&m
}

// leafKey walks one tree with the keys of one row.
func (e *ensemble[T]) leafKey(root int32, xk []int32) *treeNode[T] {
	nodes := e.nodes
	n := &nodes[root]
	for n.mode != modeLeaf {
		n = &nodes[branch(n, xk[n.feature])]
	}
	return n
}

// treesKey4 walks four trees for one row at once.
func (e *ensemble[T]) treesKey4(roots []int32, xk []int32) (T, T, T, T) {
	nodes := e.nodes
	n0, n1, n2, n3 := &nodes[roots[0]], &nodes[roots[1]], &nodes[roots[2]], &nodes[roots[3]]
	for n0.mode|n1.mode|n2.mode|n3.mode != modeLeaf {
		if n0.mode != modeLeaf {
			n0 = &nodes[branch(n0, xk[n0.feature])]
		}
		if n1.mode != modeLeaf {
			n1 = &nodes[branch(n1, xk[n1.feature])]
		}
		if n2.mode != modeLeaf {
			n2 = &nodes[branch(n2, xk[n2.feature])]
		}
		if n3.mode != modeLeaf {
			n3 = &nodes[branch(n3, xk[n3.feature])]
		}
	}
	return n0.value, n1.value, n2.value, n3.value
}

// leavesKey4 walks one tree for four rows at once (xk holds their keys one
// after the other), so that the four walks overlap in the processor, and
// returns the first weights of their leaves.
func (e *ensemble[T]) leavesKey4(root int32, xk []int32, feats int) (T, T, T, T) {
	x0, x1, x2, x3 := xk[:feats], xk[feats:2*feats], xk[2*feats:3*feats], xk[3*feats:4*feats]
	nodes := e.nodes
	n0, n1, n2, n3 := &nodes[root], &nodes[root], &nodes[root], &nodes[root]
	for n0.mode|n1.mode|n2.mode|n3.mode != modeLeaf {
		if n0.mode != modeLeaf {
			n0 = &nodes[branch(n0, x0[n0.feature])]
		}
		if n1.mode != modeLeaf {
			n1 = &nodes[branch(n1, x1[n1.feature])]
		}
		if n2.mode != modeLeaf {
			n2 = &nodes[branch(n2, x2[n2.feature])]
		}
		if n3.mode != modeLeaf {
			n3 = &nodes[branch(n3, x3[n3.feature])]
		}
	}
	return n0.value, n1.value, n2.value, n3.value
}

// score1 aggregates the trees for one target over rows of x (ONNX
// Runtime's ProcessTreeNodePrediction1 and FinalizeScores1): only the first
// weight of each leaf counts. Rows go by blocks, each tree walking every row
// of the block before the next tree starts (as ONNX Runtime does, for the
// caches); each row still adds the trees in order.
func (e *ensemble[T]) score1(x []T, feats int, scores []T, has []bool, keys *[]int32) {
	rows := len(scores)
	clear(scores)
	clear(has)
	var xk []int32
	if e.keyed {
		xk = growI32(keys, rows*feats)
		for i, v := range x[:rows*feats] {
			xk[i] = floatKey(float32(v))
		}
	}
	if e.keyed && (e.agg == aggSum || e.agg == aggAverage) {
		// Four rows walk each tree together; the rows left walk four
		// trees at a time. Every row adds its trees in order.
		full := rows - rows%4
		for _, r := range e.roots {
			for i := 0; i < full; i += 4 {
				w0, w1, w2, w3 := e.leavesKey4(r, xk[i*feats:], feats)
				scores[i] += w0
				scores[i+1] += w1
				scores[i+2] += w2
				scores[i+3] += w3
			}
		}
		for i := full; i < rows; i++ {
			row := xk[i*feats : (i+1)*feats]
			roots := e.roots
			j := 0
			for ; j+4 <= len(roots); j += 4 {
				w0, w1, w2, w3 := e.treesKey4(roots[j:j+4], row)
				scores[i] += w0
				scores[i] += w1
				scores[i] += w2
				scores[i] += w3
			}
			for ; j < len(roots); j++ {
				scores[i] += e.leafKey(roots[j], row).value
			}
		}
		for i := range scores {
			scores[i] = e.finalize1(scores[i], has[i])
		}
		return
	}
	for _, r := range e.roots {
		i := 0
		for ; i < rows; i++ {
			var w T
			if e.keyed {
				w = e.leafKey(r, xk[i*feats:(i+1)*feats]).value
			} else {
				w = e.leaf(r, x[i*feats:(i+1)*feats]).value
			}
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
	}
	for i := range scores {
		scores[i] = e.finalize1(scores[i], has[i])
	}
}

// treeBlock is how many rows score1 walks together.
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
		lf := e.leaf(r, x)
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
	if tooLarge(rows, e.nTargets) {
		return invalidf("%d rows of %d scores is too large", rows, e.nTargets)
	}
	if k.cls != nil {
		return k.classify(c, x, rows, feats, out)
	}
	y := out[0]
	ensure2(y, k.outType, int64(rows), int64(e.nTargets))
	if e.nTargets == 1 {
		buf := growI64(&c.sc.i64, treeBlock)
		scores := view[T](bytesOf(buf))[:treeBlock]
		has := growBool(&c.sc.b, treeBlock)
		for r0 := 0; r0 < rows; r0 += treeBlock {
			n := min(treeBlock, rows-r0)
			e.score1(x[r0*feats:(r0+n)*feats], feats, scores[:n], has[:n], &c.sc.i32)
			for i, s := range scores[:n] {
				if k.outType == tensor.Float64 {
					view[float64](y.Raw)[r0+i] = float64(s)
				} else {
					view[float32](y.Raw)[r0+i] = float32(s)
				}
			}
		}
		return nil
	}
	preds, has, f := k.rowScratch(c)
	for r := 0; r < rows; r++ {
		e.scoreN(x[r*feats:(r+1)*feats], preds, has)
		e.finalizeN(preds, has)
		if e.post == postNone && k.outType == tensor.Float64 {
			dst := view[float64](y.Raw)[r*e.nTargets : (r+1)*e.nTargets]
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
			dst := view[float64](y.Raw)[r*e.nTargets : (r+1)*e.nTargets]
			for i, v := range f {
				dst[i] = float64(v)
			}
		} else {
			copy(view[float32](y.Raw)[r*e.nTargets:(r+1)*e.nTargets], f)
		}
	}
	return nil
}

// scratchT is the node's scratch buffer of T.
func scratchT[T float](c *runCtx) *[]T {
	if p, ok := any(&c.sc.f32).(*[]T); ok {
		return p
	}
	return any(&c.sc.f64).(*[]T)
}

// rowScratch returns per-row buffers: scores in T, flags, and float32
// scores for the transforms (in the i64 scratch, unused otherwise here).
func (k *treeKernel[T]) rowScratch(c *runCtx) ([]T, []bool, []float32) {
	n := k.e.nTargets
	buf := growI64(&c.sc.i64, 2*n)
	preds := view[T](bytesOf(buf[:n]))[:n]
	f := view[float32](bytesOf(buf[n:]))[:n]
	return preds, growBool(&c.sc.b, n), f
}

// classify is TreeEnsembleClassifier: ONNX Runtime's TreeAggregatorClassifier.
func (k *treeKernel[T]) classify(c *runCtx, x []T, rows, feats int, out []*tensor.Tensor) error {
	e, cl := k.e, k.cls
	nc := e.nTargets
	if y := out[0]; y != nil {
		if cl.strs != nil {
			ensure1(y, tensor.String, int64(rows))
		} else {
			ensure1(y, tensor.Int64, int64(rows))
		}
	}
	var z []float32
	if len(out) > 1 && out[1] != nil {
		ensure2(out[1], tensor.Float32, int64(rows), int64(nc))
		z = view[float32](out[1].Raw)
	}
	preds, has, f := k.rowScratch(c)
	for r := 0; r < rows; r++ {
		e.scoreN(x[r*feats:(r+1)*feats], preds, has)
		label, literal, size, add := finalizeClass(cl, e, preds, has)
		if y := out[0]; y != nil {
			switch {
			case cl.strs != nil:
				y.Strings[r] = cl.strs[label]
			case literal:
				view[int64](y.Raw)[r] = int64(label)
			default:
				view[int64](y.Raw)[r] = cl.ints[label]
			}
		}
		if z != nil {
			for i := 0; i < size; i++ {
				f[i] = 0
				if has[i] {
					f[i] = float32(preds[i])
				}
			}
			writeScores(e.post, f[:size], z[r*nc:(r+1)*nc], add)
		}
	}
	return nil
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
	b.k = &treeKernel[T]{e: e, outType: tensor.Float32, cls: cl}
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
	var z T
	_, is32 := any(z).(float32)
	e.keyed = e.simple && is32
	if e.keyed {
		for i := range e.nodes {
			e.nodes[i].key = thresholdKey(float32(e.nodes[i].value))
		}
	}
	return e.checkAcyclic()
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
	b.k = &treeKernel[T]{e: e, outType: b.in[0].dtype}
	b.outputs(valueType{b.in[0].dtype, []int64{batchDim(b.in[0].shape), nt}})
	return nil
}
