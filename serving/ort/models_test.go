//go:build cgo

package ort

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

// Test models: the fixtures of internal/onnx/testdata (their weights are
// repeated here from internal/onnx/fixtures_test.go to compute the expected
// outputs by hand) and small models built with onnxtest.

// fixture reads a model of internal/onnx/testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "onnx", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// demand_linear: LinearRegressor.
var (
	demandCoef      = []float32{-12.5, 30, 1.75, 2, 25}
	demandIntercept = float32(120)
)

// risk_mlp: Gemm(4->8), Relu, Gemm(8->2), Softmax, ArgMax.
func riskLayer(out, in int, seed float64) onnxtest.Dense {
	d := onnxtest.Dense{W: make([][]float32, out), B: make([]float32, out)}
	for i := range d.W {
		d.W[i] = make([]float32, in)
		for j := range d.W[i] {
			d.W[i][j] = float32(math.Round(math.Sin(seed+float64(i*in+j))*100) / 100)
		}
		d.B[i] = float32(math.Round(math.Cos(seed+float64(i))*10) / 100)
	}
	return d
}

var riskLayers = []onnxtest.Dense{riskLayer(8, 4, 1), riskLayer(2, 8, 2)}

// riskMLP computes the probabilities and the label of risk_mlp for one row.
func riskMLP(x []float32) ([]float64, int64) {
	h := make([]float64, len(x))
	for i, v := range x {
		h[i] = float64(v)
	}
	for l, d := range riskLayers {
		y := make([]float64, len(d.W))
		for i, w := range d.W {
			y[i] = float64(d.B[i])
			for j := range w {
				y[i] += float64(w[j]) * h[j]
			}
			if l < len(riskLayers)-1 {
				y[i] = math.Max(0, y[i])
			}
		}
		h = y
	}
	return softmax(h)
}

// iris_logreg: LinearClassifier (SOFTMAX) + ZipMap, labels 0, 1, 2.
var (
	irisCoef       = [][]float64{{-0.42, 0.97, -2.52, -1.08}, {0.53, -0.32, -0.21, -0.94}, {-0.11, -0.65, 2.73, 2.02}}
	irisIntercepts = []float64{9.85, 2.24, -12.09}
)

func irisLogreg(x []float32) ([]float64, int64) {
	z := make([]float64, len(irisCoef))
	for c, w := range irisCoef {
		z[c] = float64(float32(irisIntercepts[c]))
		for j := range w {
			z[c] += float64(float32(w[j])) * float64(x[j])
		}
	}
	return softmax(z)
}

func softmax(z []float64) ([]float64, int64) {
	best, maxZ := 0, math.Inf(-1)
	for i, v := range z {
		if v > maxZ {
			best, maxZ = i, v
		}
	}
	p := make([]float64, len(z))
	sum := 0.0
	for i, v := range z {
		p[i] = math.Exp(v - maxZ)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p, int64(best)
}

// priceTree is price_tree by hand.
func priceTree(sqft, rooms, age float32) float32 {
	switch {
	case sqft <= 80 && rooms <= 2:
		return 150000
	case sqft <= 80:
		return 210000
	case age <= 20:
		return 420000
	default:
		return 330000
	}
}

func marshal(m *onnxpb.ModelProto) []byte { return onnxtest.Marshal(m) }

var mlOpsets = map[string]int64{onnxtest.DomainONNX: onnxtest.OpsetONNX, onnxtest.DomainML: onnxtest.OpsetML}

// labelCodec maps words to ids and back with two LabelEncoders:
// word STRING [batch] -> id INT64 [batch] -> echo STRING [batch].
func labelCodec() []byte {
	g := onnxtest.Graph("label_codec",
		[]*onnxpb.NodeProto{
			onnxtest.MLNode("LabelEncoder", []string{"word"}, []string{"id"},
				onnxtest.AttrStrings("keys_strings", "low", "mid", "high"),
				onnxtest.AttrInts("values_int64s", 0, 1, 2),
				onnxtest.AttrInt("default_int64", -1)),
			onnxtest.MLNode("LabelEncoder", []string{"id"}, []string{"echo"},
				onnxtest.AttrInts("keys_int64s", 0, 1, 2),
				onnxtest.AttrStrings("values_strings", "LOW", "MID", "HIGH"),
				onnxtest.AttrString("default_string", "unknown")),
		},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("word", onnxtest.TensorType(onnxpb.TensorProto_STRING, "batch"))},
		[]*onnxpb.ValueInfoProto{
			onnxtest.Value("id", onnxtest.TensorType(onnxpb.TensorProto_INT64, "batch")),
			onnxtest.Value("echo", onnxtest.TensorType(onnxpb.TensorProto_STRING, "batch")),
		})
	return marshal(onnxtest.Model(g, mlOpsets, nil))
}

