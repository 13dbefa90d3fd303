package native

import (
	"errors"
	"math"
	"strings"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// tensorFromProto decodes an initializer or a tensor attribute. The result
// owns its memory (never the protobuf's), 8-byte aligned.
func tensorFromProto(tp *onnxpb.TensorProto) (*tensor.Tensor, error) {
	t, err := tensor.FromProto(tp)
	switch {
	case errors.Is(err, tensor.ErrUnsupportedProto):
		return nil, unsupportedf("%s", strings.TrimPrefix(err.Error(), tensor.ErrUnsupportedProto.Error()+": "))
	case err != nil:
		return nil, invalidModelf("%v", err)
	}
	if n, ok := checkedElems(t.Shape); !ok || n != int(t.Len()) {
		return nil, invalidModelf("tensor %q has an invalid shape %v", tp.GetName(), t.Shape)
	}
	return t, nil
}

// typeFromProto returns the type of a graph input or output. ok is false for
// a type that is not a tensor (sequence, map, optional, sparse tensor).
func typeFromProto(tp *onnxpb.TypeProto) (vt valueType, dimNames []string, ok bool, err error) {
	tt := tp.GetTensorType()
	if tt == nil {
		return vt, nil, false, nil
	}
	dt, known := tensor.FromONNXElem(tt.GetElemType())
	if !known {
		return vt, nil, true, unsupportedf("element type %s", onnx.ElemTypeName(tt.GetElemType()))
	}
	vt.dtype = dt
	if sh := tt.GetShape(); sh != nil {
		vt.shape = make([]int64, len(sh.GetDim()))
		dimNames = make([]string, len(sh.GetDim()))
		for i, d := range sh.GetDim() {
			vt.shape[i] = -1
			if v, isValue := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); isValue && v.DimValue >= 0 {
				vt.shape[i] = v.DimValue
			}
			dimNames[i] = d.GetDimParam()
		}
	}
	return vt, dimNames, true, nil
}

// typeName describes a TypeProto for error messages: "seq(map(INT64, tensor(FLOAT)))".
func typeName(tp *onnxpb.TypeProto) string {
	switch v := tp.GetValue().(type) {
	case *onnxpb.TypeProto_TensorType:
		return "tensor(" + onnx.ElemTypeName(v.TensorType.GetElemType()) + ")"
	case *onnxpb.TypeProto_SequenceType:
		return "seq(" + typeName(v.SequenceType.GetElemType()) + ")"
	case *onnxpb.TypeProto_MapType:
		return "map(" + onnx.ElemTypeName(v.MapType.GetKeyType()) + ", " + typeName(v.MapType.GetValueType()) + ")"
	case *onnxpb.TypeProto_OptionalType:
		return "optional(" + typeName(v.OptionalType.GetElemType()) + ")"
	case *onnxpb.TypeProto_SparseTensorType:
		return "sparse_tensor(" + onnx.ElemTypeName(v.SparseTensorType.GetElemType()) + ")"
	}
	return "unknown type"
}

// attrs gives typed access to a node's attributes. Accessors return an
// invalid-model error when the attribute has another type.
type attrs map[string]*onnxpb.AttributeProto

func newAttrs(n *onnxpb.NodeProto) (attrs, error) {
	a := attrs{}
	for _, at := range n.GetAttribute() {
		if at.GetRefAttrName() != "" {
			return nil, unsupportedf("attribute %q refers to a function attribute", at.GetName())
		}
		if at.GetG() != nil || len(at.GetGraphs()) > 0 {
			return nil, unsupportedf("attribute %q is a subgraph", at.GetName())
		}
		a[at.GetName()] = at
	}
	return a, nil
}

func (a attrs) has(name string) bool { _, ok := a[name]; return ok }

func (a attrs) check(name string, want onnxpb.AttributeProto_AttributeType) (*onnxpb.AttributeProto, error) {
	at, ok := a[name]
	if !ok {
		return nil, nil
	}
	if t := at.GetType(); t != onnxpb.AttributeProto_UNDEFINED && t != want {
		return nil, invalidModelf("attribute %q is %s, want %s", name, t, want)
	}
	return at, nil
}

func (a attrs) int(name string, def int64) (int64, error) {
	at, err := a.check(name, onnxpb.AttributeProto_INT)
	if at == nil || err != nil {
		return def, err
	}
	return at.GetI(), nil
}

func (a attrs) float(name string, def float32) (float32, error) {
	at, err := a.check(name, onnxpb.AttributeProto_FLOAT)
	if at == nil || err != nil {
		return def, err
	}
	return at.GetF(), nil
}

