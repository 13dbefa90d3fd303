package native

import (
	"math"
	"strconv"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	register(domainML, "Scaler", []int{1}, buildScaler)
	register(domainML, "Normalizer", []int{1}, buildNormalizer)
	register(domainML, "Binarizer", []int{1}, buildBinarizer)
	register(domainML, "Imputer", []int{1}, buildImputer)
	register(domainML, "OneHotEncoder", []int{1}, buildOneHotEncoder)
	register(domainML, "ArrayFeatureExtractor", []int{1}, buildArrayFeatureExtractor)
	register(domainML, "ZipMap", []int{1}, buildZipMap)
}

// stride is ONNX Runtime's notion of the feature count of an ai.onnx.ml
// input: dims[0] for rank 1, dims[1] otherwise.
func stride(shape []int64) int {
	if len(shape) == 1 {
		return int(shape[0])
	}
	return int(shape[1])
}

// Scaler: Y = (X − offset) · scale, as FLOAT; offset and scale have one
// value per feature or a single value.
type scalerKernel struct{ offset, scale []float32 }

func buildScaler(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	scale, _, err := b.attrs.floats("scale")
	if err != nil {
		return err
	}
	offset, _, err := b.attrs.floats("offset")
	if err != nil {
		return err
	}
	if len(scale) == 0 || len(scale) != len(offset) {
		return invalidModelf("scale (%d values) and offset (%d values) must be non-empty and as long", len(scale), len(offset))
	}
	b.k = &scalerKernel{offset: offset, scale: scale}
	b.outputs(valueType{tensor.Float32, b.in[0].shape})
	return nil
}

func (k *scalerKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	if len(x.Shape) == 0 {
		return invalidf("input is a scalar")
	}
	s := stride(x.Shape)
	if len(k.scale) != 1 && len(k.scale) != s {
		return invalidf("the model has %d scale values; the input has %d features", len(k.scale), s)
	}
	ensure(y, tensor.Float32, x.Shape)
	d := view[float32](y.Raw)
	switch x.DType {
	case tensor.Float32:
		scale(d, view[float32](x.Raw), k.offset, k.scale, s, func(v float32, o, sc float32) float32 { return (v - o) * sc })
	case tensor.Float64:
		scale(d, view[float64](x.Raw), k.offset, k.scale, s, func(v float64, o, sc float32) float32 {
			return float32((v - float64(o)) * float64(sc))
		})
	case tensor.Int64:
		scale(d, view[int64](x.Raw), k.offset, k.scale, s, func(v int64, o, sc float32) float32 { return (float32(v) - o) * sc })
	case tensor.Int32:
		scale(d, view[int32](x.Raw), k.offset, k.scale, s, func(v int32, o, sc float32) float32 { return (float32(v) - o) * sc })
	}
	return nil
}

func scale[S numeric](d []float32, x []S, offset, sc []float32, stride int, f func(S, float32, float32) float32) {
	x = x[:len(d)]
	if len(sc) == 1 {
		o, s := offset[0], sc[0]
		for i, v := range x {
			d[i] = f(v, o, s)
		}
		return
	}
	for i, v := range x {
		j := i % stride
		d[i] = f(v, offset[j], sc[j])
	}
}

// Normalizer: per row (along axis 1), MAX: x/max; L1: x/Σ|x|; L2:
// sign(x)·√(x²/Σx²); a zero divisor leaves the row unchanged. FLOAT output.
type normalizerKernel struct{ norm string }

func buildNormalizer(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	norm, err := b.attrs.str("norm", "MAX")
	if err != nil {
		return err
	}
	if norm != "MAX" && norm != "L1" && norm != "L2" {
		return invalidModelf("norm %q is not MAX, L1 or L2", norm)
	}
	b.k = &normalizerKernel{norm: norm}
	b.outputs(valueType{tensor.Float32, b.in[0].shape})
	return nil
}

func (k *normalizerKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	if len(x.Shape) == 0 {
		return invalidf("input is a scalar")
	}
	ensure(y, tensor.Float32, x.Shape)
	total := numElems(x.Shape)
	s := stride(x.Shape)
	if s == 0 || total == 0 {
		return nil
	}
	// Normalise along axis 1: rows of s elements, inc apart.
	inc := 1
	if len(x.Shape) > 2 {
		inc = prod(x.Shape, 2, len(x.Shape))
	}
	loops := total / s
	d := view[float32](y.Raw)
	for n := 0; n < loops; n++ {
		off := n%inc + n/inc*s*inc
		switch x.DType {
		case tensor.Float32:
			normalize(k.norm, d, view[float32](x.Raw), off, s, inc)
		case tensor.Float64:
			normalize(k.norm, d, view[float64](x.Raw), off, s, inc)
		case tensor.Int64:
			normalize(k.norm, d, view[int64](x.Raw), off, s, inc)
		case tensor.Int32:
			normalize(k.norm, d, view[int32](x.Raw), off, s, inc)
		}
	}
	return nil
}

