package native

import (
	"math"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

func init() {
	register(domainONNX, "Softmax", []int{1, 11, 13}, buildSoftmax)
	register(domainONNX, "LogSoftmax", []int{1, 11, 13}, buildSoftmax)
	register(domainONNX, "ArgMax", []int{1, 11, 12, 13}, buildArgMax)
}

// Softmax and LogSoftmax. From opset 13 they normalise along one axis
// (default -1); before, the input is seen as 2-D [∏d<axis, ∏d≥axis]
// (default axis 1) and each row is normalised.
type softmaxKernel struct {
	log     bool
	axis    int64
	flatten bool
}

func buildSoftmax(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, floatTypes...); err != nil {
		return err
	}
	k := &softmaxKernel{log: b.op == "LogSoftmax", flatten: b.version < 13}
	def := int64(-1)
	if k.flatten {
		def = 1
	}
	var err error
	if k.axis, err = b.attrs.int("axis", def); err != nil {
		return err
	}
	b.k = k
	b.outputs(b.in[0])
	return nil
}

func (k *softmaxKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	r := len(x.Shape)
	var outer, n, inner int
	if k.flatten {
		a, ok := normFlattenAxis(k.axis, r)
		if !ok || a == r && r > 0 {
			return invalidf("axis %d is out of range for %s", k.axis, shapeString(x.Shape))
		}
		outer, n, inner = prod(x.Shape, 0, a), prod(x.Shape, a, r), 1
	} else {
		if r == 0 {
			return invalidf("softmax of a scalar")
		}
		a, ok := normAxis(k.axis, r)
		if !ok {
			return invalidf("axis %d is out of range for %s", k.axis, shapeString(x.Shape))
		}
		outer, n, inner = prod(x.Shape, 0, a), int(x.Shape[a]), prod(x.Shape, a+1, r)
	}
	ensure(y, x.DType, x.Shape)
	switch x.DType {
	case tensor.Float32:
		softmaxRun(c, view[float32](y.Raw), view[float32](x.Raw), outer, n, inner, k.log)
	case tensor.Float64:
		softmaxRun(c, view[float64](y.Raw), view[float64](x.Raw), outer, n, inner, k.log)
	}
	return nil
}

// softmaxRun is softmax, its rows split across threads when there are
// many (an exponential costs about as much as 30 multiply-adds).
func softmaxRun[T float](c *runCtx, y, x []T, outer, n, inner int, log bool) {
	if outer < parallelRows || outer*n*inner < softmaxParallelWork {
		softmax(y, x, outer, n, inner, log)
		return
	}
	if threads := c.threads(); threads > 1 {
		t, _ := c.sc.task.(*softmaxTask[T])
		if t == nil {
			t = &softmaxTask[T]{}
			c.sc.task = t
		}
		*t = softmaxTask[T]{y: y, x: x, n: n, inner: inner, log: log}
		parallelFor(c.job(), t, outer, threads)
		*t = softmaxTask[T]{}
		return
	}
	softmax(y, x, outer, n, inner, log)
}

// softmaxParallelWork is the number of elements from which a Softmax is
// split across threads.
const softmaxParallelWork = 2048

// softmaxTask is a Softmax over ranges of its outer dimension.
type softmaxTask[T float] struct {
	y, x     []T
	n, inner int
	log      bool
}

func (t *softmaxTask[T]) runRange(lo, hi int) {
	w := t.n * t.inner
	softmax(t.y[lo*w:hi*w], t.x[lo*w:hi*w], hi-lo, t.n, t.inner, t.log)
}

// softmax normalises x, seen as [outer, n, inner], along n: subtract the
// maximum, exponentiate, divide by the sum (accumulated in T).
func softmax[T float](y, x []T, outer, n, inner int, log bool) {
	if n == 0 {
		return
	}
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			m := x[base]
			for i := 1; i < n; i++ {
				if v := x[base+i*inner]; v > m {
					m = v
				}
			}
			var sum T
			for i := 0; i < n; i++ {
				j := base + i*inner
				e := T(math.Exp(float64(x[j] - m)))
				sum += e
				if !log {
					y[j] = e
				}
			}
			if log {
				ls := T(math.Log(float64(sum)))
				for i := 0; i < n; i++ {
					j := base + i*inner
					y[j] = x[j] - m - ls
				}
				continue
			}
			for i := 0; i < n; i++ {
				y[base+i*inner] /= sum
			}
		}
	}
}

