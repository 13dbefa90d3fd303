package native

import (
	"math"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		register(domainONNX, op, []int{1, 6, 7, 13, 14}, buildBinary)
	}
	register(domainONNX, "Relu", []int{1, 6, 13, 14}, buildUnary)
	register(domainONNX, "Sigmoid", []int{1, 6, 13}, buildUnary)
	register(domainONNX, "Tanh", []int{1, 6, 13}, buildUnary)
	register(domainONNX, "Clip", []int{1, 6, 11, 12, 13}, buildClip)
}

type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binOps = map[string]binOp{"Add": opAdd, "Sub": opSub, "Mul": opMul, "Div": opDiv}

type binaryKernel struct {
	op binOp
	// Before opset 7, B is broadcast to A only if broadcast=1, aligned at
	// axis (-1: at the end).
	legacy    bool
	legacyOn  bool
	legacyAxs int64
}

func buildBinary(b *builder) error {
	if err := b.needInputs(2, 2); err != nil {
		return err
	}
	if b.in[0].dtype != b.in[1].dtype {
		return invalidModelf("inputs are %s and %s", b.in[0].dtype.ONNX(), b.in[1].dtype.ONNX())
	}
	if err := b.typeIn(0, numericTypes...); err != nil {
		return err
	}
	k := &binaryKernel{op: binOps[b.op]}
	var out []int64
	if b.version < 7 {
		k.legacy = true
		on, err := b.attrs.int("broadcast", 0)
		if err != nil {
			return err
		}
		k.legacyOn = on != 0
		k.legacyAxs, err = b.attrs.int("axis", -1)
		if err != nil {
			return err
		}
		if b.attrs.has("axis") && k.legacyAxs < 0 {
			return invalidModelf("axis %d is negative", k.legacyAxs)
		}
		out = b.in[0].shape
	} else if b.in[0].shape != nil && b.in[1].shape != nil {
		out, _ = staticBroadcast(b.in[0].shape, b.in[1].shape)
	}
	b.k = k
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

// staticBroadcast broadcasts two shapes with unknown (-1) dimensions.
func staticBroadcast(a, b []int64) ([]int64, bool) {
	r := max(len(a), len(b))
	out := make([]int64, r)
	for i := range r {
		da, db := int64(1), int64(1)
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		case da < 0 || db < 0:
			out[i] = max(da, db) // the known one, if any
			if da < 0 && db < 0 {
				out[i] = -1
			}
		default:
			return nil, false
		}
	}
	return out, true
}

func (k *binaryKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	bshape := b.Shape
	if k.legacy {
		var err error
		if bshape, err = k.legacyShape(c, a.Shape, b.Shape); err != nil {
			return err
		}
	}
	oshape, dims, sa, sb, ok := planBroadcast(c.sc, a.Shape, bshape)
	if !ok {
		return invalidf("shapes %s and %s cannot be broadcast", shapeString(a.Shape), shapeString(b.Shape))
	}
	if _, ok := checkedElems(oshape); !ok || len(oshape) > maxRank {
		return invalidf("output shape %s is too large", shapeString(oshape))
	}
	o := out[0]
	ensure(o, a.DType, oshape)
	switch a.DType {
	case tensor.Float32:
		return applyBinary(k.op, view[float32](o.Raw), view[float32](a.Raw), view[float32](b.Raw), dims, sa, sb, false)
	case tensor.Float64:
		return applyBinary(k.op, view[float64](o.Raw), view[float64](a.Raw), view[float64](b.Raw), dims, sa, sb, false)
	case tensor.Int64:
		return applyBinary(k.op, view[int64](o.Raw), view[int64](a.Raw), view[int64](b.Raw), dims, sa, sb, true)
	case tensor.Int32:
		return applyBinary(k.op, view[int32](o.Raw), view[int32](a.Raw), view[int32](b.Raw), dims, sa, sb, true)
	case tensor.Int16:
		return applyBinary(k.op, view[int16](o.Raw), view[int16](a.Raw), view[int16](b.Raw), dims, sa, sb, true)
	case tensor.Int8:
		return applyBinary(k.op, view[int8](o.Raw), view[int8](a.Raw), view[int8](b.Raw), dims, sa, sb, true)
	case tensor.Uint64:
		return applyBinary(k.op, view[uint64](o.Raw), view[uint64](a.Raw), view[uint64](b.Raw), dims, sa, sb, true)
	case tensor.Uint32:
		return applyBinary(k.op, view[uint32](o.Raw), view[uint32](a.Raw), view[uint32](b.Raw), dims, sa, sb, true)
	case tensor.Uint16:
		return applyBinary(k.op, view[uint16](o.Raw), view[uint16](a.Raw), view[uint16](b.Raw), dims, sa, sb, true)
	case tensor.Uint8:
		return applyBinary(k.op, o.Raw, a.Raw, b.Raw, dims, sa, sb, true)
	}
	return nil
}

