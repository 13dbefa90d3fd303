package onnx

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Signature is what a registry and a server need to know about an ONNX model without running
// it: the IR and operator set versions it targets, who produced it, and the name, type and shape
// of each graph input and output. It is stored in a model version's metadata as JSON.
type Signature struct {
	// IRVersion is the ONNX IR version the model targets (ModelProto.ir_version), 1 or more.
	IRVersion int64 `json:"ir_version"`
	// Producer and ProducerVersion name the tool that wrote the model ("pytorch", "2.3.0").
	Producer        string `json:"producer"`
	ProducerVersion string `json:"producer_version"`
	// Opsets maps each imported operator set domain to its version. The default ONNX domain
	// ("ai.onnx", or empty in the file) is the key "", the classical ML operators "ai.onnx.ml".
	Opsets map[string]int64 `json:"opsets"`
	// Inputs are the graph inputs a caller must feed, in graph order. Graph inputs that have an
	// initializer (constant weights listed as inputs, as IR < 4 required) are left out, as
	// ONNX Runtime leaves them out of a session's inputs.
	Inputs []Tensor `json:"inputs"`
	// Outputs are the graph outputs, in graph order.
	Outputs []Tensor `json:"outputs"`
	// Metadata holds the model's metadata_props (for example the feature names an exporter
	// recorded). It is nil when the model has none.
	Metadata map[string]string `json:"metadata,omitempty"`
	// ExternalData reports that some initializer keeps its data in a file outside the model
	// (data_location EXTERNAL): the model cannot run without that file beside it.
	ExternalData bool `json:"external_data,omitempty"`
}

// Kinds of value a graph input or output can be (Tensor.Kind).
const (
	KindTensor       = "tensor"
	KindSparseTensor = "sparse_tensor"
	KindSequence     = "sequence"
	KindMap          = "map"
	KindOptional     = "optional"
	KindUnknown      = "unknown" // a type this version of onnx.proto does not know (such as opaque)
)

// Tensor describes one graph input or output. Most are tensors; classical ML models also have
// sequences and maps (a scikit-learn classifier's probabilities are a sequence of maps from
// class label to probability), whose element type and shape are those of the tensor inside.
type Tensor struct {
	// Name is the input or output name that requests use.
	Name string `json:"name"`
	// Kind is the outer kind of the value: one of the Kind constants.
	Kind string `json:"kind"`
	// Type is the full type as ONNX Runtime prints it: "tensor(float)",
	// "seq(map(int64,tensor(float)))", "optional(tensor(int64))".
	Type string `json:"type"`
	// ElemType is the ONNX element type of the innermost tensor ("FLOAT", "INT64", "STRING",
	// see ElemTypeName), the value type for a map; empty if the type names no tensor.
	ElemType string `json:"elem_type"`
	// KeyType is the ONNX element type of the keys of the innermost map, if there is a map.
	KeyType string `json:"key_type,omitempty"`
	// Shape is the shape of the innermost tensor, -1 for a dimension that is symbolic (such as
	// the batch size) or unknown. It is nil when the rank is unknown, and empty for a scalar.
	Shape []int64 `json:"shape"`
	// DimNames has the symbolic name (dim_param) of each dimension of Shape, "" for a fixed or
	// unnamed one. It has the length of Shape.
	DimNames []string `json:"dim_names"`
}

// ReadSignature reads an ONNX model (a serialized ModelProto) from r and returns its signature.
//
// It reads the stream once, to its end, through a small buffer: tensors, nodes and every other
// field a signature does not need are skipped as they stream past, so memory use does not depend
// on the size of the model (no single kept field may exceed MaxFieldSize). Because a protobuf
// message has no end marker and fields may come in any order, a nil error means r was read to
// io.EOF: a caller that tees r into a hash and a store (see SignatureReader) has seen every byte.
// On error ReadSignature stops at the problem and r may not be read to its end.
//
// A stream that is not a usable model returns a *FormatError, which wraps ErrInvalidModel, and
// also ErrNotONNX when the bytes are not a ModelProto at all. Its message is written for the
// person who uploaded the file. An error of r itself is returned wrapped, as it is.
func ReadSignature(r io.Reader) (*Signature, error) {
	return readSignature(newWalker(r))
}

