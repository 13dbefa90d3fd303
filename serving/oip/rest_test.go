package oip

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lantern-mlops/lantern/internal/auth"
	"github.com/lantern-mlops/lantern/internal/buildinfo"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

type httpResult struct {
	status int
	header http.Header
	body   string
}

func serve(t *testing.T, h http.Handler, method, path, body string, headers ...string) httpResult {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return httpResult{w.Code, w.Header(), w.Body.String()}
}

func wantJSON(t *testing.T, got httpResult, status int, body string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d, want %d; body %s", got.status, status, got.body)
	}
	if body == "" {
		return
	}
	var a, b any
	if err := json.Unmarshal([]byte(got.body), &a); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, got.body)
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("bad expectation %s: %v", body, err)
	}
	ga, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	if !bytes.Equal(ga, gb) {
		t.Fatalf("body\n got %s\nwant %s", got.body, body)
	}
}

func TestRESTRoutes(t *testing.T) {
	fb := &fakeBackend{}
	h := NewREST(fb, RESTOptions{})
	meta := `{"name":"echo","versions":["2","1"],"platform":"onnx_onnxv1",
		"inputs":[{"name":"features","datatype":"FP32","shape":[-1,4]}],
		"outputs":[{"name":"label","datatype":"INT64","shape":[-1]},{"name":"probabilities","datatype":"FP32","shape":[-1,3]}],
		"properties":{"engine":"fake"}}`
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/v2", 200, `{"name":"lantern","version":"` + buildinfo.String() + `","extensions":["binary_tensor_data"]}`},
		{"GET", "/v2/", 200, ""},
		{"GET", "/v2/health/live", 200, `{"live":true}`},
		{"GET", "/v2/health/ready", 200, `{"ready":true}`},
		{"HEAD", "/v2/health/ready", 200, ""},
		{"GET", "/v2/models", 200, `{"models":["busy","broken","echo","loading","panic","slow"]}`},
		{"GET", "/v2/models/echo", 200, meta},
		{"GET", "/v2/models/echo/versions/1", 200, meta},
		{"GET", "/v2/models/echo/versions/9", 404, `{"error":"not found: model \"echo\" has no version \"9\""}`},
		{"GET", "/v2/models/nope", 404, `{"error":"not found: model \"nope\" is not served"}`},
		{"GET", "/v2/models/echo/ready", 200, `{"name":"echo","ready":true}`},
		{"GET", "/v2/models/echo/versions/2/ready", 200, `{"name":"echo","ready":true}`},
		{"GET", "/v2/models/loading/ready", 503, `{"name":"loading","ready":false}`},
		{"GET", "/v2/models/nope/ready", 404, ""},
		{"GET", "/v2/models/echo/versions/9/ready", 404, ""},
		{"GET", "/v2/nothing", 404, ""},
		{"GET", "/v1/models/echo", 404, ""},
		{"GET", "/v2/models/echo/versions/", 404, ""},
		{"GET", "/v2/models/echo/explain", 404, ""},
		{"POST", "/v2/models", 405, ""},
		{"GET", "/v2/models/echo/infer", 405, ""},
		{"DELETE", "/v2/models/echo", 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got := serve(t, h, tt.method, tt.path, "")
			wantJSON(t, got, tt.status, tt.body)
			if got.status >= 400 && got.status != 503 && tt.method != "HEAD" && !strings.Contains(got.body, `"error"`) {
				t.Errorf("error body %s has no \"error\"", got.body)
			}
			if got.status == 405 && got.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	fb.notReady = true
	wantJSON(t, serve(t, h, "GET", "/v2/health/ready", ""), 503, `{"ready":false}`)
}

func inferBody(name, datatype, shape, data string) string {
	return `{"inputs":[{"name":"` + name + `","datatype":"` + datatype + `","shape":` + shape + `,"data":` + data + `}]}`
}

func TestRESTDatatypes(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{})
	tests := []struct {
		datatype, shape, in, out string
	}{
		{"BOOL", "[3]", `[true,false,true]`, `[true,false,true]`},
		{"UINT8", "[3]", `[0,255,1]`, `[0,255,1]`},
		{"UINT16", "[2]", `[0,65535]`, `[0,65535]`},
		{"UINT32", "[2]", `[0,4294967295]`, `[0,4294967295]`},
		{"UINT64", "[2]", `[0,18446744073709551615]`, `[0,18446744073709551615]`},
		{"INT8", "[3]", `[-128,127,0]`, `[-128,127,0]`},
		{"INT16", "[2]", `[-32768,32767]`, `[-32768,32767]`},
		{"INT32", "[2]", `[-2147483648,2147483647]`, `[-2147483648,2147483647]`},
		{"INT64", "[3]", `[-9223372036854775808,9223372036854775807,-0]`, `[-9223372036854775808,9223372036854775807,0]`},
		{"INT64", "[2]", `[1.0,2e3]`, `[1,2000]`},
		{"UINT8", "[1]", `[-0]`, `[0]`},
		{"FP32", "[7]", `[1.5,-0.25,3.4028235e38,1e-7,0.1,100,1e-50]`, `[1.5,-0.25,3.4028235e+38,1e-7,0.1,100,0]`},
		{"FP32", "[3]", `[NaN,Infinity,-Infinity]`, `[NaN,Infinity,-Infinity]`},
		{"FP64", "[5]", `[0.1,1e300,-2.5,123456789012345678,5e-324]`, `[0.1,1e+300,-2.5,123456789012345680,5e-324]`},
		{"BYTES", "[4]", `["hello","","a\"b\\c\n\u0001","\u00e9\ud83d\ude00"]`, `["hello","","a\"b\\c\n\u0001","é😀"]`},
		{"FP32", "[2,2]", `[[1,2],[3,4]]`, `[1,2,3,4]`},
		{"FP32", "[2,2]", `[[[1],[2]],[3,4]]`, `[1,2,3,4]`},
		{"INT32", "[0]", `[]`, `[]`},
		{"FP32", "[]", `[7]`, `[7]`},
	}
	for _, tt := range tests {
		t.Run(tt.datatype+" "+tt.in, func(t *testing.T) {
			got := serve(t, h, "POST", "/v2/models/echo/infer", inferBody("x", tt.datatype, tt.shape, tt.in))
			if got.status != 200 {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			want := `{"model_name":"echo","model_version":"2","outputs":[{"name":"x","datatype":"` + tt.datatype +
				`","shape":` + tt.shape + `,"data":` + tt.out + `}]}`
			if got.body != want {
				t.Errorf("body\n got %s\nwant %s", got.body, want)
			}
			if got.header.Get("Content-Type") != "application/json" || got.header.Get(VersionHeader) != "2" {
				t.Errorf("headers %v", got.header)
			}
		})
	}
}

func TestRESTInferRequestFields(t *testing.T) {
	fb := &fakeBackend{}
	h := NewREST(fb, RESTOptions{})
	// Keys in any order (data before datatype and shape), unknown keys and
	// parameters ignored, id echoed, outputs filtered, version from the path.
	body := `{"model_name":"x","inputs":[
		{"data":[1,2,3,4],"parameters":{"content_type":"np","x":[1,{"a":null}]},"name":"a","shape":[1,4],"datatype":"FP32"},
		{"name":"b","datatype":"INT64","shape":[1],"data":[7]}],
		"id":"req-1","parameters":{"routing_key":"district-9","other":true},
		"outputs":[{"name":"b","parameters":{"binary_data":false}}]}`
	got := serve(t, h, "POST", "/v2/models/echo/versions/1/infer", body)
	wantJSON(t, got, 200, `{"model_name":"echo","model_version":"1","id":"req-1",
		"outputs":[{"name":"b","datatype":"INT64","shape":[1],"data":[7]}]}`)
	last := fb.lastRequest()
	if last.RoutingKey != "district-9" || last.Version != "1" || last.ID != "req-1" || last.Protocol != "rest" ||
		len(last.Outputs) != 1 || last.Outputs[0] != "b" || len(last.Inputs) != 2 {
		t.Errorf("request %+v", last)
	}
	if got := last.Inputs[0].Float32s(); len(got) != 4 || got[3] != 4 {
		t.Errorf("input a = %v", got)
	}

	// The header wins over the parameter.
	serve(t, h, "POST", "/v2/models/echo/infer", body, "X-Lantern-Routing-Key", "from-header")
	if k := fb.lastRequest().RoutingKey; k != "from-header" {
		t.Errorf("routing key %q", k)
	}
	// A number is taken as written; names are configurable.
	h2 := NewREST(fb, RESTOptions{RoutingKeyHeader: "X-District", RoutingKeyParameter: "district"})
	serve(t, h2, "POST", "/v2/models/echo/infer", `{"parameters":{"district":42},"inputs":[]}`)
	if k := fb.lastRequest().RoutingKey; k != "42" {
		t.Errorf("routing key %q", k)
	}
	serve(t, h2, "POST", "/v2/models/echo/infer", `{"inputs":[]}`, "X-District", "7")
	if k := fb.lastRequest().RoutingKey; k != "7" {
		t.Errorf("routing key %q", k)
	}
}

func TestRESTInferErrors(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{})
	tests := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"count", "", inferBody("features", "FP32", "[1,4]", "[1,2,3]"), 400, `input "features": shape [1,4] needs 4 elements, got 3`},
		{"count nested", "", inferBody("features", "FP32", "[1,4]", "[[1,2],[3,4],[5]]"), 400, `input "features": shape [1,4] needs 4 elements, got 5`},
		{"huge shape", "", inferBody("x", "FP32", "[1000000000,1000000000]", "[1]"), 400, `needs 1000000000000000000 elements, got 1`},
		{"overflowing shape", "", inferBody("x", "FP32", "[4294967296,4294967296,4294967296]", "[1]"), 400, `shape [4294967296,4294967296,4294967296] is not valid`},
		{"negative shape", "", inferBody("x", "FP32", "[-1,4]", "[1]"), 400, `"shape" must be an array of non-negative integers`},
		{"int8 range", "", inferBody("x", "INT8", "[2]", "[1,300]"), 400, `input "x": element 1 (300) is out of range for INT8`},
		{"uint8 negative", "", inferBody("x", "UINT8", "[1]", "[-1]"), 400, `element 0 (-1) is out of range for UINT8`},
		{"int64 overflow", "", inferBody("x", "INT64", "[1]", "[9223372036854775808]"), 400, `out of range for INT64`},
		{"uint64 overflow", "", inferBody("x", "UINT64", "[1]", "[18446744073709551616]"), 400, `out of range for UINT64`},
		{"int fraction", "", inferBody("x", "INT64", "[1]", "[1.5]"), 400, `input "x": element 0 (1.5) is not a whole number; INT64 data must be integers`},
		{"int NaN", "", inferBody("x", "INT32", "[1]", "[NaN]"), 400, `want an integer`},
		{"fp32 string", "", inferBody("x", "FP32", "[1]", `["1.5"]`), 400, `input "x": element 0 of the FP32 data is a string; want a number`},
		{"fp32 string NaN", "", inferBody("x", "FP32", "[1]", `["NaN"]`), 400, `is a string`},
		{"fp32 range", "", inferBody("x", "FP32", "[1]", `[1e39]`), 400, `element 0 (1e39) is out of range for FP32`},
		{"fp32 null", "", inferBody("x", "FP32", "[1]", `[null]`), 400, `is null`},
		{"bool number", "", inferBody("x", "BOOL", "[1]", `[1]`), 400, `element 0 of the BOOL data is a number; want true or false`},
		{"bytes number", "", inferBody("x", "BYTES", "[1]", `[1]`), 400, `want a string`},
		{"fp16 json", "", inferBody("x", "FP16", "[1]", `[1]`), 400, `input "x": FP16 has no JSON representation; send it as binary data`},
		{"bf16 json", "", inferBody("x", "BF16", "[1]", `[1]`), 400, `BF16 has no JSON representation`},
		{"datatype", "", inferBody("x", "FLOAT32", "[1]", `[1]`), 400, `input "x": unknown datatype "FLOAT32"`},
		{"scalar data", "", inferBody("x", "FP32", "[1]", `1`), 400, `"data" must be an array`},
		{"object in data", "", inferBody("x", "FP32", "[1]", `[{}]`), 400, `is an object`},
		{"no data", "", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]}`, 400, `input "x" has no "data"`},
		{"no name", "", `{"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]}`, 400, `input 0 has no "name"`},
		{"no shape", "", `{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}`, 400, `input "x" has no "shape"`},
		{"no datatype", "", `{"inputs":[{"name":"x","shape":[1],"data":[1]}]}`, 400, `input "x" has no "datatype"`},
		{"duplicate input", "", `{"inputs":[` + strings.Repeat(`{"name":"x","datatype":"FP32","shape":[1],"data":[1]},`, 2) + `{"name":"y","datatype":"FP32","shape":[1],"data":[1]}]}`, 400, `input "x" is given twice`},
		{"duplicate output", "", `{"inputs":[],"outputs":[{"name":"a"},{"name":"a"}]}`, 400, `output "a" is requested twice`},
		{"no inputs", "", `{"id":"x"}`, 400, `the request has no "inputs"`},
		{"not an object", "", `[1,2]`, 400, `expected the request to be an object, found an array`},
		{"empty", "", ``, 400, `it ends early`},
		{"truncated", "", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1`, 400, `not valid JSON`},
		{"trailing", "", `{"inputs":[]} x`, 400, `unexpected 'x' at byte 14 after the request object`},
		{"bad escape", "", `{"id":"\q","inputs":[]}`, 400, `unknown escape`},
		{"control char", "", "{\"id\":\"a\x01\",\"inputs\":[]}", 400, `control characters`},
		{"id number", "", `{"id":1,"inputs":[]}`, 400, `expected "id" to be a string`},
		{"deep", "", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"inputs":[]}`, 400, `more than 64 deep`},
		{"deep data", "", inferBody("x", "FP32", "[1]", strings.Repeat("[", 100)+"1"+strings.Repeat("]", 100)), 400, `more than 64 deep`},
		{"bad number", "", inferBody("x", "FP32", "[1]", `[01]`), 400, `expected ',' or ']'`},
		{"bad number 2", "", inferBody("x", "FP32", "[1]", `[1.]`), 400, `expected a digit after the decimal point`},
		{"unknown model", "/v2/models/nope/infer", inferBody("x", "FP32", "[1]", `[1]`), 404, `model "nope" is not served`},
		{"unknown version", "/v2/models/echo/versions/7/infer", inferBody("x", "FP32", "[1]", `[1]`), 404, `model "echo" has no version "7"`},
		{"unknown output", "", `{"inputs":[],"outputs":[{"name":"zz"}]}`, 400, `model "echo" has no output "zz"`},
		{"not ready", "/v2/models/loading/infer", inferBody("x", "FP32", "[1]", `[1]`), 503, `is loading`},
		{"overloaded", "/v2/models/busy/infer", inferBody("x", "FP32", "[1]", `[1]`), 429, `full queue`},
		{"broken output", "/v2/models/broken/infer", inferBody("x", "FP32", "[1]", `[1]`), 500, `internal error`},
		{"binary size without header", "", `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}`, 400, `has no Inference-Header-Content-Length header`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/v2/models/echo/infer"
			}
			got := serve(t, h, "POST", path, tt.body)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(got.body), &e); err != nil {
				t.Fatalf("error body %q: %v", got.body, err)
			}
			if !strings.Contains(e.Error, tt.msg) {
				t.Errorf("error %q does not contain %q", e.Error, tt.msg)
			}
			if got.header.Get(VersionHeader) != "" {
				t.Error("error response with a version header")
			}
		})
	}
}

