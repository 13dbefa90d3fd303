package oip

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// FuzzDecodeInferRequest checks that the REST decoder never panics, that
// what it accepts is consistent with the shapes, and that what it accepts
// survives being written out and read back (as JSON and as binary data).
// Seeds are in testdata/fuzz/FuzzDecodeInferRequest.
func FuzzDecodeInferRequest(f *testing.F) {
	f.Add([]byte(inferBody("x", "FP32", "[2,2]", "[[1,2],[3,4]]")), -1)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		if headerLen < -1 {
			headerLen = -1
		}
		req, err := decodeInferRequest(body, headerLen, decodeOptions{routingParam: "routing_key"})
		if err != nil {
			return
		}
		for i := range req.inputs {
			in := &req.inputs[i]
			if err := in.Validate(); err != nil {
				t.Fatalf("accepted an inconsistent input: %v", err)
			}
			if !utf8.ValidString(in.Name) {
				return // names are written as JSON strings, lossily
			}
		}
		// Binary round trip: exact.
		again := roundTrip(t, req.inputs, true)
		for i := range req.inputs {
			a, b := &req.inputs[i], &again[i]
			if !bytes.Equal(appendRaw(nil, a), appendRaw(nil, b)) {
				t.Fatalf("input %q changed in a binary round trip", a.Name)
			}
		}
		// JSON round trip: equal values (NaN payloads aside).
		again = roundTrip(t, req.inputs, false)
		for i := range req.inputs {
			if a, b := &req.inputs[i], &again[i]; !sameValues(a, b) {
				t.Fatalf("input %q changed in a JSON round trip: %v -> %v", a.Name, a, b)
			}
		}
	})
}

// roundTrip writes ts as a request, with binary data (or JSON data where
// it can be exact: BYTES, FP16 and BF16 always go binary), and decodes it.
func roundTrip(t *testing.T, ts []tensor.Tensor, binaryData bool) []tensor.Tensor {
	t.Helper()
	var js, bin []byte
	js = append(js, `{"inputs":[`...)
	for i := range ts {
		in := &ts[i]
		if i > 0 {
			js = append(js, ',')
		}
		js = append(js, `{"name":`...)
		js = appendString(js, in.Name)
		js = append(js, `,"datatype":"`...)
		js = append(js, in.DType.OIP()...)
		js = append(js, `","shape":`...)
		js = appendShape(js, in.Shape)
		if binaryData || in.DType == tensor.String || in.DType == tensor.Float16 || in.DType == tensor.BFloat16 {
			js = append(js, `,"parameters":{"binary_data_size":`...)
			js = strconv.AppendInt(js, int64(rawSize(in)), 10)
			js = append(js, "}}"...)
			bin = appendRaw(bin, in)
			continue
		}
		js = append(js, `,"data":`...)
		js = appendData(js, in, NonFiniteTokens)
		js = append(js, '}')
	}
	js = append(js, "]}"...)
	req, err := decodeInferRequest(append(js, bin...), len(js), decodeOptions{})
	if err != nil {
		t.Fatalf("our own encoding does not decode: %v\n%s", err, js)
	}
	return req.inputs
}

func sameValues(a, b *tensor.Tensor) bool {
	if a.Name != b.Name || a.DType != b.DType || !equalShapes(a.Shape, b.Shape) {
		return false
	}
	switch a.DType {
	case tensor.Float32:
		for i := 0; i+4 <= len(a.Raw); i += 4 {
			x := math.Float32frombits(binary.LittleEndian.Uint32(a.Raw[i:]))
			y := math.Float32frombits(binary.LittleEndian.Uint32(b.Raw[i:]))
			if x != y && !(x != x && y != y) {
				return false
			}
		}
		return true
	case tensor.Float64:
		for i := 0; i+8 <= len(a.Raw); i += 8 {
			x := math.Float64frombits(binary.LittleEndian.Uint64(a.Raw[i:]))
			y := math.Float64frombits(binary.LittleEndian.Uint64(b.Raw[i:]))
			if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
				return false
			}
		}
		return true
	}
	return bytes.Equal(appendRaw(nil, a), appendRaw(nil, b))
}

func equalShapes(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzDecodeRaw checks that the raw tensor decoder (gRPC raw contents, the
// HTTP binary extension) never panics and that what it accepts encodes
// back to the same bytes. Seeds are in testdata/fuzz/FuzzDecodeRaw.
func FuzzDecodeRaw(f *testing.F) {
	f.Add(uint8(tensor.String), []byte{2}, []byte("\x01\x00\x00\x00a\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, dt uint8, dims []byte, data []byte) {
		if len(dims) > 6 {
			dims = dims[:6]
		}
		shape := make([]int64, len(dims))
		for i, d := range dims {
			shape[i] = int64(int8(d)) // negative dimensions too
		}
		for _, copyData := range []bool{false, true} {
			tt := tensor.Tensor{Name: "x", DType: tensor.DType(dt % 16), Shape: shape}
			err := decodeRaw("input", &tt, data, copyData)
			if err != nil {
				continue
			}
			if err := tt.Validate(); err != nil {
				t.Fatalf("accepted an inconsistent tensor: %v", err)
			}
			if got := appendRaw(nil, &tt); !bytes.Equal(got, data) {
				t.Fatalf("re-encoded %x, want %x", got, data)
			}
			if rawSize(&tt) != len(data) {
				t.Fatalf("rawSize %d, want %d", rawSize(&tt), len(data))
			}
			// A response made of it encodes without panicking.
			resp := &serving.InferResponse{Model: "m", Outputs: []tensor.Tensor{tt}}
			if _, _, err := appendResponse(nil, resp, &inferRequest{}, NonFiniteTokens); err != nil {
				t.Fatal(err)
			}
			if _, err := encodeGRPCResponse(resp, "", false); err != nil {
				t.Fatal(err)
			}
		}
	})
}
