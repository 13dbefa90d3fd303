package export

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/native"
	"github.com/lantern-mlops/lantern/serving/ort"
	"github.com/lantern-mlops/lantern/serving/tensor"
	"github.com/lantern-mlops/lantern/training/dataset"
)

var (
	ortOnce   sync.Once
	ortEngine *ort.Engine
	ortErr    error
)

// engines returns the native engine and, when its library is available,
// ONNX Runtime (required with LANTERN_INTEGRATION=1).
func engines(t *testing.T) []serving.Engine {
	t.Helper()
	es := []serving.Engine{native.New()}
	ortOnce.Do(func() { ortEngine, ortErr = ort.New(ort.Options{}) })
	switch {
	case ortErr == nil:
		es = append(es, ortEngine)
	case os.Getenv("LANTERN_INTEGRATION") == "1":
		t.Fatalf("ONNX Runtime: %v", ortErr)
	default:
		t.Logf("ONNX Runtime not tested: %v", ortErr)
	}
	return es
}

// rowMajor turns rows of a column-major matrix into a "features" tensor.
func rowMajor(x *dataset.Matrix) tensor.Tensor {
	nf := len(x.Cols)
	v := make([]float32, 0, x.Rows*nf)
	row := make([]float32, nf)
	for i := range x.Rows {
		v = append(v, x.Row(i, row)...)
	}
	return tensor.FromFloat32(InputFeatures, []int64{int64(x.Rows), int64(nf)}, v)
}

// run loads model on e and computes the named outputs for x.
func run(t *testing.T, e serving.Engine, model []byte, x *dataset.Matrix, outputs ...string) []tensor.Tensor {
	t.Helper()
	ctx := context.Background()
	m, err := e.Load(ctx, model, serving.LoadOptions{})
	if err != nil {
		t.Fatalf("%s: load: %v", e.Name(), err)
	}
	defer m.Close()
	if in := m.Inputs(); len(in) != 1 || in[0].Name != InputFeatures || in[0].DType != tensor.Float32 {
		t.Fatalf("%s: inputs %+v", e.Name(), in)
	}
	out := make([]tensor.Tensor, len(outputs))
	for i, name := range outputs {
		out[i].Name = name
	}
	if err := m.Run(ctx, []tensor.Tensor{rowMajor(x)}, out); err != nil {
		t.Fatalf("%s: run: %v", e.Name(), err)
	}
	return out
}

// close reports whether a (the engine's float32) and b (the Model's)
// agree within 1e-5 relative.
func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-5*math.Max(math.Abs(a), math.Abs(b))+1e-7
}