func (a attrs) str(name, def string) (string, error) {
	at, err := a.check(name, onnxpb.AttributeProto_STRING)
	if at == nil || err != nil {
		return def, err
	}
	return string(at.GetS()), nil
}

func (a attrs) ints(name string) ([]int64, bool, error) {
	at, err := a.check(name, onnxpb.AttributeProto_INTS)
	if at == nil || err != nil {
		return nil, false, err
	}
	return at.GetInts(), true, nil
}

func (a attrs) floats(name string) ([]float32, bool, error) {
	at, err := a.check(name, onnxpb.AttributeProto_FLOATS)
	if at == nil || err != nil {
		return nil, false, err
	}
	return at.GetFloats(), true, nil
}

func (a attrs) strs(name string) ([][]byte, bool, error) {
	at, err := a.check(name, onnxpb.AttributeProto_STRINGS)
	if at == nil || err != nil {
		return nil, false, err
	}
	return at.GetStrings(), true, nil
}

func (a attrs) tensor(name string) (*tensor.Tensor, bool, error) {
	at, err := a.check(name, onnxpb.AttributeProto_TENSOR)
	if at == nil || err != nil {
		return nil, false, err
	}
	if at.GetT() == nil {
		return nil, false, invalidModelf("attribute %q has no tensor", name)
	}
	t, err := tensorFromProto(at.GetT())
	return t, err == nil, err
}

// tensorAsF64 reads a numeric tensor attribute (the *_as_tensor attributes
// of the tree ensembles) as float64 values.
func tensorAsF64(t *tensor.Tensor) ([]float64, error) {
	n := numElems(t.Shape)
	out := make([]float64, n)
	switch t.DType {
	case tensor.Float32:
		for i, v := range view[float32](t.Raw)[:n] {
			out[i] = float64(v)
		}
	case tensor.Float64:
		copy(out, view[float64](t.Raw)[:n])
	case tensor.Float16:
		for i, v := range view[uint16](t.Raw)[:n] {
			out[i] = float64(f16ToF32(v))
		}
	default:
		return nil, invalidModelf("tensor %q is %s, want a floating-point type", t.Name, t.DType.ONNX())
	}
	return out, nil
}

// tensorAsI64 reads an integer tensor attribute as int64 values.
func tensorAsI64(t *tensor.Tensor) ([]int64, error) {
	n := numElems(t.Shape)
	out := make([]int64, n)
	switch t.DType {
	case tensor.Int64:
		copy(out, view[int64](t.Raw)[:n])
	case tensor.Int32:
		for i, v := range view[int32](t.Raw)[:n] {
			out[i] = int64(v)
		}
	case tensor.Int16:
		for i, v := range view[int16](t.Raw)[:n] {
			out[i] = int64(v)
		}
	case tensor.Uint8:
		for i, v := range t.Raw[:n] {
			out[i] = int64(v)
		}
	default:
		return nil, invalidModelf("tensor %q is %s, want an integer type", t.Name, t.DType.ONNX())
	}
	return out, nil
}

// intAt reads element i of an INT32 or INT64 tensor.
func intAt(t *tensor.Tensor, i int) int64 {
	if t.DType == tensor.Int32 {
		return int64(view[int32](t.Raw)[i])
	}
	return view[int64](t.Raw)[i]
}

// f64At reads element i of a numeric tensor as float64.
func f64At(t *tensor.Tensor, i int) float64 {
	switch t.DType {
	case tensor.Float32:
		return float64(view[float32](t.Raw)[i])
	case tensor.Float64:
		return view[float64](t.Raw)[i]
	case tensor.Float16:
		return float64(f16ToF32(view[uint16](t.Raw)[i]))
	case tensor.BFloat16:
		return float64(bf16ToF32(view[uint16](t.Raw)[i]))
	case tensor.Int8:
		return float64(int8(t.Raw[i]))
	case tensor.Uint8, tensor.Bool:
		return float64(t.Raw[i])
	case tensor.Int16:
		return float64(view[int16](t.Raw)[i])
	case tensor.Uint16:
		return float64(view[uint16](t.Raw)[i])
	case tensor.Int32:
		return float64(view[int32](t.Raw)[i])
	case tensor.Uint32:
		return float64(view[uint32](t.Raw)[i])
	case tensor.Int64:
		return float64(view[int64](t.Raw)[i])
	case tensor.Uint64:
		return float64(view[uint64](t.Raw)[i])
	}
	return math.NaN()
}
