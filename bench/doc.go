// Package bench holds the programs `make bench-serving` uses: floor, a
// minimal server answering the Open Inference Protocol with a fixed
// response (the fastest a server on this machine can be), and models,
// which writes the benchmark models. The results are in BENCHMARKS.md.
package bench
