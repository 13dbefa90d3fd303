package gbrt

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// stepData is y = 3·[x0 > 0.5] + 2·x1·[x2 < 0.3] − x3 (+ noise), with x4 pure
// noise and x3 missing in a tenth of the rows, where y gets +4 instead.
func stepData(n int, seed uint64, noise float64) (*dataset.Matrix, []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	x := &dataset.Matrix{Names: []string{"x0", "x1", "x2", "x3", "x4"}, Cols: make([][]float32, 5), Rows: n}
	for j := range x.Cols {
		x.Cols[j] = make([]float32, n)
	}
	y := make([]float64, n)
	for i := range n {
		for j := range x.Cols {
			x.Cols[j][i] = r.Float32()
		}
		v := 0.0
		if x.Cols[0][i] > 0.5 {
			v += 3
		}
		if x.Cols[2][i] < 0.3 {
			v += 2 * float64(x.Cols[1][i])
		}
		if r.IntN(10) == 0 {
			x.Cols[3][i] = float32(math.NaN())
			v += 4
		} else {
			v -= float64(x.Cols[3][i])
		}
		y[i] = v + noise*r.NormFloat64()
	}
	return x, y
}

func rmse(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s / float64(len(a)))
}

func span(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

func TestRecoversStepAndInteraction(t *testing.T) {
	x, y := stepData(30000, 1, 0.05)
	p := DefaultParams()
	p.Rounds = 300
	m, err := Train(context.Background(), x, y, span(0, 20000), span(20000, 25000), p)
	if err != nil {
		t.Fatal(err)
	}
	test := span(25000, 30000)
	xt := x.Subset(test)
	yt := make([]float64, len(test))
	for i, r := range test {
		yt[i] = y[r]
	}
	got := rmse(m.Predict(xt), yt)
	t.Logf("trees %d (best %d of %d), test RMSE %.4f, train loss %.4f, valid loss %.4f", len(m.Trees), m.BestRound, m.Rounds, got, m.TrainLoss[len(m.TrainLoss)-1], m.ValidLoss[m.BestRound])
	if got > 0.12 {
		t.Errorf("test RMSE %.4f, want < 0.12 (noise 0.05)", got)
	}
	imp := m.Importance()
	if imp[4] > 0.01 {
		t.Errorf("noise feature importance %.3f: %v", imp[4], imp)
	}
}

// TestThresholdsMatchBins: predictions from thresholds on the raw features
// equal the trainer's predictions from bins, bit for bit.
func TestThresholdsMatchBins(t *testing.T) {
	x, y := stepData(5000, 2, 0.1)
	for _, sub := range []float64{1, 0.7} {
		p := DefaultParams()
		p.Rounds, p.Subsample, p.MaxBins, p.Seed = 40, sub, 16, 3
		tr := newTrainer(x, y, span(0, 5000), nil, mustDefaults(t, p))
		m, err := tr.run(context.Background(), x.Names)
		tr.pool.close()
		if err != nil {
			t.Fatal(err)
		}
		got := m.Predict(x)
		for i := range got {
			if got[i] != tr.pred[i] {
				t.Fatalf("subsample %v: row %d: threshold prediction %v, binned %v", sub, i, got[i], tr.pred[i])
			}
		}
	}
}

func mustDefaults(t *testing.T, p Params) Params {
	p, err := p.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeterministic(t *testing.T) {
	x, y := stepData(8000, 3, 0.2)
	train := func(workers int, seed uint64) *Model {
		p := DefaultParams()
		p.Rounds, p.Subsample, p.Seed, p.Workers = 30, 0.8, seed, workers
		m, err := Train(context.Background(), x, y, span(0, 6000), span(6000, 8000), p)
		if err != nil {
			t.Fatal(err)
		}
		m.Params.Workers = 0
		return m
	}
	a, b := train(1, 7), train(4, 7)
	if !reflect.DeepEqual(a, b) {
		t.Error("1 and 4 workers give different models")
	}
	if c := train(2, 8); reflect.DeepEqual(a.Trees, c.Trees) {
		t.Error("seeds 7 and 8 give the same trees")
	}
}

func TestMissingValuesLearned(t *testing.T) {
	x, y := stepData(20000, 4, 0.01)
	m, err := Train(context.Background(), x, y, nil, nil, Params{Rounds: 100})
	if err != nil {
		t.Fatal(err)
	}
	row := []float32{0.7, 0.5, 0.9, float32(math.NaN()), 0.5}
	if got := m.PredictRow(row); math.Abs(got-7) > 0.15 {
		t.Errorf("NaN x3: predicted %.3f, want 7", got)
	}
	row[3] = 0.5
	if got := m.PredictRow(row); math.Abs(got-2.5) > 0.15 {
		t.Errorf("x3 = 0.5: predicted %.3f, want 2.5", got)
	}
}

func TestEarlyStopping(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	n := 4000
	x := &dataset.Matrix{Names: []string{"a", "b"}, Cols: [][]float32{make([]float32, n), make([]float32, n)}, Rows: n}
	y := make([]float64, n)
	for i := range n {
		x.Cols[0][i], x.Cols[1][i] = r.Float32(), r.Float32()
		y[i] = r.NormFloat64() // nothing to learn
	}
	m, err := Train(context.Background(), x, y, span(0, 3000), span(3000, 4000), Params{Rounds: 500, EarlyStoppingRounds: 10, MinSamplesLeaf: 5})
	if err != nil {
		t.Fatal(err)
	}
	if m.Rounds > 60 || len(m.Trees) != max(m.BestRound, 1) || m.Rounds-m.BestRound != 10 {
		t.Errorf("rounds %d, best %d, trees %d", m.Rounds, m.BestRound, len(m.Trees))
	}
}

func TestHuberResistsOutliers(t *testing.T) {
	x, y := stepData(20000, 6, 0.05)
	r := rand.New(rand.NewPCG(6, 6))
	for i := range y {
		if r.IntN(50) == 0 {
			y[i] += 200
		}
	}
	_, truth := stepData(20000, 6, 0)
	var res [2]float64
	for k, loss := range []Loss{Squared, Huber} {
		m, err := Train(context.Background(), x, y, span(0, 15000), nil, Params{Rounds: 150, Loss: loss})
		if err != nil {
			t.Fatal(err)
		}
		pred := m.Predict(x.Subset(span(15000, 20000)))
		res[k] = rmse(pred, truth[15000:])
	}
	t.Logf("RMSE against the clean function: squared %.3f, huber %.3f", res[0], res[1])
	if res[1] > res[0]/2 {
		t.Errorf("Huber RMSE %.3f not well below squared %.3f", res[1], res[0])
	}
}

func TestEdges(t *testing.T) {
	vals := []float32{1, 1, 1, 2, 3, 3, 4}
	e := edgesOf(vals, 255)
	if !reflect.DeepEqual(e, []float32{1.5, 2.5, 3.5}) {
		t.Errorf("edges %v", e)
	}
	for _, x := range []float32{1, 1.5, 1.5000001, 2, 4, 5} {
		b := binSearch(e, x)
		for k, edge := range e {
			if (int(b) <= k) != (x <= edge) {
				t.Errorf("x %v bin %d edge %d (%v)", x, b, k, edge)
			}
		}
	}
	if b := binSearch(e, float32(math.NaN())); int(b) != len(e)+1 {
		t.Errorf("NaN in bin %d", b)
	}
	// Adjacent float32 values: the edge is the lower one.
	lo := float32(1)
	hi := math.Nextafter32(lo, 2)
	if got := between(lo, hi); got != lo {
		t.Errorf("between(%v, %v) = %v", lo, hi, got)
	}
	// Many distinct values: at most maxBins bins, strictly increasing.
	r := rand.New(rand.NewPCG(1, 1))
	many := make([]float32, 10000)
	for i := range many {
		many[i] = float32(r.ExpFloat64())
	}
	sortF(many)
	e = edgesOf(many, 32)
	if len(e) > 31 {
		t.Errorf("%d edges for 32 bins", len(e))
	}
	for i := 1; i < len(e); i++ {
		if !(e[i] > e[i-1]) {
			t.Fatalf("edges not increasing: %v", e)
		}
	}
}

func sortF(v []float32) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}
