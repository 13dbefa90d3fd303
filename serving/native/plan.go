package native

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// IR versions the engine reads: 3 (ONNX 1.0, the first with operator set
// imports) to 12 (ONNX 1.19+; the IR versions since 4 add structures and
// element types, which are checked where they are used).
const (
	minIRVersion = 3
	maxIRVersion = 12
)

// plan is a model compiled for execution: the values of the graph (inputs,
// constants, intermediate results), the nodes in execution order, and where
// each intermediate value lives during a run. It is immutable and shared by
// every concurrent Run.
type plan struct {
	values   []valueMeta
	nodes    []planNode
	inputs   []graphInput
	inputIdx map[string]int
	outputs  []graphOutput
	outIdx   map[string]int
	nSlots   int // numeric buffers a run needs
	nStrs    int // string buffers a run needs
}

// valueMeta describes a value of the graph.
type valueMeta struct {
	name   string
	typ    valueType
	konst  *tensor.Tensor // a constant (initializer, Constant or folded node)
	input  int            // graph input index, or -1
	labels []string       // ZipMap class labels
	node   int            // producing node, or -1
	alias  bool           // the value shares the elements of another
	root   int            // the node output whose buffer holds the elements, -1 if none
	last   int            // last node reading the value's elements (len(nodes): a graph output)
	slot   int            // buffer slot, -1 if none
}

type planNode struct {
	name  string // the node's name, or its first output's
	op    string // "ai.onnx/Gemm (opset 13)"
	k     kernel
	in    []int // value ids, -1 for an omitted input
	out   []int // value ids, -1 for an omitted output
	slots []int // buffer slot of each output, -1 when it shares another value's
}

type graphInput struct {
	info      tensor.Info
	value     int
	def       *tensor.Tensor // the initializer of an optional input
	rankKnown bool
}

type graphOutput struct {
	info  tensor.Info
	value int
}

// scan lists what the engine lacks to run m: operators (with their domain
// and the model's opset import), and graph features. It returns an error
// for a model that is not valid.
func scan(m *onnxpb.ModelProto) (missing []string, err error) {
	g := m.GetGraph()
	if g == nil {
		return nil, invalidModelf("the model has no graph")
	}
	ir := m.GetIrVersion()
	if ir < minIRVersion || ir > maxIRVersion {
		missing = append(missing, fmt.Sprintf("IR version %d (the engine reads %d to %d)", ir, minIRVersion, maxIRVersion))
	}
	opsets, err := opsetImports(m)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			missing = append(missing, s)
		}
	}
	for _, n := range g.GetNode() {
		domain := normDomain(n.GetDomain())
		opset, ok := opsets[domain]
		if !ok {
			return nil, invalidModelf("node %q uses domain %q, which the model does not import", nodeName(n), domain)
		}
		if _, _, ok := lookup(domain, n.GetOpType(), opset); !ok {
			add(fmt.Sprintf("%s/%s (opset %d)", domain, n.GetOpType(), opset))
			continue
		}
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil || len(a.GetGraphs()) > 0 {
				add(fmt.Sprintf("%s/%s (opset %d) with a subgraph", domain, n.GetOpType(), opset))
			}
		}
	}
	if len(g.GetSparseInitializer()) > 0 {
		add("sparse initializers")
	}
	for _, t := range g.GetInitializer() {
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
			add("initializers with external data")
			break
		}
	}
	zipMaps := zipMapOutputs(g)
	for _, vi := range g.GetInput() {
		if _, _, isTensor, err := typeFromProto(vi.GetType()); !isTensor || err != nil {
			add(fmt.Sprintf("graph input %q of type %s", vi.GetName(), typeName(vi.GetType())))
		}
	}
	for _, vi := range g.GetOutput() {
		if vi.GetType() == nil || zipMaps[vi.GetName()] {
			continue
		}
		if _, _, isTensor, err := typeFromProto(vi.GetType()); !isTensor || err != nil {
			add(fmt.Sprintf("graph output %q of type %s", vi.GetName(), typeName(vi.GetType())))
		}
	}
	return missing, nil
}

