package native

import (
	"cmp"
	"math"
	"slices"
)

// Fast tree walks. An ensemble of float32 thresholds whose branches all
// compare (BRANCH_LEQ, LT, GTE or GT; not EQ, NEQ or MEMBER) is compiled a
// second time, for walks on int32 keys: each input value and each
// threshold gets a key that orders like the float (floatKey), so that
// every branch becomes "go to the first child when key(x) <= key"
// (x < t is key(x) <= key(t)-1, and GT and GTE swap their children). A
// comparison of integers compiles to a conditional move or an add, not to
// a branch the processor mispredicts half the time on real data.
//
// A tree of depth D that is not much smaller than the complete tree of
// that depth is laid out complete, level by level, with no child pointers
// and no leaf test: a walk is D steps of i = 2i+1 (first child) or 2i+2.
// A leaf above the last level is pushed down by dummy branches that always
// go to their first child. Other trees keep the ensemble's node numbering,
// with child pointers.
//
// NaN has the largest key, so it fails key(x) <= k at every branch, as it
// fails the comparison of a LEQ or LT branch. For an ensemble with GT or
// GTE branches, or with missing-value tracking, that is not what a NaN
// does; such an ensemble walks the rows with a NaN the ordinary way.

// floatKey maps a float32 to an int32 with the same order; NaN is the
// largest key.
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

// maxCompleteDepth bounds the depth of trees laid out complete.
const maxCompleteDepth = 12

type fastForest struct {
	trees []fastTree
	// order lists the complete trees by decreasing depth, and levels[d] is
	// the number of them deeper than d: a walk of one row steps every
	// tree of a level before the next level.
	order    []int32
	bases    []int32 // the first branch of each tree of order
	levels   []int32
	heap     []keyNode  // the branches of the complete trees
	leafVal  []float32  // for each leaf of a complete tree: its first weight
	leafNode []int32    // its node in the ensemble
	linked   []fastNode // the other trees, by ensemble node
	nanExact bool       // NaN inputs walk right: every branch is LEQ or LT without missing-value tracking
	done     []bool     // building: the nodes linked
}

// fastTree is a complete tree (depth >= 0: its branches start at
// heap[base], its leaves at leafVal[leaf]) or a linked one (depth < 0: its
// root is linked[base], or the leaf ^base).
type fastTree struct {
	depth, base, leaf int32
}

// keyNode is a branch: go to the first child when key(x[feature]) <= key.
type keyNode struct {
	feature, key int32
}

// fastNode is a branch of a linked tree; a child c < 0 is the leaf ^c.
type fastNode struct {
	keyNode
	first, second int32
}

// splitKey turns a branch into a keyNode and its children, the first being
// where key(x) <= key goes; ok is false for a branch that does not compare.
func splitKey(n *treeNode[float32]) (k keyNode, first, second int32, ok bool) {
	k.feature = n.feature
	v, isNaN := n.value, n.value != n.value
	switch n.mode {
	case modeLEQ: // x <= v
		k.key, first, second = floatKey(v), n.t, n.f
	case modeLT: // x < v
		k.key, first, second = floatKey(v)-1, n.t, n.f
	case modeGT: // x > v: x <= v goes to f
		k.key, first, second = floatKey(v), n.f, n.t
	case modeGTE: // x >= v: x < v goes to f
		k.key, first, second = floatKey(v)-1, n.f, n.t
	default:
		return k, 0, 0, false
	}
	if isNaN {
		// Every comparison with NaN fails: always to f.
		k.key, first, second = math.MaxInt32, n.f, n.f
	}
	return k, first, second, true
}

