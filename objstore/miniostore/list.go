package miniostore

import (
	"container/heap"
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/lantern-mlops/lantern/objstore"
)

// pageSize is the number of entries per ListObjectsV2 request, S3's maximum.
// S3 counts common prefixes and keys together against it.
const pageSize = 1000

// List lists with ListObjectsV2. In a delimited listing S3 returns each page's
// keys and then its common prefixes, each sorted but not merged (MinIO lists
// "a/c" before "a/b/"), and minio-go's iterator does not say where pages end.
// Since a page holds at most pageSize entries, all of them before the next
// page's, an entry can be yielded once pageSize entries have arrived after it;
// List keeps that window in a heap. Entries at or before StartAfter, and keys
// that are not valid objstore keys (such as "dir/" markers made by other
// tools), are left out.
func (s *Store) List(ctx context.Context, prefix string, opts objstore.ListOptions) iter.Seq2[objstore.Info, error] {
	return func(yield func(objstore.Info, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(objstore.Info{}, fmt.Errorf("miniostore: list %q: %w", prefix, err))
			return
		}
		if !canMatch(prefix) {
			return
		}
		lo := minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: !opts.Delimited, MaxKeys: pageSize}
		if opts.StartAfter != "" {
			lo.StartAfter = s.prefix + opts.StartAfter
		}
		out := sorter{yield: yield, after: opts.StartAfter}
		window := pageSize
		if !opts.Delimited {
			window = 0 // plain listings come sorted
		}
		for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
			if oi.Err != nil {
				err := oi.Err
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(objstore.Info{}, fmt.Errorf("miniostore: list %q: %w", prefix, err))
				return
			}
			key, ok := strings.CutPrefix(oi.Key, s.prefix)
			if !ok {
				continue
			}
			var info objstore.Info
			if oi.ETag == "" && oi.LastModified.IsZero() && strings.HasSuffix(key, "/") {
				info = objstore.Info{Key: key, IsPrefix: true}
			} else if objstore.ValidateKey(key) == nil {
				info = objstore.Info{Key: key, Size: oi.Size, ETag: oi.ETag, ModTime: oi.LastModified}
			} else {
				continue
			}
			if !out.push(info, window) {
				return
			}
		}
		if ctx.Err() != nil { // minio-go's iterator ends quietly on cancellation
			yield(objstore.Info{}, fmt.Errorf("miniostore: list %q: %w", prefix, ctx.Err()))
			return
		}
		out.push(objstore.Info{}, -1)
	}
}

// canMatch reports whether any valid key can start with prefix: the part up to
// its last "/" must itself be a valid key.
func canMatch(prefix string) bool {
	i := strings.LastIndexByte(prefix, '/')
	return i < 0 || objstore.ValidateKey(prefix[:i]) == nil
}

// sorter reorders entries within a window and yields them in order, once
// each, after StartAfter.
type sorter struct {
	yield func(objstore.Info, error) bool
	after string
	last  string // last key yielded
	heap  infoHeap
}

// push adds info and yields every entry beyond the window's size; window -1
// flushes (and ignores info). It returns false once the consumer has stopped
// or an error was yielded.
func (s *sorter) push(info objstore.Info, window int) bool {
	if window >= 0 {
		heap.Push(&s.heap, info)
	}
	for len(s.heap) > max(window, 0) {
		next := heap.Pop(&s.heap).(objstore.Info)
		switch {
		case next.Key <= s.after || next.Key == s.last:
			continue
		case next.Key < s.last:
			s.yield(objstore.Info{}, fmt.Errorf("miniostore: list: server listed %q after %q", next.Key, s.last))
			return false
		}
		s.last = next.Key
		if !s.yield(next, nil) {
			return false
		}
	}
	return true
}

type infoHeap []objstore.Info

func (h infoHeap) Len() int           { return len(h) }
func (h infoHeap) Less(i, j int) bool { return h[i].Key < h[j].Key }
func (h infoHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *infoHeap) Push(x any)        { *h = append(*h, x.(objstore.Info)) }
func (h *infoHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
