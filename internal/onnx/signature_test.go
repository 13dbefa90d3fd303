package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

func batchFloat(name string, width int64) Tensor {
	return Tensor{Name: name, Kind: KindTensor, Type: "tensor(float)", ElemType: "FLOAT",
		Shape: []int64{-1, width}, DimNames: []string{"batch", ""}}
}

func TestReadSignatureFixtures(t *testing.T) {
	mlOpsets := map[string]int64{"": 13, "ai.onnx.ml": 3}
	label := Tensor{Name: "label", Kind: KindTensor, Type: "tensor(int64)", ElemType: "INT64",
		Shape: []int64{-1}, DimNames: []string{"batch"}}
	riskMeta := map[string]string{"feature_names": "age,income,debt_ratio,late_payments", "class_labels": "low,high"}
	tests := []struct {
		file string
		want Signature
	}{
		{"demand_linear.onnx", Signature{
			IRVersion: 8, Producer: "lantern-onnxtest", ProducerVersion: "1", Opsets: mlOpsets,
			Inputs:   []Tensor{batchFloat("features", 5)},
			Outputs:  []Tensor{batchFloat("prediction", 1)},
			Metadata: map[string]string{"feature_names": "price,promo,temperature,day_of_week,holiday"},
		}},
		{"risk_mlp.onnx", Signature{
			IRVersion: 8, Producer: "lantern-onnxtest", ProducerVersion: "1", Opsets: map[string]int64{"": 13},
			Inputs:   []Tensor{batchFloat("features", 4)},
			Outputs:  []Tensor{label, batchFloat("probabilities", 2)},
			Metadata: riskMeta,
		}},
		{"risk_mlp_ir3.onnx", Signature{ // the initializers listed as inputs are left out
			IRVersion: 3, Producer: "lantern-onnxtest", ProducerVersion: "1", Opsets: map[string]int64{"": 8},
			Inputs:   []Tensor{batchFloat("features", 4)},
			Outputs:  []Tensor{label, batchFloat("probabilities", 2)},
			Metadata: riskMeta,
		}},
		{"price_tree.onnx", Signature{
			IRVersion: 8, Producer: "lantern-onnxtest", ProducerVersion: "1", Opsets: mlOpsets,
			Inputs:   []Tensor{batchFloat("features", 3)},
			Outputs:  []Tensor{batchFloat("prediction", 1)},
			Metadata: map[string]string{"feature_names": "sqft,rooms,age"},
		}},
		{"iris_logreg.onnx", Signature{
			IRVersion: 8, Producer: "lantern-onnxtest", ProducerVersion: "1", Opsets: mlOpsets,
			Inputs: []Tensor{batchFloat("features", 4)},
			Outputs: []Tensor{
				{Name: "output_label", Kind: KindTensor, Type: "tensor(int64)", ElemType: "INT64",
					Shape: []int64{-1}, DimNames: []string{"batch"}},
				{Name: "output_probability", Kind: KindSequence, Type: "seq(map(int64,tensor(float)))",
					ElemType: "FLOAT", KeyType: "INT64"},
			},
			Metadata: map[string]string{"feature_names": "sepal_length,sepal_width,petal_length,petal_width"},
		}},
	}
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data-err": iotest.DataErrReader,
	}
	for _, tt := range tests {
		for rname, wrap := range readers {
			t.Run(tt.file+"/"+rname, func(t *testing.T) {
				got, err := ReadSignature(wrap(bytes.NewReader(readFixture(t, tt.file))))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(*got, tt.want) {
					t.Errorf("got  %s\nwant %s", jsonString(got), jsonString(tt.want))
				}
			})
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestReadSignatureInvalidFixtures(t *testing.T) {
	tests := []struct {
		file   string
		reason string // a part of the message
	}{
		{"invalid/empty.onnx", "the file is empty"},
		{"invalid/truncated.onnx", "it is truncated"},
		{"invalid/random.onnx", "the data is not valid protobuf at byte "},
		{"invalid/text.onnx", `it looks like a text file (it starts with "price,promo,temperature,"...)`},
		{"invalid/demand_linear.zip", "it is a ZIP archive"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sig, err := ReadSignature(bytes.NewReader(readFixture(t, tt.file)))
			if sig != nil {
				t.Errorf("got a signature %+v", sig)
			}
			checkFormatError(t, err, true, tt.reason)
		})
	}
}

func checkFormatError(t *testing.T, err error, notONNX bool, reason string) {
	t.Helper()
	var ferr *FormatError
	if !errors.As(err, &ferr) {
		t.Fatalf("got %v (%T), want a *FormatError", err, err)
	}
	if !errors.Is(err, ErrInvalidModel) || errors.Is(err, ErrNotONNX) != notONNX || ferr.NotONNX != notONNX {
		t.Errorf("%v: Is(ErrInvalidModel)=%v Is(ErrNotONNX)=%v, want true and %v",
			err, errors.Is(err, ErrInvalidModel), errors.Is(err, ErrNotONNX), notONNX)
	}
	prefix := "not a valid ONNX model: "
	if notONNX {
		prefix = "file is not an ONNX model (expected a protobuf ModelProto): "
	}
	if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, reason) {
		t.Errorf("got %q, want %q...%q", msg, prefix, reason)
	}
	t.Logf("%v", err)
}

