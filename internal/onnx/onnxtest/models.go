package onnxtest

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Names of the inputs and outputs of the models below, and of their metadata keys.
const (
	InputFeatures    = "features"           // every model: FLOAT [batch, features]
	OutputPrediction = "prediction"         // regressors: FLOAT [batch, 1]
	OutputLabel      = "label"              // MLPClassifier: INT64 [batch]
	OutputProbs      = "probabilities"      // MLPClassifier: FLOAT [batch, classes]
	OutputSkLabel    = "output_label"       // LogisticRegression: INT64 [batch]
	OutputSkProbs    = "output_probability" // LogisticRegression: seq(map(int64, tensor(float)))
	MetaFeatureNames = "feature_names"      // metadata: comma-separated feature names
	MetaClassLabels  = "class_labels"       // metadata: comma-separated class names
	BatchDim         = "batch"              // the symbolic batch dimension
)

// Dense is a fully connected layer computing x·Wᵀ + B: W has one row of weights per output.
type Dense struct {
	W [][]float32
	B []float32
}

// MLPClassifier returns a classifier shaped like a PyTorch MLP exported to ONNX: one Gemm per
// layer with Relu between layers, then Softmax. Its input is InputFeatures, FLOAT [batch, F];
// its outputs are OutputLabel, the ArgMax class index (INT64 [batch]), and OutputProbs
// (FLOAT [batch, classes]). featureNames and classNames go into the metadata; they may be nil.
func MLPClassifier(featureNames, classNames []string, layers ...Dense) *onnxpb.ModelProto {
	if len(layers) == 0 {
		panic("onnxtest: MLPClassifier needs a layer")
	}
	width := len(layers[0].W[0])
	var nodes []*onnxpb.NodeProto
	var inits []*onnxpb.TensorProto
	x := InputFeatures
	for i, l := range layers {
		out, in := len(l.W), len(l.W[0])
		if in != width || len(l.B) != out {
			panic(fmt.Sprintf("onnxtest: layer %d is %dx%d with %d biases, after a layer of width %d", i, out, in, len(l.B), width))
		}
		var w []float32
		for _, row := range l.W {
			if len(row) != in {
				panic(fmt.Sprintf("onnxtest: layer %d has rows of different lengths", i))
			}
			w = append(w, row...)
		}
		wName, bName, y := "fc"+strconv.Itoa(i)+".weight", "fc"+strconv.Itoa(i)+".bias", "fc"+strconv.Itoa(i)
		inits = append(inits, Floats(wName, []int64{int64(out), int64(in)}, w), Floats(bName, []int64{int64(out)}, l.B))
		nodes = append(nodes, Node("Gemm", []string{x, wName, bName}, []string{y}, AttrInt("transB", 1)))
		x = y
		if i < len(layers)-1 {
			nodes = append(nodes, Node("Relu", []string{y}, []string{y + ".relu"}))
			x = y + ".relu"
		}
		width = out
	}
	nodes = append(nodes,
		Node("Softmax", []string{x}, []string{OutputProbs}, AttrInt("axis", 1)),
		Node("ArgMax", []string{OutputProbs}, []string{OutputLabel}, AttrInt("axis", 1), AttrInt("keepdims", 0)))
	g := Graph("mlp_classifier", nodes,
		[]*onnxpb.ValueInfoProto{Value(InputFeatures, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, len(layers[0].W[0])))},
		[]*onnxpb.ValueInfoProto{
			Value(OutputLabel, TensorType(onnxpb.TensorProto_INT64, BatchDim)),
			Value(OutputProbs, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, width)),
		}, inits...)
	return Model(g, nil, names(featureNames, classNames))
}

