package export

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/training/dataset"
	"github.com/lantern-mlops/lantern/training/features"
	"github.com/lantern-mlops/lantern/training/gbrt"
	"github.com/lantern-mlops/lantern/training/linear"
	"github.com/lantern-mlops/lantern/training/mlp"
)

// demandModel trains a GBRT on a hand-made demand frame, split in time.
func demandModel(t *testing.T, p gbrt.Params) (*gbrt.Model, *features.Demand, []int) {
	t.Helper()
	d, err := features.BuildDemand(demandFrame(30, 72, 1), features.DemandOptions{Static: []string{"health_facilities"}})
	if err != nil {
		t.Fatal(err)
	}
	train, valid := d.SplitByMonth(2023 * 12)
	m, err := gbrt.Train(context.Background(), d.X, d.Y, train, valid, p)
	if err != nil {
		t.Fatal(err)
	}
	return m, d, valid
}

// edgeRows returns rows built from base rows of x by setting each split's
// feature exactly on its threshold, one float32 step either side, and to
// NaN: the inputs where a wrong comparison or missing-value direction
// would pick another leaf.
func edgeRows(m *gbrt.Model, x *dataset.Matrix, base []int, limit int) *dataset.Matrix {
	out := &dataset.Matrix{Names: x.Names, Cols: make([][]float32, len(x.Cols))}
	row := make([]float32, len(x.Cols))
	k := 0
	for _, tree := range m.Trees {
		for _, n := range tree.Nodes {
			if n.Leaf() || out.Rows >= limit {
				continue
			}
			for _, v := range []float32{n.Threshold, math.Nextafter32(n.Threshold, float32(math.Inf(-1))),
				math.Nextafter32(n.Threshold, float32(math.Inf(1))), float32(math.NaN())} {
				row = x.Row(base[k%len(base)], row)
				k++
				row[n.Feature] = v
				for j, c := range row {
					out.Cols[j] = append(out.Cols[j], c)
				}
				out.Rows++
			}
		}
	}
	return out
}

func concat(a, b *dataset.Matrix) *dataset.Matrix {
	out := &dataset.Matrix{Names: a.Names, Cols: make([][]float32, len(a.Cols)), Rows: a.Rows + b.Rows}
	for j := range a.Cols {
		out.Cols[j] = append(append([]float32{}, a.Cols[j]...), b.Cols[j]...)
	}
	return out
}

