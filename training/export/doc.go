// Package export writes trained models as ONNX models that both of
// Lantern's serving engines (serving/native and ONNX Runtime) run, with
// the generated onnxpb types through internal/onnx/build.
//
// Every model takes one input, "features" FLOAT [N, F], whose columns are
// named, in order, by the metadata property "feature_names"
// (comma-separated; Lantern's MLflow scoring endpoint maps DataFrame
// columns with it). Models are written at IR version 8 with the operator
// sets ai.onnx 17 and ai.onnx.ml 3:
//
//   - GBRT: ai.onnx.ml TreeEnsembleRegressor (SUM, base_values = the
//     model's base, BRANCH_LEQ on the float32 bin edges, missing values
//     following the learned direction) → "prediction" FLOAT [N, 1].
//   - Logistic: ai.onnx.ml Scaler (the standardisation) → LinearClassifier
//     (SOFTMAX, classlabels_strings) → "label" STRING [N] and
//     "probabilities" FLOAT [N, K].
//   - MLP: Scaler → (Gemm → Relu)… → Gemm → Softmax → "probabilities"
//     FLOAT [N, K]; ArgMax → LabelEncoder (int64 → string) → "label"
//     STRING [N].
//
// The metadata also holds "class_names" (classifiers), "model_family",
// "trainer", "trainer_params" (the training parameters as JSON) and
// "lantern_version". The output is deterministic: the same model gives the
// same bytes.
package export
