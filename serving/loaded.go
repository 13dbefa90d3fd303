package serving

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lantern-mlops/lantern/registry"
	"github.com/lantern-mlops/lantern/serving/tensor"
)

// loaded is one model version held by an engine. Requests hold a reference
// while they run; retire waits for them before closing the engine's model,
// so swapping versions never fails a request.
type loaded struct {
	name     string
	version  *registry.Version
	engine   string
	model    Model
	info     ModelInfo
	inputs   map[string]tensor.Info
	outputs  []string
	allowNaN bool
	loadedAt time.Time

	refs    atomic.Int64
	retired atomic.Bool
	drained chan struct{}
	once    sync.Once
	pool    sync.Pool // *outSet
	batch   *batcher
	obs     sync.Map // protocol -> *protoObservers
}

// outSet is a recyclable set of output tensors for one request: engines
// reuse the capacity of Raw, Strings and Shape, so a steady stream of
// requests allocates no output buffers.
type outSet struct {
	t []tensor.Tensor
}

func (s *outSet) prepare(names []string) {
	if cap(s.t) < len(names) {
		s.t = append(s.t[:cap(s.t)], make([]tensor.Tensor, len(names)-cap(s.t))...)
	}
	s.t = s.t[:len(names)]
	for i, n := range names {
		s.t[i].Name = n
	}
}

// versionString is how versions appear in protocols ("3").
func (l *loaded) versionString() string { return strconv.FormatInt(l.version.Version, 10) }

// acquire takes a reference; false if the version is being retired.
func (l *loaded) acquire() bool {
	l.refs.Add(1)
	if l.retired.Load() {
		l.release()
		return false
	}
	return true
}

func (l *loaded) release() {
	if l.refs.Add(-1) == 0 && l.retired.Load() {
		l.once.Do(func() { close(l.drained) })
	}
}

// retire stops new requests, waits (up to timeout) for those in flight and
// closes the model.
func (l *loaded) retire(timeout time.Duration) {
	l.retired.Store(true)
	if l.refs.Load() == 0 {
		l.once.Do(func() { close(l.drained) })
	}
	select {
	case <-l.drained:
	case <-time.After(timeout):
	}
	if l.batch != nil {
		l.batch.stop()
	}
	_ = l.model.Close()
}

// check validates a request's inputs against the model.
func (l *loaded) check(req *InferRequest) error {
	seen := make(map[string]bool, len(req.Inputs))
	for i := range req.Inputs {
		in := &req.Inputs[i]
		want, ok := l.inputs[in.Name]
		if !ok {
			return fmt.Errorf("%w: model %q has no input %q (inputs: %s)", ErrInvalidInput, l.name, in.Name, l.inputNames())
		}
		if seen[in.Name] {
			return fmt.Errorf("%w: input %q given twice", ErrInvalidInput, in.Name)
		}
		seen[in.Name] = true
		if in.DType != want.DType {
			return fmt.Errorf("%w: input %q: expected datatype %s, got %s", ErrInvalidInput, in.Name, want.DType.OIP(), in.DType.OIP())
		}
		if !shapeFits(want.Shape, in.Shape) {
			return fmt.Errorf("%w: input %q: expected shape %s, got %s", ErrInvalidInput, in.Name, fmtShape(want.Shape), fmtShape(in.Shape))
		}
		if err := in.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidInput, err)
		}
		if !l.allowNaN {
			if i, ok := firstNaN(in); ok {
				return fmt.Errorf("%w: input %q: element %d is NaN or infinite, and this model cannot handle missing values (only tree ensembles and imputers can)", ErrInvalidInput, in.Name, i)
			}
		}
	}
	if len(seen) != len(l.inputs) {
		var missing []string
		for name := range l.inputs {
			if !seen[name] {
				missing = append(missing, name)
			}
		}
		return fmt.Errorf("%w: missing input(s) %s for model %q", ErrInvalidInput, strings.Join(missing, ", "), l.name)
	}
	for _, o := range req.Outputs {
		if !containsString(l.outputs, o) {
			return fmt.Errorf("%w: model %q has no output %q (outputs: %s)", ErrInvalidInput, l.name, o, strings.Join(l.outputs, ", "))
		}
	}
	return nil
}

func (l *loaded) inputNames() string {
	names := make([]string, 0, len(l.info.Inputs))
	for _, in := range l.info.Inputs {
		names = append(names, in.Name)
	}
	return strings.Join(names, ", ")
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func shapeFits(want, got []int64) bool {
	if want == nil {
		return true // rank unknown
	}
	if len(want) != len(got) {
		return false
	}
	for i, d := range want {
		if got[i] < 0 || (d >= 0 && d != got[i]) {
			return false
		}
	}
	return true
}

func fmtShape(s []int64) string {
	if s == nil {
		return "(any)"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func firstNaN(t *tensor.Tensor) (int, bool) {
	switch t.DType {
	case tensor.Float32:
		for i, v := range t.Float32s() {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return i, true
			}
		}
	case tensor.Float64:
		for i, v := range t.Float64s() {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return i, true
			}
		}
	}
	return 0, false
}

// run executes a checked request on the engine with recycled output buffers.
func (l *loaded) run(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	names := req.Outputs
	if len(names) == 0 {
		names = l.outputs
	}
	set, _ := l.pool.Get().(*outSet)
	if set == nil {
		set = &outSet{}
	}
	set.prepare(names)
	if err := l.model.Run(ctx, req.Inputs, set.t); err != nil {
		l.pool.Put(set)
		return nil, err
	}
	resp := &InferResponse{Model: l.name, Version: l.versionString(), ID: req.ID, Outputs: set.t}
	resp.release = func() { l.pool.Put(set) }
	return resp, nil
}
