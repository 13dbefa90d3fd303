package registry

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Watch returns the changes after cursor, waiting until there is one or ctx
// is done (give ctx a deadline for long-polling). It returns the cursor to
// pass next time. reset is true when the changes after cursor are no longer
// known (the cursor is from another process lifetime, or too old): the
// caller must re-read the state it cares about and continue from next.
//
// An empty cursor returns at once with the current cursor and no changes.
// To follow the registry without gaps: Watch(""), then read the state, then
// Watch from the cursor.
func (s *Service) Watch(ctx context.Context, cursor string) (changes []Change, next string, reset bool, err error) {
	if cursor == "" {
		_, last, _, _ := s.idx.since(^uint64(0) >> 1)
		return nil, s.cursor(last), false, nil
	}
	inc, seqStr, ok := strings.Cut(cursor, ".")
	seq, perr := strconv.ParseUint(seqStr, 10, 64)
	if !ok || perr != nil {
		return nil, "", false, invalid("watch cursor %q is malformed; start with an empty cursor", cursor)
	}
	if inc != s.incarnation {
		_, last, _, _ := s.idx.since(^uint64(0) >> 1)
		return nil, s.cursor(last), true, nil
	}
	out, last, reset := s.idx.waitSince(ctx, seq)
	return out, s.cursor(last), reset, nil
}

func (s *Service) cursor(seq uint64) string { return fmt.Sprintf("%s.%d", s.incarnation, seq) }

// CursorAt returns the cursor just after change c, so that a stream can give
// every change its own resume point (the id of a server-sent event).
func (s *Service) CursorAt(c Change) string { return s.cursor(c.Seq) }
