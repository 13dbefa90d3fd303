package native

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Models for the allocation tests and benchmarks.

// mlpModel is a Gemm/Relu/Softmax/ArgMax classifier with random weights,
// widths[0] inputs and widths[len-1] classes.
func mlpModel(seed uint64, widths ...int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var layers []onnxtest.Dense
	for i := 0; i+1 < len(widths); i++ {
		d := onnxtest.Dense{W: make([][]float32, widths[i+1]), B: make([]float32, widths[i+1])}
		for o := range d.W {
			d.W[o] = make([]float32, widths[i])
			for k := range d.W[o] {
				d.W[o][k] = float32(r.NormFloat64()) / 4
			}
			d.B[o] = float32(r.NormFloat64()) / 10
		}
		layers = append(layers, d)
	}
	return onnxtest.Marshal(onnxtest.MLPClassifier(nil, nil, layers...))
}

// treeModel is a TreeEnsembleRegressor of nTrees complete trees of the given
// depth over nFeatures features, thresholds and leaves random, SUM.
func treeModel(seed uint64, nTrees, depth, nFeatures int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	var treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs, tTrees, tNodes, tIDs []int64
	var modes []string
	var values, weights []float32
	for t := 0; t < nTrees; t++ {
		nodes := 1<<(depth+1) - 1
		for n := 0; n < nodes; n++ {
			treeIDs, nodeIDs = append(treeIDs, int64(t)), append(nodeIDs, int64(n))
			if n >= nodes/2 { // leaf
				featureIDs, trueIDs, falseIDs = append(featureIDs, 0), append(trueIDs, 0), append(falseIDs, 0)
				modes, values = append(modes, "LEAF"), append(values, 0)
				tTrees, tNodes, tIDs = append(tTrees, int64(t)), append(tNodes, int64(n)), append(tIDs, 0)
				weights = append(weights, float32(r.NormFloat64()))
				continue
			}
			featureIDs = append(featureIDs, int64(r.IntN(nFeatures)))
			trueIDs, falseIDs = append(trueIDs, int64(2*n+1)), append(falseIDs, int64(2*n+2))
			modes, values = append(modes, "BRANCH_LEQ"), append(values, float32(r.NormFloat64()))
		}
	}
	node := onnxtest.MLNode("TreeEnsembleRegressor", []string{onnxtest.InputFeatures}, []string{onnxtest.OutputPrediction},
		onnxtest.AttrInt("n_targets", 1),
		onnxtest.AttrString("aggregate_function", "SUM"),
		onnxtest.AttrInts("nodes_treeids", treeIDs...),
		onnxtest.AttrInts("nodes_nodeids", nodeIDs...),
		onnxtest.AttrInts("nodes_featureids", featureIDs...),
		onnxtest.AttrStrings("nodes_modes", modes...),
		onnxtest.AttrFloats("nodes_values", values...),
		onnxtest.AttrInts("nodes_truenodeids", trueIDs...),
		onnxtest.AttrInts("nodes_falsenodeids", falseIDs...),
		onnxtest.AttrInts("target_treeids", tTrees...),
		onnxtest.AttrInts("target_nodeids", tNodes...),
		onnxtest.AttrInts("target_ids", tIDs...),
		onnxtest.AttrFloats("target_weights", weights...))
	g := onnxtest.Graph("trees", []*onnxpb.NodeProto{node},
		[]*onnxpb.ValueInfoProto{onnxtest.Value(onnxtest.InputFeatures, onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", nFeatures))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value(onnxtest.OutputPrediction, onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", 1))})
	return onnxtest.Marshal(onnxtest.Model(g, map[string]int64{onnxtest.DomainONNX: 17, onnxtest.DomainML: 3}, nil))
}

// logregModel is a scikit-learn style multinomial LogisticRegression
// (LinearClassifier + ZipMap).
func logregModel(seed uint64, features, classes int) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	names := make([]string, features)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
	}
	coef := make([][]float32, classes)
	ic := make([]float32, classes)
	labels := make([]int64, classes)
	for c := range coef {
		coef[c] = make([]float32, features)
		for f := range coef[c] {
			coef[c][f] = float32(r.NormFloat64())
		}
		ic[c] = float32(r.NormFloat64())
		labels[c] = int64(c)
	}
	return onnxtest.Marshal(onnxtest.LogisticRegression(names, coef, ic, labels))
}

// randomInput is a FLOAT [batch, features] input named "features".
func randomInput(seed uint64, batch, features int) tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 4))
	v := make([]float32, batch*features)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return tensor.FromFloat32(onnxtest.InputFeatures, []int64{int64(batch), int64(features)}, v)
}

func mustLoad(tb testing.TB, model []byte) serving.Model {
	tb.Helper()
	m, err := New().Load(context.Background(), model, serving.LoadOptions{})
	if err != nil {
		tb.Fatalf("load: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// outputsOf returns one empty tensor per model output, named.
func outputsOf(m serving.Model) []tensor.Tensor {
	infos := m.Outputs()
	out := make([]tensor.Tensor, len(infos))
	for i, info := range infos {
		out[i].Name = info.Name
	}
	return out
}
