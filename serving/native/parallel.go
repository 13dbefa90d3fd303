package native

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel loops. A kernel given many rows (a Gemm, MatMul, Softmax or
// tree ensemble of parallelRows rows or more, with enough work) splits
// them across the workers of a pool that every model shares:
// runtime.NumCPU()-1 goroutines (GOMAXPROCS-1 if that is more), started by
// the first loop that needs them, for the life of the process. The Run's
// goroutine posts the loop where idle workers look for work, computes its
// part and whatever the workers left, and takes the loop back: it never
// waits for a worker that is busy elsewhere, so when concurrent Runs keep
// the workers busy each Run computes on its own goroutine, as with one
// thread. One loop is posted at a time. A Model loaded with
// LoadOptions.IntraOpThreads = n uses at most n goroutines per loop (its
// Run's included); 0 means GOMAXPROCS.
//
// A worker that finished polls for the next loop for a while (workerSpin),
// yielding its processor to any other goroutine, before it blocks: waking
// a blocked goroutine on another core takes tens of microseconds on
// virtual machines, as long as a Gemm of a few hundred rows. For the same
// reason the Run's goroutine polls, rather than blocks, while the workers
// finish their pieces.

// parallelRows is the number of rows from which a kernel may split them.
const parallelRows = 64

// workerSpin is how long an idle worker polls for a loop before it blocks.
const workerSpin = 200 * time.Microsecond

// rangeTask is work over [0, n) that can be cut into ranges computed
// concurrently.
type rangeTask interface {
	runRange(lo, hi int)
}

const (
	// maxParts bounds the threads of a loop.
	maxParts = 64
	// slicesPerPart is how many pieces a thread's part is cut into, so
	// that threads done with theirs can take over the pieces of a thread
	// that is late.
	slicesPerPart = 8
)

// parallelJob is one parallel loop. It lives in a node's scratch
// (runCtx.job), so that a loop allocates nothing.
type parallelJob struct {
	task   rangeTask
	n      int
	parts  int
	joined atomic.Int32 // parts taken by the workers that joined
	active atomic.Int32 // workers inside the loop
	failed atomic.Pointer[workerPanic]
	// left[p] holds the pieces of part p not taken yet, [front, back) as
	// front<<32 | back: the owner of the part takes them from the front,
	// others from the back.
	left [maxParts]atomic.Uint64
}

type workerPanic struct{ v any }

// pool is the workers shared by every model.
var pool struct {
	once     sync.Once
	posted   atomic.Pointer[parallelJob] // the loop idle workers join
	sleeping atomic.Int32                // workers blocked on wake
	wake     chan struct{}
}

// parallelFor runs task over [0, n) on up to threads goroutines, the
// caller's included, and returns when every range is done. A panic in a
// worker is raised again in the caller.
//
// The range is cut into one part per thread. The caller computes the
// first, and each worker that joins takes the next; a thread done with its
// part takes the pieces left of the others, from their ends, so that no
// part waits for a thread that is late (descheduled, or busy elsewhere)
// and parts no worker took get done. The caller's part is always the
// first, so that from one loop (and one run) to the next each thread
// computes the same rows, which stay in its core's caches: a Gemm reads
// the rows of the Gemm before it where they were written. (Parts handed
// out to whichever thread is free move the rows between cores: a 1024-row
// MLP ran 1.6 times slower on two cores.)
func parallelFor(j *parallelJob, task rangeTask, n, threads int) {
	parts := min(n, threads, maxParts)
	if parts <= 1 {
		task.runRange(0, n)
		return
	}
	pool.once.Do(startPool)
	j.task, j.n, j.parts = task, n, parts
	for p := range parts {
		j.left[p].Store(uint64(j.pieces(p)))
	}
	j.joined.Store(0)
	// One loop is posted at a time; a Run that finds another one posted
	// computes its own alone.
	posted := pool.posted.CompareAndSwap(nil, j)
	if posted {
		for range parts - 1 {
			if pool.sleeping.Load() == 0 {
				break
			}
			select {
			case pool.wake <- struct{}{}:
			default:
			}
		}
	}
	defer j.finish(posted)
	j.work(0)
}

// pieces is the number of pieces part p is cut into.
func (j *parallelJob) pieces(p int) int {
	lo, hi := p*j.n/j.parts, (p+1)*j.n/j.parts
	return min(slicesPerPart, hi-lo)
}

// run computes piece i of part p.
func (j *parallelJob) run(p, i int) {
	lo, hi := p*j.n/j.parts, (p+1)*j.n/j.parts
	k := j.pieces(p)
	j.task.runRange(lo+i*(hi-lo)/k, lo+(i+1)*(hi-lo)/k)
}

// work computes the pieces of part own, then those left of the others.
func (j *parallelJob) work(own int) {
	for {
		left := &j.left[own]
		v := left.Load()
		front, back := v>>32, v&0xffffffff
		if front >= back {
			break
		}
		if left.CompareAndSwap(v, (front+1)<<32|back) {
			j.run(own, int(front))
		}
	}
	for q := 1; q < j.parts; q++ {
		p := (own + q) % j.parts
		left := &j.left[p]
		for {
			v := left.Load()
			front, back := v>>32, v&0xffffffff
			if front >= back {
				break
			}
			if left.CompareAndSwap(v, front<<32|(back-1)) {
				j.run(p, int(back-1))
			}
		}
	}
}

// finish takes the loop back, waits for the workers inside it to finish
// their pieces, and forgets the task.
func (j *parallelJob) finish(posted bool) {
	if posted {
		pool.posted.CompareAndSwap(j, nil)
		for j.active.Load() != 0 {
			runtime.Gosched()
		}
	}
	j.task = nil
	if p := j.failed.Swap(nil); p != nil {
		panic(p.v)
	}
}

// help is a worker's part of a loop. Between a worker's read of
// pool.posted and its joining, the loop may have been taken back and its
// job reused for another loop, so the worker counts itself in first, then
// checks that the job is still posted before it reads anything else.
func (j *parallelJob) help() {
	// Parts 1, 2...: the workers that join, in order; one that comes when
	// every part has an owner leaves, so that a loop uses at most its
	// threads.
	if j.active.Add(1); pool.posted.Load() == j {
		if own := int(j.joined.Add(1)); own < j.parts {
			j.helpOwn(own)
		}
	}
	j.active.Add(-1)
}

// helpOwn is help for the owner of part own.
func (j *parallelJob) helpOwn(own int) {
	defer func() {
		if r := recover(); r != nil {
			j.failed.CompareAndSwap(nil, &workerPanic{r})
		}
	}()
	j.work(own)
}

func startPool() {
	n := max(runtime.NumCPU(), runtime.GOMAXPROCS(0)) - 1
	pool.wake = make(chan struct{}, n)
	for range n {
		go worker()
	}
}

// worker runs loops for ever: the workers belong to the process.
func worker() {
	idle := time.Now()
	for {
		if j := pool.posted.Load(); j != nil {
			// Joined or not (every part had an owner), the worker stays
			// awake while loops come: a blocked worker, once woken, waits
			// on the processor of the goroutine that woke it until
			// another processor takes it, which can take longer than the
			// loop.
			j.help()
			if pool.posted.Load() == j {
				runtime.Gosched() // nothing left; the caller is about to take it back
			}
			idle = time.Now()
			continue
		}
		if time.Since(idle) < workerSpin {
			runtime.Gosched()
			continue
		}
		pool.sleeping.Add(1)
		if pool.posted.Load() == nil {
			<-pool.wake
		}
		pool.sleeping.Add(-1)
		idle = time.Now()
	}
}

// threads is the number of goroutines a loop of this run may use: the
// model's IntraOpThreads, or GOMAXPROCS, whichever is smaller.
func (c *runCtx) threads() int {
	p := runtime.GOMAXPROCS(0)
	if t := c.st.threads; t > 0 && t < p {
		return t
	}
	return p
}

// job is the node's parallel loop, made the first time it is needed.
func (c *runCtx) job() *parallelJob {
	if c.sc.job == nil {
		c.sc.job = new(parallelJob)
	}
	return c.sc.job
}
