package oip

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// inferRequest is a decoded REST inference request.
type inferRequest struct {
	id      string
	inputs  []tensor.Tensor
	outputs []string
	// outBinary says, per requested output, whether its "binary_data"
	// parameter asked for binary data: -1 not said, 0 no, 1 yes.
	outBinary []int8
	// binaryOutput is the request's "binary_data_output" parameter.
	binaryOutput bool
	// routingKey is the request parameter named by decodeOptions.routingParam.
	routingKey string
	// params holds the request's other string and number parameters (a
	// few, short), for a rollout's sticky key "param:<name>".
	params map[string]string
}

type decodeOptions struct {
	// routingParam is the request parameter that carries the routing key.
	routingParam string
}

// maxParams and maxParamLen bound the request parameters kept for routing.
const (
	maxParams   = 32
	maxParamLen = 256
)

// maxDepth bounds the nesting of JSON arrays and objects.
const maxDepth = 64

// maxRank bounds the number of dimensions of a tensor.
const maxRank = 64

// decodeInferRequest decodes an inference request body. headerLen is the
// Inference-Header-Content-Length header (-1 if absent): the JSON is then
// body[:headerLen] and the binary tensor data follows it.
//
// The decoder reads the bytes once and writes numbers straight into the
// tensors' Raw buffers. Tensors own their data: nothing aliases body, so
// the caller may reuse it once this returns.
func decodeInferRequest(body []byte, headerLen int, opts decodeOptions) (*inferRequest, error) {
	js, bin := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > len(body) {
			return nil, invalidf("the Inference-Header-Content-Length header says the JSON is %d bytes but the body has only %d", headerLen, len(body))
		}
		js, bin = body[:headerLen], body[headerLen:]
	}
	d := decoder{b: js, opts: opts}
	req := &inferRequest{}
	var states []inputState
	if err := d.request(req, &states); err != nil {
		return nil, err
	}
	if err := checkNames(req.inputs); err != nil {
		return nil, err
	}
	off := 0
	for i := range req.inputs {
		t, st := &req.inputs[i], &states[i]
		switch {
		case st.binSize >= 0 && st.parsed:
			return nil, invalidf("input %q has both \"data\" and a binary_data_size parameter; send one or the other", t.Name)
		case st.binSize >= 0:
			if headerLen < 0 {
				return nil, invalidf("input %q has a binary_data_size parameter but the request has no Inference-Header-Content-Length header giving the length of the JSON part", t.Name)
			}
			if st.binSize > int64(len(bin)-off) {
				return nil, invalidf("input %q: binary_data_size is %d but only %d bytes of binary data remain after the JSON", t.Name, st.binSize, len(bin)-off)
			}
			if err := decodeRaw("input", t, bin[off:off+int(st.binSize)], true); err != nil {
				return nil, err
			}
			off += int(st.binSize)
		case !st.parsed:
			return nil, invalidf("input %q has no \"data\" (and no binary_data_size parameter)", t.Name)
		}
	}
	if off != len(bin) {
		return nil, invalidf("the body has %d bytes of binary data after the JSON but the inputs' binary_data_size parameters add up to %d", len(bin), off)
	}
	return req, nil
}

// checkNames rejects duplicate input names.
func checkNames(ts []tensor.Tensor) error {
	if len(ts) <= 16 {
		for i := range ts {
			for j := range i {
				if ts[i].Name == ts[j].Name {
					return invalidf("input %q is given twice", ts[i].Name)
				}
			}
		}
		return nil
	}
	seen := make(map[string]bool, len(ts))
	for i := range ts {
		if seen[ts[i].Name] {
			return invalidf("input %q is given twice", ts[i].Name)
		}
		seen[ts[i].Name] = true
	}
	return nil
}

// inputState is what the decoder tracks about one input while reading it.
type inputState struct {
	hasName, hasShape, hasType bool
	parsed                     bool  // the data was read
	dataStart, dataEnd         int   // a "data" value seen before name, shape or datatype
	binSize                    int64 // the binary_data_size parameter, -1 if none
}

