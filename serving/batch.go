package serving

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/lantern-mlops/lantern/serving/tensor"
)

// BatchOptions enable dynamic batching for a model, as Triton does: requests
// that arrive close together run as one engine call.
type BatchOptions struct {
	// MaxBatch is the most rows one run takes (<= 1 disables batching).
	MaxBatch int
	// MaxDelay is how long the first request of a batch waits for others.
	MaxDelay time.Duration
	// MaxQueue bounds waiting requests; more are refused with ResourceExhausted (default 1024).
	MaxQueue int
}

func (m *Manager) batchOptions(name string) (BatchOptions, bool) {
	if b, ok := m.opts.Batching[name]; ok {
		return b, true
	}
	b, ok := m.opts.Batching["*"]
	return b, ok
}

type batchItem struct {
	ctx   context.Context
	req   *InferRequest
	rows  int64
	enq   time.Time
	reply chan batchResult
}

type batchResult struct {
	resp *InferResponse
	err  error
}

type batcher struct {
	l       *loaded
	opts    BatchOptions
	metrics *metrics
	queue   chan *batchItem
	done    chan struct{}
}

func newBatcher(l *loaded, o BatchOptions, m *metrics) *batcher {
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1024
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Millisecond
	}
	b := &batcher{l: l, opts: o, metrics: m, queue: make(chan *batchItem, o.MaxQueue), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *batcher) stop() { close(b.done) }

// batchable reports whether a request can be stacked with others: every
// input's first dimension is the batch (variable in the model).
func (b *batcher) batchable(req *InferRequest) (int64, bool) {
	var rows int64 = -1
	for _, in := range req.Inputs {
		info := b.l.inputs[in.Name]
		if len(info.Shape) == 0 || info.Shape[0] >= 0 || len(in.Shape) == 0 {
			return 0, false
		}
		if rows >= 0 && in.Shape[0] != rows {
			return 0, false
		}
		rows = in.Shape[0]
	}
	return rows, rows > 0
}

func (b *batcher) submit(ctx context.Context, req *InferRequest) (*InferResponse, error) {
	rows, ok := b.batchable(req)
	if !ok || rows >= int64(b.opts.MaxBatch) {
		return b.l.run(ctx, req)
	}
	it := &batchItem{ctx: ctx, req: req, rows: rows, enq: time.Now(), reply: make(chan batchResult, 1)}
	select {
	case b.queue <- it:
	default:
		return nil, fmt.Errorf("%w: model %q has %d requests waiting; retry later", ErrOverloaded, b.l.name, b.opts.MaxQueue)
	}
	select {
	case r := <-it.reply:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *batcher) loop() {
	var pending *batchItem
	for {
		first := pending
		pending = nil
		if first == nil {
			select {
			case <-b.done:
				b.drain()
				return
			case first = <-b.queue:
			}
		}
		batch := []*batchItem{first}
		rows := first.rows
		deadline := time.NewTimer(b.opts.MaxDelay)
	collect:
		for rows < int64(b.opts.MaxBatch) {
			select {
			case it := <-b.queue:
				if rows+it.rows > int64(b.opts.MaxBatch) || !sameTail(first.req, it.req) {
					pending = it
					break collect
				}
				batch = append(batch, it)
				rows += it.rows
			case <-deadline.C:
				break collect
			}
		}
		deadline.Stop()
		b.run(batch, rows)
	}
}

func (b *batcher) drain() {
	for {
		select {
		case it := <-b.queue:
			it.reply <- batchResult{err: fmt.Errorf("%w: model %q is being replaced; retry", ErrNotReady, b.l.name)}
		default:
			return
		}
	}
}

// sameTail reports whether two requests' inputs agree on everything but the batch dimension.
func sameTail(a, c *InferRequest) bool {
	if len(a.Inputs) != len(c.Inputs) {
		return false
	}
	for i := range a.Inputs {
		x, y := &a.Inputs[i], findInput(c, a.Inputs[i].Name)
		if y == nil || x.DType != y.DType || len(x.Shape) != len(y.Shape) {
			return false
		}
		for d := 1; d < len(x.Shape); d++ {
			if x.Shape[d] != y.Shape[d] {
				return false
			}
		}
	}
	return true
}

func findInput(r *InferRequest, name string) *tensor.Tensor {
	for i := range r.Inputs {
		if r.Inputs[i].Name == name {
			return &r.Inputs[i]
		}
	}
	return nil
}

// run stacks the batch's inputs, runs the model once and splits the outputs.
func (b *batcher) run(batch []*batchItem, rows int64) {
	live := batch[:0]
	for _, it := range batch {
		if it.ctx.Err() == nil {
			b.metrics.queue.WithLabelValues(b.l.name).Observe(time.Since(it.enq).Seconds())
			live = append(live, it)
		} else {
			rows -= it.rows
		}
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		resp, err := b.l.run(live[0].ctx, live[0].req)
		live[0].reply <- batchResult{resp, err}
		return
	}
	first := live[0].req
	merged := &InferRequest{Model: first.Model, Inputs: make([]tensor.Tensor, len(first.Inputs))}
	for i, in := range first.Inputs {
		t := tensor.Tensor{Name: in.Name, DType: in.DType, Shape: append([]int64{rows}, in.Shape[1:]...)}
		t.SetLen(int(tensor.NumElements(t.Shape)))
		off, soff := 0, 0
		for _, it := range live {
			src := findInput(it.req, in.Name)
			if t.DType == tensor.String {
				soff += copy(t.Strings[soff:], src.Strings)
			} else {
				off += copy(t.Raw[off:], src.Raw)
			}
		}
		merged.Inputs[i] = t
	}
	start := time.Now()
	resp, err := b.l.run(context.Background(), merged)
	b.metrics.inference.WithLabelValues(b.l.name, b.l.versionString()).Observe(time.Since(start).Seconds())
	b.metrics.batchSize.WithLabelValues(b.l.name).Observe(float64(rows))
	if err != nil {
		for _, it := range live {
			it.reply <- batchResult{err: err}
		}
		return
	}
	defer resp.Release()
	var at int64
	for _, it := range live {
		out, err := split(resp.Outputs, it.req.Outputs, at, it.rows, rows)
		at += it.rows
		if err != nil {
			it.reply <- batchResult{err: err}
			continue
		}
		it.reply <- batchResult{resp: &InferResponse{Model: resp.Model, Version: resp.Version, ID: it.req.ID, Outputs: out}}
	}
}

// split copies rows [at, at+n) of every wanted output.
func split(outs []tensor.Tensor, want []string, at, n, total int64) ([]tensor.Tensor, error) {
	var res []tensor.Tensor
	for _, o := range outs {
		if len(want) > 0 && !containsString(want, o.Name) {
			continue
		}
		if len(o.Shape) == 0 || o.Shape[0] != total {
			return nil, fmt.Errorf("output %q has shape %v, which cannot be split by request; disable batching for this model", o.Name, o.Shape)
		}
		per := tensor.NumElements(o.Shape[1:])
		t := tensor.Tensor{Name: o.Name, DType: o.DType, Shape: append([]int64{n}, o.Shape[1:]...)}
		if o.DType == tensor.String {
			t.Strings = append([][]byte(nil), o.Strings[at*per:(at+n)*per]...)
		} else {
			size := int64(o.DType.Size())
			t.Raw = tensor.Alloc(int(n * per * size))
			copy(t.Raw, o.Raw[at*per*size:])
		}
		res = append(res, t)
	}
	return res, nil
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
