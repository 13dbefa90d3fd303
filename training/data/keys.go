package data

// keyTable finds rows with the same key: an open-addressing hash table
// (linear probing) of frame row indexes, eight bytes a slot, at most three
// quarters full. Keys are compared
// on the Frame itself, so hash collisions cannot merge two keys and the
// table holds no copy of them.
type keyTable struct {
	slots []uint64 // 0 empty; else (row+1)<<32 | the hash's top 32 bits
	n     int
}

// reserve sizes the table for n keys; rehash gives the hash of a stored row.
func (t *keyTable) reserve(n int, rehash func(row int) uint64) {
	size := 1024
	for size*3/4 < n {
		size *= 2
	}
	if size <= len(t.slots) {
		return
	}
	old := t.slots
	t.slots = make([]uint64, size)
	for _, e := range old {
		if e != 0 {
			row := int(e>>32) - 1
			_, s := t.find(rehash(row), func(int) bool { return false })
			t.slots[s] = e
		}
	}
}

// find returns the row stored with hash h for which same(row) is true, or
// -1 and the slot where such a row belongs.
func (t *keyTable) find(h uint64, same func(row int) bool) (row, slot int) {
	mask := len(t.slots) - 1
	frag := h >> 32
	for s := int(h) & mask; ; s = (s + 1) & mask {
		e := t.slots[s]
		if e == 0 {
			return -1, s
		}
		if e&0xffffffff == frag {
			if r := int(e>>32) - 1; same(r) {
				return r, s
			}
		}
	}
}

// insert stores row with hash h at slot, as returned by find; the caller
// must reserve room first.
func (t *keyTable) insert(h uint64, row, slot int) {
	t.slots[slot] = uint64(row+1)<<32 | h>>32
	t.n++
}
