package mlp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// Errors (wrapped).
var (
	// ErrParams: invalid Params.
	ErrParams = errors.New("mlp: invalid parameters")
	// ErrData: invalid training data.
	ErrData = errors.New("mlp: invalid training data")
)

// Params are the training parameters. A zero field takes the default of
// DefaultParams, except L2 where zero means no penalty.
type Params struct {
	// Hidden are the widths of the hidden layers, one or two (default [32]).
	Hidden []int `json:"hidden"`
	// LearningRate is Adam's step size (default 0.003).
	LearningRate float64 `json:"learning_rate"`
	// BatchSize is the rows per mini-batch (default 128).
	BatchSize int `json:"batch_size"`
	// MaxEpochs bounds the passes over the training rows (default 100).
	MaxEpochs int `json:"max_epochs"`
	// Patience: with validation rows, training stops when the validation
	// loss has not improved for this many epochs (default 8).
	Patience int `json:"patience"`
	// L2 is the weight decay λ added to the gradient of each weight (not
	// the biases) as λ·w.
	L2 float64 `json:"l2"`
	// ClassWeights weighs each class's rows in the loss (nil: all 1);
	// Balanced multiplies them by n/(K·n_k).
	ClassWeights []float64 `json:"class_weights,omitempty"`
	Balanced     bool      `json:"balanced,omitempty"`
	// Seed drives the initial weights and the shuffling.
	Seed uint64 `json:"seed"`
	// Progress, if set, is called after every epoch with the epoch, the
	// maximum and the validation loss (NaN without validation rows).
	Progress func(epoch, epochs int, validLoss float64) `json:"-"`
}

// DefaultParams returns the default parameters.
func DefaultParams() Params {
	return Params{Hidden: []int{32}, LearningRate: 0.003, BatchSize: 128, MaxEpochs: 100, Patience: 8}
}

func (p Params) withDefaults() (Params, error) {
	d := DefaultParams()
	if p.Hidden == nil {
		p.Hidden = d.Hidden
	}
	if p.LearningRate == 0 {
		p.LearningRate = d.LearningRate
	}
	if p.BatchSize == 0 {
		p.BatchSize = d.BatchSize
	}
	if p.MaxEpochs == 0 {
		p.MaxEpochs = d.MaxEpochs
	}
	if p.Patience == 0 {
		p.Patience = d.Patience
	}
	p.Hidden = slices.Clone(p.Hidden)
	switch {
	case len(p.Hidden) < 1 || len(p.Hidden) > 2:
		return p, fmt.Errorf("%w: %d hidden layers, want 1 or 2", ErrParams, len(p.Hidden))
	case slices.Min(p.Hidden) < 1:
		return p, fmt.Errorf("%w: hidden layer widths %v", ErrParams, p.Hidden)
	case !(p.LearningRate > 0):
		return p, fmt.Errorf("%w: learning_rate %v", ErrParams, p.LearningRate)
	case p.BatchSize < 1:
		return p, fmt.Errorf("%w: batch_size %d", ErrParams, p.BatchSize)
	case p.MaxEpochs < 1:
		return p, fmt.Errorf("%w: max_epochs %d", ErrParams, p.MaxEpochs)
	case p.Patience < 1:
		return p, fmt.Errorf("%w: patience %d", ErrParams, p.Patience)
	case !(p.L2 >= 0):
		return p, fmt.Errorf("%w: l2 %v", ErrParams, p.L2)
	}
	for _, w := range p.ClassWeights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return p, fmt.Errorf("%w: class weight %v", ErrParams, w)
		}
	}
	return p, nil
}

// Layer is a fully connected layer: y = W·x + B, W row-major [Out × In].
type Layer struct {
	In  int       `json:"in"`
	Out int       `json:"out"`
	W   []float32 `json:"w"`
	B   []float32 `json:"b"`
}

// Model is a trained MLP classifier. It is immutable and safe for
// concurrent use.
type Model struct {
	// FeatureNames and Classes name the inputs and the classes.
	FeatureNames []string `json:"feature_names"`
	Classes      []string `json:"classes"`
	// Mean and Scale standardise the features: z = (x − Mean)·Scale.
	Mean  []float32 `json:"mean"`
	Scale []float32 `json:"scale"`
	// Layers: ReLU after every layer but the last, softmax after it.
	Layers []Layer `json:"layers"`
	// Params are the parameters used.
	Params Params `json:"params"`
	// Epochs trained, and the epoch whose weights were kept (1-based).
	Epochs    int `json:"epochs"`
	BestEpoch int `json:"best_epoch"`
	// TrainLoss[e] and ValidLoss[e] are the weighted mean cross-entropies
	// after epoch e+1 (ValidLoss nil without validation rows).
	TrainLoss []float64 `json:"train_loss"`
	ValidLoss []float64 `json:"valid_loss,omitempty"`
}

