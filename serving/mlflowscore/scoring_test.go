package mlflowscore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// fakeBackend serves:
//
//	iris    float_input FP32 [-1,4] with feature_names -> output_label INT64 [-1],
//	        output_probability FP32 [-1,3] labelled (ZipMap)
//	multi   a FP32 [-1,1], b INT64 [-1], s BYTES [-1] -> sum FP64 [-1] (a+b), s BYTES [-1]
//	plain   x FP32 [-1,3] -> y FP32 [-1,1] (row sums)
//	slow    like plain, waits for its context
type fakeBackend struct {
	models   []string
	notReady bool
	mu       sync.Mutex
	last     serving.InferRequest
}

var infos = map[string]serving.ModelInfo{
	"iris": {
		Name: "iris", Versions: []string{"3"},
		Inputs:     []tensor.Info{{Name: "float_input", DType: tensor.Float32, Shape: []int64{-1, 4}}},
		Outputs:    []tensor.Info{{Name: "output_label", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "output_probability", DType: tensor.Float32, Shape: []int64{-1, 3}, Labels: []string{"setosa", "versicolor", "virginica"}}},
		Properties: map[string]string{FeatureNamesProperty: "sepal_length, sepal_width,petal_length,petal_width"},
	},
	"multi": {
		Name: "multi", Versions: []string{"1"},
		Inputs:  []tensor.Info{{Name: "a", DType: tensor.Float32, Shape: []int64{-1, 1}}, {Name: "b", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "s", DType: tensor.String, Shape: []int64{-1}}},
		Outputs: []tensor.Info{{Name: "sum", DType: tensor.Float64, Shape: []int64{-1}}, {Name: "s", DType: tensor.String, Shape: []int64{-1}}},
	},
	"plain": {
		Name: "plain", Versions: []string{"1"},
		Inputs:  []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 3}}},
		Outputs: []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 1}}},
	},
}

func init() { infos["slow"] = infos["plain"] }

func (f *fakeBackend) Models() []string { return slices.Clone(f.models) }
func (f *fakeBackend) Ready() bool      { return !f.notReady }

func (f *fakeBackend) Model(name, version string) (serving.ModelInfo, error) {
	info, ok := infos[name]
	if !ok || !slices.Contains(f.models, name) {
		return serving.ModelInfo{}, fmt.Errorf("%w: model %q is not served", errkind.NotFound, name)
	}
	if version != "" && !slices.Contains(info.Versions, version) {
		return serving.ModelInfo{}, fmt.Errorf("%w: model %q has no version %q", errkind.NotFound, name, version)
	}
	return info, nil
}

func (f *fakeBackend) ModelReady(name, version string) bool {
	_, err := f.Model(name, version)
	return err == nil
}

func (f *fakeBackend) lastRequest() serving.InferRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeBackend) Infer(ctx context.Context, req *serving.InferRequest) (*serving.InferResponse, error) {
	f.mu.Lock()
	f.last = *req
	f.mu.Unlock()
	info, err := f.Model(req.Model, req.Version)
	if err != nil {
		return nil, err
	}
	for i, in := range info.Inputs {
		got := req.Inputs[i]
		if got.Name != in.Name || got.DType != in.DType {
			return nil, fmt.Errorf("%w: input %d is %s %s, want %s %s", errkind.Invalid, i, got.Name, got.DType, in.Name, in.DType)
		}
		if err := got.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", errkind.Invalid, err)
		}
	}
	resp := &serving.InferResponse{Model: req.Model, Version: info.Versions[0]}
	if req.Version != "" {
		resp.Version = req.Version
	}
	switch req.Model {
	case "iris":
		x := req.Inputs[0].Float32s()
		n := len(x) / 4
		labels := make([]int64, n)
		probs := make([]float32, 3*n)
		for i := range n {
			row := x[4*i : 4*i+3]
			sum := row[0] + row[1] + row[2]
			for j := range 3 {
				probs[3*i+j] = row[j] / sum
				if row[j] > row[labels[i]] {
					labels[i] = int64(j)
				}
			}
		}
		resp.Outputs = []tensor.Tensor{
			tensor.FromInt64("output_label", []int64{int64(n)}, labels),
			tensor.FromFloat32("output_probability", []int64{int64(n), 3}, probs),
		}
	case "multi":
		a, b := req.Inputs[0].Float32s(), req.Inputs[1].Int64s()
		sum := make([]float64, len(b))
		for i := range b {
			sum[i] = float64(a[i]) + float64(b[i])
		}
		resp.Outputs = []tensor.Tensor{
			tensor.FromFloat64("sum", []int64{int64(len(b))}, sum),
			{Name: "s", DType: tensor.String, Shape: []int64{int64(len(b))}, Strings: req.Inputs[2].Strings},
		}
	case "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	default: // plain
		x := req.Inputs[0].Float32s()
		n := len(x) / 3
		y := make([]float32, n)
		for i := range n {
			y[i] = x[3*i] + x[3*i+1] + x[3*i+2]
		}
		resp.Outputs = []tensor.Tensor{tensor.FromFloat32("y", []int64{int64(n), 1}, y)}
	}
	return resp, nil
}

