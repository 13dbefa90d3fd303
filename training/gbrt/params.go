package gbrt

import (
	"errors"
	"fmt"
	"runtime"
)

// Loss is the training loss.
type Loss string

// Losses. Both have a hessian of 1, so a leaf's value is the regularised
// mean of its gradients and the model predicts on the scale of the target.
const (
	// Squared is the squared error (y − f)²/2: the model estimates the mean.
	Squared Loss = "squared"
	// Huber is squared for residuals up to HuberDelta and linear beyond, so
	// a few outlying reports (a warehouse transfer booked as consumption)
	// pull the fit less. The model estimates a robust centre.
	Huber Loss = "huber"
)

// ErrParams is wrapped by errors about invalid Params.
var ErrParams = errors.New("gbrt: invalid parameters")

// Params are the training parameters. In a Params, a zero field takes the
// default of DefaultParams, except L2 and MinGain where zero means none.
type Params struct {
	// Rounds is the maximum number of trees (default 200).
	Rounds int `json:"rounds"`
	// LearningRate shrinks every tree's leaves (default 0.1).
	LearningRate float64 `json:"learning_rate"`
	// MaxDepth bounds the depth of a tree (default 6: at most 64 leaves).
	MaxDepth int `json:"max_depth"`
	// MaxLeaves bounds the leaves of a tree, grown best-first (default
	// 2^MaxDepth: the full tree of MaxDepth if every split pays).
	MaxLeaves int `json:"max_leaves"`
	// MinSamplesLeaf is the fewest training rows in a leaf (default 20).
	MinSamplesLeaf int `json:"min_samples_leaf"`
	// L2 is the L2 penalty on leaf values (λ in G²/(H+λ); DefaultParams: 1).
	L2 float64 `json:"l2"`
	// MinGain is the smallest loss reduction a split must bring.
	MinGain float64 `json:"min_gain"`
	// Subsample is the fraction of training rows each tree sees, drawn
	// anew per tree without replacement (default 1: all).
	Subsample float64 `json:"subsample"`
	// MaxBins is the most bins per feature, 2..255 (default 255); missing
	// values get a bin of their own on top.
	MaxBins int `json:"max_bins"`
	// BinSample is how many training rows the bin edges are computed from
	// (default 200000; a systematic sample when there are more).
	BinSample int `json:"bin_sample"`
	// Loss is the training loss (default Squared).
	Loss Loss `json:"loss"`
	// HuberDelta is where the Huber loss turns linear; 0 means the 0.9
	// quantile of |y − median(y)| over the training rows.
	HuberDelta float64 `json:"huber_delta,omitempty"`
	// EarlyStoppingRounds: with validation rows, training stops when the
	// validation loss has not improved for this many trees and keeps the
	// trees up to the best one (default 20).
	EarlyStoppingRounds int `json:"early_stopping_rounds"`
	// Seed drives the row subsampling.
	Seed uint64 `json:"seed"`
	// Workers is the number of goroutines (default GOMAXPROCS). It does not
	// change the model.
	Workers int `json:"-"`
	// Progress, if set, is called after every tree with the round, the
	// maximum and the validation loss (NaN without validation rows).
	Progress func(round, rounds int, validLoss float64) `json:"-"`
}

// DefaultParams returns the default parameters.
func DefaultParams() Params {
	return Params{
		Rounds:              200,
		LearningRate:        0.1,
		MaxDepth:            6,
		MinSamplesLeaf:      20,
		L2:                  1,
		Subsample:           1,
		MaxBins:             255,
		BinSample:           200000,
		Loss:                Squared,
		EarlyStoppingRounds: 20,
	}
}

// withDefaults fills zero fields and checks the result.
func (p Params) withDefaults() (Params, error) {
	d := DefaultParams()
	if p.Rounds == 0 {
		p.Rounds = d.Rounds
	}
	if p.LearningRate == 0 {
		p.LearningRate = d.LearningRate
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = d.MaxDepth
	}
	if p.MaxLeaves == 0 {
		p.MaxLeaves = 1 << min(p.MaxDepth, 16)
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = d.MinSamplesLeaf
	}
	if p.Subsample == 0 {
		p.Subsample = d.Subsample
	}
	if p.MaxBins == 0 {
		p.MaxBins = d.MaxBins
	}
	if p.BinSample == 0 {
		p.BinSample = d.BinSample
	}
	if p.Loss == "" {
		p.Loss = d.Loss
	}
	if p.EarlyStoppingRounds == 0 {
		p.EarlyStoppingRounds = d.EarlyStoppingRounds
	}
	if p.Workers <= 0 {
		p.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case p.Rounds < 0:
		return p, fmt.Errorf("%w: rounds %d < 0", ErrParams, p.Rounds)
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return p, fmt.Errorf("%w: learning_rate %v not in (0, 1]", ErrParams, p.LearningRate)
	case p.MaxDepth < 1 || p.MaxDepth > 32:
		return p, fmt.Errorf("%w: max_depth %d not in 1..32", ErrParams, p.MaxDepth)
	case p.MaxLeaves < 2:
		return p, fmt.Errorf("%w: max_leaves %d < 2", ErrParams, p.MaxLeaves)
	case p.MinSamplesLeaf < 1:
		return p, fmt.Errorf("%w: min_samples_leaf %d < 1", ErrParams, p.MinSamplesLeaf)
	case !(p.L2 >= 0):
		return p, fmt.Errorf("%w: l2 %v < 0", ErrParams, p.L2)
	case !(p.MinGain >= 0):
		return p, fmt.Errorf("%w: min_gain %v < 0", ErrParams, p.MinGain)
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return p, fmt.Errorf("%w: subsample %v not in (0, 1]", ErrParams, p.Subsample)
	case p.MaxBins < 2 || p.MaxBins > 255:
		return p, fmt.Errorf("%w: max_bins %d not in 2..255", ErrParams, p.MaxBins)
	case p.BinSample < 1:
		return p, fmt.Errorf("%w: bin_sample %d < 1", ErrParams, p.BinSample)
	case p.Loss != Squared && p.Loss != Huber:
		return p, fmt.Errorf("%w: loss %q (want %q or %q)", ErrParams, p.Loss, Squared, Huber)
	case !(p.HuberDelta >= 0):
		return p, fmt.Errorf("%w: huber_delta %v < 0", ErrParams, p.HuberDelta)
	case p.EarlyStoppingRounds < 1:
		return p, fmt.Errorf("%w: early_stopping_rounds %d < 1", ErrParams, p.EarlyStoppingRounds)
	}
	return p, nil
}