// validGraph returns a graph with one input and one output, for tests that break one thing.
func validGraph() *onnxpb.GraphProto {
	return onnxtest.Graph("g",
		[]*onnxpb.NodeProto{onnxtest.Node("Relu", []string{"x"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n", 3))},
		[]*onnxpb.ValueInfoProto{onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n", 3))})
}

func TestReadSignatureInvalidModels(t *testing.T) {
	tests := []struct {
		name    string
		model   func(m *onnxpb.ModelProto)
		notONNX bool
		reason  string
	}{
		{"no graph", func(m *onnxpb.ModelProto) { m.Graph = nil }, false, "the model has no graph"},
		{"no ir_version", func(m *onnxpb.ModelProto) { m.IrVersion = nil }, false, "ir_version is missing"},
		{"zero ir_version", func(m *onnxpb.ModelProto) { m.IrVersion = proto.Int64(0) }, false, "ir_version 0 is not"},
		{"negative ir_version", func(m *onnxpb.ModelProto) { m.IrVersion = proto.Int64(-2) }, false, "ir_version -2 is not"},
		{"no graph nor ir_version", func(m *onnxpb.ModelProto) { m.Graph, m.IrVersion = nil, nil }, true, "no ONNX graph and no ir_version"},
		{"no opset", func(m *onnxpb.ModelProto) { m.OpsetImport = nil }, false, "imports no operator set"},
		{"no inputs", func(m *onnxpb.ModelProto) { m.Graph.Input = nil }, false, "the graph has no inputs"},
		{"only initializer inputs", func(m *onnxpb.ModelProto) {
			m.Graph.Initializer = append(m.Graph.Initializer, onnxtest.Floats("x", []int64{1, 3}, []float32{1, 2, 3}))
		}, false, "all 1 of its inputs are initializers"},
		{"no outputs", func(m *onnxpb.ModelProto) { m.Graph.Output = nil }, false, "the graph has no outputs"},
		{"unnamed input", func(m *onnxpb.ModelProto) { m.Graph.Input[0].Name = nil }, false, "graph input #1 has no name"},
		{"untyped output", func(m *onnxpb.ModelProto) { m.Graph.Output[0].Type = nil }, false, `graph output "y" has no type`},
		{"duplicate inputs", func(m *onnxpb.ModelProto) {
			m.Graph.Input = append(m.Graph.Input, m.Graph.Input[0])
		}, false, `two graph inputs are named "x"`},
		{"huge input", func(m *onnxpb.ModelProto) {
			m.Graph.Input[0].DocString = proto.String(strings.Repeat("x", MaxFieldSize))
		}, false, "ModelProto.graph.input takes 4194329 bytes, over the limit of 4.0 MiB"},
		{"huge producer", func(m *onnxpb.ModelProto) {
			m.ProducerName = proto.String(strings.Repeat("x", 5<<20))
		}, false, "ModelProto.producer_name takes 5242880 bytes"},
		{"deep type", func(m *onnxpb.ModelProto) {
			tp := onnxtest.TensorType(onnxpb.TensorProto_FLOAT)
			for range maxTypeDepth + 1 {
				tp = onnxtest.SequenceType(tp)
			}
			m.Graph.Output[0].Type = tp
		}, false, "nested more than 32 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := onnxtest.Model(validGraph(), nil, nil)
			tt.model(m)
			_, err := ReadSignature(bytes.NewReader(onnxtest.Marshal(m)))
			checkFormatError(t, err, tt.notONNX, tt.reason)
		})
	}
}

func TestReadSignatureOtherProtobuf(t *testing.T) {
	// A TensorProto saved on its own (an .pb file of weights) parses as protobuf, but is no model.
	b, err := proto.Marshal(onnxtest.Floats("w", []int64{2}, []float32{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ReadSignature(bytes.NewReader(b))
	checkFormatError(t, err, true, "")
}

func TestReadSignatureTypes(t *testing.T) {
	f := onnxpb.TensorProto_FLOAT
	tests := []struct {
		name string
		typ  *onnxpb.TypeProto
		want Tensor
	}{
		{"fixed", onnxtest.TensorType(onnxpb.TensorProto_INT64, 2, 3),
			Tensor{Kind: KindTensor, Type: "tensor(int64)", ElemType: "INT64", Shape: []int64{2, 3}, DimNames: []string{"", ""}}},
		{"symbolic and unknown dims", onnxtest.TensorType(f, "batch", nil, 8),
			Tensor{Kind: KindTensor, Type: "tensor(float)", ElemType: "FLOAT", Shape: []int64{-1, -1, 8}, DimNames: []string{"batch", "", ""}}},
		{"unknown rank", onnxtest.TensorType(onnxpb.TensorProto_STRING),
			Tensor{Kind: KindTensor, Type: "tensor(string)", ElemType: "STRING"}},
		{"scalar", onnxtest.Scalar(onnxpb.TensorProto_BOOL),
			Tensor{Kind: KindTensor, Type: "tensor(bool)", ElemType: "BOOL", Shape: []int64{}, DimNames: []string{}}},
		{"unsupported elem type", &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(99)}}},
			Tensor{Kind: KindTensor, Type: "tensor(unknown(99))", ElemType: "UNKNOWN(99)"}},
		{"float8", onnxtest.TensorType(onnxpb.TensorProto_DataType(17), 4),
			Tensor{Kind: KindTensor, Type: "tensor(float8e4m3fn)", ElemType: "FLOAT8E4M3FN", Shape: []int64{4}, DimNames: []string{""}}},
		{"sequence", onnxtest.SequenceType(onnxtest.TensorType(onnxpb.TensorProto_DOUBLE, "n")),
			Tensor{Kind: KindSequence, Type: "seq(tensor(double))", ElemType: "DOUBLE", Shape: []int64{-1}, DimNames: []string{"n"}}},
		{"map", onnxtest.MapType(onnxpb.TensorProto_STRING, onnxtest.TensorType(f)),
			Tensor{Kind: KindMap, Type: "map(string,tensor(float))", ElemType: "FLOAT", KeyType: "STRING"}},
		{"optional", onnxtest.OptionalType(onnxtest.TensorType(onnxpb.TensorProto_FLOAT16, 1)),
			Tensor{Kind: KindOptional, Type: "optional(tensor(float16))", ElemType: "FLOAT16", Shape: []int64{1}, DimNames: []string{""}}},
		{"sparse", &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SparseTensorType{
			SparseTensorType: &onnxpb.TypeProto_SparseTensor{ElemType: proto.Int32(1)}}},
			Tensor{Kind: KindSparseTensor, Type: "sparse_tensor(float)", ElemType: "FLOAT"}},
		{"unknown kind", &onnxpb.TypeProto{}, Tensor{Kind: KindUnknown, Type: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := validGraph()
			g.Output = append(g.Output, onnxtest.Value("out", tt.typ))
			sig, err := ReadSignature(bytes.NewReader(onnxtest.Marshal(onnxtest.Model(g, nil, nil))))
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Name = "out"
			if got := sig.Outputs[1]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", jsonString(got), jsonString(tt.want))
			}
		})
	}
}

func TestReadSignatureDetails(t *testing.T) {
	g := validGraph()
	// Weights kept outside the model (data_location EXTERNAL), as large exports do.
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{
		Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{3},
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
		ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("model.onnx.data")}},
	})
	// An IR 4+ input with an initializer (an overridable one) is left out, as ONNX Runtime does.
	g.Input = append(g.Input, onnxtest.Value("w", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, 3)))
	// So is one whose initializer is sparse.
	g.SparseInitializer = append(g.SparseInitializer, &onnxpb.SparseTensorProto{
		Values:  onnxtest.Floats("s", []int64{1}, []float32{1}),
		Indices: onnxtest.Int64s("s_idx", []int64{1}, []int64{0}),
		Dims:    []int64{3},
	})
	g.Input = append(g.Input, onnxtest.Value("s", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, 3)))
	m := onnxtest.Model(g, map[string]int64{"ai.onnx": 17, "ai.onnx.ml": 3, "com.microsoft": 1}, map[string]string{"a": "1"})
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String("a"), Value: proto.String("2")})
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Version: proto.Int64(11)}) // a lower duplicate

	sig, err := ReadSignature(bytes.NewReader(onnxtest.Marshal(m)))
	if err != nil {
		t.Fatal(err)
	}
	if len(sig.Inputs) != 1 || sig.Inputs[0].Name != "x" {
		t.Errorf("inputs = %s, want only x", jsonString(sig.Inputs))
	}
	if want := map[string]int64{"": 17, "ai.onnx.ml": 3, "com.microsoft": 1}; !reflect.DeepEqual(sig.Opsets, want) {
		t.Errorf("opsets = %v, want %v", sig.Opsets, want)
	}
	if want := map[string]string{"a": "2"}; !reflect.DeepEqual(sig.Metadata, want) {
		t.Errorf("metadata = %v, want the last value of a duplicated key: %v", sig.Metadata, want)
	}
	if !sig.ExternalData {
		t.Error("ExternalData = false, want true")
	}
}

