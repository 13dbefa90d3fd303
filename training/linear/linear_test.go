package linear

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
)

var classes3 = []string{"none", "mam", "sam"}

// softmaxData draws n rows of features with means mu and spreads sd, and
// labels from softmax(coef·x + intercept).
func softmaxData(n int, seed uint64, mu, sd []float64, coef [][]float64, intercept []float64) (*dataset.Matrix, []int) {
	r := rand.New(rand.NewPCG(seed, 2))
	nf := len(mu)
	x := &dataset.Matrix{Cols: make([][]float32, nf), Rows: n}
	for j := range nf {
		x.Names = append(x.Names, "x"+string(rune('0'+j)))
		x.Cols[j] = make([]float32, n)
	}
	y := make([]int, n)
	p := make([]float64, len(coef))
	for i := range n {
		for j := range nf {
			x.Cols[j][i] = float32(mu[j] + sd[j]*r.NormFloat64())
		}
		for k := range coef {
			p[k] = intercept[k]
			for j := range nf {
				p[k] += coef[k][j] * float64(x.Cols[j][i])
			}
		}
		softmax(p)
		u, c := r.Float64(), 0
		for c < len(p)-1 && u > p[c] {
			u -= p[c]
			c++
		}
		y[i] = c
	}
	return x, y
}

func TestRecoversCoefficients(t *testing.T) {
	mu := []float64{130, 12, 0}
	sd := []float64{15, 3, 1}
	// Centred over classes, as the model reports them.
	coef := [][]float64{{0.1, 0.2, -1}, {0, -0.1, 0.5}, {-0.1, -0.1, 0.5}}
	intercept := []float64{-13, 1, 12}
	x, y := softmaxData(100000, 1, mu, sd, coef, intercept)
	m, err := Train(context.Background(), x, y, classes3, nil, Params{L2: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	got, gotB := m.RawCoefficients()
	t.Logf("%d iterations, loss %.5f", m.Iterations, m.Loss)
	for k := range coef {
		for j := range coef[k] {
			// Compare on the standardised scale, where the noise is even.
			if d := math.Abs(got[k][j]-coef[k][j]) * sd[j]; d > 0.05 {
				t.Errorf("coef[%d][%d] = %.4f, want %.4f", k, j, got[k][j], coef[k][j])
			}
		}
		if d := math.Abs(gotB[k] - intercept[k]); d > 0.6 {
			t.Errorf("intercept[%d] = %.3f, want %.3f", k, gotB[k], intercept[k])
		}
	}
}

func TestClassWeightsRaiseRecall(t *testing.T) {
	// Class 2 is rare (about 3%).
	coef := [][]float64{{1, 0}, {0, 0}, {-1, 0.5}}
	x, y := softmaxData(40000, 3, []float64{0, 0}, []float64{1, 1}, coef, []float64{1, 0, -3})
	recall := func(m *Model) float64 {
		pred, _ := m.Predict(x)
		hit, n := 0, 0
		for i, c := range y {
			if c == 2 {
				n++
				if pred[i] == 2 {
					hit++
				}
			}
		}
		return float64(hit) / float64(n)
	}
	plain, err := Train(context.Background(), x, y, classes3, nil, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultParams()
	p.Balanced = true
	balanced, err := Train(context.Background(), x, y, classes3, nil, p)
	if err != nil {
		t.Fatal(err)
	}
	r0, r1 := recall(plain), recall(balanced)
	t.Logf("class-2 recall: unweighted %.3f, balanced %.3f", r0, r1)
	if r1 < r0+0.2 {
		t.Errorf("balanced weights raise class-2 recall from %.3f to %.3f only", r0, r1)
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	x, y := softmaxData(50000, 4, []float64{0, 5}, []float64{1, 2}, [][]float64{{1, 0}, {0, 1}, {-1, -1}}, []float64{0, 0, 0})
	var models []*Model
	for _, w := range []int{1, 3} {
		m, err := Train(context.Background(), x, y, classes3, nil, Params{L2: 1e-3, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		m.Params.Workers = 0
		models = append(models, m)
	}
	if !reflect.DeepEqual(models[0], models[1]) {
		t.Error("1 and 3 workers give different models")
	}
}

func TestRejectsMissingValues(t *testing.T) {
	x, y := softmaxData(100, 5, []float64{0}, []float64{1}, [][]float64{{1}, {0}, {-1}}, []float64{0, 0, 0})
	x.Cols[0][7] = float32(math.NaN())
	if _, err := Train(context.Background(), x, y, classes3, nil, DefaultParams()); err == nil {
		t.Error("NaN feature accepted")
	}
}