// stringClassifier is a LinearClassifier with string class labels and a
// ZipMap, with its labels in an order that is not sorted.
func stringClassifier() []byte {
	labels := []string{"spam", "ham", "eggs"}
	g := onnxtest.Graph("string_classifier",
		[]*onnxpb.NodeProto{
			onnxtest.MLNode("LinearClassifier", []string{"x"}, []string{"label", "scores"},
				onnxtest.AttrFloats("coefficients", 1, 0, 0, 1, -1, -1),
				onnxtest.AttrFloats("intercepts", 0, 0, 0.5),
				onnxtest.AttrStrings("classlabels_strings", labels...),
				onnxtest.AttrInt("multi_class", 1),
				onnxtest.AttrString("post_transform", "SOFTMAX")),
			onnxtest.MLNode("ZipMap", []string{"scores"}, []string{"probs"},
				onnxtest.AttrStrings("classlabels_strings", labels...)),
		},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", 2))},
		[]*onnxpb.ValueInfoProto{
			onnxtest.Value("label", onnxtest.TensorType(onnxpb.TensorProto_STRING, "batch")),
			onnxtest.Value("probs", onnxtest.SequenceType(onnxtest.MapType(onnxpb.TensorProto_STRING, onnxtest.TensorType(onnxpb.TensorProto_FLOAT)))),
		})
	return marshal(onnxtest.Model(g, mlOpsets, nil))
}

// addModel adds two FLOAT [batch, 3] inputs: its static shape checks pass
// for batches of different sizes, which only ONNX Runtime refuses.
func addModel() []byte {
	g := onnxtest.Graph("add",
		[]*onnxpb.NodeProto{onnxtest.Node("Add", []string{"a", "b"}, []string{"sum"})},
		[]*onnxpb.ValueInfoProto{
			onnxtest.Value("a", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", 3)),
			onnxtest.Value("b", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", 3)),
		},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("sum", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", 3))})
	return marshal(onnxtest.Model(g, nil, nil))
}

// castModel casts a FLOAT [n] input to elem.
func castModel(in, out onnxpb.TensorProto_DataType) []byte {
	g := onnxtest.Graph("cast",
		[]*onnxpb.NodeProto{onnxtest.Node("Cast", []string{"x"}, []string{"y"}, onnxtest.AttrInt("to", int64(out)))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(in, "n"))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(out, "n"))})
	return marshal(onnxtest.Model(g, nil, nil))
}

// scaleModel multiplies a FLOAT input of any rank by a FLOAT scalar input;
// the product keeps x's shape.
func scaleModel(xType *onnxpb.TypeProto) []byte {
	g := onnxtest.Graph("scale",
		[]*onnxpb.NodeProto{onnxtest.Node("Mul", []string{"x", "k"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{
			onnxtest.Value("x", xType),
			onnxtest.Value("k", onnxtest.Scalar(onnxpb.TensorProto_FLOAT)),
		},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT))})
	return marshal(onnxtest.Model(g, nil, nil))
}

// unknownOpModel uses an operator ONNX Runtime does not have.
func unknownOpModel() []byte {
	g := onnxtest.Graph("unknown_op",
		[]*onnxpb.NodeProto{onnxtest.Node("FrobnicateTensor", []string{"x"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n"))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n"))})
	return marshal(onnxtest.Model(g, nil, nil))
}

// mistypedModel adds a FLOAT to an INT64, which type inference refuses.
func mistypedModel() []byte {
	g := onnxtest.Graph("mistyped",
		[]*onnxpb.NodeProto{onnxtest.Node("Add", []string{"x", "k"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n"))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n"))},
		onnxtest.Int64s("k", []int64{1}, []int64{1}))
	return marshal(onnxtest.Model(g, nil, nil))
}

// constantModel has no inputs at all.
func constantModel() []byte {
	g := onnxtest.Graph("constant",
		[]*onnxpb.NodeProto{onnxtest.Node("Identity", []string{"k"}, []string{"y"})},
		nil,
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, 1))},
		onnxtest.Floats("k", []int64{1}, []float32{42}))
	return marshal(onnxtest.Model(g, nil, nil))
}

// forest is a TreeEnsembleRegressor of full binary trees, and the same
// trees kept in Go to compute the expected predictions.
type forest struct {
	features int
	trees    [][]onnxtest.TreeNode
}

