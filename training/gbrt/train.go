package gbrt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// ErrData is wrapped by errors about the training data.
var ErrData = errors.New("gbrt: invalid training data")

// chunk is the number of rows a parallel task over rows handles; fixed so
// that sums over chunks do not depend on the number of workers.
const chunk = 1 << 14

// histBin accumulates one bin of a histogram: the sum of the gradients of
// the rows in the bin and their count (the sum of their hessians, which
// are all 1).
type histBin struct {
	g float64
	n int64
}

// split is a candidate split of a leaf.
type split struct {
	valid       bool
	feature     int32
	bin         uint8
	missingLeft bool
	gain        float64
	gl          float64 // left gradient sum
	nl          int64   // left rows
}

// leafState is a leaf of the tree being grown: its rows are
// rows[start:end].
type leafState struct {
	node       int32
	start, end int
	depth      int
	g          float64
	n          int64
	hist       int // index in trainer.hists, -1 if none
	split      split
}

// trainer holds the state of one Train call. Local rows 0..ntrain-1 are the
// training rows, ntrain..ntrain+nvalid-1 the validation rows.
type trainer struct {
	p              Params
	nf             int
	ntrain, nvalid int
	bins           [][]uint8   // [feature][local row]
	edges          [][]float32 // [feature][bin]
	nb             []int       // value bins per feature; bin nb[j] is NaN
	y, pred        []float64   // [local row]
	grad           []float32   // [training row]
	rows, scratch  []int32     // rows of the tree's leaves, in leaf ranges
	og             []float32   // gradients in the order of rows
	delta          float64     // Huber
	pool           *pool

	hists  [][]histBin
	free   []int
	leaves []leafState
	best   []split   // per feature
	part   []float64 // per chunk

	// The job the pool's functions work on.
	job struct {
		hist, other []histBin
		rows        []int32
		og          []float32
		identity    bool
		g           float64
		n           int64
		tree        []Node
		lo, hi      int // local rows walked or partitioned
		split       split
	}
	histJob, subJob, splitJob, gradJob, walkJob func(int)
	gatherJob, partJob, placeJob, applyJob      func(int)

	lefts, leftAt, rightAt []int // per chunk of a partition
}

// Train fits a model of y from the rows train of x (nil: every row whose y
// is not NaN). The rows valid (may be nil) are held out: after each tree
// their loss is computed, and training stops when it has not improved for
// EarlyStoppingRounds trees, keeping the best number of trees. y is indexed
// like x's rows; y must not be NaN on train and valid rows. x is not
// copied nor modified.
func Train(ctx context.Context, x *dataset.Matrix, y []float64, train, valid []int, p Params) (*Model, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(y) != x.Rows {
		return nil, fmt.Errorf("%w: %d targets for %d rows", ErrData, len(y), x.Rows)
	}
	if len(x.Cols) == 0 || len(x.Cols) != len(x.Names) {
		return nil, fmt.Errorf("%w: %d feature columns, %d names", ErrData, len(x.Cols), len(x.Names))
	}
	if train == nil {
		for i, v := range y {
			if !math.IsNaN(v) {
				train = append(train, i)
			}
		}
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("%w: no training rows", ErrData)
	}
	for _, set := range [][]int{train, valid} {
		for _, r := range set {
			if r < 0 || r >= x.Rows {
				return nil, fmt.Errorf("%w: row %d out of range [0, %d)", ErrData, r, x.Rows)
			}
			if math.IsNaN(y[r]) || math.IsInf(y[r], 0) {
				return nil, fmt.Errorf("%w: target of row %d is %v", ErrData, r, y[r])
			}
		}
	}
	t := newTrainer(x, y, train, valid, p)
	defer t.pool.close()
	return t.run(ctx, x.Names)
}

func newTrainer(x *dataset.Matrix, y []float64, train, valid []int, p Params) *trainer {
	t := &trainer{
		p:      p,
		nf:     len(x.Cols),
		ntrain: len(train),
		nvalid: len(valid),
		pool:   newPool(p.Workers),
	}
	n := t.ntrain + t.nvalid
	t.y = make([]float64, n)
	for i, r := range train {
		t.y[i] = y[r]
	}
	for i, r := range valid {
		t.y[t.ntrain+i] = y[r]
	}
	t.pred = make([]float64, n)
	t.grad = make([]float32, t.ntrain)
	t.rows = make([]int32, t.ntrain)
	t.scratch = make([]int32, t.ntrain)
	t.og = make([]float32, t.ntrain)
	t.best = make([]split, t.nf)
	t.part = make([]float64, (max(t.ntrain, t.nvalid)+chunk-1)/chunk)
	t.bin(x, train, valid)
	t.histJob = t.histFeature
	t.subJob = t.subtractFeature
	t.splitJob = t.splitFeature
	t.gradJob = t.gradChunk
	t.walkJob = t.walkChunk
	t.gatherJob = t.gatherChunk
	t.partJob = t.partChunk
	t.placeJob = t.placeChunk
	t.applyJob = t.applyLeaf
	chunks := (t.ntrain + chunk - 1) / chunk
	t.lefts, t.leftAt, t.rightAt = make([]int, chunks), make([]int, chunks), make([]int, chunks)
	return t
}

