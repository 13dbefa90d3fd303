package onnx

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// modelFromProto is the reference for the walker: what it must keep of a model, computed from
// the model decoded whole by the protobuf library.
func modelFromProto(pb *onnxpb.ModelProto) *model {
	g := pb.GetGraph()
	m := &model{
		irVersion:       pb.GetIrVersion(),
		sawIRVersion:    pb.IrVersion != nil,
		producer:        pb.GetProducerName(),
		producerVersion: pb.GetProducerVersion(),
		sawGraph:        g != nil,
		opsets:          pb.GetOpsetImport(),
		metadata:        pb.GetMetadataProps(),
		inputs:          g.GetInput(),
		outputs:         g.GetOutput(),
		initializers:    map[string]bool{},
	}
	external := func(t *onnxpb.TensorProto) {
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
			m.externalData = true
		}
	}
	for _, t := range g.GetInitializer() {
		if t.Name != nil {
			m.initializers[t.GetName()] = true
		}
		external(t)
	}
	for _, s := range g.GetSparseInitializer() {
		if s.GetValues() != nil && s.GetValues().Name != nil {
			m.initializers[s.GetValues().GetName()] = true
		}
		external(s.GetValues())
		external(s.GetIndices())
	}
	return m
}

// TestWalkerMatchesProtobuf checks the walker against the reference on every fixture.
func TestWalkerMatchesProtobuf(t *testing.T) {
	for _, fx := range fixtures() {
		checkAgainstReference(t, fx.data())
	}
}

// checkAgainstReference checks that, when the protobuf library decodes data and the walker
// walks it without error, both lead to the same signature or the same error.
func checkAgainstReference(t *testing.T, data []byte) {
	t.Helper()
	var pb onnxpb.ModelProto
	if proto.Unmarshal(data, &pb) != nil {
		return
	}
	w := newWalker(bytes.NewReader(data))
	if w.walkModel() != nil {
		return // the walker is stricter than the library about wire types and sizes
	}
	got, gotErr := w.m.signature()
	want, wantErr := modelFromProto(&pb).signature()
	if !reflect.DeepEqual(got, want) || errString(gotErr) != errString(wantErr) {
		t.Fatalf("walker: %s, %v\nprotobuf: %s, %v", jsonString(got), gotErr, jsonString(want), wantErr)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzReadSignature checks that ReadSignature never panics, refuses bad input with a
// FormatError, returns consistent signatures, and agrees with the protobuf library. The seed
// corpus is in testdata/fuzz/FuzzReadSignature (written by TestGenerateTestdata -update).
func FuzzReadSignature(f *testing.F) {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	f.Add([]byte{})
	f.Add(tag(modelGraph, protowire.StartGroupType))
	f.Add(append(tag(modelGraph, protowire.BytesType), 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Add(append(tag(modelIRVersion, protowire.VarintType), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))
	f.Fuzz(func(t *testing.T, data []byte) {
		sig, err := ReadSignature(bytes.NewReader(data))
		if err != nil {
			var ferr *FormatError
			if sig != nil || !errors.As(err, &ferr) || !errors.Is(err, ErrInvalidModel) || ferr.Reason == "" {
				t.Fatalf("got %v, %v (%T); want nil and a *FormatError", sig, err, err)
			}
			if ferr.Offset < -1 || ferr.Offset > int64(len(data)) {
				t.Fatalf("error offset %d in %d bytes", ferr.Offset, len(data))
			}
		} else {
			if sig.IRVersion < 1 || len(sig.Inputs) == 0 || len(sig.Outputs) == 0 || sig.Opsets == nil {
				t.Fatalf("inconsistent signature %s", jsonString(sig))
			}
			for _, ts := range append(sig.Inputs, sig.Outputs...) {
				if ts.Name == "" || ts.Kind == "" || ts.Type == "" || len(ts.Shape) != len(ts.DimNames) {
					t.Fatalf("inconsistent tensor %s", jsonString(ts))
				}
			}
		}
		checkAgainstReference(t, data)
		checkAt(t, data, sig, err)
	})
}

// checkAt checks that ReadSignatureAt agrees with ReadSignature.
func checkAt(t *testing.T, data []byte, want *Signature, wantErr error) {
	t.Helper()
	got, err := ReadSignatureAt(bytes.NewReader(data), int64(len(data)))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("ReadSignatureAt error %v, ReadSignature error %v", err, wantErr)
	}
	if err == nil && jsonString(got) != jsonString(want) {
		t.Fatalf("ReadSignatureAt %s, ReadSignature %s", jsonString(got), jsonString(want))
	}
}
