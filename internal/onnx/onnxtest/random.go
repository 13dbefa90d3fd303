package onnxtest

import (
	"fmt"
	"math/rand/v2"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Forest returns a TreeEnsembleRegressor of full binary trees of the given
// depth with random splits (thresholds in [0,1) on random features) and
// leaf values, summed, as gradient boosting exports them. It is a stand-in
// for a trained demand-forecast model in benchmarks: the same seed gives
// the same model.
func Forest(nFeatures, trees, depth int, seed uint64) *onnxpb.ModelProto {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var (
		treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs []int64
		modes                                           []string
		values                                          []float32
		tTree, tNode, tID                               []int64
		tWeight                                         []float32
	)
	nodes := 1<<(depth+1) - 1
	for t := range trees {
		for id := range nodes {
			treeIDs, nodeIDs = append(treeIDs, int64(t)), append(nodeIDs, int64(id))
			if id >= nodes/2 { // the last level: leaves
				featureIDs, trueIDs, falseIDs = append(featureIDs, 0), append(trueIDs, 0), append(falseIDs, 0)
				modes, values = append(modes, "LEAF"), append(values, 0)
				tTree, tNode, tID = append(tTree, int64(t)), append(tNode, int64(id)), append(tID, 0)
				tWeight = append(tWeight, r.Float32()*2-1)
				continue
			}
			featureIDs = append(featureIDs, int64(r.IntN(nFeatures)))
			trueIDs, falseIDs = append(trueIDs, int64(2*id+1)), append(falseIDs, int64(2*id+2))
			modes, values = append(modes, "BRANCH_LEQ"), append(values, r.Float32())
		}
	}
	features := make([]string, nFeatures)
	for i := range features {
		features[i] = fmt.Sprintf("f%d", i)
	}
	g := Graph("forest",
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
			AttrInts("target_treeids", tTree...),
			AttrInts("target_nodeids", tNode...),
			AttrInts("target_ids", tID...),
			AttrFloats("target_weights", tWeight...))},
		[]*onnxpb.ValueInfoProto{Value(InputFeatures, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, nFeatures))},
		[]*onnxpb.ValueInfoProto{Value(OutputPrediction, TensorType(onnxpb.TensorProto_FLOAT, BatchDim, 1))})
	return Model(g, map[string]int64{DomainONNX: OpsetONNX, DomainML: OpsetML}, names(features, nil))
}

// RandomMLP returns an MLPClassifier with random weights and the given
// layer sizes (sizes[0] inputs, sizes[len-1] classes), for benchmarks.
func RandomMLP(seed uint64, sizes ...int) *onnxpb.ModelProto {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var layers []Dense
	for i := 1; i < len(sizes); i++ {
		d := Dense{W: make([][]float32, sizes[i]), B: make([]float32, sizes[i])}
		for o := range d.W {
			d.W[o] = make([]float32, sizes[i-1])
			for j := range d.W[o] {
				d.W[o][j] = r.Float32()*2 - 1
			}
			d.B[o] = r.Float32()*0.2 - 0.1
		}
		layers = append(layers, d)
	}
	return MLPClassifier(nil, nil, layers...)
}