// decoder is a JSON reader over a byte slice that knows the shape of an
// inference request. Errors are errkind.Invalid with a message for the
// client.
type decoder struct {
	b       []byte
	i       int
	opts    decodeOptions
	scratch []byte // unescaped strings
}

func (d *decoder) syntax(what string) error {
	if d.i >= len(d.b) {
		return invalidf("the request is not valid JSON: it ends early (%s)", what)
	}
	return invalidf("the request is not valid JSON: at byte %d: %s, found %s", d.i, what, describe(d.b[d.i]))
}

func describe(c byte) string {
	switch {
	case c == '"':
		return "a string"
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	case c == 'N' || c == 'I':
		return "a NaN or Infinity"
	case c >= 0x20 && c < 0x7f:
		return strconv.QuoteRune(rune(c))
	}
	return "byte " + strconv.Itoa(int(c))
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte (0 at the end).
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object reads a JSON object, calling field for each key with d.i at the
// value. The key is only valid until field reads a string.
func (d *decoder) object(what string, field func(key []byte) error) error {
	if d.peek() != '{' {
		return d.syntax("expected " + what + " to be an object")
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntax("expected a key in " + what)
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.syntax("expected ':' after a key in " + what)
		}
		d.i++
		d.ws()
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("expected ',' or '}' in " + what)
		}
	}
}

// array reads a JSON array, calling elem with d.i at each element.
func (d *decoder) array(what string, elem func() error) error {
	if d.peek() != '[' {
		return d.syntax("expected " + what + " to be an array")
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("expected ',' or ']' in " + what)
		}
	}
}