type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, h http.Handler, method, path, contentType, body string, headers ...string) result {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return result{w.Code, w.Header(), w.Body.String()}
}

func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatalf("not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	ga, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	if string(ga) != string(gb) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

const jsonType = "application/json"

func TestHealthAndVersion(t *testing.T) {
	fb := &fakeBackend{models: []string{"iris"}}
	h := New(fb, Options{})
	for _, p := range []string{"/ping", "/health"} {
		if got := do(t, h, "GET", p, "", ""); got.status != 200 || got.body != "\n" || got.header.Get("Content-Type") != jsonType {
			t.Errorf("%s: %+v", p, got)
		}
	}
	if got := do(t, h, "GET", "/version", "", ""); got.status != 200 || got.body != buildinfo.String() {
		t.Errorf("version: %+v", got)
	}
	fb.notReady = true
	if got := do(t, h, "GET", "/ping", "", ""); got.status != 404 {
		t.Errorf("ping not ready: %+v", got)
	}
	if got := do(t, h, "POST", "/ping", "", ""); got.status != 405 {
		t.Errorf("POST /ping: %+v", got)
	}
	if got := do(t, h, "GET", "/invocations", "", ""); got.status != 405 {
		t.Errorf("GET /invocations: %+v", got)
	}
	if got := do(t, h, "GET", "/nope", "", ""); got.status != 404 || !strings.Contains(got.body, "ENDPOINT_NOT_FOUND") {
		t.Errorf("unknown path: %+v", got)
	}
}

// irisRecords is the answer to the two rows [5,1,1,0] and [1,2,5,0].
const irisRecords = `{"predictions":[
	{"output_label":0,"output_probability":{"setosa":0.71428573,"versicolor":0.14285715,"virginica":0.14285715}},
	{"output_label":2,"output_probability":{"setosa":0.125,"versicolor":0.25,"virginica":0.625}}]}`

const irisDict = `{"predictions":{"output_label":[0,2],"output_probability":[
	{"setosa":0.71428573,"versicolor":0.14285715,"virginica":0.14285715},
	{"setosa":0.125,"versicolor":0.25,"virginica":0.625}]}}`

func TestIrisFormats(t *testing.T) {
	fb := &fakeBackend{models: []string{"iris"}}
	h := New(fb, Options{})
	tests := []struct {
		name, ct, body, want string
	}{
		{"split", jsonType, `{"dataframe_split":{"columns":["petal_width","sepal_length","petal_length","sepal_width"],"data":[[0,5,1,1],[0,1,5,2]],"index":[7,8]}}`, irisRecords},
		{"split unnamed", jsonType, `{"dataframe_split":{"data":[[5,1,1,0],[1,2,5,0]]}}`, irisRecords},
		{"records", jsonType, `{"dataframe_records":[{"sepal_length":5,"sepal_width":1,"petal_length":1,"petal_width":0},{"petal_width":0,"sepal_length":1,"sepal_width":2,"petal_length":5}],"params":{"x":1}}`, irisRecords},
		{"csv", "text/csv", "sepal_length,sepal_width,petal_length,petal_width\n5,1,1,0\n1,2,5.0,0\n", irisRecords},
		{"csv with pandas index", "text/csv; charset=utf-8", ",sepal_width,sepal_length,petal_length,petal_width\n0,1,5,1,0\n1,2,1,5,0\n", irisRecords},
		{"instances records", jsonType, `{"instances":[{"sepal_length":5,"sepal_width":1,"petal_length":1,"petal_width":0},{"sepal_length":1,"sepal_width":2,"petal_length":5,"petal_width":0}]}`, irisDict},
		{"inputs columns", jsonType, `{"inputs":{"sepal_length":[5,1],"sepal_width":[1,2],"petal_length":[1,5],"petal_width":[0,0]}}`, irisDict},
		{"inputs tensor", jsonType, `{"inputs":[[5,1,1,0],[1,2,5,0]]}`, irisDict},
		{"instances tensor", jsonType, `{"instances":[[5,1,1,0],[1,2,5,0]]}`, irisDict},
		{"inputs by input name", jsonType, `{"inputs":{"float_input":[[5,1,1,0],[1,2,5,0]]}}`, irisDict},
		{"split by input name", jsonType, `{"dataframe_split":{"columns":["float_input"],"data":[[[5,1,1,0]],[[1,2,5,0]]]}}`, irisRecords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, h, "POST", "/invocations", tt.ct, tt.body)
			if got.status != 200 {
				t.Fatalf("%d %s", got.status, got.body)
			}
			sameJSON(t, got.body, tt.want)
			if got.header.Get(VersionHeader) != "3" || got.header.Get("Content-Type") != jsonType {
				t.Errorf("headers %v", got.header)
			}
			last := fb.lastRequest()
			in := last.Inputs[0]
			if last.Protocol != "mlflow" || !slices.Equal(in.Shape, []int64{2, 4}) || !slices.Equal(in.Float32s(), []float32{5, 1, 1, 0, 1, 2, 5, 0}) {
				t.Errorf("input %v %v", in.Shape, in.Float32s())
			}
		})
	}
}