// legacyShape places B's dimensions in A's rank for the broadcast of opsets
// before 7.
func (k *binaryKernel) legacyShape(c *runCtx, a, b []int64) ([]int64, error) {
	if !k.legacyOn {
		if !equalShapes(a, b) {
			return nil, invalidf("shapes %s and %s differ and broadcast is 0", shapeString(a), shapeString(b))
		}
		return b, nil
	}
	axis := k.legacyAxs
	if axis < 0 {
		axis = int64(len(a) - len(b))
	}
	if axis < 0 || int(axis)+len(b) > len(a) {
		return nil, invalidf("cannot broadcast %s to %s at axis %d", shapeString(b), shapeString(a), axis)
	}
	s := growI64(&c.sc.i64c, len(a))
	for i := range s {
		s[i] = 1
	}
	copy(s[axis:], b)
	return s, nil
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

// planBroadcast computes the numpy broadcast of shapes a and b: the output
// shape (in sc.i64) and the collapsed iteration space: dims and the strides
// of a and b over it (0 where broadcast), with size-1 dimensions dropped and
// contiguous neighbours merged. The iteration space has at least one
// dimension.
func planBroadcast(sc *scratch, a, b []int64) (oshape, dims, sa, sb []int64, ok bool) {
	r := max(len(a), len(b))
	oshape = growI64(&sc.i64, r)
	w := max(r, 1)
	buf := growI64(&sc.i64b, 3*w)
	dims, sa, sb = buf[0:w], buf[w:2*w], buf[2*w:3*w]
	for i := range r {
		da, db := int64(1), int64(1)
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			oshape[i] = da
		case da == 1:
			oshape[i] = db
		default:
			return nil, nil, nil, nil, false
		}
		dims[i] = oshape[i]
		sa[i], sb[i] = 0, 0
		if da != 1 {
			sa[i] = 1
		}
		if db != 1 {
			sb[i] = 1
		}
	}
	// Turn the "advances" flags into element strides, innermost first.
	accA, accB := int64(1), int64(1)
	for i := r - 1; i >= 0; i-- {
		if sa[i] != 0 {
			sa[i] = accA
			accA *= dims[i]
		}
		if sb[i] != 0 {
			sb[i] = accB
			accB *= dims[i]
		}
	}
	// Collapse: drop size-1 dimensions and merge contiguous neighbours.
	n := 0
	for i := range r {
		if dims[i] == 1 {
			continue
		}
		if n > 0 && sa[n-1] == sa[i]*dims[i] && sb[n-1] == sb[i]*dims[i] {
			dims[n-1] *= dims[i]
			sa[n-1], sb[n-1] = sa[i], sb[i]
			continue
		}
		dims[n], sa[n], sb[n] = dims[i], sa[i], sb[i]
		n++
	}
	if n == 0 {
		dims[0], sa[0], sb[0] = 1, 0, 0
		n = 1
	}
	return oshape, dims[:n], sa[:n], sb[:n], true
}

// applyBinary computes d = a op b over a collapsed broadcast. Integer division by
// zero is an error (Go would panic, C++ is undefined).
func applyBinary[T numeric](op binOp, d, a, b []T, dims, sa, sb []int64, integer bool) error {
	if integer && op == opDiv {
		for _, v := range b {
			if v == 0 {
				return invalidf("integer division by zero")
			}
		}
	}
	r := len(dims)
	inner := int(dims[r-1])
	ia, ib := sa[r-1], sb[r-1]
	total := len(d)
	if inner == 0 || total == 0 || r > maxRank {
		return nil
	}
	var idx [maxRank]int64
	offA, offB := int64(0), int64(0)
	for o := 0; o < total; o += inner {
		rowNumeric(op, d[o:o+inner], a[offA:], b[offB:], ia, ib)
		offA, offB = advance(idx[:r-1], dims, sa, sb, offA, offB)
	}
	return nil
}

