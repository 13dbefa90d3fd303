package gbrt

// Growing one tree: histograms, split search, partition.

import "slices"

// nbins is the histogram width of a feature: 255 value bins and the NaN
// bin at most. A histogram holds nbins entries per feature.
const nbins = 256

// grow grows a tree on the first inBag entries of rows (with the gradients
// in grad) and returns its nodes. On return t.leaves holds the tree's
// leaves with their row ranges.
func (t *trainer) grow(inBag int) []Node {
	p := t.p
	nodes := make([]Node, 1, 2*p.MaxLeaves-1)
	nodes[0] = Node{Feature: -1, Count: inBag}
	t.leaves = append(t.leaves[:0], leafState{node: 0, start: 0, end: inBag, hist: -1})
	root := &t.leaves[0]
	if t.splittable(root) {
		root.hist = t.allocHist()
		t.buildHist(root.hist, 0, inBag, inBag == t.ntrain && t.p.Subsample >= 1)
		h := t.hists[root.hist][:nbins]
		for _, b := range h {
			root.g += b.g
			root.n += b.n
		}
		t.findSplit(root)
	} else {
		for _, r := range t.rows[:inBag] {
			root.g += float64(t.grad[r])
		}
		root.n = int64(inBag)
	}
	for len(t.leaves) < p.MaxLeaves {
		k := -1
		for i := range t.leaves {
			l := &t.leaves[i]
			if l.hist >= 0 && l.split.valid && (k < 0 || l.split.gain > t.leaves[k].split.gain) {
				k = i
			}
		}
		if k < 0 {
			break
		}
		left, right := t.splitLeaf(&nodes, t.leaves[k])
		t.leaves[k] = left
		t.leaves = append(t.leaves, right)
	}
	for i := range t.leaves {
		l := &t.leaves[i]
		if l.hist >= 0 {
			t.freeHist(l.hist)
			l.hist = -1
		}
		nodes[l.node].Value = float32(-l.g / (float64(l.n) + p.L2) * p.LearningRate)
	}
	return nodes
}

// splittable reports whether a leaf may be split.
func (t *trainer) splittable(l *leafState) bool {
	return l.depth < t.p.MaxDepth && l.end-l.start >= 2*t.p.MinSamplesLeaf
}

// splitLeaf applies l's split: it partitions l's rows, turns its node into
// a branch with two new leaves, builds the children's histograms (the
// smaller one from its rows, the larger by subtraction from l's) and finds
// their best splits.
func (t *trainer) splitLeaf(nodes *[]Node, l leafState) (left, right leafState) {
	s := l.split
	mid := t.partition(l.start, l.end, s)
	thr := inf32
	if int(s.bin) < t.nb[s.feature]-1 {
		thr = t.edges[s.feature][s.bin]
	}
	li := int32(len(*nodes))
	n := &(*nodes)[l.node]
	n.Feature, n.Threshold, n.MissingLeft, n.bin = s.feature, thr, s.missingLeft, s.bin
	n.Left, n.Right, n.Gain = li, li+1, s.gain
	*nodes = append(*nodes,
		Node{Feature: -1, Count: mid - l.start},
		Node{Feature: -1, Count: l.end - mid})
	left = leafState{node: li, start: l.start, end: mid, depth: l.depth + 1, g: s.gl, n: s.nl, hist: -1}
	right = leafState{node: li + 1, start: mid, end: l.end, depth: l.depth + 1, g: l.g - s.gl, n: l.n - s.nl, hist: -1}
	canL, canR := t.splittable(&left), t.splittable(&right)
	if !canL && !canR {
		t.freeHist(l.hist)
		return left, right
	}
	small, large := &left, &right
	if right.end-right.start < left.end-left.start {
		small, large = large, small
	}
	small.hist = t.allocHist()
	t.buildHist(small.hist, small.start, small.end, false)
	large.hist = l.hist
	t.job.hist, t.job.other = t.hists[large.hist], t.hists[small.hist]
	t.pool.run(t.nf, t.subJob)
	for _, c := range []*leafState{&left, &right} {
		if t.splittable(c) {
			t.findSplit(c)
		} else {
			t.freeHist(c.hist)
			c.hist = -1
		}
	}
	return left, right
}

func (t *trainer) allocHist() int {
	if n := len(t.free); n > 0 {
		h := t.free[n-1]
		t.free = t.free[:n-1]
		return h
	}
	t.hists = append(t.hists, make([]histBin, t.nf*nbins))
	return len(t.hists) - 1
}

func (t *trainer) freeHist(h int) { t.free = append(t.free, h) }

// buildHist fills histogram h from rows[start:end]. identity says those
// rows are 0..ntrain-1 in order, so gradients are read in place.
func (t *trainer) buildHist(h, start, end int, identity bool) {
	t.job.hist = t.hists[h]
	t.job.identity = identity
	t.job.rows = t.rows[start:end]
	if !identity {
		t.job.og = t.og[start:end]
		t.pool.run((end-start+chunk-1)/chunk, t.gatherJob)
	}
	t.pool.run(t.nf, t.histJob)
}

// gatherChunk copies the gradients of chunk c of the job's rows into og,
// so that the histogram loops read them in order.
func (t *trainer) gatherChunk(c int) {
	lo, hi := c*chunk, min((c+1)*chunk, len(t.job.rows))
	og := t.job.og[lo:hi]
	for i, r := range t.job.rows[lo:hi] {
		og[i] = t.grad[r]
	}
}

