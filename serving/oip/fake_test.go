package oip

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/lantern-mlops/lantern/internal/errkind"
	"github.com/lantern-mlops/lantern/serving"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// fakeBackend serves a few models whose behaviour tests rely on:
//
//	echo        returns its inputs as outputs (filtered by Outputs), versions "2" and "1"
//	loading     configured but not loaded: not ready, Infer is Unavailable
//	slow        waits for its context to end
//	busy        always overloaded
//	panic       panics in Infer
//	broken      returns an output whose data does not match its shape
type fakeBackend struct {
	mu       sync.Mutex
	last     serving.InferRequest // the last request, for assertions
	notReady bool                 // Ready reports false
}

var _ serving.Backend = (*fakeBackend)(nil)

var fakeModels = []string{"busy", "broken", "echo", "loading", "panic", "slow"}

func (f *fakeBackend) Models() []string { return slices.Clone(fakeModels) }

func (f *fakeBackend) Ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.notReady
}

func (f *fakeBackend) lastRequest() serving.InferRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func (f *fakeBackend) Model(name, version string) (serving.ModelInfo, error) {
	if !slices.Contains(fakeModels, name) {
		return serving.ModelInfo{}, fmt.Errorf("%w: model %q is not served", errkind.NotFound, name)
	}
	info := serving.ModelInfo{
		Name:     name,
		Versions: []string{"2", "1"},
		Platform: "onnx_onnxv1",
		Inputs: []tensor.Info{
			{Name: "features", DType: tensor.Float32, Shape: []int64{-1, 4}},
		},
		Outputs: []tensor.Info{
			{Name: "label", DType: tensor.Int64, Shape: []int64{-1}},
			{Name: "probabilities", DType: tensor.Float32, Shape: []int64{-1, 3}},
		},
		Properties: map[string]string{"engine": "fake"},
	}
	if version != "" && !slices.Contains(info.Versions, version) {
		return serving.ModelInfo{}, fmt.Errorf("%w: model %q has no version %q", errkind.NotFound, name, version)
	}
	return info, nil
}

func (f *fakeBackend) ModelReady(name, version string) bool {
	_, err := f.Model(name, version)
	return err == nil && name != "loading"
}

func (f *fakeBackend) Infer(ctx context.Context, req *serving.InferRequest) (*serving.InferResponse, error) {
	f.mu.Lock()
	f.last = *req
	f.mu.Unlock()
	if _, err := f.Model(req.Model, req.Version); err != nil {
		return nil, err
	}
	version := req.Version
	if version == "" {
		version = "2"
	}
	resp := &serving.InferResponse{Model: req.Model, Version: version, ID: req.ID}
	switch req.Model {
	case "loading":
		return nil, fmt.Errorf("%w: model %q is loading", errkind.Unavailable, req.Model)
	case "busy":
		return nil, fmt.Errorf("%w: model %q has a full queue", errkind.ResourceExhausted, req.Model)
	case "slow":
		<-ctx.Done()
		return nil, fmt.Errorf("slow model: %w", ctx.Err())
	case "panic":
		panic("the fake model panicked")
	case "broken":
		resp.Outputs = []tensor.Tensor{{Name: "bad", DType: tensor.Float32, Shape: []int64{2}, Raw: make([]byte, 3)}}
		return resp, nil
	}
	for _, in := range req.Inputs {
		if req.Outputs != nil && !slices.Contains(req.Outputs, in.Name) {
			continue
		}
		out := tensor.Tensor{Name: in.Name, DType: in.DType, Shape: slices.Clone(in.Shape)}
		if in.DType == tensor.String {
			for _, s := range in.Strings {
				out.Strings = append(out.Strings, slices.Clone(s))
			}
		} else {
			out.Raw = tensor.Alloc(len(in.Raw))
			copy(out.Raw, in.Raw)
		}
		resp.Outputs = append(resp.Outputs, out)
	}
	for _, name := range req.Outputs {
		if !slices.ContainsFunc(req.Inputs, func(t tensor.Tensor) bool { return t.Name == name }) {
			return nil, fmt.Errorf("%w: model %q has no output %q", errkind.Invalid, req.Model, name)
		}
	}
	return resp, nil
}
