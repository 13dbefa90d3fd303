package mlp

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
)

var classes3 = []string{"none", "mam", "sam"}

// rings: class 0 inside radius 1, class 1 between 1 and 2, class 2 outside,
// plus a noise feature. No linear model separates them.
func rings(n int, seed uint64) (*dataset.Matrix, []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	x := &dataset.Matrix{Names: []string{"a", "b", "noise"}, Cols: [][]float32{make([]float32, n), make([]float32, n), make([]float32, n)}, Rows: n}
	y := make([]int, n)
	for i := range n {
		a, b := r.Float64()*6-3, r.Float64()*6-3
		x.Cols[0][i], x.Cols[1][i], x.Cols[2][i] = float32(a), float32(b), float32(r.NormFloat64())
		switch d := math.Hypot(a, b); {
		case d < 1:
			y[i] = 0
		case d < 2:
			y[i] = 1
		default:
			y[i] = 2
		}
	}
	return x, y
}

func span(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

func accuracy(m *Model, x *dataset.Matrix, y []int) float64 {
	pred, _ := m.Predict(x)
	ok := 0
	for i := range y {
		if pred[i] == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

func TestSeparatesRings(t *testing.T) {
	x, y := rings(12000, 1)
	for _, hidden := range [][]int{{32}, {32, 16}} {
		p := DefaultParams()
		p.Hidden, p.Seed = hidden, 1
		m, err := Train(context.Background(), x, y, classes3, span(0, 8000), span(8000, 10000), p)
		if err != nil {
			t.Fatal(err)
		}
		test := span(10000, 12000)
		acc := accuracy(m, x.Subset(test), y[10000:])
		t.Logf("hidden %v: %d epochs (best %d), test accuracy %.3f", hidden, m.Epochs, m.BestEpoch, acc)
		if acc < 0.95 {
			t.Errorf("hidden %v: test accuracy %.3f", hidden, acc)
		}
	}
}

func TestXOR(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	n := 4000
	x := &dataset.Matrix{Names: []string{"a", "b"}, Cols: [][]float32{make([]float32, n), make([]float32, n)}, Rows: n}
	y := make([]int, n)
	for i := range n {
		a, b := r.Float64()*2-1, r.Float64()*2-1
		x.Cols[0][i], x.Cols[1][i] = float32(a), float32(b)
		if (a > 0) != (b > 0) {
			y[i] = 1
		}
	}
	m, err := Train(context.Background(), x, y, []string{"same", "different"}, span(0, 3000), span(3000, 4000), Params{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if acc := accuracy(m, x, y); acc < 0.97 {
		t.Errorf("XOR accuracy %.3f", acc)
	}
}

func TestDeterministic(t *testing.T) {
	x, y := rings(3000, 4)
	train := func(seed uint64) *Model {
		m, err := Train(context.Background(), x, y, classes3, span(0, 2000), span(2000, 3000), Params{Seed: seed, MaxEpochs: 5})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if a, b := train(5), train(5); !reflect.DeepEqual(a, b) {
		t.Error("same seed, different models")
	}
	if a, b := train(5), train(6); reflect.DeepEqual(a.Layers, b.Layers) {
		t.Error("different seeds, same weights")
	}
}

func TestClassWeights(t *testing.T) {
	// Class 0 is rare (about 5%) and overlaps the others.
	r := rand.New(rand.NewPCG(7, 7))
	n := 6000
	x := &dataset.Matrix{Names: []string{"a", "b"}, Cols: [][]float32{make([]float32, n), make([]float32, n)}, Rows: n}
	y := make([]int, n)
	for i := range n {
		a, b := r.NormFloat64(), r.NormFloat64()
		x.Cols[0][i], x.Cols[1][i] = float32(a), float32(b)
		switch {
		case a+0.7*r.NormFloat64() > 2:
			y[i] = 0
		case b > 0:
			y[i] = 1
		default:
			y[i] = 2
		}
	}
	recall := func(m *Model) float64 {
		pred, _ := m.Predict(x)
		hit, k := 0, 0
		for i := 5000; i < n; i++ {
			if y[i] == 0 {
				k++
				if pred[i] == 0 {
					hit++
				}
			}
		}
		return float64(hit) / float64(k)
	}
	train := span(0, 5000)
	plain, err := Train(context.Background(), x, y, classes3, train, nil, Params{Seed: 1, MaxEpochs: 20})
	if err != nil {
		t.Fatal(err)
	}
	weighted, err := Train(context.Background(), x, y, classes3, train, nil, Params{Seed: 1, MaxEpochs: 20, Balanced: true})
	if err != nil {
		t.Fatal(err)
	}
	r0, r1 := recall(plain), recall(weighted)
	t.Logf("rare-class recall: %.3f unweighted, %.3f balanced", r0, r1)
	if r1 < r0+0.2 {
		t.Errorf("balanced class weights raise the rare class's recall from %.3f to %.3f only", r0, r1)
	}
}
