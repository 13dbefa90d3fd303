package export

import (
	"fmt"

	"github.com/lantern-mlops/lantern/internal/onnx/build"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/training/gbrt"
)

// GBRT writes a gradient-boosted tree model as an ai.onnx.ml
// TreeEnsembleRegressor: input "features" FLOAT [N, F], output
// "prediction" FLOAT [N, 1] = base + Σ leaf values.
//
// Node ids are the indices in gbrt.Tree.Nodes. A branch is BRANCH_LEQ with
// the split's float32 threshold, true (left) when x <= threshold, and
// nodes_missing_value_tracks_true carries the learned direction of
// missing values, so the exported model picks the same leaf as the Model
// for every float32 input, NaN included.
func GBRT(m *gbrt.Model, opts Options) ([]byte, error) {
	if err := checkNames("feature", m.FeatureNames); err != nil {
		return nil, err
	}
	nf := len(m.FeatureNames)
	var (
		treeIDs, nodeIDs, featureIDs, trueIDs, falseIDs, missing []int64
		modes                                                    []string
		values                                                   []float32
		tTree, tNode, tTarget                                    []int64
		tWeights                                                 []float32
	)
	if len(m.Trees) == 0 {
		return nil, fmt.Errorf("%w: no trees", ErrModel)
	}
	for t, tree := range m.Trees {
		for id, n := range tree.Nodes {
			treeIDs = append(treeIDs, int64(t))
			nodeIDs = append(nodeIDs, int64(id))
			if n.Leaf() {
				featureIDs = append(featureIDs, 0)
				modes = append(modes, "LEAF")
				values = append(values, 0)
				trueIDs = append(trueIDs, 0)
				falseIDs = append(falseIDs, 0)
				missing = append(missing, 0)
				tTree = append(tTree, int64(t))
				tNode = append(tNode, int64(id))
				tTarget = append(tTarget, 0)
				tWeights = append(tWeights, n.Value)
				continue
			}
			if int(n.Feature) >= nf || n.Left <= 0 || n.Right <= 0 || int(n.Left) >= len(tree.Nodes) || int(n.Right) >= len(tree.Nodes) {
				return nil, fmt.Errorf("%w: tree %d node %d: feature %d, children %d and %d", ErrModel, t, id, n.Feature, n.Left, n.Right)
			}
			featureIDs = append(featureIDs, int64(n.Feature))
			modes = append(modes, "BRANCH_LEQ")
			values = append(values, n.Threshold)
			trueIDs = append(trueIDs, int64(n.Left))
			falseIDs = append(falseIDs, int64(n.Right))
			mv := int64(0)
			if n.MissingLeft {
				mv = 1
			}
			missing = append(missing, mv)
		}
	}
	g := build.NewGraph("lantern_gbrt")
	featuresInput(g, nf)
	g.Output(OutputPrediction, build.TensorType(onnxpb.TensorProto_FLOAT, build.Sym(batchDim), build.Fixed(1)))
	g.Node(build.DomainML, "TreeEnsembleRegressor", []string{InputFeatures}, []string{OutputPrediction},
		build.String("aggregate_function", "SUM"),
		build.Floats("base_values", []float32{m.Base}),
		build.Int("n_targets", 1),
		build.Ints("nodes_falsenodeids", falseIDs),
		build.Ints("nodes_featureids", featureIDs),
		build.Ints("nodes_missing_value_tracks_true", missing),
		build.Strings("nodes_modes", modes),
		build.Ints("nodes_nodeids", nodeIDs),
		build.Ints("nodes_treeids", treeIDs),
		build.Ints("nodes_truenodeids", trueIDs),
		build.Floats("nodes_values", values),
		build.String("post_transform", "NONE"),
		build.Ints("target_ids", tTarget),
		build.Ints("target_nodeids", tNode),
		build.Ints("target_treeids", tTree),
		build.Floats("target_weights", tWeights),
	)
	return finish(g, header{trainer: "gbrt", family: FamilyDemand, features: m.FeatureNames, params: m.Params}, opts)
}