func (d *decoder) request(req *inferRequest, states *[]inputState) error {
	sawInputs := false
	err := d.object("the request", func(key []byte) error {
		switch string(key) {
		case "id":
			s, err := d.stringValue("\"id\"")
			if err != nil {
				return err
			}
			req.id = string(s)
		case "parameters":
			return d.requestParams(req)
		case "inputs":
			sawInputs = true
			return d.array("\"inputs\"", func() error {
				req.inputs = append(req.inputs, tensor.Tensor{})
				*states = append(*states, inputState{dataStart: -1, binSize: -1})
				n := len(req.inputs) - 1
				return d.input(&req.inputs[n], &(*states)[n], n)
			})
		case "outputs":
			return d.array("\"outputs\"", func() error { return d.output(req) })
		default:
			return d.skip(1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if d.ws(); d.i != len(d.b) {
		return invalidf("the request is not valid JSON: unexpected %s at byte %d after the request object (binary tensor data needs the Inference-Header-Content-Length header)", describe(d.b[d.i]), d.i)
	}
	if !sawInputs {
		return invalidf("the request has no \"inputs\"")
	}
	return nil
}

func (d *decoder) requestParams(req *inferRequest) error {
	return d.object("\"parameters\"", func(key []byte) error {
		switch {
		case d.opts.routingParam != "" && string(key) == d.opts.routingParam:
			// A string, or a number taken as written.
			if d.peek() == '"' {
				s, err := d.str()
				if err != nil {
					return err
				}
				req.routingKey = string(s)
				return nil
			}
			lit, _, err := d.number()
			if err != nil {
				return invalidf("parameter %q must be a string or a number", d.opts.routingParam)
			}
			req.routingKey = string(lit)
		case string(key) == "binary_data_output":
			v, err := d.boolValue("parameter \"binary_data_output\"")
			if err != nil {
				return err
			}
			req.binaryOutput = v
		default:
			c := d.peek()
			if len(req.params) >= maxParams || !(c == '"' || c == '-' || c >= '0' && c <= '9') {
				return d.skip(2)
			}
			var v []byte
			var err error
			if c == '"' {
				v, err = d.str()
			} else {
				v, _, err = d.number()
			}
			if err != nil {
				return err
			}
			if len(v) <= maxParamLen {
				if req.params == nil {
					req.params = map[string]string{}
				}
				req.params[string(key)] = string(v)
			}
		}
		return nil
	})
}

func (d *decoder) output(req *inferRequest) error {
	var name string
	hasName := false
	bin := int8(-1)
	err := d.object("a requested output", func(key []byte) error {
		switch string(key) {
		case "name":
			s, err := d.stringValue("the name of a requested output")
			if err != nil {
				return err
			}
			name, hasName = string(s), true
		case "parameters":
			return d.object("the parameters of a requested output", func(key []byte) error {
				if string(key) != "binary_data" {
					return d.skip(3)
				}
				v, err := d.boolValue("parameter \"binary_data\"")
				if err != nil {
					return err
				}
				bin = 0
				if v {
					bin = 1
				}
				return nil
			})
		default:
			return d.skip(2)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !hasName || name == "" {
		return invalidf("a requested output has no \"name\"")
	}
	for _, o := range req.outputs {
		if o == name {
			return invalidf("output %q is requested twice", name)
		}
	}
	req.outputs = append(req.outputs, name)
	req.outBinary = append(req.outBinary, bin)
	return nil
}

func (d *decoder) input(t *tensor.Tensor, st *inputState, index int) error {
	dup := func(field string) error {
		return invalidf("input %d has two %q fields", index, field)
	}
	err := d.object("an input", func(key []byte) error {
		switch string(key) {
		case "name":
			if st.hasName {
				return dup("name")
			}
			s, err := d.stringValue("the name of an input")
			if err != nil {
				return err
			}
			if len(s) == 0 {
				return invalidf("input %d has an empty name", index)
			}
			t.Name, st.hasName = string(s), true
		case "shape":
			if st.hasShape {
				return dup("shape")
			}
			st.hasShape = true
			return d.shape(t, index)
		case "datatype":
			if st.hasType {
				return dup("datatype")
			}
			s, err := d.stringValue("the datatype of an input")
			if err != nil {
				return err
			}
			dt, ok := dtypeOf(s)
			if !ok {
				return invalidf("input %s: unknown datatype %q; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES", inputLabel(t, index), s)
			}
			t.DType, st.hasType = dt, true
		case "parameters":
			return d.object("the parameters of an input", func(key []byte) error {
				if string(key) != "binary_data_size" {
					return d.skip(3)
				}
				lit, isFloat, err := d.number()
				if err != nil || isFloat || lit[0] == '-' {
					return invalidf("input %s: parameter binary_data_size must be a non-negative integer", inputLabel(t, index))
				}
				v, ok := parseUint(lit)
				if !ok || v > math.MaxInt64 {
					return invalidf("input %s: parameter binary_data_size is out of range", inputLabel(t, index))
				}
				st.binSize = int64(v)
				return nil
			})
		case "data":
			if st.parsed || st.dataStart >= 0 {
				return dup("data")
			}
			if st.hasName && st.hasShape && st.hasType {
				st.parsed = true
				return d.data(t)
			}
			// The data comes before what is needed to read it: remember where
			// it is and read it at the end of the object.
			st.dataStart = d.i
			if err := d.skip(3); err != nil {
				return err
			}
			st.dataEnd = d.i
		default:
			return d.skip(2)
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case !st.hasName:
		return invalidf("input %d has no \"name\"", index)
	case !st.hasType:
		return invalidf("input %q has no \"datatype\"", t.Name)
	case !st.hasShape:
		return invalidf("input %q has no \"shape\"", t.Name)
	}
	if st.dataStart >= 0 {
		save := d.i
		d.i = st.dataStart
		st.parsed = true
		if err := d.data(t); err != nil {
			return err
		}
		d.i = save
	}
	return nil
}

func inputLabel(t *tensor.Tensor, index int) string {
	if t.Name != "" {
		return strconv.Quote(t.Name)
	}
	return strconv.Itoa(index)
}

func dtypeOf(s []byte) (tensor.DType, bool) {
	for dt := tensor.Bool; dt <= tensor.String; dt++ {
		if string(s) == dt.OIP() {
			return dt, true
		}
	}
	return tensor.Invalid, false
}

func (d *decoder) shape(t *tensor.Tensor, index int) error {
	t.Shape = make([]int64, 0, 4)
	return d.array("\"shape\"", func() error {
		lit, isFloat, err := d.number()
		if err != nil || isFloat || lit[0] == '-' {
			return invalidf("input %s: \"shape\" must be an array of non-negative integers", inputLabel(t, index))
		}
		v, ok := parseUint(lit)
		if !ok || v > math.MaxInt64 {
			return invalidf("input %s: a dimension of \"shape\" is out of range", inputLabel(t, index))
		}
		if len(t.Shape) == maxRank {
			return invalidf("input %s: \"shape\" has more than %d dimensions", inputLabel(t, index), maxRank)
		}
		t.Shape = append(t.Shape, int64(v))
		return nil
	})
}

// stringValue reads a string value; what names it in the error.
func (d *decoder) stringValue(what string) ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.syntax("expected " + what + " to be a string")
	}
	return d.str()
}

func (d *decoder) boolValue(what string) (bool, error) {
	switch d.peek() {
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	}
	return false, d.syntax("expected " + what + " to be true or false")
}

func (d *decoder) literal(lit string) error {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		return d.syntax("expected " + lit)
	}
	d.i += len(lit)
	return nil
}

// str reads the string at d.i (a '"') and returns its unescaped bytes,
// which alias d.b or d.scratch and are valid until the next call.
func (d *decoder) str() ([]byte, error) {
	b := d.b
	start := d.i + 1
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			d.i = i + 1
			return b[start:i], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	var err error
	d.scratch, err = d.appendStr(d.scratch[:0])
	return d.scratch, err
}

// appendStr reads the string at d.i (a '"') and appends its unescaped
// bytes to dst. Bytes that are not valid UTF-8 are kept as they are.
func (d *decoder) appendStr(dst []byte) ([]byte, error) {
	b := d.b
	i := d.i + 1
	for {
		start := i
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		dst = append(dst, b[start:i]...)
		if i >= len(b) {
			d.i = i
			return dst, d.syntax("a string is not closed")
		}
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return dst, nil
		case c < 0x20:
			d.i = i
			return dst, d.syntax("control characters must be escaped in strings")
		}
		// A backslash.
		if i+1 >= len(b) {
			d.i = i + 1
			return dst, d.syntax("a string is not closed")
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, i)
			if !ok {
				d.i = i
				return dst, d.syntax("\\u must be followed by 4 hex digits")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok = hex4(b, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			d.i = i - 1
			return dst, d.syntax("unknown escape in a string")
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number and returns its text and whether it has a
// fraction or an exponent.
func (d *decoder) number() (lit []byte, isFloat bool, err error) {
	b, i := d.b, d.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		d.i = i
		return nil, false, d.syntax("expected a number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		isFloat = true
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return nil, false, d.syntax("expected a digit after the decimal point")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		isFloat = true
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.i = i
			return nil, false, d.syntax("expected a digit in the exponent")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return b[start:i], isFloat, nil
}

// parseUint parses decimal digits; ok is false on overflow or no digits.
func parseUint(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			// Slow, exact check near the limit.
			if v > math.MaxUint64/10 || v*10 > math.MaxUint64-uint64(c-'0') {
				return 0, false
			}
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// skip reads and discards one JSON value (also NaN and ±Infinity).
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return invalidf("the request nests arrays or objects more than %d deep", maxDepth)
	}
	switch c := d.peek(); {
	case c == '{':
		return d.object("an object", func([]byte) error { return d.skip(depth + 1) })
	case c == '[':
		return d.array("an array", func() error { return d.skip(depth + 1) })
	case c == '"':
		_, err := d.str()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == 'N':
		return d.literal("NaN")
	case c == 'I':
		return d.literal("Infinity")
	case c == '-' && d.i+1 < len(d.b) && d.b[d.i+1] == 'I':
		return d.literal("-Infinity")
	case c == '-' || c >= '0' && c <= '9':
		_, _, err := d.number()
		return err
	}
	return d.syntax("expected a value")
}

// sink receives the elements of one input's "data".
type sink struct {
	t     *tensor.Tensor
	n     int  // elements the shape asks for
	k     int  // elements read
	store bool // false: only count (the shape is implausibly large)
	size  int
	// BYTES: the unescaped elements one after another, and where each ends.
	arena []byte
	ends  []int
}

// data reads an input's "data" (flat or nested, row-major) into t, whose
// Name, DType and Shape are set.
func (d *decoder) data(t *tensor.Tensor) error {
	if t.DType == tensor.Float16 || t.DType == tensor.BFloat16 {
		return invalidf("input %q: %s has no JSON representation; send it as binary data (the binary_data_size parameter of the binary tensor data extension) or over gRPC in raw_input_contents", t.Name, t.DType.OIP())
	}
	n, err := numElements("input", t.Name, t.Shape)
	if err != nil {
		return err
	}
	if d.peek() != '[' {
		return invalidf("input %q: \"data\" must be an array (flat or nested, row-major)", t.Name)
	}
	s := sink{t: t, n: n, size: t.DType.Size()}
	// Each element takes at least one byte and a separator: a shape that
	// asks for more cannot be satisfied, so do not allocate for it.
	if s.store = n <= (len(d.b)-d.i)/2+1; s.store {
		if t.DType == tensor.String {
			s.ends = make([]int, n)
			s.arena = make([]byte, 0, min(len(d.b)-d.i, 16*n+64))
		} else {
			t.Raw = tensor.Alloc(n * s.size)
		}
	}
	if err := d.dataArray(&s, 1); err != nil {
		t.Raw = nil
		return err
	}
	if s.k != n {
		t.Raw = nil
		return invalidf("input %q: shape %s needs %d elements, got %d", t.Name, fmtShape(t.Shape), n, s.k)
	}
	if t.DType == tensor.String {
		t.Strings = make([][]byte, n)
		prev := 0
		for i, end := range s.ends {
			t.Strings[i] = s.arena[prev:end:end]
			prev = end
		}
	}
	return nil
}

func (d *decoder) dataArray(s *sink, depth int) error {
	if depth > maxDepth {
		return invalidf("input %q: \"data\" nests arrays more than %d deep", s.t.Name, maxDepth)
	}
	d.i++ // '['
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		var err error
		if d.peek() == '[' {
			err = d.dataArray(s, depth+1)
		} else {
			err = d.elem(s)
		}
		if err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("expected ',' or ']' in the data of input " + strconv.Quote(s.t.Name))
		}
	}
}

// elem reads one scalar of s's datatype at d.i.
func (d *decoder) elem(s *sink) error {
	if d.i >= len(d.b) {
		return d.syntax("expected an element of the data of input " + strconv.Quote(s.t.Name))
	}
	k := s.k
	s.k++
	store := s.store && k < s.n
	dt := s.t.DType
	c := d.b[d.i]
	switch dt {
	case tensor.Bool:
		var v byte
		switch c {
		case 't':
			v = 1
			if err := d.literal("true"); err != nil {
				return err
			}
		case 'f':
			if err := d.literal("false"); err != nil {
				return err
			}
		default:
			return d.typeError(s, k, "true or false")
		}
		if store {
			s.t.Raw[k] = v
		}
		return nil
	case tensor.String:
		if c != '"' {
			return d.typeError(s, k, "a string")
		}
		if !store {
			_, err := d.str()
			return err
		}
		var err error
		s.arena, err = d.appendStr(s.arena)
		s.ends[k] = len(s.arena)
		return err
	case tensor.Float32, tensor.Float64:
		return d.float(s, k, store)
	}
	return d.integer(s, k, store)
}

func (d *decoder) typeError(s *sink, k int, want string) error {
	return invalidf("input %q: element %d of the %s data is %s; want %s", s.t.Name, k, s.t.DType.OIP(), describe(d.b[d.i]), want)
}

func (d *decoder) float(s *sink, k int, store bool) error {
	fp32 := s.t.DType == tensor.Float32
	var f float64
	switch c := d.b[d.i]; {
	case c == 'N':
		if err := d.literal("NaN"); err != nil {
			return err
		}
		f = math.NaN()
	case c == 'I':
		if err := d.literal("Infinity"); err != nil {
			return err
		}
		f = math.Inf(1)
	case c == '-' && d.i+1 < len(d.b) && d.b[d.i+1] == 'I':
		if err := d.literal("-Infinity"); err != nil {
			return err
		}
		f = math.Inf(-1)
	case c == '-' || c >= '0' && c <= '9':
		lit, _, err := d.number()
		if err != nil {
			return err
		}
		if fp32 {
			v, ok := fastFloat32(lit)
			if !ok {
				v, ok = slowFloat32(lit)
			}
			if !ok {
				return invalidf("input %q: element %d (%s) is out of range for FP32", s.t.Name, k, lit)
			}
			if store {
				binary.LittleEndian.PutUint32(s.t.Raw[4*k:], math.Float32bits(v))
			}
			return nil
		}
		var ok bool
		if f, ok = fastFloat64(lit); !ok {
			f, err = strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
			if err != nil {
				return invalidf("input %q: element %d (%s) is out of range for FP64", s.t.Name, k, lit)
			}
		}
	default:
		return d.typeError(s, k, "a number (NaN and infinities as the bare tokens NaN, Infinity, -Infinity)")
	}
	if store {
		if fp32 {
			binary.LittleEndian.PutUint32(s.t.Raw[4*k:], math.Float32bits(float32(f)))
		} else {
			binary.LittleEndian.PutUint64(s.t.Raw[8*k:], math.Float64bits(f))
		}
	}
	return nil
}

// FP32 data is read as the nearest float64 narrowed to float32, as numpy
// (KServe) and rapidjson (Triton) do; ParseFloat(s, 32) would round once,
// and differ from them in the last bit now and then.

// slowFloat32 reads a number exactly; ok is false if it is out of range.
func slowFloat32(lit []byte) (float32, bool) {
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
	v := float32(f)
	return v, err == nil && !math.IsInf(float64(v), 0)
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// decimalParts splits a valid JSON number into mantissa × 10^exp with at
// most 19 significant digits; ok is false if it has more.
func decimalParts(lit []byte) (mant uint64, exp int, neg, ok bool) {
	i := 0
	if lit[0] == '-' {
		neg = true
		i++
	}
	digits := 0
	for ; i < len(lit) && lit[i] >= '0' && lit[i] <= '9'; i++ {
		if mant == 0 && lit[i] == '0' {
			continue
		}
		if digits == 19 {
			return 0, 0, false, false
		}
		mant = mant*10 + uint64(lit[i]-'0')
		digits++
	}
	if i < len(lit) && lit[i] == '.' {
		for i++; i < len(lit) && lit[i] >= '0' && lit[i] <= '9'; i++ {
			exp--
			if mant == 0 && lit[i] == '0' {
				continue
			}
			if digits == 19 {
				return 0, 0, false, false
			}
			mant = mant*10 + uint64(lit[i]-'0')
			digits++
		}
	}
	if i < len(lit) { // exponent
		i++
		eneg := false
		if lit[i] == '+' || lit[i] == '-' {
			eneg = lit[i] == '-'
			i++
		}
		e := 0
		for ; i < len(lit); i++ {
			if e < 100000 {
				e = e*10 + int(lit[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	return mant, exp, neg, true
}

// fastFloat64 reads a number whose mantissa and power of ten are both
// exact float64s (Clinger's fast path: one rounding, so the result is
// correctly rounded); ok is false when it does not apply.
func fastFloat64(lit []byte) (float64, bool) {
	mant, exp, neg, ok := decimalParts(lit)
	if !ok || mant > 1<<53 || exp < -22 || exp > 22 {
		return 0, false
	}
	f := float64(mant)
	if exp >= 0 {
		f *= pow10[exp]
	} else {
		f /= pow10[-exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

// fastFloat32 reads a number for FP32 with one inexact float64 product,
// within two float64 ulps of the exact value; ok is false when that is
// too close to call: near a float32 rounding midpoint, outside float32's
// normal range, or too many digits. Float32 values printed with 17 digits
// (numpy's float32.tolist()) are exactly where strconv's Eisel-Lemire
// step gives up and takes its slow path, so this is much faster for them.
func fastFloat32(lit []byte) (float32, bool) {
	mant, exp, neg, ok := decimalParts(lit)
	if !ok || exp < -22 || exp > 22 {
		return 0, false
	}
	if mant == 0 {
		if neg {
			return float32(math.Copysign(0, -1)), true
		}
		return 0, true
	}
	f := float64(mant)
	if exp >= 0 {
		f *= pow10[exp]
	} else {
		f /= pow10[-exp]
	}
	bits := math.Float64bits(f)
	if e := int(bits>>52) & 0x7ff; e < 1023-126 || e > 1023+127 {
		return 0, false
	}
	// The 29 bits float32 drops: a value 2 units from half way may round
	// either way once the float64 error is accounted for.
	if low := bits & (1<<29 - 1); low >= 1<<28-2 && low <= 1<<28+2 {
		return 0, false
	}
	v := float32(f)
	if math.IsInf(float64(v), 0) {
		return 0, false // let the exact path decide between MaxFloat32 and out of range
	}
	if neg {
		v = -v
	}
	return v, true
}

// Ranges of the integer types.
var intRange = [...]struct{ min, max int64 }{
	tensor.Int8:  {math.MinInt8, math.MaxInt8},
	tensor.Int16: {math.MinInt16, math.MaxInt16},
	tensor.Int32: {math.MinInt32, math.MaxInt32},
	tensor.Int64: {math.MinInt64, math.MaxInt64},
}

var uintMax = [...]uint64{
	tensor.Uint8:  math.MaxUint8,
	tensor.Uint16: math.MaxUint16,
	tensor.Uint32: math.MaxUint32,
	tensor.Uint64: math.MaxUint64,
}

func (d *decoder) integer(s *sink, k int, store bool) error {
	dt := s.t.DType
	c := d.b[d.i]
	if c != '-' && (c < '0' || c > '9') || c == '-' && d.i+1 < len(d.b) && d.b[d.i+1] == 'I' {
		return d.typeError(s, k, "an integer")
	}
	lit, isFloat, err := d.number()
	if err != nil {
		return err
	}
	signed := dt >= tensor.Int8 && dt <= tensor.Int64
	outOfRange := func() error {
		return invalidf("input %q: element %d (%s) is out of range for %s", s.t.Name, k, lit, dt.OIP())
	}
	var u uint64 // the value's bits, two's complement for signed types
	if isFloat {
		// 1.0 or 2e3 are whole numbers written as floats; 1.5 is not.
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
		if err != nil {
			return outOfRange()
		}
		if f != math.Trunc(f) {
			return invalidf("input %q: element %d (%s) is not a whole number; %s data must be integers", s.t.Name, k, lit, dt.OIP())
		}
		if signed {
			r := intRange[dt]
			if f < float64(r.min) || f >= -float64(r.min) || f > float64(r.max) {
				return outOfRange()
			}
			u = uint64(int64(f))
		} else {
			if f < 0 || f >= 18446744073709551616.0 || uint64(f) > uintMax[dt] {
				return outOfRange()
			}
			u = uint64(f)
		}
	} else {
		neg := lit[0] == '-'
		digits := lit
		if neg {
			digits = lit[1:]
		}
		v, ok := parseUint(digits)
		if !ok {
			return outOfRange()
		}
		if signed {
			r := intRange[dt]
			var x int64
			switch {
			case !neg && v <= uint64(r.max):
				x = int64(v)
			case neg && v <= uint64(-(r.min+1))+1:
				x = int64(-v) // wraps correctly for MinInt64
			default:
				return outOfRange()
			}
			u = uint64(x)
		} else {
			if neg && v != 0 || v > uintMax[dt] {
				return outOfRange()
			}
			u = v
		}
	}
	if store {
		raw := s.t.Raw
		switch s.size {
		case 1:
			raw[k] = byte(u)
		case 2:
			binary.LittleEndian.PutUint16(raw[2*k:], uint16(u))
		case 4:
			binary.LittleEndian.PutUint32(raw[4*k:], uint32(u))
		default:
			binary.LittleEndian.PutUint64(raw[8*k:], u)
		}
	}
	return nil
}

// fmtShape formats a shape as [1,4].
func fmtShape(shape []int64) string {
	b := make([]byte, 0, 2+4*len(shape))
	b = append(b, '[')
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, d, 10)
	}
	return string(append(b, ']'))
}
