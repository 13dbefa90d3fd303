package linear

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// Errors (wrapped).
var (
	// ErrParams: invalid Params.
	ErrParams = errors.New("linear: invalid parameters")
	// ErrData: invalid training data.
	ErrData = errors.New("linear: invalid training data")
)

// Params are the training parameters. A zero field takes the default of
// DefaultParams, except L2 where zero means no penalty.
type Params struct {
	// L2 is the penalty L2/2·‖W‖² on the coefficients of the standardised
	// features, added to the mean loss (DefaultParams: 1e-4).
	L2 float64 `json:"l2"`
	// ClassWeights weighs each class's rows in the loss (nil: all 1). For
	// acute malnutrition, weigh SAM up: missing a SAM child costs most.
	ClassWeights []float64 `json:"class_weights,omitempty"`
	// Balanced weighs class k by n/(K·n_k), making every class count as
	// much in total; it multiplies ClassWeights.
	Balanced bool `json:"balanced,omitempty"`
	// MaxIterations bounds the L-BFGS iterations (default 500).
	MaxIterations int `json:"max_iterations"`
	// GradientTolerance stops when the largest gradient component is below
	// it (default 1e-6).
	GradientTolerance float64 `json:"gradient_tolerance"`
	// Workers is the number of goroutines (default GOMAXPROCS); it does not
	// change the model.
	Workers int `json:"-"`
}

// DefaultParams returns the default parameters.
func DefaultParams() Params {
	return Params{L2: 1e-4, MaxIterations: 500, GradientTolerance: 1e-6}
}

// Model is a trained multinomial logistic regression. It is immutable and
// safe for concurrent use.
type Model struct {
	// FeatureNames and Classes name the inputs and the classes (class k is
	// Classes[k]).
	FeatureNames []string `json:"feature_names"`
	Classes      []string `json:"classes"`
	// Mean and Scale standardise the features: z = (x − Mean)·Scale.
	Mean  []float32 `json:"mean"`
	Scale []float32 `json:"scale"`
	// Coef holds the coefficients of the standardised features, one row
	// of len(FeatureNames) per class; Intercept one value per class. Both
	// are centred over the classes (softmax does not change).
	Coef      []float32 `json:"coef"`
	Intercept []float32 `json:"intercept"`
	// Params are the parameters used; Iterations and Loss describe the
	// optimisation (Loss: the penalised objective at the end).
	Params     Params  `json:"params"`
	Iterations int     `json:"iterations"`
	Loss       float64 `json:"loss"`
}

// scores computes the class scores W·z + b of one row into dst (len
// classes).
func (m *Model) scores(row []float32, dst []float64) {
	nf := len(m.FeatureNames)
	for k := range dst {
		s := float64(m.Intercept[k])
		w := m.Coef[k*nf : (k+1)*nf]
		for j, x := range row {
			z := (float64(x) - float64(m.Mean[j])) * float64(m.Scale[j])
			s += float64(w[j]) * z
		}
		dst[k] = s
	}
}

// PredictRow returns the class of one row and its probabilities in probs
// (len(Classes)).
func (m *Model) PredictRow(row []float32, probs []float64) int {
	m.scores(row, probs)
	best := 0
	for k, s := range probs {
		if s > probs[best] {
			best = k
		}
	}
	softmax(probs)
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

// RawCoefficients returns the coefficients and intercepts on the original
// feature scale: score_k = Σ_j coef[k][j]·x_j + intercept[k].
func (m *Model) RawCoefficients() (coef [][]float64, intercept []float64) {
	nf := len(m.FeatureNames)
	coef = make([][]float64, len(m.Classes))
	intercept = make([]float64, len(m.Classes))
	for k := range coef {
		coef[k] = make([]float64, nf)
		intercept[k] = float64(m.Intercept[k])
		for j := range nf {
			w := float64(m.Coef[k*nf+j]) * float64(m.Scale[j])
			coef[k][j] = w
			intercept[k] -= w * float64(m.Mean[j])
		}
	}
	return coef, intercept
}

// softmax turns scores into probabilities in place.
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

// chunk is the rows of one parallel task; fixed so that sums do not depend
// on the number of workers.
const chunk = 1 << 14

// Train fits the model to labels y (class indices into classes) on rows
// (nil: all rows) of x. x is neither copied nor modified.
func Train(ctx context.Context, x *dataset.Matrix, y []int, classes []string, rows []int, p Params) (*Model, error) {
	d := DefaultParams()
	if p.MaxIterations == 0 {
		p.MaxIterations = d.MaxIterations
	}
	if p.GradientTolerance == 0 {
		p.GradientTolerance = d.GradientTolerance
	}
	if p.Workers <= 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	nk, nf := len(classes), len(x.Cols)
	switch {
	case !(p.L2 >= 0):
		return nil, fmt.Errorf("%w: l2 %v < 0", ErrParams, p.L2)
	case p.MaxIterations < 1:
		return nil, fmt.Errorf("%w: max_iterations %d < 1", ErrParams, p.MaxIterations)
	case p.ClassWeights != nil && len(p.ClassWeights) != nk:
		return nil, fmt.Errorf("%w: %d class weights for %d classes", ErrParams, len(p.ClassWeights), nk)
	case nk < 2:
		return nil, fmt.Errorf("%w: %d classes, need 2 or more", ErrData, nk)
	case nf == 0 || len(x.Names) != nf:
		return nil, fmt.Errorf("%w: %d feature columns, %d names", ErrData, nf, len(x.Names))
	case len(y) != x.Rows:
		return nil, fmt.Errorf("%w: %d labels for %d rows", ErrData, len(y), x.Rows)
	}
	for _, w := range p.ClassWeights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: class weight %v", ErrParams, w)
		}
	}
	if rows == nil {
		rows = make([]int, x.Rows)
		for i := range rows {
			rows[i] = i
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no training rows", ErrData)
	}
	counts := make([]int, nk)
	for _, r := range rows {
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
		counts[y[r]]++
	}
	weights := dataset.ClassWeights(counts, p.ClassWeights, p.Balanced)

	m := &Model{FeatureNames: slices.Clone(x.Names), Classes: slices.Clone(classes), Params: p}
	m.Mean, m.Scale = x.Standardise(rows)
	o := &objective{x: x, y: y, rows: rows, m: m, nk: nk, nf: nf, l2: p.L2, weights: weights, workers: p.Workers}
	o.init()
	theta := make([]float64, nk*(nf+1))
	opt := lbfgs{memory: 10, maxIter: p.MaxIterations, gtol: p.GradientTolerance, ftol: 1e-12}
	loss, iters, err := opt.minimize(ctx, func(theta, grad []float64) float64 {
		o.eval(theta)
		copy(grad, o.g)
		return o.f
	}, theta)
	if err != nil {
		return nil, err
	}
	m.Iterations, m.Loss = iters, loss
	// Centre over the classes: softmax is unchanged.
	for j := 0; j <= nf; j++ {
		mean := 0.0
		for k := range nk {
			mean += theta[k*(nf+1)+j]
		}
		mean /= float64(nk)
		for k := range nk {
			theta[k*(nf+1)+j] -= mean
		}
	}
	m.Coef, m.Intercept = make([]float32, nk*nf), make([]float32, nk)
	for k := range nk {
		for j := range nf {
			m.Coef[k*nf+j] = float32(theta[k*(nf+1)+j])
		}
		m.Intercept[k] = float32(theta[k*(nf+1)+nf])
	}
	return m, nil
}