// ArgMax returns INT64 indices of the maximum along an axis; ties go to
// the first index, or the last with select_last_index.
type argMaxKernel struct {
	axis     int64
	keepDims bool
	last     bool
}

func buildArgMax(b *builder) error {
	if err := b.needInputs(1, 1); err != nil {
		return err
	}
	if err := b.typeIn(0, numericTypes...); err != nil {
		return err
	}
	k := &argMaxKernel{}
	var err error
	if k.axis, err = b.attrs.int("axis", 0); err != nil {
		return err
	}
	kd, err := b.attrs.int("keepdims", 1)
	if err != nil {
		return err
	}
	k.keepDims = kd != 0
	if b.version >= 12 {
		sl, err := b.attrs.int("select_last_index", 0)
		if err != nil {
			return err
		}
		k.last = sl != 0
	}
	var out []int64
	if s := b.in[0].shape; s != nil {
		if a, ok := normAxis(k.axis, len(s)); ok {
			for i, d := range s {
				switch {
				case i != a:
					out = append(out, d)
				case k.keepDims:
					out = append(out, 1)
				}
			}
			if out == nil {
				out = []int64{}
			}
		}
	}
	b.k = k
	b.outputs(valueType{tensor.Int64, out})
	return nil
}

func (k *argMaxKernel) run(c *runCtx, in, out []*tensor.Tensor) error {
	x, y := in[0], out[0]
	r := len(x.Shape)
	a, ok := normAxis(k.axis, r)
	if !ok {
		return invalidf("axis %d is out of range for %s", k.axis, shapeString(x.Shape))
	}
	n := int(x.Shape[a])
	if n == 0 {
		return invalidf("cannot take the arg max along an empty axis of %s", shapeString(x.Shape))
	}
	shape := growI64(&c.sc.i64, r)[:0]
	for i, d := range x.Shape {
		switch {
		case i != a:
			shape = append(shape, d)
		case k.keepDims:
			shape = append(shape, 1)
		}
	}
	ensure(y, tensor.Int64, shape)
	outer, inner := prod(x.Shape, 0, a), prod(x.Shape, a+1, r)
	dst := view[int64](y.Raw)
	switch x.DType {
	case tensor.Float32:
		argMax(dst, view[float32](x.Raw), outer, n, inner, k.last)
	case tensor.Float64:
		argMax(dst, view[float64](x.Raw), outer, n, inner, k.last)
	case tensor.Int8:
		argMax(dst, view[int8](x.Raw), outer, n, inner, k.last)
	case tensor.Int16:
		argMax(dst, view[int16](x.Raw), outer, n, inner, k.last)
	case tensor.Int32:
		argMax(dst, view[int32](x.Raw), outer, n, inner, k.last)
	case tensor.Int64:
		argMax(dst, view[int64](x.Raw), outer, n, inner, k.last)
	case tensor.Uint8:
		argMax(dst, x.Raw, outer, n, inner, k.last)
	case tensor.Uint16:
		argMax(dst, view[uint16](x.Raw), outer, n, inner, k.last)
	case tensor.Uint32:
		argMax(dst, view[uint32](x.Raw), outer, n, inner, k.last)
	case tensor.Uint64:
		argMax(dst, view[uint64](x.Raw), outer, n, inner, k.last)
	}
	return nil
}

func argMax[T numeric](dst []int64, x []T, outer, n, inner int, last bool) {
	for o := 0; o < outer; o++ {
		for in := 0; in < inner; in++ {
			base := o*n*inner + in
			best, bi := x[base], 0
			for i := 1; i < n; i++ {
				v := x[base+i*inner]
				if v > best || last && v == best {
					best, bi = v, i
				}
			}
			dst[o*inner+in] = int64(bi)
		}
	}
}
