package mlflowscore

import (
	"testing"

	"github.com/lantern-mlops/lantern/serving"
)

// FuzzParseRequest checks that no body makes the scoring parser, the
// column mapping or the answer writer panic.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"dataframe_split":{"columns":["sepal_length","sepal_width","petal_length","petal_width"],"data":[[5,1,1,NaN]]}}`), false, "iris")
	f.Add([]byte(`{"dataframe_records":[{"a":1,"b":2,"s":"x"},{"a":null}]}`), false, "multi")
	f.Add([]byte(`{"inputs":{"float_input":[[1,2,3,4]]}}`), false, "iris")
	f.Add([]byte(`{"instances":[[1,2,3]],"params":{}}`), false, "plain")
	f.Add([]byte(",a,b,c\n0,1,2,3\n1,,inf,-1e3\n"), true, "plain")
	f.Fuzz(func(t *testing.T, body []byte, csv bool, model string) {
		info, ok := infos[model]
		if !ok {
			return
		}
		ft := formatJSON
		if csv {
			ft = formatCSV
		}
		req, err := parseRequest(body, ft)
		if err != nil {
			return
		}
		inputs, err := buildInputs(info, req)
		if err != nil {
			return
		}
		for i := range inputs {
			if err := inputs[i].Validate(); err != nil {
				t.Fatalf("inconsistent input: %v", err)
			}
		}
		fb := &fakeBackend{models: []string{model}}
		if model == "slow" {
			return
		}
		resp, err := fb.Infer(t.Context(), &serving.InferRequest{Model: model, Inputs: inputs})
		if err != nil {
			return
		}
		if _, err := appendPredictions(nil, resp, info, req.frameStyle, req.rows); err != nil {
			t.Fatal(err)
		}
	})
}
