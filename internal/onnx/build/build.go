package build

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Domains of operator sets.
const (
	DomainONNX = ""           // the default domain, ai.onnx
	DomainML   = "ai.onnx.ml" // classical machine learning operators
)

// Defaults of ModelOptions. IR 8 with ai.onnx 17 and ai.onnx.ml 3 is what
// onnx 1.12 writes; both of Lantern's engines (the native engine up to
// ai.onnx 25 / ai.onnx.ml 5, ONNX Runtime 1.30) load it.
const (
	IRVersion = 8
	OpsetONNX = 17
	OpsetML   = 3
	Producer  = "lantern"
)

// ErrInvalid is wrapped by the errors of a graph built wrongly.
var ErrInvalid = errors.New("onnx build: invalid graph")

// Dim is one dimension of a tensor type: a fixed size, or a symbolic name
// such as "N" for a dimension that varies.
type Dim struct {
	Size  int64
	Param string
}

// Fixed returns a dimension of size n.
func Fixed(n int) Dim { return Dim{Size: int64(n)} }

// Sym returns a symbolic dimension.
func Sym(name string) Dim { return Dim{Param: name} }

// TensorType returns the type of a tensor of elem with the given shape.
func TensorType(elem onnxpb.TensorProto_DataType, dims ...Dim) *onnxpb.TypeProto {
	s := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		if d.Param != "" {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
		} else {
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
		}
		s.Dim = append(s.Dim, dim)
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(elem)),
		Shape:    s,
	}}}
}

// Graph accumulates a graph. Names of values must be unique and defined
// before a node uses them (inputs, initializers, earlier nodes' outputs), so
// nodes are added in topological order. The zero value is not usable; call
// NewGraph.
type Graph struct {
	g       *onnxpb.GraphProto
	defined map[string]bool
	err     error
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{g: &onnxpb.GraphProto{Name: proto.String(name)}, defined: map[string]bool{}}
}

// Err is the first mistake made building the graph, or nil.
func (g *Graph) Err() error { return g.err }

func (g *Graph) failf(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
}

func (g *Graph) define(name string) bool {
	if name == "" {
		g.failf("empty value name")
		return false
	}
	if g.defined[name] {
		g.failf("value %q is defined twice", name)
		return false
	}
	g.defined[name] = true
	return true
}

// Input declares a graph input.
func (g *Graph) Input(name string, t *onnxpb.TypeProto) {
	if g.define(name) {
		g.g.Input = append(g.g.Input, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: t})
	}
}

// Output declares a graph output; a node must produce it.
func (g *Graph) Output(name string, t *onnxpb.TypeProto) {
	g.g.Output = append(g.g.Output, &onnxpb.ValueInfoProto{Name: proto.String(name), Type: t})
}

// Floats adds a FLOAT initializer (little-endian raw_data, as exporters
// write it) and returns its name.
func (g *Graph) Floats(name string, dims []int64, vals []float32) string {
	if !g.checkSize(name, dims, len(vals)) || !g.define(name) {
		return name
	}
	raw := make([]byte, 0, 4*len(vals))
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	g.g.Initializer = append(g.g.Initializer, &onnxpb.TensorProto{
		Name:     proto.String(name),
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
		Dims:     slices.Clone(dims),
		RawData:  raw,
	})
	return name
}

// Int64s adds an INT64 initializer and returns its name.
func (g *Graph) Int64s(name string, dims []int64, vals []int64) string {
	if !g.checkSize(name, dims, len(vals)) || !g.define(name) {
		return name
	}
	g.g.Initializer = append(g.g.Initializer, &onnxpb.TensorProto{
		Name:      proto.String(name),
		DataType:  proto.Int32(int32(onnxpb.TensorProto_INT64)),
		Dims:      slices.Clone(dims),
		Int64Data: slices.Clone(vals),
	})
	return name
}

func (g *Graph) checkSize(name string, dims []int64, n int) bool {
	size := int64(1)
	for _, d := range dims {
		if d < 0 {
			g.failf("tensor %q has a negative dimension %v", name, dims)
			return false
		}
		size *= d
	}
	if size != int64(n) {
		g.failf("tensor %q of shape %v needs %d values, got %d", name, dims, size, n)
		return false
	}
	return true
}

