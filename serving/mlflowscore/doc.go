// Package mlflowscore speaks MLflow's pyfunc scoring protocol (what
// `mlflow models serve` answers) over a serving.Backend, so that a client
// written for an MLflow model server moves to Lantern by changing a URL:
//
//	POST /invocations[/{model}]   score (application/json or text/csv)
//	GET  /ping, /health           200 "\n" when ready, 404 otherwise
//	GET  /version                 the server version
//
// JSON bodies hold exactly one of dataframe_split, dataframe_records,
// instances or inputs (plus an optional params object, accepted and
// ignored: ONNX models take no parameters, as in MLflow's onnx flavor).
//
// Data frames (dataframe_split, dataframe_records, CSV, and instances or
// inputs given as named columns) map to the ONNX model's inputs as
// MLflow's onnx flavor does: a model with one input gets the frame as an
// [N, columns] tensor, in the order of the model's feature_names property
// when it has one (a missing column or an unknown one is an error naming
// them) and in the frame's order otherwise; a model with several inputs
// gets one column per input, by name. Tensors (instances or inputs given
// as an array, or as an object keyed by input names) go in as they are.
//
// Answers follow MLflow's onnx flavor too: for a data frame, one record
// per row with one field per output ({"predictions": [{"label": 1,
// "probabilities": {"0": 0.1, "1": 0.9}}]}, where an output with class
// labels, ONNX-ML's ZipMap, is an object of label to value); for tensors,
// one field per output holding its tensor ({"predictions": {"label":
// [1], ...}}). Errors are MLflow's {"error_code": "BAD_REQUEST",
// "message": "..."}.
//
// This path builds generic JSON values and is not as fast as the Open
// Inference Protocol's (serving/oip); use that for throughput.
package mlflowscore