func TestNonFiniteAndMissing(t *testing.T) {
	fb := &fakeBackend{models: []string{"plain"}}
	h := New(fb, Options{})
	got := do(t, h, "POST", "/invocations", jsonType, `{"dataframe_split":{"columns":["a","b","c"],"data":[[NaN,1,2],[Infinity,1,null],[1,2,3]]}}`)
	if got.status != 200 || got.body != `{"predictions":[{"y":NaN},{"y":NaN},{"y":6}]}` {
		t.Fatalf("%d %s", got.status, got.body)
	}
	x := fb.lastRequest().Inputs[0].Float32s()
	if !math.IsNaN(float64(x[0])) || !math.IsInf(float64(x[3]), 1) || !math.IsNaN(float64(x[5])) {
		t.Errorf("input %v", x)
	}
	// A string that merely says NaN is not a number.
	got = do(t, h, "POST", "/invocations", jsonType, `{"dataframe_split":{"data":[["NaN",1,2]]}}`)
	if got.status != 400 || !strings.Contains(got.body, `the string \"NaN\" for FP32 data`) {
		t.Errorf("%d %s", got.status, got.body)
	}
	// Empty CSV cells are missing values.
	got = do(t, h, "POST", "/invocations", "text/csv", "a,b,c\n1,,2\ninf,1,1\n")
	if got.status != 200 || got.body != `{"predictions":[{"y":NaN},{"y":Infinity}]}` {
		t.Errorf("%d %s", got.status, got.body)
	}
}

func TestMultiInput(t *testing.T) {
	fb := &fakeBackend{models: []string{"multi"}}
	h := New(fb, Options{})
	got := do(t, h, "POST", "/invocations", jsonType, `{"dataframe_records":[{"a":1.5,"b":2,"s":"x"},{"a":-1,"b":9007199254740993,"s":"é"}]}`)
	if got.status != 200 {
		t.Fatalf("%d %s", got.status, got.body)
	}
	sameJSON(t, got.body, `{"predictions":[{"sum":3.5,"s":"x"},{"sum":9007199254740991,"s":"é"}]}`)
	last := fb.lastRequest()
	if a, b := last.Inputs[0], last.Inputs[1]; !slices.Equal(a.Shape, []int64{2, 1}) || !slices.Equal(b.Shape, []int64{2}) || b.Int64s()[1] != 9007199254740993 {
		t.Errorf("inputs %v %v %v", a.Shape, b.Shape, b.Int64s())
	}
	got = do(t, h, "POST", "/invocations", jsonType, `{"inputs":{"a":[[1]],"b":[2],"s":["z"]}}`)
	if got.status != 200 {
		t.Fatalf("%d %s", got.status, got.body)
	}
	sameJSON(t, got.body, `{"predictions":{"sum":[3],"s":["z"]}}`)
	got = do(t, h, "POST", "/invocations", "text/csv", "s,b,a\nhello,1,0.5\n")
	if got.status != 200 || got.body != `{"predictions":[{"sum":1.5,"s":"hello"}]}` {
		t.Errorf("csv: %d %s", got.status, got.body)
	}
}