func TestRESTNonFiniteNull(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{NonFinite: NonFiniteNull})
	got := serve(t, h, "POST", "/v2/models/echo/infer", inferBody("x", "FP64", "[3]", "[NaN,-Infinity,1]"))
	wantJSON(t, got, 200, `{"model_name":"echo","model_version":"2","outputs":[{"name":"x","datatype":"FP64","shape":[3],"data":[null,null,1]}]}`)
}

func TestRESTBodyLimit(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{MaxBody: 100})
	body := inferBody("x", "FP32", "[40]", "["+strings.Repeat("1,", 39)+"1]")
	// Content-Length known.
	got := serve(t, h, "POST", "/v2/models/echo/infer", body)
	if got.status != http.StatusRequestEntityTooLarge || !strings.Contains(got.body, "over the 100-byte limit") {
		t.Errorf("known length: %d %s", got.status, got.body)
	}
	// Streamed (no Content-Length).
	req := httptest.NewRequest("POST", "/v2/models/echo/infer", io.MultiReader(strings.NewReader(body)))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("unknown length: %d %s", w.Code, w.Body)
	}
	// Under the limit, streamed.
	small := inferBody("x", "FP32", "[1]", "[1]")
	req = httptest.NewRequest("POST", "/v2/models/echo/infer", io.MultiReader(strings.NewReader(small)))
	req.ContentLength = -1
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf("small streamed: %d %s", w.Code, w.Body)
	}
	// Compressed bodies are refused clearly.
	got = serve(t, h, "POST", "/v2/models/echo/infer", small, "Content-Encoding", "gzip")
	if got.status != http.StatusUnsupportedMediaType {
		t.Errorf("gzip: %d %s", got.status, got.body)
	}
}

