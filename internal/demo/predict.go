package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lantern-mlops/lantern/serving/oip/oippb"
	"github.com/lantern-mlops/lantern/training"
	"github.com/lantern-mlops/lantern/training/data"
	"github.com/lantern-mlops/lantern/training/eval"
	"github.com/lantern-mlops/lantern/training/features"
	"github.com/lantern-mlops/lantern/training/synth"
)

// children are example visits for the classifier.
var children = []struct {
	who string
	in  features.MalnutritionInput
}{
	{"girl, 24 months, MUAC 132 mm", features.MalnutritionInput{AgeMonths: 24, Sex: "F", MUACmm: 132, WeightKg: 11.4, HeightCm: 85, Oedema: false}},
	{"boy, 14 months, MUAC 119 mm", features.MalnutritionInput{AgeMonths: 14, Sex: "M", MUACmm: 119, WeightKg: 7.9, HeightCm: 74, Oedema: false}},
	{"girl, 18 months, MUAC 108 mm", features.MalnutritionInput{AgeMonths: 18, Sex: "F", MUACmm: 108, WeightKg: 7.0, HeightCm: 77, Oedema: false}},
}

func exampleChildRow() []float32 {
	v, _ := features.MalnutritionVector(children[2].in, nil)
	return v
}

func exampleChildJSON() string {
	b, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "features", "shape": []int{1, len(exampleChildRow())}, "datatype": "FP32", "data": exampleChildRow()}}})
	return string(b)
}

func exampleChildGRPC() string {
	b, _ := json.Marshal(map[string]any{"model_name": training.FamilyMalnutrition, "inputs": []map[string]any{{
		"name": "features", "datatype": "FP32", "shape": []int{1, len(exampleChildRow())}, "contents": map[string]any{"fp32_contents": exampleChildRow()}}}})
	return string(b)
}

// predict asks both models for predictions, demand over REST, the
// classifier over gRPC.
func (r *run) predict(ctx context.Context) error {
	r.w.title("4. Predictions")
	if err := r.predictDemand(ctx); err != nil {
		return err
	}
	return r.predictChildren(ctx)
}

func (r *run) predictDemand(ctx context.Context) error {
	frame, _, err := data.Load(ctx, r.demandPath(), synth.DemandSchema(), data.Options{AsOf: demoAsOf})
	if err != nil {
		return err
	}
	feats, err := features.BuildDemand(frame, features.DemandOptions{})
	if err != nil {
		return err
	}
	last := slices.Max(feats.Month)
	var rows []int
	for i, m := range feats.Month {
		if m == last && !isNaN(feats.Y[i]) && len(rows) < 3 {
			rows = append(rows, i)
		}
	}
	sub := feats.X.Subset(rows)
	var flat []float32
	row := make([]float32, len(sub.Cols))
	for i := range sub.Rows {
		flat = append(flat, sub.Row(i, row)...)
	}
	// Missing lags are NaN, which OIP's JSON carries as a bare NaN token
	// (as Python's json and Triton write it); encoding/json refuses NaN.
	body := fmt.Appendf(nil, `{"inputs":[{"name":"features","shape":[%d,%d],"datatype":"FP32","data":[`, len(rows), len(sub.Cols))
	for i, v := range flat {
		if i > 0 {
			body = append(body, ',')
		}
		if isNaN(float64(v)) {
			body = append(body, "NaN"...)
		} else {
			body = strconv.AppendFloat(body, float64(v), 'g', -1, 32)
		}
	}
	body = append(body, "]}]}"...)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.http+"/v2/models/"+training.FamilyDemand+"/infer", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		ModelVersion string `json:"model_version"`
		Outputs      []struct {
			Data []float64 `json:"data"`
		} `json:"outputs"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("REST inference: %d %s %v", resp.StatusCode, out.Error, err)
	}
	for k, i := range rows {
		r.w.line("REST  %s v%s: %s %s forecast %.0f cartons (reported: %.0f)", training.FamilyDemand, out.ModelVersion,
			feats.District[i], eval.FormatMonth(feats.Month[i]), out.Outputs[0].Data[k], feats.Y[i])
	}
	return nil
}

func isNaN(f float64) bool { return f != f }

func (r *run) predictChildren(ctx context.Context) error {
	conn, err := grpc.NewClient(r.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := oippb.NewGRPCInferenceServiceClient(conn)
	var flat []float32
	for _, ch := range children {
		v, err := features.MalnutritionVector(ch.in, nil)
		if err != nil {
			return err
		}
		flat = append(flat, v...)
	}
	resp, err := c.ModelInfer(ctx, &oippb.ModelInferRequest{
		ModelName: training.FamilyMalnutrition,
		Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "features", Datatype: "FP32",
			Shape: []int64{int64(len(children)), int64(len(flat) / len(children))}, Contents: &oippb.InferTensorContents{Fp32Contents: flat}}},
	})
	if err != nil {
		return fmt.Errorf("gRPC inference: %w", err)
	}
	var labels []string
	var probs []float32
	for _, o := range resp.Outputs {
		switch o.Name {
		case "label":
			for _, b := range o.GetContents().GetBytesContents() {
				labels = append(labels, string(b))
			}
		case "probabilities":
			probs = o.GetContents().GetFp32Contents()
		}
	}
	k := len(features.Classes)
	for i, ch := range children {
		p := probs[i*k : (i+1)*k]
		r.w.line("gRPC  %s v%s: %s → %s (none %.2f, MAM %.2f, SAM %.2f)", training.FamilyMalnutrition, resp.ModelVersion, ch.who, labels[i], p[0], p[1], p[2])
	}
	return nil
}
