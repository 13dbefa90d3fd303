package ort

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

// Field numbers of the ONNX protobuf messages zipMapLabels walks.
const (
	fieldModelGraph = 7 // ModelProto.graph
	fieldGraphNode  = 1 // GraphProto.node
	fieldNodeOpType = 4 // NodeProto.op_type
	zipMapOp        = "ZipMap"
)

// zipMapLabels returns, for each graph output in outputs that a ZipMap node
// produces, the class labels of that ZipMap in order, as strings. (No
// operator passes a sequence of maps through, so the ZipMap is the producer.)
// ONNX Runtime's API does not expose node attributes, so the labels are read
// from the model: only the nodes of the main graph are decoded, and of those
// only ZipMap nodes, so initializers and large tree ensembles are skipped
// without being parsed.
func zipMapLabels(model []byte, outputs []string) (map[string][]string, error) {
	producers := map[string]*onnxpb.NodeProto{} // output name -> ZipMap node
	// A message field that occurs more than once is merged, so every
	// occurrence of ModelProto.graph contributes nodes.
	err := fields(model, func(num protowire.Number, typ protowire.Type, graph []byte) error {
		if num != fieldModelGraph || typ != protowire.BytesType {
			return nil
		}
		return fields(graph, func(num protowire.Number, typ protowire.Type, node []byte) error {
			if num != fieldGraphNode || typ != protowire.BytesType {
				return nil
			}
			return keepNode(node, producers)
		})
	})
	if err != nil {
		return nil, err
	}
	labels := map[string][]string{}
	for _, out := range outputs {
		if l := classLabels(producers[out]); l != nil {
			labels[out] = l
		}
	}
	return labels, nil
}

// keepNode decodes a node if it is a ZipMap, and records it under its outputs.
func keepNode(b []byte, producers map[string]*onnxpb.NodeProto) error {
	var op []byte // the last occurrence wins, as for any scalar field
	err := fields(b, func(num protowire.Number, typ protowire.Type, val []byte) error {
		if num == fieldNodeOpType && typ == protowire.BytesType {
			op = val
		}
		return nil
	})
	if err != nil || string(op) != zipMapOp {
		return err
	}
	node := &onnxpb.NodeProto{}
	if err := proto.Unmarshal(b, node); err != nil {
		return err
	}
	if node.GetDomain() != "ai.onnx.ml" {
		return nil
	}
	for _, o := range node.GetOutput() {
		producers[o] = node
	}
	return nil
}

// classLabels returns a ZipMap's classlabels_int64s or classlabels_strings
// (nil for a nil node).
func classLabels(node *onnxpb.NodeProto) []string {
	for _, a := range node.GetAttribute() {
		switch a.GetName() {
		case "classlabels_int64s":
			l := make([]string, len(a.GetInts()))
			for i, v := range a.GetInts() {
				l[i] = strconv.FormatInt(v, 10)
			}
			return l
		case "classlabels_strings":
			l := make([]string, len(a.GetStrings()))
			for i, v := range a.GetStrings() {
				l[i] = string(v)
			}
			return l
		}
	}
	return nil
}

// fields calls f with each field of a message; val is the content of a
// length-delimited field.
func fields(msg []byte, f func(num protowire.Number, typ protowire.Type, val []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		m := protowire.ConsumeFieldValue(num, typ, msg)
		if m < 0 {
			return protowire.ParseError(m)
		}
		var val []byte
		if typ == protowire.BytesType {
			val, _ = protowire.ConsumeBytes(msg[:m])
		}
		if err := f(num, typ, val); err != nil {
			return err
		}
		msg = msg[m:]
	}
	return nil
}
