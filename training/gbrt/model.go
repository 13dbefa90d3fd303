package gbrt

import (
	"math"
	"runtime"
	"sync"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// Node is a node of a Tree. A branch sends row x to Left when
// x[Feature] <= Threshold (float32 comparison), or when x[Feature] is NaN
// and MissingLeft; otherwise to Right. A leaf adds Value to the prediction.
type Node struct {
	// Feature is the feature tested, -1 for a leaf.
	Feature int32 `json:"feature"`
	// Threshold is the float32 bin edge of the split (+Inf for a split
	// that only separates missing values).
	Threshold float32 `json:"threshold,omitempty"`
	// MissingLeft sends missing values (NaN) left.
	MissingLeft bool `json:"missing_left,omitempty"`
	// Left and Right index the children in Tree.Nodes.
	Left  int32 `json:"left,omitempty"`
	Right int32 `json:"right,omitempty"`
	// Value is a leaf's contribution (learning rate applied).
	Value float32 `json:"value,omitempty"`
	// Gain is a branch's loss reduction; Count the training rows that
	// reached the node.
	Gain  float64 `json:"gain,omitempty"`
	Count int     `json:"count"`

	bin uint8 // the split's bin: left if bin(x) <= bin (training only)
}

// Leaf reports whether n is a leaf.
func (n *Node) Leaf() bool { return n.Feature < 0 }

// Tree is a regression tree; Nodes[0] is the root.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// leaf returns the leaf row reaches.
func (t *Tree) leaf(row func(j int32) float32) *Node {
	n := &t.Nodes[0]
	for n.Feature >= 0 {
		x := row(n.Feature)
		if x <= n.Threshold || (n.MissingLeft && x != x) {
			n = &t.Nodes[n.Left]
		} else {
			n = &t.Nodes[n.Right]
		}
	}
	return n
}

// Model is a trained ensemble: prediction = Base + Σ tree leaf values. It is
// immutable and safe for concurrent use.
type Model struct {
	// FeatureNames are the names of the features, in input order.
	FeatureNames []string `json:"feature_names"`
	// Base is the initial prediction (the mean of the training targets for
	// the squared loss, their median for Huber).
	Base float32 `json:"base"`
	// Trees are the boosted trees, in order.
	Trees []Tree `json:"trees"`
	// Params are the parameters used (defaults filled in).
	Params Params `json:"params"`
	// BestRound is the number of trees kept (the best validation loss);
	// Rounds the number trained.
	BestRound int `json:"best_round"`
	Rounds    int `json:"rounds"`
	// TrainLoss[k] and ValidLoss[k] are the mean losses after k trees
	// (k = 0: Base alone). ValidLoss is nil without validation rows.
	TrainLoss []float64 `json:"train_loss"`
	ValidLoss []float64 `json:"valid_loss,omitempty"`
}

// PredictRow returns the prediction for one row of features (in
// FeatureNames order; NaN for missing).
func (m *Model) PredictRow(row []float32) float64 {
	s := float64(m.Base)
	get := func(j int32) float32 { return row[j] }
	for i := range m.Trees {
		s += float64(m.Trees[i].leaf(get).Value)
	}
	return s
}

// Predict returns the prediction for every row of x, whose columns must be
// the model's features in order.
func (m *Model) Predict(x *dataset.Matrix) []float64 {
	out := make([]float64, x.Rows)
	const chunk = 4096
	chunks := (x.Rows + chunk - 1) / chunk
	var wg sync.WaitGroup
	var next sync.Mutex
	c := 0
	for range min(runtime.GOMAXPROCS(0), max(chunks, 1)) {
		wg.Go(func() {
			for {
				next.Lock()
				k := c
				c++
				next.Unlock()
				if k >= chunks {
					return
				}
				for i := k * chunk; i < min((k+1)*chunk, x.Rows); i++ {
					get := func(j int32) float32 { return x.Cols[j][i] }
					s := float64(m.Base)
					for t := range m.Trees {
						s += float64(m.Trees[t].leaf(get).Value)
					}
					out[i] = s
				}
			}
		})
	}
	wg.Wait()
	return out
}

// Importance returns each feature's total split gain, normalised to sum
// to 1 (all zeros for a model without splits).
func (m *Model) Importance() []float64 {
	imp := make([]float64, len(m.FeatureNames))
	total := 0.0
	for _, t := range m.Trees {
		for _, n := range t.Nodes {
			if n.Feature >= 0 && int(n.Feature) < len(imp) {
				imp[n.Feature] += n.Gain
				total += n.Gain
			}
		}
	}
	if total > 0 {
		for i := range imp {
			imp[i] /= total
		}
	}
	return imp
}

// inf32 is the threshold of a split that separates missing values only.
var inf32 = float32(math.Inf(1))