// sampleRows returns at most p.BinSample training rows (X indices), evenly
// spaced.
func sampleRows(train []int, k int) []int {
	if len(train) <= k {
		return train
	}
	s := make([]int, k)
	for i := range s {
		s[i] = train[int(int64(i)*int64(len(train))/int64(k))]
	}
	return s
}

// bin computes every feature's edges from a sample of the training rows
// and the bins of the training and validation rows.
func (t *trainer) bin(x *dataset.Matrix, train, valid []int) {
	sample := sampleRows(train, t.p.BinSample)
	t.bins = make([][]uint8, t.nf)
	t.edges = make([][]float32, t.nf)
	t.nb = make([]int, t.nf)
	bufs := make(chan []float32, t.p.Workers)
	for range t.p.Workers {
		bufs <- make([]float32, 0, len(sample))
	}
	t.pool.run(t.nf, func(j int) {
		buf := <-bufs
		buf = sortedSample(buf, x.Cols[j], sample)
		edges := edgesOf(buf, t.p.MaxBins)
		bufs <- buf
		t.edges[j], t.nb[j] = edges, len(edges)+1
		col, b := x.Cols[j], make([]uint8, t.ntrain+t.nvalid)
		for i, r := range train {
			b[i] = binSearch(edges, col[r])
		}
		for i, r := range valid {
			b[t.ntrain+i] = binSearch(edges, col[r])
		}
		t.bins[j] = b
	})
}