// LinearRegressor returns an ai.onnx.ml LinearRegressor over named features, fed as one
// InputFeatures tensor (FLOAT [batch, len(features)]), predicting OutputPrediction
// (FLOAT [batch, 1]) = features·coefficients + intercept.
func LinearRegressor(features []string, coefficients []float32, intercept float32) *onnxpb.ModelProto {
	if len(coefficients) != len(features) {
		panic(fmt.Sprintf("onnxtest: %d coefficients for %d features", len(coefficients), len(features)))
	}
	g := Graph("linear_regressor",
		[]*onnxpb.NodeProto{MLNode("LinearRegressor", []string{InputFeatures}, []string{OutputPrediction},
			AttrFloats("coefficients", coefficients...),
			AttrFloats("intercepts", intercept),
			AttrInt("targets", 1))},
		[]*onnxpb.ValueInfoProto{Value(InputFeatures, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, len(features)))},
		[]*onnxpb.ValueInfoProto{Value(OutputPrediction, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, 1))})
	return Model(g, map[string]int64{DomainONNX: OpsetONNX, DomainML: OpsetML}, names(features, nil))
}

// TreeNode is a node of a decision tree; its id is its index in the tree. A branch goes to the
// node True when x[Feature] <= Threshold, and to False otherwise; a leaf predicts Value.
type TreeNode struct {
	Leaf      bool
	Value     float32
	Feature   int64
	Threshold float32
	True      int64
	False     int64
}

// TreeRegressor returns an ai.onnx.ml TreeEnsembleRegressor holding one tree, over named
// features fed as one InputFeatures tensor (FLOAT [batch, len(features)]), predicting
// OutputPrediction (FLOAT [batch, 1]).
func TreeRegressor(features []string, tree []TreeNode) *onnxpb.ModelProto {
	var (
		treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs []int64
		modes                                           []string
		values                                          []float32
		targetTreeIDs, targetNodeIDs, targetIDs         []int64
		targetWeights                                   []float32
	)
	for id, n := range tree {
		treeIDs, nodeIDs = append(treeIDs, 0), append(nodeIDs, int64(id))
		if n.Leaf {
			featureIDs, trueIDs, falseIDs = append(featureIDs, 0), append(trueIDs, 0), append(falseIDs, 0)
			modes, values = append(modes, "LEAF"), append(values, 0)
			targetTreeIDs, targetNodeIDs = append(targetTreeIDs, 0), append(targetNodeIDs, int64(id))
			targetIDs, targetWeights = append(targetIDs, 0), append(targetWeights, n.Value)
			continue
		}
		if n.Feature < 0 || n.Feature >= int64(len(features)) || n.True >= int64(len(tree)) || n.False >= int64(len(tree)) {
			panic(fmt.Sprintf("onnxtest: tree node %d points out of range", id))
		}
		featureIDs, trueIDs, falseIDs = append(featureIDs, n.Feature), append(trueIDs, n.True), append(falseIDs, n.False)
		modes, values = append(modes, "BRANCH_LEQ"), append(values, n.Threshold)
	}
	g := Graph("tree_regressor",
		[]*onnxpb.NodeProto{MLNode("TreeEnsembleRegressor", []string{InputFeatures}, []string{OutputPrediction},
			AttrInt("n_targets", 1),
			AttrString("aggregate_function", "SUM"),
			AttrString("post_transform", "NONE"),
			AttrInts("nodes_treeids", treeIDs...),
			AttrInts("nodes_nodeids", nodeIDs...),
			AttrInts("nodes_featureids", featureIDs...),
			AttrStrings("nodes_modes", modes...),
			AttrFloats("nodes_values", values...),
			AttrInts("nodes_truenodeids", trueIDs...),
			AttrInts("nodes_falsenodeids", falseIDs...),
			AttrInts("target_treeids", targetTreeIDs...),
			AttrInts("target_nodeids", targetNodeIDs...),
			AttrInts("target_ids", targetIDs...),
			AttrFloats("target_weights", targetWeights...))},
		[]*onnxpb.ValueInfoProto{Value(InputFeatures, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, len(features)))},
		[]*onnxpb.ValueInfoProto{Value(OutputPrediction, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, 1))})
	return Model(g, map[string]int64{DomainONNX: OpsetONNX, DomainML: OpsetML}, names(features, nil))
}

