// Package linear trains multinomial logistic regression (softmax
// regression) with an L2 penalty and optional class weights.
//
// Features are standardised on the training rows (z = (x − Mean)·Scale,
// Scale = 1/std); the model is p = softmax(W·z + b). The weighted mean
// cross-entropy plus L2/2·‖W‖² (the intercepts are not penalised) is
// minimised with L-BFGS (lbfgs.go); the loss and its gradient are computed in
// one pass over the rows, in parallel over fixed chunks summed in order, so
// training is deterministic. The model keeps its parameters as float32, the
// values training/export writes into an ai.onnx.ml Scaler and
// LinearClassifier, so that the exported model predicts what the Model
// does.
package linear