// Node adds a node of the given domain (DomainONNX or DomainML). Its name
// is its first output's name and the operator's.
func (g *Graph) Node(domain, op string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) {
	if len(outputs) == 0 {
		g.failf("node %s has no outputs", op)
		return
	}
	for _, in := range inputs {
		if in != "" && !g.defined[in] {
			g.failf("node %s uses %q before it is defined", op, in)
			return
		}
	}
	for _, out := range outputs {
		if !g.define(out) {
			return
		}
	}
	n := &onnxpb.NodeProto{
		OpType:    proto.String(op),
		Name:      proto.String(outputs[0] + "_" + op),
		Input:     slices.Clone(inputs),
		Output:    slices.Clone(outputs),
		Attribute: attrs,
	}
	if domain != DomainONNX {
		n.Domain = proto.String(domain)
	}
	g.g.Node = append(g.g.Node, n)
}

// Int returns an INT attribute.
func Int(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// Float returns a FLOAT attribute.
func Float(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// String returns a STRING attribute.
func String(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

// Ints returns an INTS attribute.
func Ints(name string, v []int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

// Floats returns a FLOATS attribute.
func Floats(name string, v []float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

// Strings returns a STRINGS attribute.
func Strings(name string, v []string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// ModelOptions describe the model around a graph. The zero value gives IR
// version 8, the default domain at opset 17, producer "lantern" and no
// metadata.
type ModelOptions struct {
	// IRVersion: 0 means IRVersion.
	IRVersion int64
	// Opsets maps each imported domain to its version; nil imports the
	// default domain at OpsetONNX. Add DomainML for ai.onnx.ml operators.
	Opsets map[string]int64
	// Producer and ProducerVersion name the writer ("" Producer: "lantern").
	Producer        string
	ProducerVersion string
	// Domain is the model's namespace (reverse DNS), optional.
	Domain string
	// ModelVersion is the model's version number (0: left out).
	ModelVersion int64
	// Doc is the model's doc_string.
	Doc string
	// Metadata becomes metadata_props, sorted by key.
	Metadata map[string]string
}

// Model wraps g in a model. It returns the graph's first mistake, or an
// error if a graph output is never produced or a node's domain is not
// imported.
func Model(g *Graph, opts ModelOptions) (*onnxpb.ModelProto, error) {
	if g.err != nil {
		return nil, g.err
	}
	for _, out := range g.g.Output {
		if !g.defined[out.GetName()] {
			return nil, fmt.Errorf("%w: output %q is never computed", ErrInvalid, out.GetName())
		}
	}
	opsets := opts.Opsets
	if opsets == nil {
		opsets = map[string]int64{DomainONNX: OpsetONNX}
	}
	for _, n := range g.g.Node {
		if _, ok := opsets[n.GetDomain()]; !ok {
			return nil, fmt.Errorf("%w: node %s of domain %q but the domain is not imported", ErrInvalid, n.GetName(), n.GetDomain())
		}
	}
	ir := opts.IRVersion
	if ir == 0 {
		ir = IRVersion
	}
	producer := opts.Producer
	if producer == "" {
		producer = Producer
	}
	m := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(ir),
		ProducerName: proto.String(producer),
		Graph:        g.g,
	}
	if opts.ProducerVersion != "" {
		m.ProducerVersion = proto.String(opts.ProducerVersion)
	}
	if opts.Domain != "" {
		m.Domain = proto.String(opts.Domain)
	}
	if opts.ModelVersion != 0 {
		m.ModelVersion = proto.Int64(opts.ModelVersion)
	}
	if opts.Doc != "" {
		m.DocString = proto.String(opts.Doc)
	}
	for _, d := range slices.Sorted(maps.Keys(opsets)) {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(opsets[d])})
	}
	for _, k := range slices.Sorted(maps.Keys(opts.Metadata)) {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(opts.Metadata[k])})
	}
	return m, nil
}

// Marshal serializes m deterministically: the same model always gives the
// same bytes.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal onnx model: %w", err)
	}
	return b, nil
}