// binSearch returns x's bin: the index of the first edge >= x, so that
// binSearch(x) <= b exactly when x <= edges[b]; NaN goes to len(edges)+1,
// the missing-value bin.
func binSearch(edges []float32, x float32) uint8 {
	if x != x {
		return uint8(len(edges) + 1)
	}
	lo, hi := 0, len(edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x <= edges[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return uint8(lo)
}

// run is the boosting loop.
func (t *trainer) run(ctx context.Context, names []string) (*Model, error) {
	p := t.p
	m := &Model{FeatureNames: slices.Clone(names), Params: p}
	m.Base = t.initialise()
	for i := range t.pred {
		t.pred[i] = float64(m.Base)
	}
	if t.nvalid > 0 {
		m.ValidLoss = append(m.ValidLoss, t.validLoss(nil))
	}
	bestLoss, bestRound := math.Inf(1), 0
	if t.nvalid > 0 {
		bestLoss = m.ValidLoss[0]
	}
	for round := 1; round <= p.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.TrainLoss = append(m.TrainLoss, t.gradients())
		inBag := t.sample(round)
		tree := t.grow(inBag)
		m.Trees = append(m.Trees, Tree{Nodes: tree})
		t.apply(tree, inBag)
		if t.nvalid == 0 {
			if p.Progress != nil {
				p.Progress(round, p.Rounds, math.NaN())
			}
			continue
		}
		loss := t.validLoss(tree)
		m.ValidLoss = append(m.ValidLoss, loss)
		if p.Progress != nil {
			p.Progress(round, p.Rounds, loss)
		}
		if loss < bestLoss {
			bestLoss, bestRound = loss, round
		} else if round-bestRound >= p.EarlyStoppingRounds {
			break
		}
	}
	m.TrainLoss = append(m.TrainLoss, t.trainLoss())
	m.Rounds = len(m.Trees)
	m.BestRound = len(m.Trees)
	if t.nvalid > 0 {
		m.BestRound = bestRound
		m.Trees = m.Trees[:bestRound]
	}
	if len(m.Trees) == 0 {
		// An ensemble needs a tree: one leaf adding nothing.
		m.Trees = []Tree{{Nodes: []Node{{Feature: -1, Count: t.ntrain}}}}
	}
	return m, nil
}

// initialise picks the initial prediction (and the Huber delta).
func (t *trainer) initialise() float32 {
	y := t.y[:t.ntrain]
	if t.p.Loss == Squared {
		s := 0.0
		for _, v := range y {
			s += v
		}
		return float32(s / float64(len(y)))
	}
	k := min(len(y), t.p.BinSample)
	sample := make([]float64, k)
	for i := range sample {
		sample[i] = y[int(int64(i)*int64(len(y))/int64(k))]
	}
	slices.Sort(sample)
	med := quantile(sample, 0.5)
	t.delta = t.p.HuberDelta
	if t.delta == 0 {
		for i, v := range sample {
			sample[i] = math.Abs(v - med)
		}
		slices.Sort(sample)
		t.delta = quantile(sample, 0.9)
		if t.delta == 0 {
			t.delta = 1
		}
	}
	return float32(med)
}

// quantile of sorted values, by linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// loss is the loss of one residual r = f - y and its gradient.
func (t *trainer) loss(r float64) (loss, grad float64) {
	if t.p.Loss == Huber {
		if a := math.Abs(r); a > t.delta {
			return t.delta * (a - t.delta/2), math.Copysign(t.delta, r)
		}
		return r * r / 2, r
	}
	return r * r, r
}

// gradients computes the gradients of the training rows and returns their
// mean loss.
func (t *trainer) gradients() float64 {
	t.job.lo, t.job.hi = 0, t.ntrain
	n := (t.ntrain + chunk - 1) / chunk
	t.pool.run(n, t.gradJob)
	return sumOf(t.part[:n]) / float64(t.ntrain)
}

func (t *trainer) gradChunk(c int) {
	lo, hi := c*chunk, min((c+1)*chunk, t.ntrain)
	y, f, g := t.y[lo:hi], t.pred[lo:hi], t.grad[lo:hi]
	s := 0.0
	for i := range y {
		l, d := t.loss(f[i] - y[i])
		s += l
		g[i] = float32(d)
	}
	t.part[c] = s
}

// trainLoss is the mean loss of the training rows.
func (t *trainer) trainLoss() float64 {
	s := 0.0
	for i := range t.ntrain {
		l, _ := t.loss(t.pred[i] - t.y[i])
		s += l
	}
	return s / float64(t.ntrain)
}

func sumOf(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// sample fills rows with the rows of the next tree (in order) and, with
// subsampling, the others after them; it returns how many are in the bag.
func (t *trainer) sample(round int) int {
	if t.p.Subsample >= 1 {
		for i := range t.rows {
			t.rows[i] = int32(i)
		}
		return t.ntrain
	}
	rng := rand.New(rand.NewPCG(t.p.Seed, uint64(round)))
	in, out := 0, t.ntrain
	for i := range t.ntrain {
		if rng.Float64() < t.p.Subsample {
			t.rows[in] = int32(i)
			in++
		} else {
			out--
			t.rows[out] = int32(i)
		}
	}
	return in
}

// apply adds a tree's leaf values to the predictions of the training rows:
// the rows in the bag through the leaves' row ranges, the others by walking
// the tree.
func (t *trainer) apply(tree []Node, inBag int) {
	t.job.tree = tree
	t.pool.run(len(t.leaves), t.applyJob)
	if inBag < t.ntrain {
		for _, r := range t.rows[inBag:] {
			t.pred[r] += float64(t.walk(tree, int(r)))
		}
	}
}

// applyLeaf adds leaf i's value to the predictions of its rows.
func (t *trainer) applyLeaf(i int) {
	l := &t.leaves[i]
	v := float64(t.job.tree[l.node].Value)
	for _, r := range t.rows[l.start:l.end] {
		t.pred[r] += v
	}
}

// validLoss adds tree (if any) to the validation predictions and returns
// their mean loss.
func (t *trainer) validLoss(tree []Node) float64 {
	t.job.tree = tree
	t.job.lo, t.job.hi = t.ntrain, t.ntrain+t.nvalid
	n := (t.nvalid + chunk - 1) / chunk
	t.pool.run(n, t.walkJob)
	return sumOf(t.part[:n]) / float64(t.nvalid)
}

func (t *trainer) walkChunk(c int) {
	lo := t.job.lo + c*chunk
	hi := min(lo+chunk, t.job.hi)
	s := 0.0
	for r := lo; r < hi; r++ {
		if t.job.tree != nil {
			t.pred[r] += float64(t.walk(t.job.tree, r))
		}
		l, _ := t.loss(t.pred[r] - t.y[r])
		s += l
	}
	t.part[c] = s
}

// walk returns the value of the leaf local row r reaches, using its bins.
func (t *trainer) walk(tree []Node, r int) float32 {
	n := &tree[0]
	for n.Feature >= 0 {
		b := t.bins[n.Feature][r]
		left := b <= n.bin
		if int(b) == t.nb[n.Feature] {
			left = n.MissingLeft
		}
		if left {
			n = &tree[n.Left]
		} else {
			n = &tree[n.Right]
		}
	}
	return n.Value
}
