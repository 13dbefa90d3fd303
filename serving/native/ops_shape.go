package native

import (
	"math"
	"slices"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	later := []int{19, 21, 23, 24, 25} // versions that only add element types
	register(domainONNX, "Identity", append([]int{1, 13, 14, 16}, later...), buildIdentity)
	register(domainONNX, "Reshape", append([]int{1, 5, 13, 14}, later...), buildReshape)
	register(domainONNX, "Flatten", append([]int{1, 9, 11, 13}, later[1:]...), buildFlatten)
	register(domainONNX, "Squeeze", append([]int{1, 11, 13}, later[1:]...), buildSqueeze)
	register(domainONNX, "Unsqueeze", append([]int{1, 11, 13}, later[1:]...), buildUnsqueeze)
	register(domainONNX, "Concat", []int{1, 4, 11, 13}, buildConcat)
	register(domainONNX, "Shape", append([]int{1, 13, 15}, later...), buildShape)
	register(domainONNX, "Gather", []int{1, 11, 13}, buildGather)
}

// Identity shares its input.
type identityKernel struct{}

func buildIdentity(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	b.k, b.alias = identityKernel{}, true
	b.outputs(b.in[0])
	return nil
}

func (identityKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	aliasOf(out[0], in[0], in[0].Shape)
	return nil
}

// Reshape.
type reshapeKernel struct {
	attrShape []int64 // opset 1
	allowZero bool
}