func TestGBRTParity(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    gbrt.Params
	}{
		{"one tree", gbrt.Params{Rounds: 1, LearningRate: 1, MaxDepth: 8, MaxLeaves: 100, MinSamplesLeaf: 3}},
		{"boosted", gbrt.Params{Rounds: 80, Subsample: 0.8, MaxBins: 64, Seed: 1, MinSamplesLeaf: 5, L2: 1}},
		{"huber", gbrt.Params{Rounds: 40, Loss: gbrt.Huber, MinSamplesLeaf: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, d, valid := demandModel(t, tc.p)
			b, err := GBRT(m, Options{Metadata: d.Spec.Metadata(), Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			x := concat(d.X.Subset(valid), edgeRows(m, d.X, valid, 4000))
			want := m.Predict(x)
			nan := 0
			for j := range x.Cols {
				for _, v := range x.Cols[j] {
					if v != v {
						nan++
					}
				}
			}
			t.Logf("%d trees, %d rows (%d NaN values), %d bytes", len(m.Trees), x.Rows, nan, len(b))
			for _, e := range engines(t) {
				out := run(t, e, b, x, OutputPrediction)[0]
				if got := out.Shape; len(got) != 2 || got[0] != int64(x.Rows) || got[1] != 1 {
					t.Fatalf("%s: prediction shape %v", e.Name(), got)
				}
				bad := 0
				for i, v := range out.Float32s() {
					if !close(float64(v), want[i]) {
						if bad++; bad <= 5 {
							t.Errorf("%s: row %d: %v, model %v", e.Name(), i, v, want[i])
						}
					}
				}
				if bad > 0 {
					t.Errorf("%s: %d of %d rows differ", e.Name(), bad, x.Rows)
				}
			}
		})
	}
}

// malnutrition builds the features of a hand-made frame and splits them.
func malnutrition(t *testing.T) (*features.Malnutrition, []int, []int, []int) {
	t.Helper()
	mal, err := features.BuildMalnutrition(malnutritionFrame(6000, 2))
	if err != nil {
		t.Fatal(err)
	}
	var train, valid, test []int
	for i := range mal.Y {
		switch i % 10 {
		case 8:
			valid = append(valid, i)
		case 9:
			test = append(test, i)
		default:
			train = append(train, i)
		}
	}
	return mal, train, valid, test
}

// compareClassifier compares an exported classifier's outputs with the
// model's probabilities and classes.
func compareClassifier(t *testing.T, b []byte, x *dataset.Matrix, classes []int, probs []float64) {
	t.Helper()
	nk := len(features.Classes)
	for _, e := range engines(t) {
		out := run(t, e, b, x, OutputLabel, OutputProbabilities)
		label, p := out[0], out[1]
		if len(label.Strings) != x.Rows || len(p.Shape) != 2 || p.Shape[0] != int64(x.Rows) || p.Shape[1] != int64(nk) {
			t.Fatalf("%s: %d labels, probabilities %v", e.Name(), len(label.Strings), p.Shape)
		}
		bad, ties := 0, 0
		for i, v := range p.Float32s() {
			if !close(float64(v), probs[i]) {
				if bad++; bad <= 5 {
					t.Errorf("%s: probability %d (row %d): %v, model %v", e.Name(), i, i/nk, v, probs[i])
				}
			}
		}
		for i := range x.Rows {
			want := features.Classes[classes[i]]
			if string(label.Strings[i]) == want {
				continue
			}
			// Only a near tie may break the other way in float32.
			row := probs[i*nk : (i+1)*nk]
			if math.Abs(row[classes[i]]-probsOf(row, string(label.Strings[i]))) < 1e-5 {
				ties++
				continue
			}
			if bad++; bad <= 10 {
				t.Errorf("%s: row %d: label %q, model %q (%v)", e.Name(), i, label.Strings[i], want, row)
			}
		}
		t.Logf("%s: %d rows agree (%d near ties)", e.Name(), x.Rows, ties)
		if ties > x.Rows/100 {
			t.Errorf("%s: %d near ties", e.Name(), ties)
		}
	}
}

func probsOf(row []float64, label string) float64 {
	for k, c := range features.Classes {
		if c == label {
			return row[k]
		}
	}
	return math.NaN()
}

func TestLogisticParity(t *testing.T) {
	mal, train, _, test := malnutrition(t)
	p := linear.DefaultParams()
	p.ClassWeights = []float64{1, 2, 4}
	m, err := linear.Train(context.Background(), mal.X, mal.Y, features.Classes, train, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Logistic(m, Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	x := mal.X.Subset(test)
	classes, probs := m.Predict(x)
	compareClassifier(t, b, x, classes, probs)
	// Far outside the training range the scores are large: the
	// probabilities saturate the same way.
	far := &dataset.Matrix{Names: x.Names, Cols: make([][]float32, len(x.Cols)), Rows: 2}
	for j := range far.Cols {
		far.Cols[j] = []float32{1e4, -1e4}
	}
	classes, probs = m.Predict(far)
	compareClassifier(t, b, far, classes, probs)
}

func TestMLPParity(t *testing.T) {
	mal, train, valid, test := malnutrition(t)
	for _, hidden := range [][]int{{16}, {24, 12}} {
		p := mlp.DefaultParams()
		p.Hidden, p.Seed, p.MaxEpochs, p.Balanced = hidden, 3, 30, true
		m, err := mlp.Train(context.Background(), mal.X, mal.Y, features.Classes, train, valid, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := MLP(m, Options{Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		x := mal.X.Subset(test)
		classes, probs := m.Predict(x)
		compareClassifier(t, b, x, classes, probs)
	}
}

// TestSameSeedSameBytes: training twice with the same seed and exporting
// gives byte-identical models.
func TestSameSeedSameBytes(t *testing.T) {
	mal, train, valid, _ := malnutrition(t)
	export := map[string]func() []byte{
		"gbrt": func() []byte {
			m, d, _ := demandModel(t, gbrt.Params{Rounds: 30, Subsample: 0.7, Seed: 9})
			b, err := GBRT(m, Options{Metadata: d.Spec.Metadata()})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"logistic": func() []byte {
			m, err := linear.Train(context.Background(), mal.X, mal.Y, features.Classes, train, linear.DefaultParams())
			if err != nil {
				t.Fatal(err)
			}
			b, err := Logistic(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"mlp": func() []byte {
			m, err := mlp.Train(context.Background(), mal.X, mal.Y, features.Classes, train, valid, mlp.Params{Seed: 4, MaxEpochs: 5})
			if err != nil {
				t.Fatal(err)
			}
			b, err := MLP(m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	}
	for name, f := range export {
		if a, b := f(), f(); !bytes.Equal(a, b) {
			t.Errorf("%s: two trainings with the same seed export different bytes (%d and %d)", name, len(a), len(b))
		}
	}
}

func TestMetadata(t *testing.T) {
	m, d, _ := demandModel(t, gbrt.Params{Rounds: 3})
	b, err := GBRT(m, Options{Metadata: d.Spec.Metadata(), Version: "v1.2.3", ModelVersion: 7})
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatal(err)
	}
	md := map[string]string{}
	for _, p := range mp.GetMetadataProps() {
		md[p.GetKey()] = p.GetValue()
	}
	if got := md[MetaFeatureNames]; got != strings.Join(d.X.Names, ",") || !strings.HasPrefix(got, "consumption_lag1,") {
		t.Errorf("feature_names %q", got)
	}
	if md[MetaModelFamily] != FamilyDemand || md[MetaTrainer] != "gbrt" || md[MetaVersion] != "v1.2.3" || md["region_codes"] != "0=east,1=north,2=south" {
		t.Errorf("metadata %v", md)
	}
	var params gbrt.Params
	if err := json.Unmarshal([]byte(md[MetaTrainerParams]), &params); err != nil || params.Rounds != 3 || params.MaxDepth != 6 {
		t.Errorf("trainer_params %q: %v", md[MetaTrainerParams], err)
	}
	if mp.GetIrVersion() != 8 || mp.GetProducerName() != "lantern" || mp.GetModelVersion() != 7 {
		t.Errorf("ir %d producer %q model version %d", mp.GetIrVersion(), mp.GetProducerName(), mp.GetModelVersion())
	}
	opsets := map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		opsets[o.GetDomain()] = o.GetVersion()
	}
	if opsets[""] != 17 || opsets["ai.onnx.ml"] != 3 {
		t.Errorf("opsets %v", opsets)
	}

	mal, train, _, _ := malnutrition(t)
	lm, err := linear.Train(context.Background(), mal.X, mal.Y, features.Classes, train, linear.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	b, err = Logistic(lm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mp.Reset()
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatal(err)
	}
	md = map[string]string{}
	for _, p := range mp.GetMetadataProps() {
		md[p.GetKey()] = p.GetValue()
	}
	if md[MetaClassNames] != "none,mam,sam" || md[MetaFeatureNames] != "age_months,sex_male,muac_mm,weight_kg,height_cm,oedema,bmi" || md[MetaModelFamily] != FamilyClassification || md[MetaVersion] == "" {
		t.Errorf("metadata %v", md)
	}
}

func TestRejectsBadNames(t *testing.T) {
	m, _, _ := demandModel(t, gbrt.Params{Rounds: 2})
	m.FeatureNames = append([]string(nil), m.FeatureNames...)
	m.FeatureNames[0] = "a,b"
	if _, err := GBRT(m, Options{}); err == nil {
		t.Error("a feature name with a comma was accepted")
	}
}
