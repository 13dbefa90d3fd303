package onnx

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/onnx/onnxpb"
	"github.com/lantern-mlops/lantern/internal/onnx/onnxtest"
)

var update = flag.Bool("update", false, "rewrite testdata/ (fixtures, signature goldens, fuzz seeds) from the builders")

// The valid fixtures: small models as common exporters write them.
func demandLinear() *onnxpb.ModelProto {
	return onnxtest.LinearRegressor(
		[]string{"price", "promo", "temperature", "day_of_week", "holiday"},
		[]float32{-12.5, 30, 1.75, 2, 25}, 120)
}

func riskMLP() *onnxpb.ModelProto {
	layer := func(out, in int, seed float64) onnxtest.Dense {
		d := onnxtest.Dense{W: make([][]float32, out), B: make([]float32, out)}
		for i := range d.W {
			d.W[i] = make([]float32, in)
			for j := range d.W[i] {
				d.W[i][j] = float32(math.Round(math.Sin(seed+float64(i*in+j))*100) / 100)
			}
			d.B[i] = float32(math.Round(math.Cos(seed+float64(i))*10) / 100)
		}
		return d
	}
	return onnxtest.MLPClassifier(
		[]string{"age", "income", "debt_ratio", "late_payments"}, []string{"low", "high"},
		layer(8, 4, 1), layer(2, 8, 2))
}

func priceTree() *onnxpb.ModelProto {
	return onnxtest.TreeRegressor([]string{"sqft", "rooms", "age"}, []onnxtest.TreeNode{
		{Feature: 0, Threshold: 80, True: 1, False: 2},
		{Feature: 1, Threshold: 2, True: 3, False: 4},
		{Feature: 2, Threshold: 20, True: 5, False: 6},
		{Leaf: true, Value: 150000},
		{Leaf: true, Value: 210000},
		{Leaf: true, Value: 420000},
		{Leaf: true, Value: 330000},
	})
}

func irisLogreg() *onnxpb.ModelProto {
	return onnxtest.LogisticRegression(
		[]string{"sepal_length", "sepal_width", "petal_length", "petal_width"},
		[][]float32{{-0.42, 0.97, -2.52, -1.08}, {0.53, -0.32, -0.21, -0.94}, {-0.11, -0.65, 2.73, 2.02}},
		[]float32{9.85, 2.24, -12.09}, []int64{0, 1, 2})
}

// fixture is a file under testdata/ and how to make it.
type fixture struct {
	path string
	data func() []byte
}

func fixtures() []fixture {
	marshal := func(m func() *onnxpb.ModelProto) func() []byte {
		return func() []byte { return onnxtest.Marshal(m()) }
	}
	return []fixture{
		{"demand_linear.onnx", marshal(demandLinear)},
		{"risk_mlp.onnx", marshal(riskMLP)},
		{"price_tree.onnx", marshal(priceTree)},
		{"iris_logreg.onnx", marshal(irisLogreg)},
		{"risk_mlp_ir3.onnx", marshal(func() *onnxpb.ModelProto { return onnxtest.LegacyIR3(riskMLP()) })},

		{"invalid/empty.onnx", func() []byte { return nil }},
		{"invalid/truncated.onnx", func() []byte {
			b := onnxtest.Marshal(riskMLP())
			return b[:len(b)*2/3]
		}},
		{"invalid/random.onnx", func() []byte {
			b := make([]byte, 4096)
			r := rand.NewChaCha8([32]byte{'l', 'a', 'n', 't', 'e', 'r', 'n'})
			_, _ = r.Read(b)
			return b
		}},
		{"invalid/text.onnx", func() []byte {
			return []byte("price,promo,temperature,day_of_week,holiday,demand\n" +
				"9.99,1,21.5,5,0,183\n12.49,0,18.0,2,0,141\n")
		}},
		{"invalid/demand_linear.zip", func() []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			f, err := zw.CreateHeader(&zip.FileHeader{Name: "demand_linear.onnx", Method: zip.Deflate,
				Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
			if err == nil {
				_, err = f.Write(onnxtest.Marshal(demandLinear()))
			}
			if err == nil {
				err = zw.Close()
			}
			if err != nil {
				panic(err)
			}
			return buf.Bytes()
		}},
	}
}

// TestGenerateTestdata checks that testdata/ matches the builders, and rewrites it with -update:
// the fixtures, a JSON signature golden beside each valid one, and the fuzz seed corpus.
func TestGenerateTestdata(t *testing.T) {
	for _, fx := range fixtures() {
		data := fx.data()
		checkGolden(t, filepath.Join("testdata", fx.path), data)
		seed := "seed-" + strings.NewReplacer("/", "-", ".", "-").Replace(fx.path)
		checkGolden(t, filepath.Join("testdata", "fuzz", "FuzzReadSignature", seed),
			fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data))
		if strings.HasPrefix(fx.path, "invalid/") {
			continue
		}
		sig, err := ReadSignature(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", fx.path, err)
		}
		js, err := json.MarshalIndent(sig, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, filepath.Join("testdata", strings.TrimSuffix(fx.path, ".onnx")+".signature.json"), append(js, '\n'))
	}
}

func checkGolden(t *testing.T, path string, want []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGenerateTestdata -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date (run go test -run TestGenerateTestdata -update)", path)
	}
}

// readFixture returns a file under testdata/.
func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
