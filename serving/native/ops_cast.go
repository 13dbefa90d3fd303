package native

import (
	"math"
	"strconv"

	"github.com/lantern-mlops/lantern/internal/onnx"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	later := []int{19, 21, 23, 24, 25} // versions that only add element types (and float8 saturation)
	register(domainONNX, "Constant", append([]int{1, 9, 11, 12, 13}, later...), buildConstant)
	register(domainONNX, "Cast", append([]int{1, 6, 9, 13}, later...), buildCast)
	register(domainONNX, "CastLike", append([]int{15}, later...), buildCastLike)
}

// Constant: one of value, value_float(s), value_int(s), value_string(s).
type constKernel struct{ t *tensor.Tensor }

func buildConstant(b *builder) error {
	if len(b.in) != 0 {
		return invalidModelf("takes no inputs")
	}
	if len(b.node.GetOutput()) != 1 {
		return invalidModelf("has %d outputs, want 1", len(b.node.GetOutput()))
	}
	var t *tensor.Tensor
	set := 0
	for name := range b.attrs {
		switch name {
		case "value":
			v, _, err := b.attrs.tensor(name)
			if err != nil {
				return err
			}
			t = v
		case "value_float":
			f, err := b.attrs.float(name, 0)
			if err != nil {
				return err
			}
			t = &tensor.Tensor{DType: tensor.Float32, Shape: []int64{}}
			t.SetLen(1)
			view[float32](t.Raw)[0] = f
		case "value_floats":
			fs, _, err := b.attrs.floats(name)
			if err != nil {
				return err
			}
			v := tensor.FromFloat32("", []int64{int64(len(fs))}, fs)
			t = &v
		case "value_int":
			i, err := b.attrs.int(name, 0)
			if err != nil {
				return err
			}
			t = &tensor.Tensor{DType: tensor.Int64, Shape: []int64{}}
			t.SetLen(1)
			view[int64](t.Raw)[0] = i
		case "value_ints":
			is, _, err := b.attrs.ints(name)
			if err != nil {
				return err
			}
			v := tensor.FromInt64("", []int64{int64(len(is))}, is)
			t = &v
		case "value_string":
			s, err := b.attrs.str(name, "")
			if err != nil {
				return err
			}
			t = &tensor.Tensor{DType: tensor.String, Shape: []int64{}, Strings: [][]byte{[]byte(s)}}
		case "value_strings":
			ss, _, err := b.attrs.strs(name)
			if err != nil {
				return err
			}
			t = &tensor.Tensor{DType: tensor.String, Shape: []int64{int64(len(ss))}, Strings: make([][]byte, len(ss))}
			for i, s := range ss {
				t.Strings[i] = append([]byte{}, s...)
			}
		case "sparse_value":
			return unsupportedf("with a sparse value")
		default:
			continue
		}
		set++
	}
	if set != 1 {
		return invalidModelf("has %d value attributes, want exactly 1", set)
	}
	b.k = &constKernel{t: t}
	b.outputs(valueType{t.DType, t.Shape})
	return nil
}

func (k *constKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	*out[0] = *k.t
	return nil
}

// Cast converts between element types as ONNX Runtime does: numbers with
// C++ conversions (truncation towards zero for floating point to integer),
// to STRING with "%.8g" ("NaN", "INF", "-INF") and integers in decimal, from
// STRING like std::stod / std::stoll (leading spaces, longest valid prefix).
type castKernel struct {
	to   tensor.DType
	like bool
}

// castTypes are the element types Cast converts between.
var castTypes = append([]tensor.DType{tensor.Bool, tensor.String, tensor.Float16, tensor.BFloat16}, numericTypes...)

func buildCast(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	var to tensor.DType
	if b.version < 6 {
		s, err := b.attrs.str("to", "")
		if err != nil {
			return err
		}
		e, ok := onnx.ElemTypeValue(s)
		if !ok {
			return invalidModelf("to=%q is not an element type", s)
		}
		if to, ok = tensor.FromONNXElem(e); !ok {
			return unsupportedf("to %s", s)
		}
	} else {
		if !b.attrs.has("to") {
			return invalidModelf("attribute to is required")
		}
		e, err := b.attrs.int("to", 0)
		if err != nil {
			return err
		}
		var ok bool
		if to, ok = tensor.FromONNXElem(int32(e)); !ok {
			return unsupportedf("to %s", onnx.ElemTypeName(int32(e)))
		}
	}
	if err := b.typeIn(0, castTypes...); err != nil {
		return err
	}
	if !containsType(castTypes, to) {
		return unsupportedf("to %s", to.ONNX())
	}
	b.k = &castKernel{to: to}
	b.outputs(valueType{to, b.in[0].shape})
	return nil
}

func buildCastLike(b *builder) error {
	if err := b.needInputs(2, 2); err != nil {
		return err
	}
	if err := b.typeIn(0, castTypes...); err != nil {
		return err
	}
	if err := b.typeIn(1, castTypes...); err != nil {
		return err
	}
	b.k = &castKernel{to: b.in[1].dtype, like: true}
	b.outputs(valueType{b.in[1].dtype, b.in[0].shape})
	return nil
}