// LogisticRegression returns a multinomial logistic regression shaped like a scikit-learn
// LogisticRegression exported by skl2onnx: an ai.onnx.ml LinearClassifier (with SOFTMAX) followed
// by ZipMap. Its input is InputFeatures (FLOAT [batch, len(features)]); its outputs are
// OutputSkLabel (INT64 [batch]) and OutputSkProbs, a sequence with one map from class label to
// probability per row. coef has one row of len(features) weights per class.
func LogisticRegression(features []string, coef [][]float32, intercepts []float32, labels []int64) *onnxpb.ModelProto {
	if len(coef) != len(labels) || len(intercepts) != len(labels) {
		panic(fmt.Sprintf("onnxtest: %d coefficient rows and %d intercepts for %d labels", len(coef), len(intercepts), len(labels)))
	}
	var flat []float32
	for _, row := range coef {
		if len(row) != len(features) {
			panic(fmt.Sprintf("onnxtest: a coefficient row has %d weights for %d features", len(row), len(features)))
		}
		flat = append(flat, row...)
	}
	g := Graph("logistic_regression",
		[]*onnxpb.NodeProto{
			MLNode("LinearClassifier", []string{InputFeatures}, []string{OutputSkLabel, "probability_tensor"},
				AttrFloats("coefficients", flat...),
				AttrFloats("intercepts", intercepts...),
				AttrInts("classlabels_ints", labels...),
				AttrInt("multi_class", 1),
				AttrString("post_transform", "SOFTMAX")),
			MLNode("ZipMap", []string{"probability_tensor"}, []string{OutputSkProbs},
				AttrInts("classlabels_int64s", labels...)),
		},
		[]*onnxpb.ValueInfoProto{Value(InputFeatures, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, len(features)))},
		[]*onnxpb.ValueInfoProto{
			Value(OutputSkLabel, TensorType(onnxpb.TensorProto_INT64, BatchDim)),
			Value(OutputSkProbs, SequenceType(MapType(onnxpb.TensorProto_INT64, TensorType(onnxpb.TensorProto_FLOAT)))),
		})
	return Model(g, map[string]int64{DomainONNX: OpsetONNX, DomainML: OpsetML}, names(features, nil))
}

// LegacyIR3 returns a copy of m as an IR version 3 model would have it (opset 8, from before
// IR 4 allowed initializers that are not graph inputs): every initializer is also listed as a
// graph input, after the real inputs.
func LegacyIR3(m *onnxpb.ModelProto) *onnxpb.ModelProto {
	m = proto.Clone(m).(*onnxpb.ModelProto)
	m.IrVersion = proto.Int64(3)
	for _, op := range m.OpsetImport {
		if op.GetDomain() == DomainONNX {
			op.Version = proto.Int64(8)
		}
	}
	for _, t := range m.Graph.Initializer {
		dims := make([]any, len(t.Dims))
		for i, d := range t.Dims {
			dims[i] = d
		}
		m.Graph.Input = append(m.Graph.Input,
			Value(t.GetName(), TensorType(onnxpb.TensorProto_DataType(t.GetDataType()), dims...)))
	}
	return m
}

func names(features, classes []string) map[string]string {
	md := map[string]string{}
	if len(features) > 0 {
		md[MetaFeatureNames] = strings.Join(features, ",")
	}
	if len(classes) > 0 {
		md[MetaClassLabels] = strings.Join(classes, ",")
	}
	return md
}

// WithPadding adds an unused UINT8 initializer of n bytes to a copy of m, to
// make large but valid models for upload tests. The signature is unchanged:
// initializers that are not graph inputs are not inputs.
func WithPadding(m *onnxpb.ModelProto, n int) *onnxpb.ModelProto {
	c := proto.Clone(m).(*onnxpb.ModelProto)
	c.Graph.Initializer = append(c.Graph.Initializer, &onnxpb.TensorProto{
		Name:     proto.String("lantern_test_padding"),
		Dims:     []int64{int64(n)},
		DataType: proto.Int32(int32(onnxpb.TensorProto_UINT8)),
		RawData:  make([]byte, n),
	})
	return c
}
