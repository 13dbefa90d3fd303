package onnxtest

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Domains of the operator sets the builders use.
const (
	DomainONNX = ""           // the default domain, ai.onnx
	DomainML   = "ai.onnx.ml" // classical machine learning operators
)

// Versions the builders write. IR 8 and opset 13 / ai.onnx.ml 3 are understood by every ONNX
// Runtime since 1.10 and by the onnx 1.12 checker that Debian ships.
const (
	IRVersion   = 8
	OpsetONNX   = 13
	OpsetML     = 3
	ProducerTag = "lantern-onnxtest"
)

// TensorType returns a tensor type. Each dim is an int (a fixed size), a string (a symbolic
// dimension such as "batch") or nil (an unknown dimension). Without dims the shape is left out,
// meaning an unknown rank; use Scalar for a rank-0 tensor.
func TensorType(elem onnxpb.TensorProto_DataType, dims ...any) *onnxpb.TypeProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(elem))}
	if len(dims) > 0 {
		tt.Shape = shape(dims)
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
}

// Scalar returns the type of a rank-0 tensor.
func Scalar(elem onnxpb.TensorProto_DataType) *onnxpb.TypeProto {
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(elem)),
		Shape:    &onnxpb.TensorShapeProto{},
	}}}
}

// SequenceType returns the type of a sequence of elem.
func SequenceType(elem *onnxpb.TypeProto) *onnxpb.TypeProto {
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{
		SequenceType: &onnxpb.TypeProto_Sequence{ElemType: elem}}}
}

// MapType returns the type of a map from key to value.
func MapType(key onnxpb.TensorProto_DataType, value *onnxpb.TypeProto) *onnxpb.TypeProto {
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_MapType{
		MapType: &onnxpb.TypeProto_Map{KeyType: proto.Int32(int32(key)), ValueType: value}}}
}

// OptionalType returns the type of an optional elem.
func OptionalType(elem *onnxpb.TypeProto) *onnxpb.TypeProto {
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_OptionalType{
		OptionalType: &onnxpb.TypeProto_Optional{ElemType: elem}}}
}

func shape(dims []any) *onnxpb.TensorShapeProto {
	s := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch v := d.(type) {
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}
		case int64:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: v}
		case nil:
		default:
			panic(fmt.Sprintf("onnxtest: dimension %v (%T) is not an int, a string or nil", d, d))
		}
		s.Dim = append(s.Dim, dim)
	}
	return s
}

// Value returns a graph input or output named name of type t.
func Value(name string, t *onnxpb.TypeProto) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: t}
}

// Floats returns a FLOAT initializer of the given shape, its data little-endian in raw_data as
// exporters write it.
func Floats(name string, dims []int64, vals []float32) *onnxpb.TensorProto {
	checkSize(name, dims, len(vals))
	raw := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return &onnxpb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims:     dims,
		RawData:  raw,
	}
}

// Int64s returns an INT64 initializer of the given shape.
func Int64s(name string, dims []int64, vals []int64) *onnxpb.TensorProto {
	checkSize(name, dims, len(vals))
	return &onnxpb.TensorProto{
		Name:      proto.String(name),
		DataType:  proto.Int32(int32(onnxpb.TensorProto_INT64)),
		Dims:      dims,
		Int64Data: vals,
	}
}

func checkSize(name string, dims []int64, n int) {
	size := int64(1)
	for _, d := range dims {
		size *= d
	}
	if size != int64(n) {
		panic(fmt.Sprintf("onnxtest: tensor %q of shape %v needs %d values, got %d", name, dims, size, n))
	}
}

// Node returns a node of the default domain.
func Node(op string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{
		OpType:    proto.String(op),
		Name:      proto.String(outputs[0] + "_" + op),
		Input:     inputs,
		Output:    outputs,
		Attribute: attrs,
	}
}

// MLNode returns a node of the ai.onnx.ml domain.
func MLNode(op string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	n := Node(op, inputs, outputs, attrs...)
	n.Domain = proto.String(DomainML)
	return n
}

// AttrInt returns an INT attribute.
func AttrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// AttrFloat returns a FLOAT attribute.
func AttrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// AttrString returns a STRING attribute.
func AttrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// AttrInts returns an INTS attribute.
func AttrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// AttrFloats returns a FLOATS attribute.
func AttrFloats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

// AttrStrings returns a STRINGS attribute.
func AttrStrings(name string, v ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// Graph returns a graph.
func Graph(name string, nodes []*onnxpb.NodeProto, inputs, outputs []*onnxpb.ValueInfoProto,
	initializers ...*onnxpb.TensorProto) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{
		Name:        proto.String(name),
		Node:        nodes,
		Input:       inputs,
		Output:      outputs,
		Initializer: initializers,
	}
}

// Model wraps a graph in a model of IRVersion importing the given operator sets (domain to
// version; nil imports the default domain at OpsetONNX). Metadata is optional and may be nil.
func Model(g *onnxpb.GraphProto, opsets map[string]int64, metadata map[string]string) *onnxpb.ModelProto {
	if opsets == nil {
		opsets = map[string]int64{DomainONNX: OpsetONNX}
	}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		ProducerName:    proto.String(ProducerTag),
		ProducerVersion: proto.String("1"),
		ModelVersion:    proto.Int64(1),
		Graph:           g,
	}
	for _, domain := range sortedKeys(opsets) {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{
			Domain: proto.String(domain), Version: proto.Int64(opsets[domain])})
	}
	for _, k := range sortedKeys(metadata) {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{
			Key: proto.String(k), Value: proto.String(metadata[k])})
	}
	return m
}

// Marshal serializes a model deterministically. It panics if m cannot be serialized, which
// cannot happen for a model made by this package.
func Marshal(m *onnxpb.ModelProto) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic("onnxtest: marshal model: " + err.Error())
	}
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