// TestReadSignatureWireOrder builds models by hand, in field orders and encodings that
// serializers do not use but protobuf allows.
func TestReadSignatureWireOrder(t *testing.T) {
	msg := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
	}
	in := msg(onnxtest.Value("x", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n", 3)))
	out := msg(onnxtest.Value("y", onnxtest.TensorType(onnxpb.TensorProto_FLOAT, "n", 3)))
	opset := msg(&onnxpb.OperatorSetIdProto{Version: proto.Int64(13)})
	irVersion := protowire.AppendVarint(protowire.AppendTag(nil, modelIRVersion, protowire.VarintType), 7)

	var b []byte
	b = field(b, modelGraph, field(nil, graphOutput, out)) // graph first, split in two parts that merge
	b = field(b, 99, []byte("an unknown field"))
	b = protowire.AppendTag(b, 100, protowire.StartGroupType) // a group, with a nested one
	b = protowire.AppendTag(b, 101, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 101, protowire.EndGroupType)
	b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 100, protowire.EndGroupType)
	b = field(b, modelOpsetImport, opset)
	b = append(b, irVersion...)
	b = field(b, modelGraph, field(field(nil, 1, []byte("node")), graphInput, in))
	b = protowire.AppendVarint(protowire.AppendTag(b, modelIRVersion, protowire.VarintType), 8) // the last one wins

	sig, err := ReadSignature(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if sig.IRVersion != 8 || len(sig.Inputs) != 1 || len(sig.Outputs) != 1 || sig.Opsets[""] != 13 {
		t.Errorf("got %s", jsonString(sig))
	}

	corrupt := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"graph of the wrong wire type", protowire.AppendVarint(protowire.AppendTag(nil, modelGraph, protowire.VarintType), 1),
			"field graph has protobuf wire type 0"},
		{"field number 0", append(append([]byte{}, irVersion...), 0x02, 0x00), "not valid protobuf at byte 2 (invalid protobuf field number 0)"},
		{"end group without start", protowire.AppendTag(nil, 30, protowire.EndGroupType), "unexpected protobuf end-group"},
		{"mismatched group", protowire.AppendTag(protowire.AppendTag(nil, 30, protowire.StartGroupType), 31, protowire.EndGroupType),
			"closes a group of field 30"},
		{"input overruns the graph", field(nil, modelGraph, append(protowire.AppendTag(nil, graphInput, protowire.BytesType), 50, 1, 2)),
			"overruns its enclosing message"},
		{"invalid varint", append(protowire.AppendTag(nil, modelIRVersion, protowire.VarintType), bytes.Repeat([]byte{0xff}, 11)...),
			"invalid varint"},
		{"bad input bytes", field(nil, modelGraph, field(nil, graphInput, []byte{0xff})), "cannot decode"},
	}
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSignature(bytes.NewReader(tt.data))
			checkFormatError(t, err, true, tt.reason)
		})
	}
}