// maxRank bounds the rank of broadcast operands (ONNX Runtime's limit is
// lower in practice).
const maxRank = 64

// advance moves an odometer over the outer dimensions by one step.
func advance(idx []int64, dims, sa, sb []int64, offA, offB int64) (int64, int64) {
	for k := len(idx) - 1; k >= 0; k-- {
		idx[k]++
		offA += sa[k]
		offB += sb[k]
		if idx[k] < dims[k] {
			return offA, offB
		}
		offA -= sa[k] * dims[k]
		offB -= sb[k] * dims[k]
		idx[k] = 0
	}
	return offA, offB
}

// rowNumeric computes one innermost run; ia and ib are 1 (the operand
// advances) or 0 (it is broadcast).
func rowNumeric[T numeric](op binOp, d, a, b []T, ia, ib int64) {
	n := len(d)
	switch {
	case ia == 1 && ib == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			for i := range d {
				d[i] = a[i] + b[i]
			}
		case opSub:
			for i := range d {
				d[i] = a[i] - b[i]
			}
		case opMul:
			for i := range d {
				d[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range d {
				d[i] = a[i] / b[i]
			}
		}
	case ia == 1:
		a = a[:n]
		y := b[0]
		switch op {
		case opAdd:
			for i := range d {
				d[i] = a[i] + y
			}
		case opSub:
			for i := range d {
				d[i] = a[i] - y
			}
		case opMul:
			for i := range d {
				d[i] = a[i] * y
			}
		case opDiv:
			for i := range d {
				d[i] = a[i] / y
			}
		}
	case ib == 1:
		b = b[:n]
		x := a[0]
		switch op {
		case opAdd:
			for i := range d {
				d[i] = x + b[i]
			}
		case opSub:
			for i := range d {
				d[i] = x - b[i]
			}
		case opMul:
			for i := range d {
				d[i] = x * b[i]
			}
		case opDiv:
			for i := range d {
				d[i] = x / b[i]
			}
		}
	default:
		var z T
		switch op {
		case opAdd:
			z = a[0] + b[0]
		case opSub:
			z = a[0] - b[0]
		case opMul:
			z = a[0] * b[0]
		case opDiv:
			z = a[0] / b[0]
		}
		for i := range d {
			d[i] = z
		}
	}
}

// Unary activations.

type unaryKernel struct{ op string }

func buildUnary(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	allowed := floatTypes
	if b.op == "Relu" && b.version >= 14 {
		allowed = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64}
	}
	if err := b.typeIn(0, allowed...); err != nil {
		return err
	}
	b.k = &unaryKernel{op: b.op}
	b.outputs(b.in[0])
	return nil
}

func (k *unaryKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	ensure(y, x.DType, x.Shape)
	switch x.DType {
	case tensor.Float32:
		if k.op == "Relu" {
			if useSIMD {
				reluSIMD(view[float32](y.Raw), view[float32](x.Raw))
			} else {
				reluF32(view[float32](y.Raw), view[float32](x.Raw))
			}
			break
		}
		unaryFloat(k.op, view[float32](y.Raw), view[float32](x.Raw))
	case tensor.Float64:
		unaryFloat(k.op, view[float64](y.Raw), view[float64](x.Raw))
	case tensor.Int8:
		relu(y.Raw, x.Raw)
	case tensor.Int16:
		relu(view[int16](y.Raw), view[int16](x.Raw))
	case tensor.Int32:
		relu(view[int32](y.Raw), view[int32](x.Raw))
	case tensor.Int64:
		relu(view[int64](y.Raw), view[int64](x.Raw))
	}
	return nil
}