func TestRESTTimeout(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{Timeout: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	start := time.Now()
	resp, err := http.Post(srv.URL+"/v2/models/slow/infer", "application/json", strings.NewReader(inferBody("x", "FP32", "[1]", "[1]")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), "request timeout (50ms)") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the handler took %s", d)
	}
}

// binaryRequest builds a request with a JSON header and binary parts.
func binaryRequest(header string, parts ...[]byte) (string, string) {
	body := header
	for _, p := range parts {
		body += string(p)
	}
	return body, strconv.Itoa(len(header))
}

// splitBinary splits a binary-extension response into its JSON and data.
func splitBinary(t *testing.T, got httpResult) (map[string]any, []byte) {
	t.Helper()
	if got.status != 200 {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	n, err := strconv.Atoi(got.header.Get("Inference-Header-Content-Length"))
	if err != nil {
		t.Fatalf("no Inference-Header-Content-Length: %v", got.header)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got.body[:n]), &m); err != nil {
		t.Fatalf("header %q: %v", got.body[:n], err)
	}
	return m, []byte(got.body[n:])
}

func le32(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func bytesRaw(s ...string) []byte {
	var b []byte
	for _, e := range s {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b
}

func TestRESTBinaryExtension(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{})
	fp := le32(1.5, -2, 3.25, 4)
	strs := bytesRaw("a", "", "\xff\x00bin")
	bools := []byte{1, 0, 1}
	fp16 := []byte{0x00, 0x3c, 0x00, 0xc0} // 1.0, -2.0
	header := `{"inputs":[
		{"name":"f","datatype":"FP32","shape":[2,2],"parameters":{"binary_data_size":16}},
		{"name":"j","datatype":"INT32","shape":[2],"data":[5,6]},
		{"name":"s","datatype":"BYTES","shape":[3],"parameters":{"binary_data_size":` + strconv.Itoa(len(strs)) + `}},
		{"name":"b","datatype":"BOOL","shape":[3],"parameters":{"binary_data_size":3}},
		{"name":"h","datatype":"FP16","shape":[2],"parameters":{"binary_data_size":4}}],
		"outputs":[{"name":"f","parameters":{"binary_data":true}},{"name":"j"},{"name":"s","parameters":{"binary_data":true}},{"name":"b"},{"name":"h"}]}`
	body, hl := binaryRequest(header, fp, strs, bools, fp16)
	got := serve(t, h, "POST", "/v2/models/echo/infer", body, "Inference-Header-Content-Length", hl, "Content-Type", "application/octet-stream")
	m, data := splitBinary(t, got)
	outs := m["outputs"].([]any)
	wantSizes := map[string]float64{"f": 16, "s": float64(len(strs)), "h": 4}
	for _, o := range outs {
		o := o.(map[string]any)
		name := o["name"].(string)
		if size, ok := wantSizes[name]; ok {
			p, _ := o["parameters"].(map[string]any)
			if p["binary_data_size"] != size || o["data"] != nil {
				t.Errorf("output %s: %v", name, o)
			}
		} else if o["data"] == nil {
			t.Errorf("output %s has no JSON data: %v", name, o)
		}
	}
	if want := string(fp) + string(strs) + string(fp16); string(data) != want {
		t.Errorf("binary data %q, want %q", data, want)
	}

	// binary_data_output makes every output binary unless one says otherwise.
	header = `{"parameters":{"binary_data_output":true},"inputs":[
		{"name":"f","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":16}},
		{"name":"j","datatype":"INT32","shape":[2],"data":[5,6]}],
		"outputs":[{"name":"f"},{"name":"j","parameters":{"binary_data":false}}]}`
	body, hl = binaryRequest(header, fp)
	m, data = splitBinary(t, serve(t, h, "POST", "/v2/models/echo/infer", body, "Inference-Header-Content-Length", hl))
	if string(data) != string(fp) {
		t.Errorf("binary data %q", data)
	}
	if j := m["outputs"].([]any)[1].(map[string]any); j["data"] == nil {
		t.Errorf("output j: %v", j)
	}

	// A request with a header but no binary data, and a response without
	// binary outputs, is plain JSON.
	plain := inferBody("x", "FP32", "[1]", "[1]")
	got = serve(t, h, "POST", "/v2/models/echo/infer", plain, "Inference-Header-Content-Length", strconv.Itoa(len(plain)))
	if got.status != 200 || got.header.Get("Inference-Header-Content-Length") != "" {
		t.Errorf("%d %v %s", got.status, got.header, got.body)
	}

	errs := []struct {
		name, header string
		parts        [][]byte
		hl           string
		msg          string
	}{
		{"size mismatch", `{"inputs":[{"name":"f","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":12}}]}`, [][]byte{fp[:12]}, "",
			`input "f": shape [4] of FP32 needs 16 bytes of raw data, got 12`},
		{"short body", `{"inputs":[{"name":"f","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":16}}]}`, [][]byte{fp[:8]}, "",
			`binary_data_size is 16 but only 8 bytes of binary data remain`},
		{"leftover", `{"inputs":[{"name":"f","datatype":"FP32","shape":[4],"parameters":{"binary_data_size":16}}]}`, [][]byte{fp, {1}}, "",
			`17 bytes of binary data after the JSON but the inputs' binary_data_size parameters add up to 16`},
		{"both", `{"inputs":[{"name":"f","datatype":"FP32","shape":[1],"data":[1],"parameters":{"binary_data_size":4}}]}`, [][]byte{fp[:4]}, "",
			`has both "data" and a binary_data_size parameter`},
		{"bool byte", `{"inputs":[{"name":"b","datatype":"BOOL","shape":[1],"parameters":{"binary_data_size":1}}]}`, [][]byte{{2}}, "",
			`raw BOOL elements must be 0 or 1`},
		{"bytes length", `{"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}`, [][]byte{{9, 0, 0, 0, 'a', 'b'}}, "",
			`raw BYTES element 0 claims 9 bytes but only 2 remain`},
		{"negative size", `{"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":-6}}]}`, nil, "",
			`binary_data_size must be a non-negative integer`},
		{"header too long", `{"inputs":[]}`, nil, "1000", `says the JSON is 1000 bytes`},
		{"header not a number", `{"inputs":[]}`, nil, "x", `must be a non-negative integer`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			body, hl := binaryRequest(tt.header, tt.parts...)
			if tt.hl != "" {
				hl = tt.hl
			}
			got := serve(t, h, "POST", "/v2/models/echo/infer", body, "Inference-Header-Content-Length", hl)
			if got.status != 400 || !strings.Contains(got.body, jsonEscape(tt.msg)) {
				t.Errorf("%d %s; want %q", got.status, got.body, tt.msg)
			}
		})
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func TestRESTBinaryRoundTripAllTypes(t *testing.T) {
	h := NewREST(&fakeBackend{}, RESTOptions{})
	for dt := tensor.Bool; dt <= tensor.String; dt++ {
		t.Run(dt.OIP(), func(t *testing.T) {
			var raw []byte
			if dt == tensor.String {
				raw = bytesRaw("x", "yz")
			} else {
				for i := range 2 * dt.Size() {
					raw = append(raw, byte(i%2)) // valid for BOOL too
				}
			}
			header := `{"parameters":{"binary_data_output":true},"inputs":[{"name":"t","datatype":"` + dt.OIP() +
				`","shape":[2],"parameters":{"binary_data_size":` + strconv.Itoa(len(raw)) + `}}]}`
			body, hl := binaryRequest(header, raw)
			_, data := splitBinary(t, serve(t, h, "POST", "/v2/models/echo/infer", body, "Inference-Header-Content-Length", hl))
			if !bytes.Equal(data, raw) {
				t.Errorf("got %v, want %v", data, raw)
			}
		})
	}
}

func newAuth(t *testing.T) (authn *auth.Authenticator, reader, writer string) {
	t.Helper()
	reader, writer = auth.Generate(), auth.Generate()
	a, err := auth.New(auth.Config{Tokens: "r:reader:" + auth.Hash(reader) + ",w:writer:" + auth.Hash(writer)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, reader, writer
}

func TestRESTHandlerAuth(t *testing.T) {
	authn, reader, writer := newAuth(t)
	h := RESTHandler(&fakeBackend{}, RESTOptions{}, authn, nil, nil)
	infer := inferBody("x", "FP32", "[1]", "[1]")
	tests := []struct {
		name, method, path, body, token string
		status                          int
	}{
		{"live open", "GET", "/v2/health/live", "", "", 200},
		{"ready open", "GET", "/v2/health/ready", "", "", 200},
		{"models needs token", "GET", "/v2/models", "", "", 401},
		{"bad token", "GET", "/v2/models", "", "lnt_nope", 401},
		{"reader lists", "GET", "/v2/models", "", reader, 200},
		{"infer needs token", "POST", "/v2/models/echo/infer", infer, "", 401},
		{"reader infers", "POST", "/v2/models/echo/infer", infer, reader, 200},
		{"writer infers", "POST", "/v2/models/echo/infer", infer, writer, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.token != "" {
				hdr = []string{"Authorization", "Bearer " + tt.token}
			}
			got := serve(t, h, tt.method, tt.path, tt.body, hdr...)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
			if got.status >= 400 && !strings.Contains(got.body, `{"error":`) {
				t.Errorf("error body %s", got.body)
			}
			if got.header.Get("X-Request-Id") == "" {
				t.Error("no request id")
			}
		})
	}

	// Inference can be made a write; health can be closed too.
	h = RESTHandler(&fakeBackend{}, RESTOptions{InferRole: auth.RoleWriter, AuthenticateHealth: true}, authn, nil, nil)
	if got := serve(t, h, "POST", "/v2/models/echo/infer", infer, "Authorization", "Bearer "+reader); got.status != 403 {
		t.Errorf("reader infer with InferRole writer: %d %s", got.status, got.body)
	}
	if got := serve(t, h, "POST", "/v2/models/echo/infer", infer, "Authorization", "Bearer "+writer); got.status != 200 {
		t.Errorf("writer infer: %d %s", got.status, got.body)
	}
	if got := serve(t, h, "GET", "/v2/health/ready", ""); got.status != 401 {
		t.Errorf("health with AuthenticateHealth: %d", got.status)
	}
}

func TestRESTPanicRecovered(t *testing.T) {
	h := RESTHandler(&fakeBackend{}, RESTOptions{}, nil, nil, nil)
	got := serve(t, h, "POST", "/v2/models/panic/infer", inferBody("x", "FP32", "[1]", "[1]"))
	if got.status != 500 || !strings.Contains(got.body, "internal error") {
		t.Errorf("%d %s", got.status, got.body)
	}
}