// PredictRow returns the class of one row and its probabilities in probs
// (len(Classes)).
func (m *Model) PredictRow(row []float32, probs []float64) int {
	width := 0
	for _, l := range m.Layers {
		width = max(width, l.Out, l.In)
	}
	a, b := make([]float64, width), make([]float64, width)
	for j, x := range row {
		a[j] = (float64(x) - float64(m.Mean[j])) * float64(m.Scale[j])
	}
	for li, l := range m.Layers {
		for o := range l.Out {
			s := float64(l.B[o])
			w := l.W[o*l.In : (o+1)*l.In]
			for i, v := range a[:l.In] {
				s += float64(w[i]) * v
			}
			if li < len(m.Layers)-1 {
				s = max(s, 0)
			}
			b[o] = s
		}
		a, b = b, a
	}
	out := a[:len(probs)]
	copy(probs, out)
	softmax(probs)
	best := 0
	for k, p := range probs {
		if p > probs[best] {
			best = k
		}
	}
	return best
}

// Predict returns the classes of the rows of x and their probabilities,
// row-major [rows × classes].
func (m *Model) Predict(x *dataset.Matrix) (classes []int, probs []float64) {
	k := len(m.Classes)
	classes, probs = make([]int, x.Rows), make([]float64, x.Rows*k)
	row := make([]float32, len(x.Cols))
	for i := range x.Rows {
		row = x.Row(i, row)
		classes[i] = m.PredictRow(row, probs[i*k:(i+1)*k])
	}
	return classes, probs
}

func softmax(v []float64) {
	mx := math.Inf(-1)
	for _, s := range v {
		mx = max(mx, s)
	}
	sum := 0.0
	for i, s := range v {
		v[i] = math.Exp(s - mx)
		sum += v[i]
	}
	for i := range v {
		v[i] /= sum
	}
}

// net holds float64 parameters and the buffers of one batch.
type net struct {
	sizes []int         // feature count, hidden widths, classes
	w, b  [][]float64   // per layer
	gw    [][]float64   // gradients
	gb    [][]float64   // gradients
	act   [][]float64   // per layer input: act[0] = batch features, act[l+1] = output of layer l
	delta [][]float64   // gradient wrt each layer's output
	mw    [][][]float64 // Adam moments of w (m, v)
	mb    [][][]float64
	t     int
}

func newNet(sizes []int, batch int, r *rand.Rand) *net {
	n := &net{sizes: sizes}
	layers := len(sizes) - 1
	for l := range layers {
		in, out := sizes[l], sizes[l+1]
		w := make([]float64, out*in)
		sd := math.Sqrt(2 / float64(in)) // He initialisation for ReLU
		if l == layers-1 {
			sd = math.Sqrt(1 / float64(in))
		}
		for i := range w {
			w[i] = sd * r.NormFloat64()
		}
		n.w = append(n.w, w)
		n.b = append(n.b, make([]float64, out))
		n.gw = append(n.gw, make([]float64, out*in))
		n.gb = append(n.gb, make([]float64, out))
		n.mw = append(n.mw, [][]float64{make([]float64, out*in), make([]float64, out*in)})
		n.mb = append(n.mb, [][]float64{make([]float64, out), make([]float64, out)})
	}
	n.resize(batch)
	return n
}

// resize gives the batch buffers room for rows rows.
func (n *net) resize(rows int) {
	n.act, n.delta = n.act[:0], n.delta[:0]
	for _, s := range n.sizes {
		n.act = append(n.act, make([]float64, rows*s))
		n.delta = append(n.delta, make([]float64, rows*s))
	}
}

func general(rows, cols int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Data: data[:rows*cols], Stride: cols}
}

// forward computes the softmax probabilities of the rows in act[0] into
// the last act.
func (n *net) forward(rows int) {
	layers := len(n.w)
	for l := range layers {
		in, out := n.sizes[l], n.sizes[l+1]
		a, z := n.act[l][:rows*in], n.act[l+1][:rows*out]
		for i := range rows {
			copy(z[i*out:(i+1)*out], n.b[l])
		}
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, general(rows, in, a), general(out, in, n.w[l]), 1, general(rows, out, z))
		if l < layers-1 {
			for i, v := range z {
				z[i] = max(v, 0)
			}
		} else {
			for i := range rows {
				softmax(z[i*out : (i+1)*out])
			}
		}
	}
}

