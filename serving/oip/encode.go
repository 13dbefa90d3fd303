package oip

import (
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// NonFinite says how NaN and infinities in FP32 and FP64 outputs are
// written in JSON, which has no numbers for them.
type NonFinite int

const (
	// NonFiniteTokens writes the bare tokens NaN, Infinity and -Infinity,
	// as Python's json module and Triton do; Python clients (tritonclient,
	// requests' .json()) read them, strict JSON parsers do not.
	NonFiniteTokens NonFinite = iota
	// NonFiniteNull writes null, which every JSON parser reads (as a
	// missing value).
	NonFiniteNull
)

// appendResponse appends the REST inference response to buf. Outputs
// asked for as binary data (and FP16/BF16 outputs, which JSON cannot
// carry) follow the JSON; jsonLen is then the length of the JSON part
// (the Inference-Header-Content-Length), else -1.
func appendResponse(buf []byte, resp *serving.InferResponse, req *inferRequest, nf NonFinite) (out []byte, jsonLen int, err error) {
	var binMask uint64 // outputs beyond 64 are never binary unless asked
	var binSlow []bool
	anyBinary := false
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		if err := checkOutput(t); err != nil {
			return buf, -1, err
		}
		if wantBinary(t, req) {
			anyBinary = true
			if i < 64 {
				binMask |= 1 << i
			} else {
				if binSlow == nil {
					binSlow = make([]bool, len(resp.Outputs))
				}
				binSlow[i] = true
			}
		}
	}
	isBinary := func(i int) bool {
		if i < 64 {
			return binMask&(1<<i) != 0
		}
		return binSlow != nil && binSlow[i]
	}

	buf = append(buf, `{"model_name":`...)
	buf = appendString(buf, resp.Model)
	if resp.Version != "" {
		buf = append(buf, `,"model_version":`...)
		buf = appendString(buf, resp.Version)
	}
	id := req.id
	if id == "" {
		id = resp.ID
	}
	if id != "" {
		buf = append(buf, `,"id":`...)
		buf = appendString(buf, id)
	}
	buf = append(buf, `,"outputs":[`...)
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"name":`...)
		buf = appendString(buf, t.Name)
		buf = append(buf, `,"datatype":"`...)
		buf = append(buf, t.DType.OIP()...)
		buf = append(buf, `","shape":`...)
		buf = appendShape(buf, t.Shape)
		if isBinary(i) {
			buf = append(buf, `,"parameters":{"binary_data_size":`...)
			buf = strconv.AppendInt(buf, int64(rawSize(t)), 10)
			buf = append(buf, "}}"...)
			continue
		}
		buf = append(buf, `,"data":`...)
		buf = appendData(buf, t, nf)
		buf = append(buf, '}')
	}
	buf = append(buf, "]}"...)
	if !anyBinary {
		return buf, -1, nil
	}
	jsonLen = len(buf)
	for i := range resp.Outputs {
		if isBinary(i) {
			buf = appendRaw(buf, &resp.Outputs[i])
		}
	}
	return buf, jsonLen, nil
}

// wantBinary reports whether output t goes out as binary data: its
// "binary_data" parameter if given, else the request's
// "binary_data_output"; FP16 and BF16 always do.
func wantBinary(t *tensor.Tensor, req *inferRequest) bool {
	if t.DType == tensor.Float16 || t.DType == tensor.BFloat16 {
		return true
	}
	for j, name := range req.outputs {
		if name == t.Name && req.outBinary[j] >= 0 {
			return req.outBinary[j] == 1
		}
	}
	return req.binaryOutput
}

func appendShape(buf []byte, shape []int64) []byte {
	buf = append(buf, '[')
	for i, d := range shape {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, d, 10)
	}
	return append(buf, ']')
}

// appendData appends t's elements as a flat JSON array.
func appendData(buf []byte, t *tensor.Tensor, nf NonFinite) []byte {
	buf = append(buf, '[')
	raw := t.Raw
	le := binary.LittleEndian
	switch t.DType {
	case tensor.Float32:
		for i := 0; i+4 <= len(raw); i += 4 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendFloat(buf, float64(math.Float32frombits(le.Uint32(raw[i:]))), 32, nf)
		}
	case tensor.Float64:
		for i := 0; i+8 <= len(raw); i += 8 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendFloat(buf, math.Float64frombits(le.Uint64(raw[i:])), 64, nf)
		}
	case tensor.Int64:
		for i := 0; i+8 <= len(raw); i += 8 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(le.Uint64(raw[i:])), 10)
		}
	case tensor.Int32:
		for i := 0; i+4 <= len(raw); i += 4 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(int32(le.Uint32(raw[i:]))), 10)
		}
	case tensor.Int16:
		for i := 0; i+2 <= len(raw); i += 2 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(int16(le.Uint16(raw[i:]))), 10)
		}
	case tensor.Int8:
		for i, c := range raw {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(int8(c)), 10)
		}
	case tensor.Uint64:
		for i := 0; i+8 <= len(raw); i += 8 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, le.Uint64(raw[i:]), 10)
		}
	case tensor.Uint32:
		for i := 0; i+4 <= len(raw); i += 4 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, uint64(le.Uint32(raw[i:])), 10)
		}
	case tensor.Uint16:
		for i := 0; i+2 <= len(raw); i += 2 {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, uint64(le.Uint16(raw[i:])), 10)
		}
	case tensor.Uint8:
		for i, c := range raw {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendUint(buf, uint64(c), 10)
		}
	case tensor.Bool:
		for i, c := range raw {
			if i > 0 {
				buf = append(buf, ',')
			}
			if c != 0 {
				buf = append(buf, "true"...)
			} else {
				buf = append(buf, "false"...)
			}
		}
	case tensor.String:
		for i, s := range t.Strings {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendBytesString(buf, s)
		}
	}
	return append(buf, ']')
}

// appendFloat appends f formatted like encoding/json does (shortest
// representation that reads back to the same float of that size).
func appendFloat(buf []byte, f float64, bits int, nf NonFinite) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		if nf == NonFiniteNull {
			return append(buf, "null"...)
		}
		switch {
		case math.IsNaN(f):
			return append(buf, "NaN"...)
		case f > 0:
			return append(buf, "Infinity"...)
		}
		return append(buf, "-Infinity"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	buf = strconv.AppendFloat(buf, f, format, -1, bits)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			buf = appendEscape(buf, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendBytesString appends b as a JSON string; bytes that are not valid
// UTF-8 become U+FFFD (send BYTES as binary data to keep them exactly).
func appendBytesString(buf []byte, b []byte) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf = append(buf, b[start:i]...)
			buf = appendEscape(buf, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, b[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, b[start:]...)
	return append(buf, '"')
}

func appendEscape(buf []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(buf, '\\', c)
	case '\n':
		return append(buf, '\\', 'n')
	case '\r':
		return append(buf, '\\', 'r')
	case '\t':
		return append(buf, '\\', 't')
	}
	return append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
