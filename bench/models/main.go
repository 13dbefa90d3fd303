// Command models writes the models `make bench-serving` serves: a
// demand-forecast stand-in (a tree ensemble of 100 trees of depth 6 over
// 30 features) and a classifier (an MLP 30→64→32→3).
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

func main() {
	dir := flag.String("dir", ".", "output directory")
	flag.Parse()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(*dir, name), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write("forest.onnx", onnxtest.Marshal(onnxtest.Forest(30, 100, 6, 1)))
	write("mlp.onnx", onnxtest.Marshal(onnxtest.RandomMLP(2, 30, 64, 32, 3)))
}
