// Package training runs Lantern's training jobs: load and check the data,
// build features, train, evaluate against a baseline and the quality
// gates, export ONNX, profile the training data, and register the version
// with its artifacts and lineage. The same Run serves `lantern train`, the
// demo and the retraining pipeline (local runner or Argo Workflows).
//
// Subpackages hold the parts: dataset (the table), synth (synthetic data),
// data (loaders and data-quality checks), features, gbrt, linear, mlp
// (trainers), export (ONNX), eval (metrics and gates), profile (the
// reference profile for drift monitoring).
package training
