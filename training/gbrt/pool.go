package gbrt

import (
	"sync"
	"sync/atomic"
)

// pool runs fn(0..n-1) on a fixed set of goroutines: the caller and
// workers-1 others started once per training. A run hands out indices with
// an atomic counter, so a run allocates nothing. Only one run at a time.
type pool struct {
	workers int
	wake    chan struct{}
	wg      sync.WaitGroup
	next    atomic.Int64
	n       int64
	fn      func(i int)
}

func newPool(workers int) *pool {
	p := &pool{workers: max(workers, 1)}
	if p.workers > 1 {
		p.wake = make(chan struct{})
		for range p.workers - 1 {
			go p.loop()
		}
	}
	return p
}

func (p *pool) loop() {
	for range p.wake {
		p.drain()
		p.wg.Done()
	}
}

func (p *pool) drain() {
	for {
		i := p.next.Add(1) - 1
		if i >= p.n {
			return
		}
		p.fn(int(i))
	}
}

// run calls fn(i) for i in 0..n-1, in parallel, and returns when all are
// done.
func (p *pool) run(n int, fn func(i int)) {
	if p.workers == 1 || n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	p.fn, p.n = fn, int64(n)
	p.next.Store(0)
	k := min(p.workers-1, n-1)
	p.wg.Add(k)
	for range k {
		p.wake <- struct{}{}
	}
	p.drain()
	p.wg.Wait()
	p.fn = nil
}

// close stops the goroutines.
func (p *pool) close() {
	if p.wake != nil {
		close(p.wake)
	}
}
