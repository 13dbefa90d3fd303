package native

import (
	"slices"
	"sort"
	"strconv"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// Operator set domains, as the engine names them in messages.
const (
	domainONNX = "ai.onnx"
	domainML   = "ai.onnx.ml"
)

// maxOpset is the newest version of each operator set whose operators the
// engine knows. A model importing a newer one may use operators whose
// meaning changed, so they are reported as unsupported.
var maxOpset = map[string]int{domainONNX: 25, domainML: 5}

// valueType is what the planner knows about a value before any run.
type valueType struct {
	dtype tensor.DType
	shape []int64 // nil: rank unknown; -1: dimension unknown
}

// kernel computes a node. in holds the node's inputs (nil for an omitted
// optional input) and out its outputs (nil for an omitted output). A kernel
// sets each output's DType and Shape and fills it, reusing the capacity of
// its buffers, and must not modify its inputs. Kernels are shared by every
// concurrent Run: per-run memory comes from c.
type kernel interface {
	run(c *runCtx, in, out []*tensor.Tensor) error
}

// opDef is an operator the engine implements.
type opDef struct {
	// versions are the operator set versions in which the operator changed
	// (its "since" versions) that the engine implements, ascending. A node
	// gets the newest one not newer than the model's import.
	versions []int
	// build checks the node and makes its kernel.
	build func(b *builder) error
}

// builder carries what a build function knows about a node, and what it
// decides.
type builder struct {
	node    *onnxpb.NodeProto
	domain  string
	op      string
	version int // the operator version in effect
	opset   int // the model's import of the domain
	attrs   attrs
	in      []valueType      // one per node input; dtype Invalid when omitted
	consts  []*tensor.Tensor // the value of inputs known at load time, else nil

	k      kernel
	out    []valueType // one per node output
	alias  bool        // output 0 shares input 0's elements
	labels []string    // ZipMap class labels of output 0
}

// present reports whether input i is given.
func (b *builder) present(i int) bool { return i < len(b.in) && b.in[i].dtype != tensor.Invalid }

// outputs sets the types of the node's outputs, in order; outputs beyond
// types stay Invalid.
func (b *builder) outputs(types ...valueType) {
	b.out = make([]valueType, len(b.node.GetOutput()))
	copy(b.out, types)
}

// needInputs checks the number of inputs.
func (b *builder) needInputs(min, max int) error {
	n := len(b.in)
	for n > 0 && !b.present(n-1) {
		n--
	}
	if n < min || n > max {
		if min == max {
			return invalidModelf("takes %d inputs, has %d", min, n)
		}
		return invalidModelf("takes %d to %d inputs, has %d", min, max, n)
	}
	for i := range min {
		if !b.present(i) {
			return invalidModelf("input %d is required", i)
		}
	}
	if len(b.node.GetOutput()) == 0 {
		return invalidModelf("has no outputs")
	}
	return nil
}

// typeIn checks that input i has one of the given types.
func (b *builder) typeIn(i int, allowed ...tensor.DType) error {
	if slices.Contains(allowed, b.in[i].dtype) {
		return nil
	}
	return unsupportedf("on %s", b.in[i].dtype.ONNX())
}

// Element type groups.
var (
	floatTypes   = []tensor.DType{tensor.Float32, tensor.Float64}
	intTypes     = []tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64}
	numericTypes = append(slices.Clone(intTypes), floatTypes...)
	allTypes     = append(slices.Clone(numericTypes), tensor.Bool, tensor.String, tensor.Float16, tensor.BFloat16)
)

// registry maps "domain/op" to its definition. It is filled by init
// functions of the files that implement the operators.
var registry = map[string]*opDef{}

func register(domain, op string, versions []int, build func(b *builder) error) {
	registry[domain+"/"+op] = &opDef{versions: versions, build: build}
}

// lookup finds the operator version a node gets at the model's opset import.
func lookup(domain, op string, opset int) (*opDef, int, bool) {
	d := registry[domain+"/"+op]
	if d == nil || opset > maxOpset[domain] {
		return nil, 0, false
	}
	v := 0
	for _, sv := range d.versions {
		if sv <= opset {
			v = sv
		}
	}
	return d, v, v > 0
}

// Operators lists the operators the engine implements, with the operator
// set versions in which they changed, as "ai.onnx/Gemm 1,6,7,9,11,13".
func Operators() []string {
	var out []string
	for k, d := range registry {
		vs := make([]string, len(d.versions))
		for i, v := range d.versions {
			vs[i] = strconv.Itoa(v)
		}
		s := k + " "
		for i, v := range vs {
			if i > 0 {
				s += ","
			}
			s += v
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// normDomain maps the default domain's two spellings to "ai.onnx".
func normDomain(d string) string {
	if d == "" {
		return domainONNX
	}
	return d
}
