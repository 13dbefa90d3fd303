// Package onnxtest builds small, valid ONNX models with the generated onnxpb types, for tests
// and demos: a Gemm/Relu/Softmax MLP classifier, an ai.onnx.ml LinearRegressor, a one-tree
// TreeEnsembleRegressor and a scikit-learn style LogisticRegression (LinearClassifier + ZipMap),
// plus the helpers they are made of (types, values, initializers, nodes, attributes).
//
// The models are what common exporters produce, at IR 8 with opset 13 and ai.onnx.ml 3, so that
// ONNX Runtime and the onnx checker accept them. Builders panic on inconsistent arguments: they
// are meant for fixed test data, not for user input.
package onnxtest