// loss returns Σ weight·(−log p[y]) over the rows of the last forward.
func (n *net) loss(rows int, y []int, weight []float64) float64 {
	k := n.sizes[len(n.sizes)-1]
	p := n.act[len(n.act)-1]
	s := 0.0
	for i := range rows {
		s -= weight[i] * math.Log(max(p[i*k+y[i]], 1e-300))
	}
	return s
}

// backward computes the gradients of Σ weight·(−log p[y]) / totalW.
func (n *net) backward(rows int, y []int, weight []float64, totalW float64) {
	layers := len(n.w)
	k := n.sizes[layers]
	d := n.delta[layers][:rows*k]
	p := n.act[layers]
	for i := range rows {
		w := weight[i] / totalW
		for c := range k {
			v := p[i*k+c]
			if c == y[i] {
				v--
			}
			d[i*k+c] = w * v
		}
	}
	for l := layers - 1; l >= 0; l-- {
		in, out := n.sizes[l], n.sizes[l+1]
		dz := n.delta[l+1][:rows*out]
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, general(rows, out, dz), general(rows, in, n.act[l]), 0, general(out, in, n.gw[l]))
		gb := n.gb[l]
		clear(gb)
		for i := range rows {
			for o, v := range dz[i*out : (i+1)*out] {
				gb[o] += v
			}
		}
		if l == 0 {
			break
		}
		da := n.delta[l][:rows*in]
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, general(rows, out, dz), general(out, in, n.w[l]), 0, general(rows, in, da))
		a := n.act[l][:rows*in]
		for i, v := range a {
			if v <= 0 {
				da[i] = 0
			}
		}
	}
}

// adam applies one Adam step (β1 0.9, β2 0.999, ε 1e-8) with weight decay
// l2 on the weights.
func (n *net) adam(lr, l2 float64) {
	n.t++
	c1 := 1 - math.Pow(0.9, float64(n.t))
	c2 := 1 - math.Pow(0.999, float64(n.t))
	step := func(p, g []float64, mv [][]float64, decay float64) {
		m, v := mv[0], mv[1]
		for i := range p {
			gi := g[i] + decay*p[i]
			m[i] = 0.9*m[i] + 0.1*gi
			v[i] = 0.999*v[i] + 0.001*gi*gi
			p[i] -= lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + 1e-8)
		}
	}
	for l := range n.w {
		step(n.w[l], n.gw[l], n.mw[l], l2)
		step(n.b[l], n.gb[l], n.mb[l], 0)
	}
}

// snapshot copies the weights as float32 layers.
func (n *net) snapshot() []Layer {
	var out []Layer
	for l := range n.w {
		layer := Layer{In: n.sizes[l], Out: n.sizes[l+1], W: make([]float32, len(n.w[l])), B: make([]float32, len(n.b[l]))}
		for i, v := range n.w[l] {
			layer.W[i] = float32(v)
		}
		for i, v := range n.b[l] {
			layer.B[i] = float32(v)
		}
		out = append(out, layer)
	}
	return out
}