func relu[T numeric](y, x []T) {
	x = x[:len(y)]
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

func unaryFloat[T float](op string, y, x []T) {
	x = x[:len(y)]
	switch op {
	case "Relu":
		relu(y, x)
	case "Sigmoid":
		for i, v := range x {
			y[i] = T(1 / (1 + math.Exp(-float64(v))))
		}
	case "Tanh":
		for i, v := range x {
			y[i] = T(math.Tanh(float64(v)))
		}
	}
}

// Clip.

type clipKernel struct {
	attrMin, attrMax float32 // before opset 11
	inputs           bool
}

func buildClip(b *builder) error {
	k := &clipKernel{inputs: b.version >= 11}
	if k.inputs {
		if err := b.needInputs(1, 3); err != nil {
			return err
		}
		allowed := floatTypes
		if b.version >= 12 {
			allowed = numericTypes
		}
		if err := b.typeIn(0, allowed...); err != nil {
			return err
		}
		for i := 1; i < 3; i++ {
			if b.present(i) && b.in[i].dtype != b.in[0].dtype {
				return invalidModelf("input %d is %s, want %s", i, b.in[i].dtype.ONNX(), b.in[0].dtype.ONNX())
			}
		}
	} else {
		if err := b.needInputs(1, 1); err != nil {
			return err
		}
		if err := b.typeIn(0, floatTypes...); err != nil {
			return err
		}
		var err error
		if k.attrMin, err = b.attrs.float("min", -math.MaxFloat32); err != nil {
			return err
		}
		if k.attrMax, err = b.attrs.float("max", math.MaxFloat32); err != nil {
			return err
		}
	}
	b.k = k
	b.outputs(b.in[0])
	return nil
}

func (k *clipKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	var lo, hi *tensor.Tensor
	if k.inputs {
		if len(in) > 1 {
			lo = in[1]
		}
		if len(in) > 2 {
			hi = in[2]
		}
		for _, b := range []*tensor.Tensor{lo, hi} {
			if b != nil && numElems(b.Shape) != 1 {
				return invalidf("min and max must be scalars, got shape %s", shapeString(b.Shape))
			}
		}
	}
	ensure(y, x.DType, x.Shape)
	switch x.DType {
	case tensor.Float32:
		l, h := float32(-math.MaxFloat32), float32(math.MaxFloat32)
		if !k.inputs {
			l, h = k.attrMin, k.attrMax
		}
		clip(view[float32](y.Raw), view[float32](x.Raw), bound(lo, l), bound(hi, h))
	case tensor.Float64:
		l, h := -math.MaxFloat64, math.MaxFloat64
		if !k.inputs {
			l, h = float64(k.attrMin), float64(k.attrMax)
		}
		clip(view[float64](y.Raw), view[float64](x.Raw), bound(lo, l), bound(hi, h))
	case tensor.Int8:
		clip(view[int8](y.Raw), view[int8](x.Raw), bound[int8](lo, math.MinInt8), bound[int8](hi, math.MaxInt8))
	case tensor.Int16:
		clip(view[int16](y.Raw), view[int16](x.Raw), bound[int16](lo, math.MinInt16), bound[int16](hi, math.MaxInt16))
	case tensor.Int32:
		clip(view[int32](y.Raw), view[int32](x.Raw), bound[int32](lo, math.MinInt32), bound[int32](hi, math.MaxInt32))
	case tensor.Int64:
		clip(view[int64](y.Raw), view[int64](x.Raw), bound[int64](lo, math.MinInt64), bound[int64](hi, math.MaxInt64))
	case tensor.Uint8:
		clip(y.Raw, x.Raw, bound[uint8](lo, 0), bound[uint8](hi, math.MaxUint8))
	case tensor.Uint16:
		clip(view[uint16](y.Raw), view[uint16](x.Raw), bound[uint16](lo, 0), bound[uint16](hi, math.MaxUint16))
	case tensor.Uint32:
		clip(view[uint32](y.Raw), view[uint32](x.Raw), bound[uint32](lo, 0), bound[uint32](hi, math.MaxUint32))
	case tensor.Uint64:
		clip(view[uint64](y.Raw), view[uint64](x.Raw), bound[uint64](lo, 0), bound[uint64](hi, math.MaxUint64))
	}
	return nil
}

func bound[T numeric](t *tensor.Tensor, def T) T {
	if t == nil {
		return def
	}
	return view[T](t.Raw)[0]
}

// clip applies max then min, as ONNX Runtime does: NaN stays NaN, and when
// lo > hi every element becomes hi.
func clip[T numeric](y, x []T, lo, hi T) {
	x = x[:len(y)]
	for i, v := range x {
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		y[i] = v
	}
}