func TestScoringErrors(t *testing.T) {
	fb := &fakeBackend{models: []string{"iris", "multi", "plain", "slow"}}
	h := New(fb, Options{Timeout: 50 * time.Millisecond, MaxBody: 4096})
	tests := []struct {
		name, path, ct, body string
		headers              []string
		status               int
		code, msg            string
	}{
		{"no model", "/invocations", jsonType, `{"inputs":[]}`, nil, 400, "BAD_REQUEST", `this server serves several models (iris, multi, plain, slow); choose one with POST /invocations/{model} or the X-Lantern-Model header`},
		{"unknown model", "/invocations/nope", jsonType, `{"inputs":[]}`, nil, 404, "RESOURCE_DOES_NOT_EXIST", `model "nope" is not served`},
		{"unknown version", "/invocations/iris", jsonType, `{"inputs":[]}`, []string{VersionHeader, "9"}, 404, "RESOURCE_DOES_NOT_EXIST", `no version "9"`},
		{"bad json", "/invocations/iris", jsonType, `{"inputs":`, nil, 400, "BAD_REQUEST", "Ensure that input is a valid JSON formatted string"},
		{"list", "/invocations/iris", jsonType, `[[1,2,3,4]]`, nil, 400, "BAD_REQUEST", "exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}. Received a list."},
		{"two formats", "/invocations/iris", jsonType, `{"inputs":[],"instances":[]}`, nil, 400, "BAD_REQUEST", "Received dictionary with input fields: [inputs, instances]"},
		{"no format", "/invocations/iris", jsonType, `{"data":[]}`, nil, 400, "BAD_REQUEST", "Received dictionary with input fields: [data]"},
		{"llm", "/invocations/iris", jsonType, `{"messages":[]}`, nil, 400, "BAD_REQUEST", "unwrapped LLM inputs"},
		{"missing column", "/invocations/iris", jsonType, `{"dataframe_split":{"columns":["sepal_length","sepal_width"],"data":[[1,2]]}}`, nil, 400, "BAD_REQUEST",
			`missing column(s) "petal_length", "petal_width"; model "iris" takes the columns "sepal_length", "sepal_width", "petal_length", "petal_width"`},
		{"unknown column", "/invocations/iris", jsonType, `{"dataframe_records":[{"sepal_length":1,"sepal_width":1,"petal_length":1,"petal_width":1,"colour":"red","id":7}]}`, nil, 400, "BAD_REQUEST",
			`unknown column(s) "colour", "id"`},
		{"unnamed count", "/invocations/iris", jsonType, `{"dataframe_split":{"data":[[1,2,3]]}}`, nil, 400, "BAD_REQUEST", `the data has 3 unnamed columns`},
		{"positional count", "/invocations/plain", jsonType, `{"dataframe_split":{"columns":["p","q"],"data":[[1,2]]}}`, nil, 400, "BAD_REQUEST", `model input "x" takes 3 values per row (shape [-1 3]) but the data has 2 columns`},
		{"string in numbers", "/invocations/plain", jsonType, `{"dataframe_split":{"columns":["p","q","r"],"data":[[1,2,3],[1,"two",3]]}}`, nil, 400, "BAD_REQUEST", `column "q", row 1: the string \"two\" for FP32 data`},
		{"multi missing", "/invocations/multi", jsonType, `{"dataframe_records":[{"a":1,"b":2}]}`, nil, 400, "BAD_REQUEST", `missing column(s) "s"; model "multi" takes one column per input: "a", "b", "s"`},
		{"multi unknown", "/invocations/multi", jsonType, `{"dataframe_records":[{"a":1,"b":2,"s":"x","t":1}]}`, nil, 400, "BAD_REQUEST", `unknown column(s) "t"`},
		{"int fraction", "/invocations/multi", jsonType, `{"dataframe_records":[{"a":1,"b":2.5,"s":"x"}]}`, nil, 400, "BAD_REQUEST", `column "b", row 0: 2.5 is not a whole number, as INT64 data must be`},
		{"int range", "/invocations/multi", jsonType, `{"dataframe_records":[{"a":1,"b":9223372036854775808,"s":"x"}]}`, nil, 400, "BAD_REQUEST", `9223372036854775808 is out of range for INT64`},
		{"fp32 range", "/invocations/multi", jsonType, `{"dataframe_records":[{"a":1e39,"b":1,"s":"x"}]}`, nil, 400, "BAD_REQUEST", `1e39 is out of range for FP32`},
		{"int missing", "/invocations/multi", jsonType, `{"dataframe_records":[{"a":1,"s":"x","b":1},{"a":1,"s":"x"}]}`, nil, 400, "BAD_REQUEST", `column "b", row 1: a missing value`},
		{"ragged tensor", "/invocations/iris", jsonType, `{"inputs":[[1,2,3,4],[1,2]]}`, nil, 400, "BAD_REQUEST", `not rectangular`},
		{"list for multi", "/invocations/multi", jsonType, `{"inputs":[[1]]}`, nil, 400, "BAD_REQUEST", `a list can only feed a model with one input`},
		{"columns lengths", "/invocations/iris", jsonType, `{"inputs":{"a":[1],"b":[1,2]}}`, nil, 400, "BAD_REQUEST", `must have the same length`},
		{"split row width", "/invocations/iris", jsonType, `{"dataframe_split":{"columns":["a","b"],"data":[[1,2,3]]}}`, nil, 400, "BAD_REQUEST", `row 0 has 3 values for 2 columns`},
		{"csv ragged", "/invocations/plain", "text/csv", "a,b,c\n1,2\n", nil, 400, "BAD_REQUEST", `wrong number of fields`},
		{"csv not number", "/invocations/plain", "text/csv", "a,b,c\n1,2,x\n", nil, 400, "BAD_REQUEST", `column "c", row 0: "x" is not a number`},
		{"csv empty", "/invocations/plain", "text/csv", "", nil, 400, "BAD_REQUEST", `the CSV is empty`},
		{"not utf-8", "/invocations/plain", "text/csv", "a,b,c\n1,2,\xff\n", nil, 400, "BAD_REQUEST", `not valid UTF-8`},
		{"timeout", "/invocations/slow", jsonType, `{"inputs":[[1,2,3]]}`, nil, 504, "DEADLINE_EXCEEDED", `request timeout (50ms)`},
		{"too large", "/invocations/plain", jsonType, `{"inputs":[` + strings.Repeat("[1,2,3],", 1000) + `[1,2,3]]}`, nil, 413, "INVALID_PARAMETER_VALUE", `over the 4096-byte limit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, h, "POST", tt.path, tt.ct, tt.body, tt.headers...)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
			var e struct {
				ErrorCode string `json:"error_code"`
				Message   string `json:"message"`
			}
			if err := json.Unmarshal([]byte(got.body), &e); err != nil {
				t.Fatalf("%v: %s", err, got.body)
			}
			if e.ErrorCode != tt.code || !strings.Contains(e.Message, strings.ReplaceAll(tt.msg, `\"`, `"`)) {
				t.Errorf("got %s %q\nwant %s %q", e.ErrorCode, e.Message, tt.code, tt.msg)
			}
		})
	}
}

func TestContentTypes(t *testing.T) {
	h := New(&fakeBackend{models: []string{"plain"}}, Options{})
	body := `{"inputs":[[1,2,3]]}`
	for _, tt := range []struct {
		ct     string
		status int
		msg    string
	}{
		{"application/json", 200, ""},
		{"application/json; charset=UTF-8", 200, ""},
		{"Application/JSON;charset=utf-8", 200, ""},
		{"application/json; charset=latin-1", 415, "The scoring server only supports UTF-8"},
		{"application/json; format=pandas-split", 415, "Unrecognized content type parameters: format"},
		{"text/plain", 415, "This predictor only supports the following content types: Types: ['text/csv', 'application/json']. Got 'text/plain'."},
		{"", 415, "Got ''"},
	} {
		got := do(t, h, "POST", "/invocations", tt.ct, body)
		if got.status != tt.status || !strings.Contains(got.body, tt.msg) {
			t.Errorf("%q: %d %s", tt.ct, got.status, got.body)
		}
		if tt.status == 415 && !strings.HasPrefix(got.header.Get("Content-Type"), "text/plain") {
			t.Errorf("%q: 415 as %s", tt.ct, got.header.Get("Content-Type"))
		}
	}
}

func TestModelSelection(t *testing.T) {
	fb := &fakeBackend{models: []string{"iris", "plain"}}
	h := New(fb, Options{})
	body := `{"inputs":[[1,2,3]]}`
	if got := do(t, h, "POST", "/invocations/plain", jsonType, body, VersionHeader, "1", DefaultRoutingKeyHeader, "d7"); got.status != 200 || got.header.Get(VersionHeader) != "1" {
		t.Fatalf("%d %s %v", got.status, got.body, got.header)
	}
	if last := fb.lastRequest(); last.Model != "plain" || last.Version != "1" || last.RoutingKey != "d7" {
		t.Errorf("request %+v", last)
	}
	if got := do(t, h, "POST", "/invocations", jsonType, body, ModelHeader, "plain"); got.status != 200 {
		t.Fatalf("%d %s", got.status, got.body)
	}
	if got := do(t, h, "POST", "/invocations/plain/x", jsonType, body); got.status != 404 {
		t.Errorf("nested path: %d", got.status)
	}
	one := New(&fakeBackend{models: []string{"plain"}}, Options{})
	if got := do(t, one, "POST", "/invocations", jsonType, body); got.status != 200 || got.body != `{"predictions":{"y":[[6]]}}` {
		t.Errorf("single model: %d %s", got.status, got.body)
	}
	none := New(&fakeBackend{}, Options{})
	if got := do(t, none, "POST", "/invocations", jsonType, body); got.status != 503 || !strings.Contains(got.body, "TEMPORARILY_UNAVAILABLE") {
		t.Errorf("no model: %d %s", got.status, got.body)
	}
}

func TestHandlerAuth(t *testing.T) {
	reader := auth.Generate()
	authn, err := auth.New(auth.Config{Tokens: "r:reader:" + auth.Hash(reader)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(&fakeBackend{models: []string{"plain"}}, Options{}, authn, nil, nil)
	body := `{"inputs":[[1,2,3]]}`
	if got := do(t, h, "GET", "/ping", "", ""); got.status != 200 {
		t.Errorf("ping: %d", got.status)
	}
	got := do(t, h, "POST", "/invocations", jsonType, body)
	if got.status != 401 || !strings.Contains(got.body, `"error_code":"UNAUTHENTICATED"`) {
		t.Errorf("no token: %d %s", got.status, got.body)
	}
	if got := do(t, h, "POST", "/invocations", jsonType, body, "Authorization", "Bearer "+reader); got.status != 200 {
		t.Errorf("reader: %d %s", got.status, got.body)
	}
	h = Handler(&fakeBackend{models: []string{"plain"}}, Options{InferRole: auth.RoleWriter}, authn, nil, nil)
	if got := do(t, h, "POST", "/invocations", jsonType, body, "Authorization", "Bearer "+reader); got.status != 403 {
		t.Errorf("reader with InferRole writer: %d %s", got.status, got.body)
	}
}

func TestConversions(t *testing.T) {
	// Expected bits from Python's struct.pack('<e', x), which rounds half to even.
	for _, tt := range []struct {
		f    float32
		bits uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff}, {65519, 0x7bff}, {65520, 0x7c00},
		{1e-5, 0x00a8}, {6e-8, 0x0001}, {2.9802322387695312e-08, 0}, {8.940696716308594e-08, 2}, {0.1, 0x2e66}, {3.14159, 0x4248},
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := float16bits(tt.f); got != tt.bits {
			t.Errorf("float16bits(%v) = %#x, want %#x", tt.f, got, tt.bits)
		}
		if tt.bits != 0x7c00 && tt.bits != 0xfc00 && tt.f >= 6e-5 {
			if back := float16to32(tt.bits); math.Abs(float64(back-tt.f)) > float64(tt.f)/1000 {
				t.Errorf("float16to32(%#x) = %v, want about %v", tt.bits, back, tt.f)
			}
		}
	}
	if got := float16to32(0x0001); got != 5.9604645e-08 {
		t.Errorf("smallest subnormal = %v", got)
	}
	if math.Float32frombits(uint32(bfloat16bits(1.00390625))<<16) != 1.0 { // a tie, to even
		t.Error("bf16 rounding")
	}
	if b := bfloat16bits(float32(math.NaN())); b&0x7f80 != 0x7f80 || b&0x7f == 0 {
		t.Errorf("bf16 NaN = %#x", b)
	}
}
