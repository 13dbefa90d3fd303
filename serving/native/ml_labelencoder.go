package native

import (
	"math"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	register(domainML, "LabelEncoder", []int{1, 2, 4}, buildLabelEncoder)
}

// LabelEncoder maps each element through a table of keys and values, with
// a default for keys not in the table.
//
//   - Version 1: classes_strings; STRING input gives the INT64 index of the
//     string (default_int64), INT64 input gives the string at that index
//     (default_string).
//   - Version 2: keys_* and values_* of STRING, INT64 or FLOAT; when a key is
//     repeated the first one counts (ONNX Runtime's behaviour).
//   - Version 4: also keys_tensor, values_tensor and default_tensor, of
//     INT16, INT32 and DOUBLE too; a repeated key: the last one counts; a
//     NaN key matches NaN.
type labelEncoder struct {
	strKeys map[string]int
	intKeys map[int64]int
	fltKeys map[float64]int
	nanIdx  int // the value index of a NaN key, -1 if none
	vals    *tensor.Tensor
	def     *tensor.Tensor
}

func buildLabelEncoder(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	k := &labelEncoder{nanIdx: -1}
	var keys *tensor.Tensor
	var err error
	if b.version == 1 {
		keys, k.vals, k.def, err = labelEncoderV1(b)
	} else {
		keys, k.vals, k.def, err = labelEncoderV2(b)
	}
	if err != nil {
		return err
	}
	if keys.DType != b.in[0].dtype {
		return invalidModelf("the keys are %s but the input is %s", keys.DType.ONNX(), b.in[0].dtype.ONNX())
	}
	n := numElems(keys.Shape)
	if numElems(k.vals.Shape) != n {
		return invalidModelf("%d keys for %d values", n, numElems(k.vals.Shape))
	}
	lastWins := b.version != 2
	set := func(has bool) bool { return !has || lastWins }
	switch keys.DType {
	case tensor.String:
		k.strKeys = make(map[string]int, n)
		for i, s := range keys.Strings {
			if _, has := k.strKeys[string(s)]; set(has) {
				k.strKeys[string(s)] = i
			}
		}
	case tensor.Int64, tensor.Int32, tensor.Int16:
		k.intKeys = make(map[int64]int, n)
		for i := 0; i < n; i++ {
			v := int64(f64At(keys, i))
			if keys.DType == tensor.Int64 {
				v = view[int64](keys.Raw)[i]
			}
			if _, has := k.intKeys[v]; set(has) {
				k.intKeys[v] = i
			}
		}
	case tensor.Float32, tensor.Float64:
		k.fltKeys = make(map[float64]int, n)
		for i := 0; i < n; i++ {
			v := f64At(keys, i)
			if v != v {
				if b.version >= 4 && (k.nanIdx < 0 || lastWins) {
					k.nanIdx = i
				}
				continue
			}
			if _, has := k.fltKeys[v]; set(has) {
				k.fltKeys[v] = i
			}
		}
	default:
		return unsupportedf("with %s keys", keys.DType.ONNX())
	}
	b.k = k
	b.outputs(valueType{k.vals.DType, b.in[0].shape})
	return nil
}

func labelEncoderV1(b *builder) (keys, vals, def *tensor.Tensor, err error) {
	classes, _, err := b.attrs.strs("classes_strings")
	if err != nil {
		return nil, nil, nil, err
	}
	defInt, err := b.attrs.int("default_int64", -1)
	if err != nil {
		return nil, nil, nil, err
	}
	defStr, err := b.attrs.str("default_string", "_Unused")
	if err != nil {
		return nil, nil, nil, err
	}
	strs := &tensor.Tensor{DType: tensor.String, Shape: []int64{int64(len(classes))}, Strings: classes}
	idx := make([]int64, len(classes))
	for i := range idx {
		idx[i] = int64(i)
	}
	ints := tensor.FromInt64("", []int64{int64(len(idx))}, idx)
	switch b.in[0].dtype {
	case tensor.String:
		d := tensor.FromInt64("", []int64{}, []int64{defInt})
		return strs, &ints, &d, nil
	case tensor.Int64:
		return &ints, strs, &tensor.Tensor{DType: tensor.String, Shape: []int64{}, Strings: [][]byte{[]byte(defStr)}}, nil
	}
	return nil, nil, nil, unsupportedf("on %s", b.in[0].dtype.ONNX())
}

