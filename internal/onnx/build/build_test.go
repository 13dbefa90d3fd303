package build

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
)

func identity() *Graph {
	g := NewGraph("g")
	g.Input("x", TensorType(onnxpb.TensorProto_FLOAT, Sym("N"), Fixed(2)))
	g.Output("y", TensorType(onnxpb.TensorProto_FLOAT, Sym("N"), Fixed(2)))
	return g
}

func TestModel(t *testing.T) {
	g := identity()
	w := g.Floats("w", []int64{2}, []float32{1, 2})
	g.Node(DomainONNX, "Add", []string{"x", w}, []string{"y"})
	m, err := Model(g, ModelOptions{Metadata: map[string]string{"b": "2", "a": "1"}, ModelVersion: 3})
	if err != nil {
		t.Fatal(err)
	}
	if m.GetIrVersion() != IRVersion || m.GetProducerName() != Producer || m.GetModelVersion() != 3 {
		t.Errorf("header %v", m)
	}
	if md := m.GetMetadataProps(); len(md) != 2 || md[0].GetKey() != "a" {
		t.Errorf("metadata %v", md)
	}
	if op := m.GetOpsetImport(); len(op) != 1 || op[0].GetVersion() != OpsetONNX {
		t.Errorf("opsets %v", op)
	}
	a, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Marshal(m)
	if !bytes.Equal(a, b) {
		t.Error("Marshal is not deterministic")
	}
}

func TestMistakes(t *testing.T) {
	for name, f := range map[string]func(g *Graph){
		"undefined input": func(g *Graph) { g.Node(DomainONNX, "Relu", []string{"z"}, []string{"y"}) },
		"defined twice":   func(g *Graph) { g.Node(DomainONNX, "Relu", []string{"x"}, []string{"x"}) },
		"bad size": func(g *Graph) {
			g.Floats("w", []int64{3}, []float32{1})
			g.Node(DomainONNX, "Relu", []string{"x"}, []string{"y"})
		},
		"never computed": func(g *Graph) {},
		"not imported":   func(g *Graph) { g.Node(DomainML, "Scaler", []string{"x"}, []string{"y"}) },
	} {
		g := identity()
		f(g)
		if _, err := Model(g, ModelOptions{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