// seekThreshold is the smallest skip ReadSignatureAt makes by seeking
// rather than reading: below it a read is cheaper than a new request.
const seekThreshold = 256 << 10

// ReadSignatureAt reads the signature of a stored model of size bytes,
// jumping over large fields (weights, tree nodes) instead of reading them:
// for a model in an object store that means a few ranged reads, not a
// download of the whole file. It validates the model as ReadSignature does,
// but reads only what it needs, so it does not hash or consume the file.
func ReadSignatureAt(r io.ReaderAt, size int64) (*Signature, error) {
	sr := io.NewSectionReader(r, 0, size)
	w := newWalker(sr)
	w.src, w.size = sr, size
	return readSignature(w)
}

func readSignature(w *walker) (*Signature, error) {
	peek, err := w.br.Peek(sniffLen)
	if len(peek) == 0 {
		if errors.Is(err, io.EOF) {
			return nil, &FormatError{NotONNX: true, Offset: 0, Reason: "the file is empty"}
		}
		return nil, fmt.Errorf("onnx: read model: %w", err)
	}
	head := append([]byte(nil), peek...)

	err = w.walkModel()
	var sig *Signature
	if err == nil {
		sig, err = w.m.signature()
	}
	if err == nil {
		return sig, nil
	}
	var rerr errRead
	if errors.As(err, &rerr) {
		return nil, fmt.Errorf("onnx: read model after %d bytes: %w", w.off, rerr.err)
	}
	var ferr *FormatError
	if errors.As(err, &ferr) && ferr.NotONNX {
		if hint := sniff(head); hint != "" {
			ferr.Reason = hint
			ferr.Offset = 0
		}
	}
	return nil, err
}

// signature checks what the walker kept of a model and builds its Signature.
func (m *model) signature() (*Signature, error) {
	if !m.sawGraph && !m.sawIRVersion {
		return nil, &FormatError{NotONNX: true, Offset: -1,
			Reason: "it holds no ONNX graph and no ir_version (is it another kind of protobuf file?)"}
	}
	if !m.sawGraph {
		return nil, invalidf("the model has no graph (is the file complete?)")
	}
	if m.irVersion <= 0 {
		if !m.sawIRVersion {
			return nil, invalidf("ir_version is missing (every ONNX model must say which IR version it targets)")
		}
		return nil, invalidf("ir_version %d is not a valid IR version", m.irVersion)
	}
	sig := &Signature{
		IRVersion:       m.irVersion,
		Producer:        m.producer,
		ProducerVersion: m.producerVersion,
		Opsets:          make(map[string]int64, len(m.opsets)),
	}
	for _, op := range m.opsets {
		domain := op.GetDomain()
		if domain == "ai.onnx" {
			domain = ""
		}
		if v, ok := sig.Opsets[domain]; !ok || op.GetVersion() > v { // a repeated domain: the highest
			sig.Opsets[domain] = op.GetVersion()
		}
	}
	// IR 3 introduced opset_import; ONNX Runtime refuses a model of IR 3 or later without one.
	if len(m.opsets) == 0 && m.irVersion >= 3 {
		return nil, invalidf("the model imports no operator set (opset_import is empty; is the file complete?)")
	}
	for _, kv := range m.metadata {
		if sig.Metadata == nil {
			sig.Metadata = make(map[string]string, len(m.metadata))
		}
		sig.Metadata[kv.GetKey()] = kv.GetValue()
	}
	sig.ExternalData = m.externalData

	var err error
	initializers := 0
	seen := make(map[string]bool, len(m.inputs))
	for i, vi := range m.inputs {
		if m.initializers[vi.GetName()] {
			initializers++
			continue
		}
		if sig.Inputs, err = appendTensor(sig.Inputs, seen, "input", i, vi); err != nil {
			return nil, err
		}
	}
	clear(seen)
	for i, vi := range m.outputs {
		if sig.Outputs, err = appendTensor(sig.Outputs, seen, "output", i, vi); err != nil {
			return nil, err
		}
	}
	switch {
	case len(sig.Inputs) == 0 && initializers > 0:
		return nil, invalidf("the graph has no inputs to feed (all %d of its inputs are initializers)", initializers)
	case len(sig.Inputs) == 0:
		return nil, invalidf("the graph has no inputs")
	case len(sig.Outputs) == 0:
		return nil, invalidf("the graph has no outputs")
	}
	return sig, nil
}

