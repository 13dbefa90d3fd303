// Package mlp trains a small multilayer perceptron classifier: one or two
// hidden layers of ReLU units and a softmax output, trained on the
// class-weighted cross-entropy with Adam over shuffled mini-batches, with
// early stopping on a validation split (the weights of the best epoch are
// kept).
//
// Features are standardised on the training rows (z = (x − Mean)·Scale).
// The matrix products run through gonum's blas64 on one goroutine per
// training run, and every random draw (initial weights, the order of each
// epoch) comes from a PCG generator seeded with Params.Seed, so the same
// data and Params give the same Model. The model keeps float32 weights,
// the values training/export writes into an ONNX Scaler, Gemm, Relu and
// Softmax graph.
package mlp
