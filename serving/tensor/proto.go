package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// ErrUnsupportedProto is wrapped by FromProto for tensors Lantern cannot
// represent: external or segmented data, element types it does not serve.
var ErrUnsupportedProto = errors.New("unsupported tensor")

// FromProto decodes an ONNX TensorProto (an initializer, an attribute, a
// test-data file). The result owns its memory, 8-byte aligned.
func FromProto(tp *onnxpb.TensorProto) (*Tensor, error) {
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		return nil, fmt.Errorf("%w: tensor %q keeps its data in an external file", ErrUnsupportedProto, tp.GetName())
	}
	if tp.GetSegment() != nil {
		return nil, fmt.Errorf("%w: tensor %q is segmented", ErrUnsupportedProto, tp.GetName())
	}
	dt, ok := FromONNXElem(tp.GetDataType())
	if !ok {
		return nil, fmt.Errorf("%w: tensor %q has element type %s", ErrUnsupportedProto, tp.GetName(), onnx.ElemTypeName(tp.GetDataType()))
	}
	shape := append([]int64{}, tp.GetDims()...)
	n64 := NumElements(shape)
	if n64 < 0 || n64 > 1<<40 {
		return nil, fmt.Errorf("tensor %q has an invalid shape %v", tp.GetName(), shape)
	}
	n := int(n64)
	t := &Tensor{Name: tp.GetName(), DType: dt, Shape: shape}
	if dt == String {
		if len(tp.GetStringData()) != n {
			return nil, fmt.Errorf("tensor %q of shape %v has %d strings", tp.GetName(), shape, len(tp.GetStringData()))
		}
		t.Strings = make([][]byte, n)
		for i, s := range tp.GetStringData() {
			t.Strings[i] = append([]byte{}, s...)
		}
		return t, nil
	}
	size := dt.Size()
	if raw := tp.GetRawData(); raw != nil {
		if len(raw) != n*size {
			return nil, fmt.Errorf("tensor %q of shape %v and type %s has %d bytes of raw data, want %d",
				tp.GetName(), shape, dt.ONNX(), len(raw), n*size)
		}
		t.Raw = Alloc(len(raw))
		copy(t.Raw, raw)
		return t, nil
	}
	t.Raw = Alloc(n * size)
	bad := func(field string, got int) error {
		return fmt.Errorf("tensor %q of shape %v has %d values in %s, want %d", tp.GetName(), shape, got, field, n)
	}
	switch dt {
	case Float32:
		if len(tp.GetFloatData()) != n {
			return nil, bad("float_data", len(tp.GetFloatData()))
		}
		copy(t.Float32s(), tp.GetFloatData())
	case Float64:
		if len(tp.GetDoubleData()) != n {
			return nil, bad("double_data", len(tp.GetDoubleData()))
		}
		copy(t.Float64s(), tp.GetDoubleData())
	case Int64:
		if len(tp.GetInt64Data()) != n {
			return nil, bad("int64_data", len(tp.GetInt64Data()))
		}
		copy(t.Int64s(), tp.GetInt64Data())
	case Uint32, Uint64:
		d := tp.GetUint64Data()
		if len(d) != n {
			return nil, bad("uint64_data", len(d))
		}
		for i, v := range d {
			if dt == Uint32 {
				binary.LittleEndian.PutUint32(t.Raw[4*i:], uint32(v))
			} else {
				binary.LittleEndian.PutUint64(t.Raw[8*i:], v)
			}
		}
	default: // int32_data carries INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16
		d := tp.GetInt32Data()
		if len(d) != n {
			return nil, bad("int32_data", len(d))
		}
		for i, v := range d {
			switch size {
			case 1:
				t.Raw[i] = byte(v)
				if dt == Bool && v != 0 {
					t.Raw[i] = 1
				}
			case 2:
				binary.LittleEndian.PutUint16(t.Raw[2*i:], uint16(v))
			case 4:
				binary.LittleEndian.PutUint32(t.Raw[4*i:], uint32(v))
			}
		}
	}
	return t, nil
}