// newFastForest compiles e for fast walks, or returns nil when a branch
// does not compare.
func newFastForest(e *ensemble[float32]) *fastForest {
	f := &fastForest{nanExact: true}
	for i := range e.nodes {
		n := &e.nodes[i]
		if n.mode == modeLeaf {
			continue
		}
		if _, _, _, ok := splitKey(n); !ok {
			return nil
		}
		if n.missingTrue || n.mode == modeGT || n.mode == modeGTE {
			f.nanExact = false
		}
	}
	depth := make([]int32, len(e.nodes))
	size := make([]int32, len(e.nodes))
	for i := range depth {
		depth[i] = -1
	}
	// The depth and (bounded) number of leaves of each subtree, without
	// recursion: trees can be deep. checkAcyclic ran.
	var stack []int32
	measure := func(root int32) {
		stack = append(stack[:0], root)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			n := &e.nodes[i]
			switch {
			case depth[i] >= 0:
			case n.mode == modeLeaf:
				depth[i], size[i] = 0, 1
			case depth[n.t] < 0:
				stack = append(stack, n.t)
				continue
			case depth[n.f] < 0:
				stack = append(stack, n.f)
				continue
			default:
				depth[i] = 1 + max(depth[n.t], depth[n.f])
				size[i] = min(size[n.t]+size[n.f], 1<<30)
			}
			stack = stack[:len(stack)-1]
		}
	}
	for t, root := range e.roots {
		measure(root)
		d := depth[root]
		if d > maxCompleteDepth || 1<<d > 4*size[root]+64 {
			tr := fastTree{depth: -1, base: f.link(e, root)}
			f.trees = append(f.trees, tr)
			continue
		}
		tr := fastTree{depth: d, base: int32(len(f.heap)), leaf: int32(len(f.leafVal))}
		f.heap = append(f.heap, make([]keyNode, 1<<d-1)...)
		f.leafVal = append(f.leafVal, make([]float32, 1<<d)...)
		f.leafNode = append(f.leafNode, make([]int32, 1<<d)...)
		f.fill(e, &tr, 0, root, 0)
		f.trees = append(f.trees, tr)
		f.order = append(f.order, int32(t))
	}
	f.done = nil
	// Complete trees by decreasing depth (stable: ties keep tree order).
	ord := f.order
	slices.SortStableFunc(ord, func(a, b int32) int { return cmp.Compare(f.trees[b].depth, f.trees[a].depth) })
	for _, t := range ord {
		f.bases = append(f.bases, f.trees[t].base)
	}
	if len(ord) > 0 {
		f.levels = make([]int32, f.trees[ord[0]].depth)
		for d := range f.levels {
			for _, t := range ord {
				if f.trees[t].depth > int32(d) {
					f.levels[d]++
				}
			}
		}
	}
	return f
}

// fill lays out the subtree of node at position pos (depth d) of the
// complete tree tr.
func (f *fastForest) fill(e *ensemble[float32], tr *fastTree, pos, node, d int32) {
	if d == tr.depth {
		slot := tr.leaf + pos - (1<<d - 1)
		f.leafVal[slot] = e.nodes[node].value
		f.leafNode[slot] = node
		return
	}
	n := &e.nodes[node]
	if n.mode == modeLeaf {
		// A dummy branch that always goes to its first child; the second
		// is unreachable, and filled alike.
		f.heap[tr.base+pos] = keyNode{0, math.MaxInt32}
		f.fill(e, tr, 2*pos+1, node, d+1)
		f.fill(e, tr, 2*pos+2, node, d+1)
		return
	}
	k, first, second, _ := splitKey(n)
	f.heap[tr.base+pos] = k
	f.fill(e, tr, 2*pos+1, first, d+1)
	f.fill(e, tr, 2*pos+2, second, d+1)
}

// link gives the branches of the tree at root their fastNode, and returns
// how a walk starts.
func (f *fastForest) link(e *ensemble[float32], root int32) int32 {
	ref := func(i int32) int32 {
		if e.nodes[i].mode == modeLeaf {
			return ^i
		}
		return i
	}
	if f.linked == nil {
		f.linked = make([]fastNode, len(e.nodes))
		f.done = make([]bool, len(e.nodes))
	}
	stack := []int32{root}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &e.nodes[i]
		if n.mode == modeLeaf || f.done[i] {
			continue
		}
		f.done[i] = true
		k, first, second, _ := splitKey(n)
		f.linked[i] = fastNode{k, ref(first), ref(second)}
		stack = append(stack, first, second)
	}
	return ref(root)
}

// step is the position after a branch of a complete tree: 2i+1 when
// x <= key, else 2i+2, without a jump.
func step(i int32, n keyNode, x int32) int32 {
	return 2*i + 1 + int32(uint64(int64(n.key)-int64(x))>>63)
}