// labelEncoderV2 reads the keys, the values and the default of versions 2
// and 4.
func labelEncoderV2(b *builder) (keys, vals, def *tensor.Tensor, err error) {
	pick := func(prefix string) (*tensor.Tensor, error) {
		var found []*tensor.Tensor
		if v, ok, err := b.attrs.strs(prefix + "_strings"); err != nil {
			return nil, err
		} else if ok {
			found = append(found, &tensor.Tensor{DType: tensor.String, Shape: []int64{int64(len(v))}, Strings: v})
		}
		if v, ok, err := b.attrs.ints(prefix + "_int64s"); err != nil {
			return nil, err
		} else if ok {
			t := tensor.FromInt64("", []int64{int64(len(v))}, v)
			found = append(found, &t)
		}
		if v, ok, err := b.attrs.floats(prefix + "_floats"); err != nil {
			return nil, err
		} else if ok {
			t := tensor.FromFloat32("", []int64{int64(len(v))}, v)
			found = append(found, &t)
		}
		if b.version >= 4 {
			if t, ok, err := b.attrs.tensor(prefix + "_tensor"); err != nil {
				return nil, err
			} else if ok {
				found = append(found, t)
			}
		}
		if len(found) != 1 {
			return nil, invalidModelf("exactly one of the %s_* attributes must be set, %d are", prefix, len(found))
		}
		return found[0], nil
	}
	if keys, err = pick("keys"); err != nil {
		return nil, nil, nil, err
	}
	if vals, err = pick("values"); err != nil {
		return nil, nil, nil, err
	}
	switch vals.DType {
	case tensor.String, tensor.Int64, tensor.Float32, tensor.Int32, tensor.Int16, tensor.Float64:
	default:
		return nil, nil, nil, unsupportedf("with %s values", vals.DType.ONNX())
	}
	if b.version >= 4 {
		t, ok, err := b.attrs.tensor("default_tensor")
		if err != nil {
			return nil, nil, nil, err
		}
		if ok {
			if t.DType != vals.DType || numElems(t.Shape) != 1 {
				return nil, nil, nil, invalidModelf("default_tensor must be one %s", vals.DType.ONNX())
			}
			return keys, vals, t, nil
		}
	}
	def = &tensor.Tensor{DType: vals.DType, Shape: []int64{}}
	def.SetLen(1)
	switch vals.DType {
	case tensor.String:
		s, err := b.attrs.str("default_string", "_Unused")
		if err != nil {
			return nil, nil, nil, err
		}
		def.Strings[0] = []byte(s)
	case tensor.Int64:
		i, err := b.attrs.int("default_int64", -1)
		if err != nil {
			return nil, nil, nil, err
		}
		view[int64](def.Raw)[0] = i
	case tensor.Float32:
		f, err := b.attrs.float("default_float", float32(math.Copysign(0, -1)))
		if err != nil {
			return nil, nil, nil, err
		}
		view[float32](def.Raw)[0] = f
	case tensor.Int32:
		view[int32](def.Raw)[0] = -1
	case tensor.Int16:
		view[int16](def.Raw)[0] = -1
	case tensor.Float64:
		view[float64](def.Raw)[0] = math.Copysign(0, -1)
	}
	return keys, vals, def, nil
}

func (k *labelEncoder) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	ensure(y, k.vals.DType, x.Shape)
	n := numElems(x.Shape)
	size := k.vals.DType.Size()
	for i := 0; i < n; i++ {
		j, ok := -1, false
		switch x.DType {
		case tensor.String:
			j, ok = k.strKeys[unsafeString(x.Strings[i])]
		case tensor.Int64:
			j, ok = k.intKeys[view[int64](x.Raw)[i]]
		case tensor.Int32:
			j, ok = k.intKeys[int64(view[int32](x.Raw)[i])]
		case tensor.Int16:
			j, ok = k.intKeys[int64(view[int16](x.Raw)[i])]
		case tensor.Float32, tensor.Float64:
			v := f64At(x, i)
			if v != v {
				j, ok = k.nanIdx, k.nanIdx >= 0
			} else {
				j, ok = k.fltKeys[v]
			}
		}
		src, si := k.def, 0
		if ok {
			src, si = k.vals, j
		}
		if size == 0 {
			y.Strings[i] = src.Strings[si]
		} else {
			copy(y.Raw[i*size:(i+1)*size], src.Raw[si*size:(si+1)*size])
		}
	}
	return nil
}