func normalize[S numeric](norm string, d []float32, x []S, off, n, inc int) {
	switch norm {
	case "MAX":
		m := float32(-math.MaxFloat32)
		for i, j := 0, off; i < n; i, j = i+1, j+inc {
			if v := float32(x[j]); m < v {
				m = v
			}
		}
		for i, j := 0, off; i < n; i, j = i+1, j+inc {
			if m != 0 {
				d[j] = float32(x[j]) / m
			} else {
				d[j] = float32(x[j])
			}
		}
	case "L1":
		var sum float32
		for i, j := 0, off; i < n; i, j = i+1, j+inc {
			v := x[j]
			if v < 0 {
				v = -v
			}
			sum += float32(v)
		}
		for i, j := 0, off; i < n; i, j = i+1, j+inc {
			if sum != 0 {
				d[j] = float32(x[j]) / sum
			} else {
				d[j] = float32(x[j])
			}
		}
	case "L2":
		var sum float32
		for i, j := 0, off; i < n; i, j = i+1, j+inc {
			sq := float32(x[j] * x[j])
			d[j] = sq
			sum += sq
		}
		for i, j := 0, off; i < n; i, j = i+1, j+inc {
			switch {
			case sum == 0:
				d[j] = float32(x[j])
			case x[j] < 0:
				d[j] = -float32(math.Sqrt(float64(d[j] / sum)))
			default:
				d[j] = float32(math.Sqrt(float64(d[j] / sum)))
			}
		}
	}
}

// Binarizer: 1 where x > threshold, else 0, in X's type. NaN is an error, as
// in ONNX Runtime, whose default threshold is 1.0 (the specification says
// 0.0; converters always set it).
type binarizerKernel struct{ threshold float32 }

func buildBinarizer(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	t, err := b.attrs.float("threshold", 1)
	if err != nil {
		return err
	}
	b.k = &binarizerKernel{threshold: t}
	b.outputs(b.in[0])
	return nil
}

func (k *binarizerKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	ensure(y, x.DType, x.Shape)
	switch x.DType {
	case tensor.Float32:
		return binarize(view[float32](y.Raw), view[float32](x.Raw), k.threshold)
	case tensor.Float64:
		return binarize(view[float64](y.Raw), view[float64](x.Raw), k.threshold)
	case tensor.Int64:
		return binarize(view[int64](y.Raw), view[int64](x.Raw), k.threshold)
	case tensor.Int32:
		return binarize(view[int32](y.Raw), view[int32](x.Raw), k.threshold)
	}
	return nil
}

func binarize[T numeric](y, x []T, threshold float32) error {
	x = x[:len(y)]
	for i, v := range x {
		f := float32(v)
		if f != f {
			return invalidf("element %d is NaN", i)
		}
		if f > threshold {
			y[i] = 1
		} else {
			y[i] = 0
		}
	}
	return nil
}

// Imputer: elements equal to the replaced value (NaN matching NaN) become
// the imputed value of their feature (or the single imputed value).
type imputerKernel struct {
	floats  []float32
	replF   float32
	ints    []int64
	replI   int64
	isFloat bool
}

func buildImputer(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, mlInputTypes...); err != nil {
		return err
	}
	k := &imputerKernel{}
	var err error
	if k.floats, _, err = b.attrs.floats("imputed_value_floats"); err != nil {
		return err
	}
	if k.ints, _, err = b.attrs.ints("imputed_value_int64s"); err != nil {
		return err
	}
	if k.replF, err = b.attrs.float("replaced_value_float", 0); err != nil {
		return err
	}
	if k.replI, err = b.attrs.int("replaced_value_int64", 0); err != nil {
		return err
	}
	if (len(k.floats) > 0) == (len(k.ints) > 0) {
		return invalidModelf("exactly one of imputed_value_floats and imputed_value_int64s must be set")
	}
	k.isFloat = b.in[0].dtype == tensor.Float32 || b.in[0].dtype == tensor.Float64
	if k.isFloat && len(k.floats) == 0 || !k.isFloat && len(k.ints) == 0 {
		return invalidModelf("the imputed values do not match the input type %s", b.in[0].dtype.ONNX())
	}
	b.k = k
	b.outputs(b.in[0])
	return nil
}