func TestReadSignatureTruncated(t *testing.T) {
	data := readFixture(t, "risk_mlp.onnx")
	// The metadata comes last: a model cut between two of its entries is a valid model that lacks
	// some metadata, which no reader can tell.
	m := riskMLP()
	m.MetadataProps = nil
	withoutMetadata := len(onnxtest.Marshal(m))
	for n := 1; n < len(data); n++ {
		// Cut between two top-level fields, the model is valid protobuf that lacks its graph
		// or its opset_import, which serializers write after it.
		_, err := ReadSignature(bytes.NewReader(data[:n]))
		if err == nil && n >= withoutMetadata {
			continue
		}
		var ferr *FormatError
		if !errors.As(err, &ferr) || !ferr.NotONNX && !strings.Contains(ferr.Reason, "is the file complete?") {
			t.Fatalf("the first %d bytes: got %v, want a FormatError", n, err)
		}
	}
	_, err := ReadSignature(bytes.NewReader(data[:500]))
	checkFormatError(t, err, true, "the file ends unexpectedly after 500 bytes inside ModelProto.graph.initializer; it is truncated")
}

func TestReadSignatureReadError(t *testing.T) {
	boom := errors.New("connection reset")
	data := readFixture(t, "risk_mlp.onnx")
	for _, r := range []io.Reader{
		iotest.ErrReader(boom),
		io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(boom)),
	} {
		_, err := ReadSignature(r)
		if !errors.Is(err, boom) || errors.Is(err, ErrInvalidModel) {
			t.Errorf("got %v, want the reader's error", err)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		head string
		want string
	}{
		{"PK\x03\x04rest", "ZIP archive"},
		{"\x1f\x8b\x08", "gzip"},
		{"\x89HDF\r\n\x1a\n", "HDF5"},
		{"\x80\x04\x95", "pickle"},
		{"GGUF\x03", "GGUF"},
		{"\x93NUMPY\x01", "NumPy"},
		{"\x1c\x00\x00\x00TFL3", "TensorFlow Lite"},
		{"\x10\x00\x00\x00\x00\x00\x00\x00{\"w\":{}}", "safetensors"},
		{"{\"model\": 1}", "text file"},
		{"ünïcode ok\n", "text file"},
		{"\x08\x07\x12", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := sniff([]byte(tt.head)); !strings.Contains(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("sniff(%q) = %q, want %q", tt.head, got, tt.want)
		}
	}
	// A multi-byte character cut by the sniff window is still text.
	if got := sniff([]byte(strings.Repeat("a", sniffLen-1) + "é")[:sniffLen]); !strings.Contains(got, "text file") {
		t.Errorf("sniff(text cut in a rune) = %q", got)
	}
}

func TestOIPDatatype(t *testing.T) {
	for elem, dt := range map[string]string{
		"FLOAT": "FP32", "DOUBLE": "FP64", "FLOAT16": "FP16", "BFLOAT16": "BF16", "INT64": "INT64",
		"INT32": "INT32", "INT16": "INT16", "INT8": "INT8", "UINT8": "UINT8", "UINT16": "UINT16",
		"UINT32": "UINT32", "UINT64": "UINT64", "STRING": "BYTES", "BOOL": "BOOL",
	} {
		if got, ok := OIPDatatype(elem); got != dt || !ok {
			t.Errorf("OIPDatatype(%s) = %q, %v; want %q", elem, got, ok, dt)
		}
		if got, ok := ElemTypeFromOIP(dt); got != elem || !ok {
			t.Errorf("ElemTypeFromOIP(%s) = %q, %v; want %q", dt, got, ok, elem)
		}
	}
	for _, elem := range []string{"COMPLEX64", "FLOAT8E4M3FN", "INT4", "UNDEFINED", "UNKNOWN(99)", ""} {
		if got, ok := OIPDatatype(elem); ok {
			t.Errorf("OIPDatatype(%s) = %q, want none", elem, got)
		}
	}
	for i := int32(-1); i < 30; i++ {
		name := ElemTypeName(i)
		v, ok := ElemTypeValue(name)
		if want := i > 0 && i <= 26; ok != want || (ok && v != i) {
			t.Errorf("ElemTypeValue(ElemTypeName(%d) = %s) = %d, %v", i, name, v, ok)
		}
	}
	// The names agree with the generated enum for the types it knows.
	for v, name := range onnxpb.TensorProto_DataType_name {
		if got := ElemTypeName(v); got != name {
			t.Errorf("ElemTypeName(%d) = %s, onnx.proto says %s", v, got, name)
		}
	}
}

// TestFieldNumbers checks the walker's field numbers against the generated descriptors.
func TestFieldNumbers(t *testing.T) {
	tests := []struct {
		msg   proto.Message
		field string
		num   protowire.Number
	}{
		{&onnxpb.ModelProto{}, "ir_version", modelIRVersion},
		{&onnxpb.ModelProto{}, "producer_name", modelProducerName},
		{&onnxpb.ModelProto{}, "producer_version", modelProducerVersion},
		{&onnxpb.ModelProto{}, "graph", modelGraph},
		{&onnxpb.ModelProto{}, "opset_import", modelOpsetImport},
		{&onnxpb.ModelProto{}, "metadata_props", modelMetadataProps},
		{&onnxpb.GraphProto{}, "initializer", graphInitializer},
		{&onnxpb.GraphProto{}, "input", graphInput},
		{&onnxpb.GraphProto{}, "output", graphOutput},
		{&onnxpb.GraphProto{}, "sparse_initializer", graphSparseInitializer},
		{&onnxpb.TensorProto{}, "name", tensorName},
		{&onnxpb.TensorProto{}, "external_data", tensorExternalData},
		{&onnxpb.TensorProto{}, "data_location", tensorDataLocation},
		{&onnxpb.SparseTensorProto{}, "values", sparseValues},
		{&onnxpb.SparseTensorProto{}, "indices", sparseIndices},
	}
	for _, tt := range tests {
		d := tt.msg.ProtoReflect().Descriptor()
		if f := d.Fields().ByName(protoreflect.Name(tt.field)); f == nil || f.Number() != tt.num {
			t.Errorf("%s.%s: the walker uses field number %d, onnx.proto says %v", d.Name(), tt.field, tt.num, f)
		}
	}
}
