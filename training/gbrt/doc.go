// Package gbrt trains gradient-boosted regression trees on histograms, in
// the manner of LightGBM: every feature is cut into at most 255 quantile
// bins (uint8 codes, column-major, with missing values in a bin of their
// own), trees grow best-first up to MaxLeaves leaves and MaxDepth levels,
// each split's histogram of gradients comes from one pass over the smaller
// child and a subtraction from the parent, and a split sends missing values
// to whichever side gains most (the learned default direction ONNX calls
// nodes_missing_value_tracks_true).
//
// A split on bin b of feature j is the float32 test x[j] <= Edges[j][b],
// where the edge is the float32 value that separates bin b from bin b+1 when
// binning: a Model makes the same decisions as the binned training data for
// every float32 input, and training/export writes exactly that test
// (BRANCH_LEQ with the same float32 threshold) into an ai.onnx.ml
// TreeEnsembleRegressor.
//
// Training is deterministic: the same data, train and validation rows and
// Params (with its Seed) give the same Model, whatever the number of
// workers. Histograms and split searches run over features on a pool of
// Workers goroutines; memory is the binned data (one byte per row and
// feature) plus a few float32/float64/int32 vectors per row, and no copy of
// the feature matrix.
package gbrt