func (k *imputerKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	if len(x.Shape) == 0 {
		return invalidf("input is a scalar")
	}
	ensure(y, x.DType, x.Shape)
	s := stride(x.Shape)
	switch x.DType {
	case tensor.Float32:
		imputeFloat(view[float32](y.Raw), view[float32](x.Raw), k.floats, k.replF, s)
	case tensor.Float64:
		imputeFloat(view[float64](y.Raw), view[float64](x.Raw), k.floats, k.replF, s)
	case tensor.Int64:
		imputeInt(view[int64](y.Raw), view[int64](x.Raw), k.ints, k.replI, s)
	case tensor.Int32:
		imputeInt(view[int32](y.Raw), view[int32](x.Raw), k.ints, k.replI, s)
	}
	return nil
}

func imputeFloat[T float](y, x []T, vals []float32, repl float32, stride int) {
	x = x[:len(y)]
	r := T(repl)
	nanRepl := repl != repl
	per := len(vals) == stride && stride > 0
	for i, v := range x {
		if nanRepl && v != v || v == r {
			if per {
				y[i] = T(vals[i%stride])
			} else {
				y[i] = T(vals[0])
			}
			continue
		}
		y[i] = v
	}
}

func imputeInt[T numeric](y, x []T, vals []int64, repl int64, stride int) {
	x = x[:len(y)]
	per := len(vals) == stride && stride > 0
	for i, v := range x {
		if int64(v) == repl {
			if per {
				y[i] = T(vals[i%stride])
			} else {
				y[i] = T(vals[0])
			}
			continue
		}
		y[i] = v
	}
}

// OneHotEncoder: a FLOAT tensor with one more dimension, of the number of
// categories. Numbers are truncated to INT64 and looked up in cats_int64s,
// strings in cats_strings; an unknown category gives zeros, or an error
// with zeros=0.
type oneHotKernel struct {
	ints  map[int64]int
	strs  map[string]int
	n     int
	zeros bool
}

func buildOneHotEncoder(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32, tensor.String); err != nil {
		return err
	}
	k := &oneHotKernel{ints: map[int64]int{}, strs: map[string]int{}}
	ints, _, err := b.attrs.ints("cats_int64s")
	if err != nil {
		return err
	}
	strs, _, err := b.attrs.strs("cats_strings")
	if err != nil {
		return err
	}
	if (len(ints) > 0) == (len(strs) > 0) {
		return invalidModelf("exactly one of cats_int64s and cats_strings must be set")
	}
	for i, v := range ints {
		k.ints[v] = i
	}
	for i, v := range strs {
		k.strs[string(v)] = i
	}
	k.n = len(ints) + len(strs)
	z, err := b.attrs.int("zeros", 1)
	if err != nil {
		return err
	}
	k.zeros = z != 0
	var out []int64
	if s := b.in[0].shape; s != nil {
		out = append(append([]int64{}, s...), int64(k.n))
	}
	b.k = k
	b.outputs(valueType{tensor.Float32, out})
	return nil
}

func (k *oneHotKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	shape := append(growI64(&c.sc.i64, len(x.Shape)+1)[:0], x.Shape...)
	shape = append(shape, int64(k.n))
	if _, ok := checkedElems(shape); !ok {
		return invalidf("output shape %s is too large", shapeString(shape))
	}
	ensure(y, tensor.Float32, shape)
	d := view[float32](y.Raw)
	clear(d)
	n := numElems(x.Shape)
	for i := 0; i < n; i++ {
		j, ok := 0, false
		switch x.DType {
		case tensor.String:
			j, ok = k.strs[unsafeString(x.Strings[i])]
		case tensor.Float32:
			j, ok = k.ints[truncInt64(float64(view[float32](x.Raw)[i]))]
		case tensor.Float64:
			j, ok = k.ints[truncInt64(view[float64](x.Raw)[i])]
		case tensor.Int64:
			j, ok = k.ints[view[int64](x.Raw)[i]]
		case tensor.Int32:
			j, ok = k.ints[int64(view[int32](x.Raw)[i])]
		}
		if ok {
			d[i*k.n+j] = 1
		} else if !k.zeros {
			return invalidf("element %d is not a known category (and zeros=0)", i)
		}
	}
	return nil
}

// truncInt64 is static_cast<int64_t> of a double: truncation, with NaN and
// out-of-range values mapped to the minimum (x86-64's answer).
func truncInt64(f float64) int64 {
	if f != f || f >= 1<<63 || f < -(1<<63) {
		return math.MinInt64
	}
	return int64(f)
}