// Train fits the classifier to labels y (class indices into classes) on the
// rows train of x (nil: every row); the rows valid (may be nil) drive early
// stopping. x is neither copied nor modified.
func Train(ctx context.Context, x *dataset.Matrix, y []int, classes []string, train, valid []int, p Params) (*Model, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	nk, nf := len(classes), len(x.Cols)
	switch {
	case p.ClassWeights != nil && len(p.ClassWeights) != nk:
		return nil, fmt.Errorf("%w: %d class weights for %d classes", ErrParams, len(p.ClassWeights), nk)
	case nk < 2:
		return nil, fmt.Errorf("%w: %d classes, need 2 or more", ErrData, nk)
	case nf == 0 || len(x.Names) != nf:
		return nil, fmt.Errorf("%w: %d feature columns, %d names", ErrData, nf, len(x.Names))
	case len(y) != x.Rows:
		return nil, fmt.Errorf("%w: %d labels for %d rows", ErrData, len(y), x.Rows)
	}
	if train == nil {
		train = make([]int, x.Rows)
		for i := range train {
			train[i] = i
		}
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("%w: no training rows", ErrData)
	}
	counts := make([]int, nk)
	for s, set := range [][]int{train, valid} {
		for _, r := range set {
			if r < 0 || r >= x.Rows {
				return nil, fmt.Errorf("%w: row %d out of range", ErrData, r)
			}
			if y[r] < 0 || y[r] >= nk {
				return nil, fmt.Errorf("%w: row %d has class %d, not in 0..%d", ErrData, r, y[r], nk-1)
			}
			for j := range nf {
				if v := x.Cols[j][r]; v != v || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("%w: row %d: %s is %v (impute or drop missing values first)", ErrData, r, x.Names[j], v)
				}
			}
			if s == 0 {
				counts[y[r]]++
			}
		}
	}
	classW := dataset.ClassWeights(counts, p.ClassWeights, p.Balanced)

	m := &Model{FeatureNames: slices.Clone(x.Names), Classes: slices.Clone(classes), Params: p}
	m.Mean, m.Scale = x.Standardise(train)
	sizes := append(append([]int{nf}, p.Hidden...), nk)
	r := rand.New(rand.NewPCG(p.Seed, 0x6d6c70))
	n := newNet(sizes, p.BatchSize, r)
	order := slices.Clone(train)
	yb := make([]int, p.BatchSize)
	wb := make([]float64, p.BatchSize)
	best, bestEpoch, bestLayers := math.Inf(1), 0, []Layer(nil)
	ev := newEvaluator(m, x, y, classW, sizes)
	for epoch := 1; epoch <= p.MaxEpochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += p.BatchSize {
			rows := order[start:min(start+p.BatchSize, len(order))]
			a := n.act[0]
			totalW := 0.0
			for i, row := range rows {
				for j := range nf {
					a[i*nf+j] = (float64(x.Cols[j][row]) - float64(m.Mean[j])) * float64(m.Scale[j])
				}
				yb[i], wb[i] = y[row], classW[y[row]]
				totalW += wb[i]
			}
			if totalW == 0 {
				continue
			}
			n.forward(len(rows))
			n.backward(len(rows), yb, wb, totalW)
			n.adam(p.LearningRate, p.L2)
		}
		layers := n.snapshot()
		m.Epochs = epoch
		m.TrainLoss = append(m.TrainLoss, ev.loss(layers, train))
		if len(valid) == 0 {
			bestEpoch, bestLayers = epoch, layers
			continue
		}
		loss := ev.loss(layers, valid)
		m.ValidLoss = append(m.ValidLoss, loss)
		if p.Progress != nil {
			p.Progress(epoch, p.MaxEpochs, loss)
		}
		if loss < best {
			best, bestEpoch, bestLayers = loss, epoch, layers
		} else if epoch-bestEpoch >= p.Patience {
			break
		}
	}
	m.Layers, m.BestEpoch = bestLayers, bestEpoch
	return m, nil
}

// evaluator computes the weighted mean cross-entropy of float32 layers on a
// set of rows, in parallel over fixed chunks summed in order.
type evaluator struct {
	m      *Model
	x      *dataset.Matrix
	y      []int
	classW []float64
	sizes  []int
}

func newEvaluator(m *Model, x *dataset.Matrix, y []int, classW []float64, sizes []int) *evaluator {
	return &evaluator{m: m, x: x, y: y, classW: classW, sizes: sizes}
}

const evalChunk = 4096

func (e *evaluator) loss(layers []Layer, rows []int) float64 {
	chunks := (len(rows) + evalChunk - 1) / evalChunk
	parts := make([][2]float64, chunks)
	next := make(chan int, chunks)
	for c := range chunks {
		next <- c
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Go(func() {
			n := &net{sizes: e.sizes}
			for _, l := range layers {
				w, b := make([]float64, len(l.W)), make([]float64, len(l.B))
				for i, v := range l.W {
					w[i] = float64(v)
				}
				for i, v := range l.B {
					b[i] = float64(v)
				}
				n.w, n.b = append(n.w, w), append(n.b, b)
			}
			n.resize(evalChunk)
			yb, wb := make([]int, evalChunk), make([]float64, evalChunk)
			nf := e.sizes[0]
			for c := range next {
				part := rows[c*evalChunk : min((c+1)*evalChunk, len(rows))]
				a := n.act[0]
				for i, row := range part {
					for j := range nf {
						a[i*nf+j] = (float64(e.x.Cols[j][row]) - float64(e.m.Mean[j])) * float64(e.m.Scale[j])
					}
					yb[i], wb[i] = e.y[row], e.classW[e.y[row]]
					parts[c][1] += wb[i]
				}
				n.forward(len(part))
				parts[c][0] = n.loss(len(part), yb, wb)
			}
		})
	}
	wg.Wait()
	s, w := 0.0, 0.0
	for _, p := range parts {
		s += p[0]
		w += p[1]
	}
	if w == 0 {
		return 0
	}
	return s / w
}