// newForest grows trees of the given depth on random features and thresholds
// in [0, 1), with random leaf values.
func newForest(trees, depth, features int, seed uint64) *forest {
	r := rand.New(rand.NewPCG(seed, 1))
	f := &forest{features: features}
	for range trees {
		var nodes []onnxtest.TreeNode
		var grow func(level int) int64
		grow = func(level int) int64 {
			id := int64(len(nodes))
			nodes = append(nodes, onnxtest.TreeNode{})
			if level == depth {
				nodes[id] = onnxtest.TreeNode{Leaf: true, Value: float32(r.NormFloat64())}
				return id
			}
			n := onnxtest.TreeNode{Feature: int64(r.IntN(features)), Threshold: r.Float32()}
			n.True = grow(level + 1)
			n.False = grow(level + 1)
			nodes[id] = n
			return id
		}
		grow(0)
		f.trees = append(f.trees, nodes)
	}
	return f
}

// predict sums the trees' leaves for one row.
func (f *forest) predict(x []float32) float64 {
	sum := 0.0
	for _, tree := range f.trees {
		n := tree[0]
		for !n.Leaf {
			if x[n.Feature] <= n.Threshold {
				n = tree[n.True]
			} else {
				n = tree[n.False]
			}
		}
		sum += float64(n.Value)
	}
	return sum
}

// model is the forest as a TreeEnsembleRegressor (aggregate SUM), input
// FLOAT [batch, features], output FLOAT [batch, 1].
func (f *forest) model() []byte {
	var (
		treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs []int64
		modes                                           []string
		values, weights                                 []float32
		tTreeIDs, tNodeIDs, tIDs                        []int64
	)
	for t, tree := range f.trees {
		for id, n := range tree {
			treeIDs, nodeIDs = append(treeIDs, int64(t)), append(nodeIDs, int64(id))
			if n.Leaf {
				featureIDs, trueIDs, falseIDs = append(featureIDs, 0), append(trueIDs, 0), append(falseIDs, 0)
				modes, values = append(modes, "LEAF"), append(values, 0)
				tTreeIDs, tNodeIDs, tIDs = append(tTreeIDs, int64(t)), append(tNodeIDs, int64(id)), append(tIDs, 0)
				weights = append(weights, n.Value)
				continue
			}
			featureIDs, trueIDs, falseIDs = append(featureIDs, n.Feature), append(trueIDs, n.True), append(falseIDs, n.False)
			modes, values = append(modes, "BRANCH_LEQ"), append(values, n.Threshold)
		}
	}
	g := onnxtest.Graph("forest",
		[]*onnxpb.NodeProto{onnxtest.MLNode("TreeEnsembleRegressor", []string{"features"}, []string{"prediction"},
			onnxtest.AttrInt("n_targets", 1),
			onnxtest.AttrString("aggregate_function", "SUM"),
			onnxtest.AttrString("post_transform", "NONE"),
			onnxtest.AttrInts("nodes_treeids", treeIDs...),
			onnxtest.AttrInts("nodes_nodeids", nodeIDs...),
			onnxtest.AttrInts("nodes_featureids", featureIDs...),
			onnxtest.AttrStrings("nodes_modes", modes...),
			onnxtest.AttrFloats("nodes_values", values...),
			onnxtest.AttrInts("nodes_truenodeids", trueIDs...),
			onnxtest.AttrInts("nodes_falsenodeids", falseIDs...),
			onnxtest.AttrInts("target_treeids", tTreeIDs...),
			onnxtest.AttrInts("target_nodeids", tNodeIDs...),
			onnxtest.AttrInts("target_ids", tIDs...),
			onnxtest.AttrFloats("target_weights", weights...))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("features", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", f.features))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("prediction", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", 1))})
	return marshal(onnxtest.Model(g, mlOpsets, nil))
}

// matMulChain multiplies a FLOAT [batch, width] input by the same
// [width, width] matrix n times.
func matMulChain(n, width int) []byte {
	w := make([]float32, width*width)
	for i := range width {
		w[i*width+i] = 1
	}
	var nodes []*onnxpb.NodeProto
	x := "x"
	for i := range n {
		y := "h" + strconv.Itoa(i)
		if i == n-1 {
			y = "y"
		}
		nodes = append(nodes, onnxtest.Node("MatMul", []string{x, "w"}, []string{y}))
		x = y
	}
	g := onnxtest.Graph("chain", nodes,
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", width))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "batch", width))},
		onnxtest.Floats("w", []int64{int64(width), int64(width)}, w))
	return marshal(onnxtest.Model(g, nil, nil))
}

// sumModel sums a FLOAT [n] input into a scalar of type elem.
func sumModel(elem onnxpb.TensorProto_DataType) []byte {
	g := onnxtest.Graph("sum",
		[]*onnxpb.NodeProto{
			onnxtest.Node("ReduceSum", []string{"x"}, []string{"s"}, onnxtest.AttrInt("keepdims", 0)),
			onnxtest.Node("Cast", []string{"s"}, []string{"y"}, onnxtest.AttrInt("to", int64(elem))),
		},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n"))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.Scalar(elem))})
	return marshal(onnxtest.Model(g, nil, nil))
}