// ArrayFeatureExtractor: selects, along the last axis, the elements at the
// INT64 indices Y. A rank-1 X gives [1, len(Y)].
type afeKernel struct{}

func buildArrayFeatureExtractor(b *builder) error {
	if err := b.needInputs(2, 2); err != nil {
		return err
	}
	if err := b.typeIn(0, tensor.Float32, tensor.Float64, tensor.Int64, tensor.Int32, tensor.String); err != nil {
		return err
	}
	if b.in[1].dtype != tensor.Int64 {
		return invalidModelf("Y is %s, want INT64", b.in[1].dtype.ONNX())
	}
	var out []int64
	if s := b.in[0].shape; s != nil && len(s) > 0 {
		n := int64(-1)
		if t := b.consts[1]; t != nil {
			n = int64(numElems(t.Shape))
		}
		if len(s) == 1 {
			out = []int64{1, n}
		} else {
			out = append(append([]int64{}, s[:len(s)-1]...), n)
		}
	}
	b.k = afeKernel{}
	b.outputs(valueType{b.in[0].dtype, out})
	return nil
}

func (afeKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, yi := in[0], in[1]
	r := len(x.Shape)
	if r == 0 {
		return invalidf("X is a scalar")
	}
	last := x.Shape[r-1]
	idx := view[int64](yi.Raw)[:numElems(yi.Shape)]
	if len(idx) == 0 {
		return invalidf("no indices")
	}
	for i, v := range idx {
		if v < 0 || v >= last {
			return invalidf("index Y[%d] = %d is out of range [0, %d)", i, v, last)
		}
	}
	var shape []int64
	if r == 1 {
		shape = append(growI64(&c.sc.i64, 2)[:0], 1, int64(len(idx)))
	} else {
		shape = append(growI64(&c.sc.i64, r)[:0], x.Shape[:r-1]...)
		shape = append(shape, int64(len(idx)))
	}
	if _, ok := checkedElems(shape); !ok {
		return invalidf("output shape %s is too large", shapeString(shape))
	}
	z := out[0]
	ensure(z, x.DType, shape)
	rows := prod(x.Shape, 0, r-1)
	w := int(last)
	if x.DType == tensor.String {
		for o := 0; o < rows; o++ {
			for j, v := range idx {
				z.Strings[o*len(idx)+j] = x.Strings[o*w+int(v)]
			}
		}
		return nil
	}
	size := x.DType.Size()
	for o := 0; o < rows; o++ {
		for j, v := range idx {
			dst := (o*len(idx) + j) * size
			src := (o*w + int(v)) * size
			copy(z.Raw[dst:dst+size], x.Raw[src:src+size])
		}
	}
	return nil
}

// ZipMap turns [N, C] probabilities into one map per row, label to value.
// The engine returns the [N, C] FLOAT tensor itself, with the labels in
// the output's tensor.Info.Labels.
type zipMapKernel struct{ n int }

func buildZipMap(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if b.in[0].dtype != tensor.Float32 {
		return invalidModelf("input is %s, want FLOAT", b.in[0].dtype.ONNX())
	}
	ints, _, err := b.attrs.ints("classlabels_int64s")
	if err != nil {
		return err
	}
	strs, _, err := b.attrs.strs("classlabels_strings")
	if err != nil {
		return err
	}
	if (len(ints) > 0) == (len(strs) > 0) {
		return invalidModelf("exactly one of classlabels_int64s and classlabels_strings must be set")
	}
	labels := make([]string, 0, len(ints)+len(strs))
	for _, v := range ints {
		labels = append(labels, strconv.FormatInt(v, 10))
	}
	for _, v := range strs {
		labels = append(labels, string(v))
	}
	b.k, b.alias, b.labels = &zipMapKernel{n: len(labels)}, true, labels
	b.outputs(valueType{tensor.Float32, []int64{batchDim(b.in[0].shape), int64(len(labels))}})
	return nil
}

func (k *zipMapKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x := in[0]
	r := len(x.Shape)
	if r == 0 || r > 2 {
		return invalidf("ZipMap takes [N, C] or [C], got %s", shapeString(x.Shape))
	}
	if int(x.Shape[r-1]) != k.n {
		return invalidf("%d columns for %d class labels", x.Shape[r-1], k.n)
	}
	s := growI64(&c.sc.i64, 2)
	s[0], s[1] = 1, int64(k.n)
	if r == 2 {
		s[0] = x.Shape[0]
	}
	aliasOf(out[0], x, s)
	return nil
}