// walkComplete walks the complete tree tr for rows rows of keys (feats a
// row) and leaves in pos the position of each row's leaf among the tree's
// leaves.
func (f *fastForest) walkComplete(tr *fastTree, xk []int32, feats int, pos []int32) {
	nodes := f.heap[tr.base : tr.base+1<<tr.depth-1]
	clear(pos)
	done := 0
	if useSIMD {
		done = walkCompleteSIMD(nodes, int(tr.depth), xk, feats, pos)
	}
	// Level by level, so that the walks of the rows overlap.
	for range tr.depth {
		off := done * feats
		for r, i := range pos[done:] {
			n := nodes[i]
			pos[done+r] = step(i, n, xk[off+int(n.feature)])
			off += feats
		}
	}
	first := int32(1)<<tr.depth - 1
	for r := range pos {
		pos[r] -= first
	}
}

// walkLinked walks a linked tree for the rows of xk (feats keys a row),
// four at a time, and leaves in leaf the ensemble node of each row's leaf.
func (f *fastForest) walkLinked(start int32, xk []int32, feats int, leaf []int32) {
	nodes := f.linked
	rows := len(leaf)
	r := 0
	for ; r+4 <= rows; r += 4 {
		x0, x1, x2, x3 := xk[r*feats:], xk[(r+1)*feats:], xk[(r+2)*feats:], xk[(r+3)*feats:]
		i0, i1, i2, i3 := start, start, start, start
		for i0&i1&i2&i3 >= 0 { // until all four are leaves (negative)
			if i0 >= 0 {
				i0 = nodes[i0].next(x0)
			}
			if i1 >= 0 {
				i1 = nodes[i1].next(x1)
			}
			if i2 >= 0 {
				i2 = nodes[i2].next(x2)
			}
			if i3 >= 0 {
				i3 = nodes[i3].next(x3)
			}
		}
		leaf[r], leaf[r+1], leaf[r+2], leaf[r+3] = ^i0, ^i1, ^i2, ^i3
	}
	for ; r < rows; r++ {
		x, i := xk[r*feats:], start
		for i >= 0 {
			i = nodes[i].next(x)
		}
		leaf[r] = ^i
	}
}

// next is the child a row of keys x goes to, without a jump.
func (n *fastNode) next(x []int32) int32 {
	m := int32((int64(n.key) - int64(x[n.feature])) >> 63) // -1 when x > key
	return n.first ^ (n.first^n.second)&m
}

// rowWalk walks every tree for one row of keys, the complete trees level
// by level so that their walks overlap: pos[t] becomes the position of the
// row's leaf among the leaves of a complete tree t, or the ensemble node
// of its leaf in a linked tree t. at is scratch of an element per tree.
func (f *fastForest) rowWalk(xk []int32, pos, at []int32) {
	trees, heap := f.trees, f.heap
	pos = pos[:len(trees)]
	// The positions of the complete trees, in f.order.
	nc := len(f.order)
	at = at[:nc]
	clear(at)
	bases := f.bases[:nc]
	simd := useSIMD
	for _, n := range f.levels {
		done := 0
		if simd {
			done = stepTreesSIMD(heap, bases[:n], at[:n], xk)
		}
		for j, b := range bases[done:n] {
			i := at[done+j]
			nd := heap[b+i]
			at[done+j] = step(i, nd, xk[nd.feature])
		}
	}
	for j, t := range f.order {
		pos[t] = at[j] - (1<<trees[t].depth - 1)
	}
	for t := range trees {
		tr := &trees[t]
		if tr.depth >= 0 {
			continue
		}
		i := tr.base
		for i >= 0 {
			i = f.linked[i].next(xk)
		}
		pos[t] = ^i
	}
}

// leafOf is the ensemble node of the leaf at pos (as rowWalk leaves it) in
// tree t.
func (f *fastForest) leafOf(t int, pos int32) int32 {
	if tr := &f.trees[t]; tr.depth >= 0 {
		return f.leafNode[tr.leaf+pos]
	}
	return pos
}