// demandFrame is a hand-made demand dataset: districts × months of
// seasonal consumption driven by population and admissions, with missing
// reports, stock-outs (censored consumption), floods and displacement.
func demandFrame(districts, months int, seed uint64) *dataset.Frame {
	r := rand.New(rand.NewPCG(seed, 11))
	regions := []string{"north", "east", "south"}
	district := &dataset.Column{Name: "district_id", Type: dataset.String}
	region := &dataset.Column{Name: "region", Type: dataset.String}
	cols := map[string]*dataset.Column{}
	var order []*dataset.Column
	for _, c := range []struct {
		name string
		typ  dataset.Type
	}{{"month", dataset.Month}, {"population", dataset.Int}, {"admissions", dataset.Int}, {"consumption", dataset.Float},
		{"stockout", dataset.Bool}, {"flood", dataset.Bool}, {"displaced", dataset.Int}, {"health_facilities", dataset.Int}} {
		cols[c.name] = &dataset.Column{Name: c.name, Type: c.typ}
		order = append(order, cols[c.name])
	}
	add := func(name string, v float64) { cols[name].Num = append(cols[name].Num, v) }
	start := 2018 * 12
	for d := range districts {
		pop := 20000 + r.Float64()*200000
		facilities := float64(3 + r.IntN(20))
		reg := regions[d%len(regions)]
		level := 0.5 + r.Float64()
		for m := range months {
			month := start + m
			moy := month%12 + 1
			lean := 1.0
			if moy >= 6 && moy <= 9 {
				lean = 1.8
			}
			flood := 0.0
			if r.IntN(15) == 0 {
				flood = 1
			}
			displaced := math.Floor(r.ExpFloat64() * 500)
			adm := math.Round(pop / 1000 * level * lean * (0.8 + 0.4*r.Float64()))
			cons := math.Round(adm*2.5 + 0.002*pop + 5*r.NormFloat64())
			stockout := 0.0
			if r.IntN(20) == 0 {
				stockout = 1
				cons = math.Round(cons * 0.4)
			}
			if r.IntN(25) == 0 {
				cons = math.NaN() // not reported
			}
			district.AppendString("D"+string(rune('A'+d%26))+string(rune('0'+d/26)), false)
			region.AppendString(reg, false)
			add("month", float64(month))
			add("population", math.Round(pop))
			add("admissions", adm)
			add("consumption", cons)
			add("stockout", stockout)
			add("flood", flood)
			add("displaced", displaced)
			add("health_facilities", facilities)
		}
	}
	return &dataset.Frame{Columns: append([]*dataset.Column{district, region}, order...)}
}

// malnutritionFrame is a hand-made screening dataset: the status follows
// MUAC, oedema and weight-for-height, with some label noise.
func malnutritionFrame(n int, seed uint64) *dataset.Frame {
	r := rand.New(rand.NewPCG(seed, 12))
	child := &dataset.Column{Name: "child_id", Type: dataset.String}
	sex := &dataset.Column{Name: "sex", Type: dataset.String}
	status := &dataset.Column{Name: "status", Type: dataset.String}
	num := map[string]*dataset.Column{}
	var cols []*dataset.Column
	for _, c := range []struct {
		name string
		typ  dataset.Type
	}{{"visit_date", dataset.Date}, {"age_months", dataset.Int}, {"muac_mm", dataset.Float}, {"weight_kg", dataset.Float}, {"height_cm", dataset.Float}, {"oedema", dataset.Bool}} {
		num[c.name] = &dataset.Column{Name: c.name, Type: c.typ}
		cols = append(cols, num[c.name])
	}
	for i := range n {
		age := float64(6 + r.IntN(54))
		height := 65 + 0.75*age + 4*r.NormFloat64()
		wasting := r.NormFloat64() // negative: thinner
		weight := 15.5 * math.Pow(height/100, 2) * (1 + 0.09*wasting)
		muac := 140 + 0.2*age + 11*wasting + 3*r.NormFloat64()
		oedema := 0.0
		if r.IntN(60) == 0 {
			oedema = 1
		}
		s := "none"
		switch {
		case muac < 115 || oedema == 1:
			s = "sam"
		case muac < 125:
			s = "mam"
		}
		if r.IntN(50) == 0 {
			s = []string{"none", "mam", "sam"}[r.IntN(3)]
		}
		m := "F"
		if r.IntN(2) == 0 {
			m = "M"
		}
		child.AppendString("c"+string(rune('0'+i%10)), false)
		sex.AppendString(m, false)
		status.AppendString(s, false)
		num["visit_date"].Num = append(num["visit_date"].Num, float64(19000+i%700))
		num["age_months"].Num = append(num["age_months"].Num, age)
		num["muac_mm"].Num = append(num["muac_mm"].Num, math.Round(muac))
		num["weight_kg"].Num = append(num["weight_kg"].Num, math.Round(weight*10)/10)
		num["height_cm"].Num = append(num["height_cm"].Num, math.Round(height*10)/10)
		num["oedema"].Num = append(num["oedema"].Num, oedema)
	}
	return &dataset.Frame{Columns: append([]*dataset.Column{child, sex, status}, cols...)}
}