// opsetImports maps each imported domain to its version.
func opsetImports(m *onnxpb.ModelProto) (map[string]int, error) {
	opsets := map[string]int{}
	for _, o := range m.GetOpsetImport() {
		d := normDomain(o.GetDomain())
		if _, dup := opsets[d]; dup {
			return nil, invalidModelf("operator set %q is imported twice", d)
		}
		if o.GetVersion() < 1 || o.GetVersion() > 1<<20 {
			return nil, invalidModelf("operator set %q has version %d", d, o.GetVersion())
		}
		opsets[d] = int(o.GetVersion())
	}
	return opsets, nil
}

// zipMapOutputs returns the values a ZipMap produces, directly or through
// Identity nodes: graph outputs of type seq(map) that the engine returns as
// tensors.
func zipMapOutputs(g *onnxpb.GraphProto) map[string]bool {
	out := map[string]bool{}
	for range 2 { // a second pass catches Identity nodes listed before their ZipMap
		for _, n := range g.GetNode() {
			d := normDomain(n.GetDomain())
			switch {
			case d == domainML && n.GetOpType() == "ZipMap",
				d == domainONNX && n.GetOpType() == "Identity" && len(n.GetInput()) == 1 && out[n.GetInput()[0]]:
				for _, o := range n.GetOutput() {
					out[o] = true
				}
			}
		}
	}
	return out
}

func nodeName(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.GetOutput()) > 0 {
		return n.GetOutput()[0]
	}
	return n.GetOpType()
}