// scoreRows is score1 (nTargets 1) or scoreN for a few rows, each walking
// every tree with rowWalk. pos and at hold an element per tree.
func (f *fastForest) scoreRows(e *ensemble[float32], x []float32, xk []int32, feats int, scores []float32, has, nan []bool, pos, at []int32) {
	nt := e.nTargets
	pos = pos[:len(f.trees)]
	for r, isNaN := range nan {
		xr := x[r*feats : (r+1)*feats]
		preds, hr := scores[r*nt:(r+1)*nt], has[r*nt:(r+1)*nt]
		switch {
		case isNaN && !f.nanExact && nt == 1:
			e.score1(xr, feats, preds, hr)
			continue
		case isNaN && !f.nanExact:
			e.scoreN(xr, preds, hr)
			continue
		}
		f.rowWalk(xk[r*feats:(r+1)*feats], pos, at)
		clear(preds)
		clear(hr)
		if nt > 1 {
			for t, p := range pos {
				e.addLeaf(preds, hr, &e.nodes[f.leafOf(t, p)])
			}
			continue
		}
		if e.agg == aggSum || e.agg == aggAverage {
			var sum float32
			for t, p := range pos {
				if tr := &f.trees[t]; tr.depth >= 0 {
					sum += f.leafVal[tr.leaf+p]
				} else {
					sum += e.nodes[p].value
				}
			}
			preds[0] = sum
		} else {
			for t, p := range pos {
				if tr := &f.trees[t]; tr.depth >= 0 {
					e.add1(preds, hr, 0, f.leafVal[tr.leaf+p])
				} else {
					e.add1(preds, hr, 0, e.nodes[p].value)
				}
			}
		}
		preds[0] = e.finalize1(preds[0], hr[0])
	}
}

// keys converts rows of x (feats values a row) to keys, and reports in nan
// the rows that hold a NaN.
func keys(x []float32, xk []int32, feats int, nan []bool) {
	for r := range nan {
		row, kr := x[r*feats:(r+1)*feats], xk[r*feats:(r+1)*feats]
		kr = kr[:len(row)]
		has := false
		for i, v := range row {
			k := floatKey(v)
			kr[i] = k
			has = has || k == math.MaxInt32
		}
		nan[r] = has
	}
}

// score1 is ensemble.score1 on rows of keys xk; rows with a NaN (nan) walk
// the ordinary way (on x) unless NaN keys route right. pos is scratch of a
// row each.
func (f *fastForest) score1(e *ensemble[float32], x []float32, xk []int32, feats int, scores []float32, has, nan []bool, pos []int32) {
	clear(scores)
	clear(has)
	for t := range f.trees {
		tr := &f.trees[t]
		if tr.depth < 0 {
			f.walkLinked(tr.base, xk, feats, pos)
			for r, leaf := range pos {
				e.add1(scores, has, r, e.nodes[leaf].value)
			}
			continue
		}
		f.walkComplete(tr, xk, feats, pos)
		vals := f.leafVal[tr.leaf : tr.leaf+1<<tr.depth]
		if e.agg == aggSum || e.agg == aggAverage {
			for r, p := range pos {
				scores[r] += vals[p]
			}
			continue
		}
		for r, p := range pos {
			e.add1(scores, has, r, vals[p])
		}
	}
	for r := range scores {
		if nan[r] && !f.nanExact {
			e.score1(x[r*feats:(r+1)*feats], feats, scores[r:r+1], has[r:r+1])
			continue
		}
		scores[r] = e.finalize1(scores[r], has[r])
	}
}

// scoreN is ensemble.scoreN for rows of keys xk (preds and has hold
// nTargets elements a row); rows with a NaN walk the ordinary way (on x)
// unless NaN keys route right. pos is scratch of a row each.
func (f *fastForest) scoreN(e *ensemble[float32], x []float32, xk []int32, feats int, preds []float32, has, nan []bool, pos []int32) {
	nt := e.nTargets
	clear(preds)
	clear(has)
	for t := range f.trees {
		tr := &f.trees[t]
		if tr.depth < 0 {
			f.walkLinked(tr.base, xk, feats, pos)
		} else {
			f.walkComplete(tr, xk, feats, pos)
			nodes := f.leafNode[tr.leaf : tr.leaf+1<<tr.depth]
			for r, p := range pos {
				pos[r] = nodes[p]
			}
		}
		for r, leaf := range pos {
			e.addLeaf(preds[r*nt:(r+1)*nt], has[r*nt:(r+1)*nt], &e.nodes[leaf])
		}
	}
	if f.nanExact {
		return
	}
	for r, isNaN := range nan {
		if isNaN {
			e.scoreN(x[r*feats:(r+1)*feats], preds[r*nt:(r+1)*nt], has[r*nt:(r+1)*nt])
		}
	}
}
