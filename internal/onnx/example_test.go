package onnx_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"github.com/lantern-mlops/lantern/internal/onnx"
)

// The registry's upload path: hash, store and parse the model in one pass over the upload.
func ExampleSignatureReader() {
	upload, err := os.Open("testdata/demand_linear.onnx") // an HTTP request body
	if err != nil {
		panic(err)
	}
	defer upload.Close()

	h := sha256.New()
	sr := onnx.NewSignatureReader(io.TeeReader(upload, h))
	defer sr.Close()
	var store bytes.Buffer                         // stands in for objstore.Store.Put
	if _, err := io.Copy(&store, sr); err != nil { // an invalid model fails here, early
		fmt.Println("refused:", err)
		return
	}
	sig, err := sr.Signature()
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	stored := sha256.Sum256(store.Bytes())
	fmt.Printf("stored %d bytes; hash of the upload matches: %v\n", store.Len(), bytes.Equal(h.Sum(nil), stored[:]))
	for _, in := range sig.Inputs {
		dt, _ := onnx.OIPDatatype(in.ElemType)
		fmt.Printf("input %s: %s %v (OIP %s)\n", in.Name, in.ElemType, in.Shape, dt)
	}
	fmt.Println("features:", sig.Metadata["feature_names"])
	// Output:
	// stored 362 bytes; hash of the upload matches: true
	// input features: FLOAT [-1 5] (OIP FP32)
	// features: price,promo,temperature,day_of_week,holiday
}

func ExampleReadSignature() {
	_, err := onnx.ReadSignature(bytes.NewReader([]byte("PK\x03\x04 a zipped checkpoint")))
	fmt.Println(err)
	// Output:
	// file is not an ONNX model (expected a protobuf ModelProto): it is a ZIP archive (a PyTorch .pt checkpoint, a Keras .keras file, or a zipped model?); export the model to ONNX (torch.onnx.export, tf2onnx, skl2onnx) and upload the .onnx file; if the archive contains an .onnx file, unzip it first
}