// compile checks a model and plans its execution. Errors wrap
// serving.ErrUnsupported (as *UnsupportedError) or onnx.ErrInvalidModel.
func compile(m *onnxpb.ModelProto) (*plan, error) {
	missing, err := scan(m)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, &UnsupportedError{Missing: missing}
	}
	opsets, _ := opsetImports(m)
	g := m.GetGraph()
	p := &plan{inputIdx: map[string]int{}, outIdx: map[string]int{}}
	byName := map[string]int{}
	newValue := func(v valueMeta) int {
		v.input, v.node, v.slot = -1, -1, -1
		p.values = append(p.values, v)
		id := len(p.values) - 1
		p.values[id].root = id
		byName[v.name] = id
		return id
	}

	// Constants and inputs.
	for _, tp := range g.GetInitializer() {
		if tp.GetName() == "" {
			return nil, invalidModelf("an initializer has no name")
		}
		if _, dup := byName[tp.GetName()]; dup {
			return nil, invalidModelf("initializer %q is defined twice", tp.GetName())
		}
		t, err := tensorFromProto(tp)
		if err != nil {
			return nil, wrapFeature(err, "initializer "+strconv.Quote(tp.GetName()))
		}
		newValue(valueMeta{name: tp.GetName(), typ: valueType{t.DType, t.Shape}, konst: t})
	}
	seenInput := map[string]bool{}
	for _, vi := range g.GetInput() {
		name := vi.GetName()
		if name == "" || seenInput[name] {
			return nil, invalidModelf("graph input %q is unnamed or listed twice", name)
		}
		seenInput[name] = true
		vt, dims, ok, err := typeFromProto(vi.GetType())
		if err != nil {
			return nil, wrapFeature(err, "graph input "+strconv.Quote(name))
		}
		if !ok {
			return nil, &UnsupportedError{Missing: []string{fmt.Sprintf("graph input %q of type %s", name, typeName(vi.GetType()))}}
		}
		in := graphInput{info: tensor.Info{Name: name, DType: vt.dtype, Shape: vt.shape}, rankKnown: vt.shape != nil}
		_ = dims
		if id, isInit := byName[name]; isInit {
			// An initializer that is also an input: an optional input whose
			// default is the initializer (IR < 4 lists every initializer so).
			v := &p.values[id]
			if v.typ.dtype != vt.dtype {
				return nil, invalidModelf("graph input %q is %s but its initializer is %s", name, vt.dtype.ONNX(), v.typ.dtype.ONNX())
			}
			in.def, v.konst = v.konst, nil
			in.value = id
			if vt.shape == nil {
				v.typ.shape = nil
			}
		} else {
			in.value = newValue(valueMeta{name: name, typ: vt})
		}
		p.values[in.value].input = len(p.inputs)
		p.inputIdx[name] = len(p.inputs)
		p.inputs = append(p.inputs, in)
	}

	// Nodes, in order, folding those whose inputs are all constants.
	producer := map[string]int{}
	for i, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				if _, dup := producer[o]; dup {
					return nil, invalidModelf("value %q is produced by two nodes", o)
				}
				producer[o] = i
			}
		}
	}
	fold := &state{threads: 1}
	for _, n := range g.GetNode() {
		domain := normDomain(n.GetDomain())
		opset := opsets[domain]
		def, version, _ := lookup(domain, n.GetOpType(), opset)
		opName := fmt.Sprintf("%s/%s (opset %d)", domain, n.GetOpType(), opset)
		where := fmt.Sprintf("node %q (%s)", nodeName(n), opName)
		a, err := newAttrs(n)
		if err != nil {
			return nil, wrapNode(err, opName, nodeName(n))
		}
		b := &builder{node: n, domain: domain, op: n.GetOpType(), version: version, opset: opset, attrs: a,
			in: make([]valueType, len(n.GetInput())), consts: make([]*tensor.Tensor, len(n.GetInput()))}
		ins := make([]int, len(n.GetInput()))
		allConst := true
		for j, name := range n.GetInput() {
			ins[j] = -1
			if name == "" {
				continue
			}
			id, ok := byName[name]
			if !ok {
				if k, later := producer[name]; later {
					return nil, &UnsupportedError{Missing: []string{fmt.Sprintf(
						"graphs whose nodes are not in topological order (%s reads %q, which node %q further down produces)",
						where, name, nodeName(g.GetNode()[k]))}}
				}
				return nil, invalidModelf("%s reads %q, which is not a graph input, an initializer or a node output", where, name)
			}
			ins[j] = id
			b.in[j] = p.values[id].typ
			b.consts[j] = p.values[id].konst
			if b.consts[j] == nil {
				allConst = false
			}
		}
		if err := def.build(b); err != nil {
			return nil, wrapNode(err, opName, nodeName(n))
		}
		if len(b.out) != len(n.GetOutput()) {
			return nil, fmt.Errorf("native: %s: the builder declared %d outputs for %d", where, len(b.out), len(n.GetOutput()))
		}
		outs := make([]int, len(n.GetOutput()))
		for j, name := range n.GetOutput() {
			outs[j] = -1
			if name == "" {
				continue
			}
			if _, dup := byName[name]; dup {
				return nil, invalidModelf("%s produces %q, which is already a graph input or initializer", where, name)
			}
			outs[j] = newValue(valueMeta{name: name, typ: b.out[j]})
		}
		labels := b.labels
		if labels == nil && b.op == "Identity" && len(ins) > 0 && ins[0] >= 0 {
			labels = p.values[ins[0]].labels // a ZipMap's output, renamed
		}
		if labels != nil && len(outs) > 0 && outs[0] >= 0 {
			p.values[outs[0]].labels = labels
		}
		if allConst {
			if err := foldNode(fold, b.k, p, ins, outs); err != nil {
				return nil, fmt.Errorf("%s: %w", where, asModelError(err))
			}
			continue
		}
		nodeIdx := len(p.nodes)
		for j, o := range outs {
			if o < 0 {
				continue
			}
			p.values[o].node = nodeIdx
			if j == 0 && b.alias {
				// The output shares the elements of input 0: it lives as
				// long as they do, and has no buffer of its own.
				p.values[o].alias = true
				p.values[o].root = -1
				if in := ins[0]; in >= 0 && p.values[in].node >= 0 {
					p.values[o].root = p.values[in].root
				}
			}
		}
		p.nodes = append(p.nodes, planNode{name: nodeName(n), op: opName, k: b.k, in: ins, out: outs})
	}

	// Graph outputs.
	for _, vi := range g.GetOutput() {
		name := vi.GetName()
		id, ok := byName[name]
		if !ok {
			return nil, invalidModelf("graph output %q is not produced by any node", name)
		}
		if _, dup := p.outIdx[name]; dup {
			return nil, invalidModelf("graph output %q is listed twice", name)
		}
		v := &p.values[id]
		info := tensor.Info{Name: name, DType: v.typ.dtype, Shape: v.typ.shape}
		if v.labels != nil {
			info.Shape = []int64{-1, int64(len(v.labels))}
			info.Labels = v.labels
		} else if vi.GetType() != nil {
			vt, _, isTensor, err := typeFromProto(vi.GetType())
			if err != nil {
				return nil, wrapFeature(err, "graph output "+strconv.Quote(name))
			}
			if !isTensor {
				return nil, &UnsupportedError{Missing: []string{fmt.Sprintf("graph output %q of type %s", name, typeName(vi.GetType()))}}
			}
			if vt.dtype != v.typ.dtype {
				return nil, invalidModelf("graph output %q is declared %s but computed as %s", name, vt.dtype.ONNX(), v.typ.dtype.ONNX())
			}
			if vt.shape != nil {
				info.Shape = vt.shape
			}
		}
		if info.Shape != nil {
			info.Shape = append([]int64{}, info.Shape...)
		}
		p.outIdx[name] = len(p.outputs)
		p.outputs = append(p.outputs, graphOutput{info: info, value: id})
	}
	p.prune()
	p.fuse()
	p.assignSlots()
	return p, nil
}