func buildReshape(b *builder) error {
	k := &reshapeKernel{}
	if b.version < 5 {
		if err := b.needInputs(1, 1); err != nil {
			return err
		}
		s, ok, err := b.attrs.ints("shape")
		if err != nil {
			return err
		}
		if !ok {
			return invalidModelf("attribute shape is required")
		}
		k.attrShape = s
	} else {
		if err := b.needInputs(2, 2); err != nil {
			return err
		}
		if b.in[1].dtype != tensor.Int64 {
			return invalidModelf("shape is %s, want INT64", b.in[1].dtype.ONNX())
		}
	}
	if b.version >= 14 {
		az, err := b.attrs.int("allowzero", 0)
		if err != nil {
			return err
		}
		k.allowZero = az != 0
	}
	var out []int64
	if s := k.attrShape; s != nil {
		out = staticReshape(b.in[0].shape, s, k.allowZero)
	} else if t := b.consts[1]; t != nil {
		out = staticReshape(b.in[0].shape, view[int64](t.Raw)[:numElems(t.Shape)], k.allowZero)
	}
	b.k, b.alias = k, true
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

// staticReshape infers the output shape when the requested shape is known.
func staticReshape(in, req []int64, allowZero bool) []int64 {
	out := slices.Clone(req)
	if out == nil {
		out = []int64{}
	}
	for i, d := range out {
		if d == 0 && !allowZero {
			out[i] = -1
			if in != nil && i < len(in) {
				out[i] = in[i]
			}
		}
	}
	neg := slices.Index(out, -1)
	if neg >= 0 && in != nil && !slices.Contains(in, -1) {
		total := int64(numElems(in))
		rest := int64(1)
		for i, d := range out {
			if i != neg && d > 0 {
				rest *= d
			}
		}
		if rest > 0 && slices.Index(out[neg+1:], -1) < 0 {
			out[neg] = total / rest
		}
	}
	return out
}

func (k *reshapeKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x := in[0]
	req := k.attrShape
	if req == nil {
		s := in[1]
		if len(s.Shape) != 1 {
			return invalidf("shape must be a 1-D tensor, got %s", shapeString(s.Shape))
		}
		req = view[int64](s.Raw)[:s.Shape[0]]
	}
	shape := growI64(&c.sc.i64, len(req))
	total := numElems(x.Shape)
	neg := -1
	known := 1
	for i, d := range req {
		switch {
		case d == -1:
			if neg >= 0 {
				return invalidf("shape %v has more than one -1", req)
			}
			neg = i
			continue
		case d == 0 && !k.allowZero:
			if i >= len(x.Shape) {
				return invalidf("shape %v copies dimension %d of %s, which has rank %d", req, i, shapeString(x.Shape), len(x.Shape))
			}
			d = x.Shape[i]
		case d < 0:
			return invalidf("shape %v has a negative dimension", req)
		}
		shape[i] = d
		if d != 0 && known > maxElems/int(d) {
			return invalidf("shape %v is too large", req)
		}
		known *= int(d)
	}
	if neg >= 0 {
		if known == 0 || total%known != 0 {
			return invalidf("cannot reshape %s (%d elements) to %v", shapeString(x.Shape), total, req)
		}
		shape[neg] = int64(total / known)
		known = total
	}
	if known != total {
		return invalidf("cannot reshape %s (%d elements) to %v (%d elements)", shapeString(x.Shape), total, req, known)
	}
	aliasOf(out[0], x, shape)
	return nil
}

// Flatten.
type flattenKernel struct{ axis int64 }

func buildFlatten(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	axis, err := b.attrs.int("axis", 1)
	if err != nil {
		return err
	}
	var out []int64
	if s := b.in[0].shape; s != nil {
		if a, ok := normFlattenAxis(axis, len(s)); ok {
			out = []int64{staticProd(s[:a]), staticProd(s[a:])}
		}
	}
	b.k, b.alias = &flattenKernel{axis: axis}, true
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

func staticProd(dims []int64) int64 {
	p := int64(1)
	for _, d := range dims {
		if d < 0 {
			return -1
		}
		p *= d
	}
	return p
}

// normFlattenAxis maps Flatten's axis, in [-r, r], to [0, r].
func normFlattenAxis(axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis > int64(rank) {
		return 0, false
	}
	return int(axis), true
}

func (k *flattenKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x := in[0]
	a, ok := normFlattenAxis(k.axis, len(x.Shape))
	if !ok {
		return invalidf("axis %d is out of range for %s", k.axis, shapeString(x.Shape))
	}
	s := growI64(&c.sc.i64, 2)
	s[0], s[1] = int64(prod(x.Shape, 0, a)), int64(prod(x.Shape, a, len(x.Shape)))
	aliasOf(out[0], x, s)
	return nil
}

// Squeeze and Unsqueeze: axes from an attribute (before opset 13) or an
// input.
type squeezeKernel struct {
	unsqueeze bool
	axes      []int64 // from the attribute; nil: from input 1, or all size-1 dimensions
	hasAxes   bool
}

func buildSqueeze(b *builder) error   { return buildSqueezeLike(b, false) }
func buildUnsqueeze(b *builder) error { return buildSqueezeLike(b, true) }

func buildSqueezeLike(b *builder, unsqueeze bool) error {
	k := &squeezeKernel{unsqueeze: unsqueeze}
	if b.version < 13 {
		if err := b.needInputs(1, 1); err != nil {
			return err
		}
		axes, ok, err := b.attrs.ints("axes")
		if err != nil {
			return err
		}
		if unsqueeze && !ok {
			return invalidModelf("attribute axes is required")
		}
		k.axes, k.hasAxes = axes, ok
	} else {
		min := 1
		if unsqueeze {
			min = 2
		}
		if err := b.needInputs(min, 2); err != nil {
			return err
		}
		if b.present(1) {
			if b.in[1].dtype != tensor.Int64 {
				return invalidModelf("axes is %s, want INT64", b.in[1].dtype.ONNX())
			}
			if t := b.consts[1]; t != nil {
				k.axes, k.hasAxes = slices.Clone(view[int64](t.Raw)[:numElems(t.Shape)]), true
			}
		}
	}
	var out []int64
	if s := b.in[0].shape; s != nil && (k.hasAxes || !b.present(1)) {
		sc := &scratch{}
		if shape, err := k.shape(sc, s, k.axes, k.hasAxes); err == nil {
			out = slices.Clone(shape)
		}
	}
	b.k, b.alias = k, true
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

func (k *squeezeKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x := in[0]
	axes, has := k.axes, k.hasAxes
	if !has && len(in) > 1 && in[1] != nil {
		t := in[1]
		if len(t.Shape) > 1 {
			return invalidf("axes must be a 1-D tensor, got %s", shapeString(t.Shape))
		}
		axes, has = view[int64](t.Raw)[:numElems(t.Shape)], true
	}
	shape, err := k.shape(c.sc, x.Shape, axes, has)
	if err != nil {
		return err
	}
	aliasOf(out[0], x, shape)
	return nil
}

// shape computes the output shape in sc.i64, using sc.b for the marks.
func (k *squeezeKernel) shape(sc *scratch, in, axes []int64, has bool) ([]int64, error) {
	if k.unsqueeze {
		r := len(in) + len(axes)
		mark := growBool(&sc.b, r)
		clear(mark)
		for _, a := range axes {
			i, ok := normAxis(a, r)
			if !ok || mark[i] {
				return nil, invalidf("axes %v are out of range or repeated for output rank %d", axes, r)
			}
			mark[i] = true
		}
		s := growI64(&sc.i64, r)
		j := 0
		for i := range s {
			if mark[i] {
				s[i] = 1
			} else {
				s[i] = in[j]
				j++
			}
		}
		return s, nil
	}
	mark := growBool(&sc.b, len(in))
	clear(mark)
	if has {
		for _, a := range axes {
			i, ok := normAxis(a, len(in))
			if !ok {
				return nil, invalidf("axis %d is out of range for %s", a, shapeString(in))
			}
			if in[i] != 1 {
				return nil, invalidf("cannot squeeze dimension %d of %s: it is not 1", a, shapeString(in))
			}
			mark[i] = true
		}
	} else {
		for i, d := range in {
			mark[i] = d == 1
		}
	}
	s := growI64(&sc.i64, len(in))[:0]
	for i, d := range in {
		if !mark[i] {
			s = append(s, d)
		}
	}
	return s, nil
}

// Concat.
type concatKernel struct{ axis int64 }

func buildConcat(b *builder) error {
	if len(b.in) == 0 {
		return invalidModelf("has no inputs")
	}
	for i := range b.in {
		if !b.present(i) {
			return invalidModelf("input %d is empty", i)
		}
		if b.in[i].dtype != b.in[0].dtype {
			return invalidModelf("inputs are %s and %s", b.in[0].dtype.ONNX(), b.in[i].dtype.ONNX())
		}
	}
	if err := b.typeIn(0, allTypes...); err != nil {
		return err
	}
	def := int64(1)
	if b.version >= 4 {
		if !b.attrs.has("axis") {
			return invalidModelf("attribute axis is required")
		}
	}
	axis, err := b.attrs.int("axis", def)
	if err != nil {
		return err
	}
	var out []int64
	if s := b.in[0].shape; s != nil {
		if a, ok := normAxis(axis, len(s)); ok {
			out = slices.Clone(s)
			for _, t := range b.in[1:] {
				if t.shape == nil || len(t.shape) != len(s) || out[a] < 0 || t.shape[a] < 0 {
					out[a] = -1
					continue
				}
				out[a] += t.shape[a]
			}
		}
	}
	b.k = &concatKernel{axis: axis}
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

func (k *concatKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	first := in[0]
	r := len(first.Shape)
	a, ok := normAxis(k.axis, r)
	if !ok {
		return invalidf("axis %d is out of range for %s", k.axis, shapeString(first.Shape))
	}
	shape := growI64(&c.sc.i64, r)
	copy(shape, first.Shape)
	shape[a] = 0
	for _, t := range in {
		if len(t.Shape) != r {
			return invalidf("inputs have shapes %s and %s", shapeString(first.Shape), shapeString(t.Shape))
		}
		for i, d := range t.Shape {
			if i != a && d != first.Shape[i] {
				return invalidf("inputs have shapes %s and %s", shapeString(first.Shape), shapeString(t.Shape))
			}
		}
		shape[a] += t.Shape[a]
	}
	if _, ok := checkedElems(shape); !ok {
		return invalidf("output shape %s is too large", shapeString(shape))
	}
	y := out[0]
	ensure(y, first.DType, shape)
	outer := prod(shape, 0, a)
	inner := prod(shape, a+1, r)
	rowOut := int(shape[a]) * inner
	off := 0
	if first.DType == tensor.String {
		for _, t := range in {
			w := int(t.Shape[a]) * inner
			for o := 0; o < outer; o++ {
				copy(y.Strings[o*rowOut+off:o*rowOut+off+w], t.Strings[o*w:o*w+w])
			}
			off += w
		}
		return nil
	}
	size := first.DType.Size()
	for _, t := range in {
		w := int(t.Shape[a]) * inner * size
		for o := 0; o < outer; o++ {
			copy(y.Raw[o*rowOut*size+off:o*rowOut*size+off+w], t.Raw[o*w:o*w+w])
		}
		off += w
	}
	return nil
}

// Shape.
type shapeKernel struct{ start, end int64 }

func buildShape(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	k := &shapeKernel{start: 0, end: math.MaxInt64}
	if b.version >= 15 {
		var err error
		if k.start, err = b.attrs.int("start", 0); err != nil {
			return err
		}
		if k.end, err = b.attrs.int("end", math.MaxInt64); err != nil {
			return err
		}
	}
	var out []int64
	if s := b.in[0].shape; s != nil {
		lo, hi := k.bounds(len(s))
		out = []int64{int64(hi - lo)}
	}
	b.k = k
	b.outputs(valueType{tensor.Int64, out})
	return nil
}

// bounds clamps start and end to [0, rank].
func (k *shapeKernel) bounds(rank int) (int, int) {
	clamp := func(v int64) int {
		if v < 0 {
			v += int64(rank)
		}
		return int(min(max(v, 0), int64(rank)))
	}
	lo, hi := clamp(k.start), clamp(k.end)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

func (k *shapeKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	s := in[0].Shape
	lo, hi := k.bounds(len(s))
	ensure1(out[0], tensor.Int64, int64(hi-lo))
	copy(view[int64](out[0].Raw), s[lo:hi])
	return nil
}

// Gather.
type gatherKernel struct{ axis int64 }

func buildGather(b *builder) error {
	if err := b.needInputs(2, 2); err != nil {
		return err
	}
	if err := b.typeIn(0, allTypes...); err != nil {
		return err
	}
	if b.in[1].dtype != tensor.Int32 && b.in[1].dtype != tensor.Int64 {
		return invalidModelf("indices are %s, want INT32 or INT64", b.in[1].dtype.ONNX())
	}
	axis, err := b.attrs.int("axis", 0)
	if err != nil {
		return err
	}
	var out []int64
	if d, i := b.in[0].shape, b.in[1].shape; d != nil && i != nil {
		if a, ok := normAxis(axis, len(d)); ok {
			out = append(append(append([]int64{}, d[:a]...), i...), d[a+1:]...)
		}
	}
	b.k = &gatherKernel{axis: axis}
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

func (k *gatherKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	data, idx := in[0], in[1]
	r := len(data.Shape)
	a, ok := normAxis(k.axis, r)
	if !ok {
		return invalidf("axis %d is out of range for %s", k.axis, shapeString(data.Shape))
	}
	shape := growI64(&c.sc.i64, r-1+len(idx.Shape))[:0]
	shape = append(shape, data.Shape[:a]...)
	shape = append(shape, idx.Shape...)
	shape = append(shape, data.Shape[a+1:]...)
	if _, ok := checkedElems(shape); !ok {
		return invalidf("output shape %s is too large", shapeString(shape))
	}
	n := numElems(idx.Shape)
	dim := data.Shape[a]
	for i := 0; i < n; i++ {
		if v := intAt(idx, i); v < -dim || v >= dim {
			return invalidf("index %d is out of range [%d, %d)", v, -dim, dim)
		}
	}
	y := out[0]
	ensure(y, data.DType, shape)
	outer := prod(data.Shape, 0, a)
	inner := prod(data.Shape, a+1, r)
	if data.DType == tensor.String {
		for o := 0; o < outer; o++ {
			for i := 0; i < n; i++ {
				j := intAt(idx, i)
				if j < 0 {
					j += dim
				}
				src := (o*int(dim) + int(j)) * inner
				dst := (o*n + i) * inner
				copy(y.Strings[dst:dst+inner], data.Strings[src:src+inner])
			}
		}
		return nil
	}
	size := data.DType.Size()
	w := inner * size
	for o := 0; o < outer; o++ {
		for i := 0; i < n; i++ {
			j := intAt(idx, i)
			if j < 0 {
				j += dim
			}
			src := (o*int(dim) + int(j)) * w
			dst := (o*n + i) * w
			copy(y.Raw[dst:dst+w], data.Raw[src:src+w])
		}
	}
	return nil
}