// objective is the penalised weighted cross-entropy over the parameters
// θ = [W_k, b_k] for k in classes (row k: nf coefficients, then the
// intercept). It caches the value and gradient of the last θ.
type objective struct {
	x       *dataset.Matrix
	y       []int
	rows    []int
	m       *Model
	nk, nf  int
	l2      float64
	weights []float64
	workers int

	totalW float64
	last   []float64
	f      float64
	g      []float64
	parts  [][]float64 // per chunk: loss, then the gradient
}

func (o *objective) init() {
	for _, r := range o.rows {
		o.totalW += o.weights[o.y[r]]
	}
	dim := o.nk * (o.nf + 1)
	o.g = make([]float64, dim)
	o.parts = make([][]float64, (len(o.rows)+chunk-1)/chunk)
	for c := range o.parts {
		o.parts[c] = make([]float64, 1+dim)
	}
}

// eval computes the loss and gradient at theta unless they are cached.
func (o *objective) eval(theta []float64) {
	if o.last != nil && slices.Equal(o.last, theta) {
		return
	}
	o.last = append(o.last[:0], theta...)
	var wg sync.WaitGroup
	next := make(chan int, len(o.parts))
	for c := range o.parts {
		next <- c
	}
	close(next)
	for range min(o.workers, len(o.parts)) {
		wg.Go(func() {
			z := make([]float64, o.nf)
			p := make([]float64, o.nk)
			for c := range next {
				o.chunk(c, theta, z, p)
			}
		})
	}
	wg.Wait()
	o.f = 0
	clear(o.g)
	for _, part := range o.parts {
		o.f += part[0]
		for i, v := range part[1:] {
			o.g[i] += v
		}
	}
	if o.totalW > 0 {
		o.f /= o.totalW
		for i := range o.g {
			o.g[i] /= o.totalW
		}
	}
	for k := range o.nk {
		for j := range o.nf {
			w := theta[k*(o.nf+1)+j]
			o.f += o.l2 / 2 * w * w
			o.g[k*(o.nf+1)+j] += o.l2 * w
		}
	}
}

// chunk accumulates chunk c's weighted loss and gradient into its part.
func (o *objective) chunk(c int, theta, z, p []float64) {
	part := o.parts[c]
	clear(part)
	g := part[1:]
	lo, hi := c*chunk, min((c+1)*chunk, len(o.rows))
	nf1 := o.nf + 1
	for _, r := range o.rows[lo:hi] {
		for j := range o.nf {
			z[j] = (float64(o.x.Cols[j][r]) - float64(o.m.Mean[j])) * float64(o.m.Scale[j])
		}
		for k := range o.nk {
			w := theta[k*nf1 : (k+1)*nf1]
			s := w[o.nf]
			for j, v := range z {
				s += w[j] * v
			}
			p[k] = s
		}
		yk := o.y[r]
		wt := o.weights[yk]
		// −log softmax(s)[y] = logsumexp(s) − s[y]
		mx := math.Inf(-1)
		for _, s := range p {
			mx = max(mx, s)
		}
		sum := 0.0
		for k, s := range p {
			p[k] = math.Exp(s - mx)
			sum += p[k]
		}
		part[0] += wt * (math.Log(sum) + mx - (math.Log(p[yk]) + mx))
		for k := range p {
			d := p[k] / sum
			if k == yk {
				d--
			}
			d *= wt
			gk := g[k*nf1 : (k+1)*nf1]
			for j, v := range z {
				gk[j] += d * v
			}
			gk[o.nf] += d
		}
	}
}