// maxTypeDepth bounds the nesting of sequence, map and optional types in a graph input or output.
const maxTypeDepth = 32

// appendTensor converts the i-th graph input or output (what says which) and appends it to ts.
// seen holds the names appended so far.
func appendTensor(ts []Tensor, seen map[string]bool, what string, i int, vi *onnxpb.ValueInfoProto) ([]Tensor, error) {
	name := vi.GetName()
	if name == "" {
		return nil, invalidf("graph %s #%d has no name", what, i+1)
	}
	if seen[name] {
		return nil, invalidf("two graph %ss are named %q", what, name)
	}
	seen[name] = true
	if vi.GetType() == nil {
		return nil, invalidf("graph %s %q has no type", what, name)
	}
	t := Tensor{Name: name}
	var b strings.Builder
	if err := describe(&t, &b, vi.GetType(), 0); err != nil {
		return nil, invalidf("graph %s %q: %v", what, name, err)
	}
	t.Type = b.String()
	return append(ts, t), nil
}

// describe writes the ONNX Runtime spelling of tp to b, sets t.Kind from the outermost type, and
// ElemType, KeyType, Shape and DimNames from the innermost tensor and map.
func describe(t *Tensor, b *strings.Builder, tp *onnxpb.TypeProto, depth int) error {
	if depth > maxTypeDepth {
		return fmt.Errorf("its type is nested more than %d levels deep", maxTypeDepth)
	}
	kind := func(k string) {
		if depth == 0 {
			t.Kind = k
		}
	}
	switch v := tp.GetValue().(type) {
	case *onnxpb.TypeProto_TensorType:
		kind(KindTensor)
		tensorType(t, b, "tensor", v.TensorType.GetElemType(), v.TensorType.GetShape())
	case *onnxpb.TypeProto_SparseTensorType:
		kind(KindSparseTensor)
		tensorType(t, b, "sparse_tensor", v.SparseTensorType.GetElemType(), v.SparseTensorType.GetShape())
	case *onnxpb.TypeProto_SequenceType:
		kind(KindSequence)
		b.WriteString("seq(")
		if err := describe(t, b, v.SequenceType.GetElemType(), depth+1); err != nil {
			return err
		}
		b.WriteString(")")
	case *onnxpb.TypeProto_MapType:
		kind(KindMap)
		t.KeyType = ElemTypeName(v.MapType.GetKeyType())
		b.WriteString("map(" + strings.ToLower(t.KeyType) + ",")
		if err := describe(t, b, v.MapType.GetValueType(), depth+1); err != nil {
			return err
		}
		b.WriteString(")")
	case *onnxpb.TypeProto_OptionalType:
		kind(KindOptional)
		b.WriteString("optional(")
		if err := describe(t, b, v.OptionalType.GetElemType(), depth+1); err != nil {
			return err
		}
		b.WriteString(")")
	default:
		kind(KindUnknown)
		b.WriteString("unknown")
	}
	return nil
}

// tensorType fills in a tensor's element type and shape.
func tensorType(t *Tensor, b *strings.Builder, prefix string, elem int32, shape *onnxpb.TensorShapeProto) {
	t.ElemType = ElemTypeName(elem)
	b.WriteString(prefix + "(" + strings.ToLower(t.ElemType) + ")")
	if shape == nil {
		t.Shape, t.DimNames = nil, nil
		return
	}
	dims := shape.GetDim()
	t.Shape, t.DimNames = make([]int64, len(dims)), make([]string, len(dims))
	for i, d := range dims {
		t.Shape[i] = -1
		switch v := d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimValue:
			if v.DimValue >= 0 {
				t.Shape[i] = v.DimValue
			}
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			t.DimNames[i] = v.DimParam
		}
	}
}