func containsType(ts []tensor.DType, t tensor.DType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func (k *castKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	ensure(y, k.to, x.Shape)
	n := numElems(x.Shape)
	switch {
	case x.DType == tensor.String && k.to == tensor.String:
		copy(y.Strings, x.Strings[:n])
		return nil
	case k.to == tensor.String:
		return castToString(c, y.Strings, x, n)
	case x.DType == tensor.String:
		return castFromString(y, x.Strings[:n])
	case x.DType == k.to:
		copy(y.Raw, x.Raw)
		return nil
	}
	switch x.DType {
	case tensor.Bool:
		castFrom(y, x.Raw[:n], true)
	case tensor.Uint8:
		castFrom(y, view[uint8](x.Raw)[:n], false)
	case tensor.Uint16:
		castFrom(y, view[uint16](x.Raw)[:n], false)
	case tensor.Uint32:
		castFrom(y, view[uint32](x.Raw)[:n], false)
	case tensor.Uint64:
		castFrom(y, view[uint64](x.Raw)[:n], false)
	case tensor.Int8:
		castFrom(y, view[int8](x.Raw)[:n], false)
	case tensor.Int16:
		castFrom(y, view[int16](x.Raw)[:n], false)
	case tensor.Int32:
		castFrom(y, view[int32](x.Raw)[:n], false)
	case tensor.Int64:
		castFrom(y, view[int64](x.Raw)[:n], false)
	case tensor.Float32:
		castFrom(y, view[float32](x.Raw)[:n], false)
	case tensor.Float64:
		castFrom(y, view[float64](x.Raw)[:n], false)
	case tensor.Float16, tensor.BFloat16:
		// Through float32, like ONNX Runtime.
		tmp := growF32(&c.sc.f32, n)
		src := view[uint16](x.Raw)[:n]
		for i, h := range src {
			if x.DType == tensor.Float16 {
				tmp[i] = f16ToF32(h)
			} else {
				tmp[i] = bf16ToF32(h)
			}
		}
		castFrom(y, tmp, false)
	}
	return nil
}

// castFrom converts src into y (whose DType is set and Raw sized). srcBool
// marks booleans, stored as bytes where any non-zero byte is true.
func castFrom[S numeric](y *tensor.Tensor, src []S, srcBool bool) {
	mode := convPlain
	var z S
	if isFloatValue(z) {
		switch y.DType {
		case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32:
			mode = convFloatToInt
		case tensor.Uint64:
			mode = convFloatToU64
		}
	} else if srcBool {
		mode = convBool
	}
	switch y.DType {
	case tensor.Bool:
		d := y.Raw
		for i, v := range src {
			if v != 0 {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
	case tensor.Uint8:
		convert(y.Raw, src, mode)
	case tensor.Uint16:
		convert(view[uint16](y.Raw), src, mode)
	case tensor.Uint32:
		convert(view[uint32](y.Raw), src, mode)
	case tensor.Uint64:
		convert(view[uint64](y.Raw), src, mode)
	case tensor.Int8:
		convert(view[int8](y.Raw), src, mode)
	case tensor.Int16:
		convert(view[int16](y.Raw), src, mode)
	case tensor.Int32:
		convert(view[int32](y.Raw), src, mode)
	case tensor.Int64:
		convert(view[int64](y.Raw), src, mode)
	case tensor.Float32:
		convert(view[float32](y.Raw), src, mode)
	case tensor.Float64:
		convert(view[float64](y.Raw), src, mode)
	case tensor.Float16, tensor.BFloat16:
		d := view[uint16](y.Raw)
		for i, v := range src {
			f := float32(v) // directly, not through float64, which would round twice
			if mode == convBool && v != 0 {
				f = 1
			}
			if y.DType == tensor.Float16 {
				d[i] = f32ToF16(f)
			} else {
				d[i] = f32ToBF16(f)
			}
		}
	}
}

func isFloatValue[S numeric](v S) bool {
	v = 1
	return v/2 != 0 // 0.5 only exists in floating point
}

type convMode uint8

const (
	convPlain      convMode = iota
	convBool                // any non-zero byte is 1
	convFloatToInt          // through int64; NaN and out of range give its minimum
	convFloatToU64
)

// convert converts each element. In range, Go's conversions are C++'s
// (floating point to integer truncates towards zero); out of range, where
// C++ is undefined, the result is fixed and Go never panics.
func convert[D, S numeric](d []D, s []S, mode convMode) {
	d = d[:len(s)]
	switch mode {
	case convPlain:
		for i, v := range s {
			d[i] = D(v)
		}
	case convBool:
		for i, v := range s {
			if v != 0 {
				d[i] = 1
			} else {
				d[i] = 0
			}
		}
	case convFloatToInt:
		minI64 := int64(math.MinInt64)
		for i, v := range s {
			f := float64(v)
			if f != f || f >= 1<<63 || f < -(1<<63) {
				d[i] = D(minI64)
				continue
			}
			d[i] = D(int64(f))
		}
	case convFloatToU64:
		top := uint64(1 << 63)
		for i, v := range s {
			f := float64(v)
			switch {
			case f >= 0 && f < 1<<64:
				d[i] = D(uint64(f))
			case f < 0 && f >= -(1<<63):
				d[i] = D(uint64(int64(f)))
			default:
				d[i] = D(top)
			}
		}
	}
}

// castToString writes the decimal form of n elements of x into dst.
func castToString(c *runCtx, dst [][]byte, x *tensor.Tensor, n int) error {
	for i := 0; i < n; i++ {
		start := len(c.st.arena)
		a := c.st.arena
		switch x.DType {
		case tensor.Bool:
			if x.Raw[i] != 0 {
				a = append(a, '1')
			} else {
				a = append(a, '0')
			}
		case tensor.Float32:
			a = appendG8(a, float64(view[float32](x.Raw)[i]))
		case tensor.Float64:
			a = appendG8(a, view[float64](x.Raw)[i])
		case tensor.Float16:
			a = appendG8(a, float64(f16ToF32(view[uint16](x.Raw)[i])))
		case tensor.BFloat16:
			a = appendG8(a, float64(bf16ToF32(view[uint16](x.Raw)[i])))
		case tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64:
			a = strconv.AppendUint(a, uint64(f64OrUint(x, i)), 10)
		default:
			a = strconv.AppendInt(a, int64At(x, i), 10)
		}
		c.st.arena = a
		dst[i] = c.str(start)
	}
	return nil
}

// appendG8 formats like C's "%.8g", with ONNX Runtime's NaN and infinities.
func appendG8(a []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(a, "NaN"...)
	case math.IsInf(v, 1):
		return append(a, "INF"...)
	case math.IsInf(v, -1):
		return append(a, "-INF"...)
	}
	return strconv.AppendFloat(a, v, 'g', 8, 64)
}

func int64At(t *tensor.Tensor, i int) int64 {
	switch t.DType {
	case tensor.Int8:
		return int64(int8(t.Raw[i]))
	case tensor.Int16:
		return int64(view[int16](t.Raw)[i])
	case tensor.Int32:
		return int64(view[int32](t.Raw)[i])
	}
	return view[int64](t.Raw)[i]
}

func f64OrUint(t *tensor.Tensor, i int) uint64 {
	switch t.DType {
	case tensor.Uint8:
		return uint64(t.Raw[i])
	case tensor.Uint16:
		return uint64(view[uint16](t.Raw)[i])
	case tensor.Uint32:
		return uint64(view[uint32](t.Raw)[i])
	}
	return view[uint64](t.Raw)[i]
}

// castFromString parses strings into y.
func castFromString(y *tensor.Tensor, src [][]byte) error {
	for i, s := range src {
		switch y.DType {
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
			f, ok := parseFloatPrefix(s)
			if !ok {
				return invalidf("cannot convert %q to %s", s, y.DType.ONNX())
			}
			switch y.DType {
			case tensor.Float32:
				view[float32](y.Raw)[i] = float32(f)
			case tensor.Float64:
				view[float64](y.Raw)[i] = f
			case tensor.Float16:
				view[uint16](y.Raw)[i] = f32ToF16(float32(f))
			case tensor.BFloat16:
				view[uint16](y.Raw)[i] = f32ToBF16(float32(f))
			}
		default:
			v, ok := parseIntPrefix(s, y.DType == tensor.Bool || y.DType == tensor.Uint8 || y.DType == tensor.Uint16 ||
				y.DType == tensor.Uint32 || y.DType == tensor.Uint64)
			if !ok {
				return invalidf("cannot convert %q to %s", s, y.DType.ONNX())
			}
			switch y.DType {
			case tensor.Bool:
				if v != 0 {
					y.Raw[i] = 1
				} else {
					y.Raw[i] = 0
				}
			case tensor.Uint8, tensor.Int8:
				y.Raw[i] = byte(v)
			case tensor.Uint16, tensor.Int16:
				view[uint16](y.Raw)[i] = uint16(v)
			case tensor.Uint32, tensor.Int32:
				view[uint32](y.Raw)[i] = uint32(v)
			default:
				view[uint64](y.Raw)[i] = v
			}
		}
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// parseFloatPrefix parses like std::stod: leading white space, then the
// longest prefix that is a number ("1.5e3x" is 1500); out of range fails.
func parseFloatPrefix(s []byte) (float64, bool) {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	if len(s) > 64 {
		s = s[:64] // long enough for any double; avoids converting a huge string
	}
	str := unsafeString(s)
	if f, err := strconv.ParseFloat(str, 64); err == nil {
		return f, true
	} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, false
	}
	// The longest numeric prefix: sign, digits, point, digits, exponent.
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			i = j
		}
	}
	f, err := strconv.ParseFloat(unsafeString(s[:i]), 64)
	return f, err == nil
}

// parseIntPrefix parses like std::stoll (or std::stoull when unsigned, where
// "-1" wraps): leading white space, sign, decimal digits.
func parseIntPrefix(s []byte, unsigned bool) (uint64, bool) {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v uint64
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		n++
	}
	if n == 0 {
		return 0, false
	}
	if !unsigned {
		if !neg && v > math.MaxInt64 || neg && v > 1<<63 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}
