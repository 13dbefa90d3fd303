package onnx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

var (
	// ErrInvalidModel is wrapped by every error ReadSignature returns because of what the bytes
	// are (as opposed to an error reading them): callers map it to "invalid argument" (HTTP 400).
	ErrInvalidModel = errors.New("not a valid ONNX model")

	// ErrNotONNX is wrapped, together with ErrInvalidModel, when the bytes are not a protobuf
	// ModelProto at all: an empty, truncated or corrupt file, or a file in another format.
	ErrNotONNX = errors.New("file is not an ONNX model (expected a protobuf ModelProto)")
)

// FormatError describes why a stream is not a usable ONNX model. Its message is written for the
// person who uploaded the file. It wraps ErrInvalidModel, and ErrNotONNX when NotONNX is set.
type FormatError struct {
	// NotONNX is set when the bytes are not a protobuf ModelProto (empty, truncated, corrupt or
	// another format); it is clear when they are one that cannot be served (no graph, no inputs...).
	NotONNX bool
	// Offset is the byte offset in the stream where the problem was found, or -1 when it concerns
	// the model as a whole.
	Offset int64
	// Reason says what is wrong, without the "not a valid ONNX model" prefix.
	Reason string
}

// Error implements error.
func (e *FormatError) Error() string {
	if e.NotONNX {
		return ErrNotONNX.Error() + ": " + e.Reason
	}
	return ErrInvalidModel.Error() + ": " + e.Reason
}

// Unwrap returns ErrInvalidModel, and ErrNotONNX when NotONNX is set.
func (e *FormatError) Unwrap() []error {
	if e.NotONNX {
		return []error{ErrNotONNX, ErrInvalidModel}
	}
	return []error{ErrInvalidModel}
}

func invalidf(format string, args ...any) *FormatError {
	return &FormatError{Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

// sniffLen is how many leading bytes sniff looks at.
const sniffLen = 64

// sniff recognises a few file formats that data scientists upload by mistake instead of an
// ONNX file, from their first bytes. It returns "" when it recognises nothing. It is only
// consulted once parsing has failed, so a real ONNX model is never refused because of it.
func sniff(head []byte) string {
	const export = "; export the model to ONNX (torch.onnx.export, tf2onnx, skl2onnx) and upload the .onnx file"
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "it is a ZIP archive (a PyTorch .pt checkpoint, a Keras .keras file, or a zipped model?)" + export +
			"; if the archive contains an .onnx file, unzip it first"
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "it is gzip-compressed; decompress it and upload the .onnx file inside"
	case bytes.HasPrefix(head, []byte("\x89HDF\r\n\x1a\n")):
		return "it is an HDF5 file (a Keras .h5 model?)" + export
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5:
		return "it is a Python pickle (a scikit-learn/joblib or PyTorch file?)" + export
	case bytes.HasPrefix(head, []byte("GGUF")):
		return "it is a GGUF file (llama.cpp weights), which this registry does not serve"
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return "it is a NumPy .npy array, not a model"
	case len(head) >= 4 && string(head[4:min(8, len(head))]) == "TFL3":
		return "it is a TensorFlow Lite model" + export
	case isSafetensors(head):
		return "it is a safetensors file (weights without a graph)" + export
	case isText(head):
		return "it looks like a text file (it starts with " + quoteHead(head) + ")"
	}
	return ""
}

// isSafetensors reports whether head starts like a safetensors file: an 8-byte little-endian
// header length followed by a JSON object.
func isSafetensors(head []byte) bool {
	if len(head) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	return n > 1 && n < 100<<20 && head[8] == '{' && head[9] == '"'
}

// isText reports whether head is printable UTF-8 text (tabs and newlines allowed).
func isText(head []byte) bool {
	if len(head) == 0 {
		return false
	}
	for len(head) > 0 {
		r, size := utf8.DecodeRune(head)
		if r == utf8.RuneError && size == 1 {
			// A multi-byte rune cut by the sniff window still counts as text.
			return len(head) < utf8.UTFMax && !utf8.FullRune(head)
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return false
		}
		head = head[size:]
	}
	return true
}

func quoteHead(head []byte) string {
	const max = 24
	s := string(head)
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return strconv.Quote(s) + "..."
	}
	return strconv.Quote(s)
}
