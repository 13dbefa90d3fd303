// Package objstoretest is the conformance suite every objstore.Store must
// pass, in the spirit of testing/slogtest:
//
//	func TestConformance(t *testing.T) {
//		objstoretest.Run(t, func(t *testing.T) objstore.Store { return newEmptyStore(t) })
//	}
//
// Run covers the whole contract of objstore.Store: round trips, missing keys,
// key validation, create-only and compare-and-swap writes, atomicity of failed,
// short and cancelled writes, listing order, prefixes, StartAfter and
// delimiters, large streamed objects, and concurrent writers and readers. It
// also tests objstore.RangeReader and objstore.Composer when the store
// implements them. Run it with -race.
//
// Bench holds the matching benchmarks, so stores can be compared with one
// another and with their raw backends.
package objstoretest