// fuse merges each Relu into the Gemm that feeds it when nothing else reads
// the Gemm's output: the Gemm applies it as it stores its results, and the
// intermediate value disappears.
func (p *plan) fuse() {
	readers := make([]int, len(p.values))
	reader := make([]int, len(p.values)) // the last node reading each value
	for i, n := range p.nodes {
		for _, id := range n.in {
			if id >= 0 {
				readers[id]++
				reader[id] = i
			}
		}
	}
	for _, o := range p.outputs {
		readers[o.value]++
	}
	drop := make([]bool, len(p.nodes))
	for i := range p.nodes {
		g := &p.nodes[i]
		gk, ok := g.k.(*gemmKernel)
		if !ok || gk.relu || len(g.out) != 1 || g.out[0] < 0 || readers[g.out[0]] != 1 {
			continue
		}
		mid, j := g.out[0], reader[g.out[0]]
		r := &p.nodes[j]
		if uk, ok := r.k.(*unaryKernel); !ok || uk.op != "Relu" || len(r.out) != 1 || r.out[0] < 0 {
			continue
		}
		fused := *gk
		fused.relu = true
		g.k = &fused
		g.out = []int{r.out[0]}
		p.values[mid].node = -1
		drop[j] = true
	}
	var nodes []planNode
	for i, n := range p.nodes {
		if drop[i] {
			continue
		}
		for _, o := range n.out {
			if o >= 0 {
				p.values[o].node = len(nodes)
			}
		}
		nodes = append(nodes, n)
	}
	p.nodes = nodes
}