// histFeature builds feature j's part of the job's histogram: the hot
// loop of training.
func (t *trainer) histFeature(j int) {
	hh := (*[nbins]histBin)(t.job.hist[j*nbins : (j+1)*nbins])
	clear(hh[:t.nb[j]+1])
	col := t.bins[j]
	if t.job.identity {
		g := t.grad
		col = col[:len(g)]
		for i, b := range col {
			e := &hh[b]
			e.g += float64(g[i])
			e.n++
		}
		return
	}
	rows := t.job.rows
	og := t.job.og[:len(rows)]
	for i, r := range rows {
		e := &hh[col[r]]
		e.g += float64(og[i])
		e.n++
	}
}

// subtractFeature turns feature j of job.hist (the parent's) into the
// larger child's by subtracting job.other (the smaller child's).
func (t *trainer) subtractFeature(j int) {
	nb := t.nb[j] + 1
	a := t.job.hist[j*nbins : j*nbins+nb]
	b := t.job.other[j*nbins : j*nbins+nb]
	for i := range a {
		a[i].g -= b[i].g
		a[i].n -= b[i].n
	}
}

// findSplit sets l.split to the best split over all features.
func (t *trainer) findSplit(l *leafState) {
	t.job.hist, t.job.g, t.job.n = t.hists[l.hist], l.g, l.n
	t.pool.run(t.nf, t.splitJob)
	best := split{}
	for _, s := range t.best {
		if s.valid && (!best.valid || s.gain > best.gain) {
			best = s
		}
	}
	l.split = best
}

// splitFeature finds the best split on feature j of the job's histogram.
// Candidates are "x <= edge of bin b" for every bin b but the last, with
// missing values sent left or right (when the node has any; otherwise to
// the larger side), and "not missing" against "missing". Ties go to the
// lower bin and the missing-right variant, so the search is deterministic.
func (t *trainer) splitFeature(j int) {
	hh := (*[nbins]histBin)(t.job.hist[j*nbins : (j+1)*nbins])
	nb := t.nb[j]
	G, N := t.job.g, t.job.n
	lam, minLeaf := t.p.L2, int64(t.p.MinSamplesLeaf)
	parent := G * G / (float64(N) + lam)
	best := split{gain: t.p.MinGain}
	try := func(b int, gl float64, nl int64, missingLeft bool) {
		nr := N - nl
		if nl < minLeaf || nr < minLeaf {
			return
		}
		gr := G - gl
		gain := gl*gl/(float64(nl)+lam) + gr*gr/(float64(nr)+lam) - parent
		if gain > best.gain {
			best = split{valid: true, feature: int32(j), bin: uint8(b), missingLeft: missingLeft, gain: gain, gl: gl, nl: nl}
		}
	}
	nan := hh[nb]
	var gl float64
	var nl int64
	for b := 0; b < nb-1; b++ {
		gl += hh[b].g
		nl += hh[b].n
		if nan.n == 0 {
			try(b, gl, nl, nl >= N-nl)
			continue
		}
		try(b, gl, nl, false)
		try(b, gl+nan.g, nl+nan.n, true)
	}
	if nan.n > 0 && nan.n < N {
		try(nb-1, G-nan.g, N-nan.n, false)
	}
	t.best[j] = best
}

// partition reorders rows[start:end] so that the rows going left come
// first, each side keeping its order, and returns where the right side
// starts. The result is unique, so the chunks it is cut into for the
// workers do not change it: each chunk splits its rows into lefts and
// rights in scratch, then each copies its lefts and rights to their final
// places.
func (t *trainer) partition(start, end int, s split) int {
	n := end - start
	t.job.split, t.job.lo = s, start
	chunks := (n + chunk - 1) / chunk
	t.job.hi = end
	t.pool.run(chunks, t.partJob)
	left := 0
	for c := range chunks {
		left += t.lefts[c]
	}
	l, r := start, start+left
	for c := range chunks {
		t.leftAt[c], t.rightAt[c] = l, r
		lo, hi := start+c*chunk, min(start+(c+1)*chunk, end)
		l += t.lefts[c]
		r += hi - lo - t.lefts[c]
	}
	t.pool.run(chunks, t.placeJob)
	return start + left
}

// partChunk splits chunk c of the job's rows into scratch: its lefts, then
// its rights.
func (t *trainer) partChunk(c int) {
	s := t.job.split
	col, nan := t.bins[s.feature], uint8(t.nb[s.feature])
	lo, hi := t.job.lo+c*chunk, min(t.job.lo+(c+1)*chunk, t.job.hi)
	rows, out := t.rows[lo:hi], t.scratch[lo:hi]
	// Without branches: each row is written at both ends and the count of
	// the side it belongs to moves on; a stray write is overwritten later.
	last := len(out) - 1
	l, r := 0, 0
	for _, row := range rows {
		b := col[row]
		left := b <= s.bin
		if b == nan {
			left = s.missingLeft
		}
		inc := 0
		if left {
			inc = 1
		}
		out[last-r] = row
		out[l] = row
		l += inc
		r += 1 - inc
	}
	// The rights are in reverse order: turn them round.
	slices.Reverse(out[l:])
	t.lefts[c] = l
}

// placeChunk copies chunk c's lefts and rights from scratch to their places.
func (t *trainer) placeChunk(c int) {
	lo, hi := t.job.lo+c*chunk, min(t.job.lo+(c+1)*chunk, t.job.hi)
	out, l := t.scratch[lo:hi], t.lefts[c]
	copy(t.rows[t.leftAt[c]:], out[:l])
	copy(t.rows[t.rightAt[c]:], out[l:])
}