// prune drops the nodes none of whose outputs is needed for a graph output.
func (p *plan) prune() {
	needed := make([]bool, len(p.values))
	for _, o := range p.outputs {
		needed[o.value] = true
	}
	keep := make([]bool, len(p.nodes))
	for i := len(p.nodes) - 1; i >= 0; i-- {
		n := &p.nodes[i]
		for _, o := range n.out {
			if o >= 0 && needed[o] {
				keep[i] = true
			}
		}
		if keep[i] {
			for _, in := range n.in {
				if in >= 0 {
					needed[in] = true
				}
			}
		}
	}
	var nodes []planNode
	for i, n := range p.nodes {
		for _, o := range n.out {
			if o >= 0 {
				p.values[o].node = -1
				if keep[i] {
					p.values[o].node = len(nodes)
				}
			}
		}
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	p.nodes = nodes
}

// wrapFeature names where a builder error happened. A feature error becomes
// an *UnsupportedError.
func wrapFeature(err error, where string) error {
	return wrapNode(err, where, "")
}

// wrapNode is wrapFeature for an operator of a node: "ai.onnx/Gemm (opset
// 13) on INT32 (node \"fc1\")".
func wrapNode(err error, op, node string) error {
	var fe *featureError
	if errors.As(err, &fe) {
		item := op + " " + fe.msg
		if node != "" {
			item += fmt.Sprintf(" (node %q)", node)
		}
		return &UnsupportedError{Missing: []string{item}}
	}
	if node != "" {
		return fmt.Errorf("node %q (%s): %w", node, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// asModelError turns an error from a kernel run on constants (at load time)
// into an invalid-model error.
func asModelError(err error) error {
	var ii *invalidInput
	if errors.As(err, &ii) {
		return invalidModelf("%s", ii.msg)
	}
	return err
}

// foldNode runs a node whose inputs are all constants, once, and records its
// outputs as constants.
func foldNode(st *state, k kernel, p *plan, ins, outs []int) error {
	in := make([]*tensor.Tensor, len(ins))
	for j, id := range ins {
		if id >= 0 {
			in[j] = p.values[id].konst
		}
	}
	out := make([]*tensor.Tensor, len(outs))
	for j, id := range outs {
		if id >= 0 {
			out[j] = &tensor.Tensor{Name: p.values[id].name}
		}
	}
	c := &runCtx{st: st, sc: &scratch{}}
	if err := protect(func() error { return k.run(c, in, out) }); err != nil {
		return err
	}
	for j, id := range outs {
		if id < 0 {
			continue
		}
		t := out[j]
		if t.DType == tensor.String {
			// Strings may point into the folding state's arena, which is
			// reused: give them their own memory.
			for i, s := range t.Strings {
				t.Strings[i] = append([]byte{}, s...)
			}
		}
		v := &p.values[id]
		v.konst = t
		v.typ = valueType{t.DType, append([]int64{}, t.Shape...)}
	}
	return nil
}

// assignSlots computes how long each intermediate value lives and gives
// values whose lifetimes do not overlap the same buffer.
func (p *plan) assignSlots() {
	end := len(p.nodes)
	for id := range p.values {
		p.values[id].last = -1
	}
	use := func(id, at int) {
		if id < 0 || p.values[id].node < 0 {
			return // graph inputs and constants live outside the buffers
		}
		if r := p.values[id].root; r >= 0 {
			p.values[r].last = max(p.values[r].last, at)
		}
	}
	for i, n := range p.nodes {
		for _, id := range n.in {
			use(id, i)
		}
		for _, id := range n.out {
			use(id, i)
		}
	}
	for _, o := range p.outputs {
		use(o.value, end)
	}
	freeAt := make([][]int, end+1)
	for id, v := range p.values {
		if v.node >= 0 && !v.alias {
			freeAt[v.last] = append(freeAt[v.last], id)
		}
	}
	var freeNum, freeStr []int
	for i := range p.nodes {
		n := &p.nodes[i]
		n.slots = make([]int, len(n.out))
		for j, id := range n.out {
			n.slots[j] = -1
			if id < 0 || p.values[id].alias {
				continue
			}
			var s int
			if p.values[id].typ.dtype == tensor.String {
				if k := len(freeStr); k > 0 {
					s, freeStr = freeStr[k-1], freeStr[:k-1]
				} else {
					s = p.nStrs
					p.nStrs++
				}
			} else {
				if k := len(freeNum); k > 0 {
					s, freeNum = freeNum[k-1], freeNum[:k-1]
				} else {
					s = p.nSlots
					p.nSlots++
				}
			}
			p.values[id].slot = s
			n.slots[j] = s
		}
		for _, id := range freeAt[i] {
			if p.values[id].typ.dtype == tensor.String {
				freeStr = append(freeStr, p.values[id].slot)
			} else {
				freeNum = append(freeNum, p.values[id].slot)
			}
		}
	}
}

// state is the memory of one run: a tensor per value, the buffers they
// live in, and scratch space per node. States are pooled; one is used by one
// Run at a time.
type state struct {
	vals    []tensor.Tensor
	slots   [][]byte
	strs    [][][]byte
	nodeIn  [][]*tensor.Tensor
	nodeOut [][]*tensor.Tensor
	scratch []scratch
	ctxs    []runCtx // per node: the state and the node's scratch
	arena   []byte   // bytes of strings made by kernels
	inBufs  [][]byte // aligned copies of unaligned inputs
	fed     []bool
	want    []bool
	threads int // goroutines a parallel loop may use; 0: GOMAXPROCS
}

// scratch is per-node temporary memory.
type scratch struct {
	f32  []float32
	f64  []float64
	i64  []int64
	i64b []int64
	i64c []int64
	b    []bool
	i32  []int32
	f32b []float32
	f32c []float32
	gemm sgemm        // the product of a Gemm or MatMul
	task any          // a kernel's state for parallel loops (*treeTask[T])
	job  *parallelJob // the node's parallel loops (runCtx.job)
}

// runCtx is what a kernel gets besides its inputs and outputs.
type runCtx struct {
	st *state
	sc *scratch
}

// str returns the bytes appended to the arena since start, as a
// slice that cannot grow into what follows.
func (c *runCtx) str(start int) []byte {
	a := c.st.arena
	return a[start:len(a):len(a)]
}

func (p *plan) newState() *state {
	st := &state{
		vals:    make([]tensor.Tensor, len(p.values)),
		slots:   make([][]byte, p.nSlots),
		strs:    make([][][]byte, p.nStrs),
		nodeIn:  make([][]*tensor.Tensor, len(p.nodes)),
		nodeOut: make([][]*tensor.Tensor, len(p.nodes)),
		scratch: make([]scratch, len(p.nodes)),
		ctxs:    make([]runCtx, len(p.nodes)),
		inBufs:  make([][]byte, len(p.inputs)),
		fed:     make([]bool, len(p.inputs)),
		want:    make([]bool, len(p.outputs)),
	}
	for id, v := range p.values {
		st.vals[id].Name = v.name
		if v.konst != nil {
			st.vals[id] = *v.konst
		}
	}
	for i, n := range p.nodes {
		st.ctxs[i] = runCtx{st: st, sc: &st.scratch[i]}
		st.nodeIn[i] = make([]*tensor.Tensor, len(n.in))
		for j, id := range n.in {
			if id >= 0 {
				st.nodeIn[i][j] = &st.vals[id]
			}
		}
		st.nodeOut[i] = make([]*tensor.Tensor, len(n.out))
		for j, id := range n.out {
			if id >= 0 {
				st.nodeOut[i][j] = &st.vals[id]
			}
		}
	}
	return st
}

// execute runs every node. The inputs are bound in st.vals.
func (p *plan) execute(st *state, ctx context.Context) error {
	st.arena = st.arena[:0]
	for i := range p.nodes {
		n := &p.nodes[i]
		for j, s := range n.slots {
			if s < 0 {
				continue
			}
			v := &st.vals[n.out[j]]
			if p.values[n.out[j]].typ.dtype == tensor.String {
				v.Strings = st.strs[s]
			} else {
				v.Raw = st.slots[s]
			}
		}
		if err := n.k.run(&st.ctxs[i], st.nodeIn[i], st.nodeOut[i]); err != nil {
			return p.nodeError(i, err)
		}
		for j, s := range n.slots {
			if s < 0 {
				continue
			}
			v := &st.vals[n.out[j]]
			if p.values[n.out[j]].typ.dtype == tensor.String {
				st.strs[s] = v.Strings
			} else {
				st.slots[s] = v.Raw
			}
		}
		if i%16 == 15 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *plan) nodeError(i int, err error) error {
	n := &p.nodes[i]
	var ii *invalidInput
	if errors.As(err, &ii) {
		return invalidf("node %q (%s): %s", n.name, n.op, ii.msg)
	}
	return fmt.Errorf("native: node %q (%s): %w", n.name, n.op, err)
}

// protect runs f, turning a panic into an error. Kernels are written not to
// panic; this is the last line of defence.
func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("native: internal error: %v", r)
		}
	}()
	return f()
}
